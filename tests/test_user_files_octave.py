"""The files MATLAB and Octave users already have, end to end in live Octave.

Six ways users write operands: Octave's default ``save``, ``save -text``, ``save -hdf5``, one
dlmwrite CSV per operand, one ``save -ascii -double`` file per operand, and CSV vectors for
``conv``. Octave writes the files, runs bridge through ``system()`` exactly as a user's script
does, reads the result back with its own reader (load, dlmread, load -ascii) and compares it with
its own conv2/conv of the same operands. The operands are integer-valued (bridge's results are
then exact, so equality is exact) or carry NaN/Inf where MATLAB puts them.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.formats_cases import assert_identical

pytestmark = pytest.mark.octave

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(12)


def _bridge(*args: str) -> str:
    """Octave code running bridge as a user does: system(), then the exit status checked."""
    command = " ".join(
        [f"PYTHONPATH={shlex.quote(str(ROOT))}", shlex.quote(sys.executable), "-m", "bridge"]
        + [shlex.quote(a) for a in args]
    )
    return (
        f"[status__, out__] = system({_octave_string(command + ' 2>&1')});\n"
        "if status__ ~= 0, error('bridge:test', 'bridge failed (%d): %s', status__, out__); end\n"
    )


def _octave_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _run(octave, code: str, inputs: dict, outputs: list[str]) -> dict:
    return octave.call(code, inputs, outputs)


OPERANDS = {
    "A": RNG.integers(-9, 10, (7, 6)).astype(np.float64),
    "B": RNG.integers(-3, 4, (3, 4)).astype(np.float64),
}


@pytest.mark.parametrize(
    ("way", "save", "job"),
    [
        ("default-save", "save('{d}/in.mat', 'A', 'B', 'op', 'shape');", "in.mat"),
        ("save-text", "save('-text', '{d}/in.txt', 'A', 'B', 'op', 'shape');", "in.txt"),
        ("save-hdf5", "save('-hdf5', '{d}/in.h5', 'A', 'B', 'op', 'shape');", "in.h5"),
        ("save-hdf5-as-mat", "save('-hdf5', '{d}/in.mat', 'A', 'B', 'op', 'shape');", "in.mat"),
    ],
)
@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_octave_job_files_give_octaves_conv2(octave, tmp_path, way, save, job, shape):
    d = str(tmp_path)
    code = (
        f"op = 'conv2'; shape = '{shape}';\n"
        + save.format(d=d)
        + _bridge(f"{d}/{job}", f"{d}/out.mat")
        + f"R = load('{d}/out.mat'); C = R.C; E = conv2(A, B, '{shape}');"
    )
    got = _run(octave, code, OPERANDS, ["C", "E"])
    assert_identical(got["C"], got["E"])


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_dlmwrite_csv_per_operand_gives_octaves_conv2(octave, tmp_path, shape):
    d = str(tmp_path)
    a = OPERANDS["A"].copy()
    a[2, 3], a[5, 0] = np.nan, np.inf  # as dlmwrite writes them: NaN, Inf
    code = (
        f"dlmwrite('{d}/A.csv', A); dlmwrite('{d}/B.csv', B);\n"
        + _bridge(f"{d}/A.csv", f"{d}/B.csv", f"{d}/C.csv", "--op", "conv2", "--shape", shape)
        + f"C = dlmread('{d}/C.csv'); C2 = csvread('{d}/C.csv'); E = conv2(A, B, '{shape}');"
    )
    got = _run(octave, code, {"A": a, "B": OPERANDS["B"]}, ["C", "C2", "E"])
    assert_identical(got["C"], got["E"])
    assert_identical(got["C2"], got["E"])


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_save_ascii_double_per_operand_gives_octaves_conv2(octave, tmp_path, shape):
    d = str(tmp_path)
    a = RNG.standard_normal((6, 5))  # not integer-valued: %.16e text is exact, sums round
    code = (
        f"save('-ascii', '-double', '{d}/A.txt', 'A'); save('-ascii', '-double', '{d}/B.txt', 'B');"
        + "\n"
        + _bridge(f"{d}/A.txt", f"{d}/B.txt", f"{d}/C.txt", "--shape", shape)
        + f"C = load('-ascii', '{d}/C.txt'); E = conv2(A, B, '{shape}');"
    )
    got = _run(octave, code, {"A": a, "B": OPERANDS["B"]}, ["C", "E"])
    assert got["C"].shape == got["E"].shape
    scale = np.abs(OPERANDS["B"]).sum() * np.abs(a).max()
    assert np.allclose(got["C"], got["E"], rtol=0, atol=64 * np.finfo(float).eps * scale)


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
@pytest.mark.parametrize(
    ("u_shape", "v_shape"), [((1, 9), (4, 1)), ((9, 1), (1, 4)), ((1, 9), (1, 4)), ((9, 1), (4, 1))]
)
def test_csv_vectors_go_to_conv(octave, tmp_path, shape, u_shape, v_shape):
    d = str(tmp_path)
    u = RNG.integers(-9, 10, u_shape).astype(np.float64)
    v = RNG.integers(-9, 10, v_shape).astype(np.float64)
    code = (
        f"dlmwrite('{d}/u.csv', u); dlmwrite('{d}/v.csv', v);\n"
        + _bridge(f"{d}/u.csv", f"{d}/v.csv", f"{d}/w.csv", "--shape", shape)
        + f"C = dlmread('{d}/w.csv'); E = conv(u, v, '{shape}'); sz = size(E);"
        # Octave's conv goes through filter(); its values are conv2's of the columns
        + f" V = conv2(u(:), v(:), '{shape}');"
    )
    got = _run(octave, code, {"u": u, "v": v}, ["C", "sz", "V"])
    size = tuple(int(n) for n in got["sz"].ravel())
    if 0 in size:  # an empty result is an empty file; dlmread reads it as 0x0
        assert got["C"].size == 0
        return
    assert got["C"].shape == size
    assert_identical(got["C"].ravel(), got["V"].ravel())


def test_three_csv_files_are_the_separable_conv2(octave, tmp_path):
    d = str(tmp_path)
    u = RNG.integers(-5, 6, (1, 3)).astype(np.float64)
    v = RNG.integers(-5, 6, (4, 1)).astype(np.float64)
    code = (
        f"dlmwrite('{d}/u.csv', u); dlmwrite('{d}/v.csv', v); dlmwrite('{d}/A.csv', A);\n"
        + _bridge(f"{d}/u.csv", f"{d}/v.csv", f"{d}/A.csv", f"{d}/C.txt", "--shape", "same")
        + f"C = load('-ascii', '{d}/C.txt'); E = conv2(u, v, A, 'same');"
    )
    got = _run(octave, code, {"u": u, "v": v, "A": OPERANDS["A"]}, ["C", "E"])
    assert_identical(got["C"], got["E"])


def test_a_headerless_single_file_says_what_to_do(octave, tmp_path):
    d = str(tmp_path)
    python = shlex.quote(sys.executable)
    command = f"PYTHONPATH={shlex.quote(str(ROOT))} {python} -m bridge {d}/in.txt {d}/out.txt 2>&1"
    code = f"dlmwrite('{d}/in.txt', A);\n[status, msg] = system({_octave_string(command)});"
    got = _run(octave, code, {"A": OPERANDS["A"]}, ["status", "msg"])
    message = "".join(str(x) for x in np.ravel(got["msg"]))
    assert int(got["status"][0, 0]) == 3
    assert message.count("\n") == 1 and "its own file" in message
    assert "bridge_write_text" in message and ".py" not in message
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("shape", ["same", "full"])
def test_octaves_save_hdf5_streams_past_the_budget(octave, tmp_path, shape):
    """Octave cannot write v7.3 and has no h5write: its own save -hdf5 file streams (it was
    refused with advice to use HDF5), with Octave's own convn's answer."""
    d = str(tmp_path)
    code = (
        f"A = reshape(mod(1:600000, 97), 600, 1000) - 48; B = magic(4)(1:3, :); "
        f"op = 'convn'; shape = '{shape}';\n"
        f"save('-hdf5', '{d}/in.h5', 'A', 'B', 'op', 'shape');\n"
        + _bridge(f"{d}/in.h5", f"{d}/out.mat", "--mat-version", "7.3", "--max-memory", "8M")
        + f"R = load('{d}/out.mat'); C = R.C; E = convn(A, B, '{shape}');"
    )
    got = _run(octave, code, {}, ["C", "E"])
    assert_identical(got["C"], got["E"])
