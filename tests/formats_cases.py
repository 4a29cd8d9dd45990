"""The case table of the format tests: every MATLAB class x a set of MATLAB sizes, with values.

Values are made from a seed, not typed in: each array starts with the extremes of its class
(1/3 that needs every digit, NaN, Inf, -Inf, -0, the smallest subnormal, the largest finite value;
intmin, intmax) and continues with random values spread over many magnitudes.
"""

from __future__ import annotations

import functools
import os
import zlib
from math import prod
from pathlib import Path

import numpy as np
import pytest

from bridge._formats.classes import class_dtype, matlab_size

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT / ".." / "shared" / "fixtures"
MATLAB_V73 = SHARED_FIXTURES / "matlab-v73"


def require_shared(path: Path = MATLAB_V73) -> Path:
    """``path`` under ../shared, or skip: a fresh clone has no ../shared beside it. CI has it and
    sets BRIDGE_REQUIRE_SHARED (.ci/run), so there a missing ../shared fails instead."""
    if not path.is_dir():
        msg = f"{path.resolve()} is absent (../shared is not beside this checkout)"
        if os.environ.get("BRIDGE_REQUIRE_SHARED", "").strip() not in ("", "0"):
            pytest.fail(f"{msg}, and BRIDGE_REQUIRE_SHARED is set", pytrace=False)
        pytest.skip(msg)
    return path


MATLAB_DIR = ROOT / "matlab"

# (MATLAB class, complex)
CLASSES = [
    ("double", False),
    ("single", False),
    ("int8", False),
    ("uint8", False),
    ("int16", False),
    ("uint16", False),
    ("int32", False),
    ("uint32", False),
    ("int64", False),
    ("uint64", False),
    ("logical", False),
    ("double", True),
    ("single", True),
]
SIZES = {
    "scalar": (1, 1),
    "row": (1, 4),
    "column": (4, 1),
    "matrix": (3, 2),
    "0x0": (0, 0),
    "0x3": (0, 3),
    "3x0": (3, 0),
    "2x3x4": (2, 3, 4),
    "1x1x3": (1, 1, 3),
    "2x1x3": (2, 1, 3),
}


def class_id(cls: str, is_complex: bool) -> str:
    return f"complex-{cls}" if is_complex else cls


CASES = [(class_id(c, x), c, x, s) for c, x in CLASSES for s in SIZES]
CASE_IDS = [f"{cid}-{s}" for cid, _, _, s in CASES]


def var_name(cid: str, size_id: str) -> str:
    """A MATLAB variable name for one case ('v_complex_double_2x3x4')."""
    return "v_" + f"{cid}_{size_id}".replace("-", "_")


def _real(cls: str, n: int, rng: np.random.Generator) -> np.ndarray:
    dtype = class_dtype(cls)
    if cls == "logical":
        values = rng.integers(0, 2, n).astype(bool)
        specials = [True, False]
    elif dtype.kind == "f":
        info = np.finfo(dtype)
        values = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(dtype)
        # 1/3 first: it needs every digit (17 for double, 9 for single), even in a scalar.
        specials = [1 / 3, np.nan, np.inf, -np.inf, -0.0, info.smallest_subnormal, info.max]
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        specials = [info.min, info.max, 0, 1]
    k = min(n, len(specials))
    values[:k] = np.array(specials[:k], dtype=np.float64 if dtype.kind == "f" else dtype)
    return values


def sample(
    cls: str, is_complex: bool, size: tuple[int, ...], *, narrow_ints: bool = False
) -> np.ndarray:
    """Deterministic values of a class and MATLAB size (complex: nonzero imaginary parts).

    ``narrow_ints``: 64-bit integers kept within 2^53, for readers that go through double.
    """
    n = prod(size)
    rng = np.random.default_rng(zlib.crc32(f"{cls}{is_complex}{size}".encode()))
    values = _real(cls, n, rng)
    if narrow_ints and cls in ("int64", "uint64"):
        values = values % np.array(2**53, dtype=values.dtype)
    if is_complex:
        imag = _real(cls, n, rng)[::-1]
        imag[imag == 0] = 1.5
        out = np.empty(n, dtype=class_dtype(cls, True))
        out.real, out.imag = values, imag
        values = out
    return values.reshape(matlab_size(size), order="F")


@functools.cache
def _all_samples(narrow_ints: bool) -> dict[str, np.ndarray]:
    return {
        var_name(cid, s): sample(c, x, SIZES[s], narrow_ints=narrow_ints) for cid, c, x, s in CASES
    }


def all_samples(*, narrow_ints: bool = False) -> dict[str, np.ndarray]:
    """Every case as one variable (a fresh dict of shared read-only arrays)."""
    return dict(_all_samples(narrow_ints))


def assert_identical(got: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, shape and values, NaN where NaN is, and the sign of every zero."""
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert np.array_equal(got, expected, equal_nan=True), (got, expected)
    if expected.dtype.kind in "fc":
        for part in (np.real, np.imag):
            assert np.array_equal(np.signbit(part(got)), np.signbit(part(expected)))


def assert_variable(variable, cls: str, is_complex: bool, expected: np.ndarray) -> None:
    """A Variable read back has the class, size, complexity and values that were written."""
    assert (variable.matlab_class, variable.size, variable.complex) == (
        cls,
        expected.shape,
        is_complex,
    )
    assert_identical(variable.array(), expected)
