"""Hypothesis strategies and the slow reference for the filtering family.

The reference states MATLAB's imfilter by index arithmetic, without bridge's helpers: every
output sums ``h[j] * A[source(o + j - anchor)]`` over the nonzero taps of h, the source index of
each axis given by the boundary rule; a complex A or h is filtered as separate real filters
(imfilter.m: ``complex(real(b1) - imag(b2), imag(b1) + real(b2))``); the result is cast to A's
class by exact decimal rounding (half away from zero) and saturation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from hypothesis import strategies as st

from tests import strategies

# Every class the convolution cases draw except the 64-bit integers, which imfilter refuses.
CLASSES = {
    name: dtype for name, dtype in strategies.CLASSES.items() if name not in ("int64", "uint64")
}
BOUNDARIES = (0, 3.5, -2.0, "symmetric", "replicate", "circular")


def source(j: int, n: int, boundary) -> int | None:
    """The index of A an out-of-range (or in-range) position j reads; None: the constant."""
    if 0 <= j < n:
        return j
    if not isinstance(boundary, str):
        return None
    if boundary == "replicate":
        return 0 if j < 0 else n - 1
    if boundary == "circular":
        return j % n
    # symmetric: the mirror with the edge repeated, period 2n
    m = j % (2 * n)
    return m if m < n else 2 * n - 1 - m


def matlab_round(x: float) -> float:
    return float(Decimal(x).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_class(value: float, dtype) -> object:
    """MATLAB's conversion of one double to class dtype (NaN -> 0, rounding, saturation)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return value
    if np.isnan(value):
        return 0
    lo, hi = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    if value >= hi:
        return hi
    if value <= lo:
        return lo
    return int(min(max(matlab_round(value), lo), hi))


