"""Jobs bigger than the memory budget: size checks, streaming, refusals (bridge._job.stream).

Every streamed job is compared with the same job run in memory (no --max-memory): integer data
exactly, floating-point data exactly too (the same method and the same sums in the same order),
across all three shapes, 1-D/2-D/3-D/4-D operands, kernels wider than a slab, MATLAB-ordered,
C-ordered, chunked and compressed inputs, and MAT v7.3 and HDF5 outputs. The budgets are small
(a few MB) so that every job is cut into many boxes; each test checks it was.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

import bridge
from bridge import _cli as cli
from bridge import _formats as formats
from bridge import _kernels as kernels
from bridge._formats import h5util
from bridge._job import compute, files, memory, stream
from bridge._job import progress as job_progress

RNG = np.random.default_rng(2026)


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    assert err.startswith("bridge: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def write_h5(path, arrays, order="matlab", chunks=None, compression=None):
    """MATLAB's h5write layout (dims reversed) or C order, written by h5py directly."""
    with h5py.File(path, "w") as f:
        f.attrs["bridge_dim_order"] = np.bytes_(order)
        for name, a in arrays.items():
            data = np.asarray(a).T if order == "matlab" else np.asarray(a)
            opts = {}
            if chunks:
                opts["chunks"] = tuple(min(c, n) for c, n in zip(chunks, data.shape)) or None
            if compression:
                opts["compression"] = compression
            f.create_dataset(name, data=data, **opts)
    return path


def streamed_plan(path, limit, outfile, **options):
    job = files.load_job(path, read=False, **{k: v for k, v in options.items() if v})
    return stream.plan_job(job, str(outfile), limit, mat_version="7.3")


def result(path):
    return formats.read(path)[0]["C"].array()


def compare(capsys, tmp_path, infile, budget, *options, boxes_at_least=2, floats=False):
    """Run the job in memory and streamed; the results must be equal (class, size, values)."""
    ext = ".h5" if "--format=hdf5" in options else ".mat"
    ref = tmp_path / f"ref{ext}"
    out = tmp_path / f"out{ext}"
    opts = [o for o in options if o != "--format=hdf5"]
    status, _, err = run(capsys, infile, ref, "--mat-version", "7.3", *opts)
    assert status == 0, err
    status, _, err = run(capsys, infile, out, "--mat-version", "7.3", "--max-memory", budget, *opts)
    assert status == 0, err
    assert err == ""  # short jobs print no progress
    want, got = result(ref), result(out)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True)
    # the job really was cut in boxes
    op = next((o.split("=")[1] for o in opts if o.startswith("--op=")), None)
    shape = next((o.split("=")[1] for o in opts if o.startswith("--shape=")), None)
    plan = streamed_plan(infile, memory.parse_size(budget), out, op=op, shape=shape)
    assert plan is not None
    count = sum(1 for _ in stream.boxes(plan)) if not plan.empty else 0
    if got.size >= 2 * stream.MIN_BOX_OUTPUTS:
        assert count >= boxes_at_least
    if floats:
        # boxes large enough for the summation path of the whole (stream.MIN_BOX_OUTPUTS)
        assert math.prod(plan.block) >= stream.MIN_BOX_OUTPUTS // 2
    return got


# ---- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512M", 512 << 20),
        ("4G", 4 << 30),
        ("1.5GiB", 3 << 29),
        ("2048k", 2 << 20),
        ("8mb", 8 << 20),
    ],
)
def test_sizes(text, expected):
    assert memory.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "-5M", "5X", "100"])
def test_bad_sizes_are_usage_errors(capsys, tmp_path, text):
    infile = tmp_path / "in.mat"
    scipy.io.savemat(infile, {"A": np.eye(2), "B": np.eye(2)})
    status, _, err = run(capsys, infile, tmp_path / "o.mat", f"--max-memory={text}")
    assert status == 2 and "max-memory" in one_line(err)


