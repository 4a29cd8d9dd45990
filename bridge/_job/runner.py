"""One job, however it arrived: a :class:`Request`, checked, read, computed and written.

Every front door turns its input into a :class:`Request` (the command line's options, a warm
worker's forwarded arguments, a batch row) and calls :func:`run`; :func:`run_captured` is the
same for callers that run many jobs and want the status and line instead of an exception.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from bridge._job import process
from bridge._job.operations import SETTINGS, Setting
from bridge._job.options import MAX_FILES
from bridge.errors import (
    EXIT_OK,
    BridgeError,
    FileFormatError,
    OutputError,
    UsageError,
)

if TYPE_CHECKING:
    import numpy as np

    from bridge._job.files import Job
    from bridge._job.progress import Lines


@dataclass
class Request:
    """What one job asks for: its files (the operand files or the job file, then OUT), the
    operation and settings that override the job file's, the operands' names, and the output.

    ``settings`` maps a setting's name (``shape``, ``padding``, ...) to its value: text as the
    command line gives it, or a value already parsed (:func:`parse_setting`).
    """

    files: list[str]
    op: str | None = None
    settings: dict[str, object] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # role flag (a, b, u, v, h, x) -> name
    out_var: str = "C"
    mat_version: str = "7"
    compress: bool = False
    hdf5_order: str | None = None
    fmt: str | None = None
    max_memory: str | None = None
    error_file: str | None = None
    debug: bool = False
    # Say on stderr how long a long in-memory computation has taken (the command line's single
    # job; never a batch's, whose stderr is shared), or on ``progress_stream``: a warm worker's
    # job captures its stderr, and sends the lines to its client as they come.
    progress: bool = False
    progress_stream: TextIO | Lines | None = None

    @classmethod
    def from_params(cls, params: dict) -> Request:
        """A request from the parameters of :data:`bridge._job.options.JOB_OPTIONS` (``infile``,
        ``outfile`` and ``more_files`` give the files)."""
        from bridge._job.options import ROLE_FLAGS

        files = [params["infile"], params["outfile"], *(params.get("more_files") or ())]
        settings = {
            name: parse_setting(SETTINGS[name], params[name])
            for name in SETTINGS
            if params.get(name) is not None
        }
        names = {role: params[role] for role in ROLE_FLAGS if params.get(role)}
        return cls(
            files=files,
            op=params.get("op"),
            settings=settings,
            names=names,
            out_var=params.get("out_var") or "C",
            mat_version=params.get("mat_version") or "7",
            compress=bool(params.get("compress")),
            hdf5_order=params.get("hdf5_order"),
            fmt=params.get("fmt"),
            max_memory=params.get("max_memory"),
            error_file=params.get("error_file"),
            debug=bool(params.get("debug")),
        )

    @property
    def inputs(self) -> list[str]:
        return self.files[:-1]

    @property
    def outfile(self) -> str:
        return self.files[-1]


# A number as the command line writes it (re caches the pattern at its first use).
HEARTBEAT_WORK = 1 << 26  # about 0.1 s of the slowest sum: below it a job is never long

_NUMBER = r"(?i)\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\Z|\s*[-+]?(inf|nan)\s*\Z"


def parse_setting(setting: Setting, value: object) -> object:
    """A setting's command-line text as the job's value: numbers for numeric settings
    ('2' or '1.5,2'), a number or text for text-or-number ones, lower-case text for choices."""
    if not isinstance(value, str):
        return value
    if setting.numeric:
        parts = value.split(",")
        if not all(re.match(_NUMBER, p) for p in parts):
            raise UsageError(f"{setting.flag} must be a number or numbers separated by commas")
        numbers = [float(p) for p in parts]
        return numbers[0] if len(numbers) == 1 else numbers
    if setting.text_or_number and re.match(_NUMBER, value):
        return float(value)
    if setting.choices is not None:
        return value.lower()
    return value


def run(request: Request) -> None:
    """Run one job: check the request, read the operands (or stream the job), compute, write.

    ``bridge IN OUT`` arrives as files (IN, OUT); ``bridge A B OUT`` and ``bridge u v A OUT``
    bring one operand per file: the last file is OUT, the others hold one operand each.
    """
    inputs, outfile = request.inputs, request.outfile
    for name in (*request.names.values(), request.out_var):
        check_identifier(name)
    if len(inputs) > 1 and request.names:
        raise UsageError(
            "--a/--b/--u/--v name variables inside one job file; with a file per operand, "
            "the order of the files gives the roles (A B, u v, or u v A)"
        )
    if len(inputs) > MAX_FILES - 1:
        raise UsageError(
            f"{len(inputs)} input files given; a job takes IN OUT, or one file per operand: "
            "A B OUT, u v OUT or u v A OUT"
        )
    for path in inputs:
        check_paths(path, outfile)
    import_numeric_stack()
    from bridge import _formats as formats
    from bridge._job import compute, files, memory

    fmt = request.fmt
    formats.check_output(outfile, fmt, request.mat_version)
    limit = memory.budget(request.max_memory)
    # Every read of IN has a deadline, and stop signals end the job even while a read is stuck in
    # C code (bridge._job.process.read_guard); so does streaming, without the deadline.

    def guard(deadline: bool = True) -> contextlib.AbstractContextManager[None]:
        return process.read_guard(
            inputs, error_file=request.error_file, protect=request.files, deadline=deadline
        )

    if len(inputs) > 1:
        with guard():
            job = files.load_files(
                inputs, op=request.op, settings=request.settings, hdf5_order=request.hdf5_order
            )
        if fmt is None and job.headerless and os.path.splitext(outfile)[1].lower() == ".txt":
            fmt = "ascii"  # headerless in, headerless out: load -ascii, dlmread, readmatrix
    else:
        (infile,) = inputs
        with phase(FileFormatError, infile), guard():
            job = files.load_job(
                infile,
                op=request.op,
                settings=request.settings,
                names=request.names or None,
                hdf5_order=request.hdf5_order,
                read=False,
            )
            # Sizes come from the headers: check what the job costs before reading or allocating.
            plan = None
            sizes = [tuple(int(d) for d in v.size) for _, v in job.variables]
            if not memory.obviously_fits(sizes, limit):
                from bridge._job import stream  # the planner: only for jobs that may not fit

                plan = stream.plan_job(
                    job,
                    outfile,
                    limit,
                    fmt=fmt,
                    mat_version=request.mat_version,
                    hdf5_order=request.hdf5_order,
                )
        if plan is not None:
            with guard(deadline=False):
                stream.run(
                    plan,
                    outfile,
                    out_var=request.out_var,
                    compress=request.compress,
                    hdf5_order=request.hdf5_order,
                )
            return
        with phase(FileFormatError, infile), guard():
            job.read_operands()
    if request.progress:
        result = compute_reported(job, request.progress_stream)
    else:
        result = compute.compute(job)
    with phase(OutputError, outfile):
        files.save_result(
            outfile,
            result,
            out_var=request.out_var,
            fmt=fmt,
            mat_version=request.mat_version,
            compress=request.compress,
            hdf5_order=request.hdf5_order or "matlab",
        )


def compute_reported(job: Job, stream: TextIO | Lines | None = None) -> np.ndarray:
    """The job's result, saying every few seconds on ``stream`` (default stderr) how long the
    computation has taken so far: the one progress of an in-memory job, whichever front door
    (the command line, a warm worker's file or memory job) it came through."""
    from bridge._job import compute, files

    # No heartbeat for a job that cannot take seconds (a thread per tiny job is start-up time):
    # fewer multiply-adds than HEARTBEAT_WORK, however the operands combine.
    work = math.prod(math.prod(array.shape) for _, array in job.operands) if job.operands else 0
    if work <= HEARTBEAT_WORK:
        return compute.compute(job)
    from bridge._job.progress import heartbeat

    with heartbeat(f"computing {files.call_text(job)}", stream):
        return compute.compute(job)


def run_captured(request: Request) -> tuple[int, str]:
    """Run one job for a caller that runs many (bridge batch): its exit status and the one-line
    error a single job would report ('' on success). Thread-safe: the line is returned, not
    printed; with ``debug`` the traceback goes to stderr."""
    from bridge._job import outcome

    try:
        run(request)
    except Exception as err:
        if request.debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        status, text = outcome.status_and_text(err)
        return status, outcome.error_line(text)
    return EXIT_OK, ""


_IDENTIFIER = r"[A-Za-z][A-Za-z0-9_]{0,62}\Z"  # a MATLAB variable name


def check_identifier(name: str) -> None:
    """MATLAB's load() rejects names that are not identifiers or are longer than 63 characters."""
    if len(name) > 63 and re.match(_IDENTIFIER, name[:63]):
        msg = f"'{name}' has {len(name)} characters; MATLAB variable names have at most 63"
        raise UsageError(msg)
    if not re.match(_IDENTIFIER, name):
        msg = f"'{name}' is not a MATLAB variable name (a letter, then letters, digits or _)"
        raise UsageError(msg)


def check_paths(infile: str, outfile: str) -> None:
    """Fail before any computation on what the file system already tells."""
    if not os.path.isfile(infile):
        if os.path.isdir(infile):
            what = "is a folder, not a file"
        elif os.path.exists(infile):
            what = "is not a regular file (a device, FIFO or socket)"
        else:
            what = "does not exist"
        raise FileFormatError(f"the input file {what}", file=infile, identifier="bridge:noInput")
    if os.path.isdir(outfile):
        raise OutputError("the output is a folder; give a file name", file=outfile)
    folder = os.path.dirname(os.path.abspath(outfile))
    if not os.path.isdir(folder):
        raise OutputError(f"the output folder {folder} does not exist", file=outfile)
    # The same file through another name, a symbolic or a hard link: never overwrite IN.
    if os.path.exists(outfile) and os.path.samefile(infile, outfile):
        raise UsageError("OUT is the same file as IN; IN is never overwritten", file=outfile)
    if os.path.exists(outfile) and _read_only(outfile):
        msg = "the output file is read-only; make it writable or choose another name"
        raise OutputError(msg, file=outfile)


def _read_only(path: str) -> bool:
    """A file without write permission (0444), even for root, who may write anything: MATLAB's
    save refuses to replace one, and so does bridge."""
    mode = os.stat(path).st_mode
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def import_numeric_stack() -> None:
    """numpy is needed by every job; importing it first turns a missing or broken numpy into
    exit 5 before anything else (scipy and h5py are imported where used, classified by
    :func:`bridge._job.outcome.status_and_text`)."""
    import numpy  # noqa: F401


@contextlib.contextmanager
def phase(error: type[BridgeError], path: str) -> Iterator[None]:
    """Name ``path`` in errors of one phase (reading IN, writing OUT); a stray OSError becomes
    that phase's error, so that its exit status says which side failed."""
    try:
        yield
    except BridgeError as err:
        err.where(file=path)
        raise
    except OSError as err:
        raise error(err.strerror or str(err), file=path) from err


__all__ = [
    "Request",
    "check_identifier",
    "check_paths",
    "compute_reported",
    "import_numeric_stack",
    "parse_setting",
    "phase",
    "run",
    "run_captured",
]