def _real_filter(A: np.ndarray, h: np.ndarray, pad_value, boundary, shape: str, out_shape):
    """One real filter: A (real, any class read as double) and h (real, correlation form)."""
    out = np.zeros(out_shape)
    taps = [(j, float(h[j])) for j in np.ndindex(h.shape) if h[j] != 0]
    offset = [(k + 1) // 2 - 1 for k in h.shape] if shape == "same" else [k - 1 for k in h.shape]
    with np.errstate(invalid="ignore", over="ignore"):
        for o in np.ndindex(out_shape):
            total = 0.0
            for j, w in taps:
                idx = [source(o[d] + j[d] - offset[d], A.shape[d], boundary) for d in range(A.ndim)]
                value = pad_value if None in idx else float(A[tuple(idx)])
                total = total + w * value
            out[o] = total
    return out


def mdims(shape) -> tuple[int, ...]:
    """MATLAB's size: trailing singletons beyond the second dropped."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def reference_imfilter(A, h, boundary=0, shape="same", mode="corr"):
    """imfilter(A, h, boundary, shape, mode) by the definition, before the cast: float64 or
    complex128 of MATLAB's size (sizes extended with ones, trailing singletons dropped)."""
    return _reference(A, h, boundary, shape, mode).reshape(mdims(_reference_shape(A, h, shape)))


def _reference_shape(A, h, shape):
    A, h = np.shape(A), np.shape(h)
    nd = max(len(A), len(h))
    A, h = A + (1,) * (nd - len(A)), h + (1,) * (nd - len(h))
    return A if shape == "same" else tuple(a + k - 1 for a, k in zip(A, h))


def _reference(A, h, boundary, shape, mode):
    A = np.asarray(A)
    h = np.asarray(h, dtype=np.result_type(h, np.float64))
    nd = max(A.ndim, h.ndim)
    A = A.reshape(A.shape + (1,) * (nd - A.ndim))
    h = h.reshape(h.shape + (1,) * (nd - h.ndim))
    if mode == "conv":
        h = h[(slice(None, None, -1),) * nd]
    out_shape = A.shape if shape == "same" else tuple(a + k - 1 for a, k in zip(A.shape, h.shape))
    # the constant, stored in A's class first (3.5 pads a uint8 image with 4)
    pad = 0.0 if isinstance(boundary, str) else boundary
    if A.dtype.kind in "iub":
        pad = float(to_class(float(pad), A.dtype))
    elif A.dtype in (np.float32, np.complex64):
        pad = float(np.float32(pad))
    Ar, Ai = A.real.astype(np.float64), A.imag.astype(np.float64) if A.dtype.kind == "c" else None
    hr, hi = h.real, h.imag if h.dtype.kind == "c" else None

    def f(x, w, p):
        return _real_filter(x, w, p, boundary, shape, out_shape)

    if Ai is None and hi is None:
        return f(Ar, hr, pad)
    if hi is None:
        re, im = f(Ar, hr, pad), f(Ai, hr, 0.0)
    elif Ai is None:
        re, im = f(Ar, hr, pad), f(Ar, hi, pad)
    else:
        with np.errstate(invalid="ignore"):
            re = f(Ar, hr, pad) - f(Ai, hi, 0.0)
            im = f(Ai, hr, 0.0) + f(Ar, hi, pad)
    out = np.empty(out_shape, np.complex128)
    out.real, out.imag = re, im
    return out


def abs_bound(A, h, boundary, shape, mode):
    """|h| (*) |P|: the scale of round-off allowed at each output (finite parts only)."""
    A = np.nan_to_num(np.abs(np.asarray(A).astype(np.complex128)), nan=0, posinf=0, neginf=0)
    h = np.nan_to_num(np.abs(np.asarray(h).astype(np.complex128)), nan=0, posinf=0, neginf=0)
    b = abs(boundary) if not isinstance(boundary, str) else boundary
    return reference_imfilter(A, h, b, shape, mode)


def expected_class(A, h) -> np.dtype:
    A = np.asarray(A)
    if np.iscomplexobj(h) and A.dtype.kind in "iub":
        return np.dtype(np.complex128)
    if np.iscomplexobj(h) and A.dtype == np.float32:
        return np.dtype(np.complex64)
    if np.iscomplexobj(h) and A.dtype == np.float64:
        return np.dtype(np.complex128)
    return A.dtype


def assert_filtered(got, want, bound, dtype, ulps: float, image_class=None) -> None:
    """Class and size; NaN/Inf where the reference has them; finite values within ``ulps`` eps
    (of double: bridge computes in double) of ``bound``, plus the final rounding to single;
    integer and logical images (``image_class``): the rounded reference, or where the unrounded
    value is that close to a half-integer, either neighbour."""
    got = np.asarray(got)
    dtype = np.dtype(dtype)
    assert got.dtype == dtype, f"class {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"size {got.shape}, expected {want.shape}"
    rounded = image_class is not None and np.dtype(image_class).kind in "iub"
    single = dtype in (np.float32, np.complex64)
    tol = ulps * np.finfo(np.float64).eps * np.asarray(bound).real.astype(np.float64)
    for part in ("real", "imag") if dtype.kind == "c" else ("real",):
        g = np.asarray(getattr(got, part)).astype(np.float64)
        w = np.asarray(getattr(want, part) if want.dtype.kind == "c" else want, np.float64)
        if part == "imag" and want.dtype.kind != "c":
            w = np.zeros_like(w)
        t = tol + (np.abs(np.nan_to_num(w)) * np.finfo(np.float32).eps if single else 0.0)
        if rounded:
            cast = np.vectorize(lambda x: float(to_class(x, image_class)), otypes=[float])
            lo, hi = cast(w - t), cast(w + t)
            bad = (g < np.minimum(lo, hi)) | (g > np.maximum(lo, hi))
            assert not bad.any(), f"{part}: got {g[bad][:5]}, the rounded reference {lo[bad][:5]}"
            continue
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"NaN positions ({part})")
        np.testing.assert_array_equal(
            np.where(np.isinf(g), np.sign(g), 0),
            np.where(np.isinf(w), np.sign(w), 0),
            err_msg=f"Inf positions ({part})",
        )
        fin = np.isfinite(w)
        err = np.abs(g[fin] - w[fin])
        assert np.all(err <= t[fin]), f"{part}: error {err.max()} beyond {ulps} eps of |h|*|P|"