def test_default_budget_is_a_fraction_of_the_machines_memory(monkeypatch):
    """Deterministic: the same file streams or not whatever else runs (a 3 GB job once exited 0
    after 33 s and 3 after 7-10 s, by the free memory at its start)."""
    total = memory.physical_memory()
    assert total is not None and total > 0
    assert memory.default_budget() == max(int(total * memory.DEFAULT_FRACTION), 64 << 20)
    with open("/proc/meminfo") as f:  # the check reads no figure that moves with the load
        assert "MemTotal:" in f.read()
    monkeypatch.setattr(memory, "physical_memory", lambda: None)
    assert memory.default_budget() == memory.FALLBACK_BUDGET


# ---- streamed == in memory ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
@pytest.mark.parametrize(
    ("a_size", "b_size"),
    [
        ((70, 60, 80), (3, 5, 3)),  # 3-D: slabs of the last MATLAB dimension
        ((600, 500), (7, 4)),  # 2-D
        ((20, 30, 16, 40), (2, 3, 1, 3)),  # 4-D
        ((40, 50, 120), (5, 3)),  # kernel with fewer dimensions
        ((60, 40, 120), (2, 3, 45)),  # a kernel wider than a slab
        ((60, 40, 120), (60, 40, 1)),  # a kernel as large as a plane
    ],
    ids=["3d", "2d", "4d", "2d-kernel", "wide-kernel", "plane-kernel"],
)
def test_streamed_equals_in_memory_integers(capsys, tmp_path, shape, a_size, b_size):
    A = RNG.integers(-100, 100, a_size).astype(np.int16)
    B = RNG.integers(-4, 5, b_size).astype(np.float64)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A, "B": B}, mat_version="7.3")
    compare(capsys, tmp_path, infile, "2M", f"--shape={shape}", "--op=convn")


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_the_second_operand_may_be_the_larger_one(capsys, tmp_path, shape):
    """The streamed operand is the larger one; the result's window is still that of
    conv2(A, B, shape), with 'same' the size of A (a 4x3 'same' once exited 70)."""
    A = RNG.integers(-3, 4, (4, 3)).astype(float)
    B = RNG.integers(-3, 4, (700, 600)).astype(float)
    infile = write_h5(tmp_path / "in.h5", {"A": A, "B": B}, chunks=(64, 64))
    got = compare(capsys, tmp_path, infile, "4M", f"--shape={shape}", "--op=conv2")
    assert got.shape == {"full": (703, 602), "same": (4, 3), "valid": (0, 0)}[shape]


@pytest.mark.parametrize(
    ("op", "names", "shape"),
    [
        ("filter2", ("h", "X"), "same"),
        ("filter2", ("h", "X"), "valid"),
        ("filter2", ("h", "X"), "full"),
        ("xcorr2", ("b", "a"), None),
    ],
)
def test_filter2_and_xcorr2_stream_as_the_conv2_they_are(capsys, tmp_path, op, names, shape):
    """The large operand read in boxes, the other rotated (and conjugated for xcorr2) once."""
    big = RNG.integers(-9, 10, (700, 600)) + 1j * RNG.integers(-9, 10, (700, 600))
    small = RNG.integers(-3, 4, (5, 4)) + 1j * RNG.integers(-3, 4, (5, 4))
    kernel_name, signal_name = names
    infile = write_h5(tmp_path / "in.h5", {kernel_name: small, signal_name: big}, chunks=(64, 64))
    with h5py.File(infile, "a") as f:
        f.attrs["op"] = op
    options = [f"--shape={shape}"] if shape else []
    got = compare(capsys, tmp_path, infile, "8M", f"--op={op}", *options)
    want = bridge.filter2(small, big, shape) if op == "filter2" else bridge.xcorr2(big, small)
    assert got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.parametrize("padding", ["0", "7.5", "replicate", "symmetric", "circular"])
