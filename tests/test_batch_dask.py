"""``bridge batch --scheduler``: the jobs as tasks on a real Dask cluster that the test starts (a
``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, in another folder than the
batch's), with outputs and error lines equal to the single-job command's and both workers in the
report.

Skipped without dask.distributed (``pip install -e '.[dask]'``), except in CI
(BRIDGE_REQUIRE_OCTAVE, which .ci/run sets, requires every optional test dependency): there it
fails.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bridge.errors import EXIT_DATA, EXIT_OK
from tests.octave import octave_required
from tests.processes import cold_environment, start_batch, wait_for_outputs
from tests.test_batch import (
    SUMMARY,
    assert_same_file,
    last_line,
    read_report,
    run_batch,
    single,
    write_jobs,
)

pytestmark = pytest.mark.slow  # a Dask scheduler and workers
WORKERS = 2


def _require_distributed():
    try:
        import distributed
    except ImportError:
        if octave_required():
            pytest.fail("dask.distributed is missing (pip install -e '.[dask]') in CI")
        pytest.skip("dask.distributed is not installed (pip install -e '.[dask]')")
    return distributed


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler's address and its workers' addresses, once both workers have joined;
    everything stopped afterwards. Logs in the fixture's folder."""
    distributed = _require_distributed()
    folder = tmp_path_factory.mktemp("dask")
    elsewhere = tmp_path_factory.mktemp("dask-workers-cwd")
    scheduler_file = folder / "scheduler.json"
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    scheduler = ["scheduler", "--port", "0", "--scheduler-file", str(scheduler_file), *common]
    worker = ["worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", *common]
    procs = []

    def start(args, log):
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=cold_environment(),
                cwd=elsewhere,
            )
        )

    with open(folder / "cluster.log", "w") as log:
        try:
            start(scheduler, log)
            deadline = time.monotonic() + 60
            while not scheduler_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            for _ in range(WORKERS):
                start(worker, log)
            with distributed.Client(scheduler_file=str(scheduler_file), timeout=60) as client:
                client.wait_for_workers(WORKERS, timeout=90)
                address = client.scheduler.address
                workers = sorted(client.scheduler_info()["workers"])
            yield address, workers
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in reversed(procs):
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_jobs_run_on_both_workers_with_the_single_jobs_outputs(cluster, tmp_path, monkeypatch):
    address, workers = cluster
    monkeypatch.chdir(tmp_path)
    expected = write_jobs(tmp_path / "jobs")
    rng = np.random.default_rng(3)
    for k in range(40):  # enough work for both workers
        scipy.io.savemat(
            tmp_path / "jobs" / f"more{k:02d}.mat",
            {"A": rng.random((96, 96)), "B": rng.random((9, 9))},
        )
        expected[f"more{k:02d}.mat"] = True
    done = run_batch(
        "jobs",
        "--out-dir",
        "out",
        "--report",
        "r.csv",
        "--scheduler",
        address,
        "--shape",
        "same",
        cwd=tmp_path,
    )
    assert done.returncode == EXIT_DATA, done.stderr  # the three bad jobs
    assert SUMMARY.match(last_line(done.stderr))
    assert last_line(done.stderr).startswith(f"bridge: {len(expected) - 3} ok, 3 failed, 0 skipped")
    rows = read_report(tmp_path / "r.csv")
    assert len(rows) == len(expected)
    (tmp_path / "single").mkdir()
    used = collections.Counter(row["worker"] for row in rows)
    assert sorted(used) == workers, used  # both workers ran jobs, and only they did
    for row in rows:
        infile = Path(row["input"])
        status, line = single(infile, Path("single") / infile.name, ["--shape", "same"])
        assert (row["exit"], row["message"]) == (status, line)
        if status == EXIT_OK:
            assert expected[infile.name] and row["status"] == "ok"
            assert_same_file(tmp_path / row["output"], tmp_path / "single" / infile.name)
        else:
            assert not expected[infile.name] and row["status"] == "failed"
            assert not (tmp_path / row["output"]).exists()


def test_resume_on_the_cluster(cluster, tmp_path):
    address, workers = cluster
    write_jobs(tmp_path / "jobs")
    for path in (tmp_path / "jobs").glob("[xyz]_*"):
        path.unlink()  # good jobs only
    first = run_batch(
        "jobs", "--out-dir", "out", "--scheduler", address, "--report", "a.json", cwd=tmp_path
    )
    assert first.returncode == EXIT_OK, first.stderr
    assert {r["worker"] for r in read_report(tmp_path / "a.json")} <= set(workers)
    (tmp_path / "out" / "a_conv2.mat").unlink()
    again = run_batch(
        "jobs",
        "--out-dir",
        "out",
        "--scheduler",
        address,
        "--resume",
        "--report",
        "b.json",
        cwd=tmp_path,
    )
    assert again.returncode == EXIT_OK, again.stderr
    rows = {Path(r["input"]).name: r for r in read_report(tmp_path / "b.json")}
    assert rows.pop("a_conv2.mat")["worker"] in workers
    assert {r["status"] for r in rows.values()} == {"skipped"}


def test_ctrl_c_cancels_the_queued_tasks(cluster, tmp_path):
    import signal

    from tests.test_batch import many_jobs, outputs_are_complete

    address, _ = cluster
    many_jobs(tmp_path / "in", 300)
    proc = start_batch(
        "in", "--out-dir", "out", "--scheduler", address, "--report", "r.json", cwd=tmp_path
    )
    out = tmp_path / "out"
    wait_for_outputs(out, 10)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # 290 tasks were still to run when the signal went: the batch cannot have finished first.
    assert proc.returncode == 130, err
    rows = read_report(tmp_path / "r.json")
    assert 1 <= len(rows) < 300
    assert f"{len(rows)} ok, 0 failed, 0 skipped, {300 - len(rows)} not run (interrupted)" in (
        last_line(err)
    )
    time.sleep(2)  # tasks that were running when it stopped finish on the workers
    outputs_are_complete(out, rows)
    assert len(list(out.iterdir())) < 300  # the queued ones were cancelled
