"""The job command's fast path (bridge._fastpath): Typer's parameters without Typer, and start-up.

For any argument list the fast parser either declines (Typer parses it, as before) or gives
exactly the parameters Typer gives; its option table is the Typer command's. A tiny job in a
fresh process imports neither scipy nor Typer nor h5py.
"""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import _cli as cli
from bridge import _fastpath as fastpath
from bridge._job import options as job_options
from bridge._job import outcome
from bridge.errors import EXIT_DATA, EXIT_OK, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[1]
COMMAND = typer.main.get_command(cli.job_app)
HINTS = typing.get_type_hints(cli.job, include_extras=True)


def _options():
    """option -> (parameter, choices, case-insensitive, flag, default) from the Typer command."""
    found = {}
    for param in COMMAND.params:
        if param.name in ("infile", "outfile", "more_files"):
            continue
        hint = HINTS[param.name]
        base, info = typing.get_args(hint)[0], hint.__metadata__[0]
        choices = None
        for candidate in (base, *typing.get_args(base)):
            if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
                choices = tuple(member.value for member in candidate)
        default = param.default.value if isinstance(param.default, enum.Enum) else param.default
        (option,) = param.opts
        insensitive = choices is not None and not getattr(info, "case_sensitive", True)
        found[option] = (param.name, choices, insensitive, bool(param.is_flag), default)
        assert not param.secondary_opts and not param.multiple
    return found


def test_the_option_table_is_the_typer_commands():
    table = _options()
    eager = {opt for opt, (name, *_) in table.items() if name == "version"}
    assert eager == {"--version"}  # eager options are never taken by the fast path
    del table["--version"]
    declared = {
        o.flag: (
            o.name,
            o.choices,
            o.case_insensitive and o.choices is not None,
            o.is_flag,
            o.default,
        )
        for o in job_options.JOB_OPTIONS
    }
    assert table == declared


def _typer_params(argv: list[str]) -> dict | None:
    try:
        ctx = COMMAND.make_context("bridge", list(argv))
    except Exception:  # usage errors, --help, --version: Typer's own business
        return None
    params = {k: v.value if isinstance(v, enum.Enum) else v for k, v in ctx.params.items()}
    params.pop("version")
    params["more_files"] = list(params.get("more_files") or ())  # (), [] or None by Typer version
    return params


TOKENS = [
    "in.mat", "out.mat", "OUT.MAT", "r.h5", "r.hdf5", "r.txt", "r.csv", "vars", "serve", "x",
    "u.csv", "v.dat", "A.txt",
    "--op", "--shape", "--a", "--b", "--u", "--v", "--out-var", "--mat-version", "--compress",
    "--hdf5-order", "--format", "--error-file", "--debug", "--version", "--help", "-h", "--",
    "-", "--bogus", "--compress=1", "--op=conv", "--op=CONV2", "--shape=Same", "--a=X",
    "--mat-version=7.3", "--hdf5-order=C", "conv", "conv2", "CONVN", "full", "same", "VALID",
    "ſame", "7", "7.3", "V7", "matlab", "c", "C", "mat", "hdf5", "e.txt", "", "-x", "A1", "1A",
]  # fmt: skip


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_the_fast_parser_declines_or_agrees_with_typer(argv):
    fast = fastpath.parse(argv)
    if fast is not None:
        assert fast == _typer_params(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["in.mat", "out.mat"],
        ["in.mat", "out.mat", "--error-file", "e.txt"],
        ["--op", "CONV", "in.mat", "--shape=Valid", "out.h5", "--hdf5-order", "C", "--debug"],
        ["in.txt", "out.txt", "--a", "X", "--b", "Y", "--out-var", "R", "--compress"],
        ["in.mat", "out.mat", "--mat-version", "7.3", "--format", "mat", "--shape", "same"],
        ["in.mat", "out.mat", "--shape", "full", "--shape", "same"],
        ["A.csv", "B.csv", "OUT.csv", "--op", "conv2", "--shape", "same"],
        ["u.txt", "v.dat", "A.csv", "out.mat"],
    ],
)
def test_plain_jobs_take_the_fast_path(argv):
    params = fastpath.parse(argv)
    assert params is not None and params == _typer_params(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["in.mat"],
        ["in.mat", "out.mat", "extra.mat", "more.mat", "out2.mat"],
        ["--help"],
        ["in.mat", "out.mat", "--version"],
        ["vars", "in.mat"],
        ["in.mat", "out.mat", "--shape", "x"],
        ["in.mat", "out.mat", "--shape"],
        ["in.mat", "out.mat", "--mat-version", "7.3 "],
        ["in.mat", "out.mat", "--compress=yes"],
        ["in.mat", "out.mat", "--a", "--b"],
        ["in.mat", "out.xyz", "--format", "mat"],
        ["in.mat", "--", "out.mat"],
    ],
)
def test_everything_else_goes_to_typer(argv):
    assert fastpath.parse(argv) is None