@pytest.mark.parametrize("options", [["--shape=same"], ["--shape=full", "--mode=conv"]])
@pytest.mark.parametrize("order", ["matlab", "c"])
def test_imfilter_streams_every_boundary_option(capsys, tmp_path, padding, options, order):
    """The padded image read in boxes through the padding rule ('circular' reads the far end of
    A, 'symmetric' and 'replicate' the edge): integer images the same integers as in memory."""
    A = RNG.integers(0, 256, (300, 200, 3)).astype(np.uint8)
    h = RNG.integers(-2, 3, (5, 4)).astype(np.float64)
    infile = write_h5(tmp_path / "in.h5", {"A": A, "h": h}, order=order, chunks=(32, 32, 3))
    with h5py.File(infile, "a") as f:
        f.attrs["op"] = "imfilter"
    got = compare(capsys, tmp_path, infile, "2M", f"--padding={padding}", *options)
    mode = "conv" if "--mode=conv" in options else "corr"
    shape = options[0].split("=")[1]
    value = float(padding) if padding[0].isdigit() else padding
    want = bridge.imfilter(A, h, value, mode, shape)
    assert got.dtype == np.uint8 and np.array_equal(got, want)


@pytest.mark.parametrize("op", ["imgaussfilt", "imgaussfilt3"])
def test_imgaussfilt_streams(capsys, tmp_path, op):
    A = RNG.standard_normal((160, 120, 12))
    infile = write_h5(tmp_path / "in.h5", {"A": A}, chunks=(40, 40, 4))
    with h5py.File(infile, "a") as f:
        f.attrs["op"] = op
    got = compare(capsys, tmp_path, infile, "6M", "--sigma=1.5", "--padding=circular", floats=True)
    want = getattr(bridge, op)(A, 1.5, "Padding", "circular")
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize(
    ("sizes", "fits"),
    [([(64, 64), (3, 3)], True), ([(1, 2_000_000), (1, 2001)], False), ([], True)],
)
def test_a_job_that_obviously_fits_skips_the_planner(sizes, fits):
    """Small jobs are not planned (the planner costs a cold start); anything near the budget
    is, and the planner's estimate is always below the bound that lets a job skip it."""
    limit = 64 << 20
    assert memory.obviously_fits(sizes, limit) is fits


def test_the_plan_never_passes_the_budget(tmp_path):
    """A 2000x1500 operand with a 400x400 kernel under 16M: the smallest box of the same
    summation path as in memory once planned 36.9 MB; the boxes now stay within the budget."""
    A = RNG.random((1500, 2000))
    B = RNG.random((400, 400))
    infile = write_h5(tmp_path / "in.h5", {"A": A, "B": B}, chunks=(100, 100))
    limit = memory.parse_size("16M")
    plan = streamed_plan(infile, limit, tmp_path / "out.h5", op="conv2")
    resident = plan.kernel.nbytes + 3 * plan.kernel.numel * plan.dtype.itemsize
    assert resident + stream.READ_CACHE_BYTES + stream._box_bytes(plan, plan.block) <= limit


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_streamed_equals_in_memory_floats(capsys, tmp_path, shape):
    A = RNG.standard_normal((90, 70, 40))
    A[3, 4, 5] = np.nan
    A[-1, -1, -1] = np.inf
    # A kernel for which 'auto' sums directly: bit for bit is the contract of direct and gemm
    # (where the cost model picks an FFT, float boxes agree within the FFT bound, README).
    B = RNG.standard_normal((3, 3, 3))
    assert kernels.choose_method(A, B, [n + 2 for n in A.shape]) == "direct"
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A, "B": B}, mat_version="7.3")
    got = compare(capsys, tmp_path, infile, "4M", f"--shape={shape}", floats=True)
    assert np.isnan(got).any()