@dataclass
class FilterCase:
    A: np.ndarray
    h: np.ndarray
    boundary: object
    shape: str
    mode: str

    def __repr__(self) -> str:
        return (
            f"FilterCase(A={self.A.dtype}{list(self.A.shape)}, h={self.h.dtype}"
            f"{list(self.h.shape)}, {self.boundary!r}, {self.shape!r}, {self.mode!r})"
        )

    @property
    def options(self):
        return (self.boundary, self.shape, self.mode)


def fused_image(rng, cls: str, shape, nonfinite: bool = False) -> np.ndarray:
    """An image of numpy class ``cls`` for the fused loops' byte-for-byte tests: integers over
    the whole range (saturation) or small (ties after averaging); floating point across
    magnitudes, halves (ties) and -0; with ``nonfinite``, one NaN or infinity."""
    dtype = np.dtype(cls)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        wide = rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64)
        small = rng.integers(max(info.min, -4), 5, shape)
        return np.where(rng.random(shape) < 0.5, wide, small).astype(dtype)
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, shape)
    halves = rng.integers(-8, 9, shape) / 2
    pick = rng.random(shape)
    out = np.where(pick < 0.4, values, np.where(pick < 0.8, halves, -0.0))
    if nonfinite:
        flat = out.reshape(-1)
        flat[rng.integers(0, flat.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return out.astype(dtype)


def make_array(rng, dims, cls: str, nonfinite: bool) -> np.ndarray:
    dtype = np.dtype(CLASSES[cls])
    n = int(np.prod(dims))
    if dtype.kind == "b":
        return rng.integers(0, 2, n).astype(bool).reshape(dims)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # near the ends of the range too, so saturation happens
        lo, hi = max(info.min, -300), min(info.max, 300)
        return rng.integers(lo, hi + 1, n).astype(dtype).reshape(dims)

    def part():
        x = rng.integers(-9, 10, n).astype(np.float64) * (0.5 if rng.random() < 0.5 else 1.0)
        if rng.random() < 0.5:
            x = rng.standard_normal(n) * 10.0 ** rng.integers(-2, 3)
        return x

    data = part() + 1j * part() if dtype.kind == "c" else part()
    if nonfinite and n:
        k = rng.integers(1, max(2, n // 4) + 1)
        pos = rng.choice(n, size=min(k, n), replace=False)
        vals = rng.choice([np.nan, np.inf, -np.inf], size=len(pos))
        if dtype.kind == "c":
            data = data.astype(np.complex128)
            data[pos] = vals + 1j * rng.choice([0.0, np.nan, 1.0], size=len(pos))
        else:
            data[pos] = vals
    return data.astype(dtype).reshape(dims)


@st.composite
def filter_cases(
    draw,
    classes=tuple(CLASSES),
    max_ndim: int = 3,
    allow_empty: bool = True,
    allow_nonfinite: bool = True,
    shapes=("same", "full"),
    boundaries=BOUNDARIES,
    complex_kernel: bool = True,
    kernel_ndim: int | None = None,
):
    """imfilter cases: A of any listed class and up to ``max_ndim`` dimensions, h double (maybe
    complex, maybe with zero taps, even or odd sizes), every boundary, shape and mode."""
    cls = draw(st.sampled_from(classes))
    nd = draw(st.integers(2, max_ndim))
    lo = 0 if allow_empty else 1
    a_dims = tuple(draw(st.lists(st.integers(lo, 5), min_size=nd, max_size=nd)))
    knd = kernel_ndim or draw(st.integers(2, max_ndim))
    h_dims = tuple(draw(st.lists(st.integers(lo, 4), min_size=knd, max_size=knd)))
    if allow_empty and draw(st.integers(0, 9)) > 0:  # mostly non-empty
        a_dims = tuple(max(d, 1) for d in a_dims)
        h_dims = tuple(max(d, 1) for d in h_dims)
    nonfinite = allow_nonfinite and draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A = make_array(rng, a_dims, cls, nonfinite and draw(st.booleans()))
    hcls = "complex" if complex_kernel and draw(st.integers(0, 5)) == 0 else "double"
    h = make_array(rng, h_dims, hcls, nonfinite and draw(st.integers(0, 3)) == 0)
    if h.size and draw(st.booleans()):  # zero taps
        h.reshape(-1)[rng.choice(h.size, size=max(1, h.size // 3), replace=False)] = 0
    return FilterCase(
        A,
        h,
        draw(st.sampled_from(boundaries)),
        draw(st.sampled_from(shapes)),
        draw(st.sampled_from(("corr", "conv"))),
    )


def combinations_of_options(boundary, shape, mode):
    """Every order of the three options (imfilter accepts them in any order)."""
    return list(itertools.permutations((boundary, shape, mode)))


def same_bits(a: np.ndarray, b: np.ndarray) -> None:
    """a and b byte for byte: class, size and every bit (signs of zeros, NaN payloads)."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.argwhere(a.view(np.uint8) != b.view(np.uint8))[:5]


def fused_and_old(fn, monkeypatch, loop: str, switch: str, wrap):
    """(fn() with a fused loop on, fn() with it off): ``loops.<loop>`` replaced by
    ``wrap(the real loop)`` (to count or check its calls) and ``filtering.<switch>`` set."""
    from bridge import filtering
    from bridge._kernels import loops

    with monkeypatch.context() as m:
        m.setattr(loops, loop, wrap(getattr(loops, loop)))
        m.setattr(filtering, switch, True)
        fused = fn()
        m.setattr(filtering, switch, False)
        old = fn()
    return fused, old


def fused_old_and_ran(fn, monkeypatch, loop: str, switch: str):
    """(fn() with the fused loop ``loops.<loop>`` on, fn() with it off, whether it ran)."""
    calls = []

    def counting(real):
        def counted(*args):
            calls.append(1)
            return real(*args)

        return counted

    fused, old = fused_and_old(fn, monkeypatch, loop, switch, counting)
    return fused, old, bool(calls)


def loop_modes(fn, monkeypatch, loop: str, switch: str, row: int, forced: int, width=None):
    """(fn() with the fused loop ``loops.<loop>`` on (``filtering.<switch>``), fn() with it off,
    the loop's calls the forced mode ``forced`` summed itself, its calls on finite images, those
    on images with NaN or Inf): every call also run by the double loop (mode 0) and in mode
    ``forced``, its rows (arguments ``row`` and ``row + 1`` after the output) compared byte for
    byte; a call on an image with NaN or Inf must say so in every mode (the caller then discards
    the rows and takes the old path). At the vector width ``width`` (None: as it is)."""
    from bridge._kernels import loops

    real = getattr(loops, loop)
    taken, calls, flagged = [], [], []

    def checked(out, *rest):
        r0, r1 = rest[row], rest[row + 1]
        double = np.empty_like(out)
        flag0 = real(double, *rest, 0)
        flag = real(out, *rest)  # mode 1, the default
        assert flag == flag0
        if flag:
            assert real(np.empty_like(out), *rest, forced)
            flagged.append(1)
            return flag
        calls.append(1)
        same_bits(out[r0:r1], double[r0:r1])
        alone = np.empty_like(out)
        if not real(alone, *rest, forced):
            taken.append(1)
            same_bits(alone[r0:r1], double[r0:r1])
        return flag

    d = loops._direct_c
    old_width = d.simd_width()
    try:
        if width is not None:
            d.simd_width(width)
        fused, old = fused_and_old(fn, monkeypatch, loop, switch, lambda _: checked)
    finally:
        d.simd_width(old_width)
    return fused, old, len(taken), len(calls), len(flagged)


def short_shares(patch, rows: int) -> None:
    """The fused loops in shares of ``rows`` output rows on the kernels' threads, however small
    the work (``patch``: a monkeypatch or its context), no share lengthened for the separable
    loop's overlap: many shares, and every cut between them, on small images."""
    from bridge import filtering

    patch.setattr(filtering, "_SEP2_THREADED_WORK", 0)
    patch.setattr(filtering, "_SEP2_SHARE_ROWS", rows)
    patch.setattr(filtering, "_SEP2_SHARE_OVERLAPS", 0)
