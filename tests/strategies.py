"""Hypothesis strategies for convolution cases: operations, shapes, classes, sizes, NaN/Inf.

A case is drawn as a few small parameters plus a seed; numpy fills the arrays from the seed, so
cases stay cheap and shrink to small sizes and simple classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import bridge

CLASSES = {
    "double": np.float64,
    "single": np.float32,
    "complex": np.complex128,
    "single complex": np.complex64,
    "logical": np.bool_,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
}
FLOAT_CLASSES = ("double", "single", "complex", "single complex")
SHAPES = ("full", "same", "valid")


@dataclass
class Case:
    op: str  # 'conv', 'conv2', 'conv2sep', 'convn'
    shape: str  # as passed to bridge (any case)
    arrays: list[np.ndarray]
    nonfinite: bool

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"Case({self.op}, {self.shape!r}, [{parts}], nonfinite={self.nonfinite})"

    def run(self, method: str = "auto") -> np.ndarray:
        fn = {
            "conv": bridge.conv,
            "conv2": bridge.conv2,
            "conv2sep": bridge.conv2,
            "convn": bridge.convn,
        }[self.op]
        return fn(*self.arrays, shape=self.shape, method=method)

    @property
    def has_empty(self) -> bool:
        return any(a.size == 0 for a in self.arrays)


def make_array(rng, dims, cls: str, values: str, nonfinite: bool, zeros: bool) -> np.ndarray:
    """An array of MATLAB class ``cls``: small integers or random reals, maybe NaN/Inf."""
    dtype = np.dtype(CLASSES[cls])
    n = int(np.prod(dims))
    if dtype.kind == "b":
        data = rng.integers(0, 2, n).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -100), min(info.max, 100)
        data = rng.integers(lo, hi + 1, n).astype(dtype)
    else:

        def part():
            if values == "int":
                return rng.integers(-9, 10, n).astype(np.float64)
            return rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)

        data = part() + 1j * part() if dtype.kind == "c" else part()
        if nonfinite and n:
            k = rng.integers(1, max(2, n // 3) + 1)
            pos = rng.choice(n, size=min(k, n), replace=False)
            special = rng.choice([np.nan, np.inf, -np.inf], size=pos.size)
            if dtype.kind == "c":
                which = rng.integers(0, 3, pos.size)  # real part, imaginary part, or both
                re, im = data.real.copy(), data.imag.copy()
                re[pos[which != 1]] = special[which != 1]
                im[pos[which != 0]] = special[which != 0]
                data = np.empty(n, np.complex128)  # not re + 1j*im: 1j*Inf has a NaN real part
                data.real, data.imag = re, im
            else:
                data[pos] = special
        data = data.astype(dtype)
    if not zeros:
        data = np.where(data == 0, np.ones(1, dtype), data)
    return data.reshape(dims)


@st.composite
def cases(
    draw,
    ops=("conv", "conv2", "conv2sep", "convn"),
    allow_empty=True,
    allow_nonfinite=True,
    nonfinite_zeros=True,
    classes=tuple(CLASSES),
):
    """A convolution case. ``nonfinite_zeros=False`` keeps zeros out of cases with NaN/Inf
    (Octave skips zero taps, spec section 7.2)."""
    op = draw(st.sampled_from(ops))
    shape = draw(st.sampled_from(SHAPES))
    shape = draw(st.sampled_from([shape, shape.upper(), shape.capitalize()]))
    lo = 0 if allow_empty else 1
    size = st.integers(lo, 6)

    def vector():
        n = draw(size)
        return draw(st.sampled_from([(1, n), (n, 1), (n,)]))

    if op == "conv":
        dims = [vector(), vector()]
    elif op == "conv2":
        dims = [(draw(size), draw(size)) for _ in range(2)]
    elif op == "conv2sep":
        dims = [vector(), vector(), (draw(size), draw(size))]
    else:
        small = st.integers(lo, 4)
        dims = [tuple(draw(small) for _ in range(draw(st.integers(1, 4)))) for _ in range(2)]
    cls = [draw(st.sampled_from(classes)) for _ in dims]
    values = draw(st.sampled_from(["int", "int", "real"]))
    nonfinite = allow_nonfinite and draw(st.booleans()) and any(c in FLOAT_CLASSES for c in cls)
    zeros = nonfinite_zeros or not nonfinite
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    arrays = [
        make_array(rng, d, c, values, nonfinite and c in FLOAT_CLASSES, zeros)
        for d, c in zip(dims, cls)
    ]
    return Case(op, shape, arrays, nonfinite)