@pytest.mark.parametrize("order", ["matlab", "c"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunks", [None, (7, 11, 13)])
@pytest.mark.parametrize("loop", ["c", "numpy"])
def test_floats_read_in_either_order_sum_as_in_memory(
    capsys, tmp_path, monkeypatch, order, dtype, chunks, loop
):
    # A box of MATLAB's layout is summed as read (column-major, no transposed copy): every
    # output must still be the in-memory job's sum, bit for bit, by the C loop and by the numpy
    # path; odd sizes, and chunks that the boxes and their halos cut across.
    from bridge._kernels import loops, method_direct

    if loop == "c" and loops.C_DIRECT3 is None:
        pytest.skip("the C loop is not built")
    monkeypatch.setattr(method_direct, "_NUMBA", [loops.C_DIRECT3 if loop == "c" else None])
    A = RNG.standard_normal((91, 71, 41)).astype(dtype)
    B = RNG.standard_normal((3, 5, 3)).astype(dtype)
    infile = write_h5(tmp_path / "in.h5", {"A": A, "B": B}, order=order, chunks=chunks)
    got = compare(capsys, tmp_path, infile, "4M", "--shape=same", "--format=hdf5", floats=True)
    assert got.dtype == dtype
    plan = streamed_plan(infile, memory.parse_size("4M"), tmp_path / "x.h5", shape="same")
    assert plan.method == "direct" and sum(1 for _ in stream.boxes(plan)) >= 2


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
@pytest.mark.parametrize("orientation", ["row", "column"])
def test_streamed_vectors(capsys, tmp_path, shape, orientation):
    u = RNG.integers(-9, 10, 400_000).astype(np.float64)
    v = RNG.integers(-9, 10, 31).astype(np.float64)
    u = u.reshape(1, -1) if orientation == "row" else u.reshape(-1, 1)
    infile = write_h5(tmp_path / "in.h5", {"u": u, "v": v.reshape(1, -1)})
    got = compare(capsys, tmp_path, infile, "2M", f"--shape={shape}", "--op=conv")
    assert (got.shape[0] == 1) == (orientation == "row")  # conv.m: u is the longer


@pytest.mark.parametrize("order", ["matlab", "c"])
@pytest.mark.parametrize("layout", ["contiguous", "chunked", "gzip"])
def test_hdf5_inputs_and_outputs(capsys, tmp_path, order, layout):
    A = RNG.integers(0, 255, (50, 80, 45)).astype(np.uint8)
    B = np.ones((3, 3, 2))
    chunks = None if layout == "contiguous" else (7, 11, 13)
    infile = write_h5(
        tmp_path / "in.h5",
        {"A": A, "B": B},
        order=order,
        chunks=chunks,
        compression="gzip" if layout == "gzip" else None,
    )
    got = compare(capsys, tmp_path, infile, "2M", "--shape=same", "--format=hdf5")
    ref = formats.read(infile)[0]
    assert np.array_equal(
        got,
        compute.compute(
            files.Job(
                "convn", [("A", ref["A"].array()), ("B", ref["B"].array())], "x", {"shape": "same"}
            )
        ),
    )


def test_complex_and_logical_operands(capsys, tmp_path):
    A = RNG.integers(-5, 5, (40, 50, 30)) + 1j * RNG.integers(-5, 5, (40, 50, 30))
    B = RNG.integers(0, 2, (3, 2, 3)).astype(bool)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A.astype(np.complex64), "B": B}, mat_version="7.3")
    got = compare(capsys, tmp_path, infile, "2M", "--shape=full")
    assert got.dtype == np.complex64


def test_small_operands_with_a_large_result_stream_from_a_v7_file(capsys, tmp_path):
    # The operands fit; only the result does not: any input format will do.
    infile = tmp_path / "in.mat"
    scipy.io.savemat(infile, {"A": np.arange(1, 301.0).reshape(1, -1), "B": np.ones((300, 1))})
    compare(capsys, tmp_path, infile, "2M")


@pytest.mark.slow
def test_forty_megabytes_with_an_eight_megabyte_budget(capsys, tmp_path):
    A = RNG.integers(-1000, 1000, (160, 180, 175)).astype(np.float64)  # 40 MB
    B = RNG.integers(-2, 3, (3, 5, 3)).astype(np.float64)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A, "B": B}, mat_version="7.3")
    compare(capsys, tmp_path, infile, "8M", "--shape=same")


