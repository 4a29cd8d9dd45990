"""How a job ends, in one place: its exit status and its one-line message.

Every front door (the command line, the fast path, the warm worker's job processes, batch
workers) reports a job's error through :func:`status_and_text` and :func:`report`, so that a job
fails with the same status and line wherever it runs. The statuses are those of
:mod:`bridge.errors`, documented in the README.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    BridgeError,
)

PROG = "bridge"

# Packages whose absence or breakage is the interpreter's fault, not bridge's (exit 5).
NUMERIC_STACK = ("numpy", "scipy", "h5py")

# IN and OUT of the job this thread runs (a warm server may run several): the error file never
# replaces them.
_job = threading.local()


def set_job_paths(*paths: str) -> None:
    """Name IN and OUT of the job this thread runs, which an error file never replaces."""
    _job.paths = paths


def flag_names() -> dict[str, str]:
    """Argument -> its command-line flag, for errors that name arguments (``{max_memory}``)."""
    from bridge._job.options import BATCH_OPTIONS, JOB_OPTIONS

    return {option.name: option.flag for option in (*JOB_OPTIONS, *BATCH_OPTIONS)}


def report_interrupt(err: KeyboardInterrupt, error_file: str | None, debug: bool) -> int:
    """Report Ctrl-C (130), SIGTERM (143) or SIGHUP (129) in one line; the exit status."""
    signum = getattr(err, "signum", None)
    if signum is None:
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # after the terminal's ^C, as click does; a pipe gets one line
        report("interrupted (bridge:interrupted)", error_file, debug)
        return EXIT_SIGINT

    name = signal.Signals(signum).name
    report(f"stopped by {name}; no output was written (bridge:interrupted)", error_file, debug)
    return {"SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}.get(name, 128 + signum)


def report_error(err: Exception, error_file: str | None, debug: bool) -> int:
    """Report a job's error in one line; its exit status (BridgeError, environment, internal)."""
    status, text = status_and_text(err)
    report(text, error_file, debug)
    return status


def status_and_text(err: Exception) -> tuple[int, str]:
    """The exit status of a job's error and the text of its line."""
    if isinstance(err, BridgeError):
        return err.exit_code, err.text(flag_names())
    if isinstance(err, MemoryError):
        text = (
            f"out of memory ({one_line(err)}); set --max-memory below what this machine "
            "can give, so that large jobs stream or are refused before they start "
            "(bridge:outOfMemory)"
        )
        return EXIT_DATA, text
    module = numeric_stack_module(err)
    if module:
        text = (
            f"cannot import {module} ({one_line(err)}) in the Python at {sys.executable}; "
            f"install numpy, scipy and h5py there or choose another Python (bridge:pythonEnv)"
        )
        return EXIT_ENVIRONMENT, text
    text = (
        f"internal error: {type(err).__name__}: {one_line(err)}; "
        "run with --debug for the traceback (bridge:internal)"
    )
    return EXIT_INTERNAL, text


def numeric_stack_module(err: BaseException) -> str | None:
    """The numpy/scipy/h5py module that failed to import, if that is what ``err`` is."""
    if not isinstance(err, ImportError):
        return None
    top = (err.name or "").split(".")[0]
    if top in NUMERIC_STACK:
        return top
    import traceback

    # A broken install fails inside the package (a missing shared library, a bad build).
    for frame, _ in traceback.walk_tb(err.__traceback__):
        top = str(frame.f_globals.get("__name__", "")).split(".")[0]
        if top in NUMERIC_STACK:
            return top
    return None


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def error_line(text: str) -> str:
    return printable(f"{PROG}: error: {' '.join(text.split())}")


def report(text: str, error_file: str | None, debug: bool) -> None:
    line = error_line(text) + "\n"
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    if error_file and write_error_file(error_file, line):
        return
    sys.stderr.write(line)  # fall back to stderr: the message must reach someone
    sys.stderr.flush()


def printable(text: str) -> str:
    """``text`` encodable as UTF-8: bytes that were undecodable (a file name that is not UTF-8,
    kept by Python as lone surrogates) are written as escapes such as \\xff."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


ERROR_FILE_MARK = f"{PROG}: error:".encode()


def write_error_file(path: str, line: str) -> bool:
    """Write the error line to ``path``; False (the caller prints it) where it must not.

    The rule: the error file is created new, or replaces only an empty file or an earlier error
    file (one that starts with 'bridge: error:'), and never IN or OUT, whatever the name.
    """
    try:
        for other in getattr(_job, "paths", ()):
            if os.path.abspath(other) == os.path.abspath(path) or (
                os.path.exists(other) and os.path.exists(path) and os.path.samefile(other, path)
            ):
                return False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
            import stat

            head = os.read(fd, len(ERROR_FILE_MARK))
            if not stat.S_ISREG(os.fstat(fd).st_mode) or head not in (b"", ERROR_FILE_MARK):
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(line)
        return True
    except OSError:
        return False
