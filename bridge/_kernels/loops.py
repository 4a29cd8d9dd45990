"""The compiled loops, found once per process: the C extension built at install
(``bridge/_kernels/_direct_c.c``) and numba's loop (``bridge/_kernels/_direct_numba.py``, the
``[fast]`` extra).

The lowest layer of the kernels next to :mod:`~bridge._kernels.nonfinite` and
:mod:`~bridge._kernels.pool`: ``method_direct`` and ``method_fft`` take their loops from here, so
neither needs the other to find them. The C extension is a plain module of this package (it
loads in about a millisecond); numba is a heavy import, so :func:`numba_direct3` imports it
only when called (``method_direct`` calls it once the work pays for it).

``BRIDGE_C_LOOP=0`` (read at import) and ``BRIDGE_NUMBA=0`` (read at numba's first use) turn
the loops off. The C loops are built once per vector width (64 bytes with AVX-512, 32 with AVX2,
16 otherwise) and take the widest this processor runs; ``BRIDGE_C_SIMD=16`` or ``32`` narrows
it and ``BRIDGE_C_MASKED=0`` turns off the direct loop's masked edge blocks (both read at the
first call, for tests and measurements: every choice gives the same bits).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

try:
    from bridge._kernels import _direct_c  # type: ignore[attr-defined]  # a C extension
except ImportError:  # not built (no C compiler at install)
    _direct_c = None

from bridge._kernels import _direct_numba

_C_ON = _direct_c is not None and os.environ.get("BRIDGE_C_LOOP", "1") != "0"
# The C loop of the direct sum (it releases the GIL), or None where it was not built or
# BRIDGE_C_LOOP=0: direct3(out, x, w, s0, s1, s2, l0, l1, c0, c1, skip_zero, reverse=0) (see its
# docstring), numba's arguments and a ``reverse`` flag.
C_DIRECT3: Callable[..., None] | None = _direct_c.direct3 if _C_ON else None
# The C loop of the FFT path's direct sum along the last axis, or None (as C_DIRECT3):
# zdirect(out, x, w, s, p0, p1).
C_ZDIRECT: Callable[..., None] | None = _direct_c.zdirect if _C_ON else None
# The fused separable path of imfilter (bridge.filtering), or None (as C_DIRECT3):
# sep2(out, image, kind, rowidx, colidx, mid, f1, f0, fill, r0, r1) -> True where the image holds
# NaN or Inf (see its docstring). None also where an older build of the extension lacks it.
C_SEP2: Callable[..., bool] | None = getattr(_direct_c, "sep2", None) if _C_ON else None
# The fused direct pass of imfilter's non-separable kernels (bridge.filtering), or None (as
# C_SEP2): nonsep2(out, image, kind, rowidx, colidx, mid, ta, tb, tw, q0, q1, fill, r0, r1,
# mode=1) -> True where the image holds NaN or Inf (see its docstring).
C_NONSEP2: Callable[..., bool] | None = getattr(_direct_c, "nonsep2", None) if _C_ON else None
# The defining sum over a flattened, zero-gapped operand (method_direct's 4 or more dimensions),
# or None (as C_SEP2): flat(out, x, offsets, weights, m0, m1) (see its docstring).
C_FLAT: Callable[..., None] | None = getattr(_direct_c, "flat", None) if _C_ON else None
# The flat loop's zero-gapped copy, or None (as C_SEP2): flat_fill(x, big, lo, ln, first, s0, s1)
# (see its docstring).
C_FLAT_FILL: Callable[..., None] | None = getattr(_direct_c, "flat_fill", None) if _C_ON else None
# The conversion of the fused loops' sums to the image's class, or None (as C_SEP2):
# store(out, y, kind, reference=False) (for tests: reference is the scalar loop it replaced).
C_STORE: Callable[..., None] | None = getattr(_direct_c, "store", None) if _C_ON else None
# imfilter's guarded FFT (bridge.filtering): an FFT's sums stored in an integer class where a
# bound decides the rounding, the rest recomputed as nonsep2 sums them, or None (as C_SEP2):
# guard2(out, image, kind, rowidx, colidx, ta, tb, tw, fill, y, B, r0, c0, limit) -> the number
# recomputed, -1 past limit (see its docstring).
C_GUARD2: Callable[..., int] | None = getattr(_direct_c, "guard2", None) if _C_ON else None

_NUMBA: list = []  # [numba's loop or None], once looked for
_LOCK = threading.Lock()


def c_direct3():
    """:data:`C_DIRECT3`."""
    return C_DIRECT3


def c_zdirect():
    """:data:`C_ZDIRECT` (a function, so that tests can turn it off)."""
    return C_ZDIRECT


def c_loop_available() -> bool:
    """Whether this installation has the C loop (the same answer in every process of it)."""
    return C_DIRECT3 is not None


def numba_direct3():
    """numba's loop of the direct sum (compiled, or loaded from numba's cache: about 0.4 s the
    first time in a process), or None where numba is missing or broken, or ``BRIDGE_NUMBA=0``."""
    if not _NUMBA:
        with _LOCK:
            if not _NUMBA:
                _NUMBA.append(_load_numba())
    return _NUMBA[0]


def _load_numba():
    if os.environ.get("BRIDGE_NUMBA", "1") == "0":
        return None
    try:
        return _direct_numba.compile_direct3()
    except Exception:  # not installed, or broken (e.g. built for another numpy)
        return None