def test_the_streamed_output_reads_as_matlab_would(tmp_path, capsys):
    hdf5storage = pytest.importorskip("hdf5storage")
    mat73 = pytest.importorskip("mat73")
    A = RNG.integers(-9, 9, (30, 40, 50)).astype(np.float64)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A, "B": np.ones((2, 2, 2))}, mat_version="7.3")
    out = tmp_path / "out.mat"
    status, _, err = run(capsys, infile, out, "--mat-version=7.3", "--max-memory", "2M")
    assert status == 0, err
    assert out.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    full = np.zeros((31, 41, 51))
    for i, j, k in np.ndindex(2, 2, 2):
        full[i : i + 30, j : j + 40, k : k + 50] += A
    assert np.array_equal(hdf5storage.loadmat(str(out))["C"], full)
    assert np.array_equal(mat73.loadmat(str(out))["C"], full)
    with h5py.File(out, "r") as f:
        assert f["C"].chunks is not None and f["C"].compression is None
        assert f["C"].attrs["MATLAB_class"] == b"double"


def test_compress_turns_gzip_on(capsys, tmp_path):
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": np.ones((40, 50, 60)), "B": np.ones((2, 2))}, mat_version="7.3")
    out = tmp_path / "out.mat"
    assert run(capsys, infile, out, "--mat-version=7.3", "--max-memory", "2M", "--compress")[0] == 0
    with h5py.File(out, "r") as f:
        assert f["C"].compression == "gzip"


# ---- refusals -----------------------------------------------------------------------------------


def test_an_operand_too_large_in_a_v7_file_names_the_format(capsys, tmp_path):
    infile = tmp_path / "in.mat"
    scipy.io.savemat(infile, {"A": np.ones((300, 300)), "B": np.ones((3, 3))})
    out = tmp_path / "out.mat"
    status, _, err = run(capsys, infile, out, "--max-memory", "1M", "--mat-version", "7.3")
    assert status == 3 and "v7.3" in one_line(err) and "300x300" in err
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["out.txt", "out.mat"])
def test_an_output_that_cannot_be_streamed_is_refused(capsys, tmp_path, name):
    infile = tmp_path / "in.mat"
    scipy.io.savemat(infile, {"A": np.ones((1, 4000)), "B": np.ones((4000, 1))})
    status, _, err = run(capsys, infile, tmp_path / name, "--max-memory", "16M")
    assert status == 3 and "4000x4000" in one_line(err) and "7.3" in err
    assert not (tmp_path / name).exists() and leftovers(tmp_path) == []


def test_a_kernel_that_does_not_fit_is_refused(capsys, tmp_path):
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": np.ones((300, 400)), "B": np.ones((200, 300))}, mat_version="7.3")
    status, _, err = run(
        capsys, infile, tmp_path / "o.mat", "--mat-version=7.3", "--max-memory", "1M"
    )
    assert status == 3 and "needs B whole" in one_line(err)


def test_separable_conv2_is_refused_when_too_large(capsys, tmp_path):
    infile = tmp_path / "in.mat"
    formats.write(infile, {"u": np.ones((1, 5)), "v": np.ones((1, 5)), "A": np.ones((400, 500))})
    status, _, err = run(capsys, infile, tmp_path / "o.mat", "--max-memory", "1M")
    assert status == 3 and "separable" in one_line(err)


def test_an_empty_operand_with_a_huge_result_is_checked_before_allocating(capsys, tmp_path):
    # The 272-byte job of issue 10: zeros(0, 1073741827) and a 2x2 kernel -> 2x1073741828 zeros.
    with h5py.File(tmp_path / "big.h5", "w") as f:  # MATLAB's empty of that size, by header
        d = f.create_dataset("A", data=np.array([0, 1073741827], np.uint64))
        d.attrs["MATLAB_class"] = np.bytes_("double")
        d.attrs["MATLAB_empty"] = np.uint8(1)
        f["B"] = np.ones((2, 2))
        f["B"].attrs["MATLAB_class"] = np.bytes_("double")
    os.rename(tmp_path / "big.h5", tmp_path / "big.mat")
    status, _, err = run(capsys, tmp_path / "big.mat", tmp_path / "o.txt", "--max-memory", "64M")
    assert status == 3 and "2x1073741828" in one_line(err)
    status, _, err = run(capsys, tmp_path / "big.mat", tmp_path / "o.mat", "--max-memory", "64M")
    assert status == 0, err
    assert (tmp_path / "o.mat").stat().st_size < 1 << 20  # zeros by HDF5's fill value
    with h5py.File(tmp_path / "o.mat", "r") as f:
        assert f["C"].shape == (1073741828, 2) and not f["C"][-3:].any()
    assert formats.read(tmp_path / "o.mat")[0]["C"].size == (2, 1073741828)


