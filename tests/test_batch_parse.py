"""``bridge batch``'s command line: the fast parser (bridge._batch.parse, no Typer) either declines
or gives exactly the parameters of the Typer command (bridge._cli.batch), whose options are the
batch's own plus every option of the job command; ``python -m bridge batch`` imports no Typer.
"""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import _batch as batch
from bridge import _cli as cli
from bridge._job.options import BATCH_OPTIONS
from tests.processes import cold_environment

COMMAND = typer.main.get_command(cli.batch_app)


def _typer_params(argv: list[str]) -> dict | None:
    try:
        ctx = COMMAND.make_context("bridge batch", list(argv))
    except Exception:  # usage errors and --help: Typer's own business
        return None
    values = {k: v.value if isinstance(v, enum.Enum) else v for k, v in ctx.params.items()}
    own = ["job_files", *(option.name for option in BATCH_OPTIONS)]
    return {
        **{k: values.pop(k) for k in own},
        "job_options": values,
    }


def test_the_batch_takes_every_option_of_the_job_command():
    job = typer.main.get_command(cli.job_app)
    files = ("infile", "outfile", "more_files", "version")
    job_opts = {p.opts[0] for p in job.params if p.name not in files}
    batch_opts = {p.opts[0] for p in COMMAND.params if p.opts[0].startswith("--")}
    assert batch_opts == job_opts | {o.flag for o in BATCH_OPTIONS}
    params = inspect.signature(cli.batch).parameters
    for option in BATCH_OPTIONS:
        assert params[option.name].default in (option.default, inspect.Parameter.empty)


TOKENS = [
    "a.mat", "b.h5", "dir", "d/*.mat", "batch", "--out-dir", "out", "--out-dir=o", "--jobs",
    "2", "0", "007", "-1", "x", "--jobs=3", "--report", "r.csv", "--resume", "--resume=1",
    "--scheduler", "tcp://h:8786", "--to", "TXT", "h5", "xls", "--to=Mat", "--recursive",
    "--op", "conv2", "--shape", "SAME", "--out-var", "R", "--compress", "--debug",
    "--error-file", "e.txt", "--mat-version", "7.3", "--hdf5-order", "c", "--format", "mat",
    "--bogus", "--help", "-h", "--", "-", "", "٣", "ſame",
]  # fmt: skip


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=10))
def test_the_fast_parser_declines_or_agrees_with_typer(argv):
    fast = batch.parse(argv)
    if fast is not None:
        assert fast == _typer_params(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["jobs", "--out-dir", "out"],
        ["a.mat", "b.txt", "--out-dir=out", "--jobs", "2", "--report", "r.json", "--resume"],
        [
            "d/*.mat",
            "--out-dir",
            "o",
            "--to",
            "TXT",
            "--recursive",
            "--shape",
            "same",
            "--out-var",
            "R",
            "--compress",
            "--error-file",
            "e.txt",
            "--debug",
        ],
        ["a.mat", "--out-dir", "o", "--scheduler", "tcp://127.0.0.1:8786", "--mat-version", "7.3"],
    ],
)
def test_plain_batches_take_the_fast_path(argv):
    params = batch.parse(argv)
    assert params is not None and params == _typer_params(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["a.mat"],
        ["--out-dir", "out"],
        ["a.mat", "--out-dir", "out", "--help"],
        ["a.mat", "--out-dir", "out", "--jobs", "0"],
        ["a.mat", "--out-dir", "out", "--jobs", "two"],
        ["a.mat", "--out-dir", "out", "--to", "xls"],
        ["a.mat", "--out-dir", "out", "--bogus"],
        ["a.mat", "--out-dir"],
    ],
)
def test_everything_else_goes_to_typer(argv):
    assert batch.parse(argv) is None


@pytest.mark.slow
def test_a_batch_process_imports_no_typer(tmp_path):
    code = (
        "import runpy, sys\n"
        "sys.argv = ['bridge', 'batch', 'none', '--out-dir', 'out', '--error-file', 'e.txt']\n"
        "try:\n"
        "    runpy.run_module('bridge', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, 'typer' in sys.modules, 'click' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cold_environment(),
        cwd=tmp_path,
        timeout=60,
    )
    assert done.stdout.split() == ["2", "False", "False"], done.stderr
    assert "none: no such file or folder" in (tmp_path / "e.txt").read_text()


@pytest.mark.slow
def test_the_typer_command_runs_the_same_batch(tmp_path, monkeypatch, capsys):
    import numpy as np
    import scipy.io

    for name in ("a", "b"):
        scipy.io.savemat(tmp_path / f"{name}.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
    monkeypatch.chdir(tmp_path)
    argv = ["a.mat", "b.mat", "--shape", "same", "--report", "r.json"]
    fast = batch.main([*argv, "--out-dir", "fast"])
    try:
        typer_status = COMMAND.main([*argv, "--out-dir", "typer"], standalone_mode=False)
    except SystemExit as exit:  # typer.Exit, as click reports it
        typer_status = exit.code
    assert fast == typer_status == 0
    for name in ("a.mat", "b.mat"):
        got = scipy.io.loadmat(tmp_path / "typer" / name)["C"]
        assert np.array_equal(got, scipy.io.loadmat(tmp_path / "fast" / name)["C"])
        assert got.shape == (3, 3)