def test_a_declined_job_still_runs_through_typer(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "in.mat", {"A": np.eye(2), "B": np.ones((1, 1))})
    status = cli.main([str(tmp_path / "in.mat"), str(tmp_path / "out.data"), "--format", "mat"])
    assert status == EXIT_OK
    assert np.array_equal(scipy.io.loadmat(tmp_path / "out.data", appendmat=False)["C"], np.eye(2))


def test_fast_and_typer_paths_fail_alike(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "in.mat", {"u": np.ones((2, 2)), "v": np.ones((1, 2))})
    argv = [str(tmp_path / "in.mat"), str(tmp_path / "out.mat"), "--op", "conv"]
    fast = fastpath.main(argv), capsys.readouterr().err
    # the same job through the Typer command (what main() did before the fast path)
    slow = _typer_run(argv), capsys.readouterr().err
    assert (
        fast == slow and fast[0] == EXIT_DATA and fast[1].endswith("(MATLAB:conv:AorBNotVector)\n")
    )


def _typer_run(argv: list[str]) -> int:
    try:
        COMMAND.main(args=argv, prog_name="bridge", standalone_mode=False)
    except Exception as err:
        return outcome.report_error(err, None, False)
    return EXIT_OK


# --- start-up in a fresh process ----------------------------------------------------------------

HEAVY = {"scipy", "typer", "h5py", "pydantic", "rich", "click"}


def _imports(args: list[str], tmp_path: Path, script: list[str] | None = None):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *(script or ["-m", "bridge"]), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        timeout=60,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return done, imported


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize(
    "options", [[], ["--error-file", "e.txt"], ["--compress", "--shape", "same", "--op", "conv2"]]
)
def test_a_tiny_job_imports_neither_scipy_nor_typer_nor_h5py(tmp_path, compressed, options):
    a, b = np.arange(64.0).reshape(8, 8), np.ones((3, 3))
    scipy.io.savemat(tmp_path / "in.mat", {"A": a, "B": b}, do_compression=compressed)
    done, imported = _imports(["in.mat", "out.mat", *options], tmp_path)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    assert "numpy" in imported  # the measurement works
    assert not imported & HEAVY
    shape = "same" if "same" in options else "full"
    expected = _conv2(a, b, shape)
    assert np.array_equal(scipy.io.loadmat(tmp_path / "out.mat")["C"], expected)


def _conv2(a: np.ndarray, b: np.ndarray, shape: str) -> np.ndarray:
    full = np.zeros((a.shape[0] + b.shape[0] - 1, a.shape[1] + b.shape[1] - 1))
    for i, j in np.ndindex(b.shape):
        full[i : i + a.shape[0], j : j + a.shape[1]] += b[i, j] * a
    if shape == "same":  # MATLAB's central part: from ceil((size(b) - 1) / 2)
        r, c = b.shape[0] // 2, b.shape[1] // 2
        return full[r : r + a.shape[0], c : c + a.shape[1]]
    return full


@pytest.mark.slow
def test_a_failing_tiny_job_imports_no_typer_either(tmp_path):
    scipy.io.savemat(tmp_path / "in.mat", {"u": np.ones((2, 2)), "v": np.ones((1, 2))})
    done, imported = _imports(["in.mat", "out.mat", "--op", "conv"], tmp_path)
    assert done.returncode == EXIT_DATA
    assert done.stderr.splitlines()[-1].endswith("(MATLAB:conv:AorBNotVector)")
    assert not imported & HEAVY


@pytest.mark.slow
def test_help_still_works_through_typer(tmp_path):
    done, imported = _imports(["--help"], tmp_path)
    assert done.returncode == EXIT_OK
    assert done.stdout.startswith("Usage: bridge [OPTIONS]") and "Exit status:" in done.stdout
    assert "typer" in imported


@pytest.mark.slow
def test_a_usage_error_still_gets_typers_message(tmp_path):
    done, _ = _imports(["in.mat", "out.mat", "--shape", "round"], tmp_path)
    assert done.returncode == EXIT_USAGE
    assert "'round' is not one of" in done.stderr and "(bridge:usage)" in done.stderr