def test_memory_error_is_exit_3_in_one_line(capsys, tmp_path, monkeypatch):
    infile = tmp_path / "in.mat"
    scipy.io.savemat(infile, {"A": np.eye(3), "B": np.eye(2)})

    def boom(job):
        raise MemoryError("Unable to allocate 12.8 GiB")

    monkeypatch.setattr(compute, "compute", boom)
    status, _, err = run(capsys, infile, tmp_path / "o.mat")
    assert status == 3 and "out of memory" in one_line(err)


# ---- progress and interruption ------------------------------------------------------------------


def test_progress_lines_on_stderr(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(job_progress, "PROGRESS_EVERY", 0.0)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": np.ones((40, 50, 60)), "B": np.ones((2, 2))}, mat_version="7.3")
    status, _, err = run(
        capsys, infile, tmp_path / "o.mat", "--mat-version=7.3", "--max-memory", "2M"
    )
    lines = err.splitlines()
    assert (
        status == 0 and lines and all(line.startswith("bridge: streaming convn") for line in lines)
    )
    assert "\x1b" not in err  # plain lines, no terminal codes, when stderr is not a terminal


def test_ctrl_c_leaves_no_output(capsys, tmp_path, monkeypatch):
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": np.ones((80, 50, 60)), "B": np.ones((2, 2))}, mat_version="7.3")
    out = tmp_path / "o.mat"
    out.write_bytes(b"previous")
    calls = []
    real = stream.compute_box

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(stream, "compute_box", interrupted)
    status = run(capsys, infile, out, "--mat-version=7.3", "--max-memory", "2M")[0]
    assert status == 130 and len(calls) == 2
    assert out.read_bytes() == b"previous" and leftovers(tmp_path) == []


# ---- the plan -----------------------------------------------------------------------------------


def test_boxes_cover_the_result_once_with_halos_inside_the_operand():
    class Op:
        def __init__(self, size):
            self.size, self.dtype, self.variable, self.source = size, np.dtype("f8"), None, None
            self.name = "X"

        numel = property(lambda self: math.prod(self.size))
        nbytes = property(lambda self: self.numel * 8)

    for shape in ("full", "same", "valid"):
        dims, kdims = (13, 9, 17), (4, 3, 6)
        from bridge._semantics import result_size, window

        plan = stream.Plan(
            op="convn",
            shape=shape,
            dtype=np.dtype("f8"),
            out_size=(1, 1),
            signal=Op(dims),
            kernel=Op(kdims),
            signal_first=True,
            dims=dims,
            kernel_dims=kdims,
            starts=tuple(window(shape, a, b)[0] for a, b in zip(dims, kdims)),
            lengths=tuple(result_size(shape, a, b) for a, b in zip(dims, kdims)),
            method="direct",
            block=(1, 2, 17),
        )
        seen = np.zeros(plan.lengths, int)
        A = RNG.integers(-3, 4, dims).astype(float)
        K = RNG.integers(-3, 4, kdims).astype(float)
        want = compute.compute(files.Job("convn", [("A", A), ("B", K)], "x", {"shape": shape}))
        got = np.zeros(plan.lengths)
        for box in stream.boxes(plan):
            seen[box.out] += 1
            for s, n in zip(box.inp, dims):
                assert 0 <= s.start < s.stop <= n
            lengths = tuple(s.stop - s.start for s in box.out)
            got[box.out] = stream.compute_box(
                A[box.inp], K, box.starts, lengths, plan.dtype, "direct"
            )
        assert (seen == 1).all()
        assert np.array_equal(got, want)


def test_h5util_reads_boxes_in_storage_order(tmp_path):
    A = np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6)
    path = write_h5(tmp_path / "a.h5", {"A": A}, chunks=(2, 2, 2), compression="gzip")
    variable = formats.read(path)[0]["A"]
    source = variable.source
    box = (slice(1, 4), slice(0, 5), slice(2, 3))  # storage order: (6, 5, 4)
    with source.open() as ds:
        got = source.read_box(ds, box)
    assert np.array_equal(got, A.T[box])
    assert isinstance(variable, h5util.H5Variable)


