"""Tests that kill mutants the suite used to let live (issue 21, mutation testing).

Each test names the mutant it kills: the one-line change to bridge that made the whole suite still
pass. Each was checked by applying the mutant by hand: the test fails with it, passes without.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import bridge
from bridge import _formats as formats
from bridge._formats import h5util, mat73
from bridge._kernels import choice
from tests import hostile

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BRIDGE_NO_SERVER": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bridge", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def v73(path: Path, build) -> Path:
    with h5py.File(path, "w", userblock_size=512, libver=h5util.LIBVER) as f:
        build(f)
    with open(path, "r+b") as f:
        f.write(mat73.header())
    return path


def matlab(dataset, cls="double"):
    h5util.write_text_attr(dataset, "MATLAB_class", cls)
    return dataset


# --- sparse indices ------------------------------------------------------------------------------


@pytest.mark.slow
def test_v73_sparse_with_a_negative_row_index_is_refused(tmp_path):
    # Mutant: mat73._sparse without `ir.min() < 0`: numpy's index -1 silently fills the last row.
    def build(f):
        matlab(f.create_dataset("v", data=np.ones((1, 1))))
        g = f.create_group("u")
        h5util.write_text_attr(g, "MATLAB_class", "double")
        g.attrs["MATLAB_sparse"] = np.uint64(3)
        g["jc"] = np.array([0, 2], np.int64)  # a 3x1 column: conv(u, v) of two vectors
        g["ir"] = np.array([0, -1], np.int64)
        g["data"] = np.array([1.0, 2.0])

    path = v73(tmp_path / "in.mat", build)
    out = tmp_path / "out.mat"
    proc = cli(path, out)
    assert proc.returncode == 3, proc.stderr
    assert "'u'" in proc.stderr and "sparse" in proc.stderr and proc.stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow
def test_mat5_sparse_with_a_row_index_equal_to_the_row_count_is_refused(tmp_path):
    # Mutant: _mat5's `ir.max() >= rows` as `> rows`: the row index 3 of 3 rows is one past the
    # end (numpy IndexError: exit 70).
    path = tmp_path / "in.mat"
    path.write_bytes(
        hostile.mat5(
            hostile.double("v", [1.0, 1]), hostile.sparse("u", 3, 2, [0, 3], [0, 1, 2], [1.0, 2])
        )
    )
    proc = cli(path, tmp_path / "out.mat")
    assert proc.returncode == 3, proc.stderr
    assert "row index" in proc.stderr and "'u'" in proc.stderr and proc.stderr.count("\n") == 1


# --- the length bound of char variables -----------------------------------------------------------

CHARS = 200_000_000  # 400 MB of UTF-16 'a's, gzip: a file of about 410 KB

PEAK_RSS = textwrap.dedent(
    """
    import resource, subprocess, sys
    done = subprocess.run([sys.executable, "-m", "bridge", *sys.argv[1:]], capture_output=True)
    sys.stderr.buffer.write(done.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, this child's only
    print(done.returncode, peak)
    """
)


@pytest.mark.slow
def test_a_huge_compressed_char_variable_is_never_read(tmp_path):
    # Mutant: mat73._char without `obj.size * obj.dtype.itemsize > h5util.MAX_TEXT_BYTES`: the
    # 200M characters are inflated and widened (2.3 GB peak) although no job uses them.
    def build(f):
        for name in ("u", "v"):
            matlab(f.create_dataset(name, data=np.ones((3, 1))))
        step = 1 << 20
        d = f.create_dataset(
            "X", shape=(CHARS, 1), dtype="<u2", chunks=(step, 1), compression="gzip"
        )
        block = np.full((step, 1), ord("a"), "<u2")
        for k in range(0, CHARS, step):
            d[k : k + step] = block[: CHARS - k]
        matlab(d, "char").attrs["MATLAB_int_decode"] = np.int32(2)

    path = v73(tmp_path / "in.mat", build)
    assert path.stat().st_size < 2 << 20  # the whole point: a small file
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BRIDGE_NO_SERVER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path), str(tmp_path / "out.mat")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    status, peak_kib = (int(x) for x in done.stdout.split())
    assert status == 0, done.stderr
    assert peak_kib < 300 * 1024, f"peak RSS {peak_kib // 1024} MB"  # memory, not time
    variables = formats.read(path)[0]
    assert variables["X"].size == (1, CHARS) and variables["X"].data is None


# --- kernels ----------------------------------------------------------------------------------


def test_a_column_times_a_row_is_the_outer_product_exactly():
    # Mutant: method_fft._fft_axes counting dimensions where either operand extends (`or`):
    # conv2 of a column and a row has no axis to transform, each output is one product, so
    # 'auto' must give numpy's outer product bit for bit, as MATLAB does.
    rng = np.random.default_rng(21)
    col = rng.standard_normal((1000, 1))
    row = rng.standard_normal((1, 1000))
    result = bridge.conv2(col, row)
    assert result.shape == (1000, 1000)
    assert np.array_equal(result, col * row)


def test_integer_data_meeting_a_non_integer_kernel_goes_by_fft():
    # Mutant: choose_method's integer test with `or` instead of `and`: integers up to 1e7 would
    # then fail the exact bound and the job would leave the (faster) FFT for a slower method.
    # Non-integer data take the FFT contract whatever the other operand holds.
    rng = np.random.default_rng(7)
    a = rng.integers(-10_000_000, 10_000_001, 30_000).astype(np.float64)
    b = rng.standard_normal(900)
    lengths = (a.size + b.size - 1,)
    costs = choice.estimate_costs(a.shape, b.shape, lengths)
    assert min(costs, key=costs.get) == "fft"  # the case is one where the FFT is cheapest
    assert choice.choose_method(a, b, lengths) == "fft-float"
    b_int = np.rint(b * 1e6)  # both integer, beyond the exact bound: never the FFT
    assert choice.choose_method(a, b_int, lengths) != "fft-float"


def test_products_near_the_top_of_double_leave_the_fft():
    # Mutant: kernels.convolve without the may_overflow guard: the spectra of values of 1e152
    # overflow (1e152 * 3000 * 1e152 * 50 > 1.8e308) and 'fft-float' returns Inf, although every
    # output (at most 50 products of 1e304, about 5e305 in the middle) is finite.
    a = np.full(3000, 1e152)
    b = np.full(50, 1e152)
    fast = bridge.conv(a, b, method="fft-float")
    direct = bridge.conv(a, b, method="direct")
    assert fast.size == 3049 and np.all(np.isfinite(fast))
    assert np.array_equal(fast, direct)
    assert direct.ravel()[1500] == pytest.approx(50 * 1e304)
