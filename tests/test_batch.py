"""``bridge batch``: outputs and error lines are the single-job command's, failures stay alone, the
report, resume, the job list (files, folders, patterns, collisions), progress, Ctrl-C, the
long-lived workers, and a real Dask cluster (a scheduler and two workers on 127.0.0.1).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from bridge import _batch as batch
from bridge import _cli as cli
from bridge import _formats as formats
from bridge._job import progress as job_progress
from bridge._job.options import TARGETS
from bridge.errors import EXIT_DATA, EXIT_ENVIRONMENT, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
from tests.processes import cold_environment, start_batch, wait_for_outputs

pytestmark = pytest.mark.slow  # batches fork their workers; most run in processes
ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^bridge: (\d+) ok, (\d+) failed, (\d+) skipped(, \d+ not run \(interrupted\))? in [0-9.]+ s"
    r"(; report: .+)?$"
)
RNG = np.random.default_rng(7)


def run_batch(*args, cwd: Path, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "batch", *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env or cold_environment(),
        cwd=cwd,
        timeout=timeout,
    )


def single(infile: Path, outfile: Path, options: list[str]) -> tuple[int, str]:
    """The single-job command, in this process: its exit status and stderr line."""
    err = io.StringIO()
    with redirect_stderr(err):
        status = cli.main([str(infile), str(outfile), *options])
    return status, err.getvalue().strip()


def last_line(text: str) -> str:
    return text.rstrip("\n").split("\n")[-1]


def read_report(path: Path) -> list[dict]:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["exit"] = int(row["exit"])
        row["seconds"] = float(row["seconds"])
    return rows


# --- job files -----------------------------------------------------------------------------


def write_jobs(folder: Path) -> dict[str, bool]:
    """Job files of every format and several calls, and bad ones: name -> expected to succeed."""
    folder.mkdir(parents=True, exist_ok=True)
    mat = {
        "a_conv2.mat": {"A": RNG.random((9, 7)), "B": RNG.random((3, 2))},
        "b_same.mat": {"A": RNG.random((6, 6)), "B": RNG.random((4, 4)), "shape": "same"},
        "c_conv.mat": {"u": RNG.random((1, 9)), "v": RNG.random((1, 3)), "op": "conv"},
        "d_sep.mat": {"u": RNG.random((3, 1)), "v": RNG.random((1, 2)), "A": RNG.random((5, 5))},
        "e_single.mat": {"A": RNG.random((4, 5)).astype(np.float32), "B": np.ones((2, 2))},
        "f_complex.mat": {"A": RNG.random((3, 3)) + 1j * RNG.random((3, 3)), "B": np.eye(2)},
        "g_int.mat": {"A": np.arange(12, dtype=np.int16).reshape(3, 4), "B": np.ones((2, 1))},
        "h_convn.mat": {"A": RNG.random((3, 4, 2)), "B": RNG.random((2, 2, 2))},
    }
    for name, variables in mat.items():
        scipy.io.savemat(folder / name, variables)
    formats.write(folder / "i_hdf.h5", {"A": RNG.random((5, 4)), "B": RNG.random((2, 3))})
    formats.write(
        folder / "j_text.txt",
        {"A": RNG.random((4, 4)), "B": RNG.random((3, 3))},
        request={"shape": "valid"},
    )
    # bad jobs: each fails alone, as the single job would
    (folder / "x_garbage.mat").write_text("not a MAT-file\n")
    scipy.io.savemat(folder / "y_missing.mat", {"A": np.ones((2, 2))})
    scipy.io.savemat(
        folder / "z_notvector.mat", {"u": np.ones((3, 3)), "v": np.ones((1, 2)), "op": "conv"}
    )
    good = {name: True for name in [*mat, "i_hdf.h5", "j_text.txt"]}
    return {**good, "x_garbage.mat": False, "y_missing.mat": False, "z_notvector.mat": False}


def assert_same_file(got: Path, want: Path) -> None:
    """Byte for byte, but for the creation time in a MAT-file's header; HDF5 by value."""
    a, b = got.read_bytes(), want.read_bytes()
    if a.startswith(b"MATLAB 5.0 MAT-file"):
        assert a[:20] == b[:20] and a[116:] == b[116:], got
    elif a[512:520] == b"\x89HDF\r\n\x1a\n" or a[:8] == b"\x89HDF\r\n\x1a\n":
        assert a[:20] == b[:20]  # v7.3: MATLAB's text header, without its time
        assert h5_contents(got) == h5_contents(want), got
    else:
        assert a == b, got