@pytest.mark.parametrize("order", ["matlab", "c"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_h5util_reads_boxes_into_a_reused_buffer(tmp_path, order, dtype):
    # Boxes read into one buffer (stream._fill) equal boxes read alone: odd sizes, a singleton
    # dimension, boxes crossing chunks, a buffer larger than the box; a buffer of another dtype
    # than the dataset's is not used.
    A = RNG.integers(-999, 999, (9, 1, 13, 11)).astype(dtype)
    path = write_h5(tmp_path / "a.h5", {"A": A}, order=order, chunks=(2, 1, 5, 4))
    source = formats.read(path)[0]["A"].source
    dims = A.shape[::-1] if order == "matlab" else A.shape
    buffer = np.empty(9 * 13 * 11, dtype)
    boxes = [
        (slice(0, 11), slice(3, 10), slice(0, 1), slice(1, 4)),
        (slice(2, 9), slice(0, 13), slice(0, 1), slice(0, 9)),
        (slice(10, 11), slice(12, 13), slice(0, 1), slice(8, 9)),
    ]
    if order == "c":
        boxes = [box[::-1] for box in boxes]
    with source.open() as ds:
        for box in boxes:
            alone = source.read_box(ds, box, dims)
            into = source.read_box(ds, box, dims, buffer)
            assert np.shares_memory(into, buffer)
            assert into.dtype == alone.dtype and np.array_equal(into, alone)
            assert np.array_equal(alone, (A.T if order == "matlab" else A)[box])
        other = np.empty(buffer.size, np.complex128)
        assert not np.shares_memory(source.read_box(ds, boxes[0], dims, other), other)


@pytest.mark.parametrize("name", ["out.mat", "out.h5"])
def test_octave_loads_the_streamed_output_and_agrees(octave, capsys, tmp_path, name):
    # Octave 7.3's load reads these HDF5 files (chunked, MATLAB's layout) as MATLAB would.
    A = RNG.integers(-50, 50, (40, 50, 60)).astype(np.float64)
    B = RNG.integers(-3, 4, (3, 2, 3)).astype(np.float64)
    infile = tmp_path / "in.mat"
    formats.write(infile, {"A": A, "B": B}, mat_version="7.3")
    out = tmp_path / name
    status, _, err = run(
        capsys, infile, out, "--shape=same", "--mat-version=7.3", "--max-memory=2M"
    )
    assert status == 0, err
    with h5py.File(out, "r") as f:
        assert f["C"].chunks is not None  # written in parts
    got = octave.call(
        f"S = load('{out}'); C = S.C; ok = isequal(C, convn(A, B, 'same'));",
        {"A": A, "B": B},
        ["C", "ok"],
    )
    assert got["ok"].item() == 1 and got["C"].shape == A.shape


@pytest.mark.parametrize("size", [(640, 520), (400, 330, 3)])
def test_imfilter_streams_the_guarded_fft_bits(capsys, tmp_path, size):
    """A uint8 image (or RGB) under a large kernel whose sums land on half-integers (taps in
    eighths): in memory the guarded FFT gives the direct loop's integers; the boxes give the
    same ones (rounding each box's FFT instead would differ where a sum sits on a half-integer)."""
    A = RNG.integers(0, 256, size).astype(np.uint8)
    h = RNG.integers(-9, 10, (31, 29)) / 8.0
    infile = write_h5(tmp_path / "in.h5", {"A": A, "h": h}, chunks=(64, 64, 3)[: len(size)])
    with h5py.File(infile, "a") as f:
        f.attrs["op"] = "imfilter"
    got = compare(capsys, tmp_path, infile, "3M", "--padding=replicate")
    assert np.array_equal(got, bridge.imfilter(A, h, "replicate", method="direct"))
