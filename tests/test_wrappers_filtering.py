"""The filtering family's wrappers (matlab/bridge_filter2.m, ...) driven through octave-cli.

Each result must be bit for bit what bridge computes in-process (class and size included) and
agree with Octave's own function where Octave's follows MATLAB (docs/octave-filtering-
differences.md lists where it does not: there the in-process answer, tested against the defining
sum in tests/test_filtering.py, is the reference).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import bridge
from tests.octave import m_string

pytestmark = [pytest.mark.octave, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(1818)


@pytest.fixture(scope="module")
def matlab(octave, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("filter-wrapper-tmp")
    octave._run(
        f"addpath({m_string(ROOT / 'matlab')});"
        f"setenv('BRIDGE_PYTHON', {m_string(sys.executable)});"
        f"setenv('TMPDIR', {m_string(tmp)}); setenv('BRIDGE_TEMP', {m_string(tmp)});"
        "pkg load image; pkg load signal;"
    )
    yield octave
    octave._run(
        f"setenv('TMPDIR', {m_string(os.environ.get('TMPDIR', ''))}); setenv('BRIDGE_PYTHON', '');"
        "setenv('BRIDGE_TEMP', '');"
    )
    assert list(tmp.iterdir()) == []  # every call removed its folder


def both(matlab, code: str, inputs: dict) -> tuple[np.ndarray, np.ndarray]:
    got = matlab.call(f"{code}\nO__ = struct('W', W, 'R', R);", inputs, ["O__"])["O__"]
    return got["W"][0, 0], got["R"][0, 0]


def same(wrapped: np.ndarray, expected: np.ndarray) -> None:
    expected = np.asarray(expected)
    assert wrapped.dtype == expected.dtype and wrapped.shape == expected.shape
    np.testing.assert_array_equal(wrapped, expected)


@pytest.mark.parametrize("shape", ["same", "valid", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_filter2(matlab, shape, dtype):
    h = RNG.standard_normal((3, 4)).astype(dtype)
    X = RNG.standard_normal((9, 7))
    W, R = both(
        matlab,
        "W = bridge_filter2(h, X, s); R = filter2(h, X, s);",
        {"h": h, "X": X, "s": np.array(shape)},
    )
    same(W, bridge.filter2(h, X, shape))
    np.testing.assert_allclose(W, R, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-12)


@pytest.mark.parametrize("complex_b", [False, True])
def test_xcorr2(matlab, complex_b):
    a = RNG.integers(-9, 10, (6, 5)).astype(float)
    b = RNG.integers(-3, 4, (3, 2)) + (1j * RNG.integers(-3, 4, (3, 2)) if complex_b else 0)
    W, R = both(matlab, "W = bridge_xcorr2(a, b); R = xcorr2(a, b);", {"a": a, "b": b})
    same(W, bridge.xcorr2(a, b))
    np.testing.assert_array_equal(W, R)
    W, R = both(matlab, "W = bridge_xcorr2(a); R = xcorr2(a);", {"a": a})
    same(W, bridge.xcorr2(a))
    np.testing.assert_array_equal(W, R)


@pytest.mark.parametrize("padding", ["0", "7.5", "'replicate'", "'symmetric'", "'circular'"])
@pytest.mark.parametrize("mode", ["'corr'", "'conv'"])
@pytest.mark.parametrize("channels", [1, 3])
def test_imfilter_same_agrees_with_octave(matlab, padding, mode, channels):
    A = RNG.integers(0, 256, (11, 9, channels)).astype(np.uint8)
    h = RNG.integers(-2, 3, (3, 4)).astype(float)
    code = f"W = bridge_imfilter(A, h, {padding}, {mode}); R = imfilter(A, h, {padding}, {mode});"
    W, R = both(matlab, code, {"A": A, "h": h})
    value = float(padding) if padding[0].isdigit() else padding.strip("'")
    same(W, bridge.imfilter(A, h, value, mode.strip("'")).reshape(W.shape))
    np.testing.assert_array_equal(W, R)


def test_imfilter_beyond_octave(matlab):
    """What Octave's imfilter cannot do or does otherwise: N-D filters, 'full' padded by
    size(h)-1 (Octave pads floor(size(h)/2)), logical images rounded."""
    A = RNG.standard_normal((6, 5, 4))
    h = RNG.standard_normal((3, 2, 2))
    W = matlab.call("W = bridge_imfilter(A, h, 'full', 'circ');", {"A": A, "h": h}, ["W"])["W"]
    same(W, bridge.imfilter(A, h, "full", "circular"))
    L = RNG.random((5, 5)) > 0.5
    W = matlab.call("W = bridge_imfilter(L, [0.3 0.3 0.3]);", {"L": L}, ["W"])["W"]
    same(W.astype(bool), bridge.imfilter(L, [[0.3, 0.3, 0.3]]))


@pytest.mark.parametrize(
    "args",
    ["'sobel'", "'prewitt'", "'average', [3 5]", "'laplacian', 0.4", "'unsharp'", "'disk', 3"],
)
def test_fspecial_agrees_with_octave(matlab, args):
    W, R = both(matlab, f"W = bridge_fspecial({args}); R = fspecial({args});", {})
    np.testing.assert_allclose(W, R, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("args", "python"),
    [
        ("'gaussian', [5 5], 2", ("gaussian", [5, 5], 2)),
        ("'log', 7, 1.2", ("log", 7, 1.2)),
        ("'motion', 7, 30", ("motion", 7, 30)),
    ],
)
def test_fspecial_where_octave_differs_is_matlabs(matlab, args, python):
    W = matlab.call(f"W = bridge_fspecial({args});", {}, ["W"])["W"]
    same(W, bridge.fspecial(*python))


@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.single])
def test_imgaussfilt(matlab, dtype):
    A = (RNG.random((12, 10, 2)) * 200).astype(dtype)
    code = "W = bridge_imgaussfilt(A, [2 1], 'Pad', 'symmetric', 'FilterS', [5 3]);"
    W = matlab.call(code, {"A": A}, ["W"])["W"]
    same(W, bridge.imgaussfilt(A, [2, 1], "Padding", "symmetric", "FilterSize", [5, 3]))
    W = matlab.call("W = bridge_imgaussfilt3(A, 0.8);", {"A": A}, ["W"])["W"]
    same(W, bridge.imgaussfilt3(A, 0.8))


@pytest.mark.parametrize(
    ("code", "identifier"),
    [
        ("bridge_imfilter(magic(3), 1, 'c')", "MATLAB:imfilter:ambiguousStringChoice"),
        ("bridge_imfilter(magic(3), 1, 'rim')", "MATLAB:imfilter:unrecognizedStringChoice"),
        ("bridge_imgaussfilt(magic(3), 'Bogus', 1)", "images:imgaussfilt:unknownParamName"),
        ("bridge_imgaussfilt(magic(3), -1)", "MATLAB:imgaussfilt:expectedPositive"),
        ("bridge_filter2(ones(3), ones(4), 'middle')", "MATLAB:conv2:unknownShapeParameter"),
        ("bridge_fspecial('gaussian', 3, 0.5, 1)", "MATLAB:maxrhs"),
        ("bridge_xcorr2(ones(2, 2, 2), 1)", "bridge:conv2:notMatrix"),
    ],
)
def test_errors_carry_matlabs_identifiers(matlab, code, identifier):
    got = matlab.call(f"try, {code}; I = 'none'; catch e, I = e.identifier; end", {}, ["I"])["I"]
    assert str(np.asarray(got).reshape(-1)[0] if np.asarray(got).size else "") == identifier