def h5_contents(path: Path) -> list:
    items = []

    def visit(name, obj):
        attrs = sorted((k, repr(np.asarray(v).tolist())) for k, v in obj.attrs.items())
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            items.append((name, str(obj.dtype), obj.shape, repr(np.asarray(data).tolist()), attrs))
        else:
            items.append((name, attrs))

    with h5py.File(path, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return items


@pytest.fixture
def jobs_dir(tmp_path) -> tuple[Path, dict[str, bool]]:
    expected = write_jobs(tmp_path / "jobs")
    return tmp_path / "jobs", expected


# --- outputs, errors, report ---------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--shape", "same", "--out-var", "R"],
        ["--to", "txt"],
        ["--to", "h5", "--hdf5-order", "c"],
        ["--to", "mat", "--mat-version", "7.3"],
        ["--compress", "--to", "MAT"],
    ],
    ids=["plain", "shape-outvar", "to-txt", "to-h5", "v73", "compress"],
)
def test_outputs_and_error_lines_are_the_single_job_commands(jobs_dir, tmp_path, options):
    folder, expected = jobs_dir
    done = run_batch(
        folder,
        "--out-dir",
        tmp_path / "out",
        "--report",
        tmp_path / "r.json",
        "--jobs",
        "2",
        *options,
        cwd=tmp_path,
    )
    rows = read_report(tmp_path / "r.json")
    assert [Path(r["input"]).name for r in rows] == sorted(expected)
    (tmp_path / "single").mkdir()
    to = options[options.index("--to") + 1].lower() if "--to" in options else None
    job_options = [o for o in options if o not in ("--to", "txt", "h5", "mat", "MAT")]
    for row in rows:
        infile = Path(row["input"])
        name = infile.name if to is None else infile.stem + TARGETS[to]
        assert row["output"] == str(tmp_path / "out" / name)
        status, line = single(infile, tmp_path / "single" / name, job_options)
        assert (row["exit"], row["message"]) == (status, line)
        assert row["status"] == ("ok" if status == EXIT_OK else "failed")
        assert row["worker"] == "local" and row["seconds"] >= 0
        if status == EXIT_OK:
            assert expected[infile.name]
            assert_same_file(Path(row["output"]), tmp_path / "single" / name)
        else:
            assert not expected[infile.name]
            assert not Path(row["output"]).exists()
            assert line in done.stderr  # every failed job's line is printed too
    assert done.returncode == EXIT_DATA  # three jobs failed
    assert SUMMARY.match(last_line(done.stderr)), done.stderr
    assert last_line(done.stderr).startswith("bridge: 10 ok, 3 failed, 0 skipped in ")
    assert last_line(done.stderr).endswith(f"; report: {tmp_path / 'r.json'}")
    assert done.stdout == ""


def test_a_real_single_job_process_writes_the_same(jobs_dir, tmp_path):
    folder, _ = jobs_dir
    done = run_batch(
        folder / "b_same.mat",
        folder / "j_text.txt",
        folder / "y_missing.mat",
        "--out-dir",
        "out",
        "--report",
        "r.csv",
        cwd=tmp_path,
    )
    assert done.returncode == EXIT_DATA
    rows = read_report(tmp_path / "r.csv")
    for row in rows:
        one = subprocess.run(
            [sys.executable, "-m", "bridge", row["input"], "one" + Path(row["input"]).suffix],
            capture_output=True,
            text=True,
            env=cold_environment(),
            cwd=tmp_path,
            timeout=60,
        )
        assert row["exit"] == one.returncode
        assert row["message"] == one.stderr.strip()
        if one.returncode == 0:
            single_output = tmp_path / ("one" + Path(row["input"]).suffix)
            assert_same_file(tmp_path / row["output"], single_output)


