"""The job command ``bridge IN OUT [options]`` without Typer: the fast path of every MATLAB call.

Typer builds its command (pydantic adapters for every parameter) in about as long as a small
job's whole work. :func:`main` recognises a plain job invocation, ``IN OUT`` and the job's
options (:data:`bridge._job.options.JOB_OPTIONS`, the table the Typer command is built from) with
valid values, and runs it as a :class:`bridge._job.runner.Request` with the same error lines and
exit statuses. It declines (returns ``None``) on anything else: ``--help``, ``--version``,
subcommands, unknown or malformed options, missing or extra arguments, values Typer might read
differently. Those go to Typer, so every usage message stays Typer's. tests/test_fastpath.py
checks that for any argument list this parser either declines or gives exactly the parameters
Typer gives.

This module imports nothing heavy: numpy and the formats come with the job.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

from bridge._job import outcome, process, runner
from bridge._job.options import EXTENSIONS, JOB_OPTIONS, MAX_FILES, scan
from bridge.errors import EXIT_OK

if TYPE_CHECKING:
    from bridge._job.progress import Lines


def parse(argv: list[str]) -> dict | None:
    """The job's parameters (``infile``, ``outfile``, ``more_files`` and the options' names),
    or None: ask Typer. The files are taken as the Typer command takes them: the first two,
    then the rest (the last one is OUT)."""
    scanned = scan(argv, JOB_OPTIONS)
    if scanned is None:
        return None
    params, positional = scanned
    if not 2 <= len(positional) <= MAX_FILES:
        return None
    # A job's files have a format's extension; anything else (a subcommand's name, a file whose
    # error message Typer's path words) is left to Typer.
    if not all(os.path.splitext(path)[1].lower() in EXTENSIONS for path in positional):
        return None
    params["infile"], params["outfile"], *params["more_files"] = positional
    return params


def request(argv: list[str]) -> runner.Request | None:
    """The job request of a plain job invocation, or None (see :func:`parse`)."""
    params = parse(argv)
    return None if params is None else runner.Request.from_params(params)


def main(argv: list[str], *, leave: bool = False) -> int | None:
    """Run a plain job invocation and return its exit status; None if Typer must parse ``argv``.

    ``leave``: the process was started for this one job (``python -m bridge``, the MATLAB
    worker), so once the job has ended it exits with the status at once (:func:`leave_now`)."""
    if argv[:1] == ["batch"]:  # bridge batch: its own fast path, as plain as a job's
        process.import_numpy_with_signals_held()
        from bridge import _batch as batch

        return batch.main(argv[1:])
    params = parse(argv)
    if params is None:
        return None
    status = run_reported(params, progress=True)
    if leave:
        leave_now(status)
    return status


def leave_now(status: int) -> None:
    """End a one-job process with ``status``, skipping the interpreter's teardown.

    The job's output is already complete: written, synced and renamed into place, or not there
    at all, and its error line or file written. What the interpreter would still do is unload
    numpy and every other module one by one, and that teardown is a sizeable part of a tiny
    job's whole time (BENCHMARKS.md, the cold tiny job). Only the standard streams hold data yet
    to be written, so they are flushed first. Never used for batch (its workers and pools end
    in their own shutdown), serve, or a program that imports bridge.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing can reach it
            stream.flush()
    os._exit(status)


def run_reported(
    params: dict, *, progress: bool = False, progress_stream: Lines | None = None
) -> int:
    """Run a job from its parameters, reporting an error as the command line does (one line on
    stderr or in the error file); its exit status. ``progress``: a long computation says so on
    stderr, or on ``progress_stream`` (:attr:`bridge._job.runner.Request.progress`)."""
    error_file, debug = params.get("error_file"), bool(params.get("debug"))
    outcome.set_job_paths(params["infile"], params["outfile"])
    try:
        with process.signals_raise():
            process.import_numpy_with_signals_held()
            request = runner.Request.from_params(params)
            request.progress = progress
            request.progress_stream = progress_stream
            runner.run(request)
        return EXIT_OK
    except KeyboardInterrupt as err:
        return outcome.report_interrupt(err, error_file, debug)
    except Exception as err:
        return outcome.report_error(err, error_file, debug)
    finally:
        outcome.set_job_paths()
