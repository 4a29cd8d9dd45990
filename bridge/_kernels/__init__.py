"""The numbers: the defining sum, faster ways to the same answer, and the choice between them.

Every method computes a window of the *full* N-D convolution

    C[o] = sum over i + j == o of a[i] * b[j]

given as ``starts``/``lengths`` per dimension (see :func:`bridge._semantics.window`). Only the
window is computed, so ``same`` and ``valid`` cost no more than they return; each output is
computed the same way whatever the window, so they are bit-identical slices of ``full``.

One module per method (``method=`` of conv, conv2 and convn), registered in :data:`RUNNERS`:

- :mod:`~bridge._kernels.method_direct` -- ``direct``: the defining sum, as MATLAB computes it.
- :mod:`~bridge._kernels.method_gemm` -- ``gemm``: the same products as BLAS matrix products.
- :mod:`~bridge._kernels.method_fft` -- ``fft`` (exact only) and ``fft-float`` (bounded).
- :mod:`~bridge._kernels.choice` -- ``auto``: the cost model.
- :mod:`~bridge._kernels.patching` -- NaN/Inf patched around the fast methods by the direct sum.
- the ground layer, which imports no other method: :mod:`~bridge._kernels.nonfinite` (finite
  parts, the overflow guard), :mod:`~bridge._kernels.loops` (the compiled loops: the C
  extension, numba's), :mod:`~bridge._kernels.pool` (the persistent threads, BLAS thread
  control).

The modules import each other without a cycle (ground layer < ``method_direct`` <
``patching`` < ``method_gemm``, ``method_fft`` < ``choice`` < this package), all at module
level: only outside modules that are heavy or optional (numba, threadpoolctl, the thread pool's
executor) are imported inside functions (``tests/test_kernels.py`` checks both).

A new kernel is one module with a function ``(a, b, starts, lengths, dtype, memo) -> array``
(the window, of class ``dtype``) and a line in :data:`RUNNERS`; :func:`choice.estimate_costs`
gives ``auto`` its cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge._kernels.choice import carried_dims, choose_method, estimate_costs
from bridge._kernels.method_direct import direct
from bridge._kernels.method_fft import (
    fft_error_bound,
    fft_error_bound_of_norms,
    fft_is_exact,
    fft_patched,
)
from bridge._kernels.method_gemm import gemm
from bridge._kernels.nonfinite import may_overflow

__all__ = [
    "FFT_ACCURACY_METHODS",
    "METHODS",
    "RUNNERS",
    "STRICT_METHODS",
    "choose_method",
    "convolve",
    "direct",
    "estimate_costs",
    "fft_error_bound",
    "fft_error_bound_of_norms",
    "fft_is_exact",
    "fft_patched",
    "gemm",
]

RUNNERS = {"direct": direct, "gemm": gemm, "fft": fft_patched, "fft-float": fft_patched}
METHODS = ("auto", *RUNNERS)
# Methods that may refuse data (ValueError) instead of falling back.
STRICT_METHODS = ("fft",)
# Methods that take operands in any memory layout (the others get row-major copies).
ANY_LAYOUT_METHODS = ("fft", "fft-float", "direct")
# Methods whose finite results are bounded by fft_error_bound rather than by direct round-off.
FFT_ACCURACY_METHODS = ("fft-float",)


def convolve(
    a: np.ndarray,
    b: np.ndarray,
    starts: Sequence[int],
    lengths: Sequence[int],
    dtype: np.dtype,
    method: str = "auto",
) -> np.ndarray:
    """The window ``starts``/``lengths`` of the full convolution of ``a`` and ``b``, as ``dtype``.

    ``a`` and ``b`` have the same number of dimensions and no empty dimension; ``dtype`` is the
    MATLAB result class. Both operands are converted to it first: a real operand of a complex
    result becomes ``x + 0i`` and every product is the textbook complex product, as in Octave's
    BLAS axpy (so ``Inf * (NaN - 4i)`` has a NaN imaginary part).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; must be one of {list(METHODS)}")
    dtype = np.dtype(dtype)
    # In the result class, in any memory layout for now: the FFTs and the direct sum take
    # MATLAB's column-major arrays as they were read (the same bits as row-major copies: each
    # FFT line is transformed alike whatever its strides, the direct sum takes its taps in the
    # same order), the other methods want rows (made below, once the method is known).
    # A double beyond single's range meeting a single operand becomes +-Inf, as MATLAB makes it;
    # numpy would also warn, and no Python warning may reach a user.
    with np.errstate(over="ignore"):
        a = np.asarray(a, dtype=dtype)
        b = np.asarray(b, dtype=dtype)
    out_shape = tuple(int(n) for n in lengths)
    lengths = out_shape
    starts = tuple(int(s) for s in starts)
    # Dimensions where both operands are singletons carry nothing: drop them (conv's column
    # vectors become 1-D, which the blocked and grouped methods handle best).
    if a.ndim > 1:
        keep = carried_dims(a.shape, b.shape)
        if len(keep) < a.ndim:
            a = a.reshape([a.shape[d] for d in keep])
            b = b.reshape([b.shape[d] for d in keep])
            starts = tuple(starts[d] for d in keep)
            lengths = tuple(lengths[d] for d in keep)
    memo: dict = {}  # per-call facts about the operands (finite parts, integrality, ...)
    if method == "auto":
        # By the full result, so that every shape of the same operands takes the same method.
        full = [p + q - 1 for p, q in zip(a.shape, b.shape)]
        chosen = choose_method(a, b, full, memo)
    else:
        chosen = method
    if chosen == "fft" and not fft_is_exact(a, b):
        raise ValueError(
            "method='fft' is only exact for finite, real, integer-valued inputs within the "
            "error bound; use method='auto', 'direct', 'gemm' or 'fft-float'"
        )
    if chosen != "direct" and may_overflow(a, b, memo):
        chosen = "direct"
    if chosen not in ANY_LAYOUT_METHODS:
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    out = RUNNERS[chosen](a, b, starts, lengths, dtype, memo)
    return out.reshape(out_shape)