def test_report_csv_and_json_hold_the_same_rows(jobs_dir, tmp_path):
    folder, expected = jobs_dir
    for kind in ("csv", "json"):
        done = run_batch(folder, "--out-dir", f"out-{kind}", "--report", f"r.{kind}", cwd=tmp_path)
        assert done.returncode == EXIT_DATA
    text = (tmp_path / "r.csv").read_text()
    assert text.splitlines()[0] == "input,output,status,exit,message,seconds,worker"
    csv_rows, json_rows = read_report(tmp_path / "r.csv"), read_report(tmp_path / "r.json")
    assert len(csv_rows) == len(json_rows) == len(expected)
    for c, j in zip(csv_rows, json_rows):
        assert set(j) == set(batch.REPORT_COLUMNS)
        assert (c["input"], c["status"], c["exit"], c["message"]) == (
            j["input"],
            j["status"],
            j["exit"],
            j["message"],
        )
    assert {r["status"] for r in json_rows} == {"ok", "failed"}


def test_all_ok_exits_0_without_a_report(jobs_dir, tmp_path):
    folder, _expected = jobs_dir
    done = run_batch(
        folder / "a_conv2.mat", folder / "c_conv.mat", "--out-dir", "out", cwd=tmp_path
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert re.fullmatch(r"bridge: 2 ok, 0 failed, 0 skipped in [0-9.]+ s\n", done.stderr)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_conv2.mat", "c_conv.mat"]


# --- resume --------------------------------------------------------------------------------


def test_resume_skips_existing_outputs_and_reruns_failed_jobs(jobs_dir, tmp_path):
    folder, expected = jobs_dir
    first = run_batch(folder, "--out-dir", "out", cwd=tmp_path)
    assert first.returncode == EXIT_DATA
    out = tmp_path / "out"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    assert set(before) == {name for name, ok in expected.items() if ok}
    # repair one failed job; the others fail again
    scipy.io.savemat(folder / "y_missing.mat", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    again = run_batch(folder, "--out-dir", "out", "--resume", "--report", "r.json", cwd=tmp_path)
    rows = {Path(r["input"]).name: r for r in read_report(tmp_path / "r.json")}
    for name, (mtime, data) in before.items():
        assert rows[name]["status"] == "skipped" and rows[name]["exit"] == 0
        assert (out / name).stat().st_mtime_ns == mtime and (out / name).read_bytes() == data
    assert rows["y_missing.mat"]["status"] == "ok"
    assert rows["x_garbage.mat"]["status"] == "failed"
    assert last_line(again.stderr).startswith("bridge: 1 ok, 2 failed, 10 skipped in ")
    assert again.returncode == EXIT_DATA
    # nothing left to do but the two bad jobs: everything else skipped, no worker needed
    (folder / "x_garbage.mat").unlink()
    (folder / "z_notvector.mat").unlink()
    done = run_batch(folder, "--out-dir", "out", "--resume", cwd=tmp_path)
    assert done.returncode == EXIT_OK
    assert last_line(done.stderr).startswith("bridge: 0 ok, 0 failed, 11 skipped in ")


# --- the job list --------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    for rel in [
        "top1.mat",
        "top2.txt",
        "notes.csv",
        ".hidden.mat",
        "sub/deep.mat",
        "sub/deeper/deepest.h5",
        ".git/x.mat",
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".csv"):
            path.write_text("a,b\n")
        else:
            formats.write(path, {"A": np.ones((2, 2)), "B": np.ones((1, 1))})


@pytest.mark.parametrize(
    "args, expected",
    [
        (["tree"], ["tree/top1.mat", "tree/top2.txt"]),
        (
            ["tree", "--recursive"],
            ["tree/top1.mat", "tree/top2.txt", "tree/sub/deep.mat", "tree/sub/deeper/deepest.h5"],
        ),
        (["tree/*.mat"], ["tree/top1.mat"]),
        (["tree/**/*.mat"], ["tree/sub/deep.mat", "tree/top1.mat"]),
        (["tree/s*"], ["tree/sub/deep.mat"]),  # a matched folder gives its job files
        (["tree/top?.*", "tree/top1.mat", "tree"], ["tree/top1.mat", "tree/top2.txt"]),
        (["tree/.hidden.mat"], ["tree/.hidden.mat"]),  # a file named explicitly is taken
    ],
    ids=["folder", "recursive", "pattern", "globstar", "pattern-folder", "once-each", "explicit"],
)
def test_job_list(tmp_path, args, expected):
    make_tree(tmp_path / "tree")
    assert batch.expand(
        [str(tmp_path / a) if not a.startswith("--") else a for a in args if a != "--recursive"],
        recursive="--recursive" in args,
    ) == [str(tmp_path / e) for e in expected]
    # the same through the command line, with the patterns unexpanded by any shell
    done = run_batch(*args, "--out-dir", "out", "--report", "r.json", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    assert [r["input"] for r in read_report(tmp_path / "r.json")] == expected


def test_a_folder_scan_leaves_the_output_folder_out(tmp_path):
    make_tree(tmp_path / "tree")
    for _ in range(2):  # the second run must not take the first run's outputs as jobs
        done = run_batch("tree", "--recursive", "--out-dir", "tree/out", cwd=tmp_path)
        assert done.returncode == EXIT_OK, done.stderr
        assert last_line(done.stderr).startswith("bridge: 4 ok, 0 failed, 0 skipped")


def test_an_empty_folder_is_an_empty_batch(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_batch("empty", "--out-dir", "out", "--report", "r.csv", cwd=tmp_path)
    assert done.returncode == EXIT_OK
    assert last_line(done.stderr).startswith("bridge: 0 ok, 0 failed, 0 skipped in ")
    assert (tmp_path / "r.csv").read_text() == "input,output,status,exit,message,seconds,worker\n"


@pytest.mark.parametrize(
    "args, words",
    [
        (["a/x.mat", "b/x.mat"], ["a/x.mat and b/x.mat would both write out/x.mat"]),
        (["a/x.mat", "a/x.txt", "--to", "mat"], ["would both write out/x.mat"]),
        (["a", "--out-dir", "a"], ["is this job's input"]),
        (["a/x.mat", "b/x.txt", "--to", "txt", "--out-dir", "b"], ["is the input b/x.txt"]),
        (["a/r.json", "--report", "a/r.json"], ["the report would overwrite"]),
        (["a/x.mat", "--report", "r.txt"], ["must be a .csv or a .json"]),
        (["nothere.mat"], ["nothere.mat: no such file or folder (bridge:noInput)"]),
        (["a/*.h5"], ["a/*.h5: no file matches this pattern (bridge:noInput)"]),
        (["a/x.mat", "--out-var", "1x"], ["'1x' is not a MATLAB variable name"]),
        (["a/x.mat", "--format", "xls"], ["format 'xls' is not supported"]),
        (["a/x.mat", "--to", "xls"], ["--to"]),
        (["a/x.mat", "--jobs", "0"], ["--jobs"]),
        (["a/x.mat", "--bogus"], ["No such option: --bogus", "(bridge:usage)"]),
        (["--out-dir", "out"], ["Missing argument 'JOB'"]),
    ],
    ids=[
        "same-name",
        "same-after-to",
        "output-is-input",
        "output-is-other-input",
        "report-is-input",
        "report-kind",
        "missing",
        "no-match",
        "bad-out-var",
        "bad-format",
        "bad-to",
        "zero-jobs",
        "unknown-option",
        "no-job",
    ],
)
def test_usage_errors_before_anything_runs(tmp_path, args, words):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        formats.write(tmp_path / folder / "x.mat", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    formats.write(tmp_path / "a" / "x.txt", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    formats.write(tmp_path / "b" / "x.txt", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    (tmp_path / "a" / "r.json").write_text("[]")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    if "--out-dir" not in args:
        args = [*args, "--out-dir", "out"]
    done = run_batch(*args, "--error-file", "err.txt", cwd=tmp_path)
    assert done.returncode == EXIT_USAGE, done.stderr
    line = (tmp_path / "err.txt").read_text()
    assert line.startswith("bridge: error: ") and line.count("\n") == 1
    for word in words:
        assert word in line, line
    (tmp_path / "err.txt").unlink()
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert done.stderr == ""


def test_an_output_folder_that_cannot_be_created_exits_4(tmp_path):
    formats.write(tmp_path / "x.mat", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    (tmp_path / "file").write_text("")
    done = run_batch("x.mat", "--out-dir", "file/out", cwd=tmp_path)
    assert done.returncode == EXIT_OUTPUT
    assert "cannot create the output folder" in done.stderr
    done = run_batch("x.mat", "--out-dir", "out", "--report", "no/r.csv", cwd=tmp_path)
    assert done.returncode == EXIT_OUTPUT and "the report's folder does not exist" in done.stderr
    assert not (tmp_path / "out").exists()


def test_broken_numpy_exits_5(tmp_path):
    formats.write(tmp_path / "x.mat", {"A": np.ones((2, 2)), "B": np.ones((1, 1))})
    shadow = tmp_path / "shadow" / "numpy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('numpy is broken here on purpose')\n")
    done = run_batch("x.mat", "--out-dir", "out", cwd=tmp_path, env=cold_environment(shadow.parent))
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "cannot import numpy" in done.stderr and "(bridge:pythonEnv)" in done.stderr


# --- workers, progress, interruption ---------------------------------------------------------


def many_jobs(folder: Path, count: int, size: int = 64) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for k in range(count):
        scipy.io.savemat(
            folder / f"job{k:04d}.mat", {"A": rng.random((size, size)), "B": rng.random((3, 3))}
        )


def test_long_lived_workers_run_many_jobs_each(tmp_path, monkeypatch):
    many_jobs(tmp_path / "in", 30, size=8)
    started = []
    original = batch._Worker.__init__

    def counting(self, context, options):
        original(self, context, options)
        started.append(self.process.pid)

    monkeypatch.setattr(batch._Worker, "__init__", counting)
    monkeypatch.setattr(batch, "cores", lambda: 3)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    with redirect_stderr(err):
        status = cli.main(["batch", "in", "--out-dir", "out"])
    assert status == EXIT_OK, err.getvalue()
    assert len(started) == 3  # --jobs defaults to the cores; 30 jobs, 3 processes
    assert len(list((tmp_path / "out").iterdir())) == 30
    started.clear()
    with redirect_stderr(err):
        assert cli.main(["batch", "in", "--out-dir", "out2", "--jobs", "2"]) == EXIT_OK
    assert len(started) == 2


def test_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path, monkeypatch):
    many_jobs(tmp_path / "in", 12, size=8)
    monkeypatch.setattr(job_progress, "PROGRESS_EVERY", 0.0)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    with redirect_stderr(err):
        assert cli.main(["batch", "in", "--out-dir", "out", "--jobs", "2"]) == EXIT_OK
    lines = err.getvalue().splitlines()
    progress = [line for line in lines[:-1] if line]
    assert progress and all(
        re.fullmatch(r"bridge: \d+ of 12 jobs done \(\d+ ok, 0 failed, 0 skipped\) in \d+ s", line)
        for line in progress
    ), lines
    assert SUMMARY.match(lines[-1])
    assert "\x1b" not in err.getvalue() and "\r" not in err.getvalue()


def test_a_bar_when_stderr_is_a_terminal(tmp_path):
    import pty

    many_jobs(tmp_path / "in", 20, size=8)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "batch", "in", "--out-dir", "out"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**cold_environment(), "TERM": "xterm", "COLUMNS": "100"},
            cwd=tmp_path,
        )
        os.close(follower)
        out, _ = proc.communicate(timeout=120)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == EXIT_OK and out == b""
    assert "bridge batch" in text and "20/20" in text and "━" in text  # rich's bar
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r\n", "\n")
    assert SUMMARY.match(last_line(plain)), plain


def outputs_are_complete(out: Path, rows: list[dict]) -> None:
    for path in out.iterdir():
        assert not path.name.startswith("."), f"temporary file left: {path.name}"
        got = scipy.io.loadmat(path)["C"]
        job = scipy.io.loadmat(Path(path.parent.parent / "in" / path.name))
        assert got.shape == (66, 66)
        np.testing.assert_allclose(got, _conv2(job["A"], job["B"]), rtol=1e-12)
    for row in rows:
        assert row["status"] == "ok" and (out.parent / row["output"]).exists()


def _conv2(a, b):
    from scipy.signal import convolve2d

    return convolve2d(a, b)


@pytest.mark.slow
def test_a_stop_signal_during_a_workers_fork_stops_the_batch(tmp_path):
    """A SIGTERM whose handler runs inside an after-fork hook (logging has one) still stops the
    batch. (It was raised as an exception there, the hook swallowed it, and the batch ran on to
    the end.)"""
    many_jobs(tmp_path / "in", 40, size=8)
    code = (
        "import os, signal, sys\n"
        "sent = []\n"
        "def hook():\n"
        "    if not sent:\n"
        "        sent.append(True)\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        for _ in range(1000): pass  # the handler runs here, inside the hook\n"
        "os.register_at_fork(after_in_parent=hook)\n"
        "from bridge import _batch as batch\n"
        "sys.exit(batch.main(['in', '--out-dir', 'out', '--jobs', '2']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cold_environment(),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == batch.EXIT_INTERRUPTED, done.stderr
    assert "Exception ignored" not in done.stderr
    assert "Traceback" not in done.stderr
    assert "0 ok, 0 failed, 0 skipped, 40 not run (interrupted)" in last_line(done.stderr)


@pytest.mark.parametrize("how", ["terminal-ctrl-c", "sigint-to-batch", "sigterm-to-batch"])
def test_interruption_stops_cleanly_and_reports_what_was_done(tmp_path, how):
    many_jobs(tmp_path / "in", 400)
    proc = start_batch(
        "in",
        "--out-dir",
        "out",
        "--jobs",
        "2",
        "--report",
        "r.json",
        cwd=tmp_path,
        start_new_session=True,
    )
    wait_for_outputs(tmp_path / "out", 20)
    if how == "terminal-ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends: the whole process group
    else:
        proc.send_signal(signal.SIGINT if how == "sigint-to-batch" else signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # 380 jobs were still to run when the signal went: the batch cannot have finished first.
    assert proc.returncode == batch.EXIT_INTERRUPTED, err
    rows = read_report(tmp_path / "r.json")
    assert 1 <= len(rows) < 400
    outputs_are_complete(tmp_path / "out", rows)
    # A job whose output was renamed into place just before the signal may miss the report (at
    # most one per worker); every reported one is there.
    assert len(rows) <= len(list((tmp_path / "out").iterdir())) <= len(rows) + 2
    line = last_line(err)
    assert SUMMARY.match(line), err
    assert f"{len(rows)} ok, 0 failed, 0 skipped, {400 - len(rows)} not run (interrupted)" in line
    assert "Traceback" not in err
    # no worker left behind
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    # and --resume finishes the work
    done = run_batch("in", "--out-dir", "out", "--resume", "--report", "r.json", cwd=tmp_path)
    assert done.returncode == EXIT_OK
    statuses = [r["status"] for r in read_report(tmp_path / "r.json")]
    assert statuses.count("ok") + statuses.count("skipped") == 400


def _kill_a_worker_during_a_batch(folder: Path) -> tuple[subprocess.Popen, str, list[dict]]:
    proc = start_batch("in", "--out-dir", "out", "--jobs", "2", "--report", "r.json", cwd=folder)
    children: list[int] = []
    deadline = time.monotonic() + 60
    while not children and time.monotonic() < deadline:
        try:
            text = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text()
        except OSError:
            text = ""
        children = [int(pid) for pid in text.split()]
        if (folder / "out").is_dir() and children:
            break
        time.sleep(0.01)
    time.sleep(0.05)
    os.kill(children[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    return proc, err, read_report(folder / "r.json")


def test_a_worker_that_dies_fails_its_job_alone(tmp_path):
    # A worker killed in the instant between two jobs fails none: the batch replaces it and every
    # job is ok. That race is rare, so the scenario is run again (in a fresh folder) until the
    # kill lands inside a job, rather than skipped.
    for attempt in range(5):
        folder = tmp_path / f"attempt{attempt}"
        many_jobs(folder / "in", 300)
        proc, err, rows = _kill_a_worker_during_a_batch(folder)
        failed = [r for r in rows if r["status"] == "failed"]
        if failed:
            break
        assert proc.returncode == EXIT_OK, err
    else:
        raise AssertionError("five kills in a row landed between two jobs")
    assert proc.returncode == EXIT_DATA, err
    (row,) = failed
    assert row["exit"] == 128 + signal.SIGKILL
    assert row["message"] == (
        f"bridge: error: {row['input']}: the worker process running this job was killed by "
        "SIGKILL (bridge:workerDied)"
    )
    assert sum(r["status"] == "ok" for r in rows) == 299
    # No temporary file of the killed job; its output exists only if it was renamed into place
    # (complete) just before the kill.
    written = {p.name for p in (folder / "out").iterdir()}
    ok = {Path(r["output"]).name for r in rows if r["status"] == "ok"}
    assert ok <= written <= ok | {Path(row["output"]).name}
    assert last_line(err).startswith("bridge: 299 ok, 1 failed, 0 skipped")


def test_dask_is_imported_only_with_scheduler(tmp_path):
    many_jobs(tmp_path / "in", 2, size=4)
    code = (
        "import sys; from bridge._cli import main\n"
        "status = main(['batch', 'in', '--out-dir', 'out'])\n"
        "found = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "print(status, sorted(found))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cold_environment(),
        cwd=tmp_path,
        timeout=60,
    )
    assert done.stdout.strip() == "0 []", done.stderr


def test_scheduler_without_dask_exits_5(tmp_path):
    many_jobs(tmp_path / "in", 2, size=4)
    shadow = tmp_path / "shadow" / "distributed"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no distributed here')\n")
    done = run_batch(
        "in",
        "--out-dir",
        "out",
        "--scheduler",
        "tcp://127.0.0.1:1",
        cwd=tmp_path,
        env=cold_environment(shadow.parent),
    )
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "pip install 'bridge[dask]'" in done.stderr and "(bridge:pythonEnv)" in done.stderr


def test_a_scheduler_that_does_not_answer_is_a_usage_error(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    many_jobs(tmp_path / "in", 2, size=4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free: nothing listens there
    monkeypatch.setattr(batch, "CONNECT_TIMEOUT", 2.0)
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    with redirect_stderr(err):
        status = cli.main(
            ["batch", "in", "--out-dir", "out", "--scheduler", f"tcp://127.0.0.1:{port}"]
        )
    assert status == EXIT_USAGE
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err.getvalue()
    assert "(bridge:scheduler)" in err.getvalue()
    assert not (tmp_path / "out").exists()  # nothing created
