"""The job command ``bridge IN OUT [options]`` without Typer: the fast path of every MATLAB call.

Typer builds its command (pydantic adapters for every parameter) in about 0.15 s, more than a
small job's whole work. :func:`main` recognises a plain job invocation, ``IN OUT`` and the job's
documented options with valid values, parses it with the option table below and runs the job with
the same code, error lines and exit statuses as the Typer command (:func:`bridge.cli.job`). It
declines (returns ``None``) on anything else: ``--help``, ``--version``, subcommands, unknown or
malformed options, missing or extra arguments, values Typer might read differently. Those go to
Typer, so every usage message stays Typer's. tests/test_jobcli.py checks that for any argument
list this parser either declines or gives exactly the parameters Typer gives, and that the table
is the Typer command's.

This module imports nothing heavy: numpy and the formats come with the job.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator

from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    BridgeError,
    FileFormatError,
    Interrupted,
    OutputError,
    UsageError,
)
from bridge.signals import ASYNC_SIGNALS

PROG = "bridge"

# Packages whose absence or breakage is the interpreter's fault, not bridge's (exit 5).
NUMERIC_STACK = ("numpy", "scipy", "h5py")

# The job command's options, as bridge.cli.job declares them: option -> (parameter, choices,
# case-insensitive). choices None: any text. Flags take no value.
JOB_OPTIONS: dict[str, tuple[str, tuple[str, ...] | None, bool]] = {
    "--op": ("op", ("conv", "conv2", "convn"), True),
    "--shape": ("shape", ("full", "same", "valid"), True),
    "--a": ("a", None, False),
    "--b": ("b", None, False),
    "--u": ("u", None, False),
    "--v": ("v", None, False),
    "--out-var": ("out_var", None, False),
    "--mat-version": ("mat_version", ("7", "7.3"), False),
    "--hdf5-order": ("hdf5_order", ("matlab", "c"), True),
    "--format": ("fmt", None, False),
    "--error-file": ("error_file", None, False),
    "--max-memory": ("max_memory", None, False),
}
# bridge.formats.FORMATS, without importing it
_EXTENSIONS = (".mat", ".h5", ".hdf5", ".txt", ".csv", ".dat")
MAX_FILES = 4  # IN OUT, A B OUT, u v A OUT (bridge.jobs.MAX_OPERAND_FILES + 1)
JOB_FLAGS = {"--compress": "compress", "--debug": "debug"}
JOB_DEFAULTS = {
    "op": None,
    "shape": None,
    "a": None,
    "b": None,
    "u": None,
    "v": None,
    "out_var": "C",
    "mat_version": "7",
    "compress": False,
    "hdf5_order": None,
    "fmt": None,
    "error_file": None,
    "debug": False,
    "max_memory": None,
}


def scan(argv: list[str], options: dict, flags: dict, defaults: dict):
    """(parameters, positional arguments) of ``argv`` read with an option table (JOB_OPTIONS'
    form) and flags, or None for anything Typer must read: help, unknown or short options,
    empty arguments, a missing or dash-led value, a value outside its choices."""
    params = dict(defaults)
    positional = []
    k = 0
    while k < len(argv):
        arg = argv[k]
        k += 1
        if not arg:
            return None
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        option, has_value, value = arg.partition("=")
        if option in flags and not has_value:
            params[flags[option]] = True
            continue
        if option not in options:
            return None  # --help, --version, unknown options, "-", "--", short options
        if not has_value:
            if k >= len(argv):
                return None
            value = argv[k]
            k += 1
        if not value or value.startswith("-"):
            return None
        name, choices, case_insensitive = options[option]
        if choices is not None:
            if not value.isascii():
                return None
            value = value.lower() if case_insensitive else value
            if value not in choices:
                return None
        params[name] = value
    return params, positional


def parse(argv: list[str]) -> dict | None:
    """The job's parameters (``infile``, ``outfile``, ``more_files`` and JOB_DEFAULTS' keys), or
    None: ask Typer. The files are taken as the Typer command takes them: the first two, then the
    rest (run_job makes the last one OUT)."""
    scanned = scan(argv, JOB_OPTIONS, JOB_FLAGS, JOB_DEFAULTS)
    if scanned is None:
        return None
    params, positional = scanned
    if not 2 <= len(positional) <= MAX_FILES:
        return None
    # A job's files have a format's extension; anything else (a subcommand's name, a file whose
    # error message Typer's path words) is left to Typer.
    if not all(os.path.splitext(path)[1].lower() in _EXTENSIONS for path in positional):
        return None
    params["infile"], params["outfile"], *params["more_files"] = positional
    return params


def main(argv: list[str]) -> int | None:
    """Run a plain job invocation and return its exit status; None if Typer must parse ``argv``."""
    if argv[:1] == ["batch"]:  # bridge batch: its own fast path, as plain as a job's
        import_numpy_with_signals_held()
        from bridge import batch

        return batch.main(argv[1:])
    params = parse(argv)
    if params is None:
        return None
    debug = "--debug" in argv
    error_file = _option_value(argv, "--error-file")
    _job.paths = (params["infile"], params["outfile"])
    try:
        with _signals_raise():
            import_numpy_with_signals_held()
            run_job(**params)
        return EXIT_OK
    except KeyboardInterrupt as err:
        return report_interrupt(err, error_file, debug)
    except Exception as err:
        return report_error(err, error_file, debug)
    finally:
        _job.paths = ()


# IN and OUT of the job this thread runs (a warm server may run several): the error file never
# replaces them.
_job = threading.local()
_SIGNALS = {"SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT already raises KeyboardInterrupt), so
    that cleanup code runs: the temporary output file is removed. Only signals nobody handles
    yet are taken (a warm server keeps its own), and only in the main thread."""
    taken = {}
    if threading.current_thread() is threading.main_thread():
        for name in _SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                taken[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, previous in taken.items():
            signal.signal(sig, previous)


def import_numpy_with_signals_held() -> None:
    """Import numpy with the asynchronous signals blocked in this (the main) thread, then
    unblocked: the threads its BLAS starts as it loads inherit the blocked mask, so SIGINT,
    SIGTERM and SIGHUP reach the main thread, and interrupt whatever it waits in (a slow write).
    Delivered to a BLAS thread, a signal waited until the main thread's wait ended (seen: a
    job interrupted mid-write went on for the rest of a 60 s wait). A signal that comes while
    numpy loads is held until it has loaded, then raised here."""
    if "numpy" in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    if not hasattr(signal, "pthread_sigmask"):
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
    try:
        import numpy  # noqa: F401
    except Exception:
        pass  # the job's own import reports it (bridge:pythonEnv)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def report_interrupt(err: KeyboardInterrupt, error_file: str | None, debug: bool) -> int:
    """Report Ctrl-C (130), SIGTERM (143) or SIGHUP (129) in one line; the exit status."""
    signum = getattr(err, "signum", None)
    if signum is None:
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # after the terminal's ^C, as click does; a pipe gets one line
        _report("interrupted (bridge:interrupted)", error_file, debug)
        return EXIT_SIGINT

    name = signal.Signals(signum).name
    _report(f"stopped by {name}; no output was written (bridge:interrupted)", error_file, debug)
    return {"SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}.get(name, 128 + signum)


def run_job(
    infile: str,
    outfile: str,
    more_files: list[str] | tuple[str, ...] | None = None,
    *,
    op: str | None = None,
    shape: str | None = None,
    a: str | None = None,
    b: str | None = None,
    u: str | None = None,
    v: str | None = None,
    out_var: str = "C",
    mat_version: str = "7",
    compress: bool = False,
    hdf5_order: str | None = None,
    fmt: str | None = None,
    max_memory: str | None = None,
    **_options,
) -> None:
    """The job command's work, once its command line is parsed (by Typer or by :func:`parse`).

    ``bridge IN OUT`` arrives as (infile, outfile); ``bridge A B OUT`` and ``bridge u v A OUT``
    bring the other files in ``more_files``: the last file is OUT, the others hold one operand each.
    """
    files = [infile, outfile, *(more_files or ())]
    inputs, outfile = files[:-1], files[-1]
    names = {role: name for role, name in (("A", a), ("B", b), ("u", u), ("v", v)) if name}
    for name in (*names.values(), out_var):
        _check_identifier(name)
    if len(inputs) > 1 and names:
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
        _check_paths(path, outfile)
    _import_numeric_stack()
    from bridge import formats, jobs, stream

    formats.check_output(outfile, fmt, mat_version)
    limit = stream.budget(max_memory)
    if len(inputs) > 1:
        loaded = jobs.load_files(inputs, op=op, shape=shape, hdf5_order=hdf5_order)
        if fmt is None and loaded.headerless and os.path.splitext(outfile)[1].lower() == ".txt":
            fmt = "ascii"  # headerless in, headerless out: load -ascii, dlmread, readmatrix
    else:
        with _phase(FileFormatError, infile):
            loaded = jobs.load_job(
                infile, op=op, shape=shape, names=names or None, hdf5_order=hdf5_order, read=False
            )
            # Sizes come from the headers: check what the job costs before reading or allocating.
            plan = stream.plan_job(
                loaded, outfile, limit, fmt=fmt, mat_version=mat_version, hdf5_order=hdf5_order
            )
        if plan is not None:
            stream.run(plan, outfile, out_var=out_var, compress=compress, hdf5_order=hdf5_order)
            return
        with _phase(FileFormatError, infile):
            loaded.read_operands()
    result = jobs.run_job(loaded)
    with _phase(OutputError, outfile):
        jobs.save_result(
            outfile,
            result,
            out_var=out_var,
            fmt=fmt,
            mat_version=mat_version,
            compress=compress,
            hdf5_order=hdf5_order or "matlab",
        )


def run_one(params: dict) -> tuple[int, str]:
    """Run one job (the parameters of :func:`parse`) for a caller that runs many (bridge batch):
    its exit status and the one-line error main() would report ('' on success). Thread-safe: the
    line is returned, not printed; with ``debug`` the traceback goes to stderr."""
    try:
        run_job(**params)
    except Exception as err:
        if params.get("debug"):
            import traceback

            traceback.print_exc(file=sys.stderr)
        status, text = _error_status(err)
        return status, _error_line(text)
    return EXIT_OK, ""


def report_error(err: Exception, error_file: str | None, debug: bool) -> int:
    """Report a job's error in one line; its exit status (BridgeError, environment, internal)."""
    status, text = _error_status(err)
    _report(text, error_file, debug)
    return status


def _error_status(err: Exception) -> tuple[int, str]:
    """The exit status of a job's error and the text of its line."""
    if isinstance(err, BridgeError):
        return err.exit_code, str(err)
    if isinstance(err, MemoryError):
        text = (
            f"out of memory ({_one_line(err)}); set --max-memory below what this machine "
            "can give, so that large jobs stream or are refused before they start "
            "(bridge:outOfMemory)"
        )
        return EXIT_DATA, text
    module = _numeric_stack_module(err)
    if module:
        text = (
            f"cannot import {module} ({_one_line(err)}) in the Python at {sys.executable}; "
            f"install numpy, scipy and h5py there or choose another Python (bridge:pythonEnv)"
        )
        return EXIT_ENVIRONMENT, text
    text = (
        f"internal error: {type(err).__name__}: {_one_line(err)}; "
        "run with --debug for the traceback (bridge:internal)"
    )
    return EXIT_INTERNAL, text


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")


def _check_identifier(name: str) -> None:
    # MATLAB's load() rejects names that are not identifiers or are longer than 63 characters.
    if len(name) > 63 and _IDENTIFIER.match(name[:63]):
        msg = f"'{name}' has {len(name)} characters; MATLAB variable names have at most 63"
        raise UsageError(msg)
    if not _IDENTIFIER.match(name):
        msg = f"'{name}' is not a MATLAB variable name (a letter, then letters, digits or _)"
        raise UsageError(msg)


def _check_paths(infile: str, outfile: str) -> None:
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
    import stat

    mode = os.stat(path).st_mode
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def tune_process() -> None:
    """Settings for bridge's own processes (the command line, the server, batch workers), never
    for a program that imports bridge as a library. Called before numpy is imported.

    The heap grows in steps of 64 MB (:func:`_pad_the_heap`).

    numpy asks Linux for transparent huge pages on arrays of 4 MB and more; a job's process is
    new and touches each large array's pages once, and those first touches cost 1.4-2x more
    with the request (measured: BENCHMARKS.md). A user's own setting of the variable wins.
    """
    if _TUNED:
        return  # python -m bridge and the MATLAB worker reach cli.main, which tunes too
    _TUNED.append(True)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    _pad_the_heap()


_TUNED: list = []


# glibc's mallopt parameter M_TOP_PAD, and the padding bridge's processes ask for.
_M_TOP_PAD = -2
_TOP_PAD = 64 << 20


def _pad_the_heap() -> None:
    """glibc: grow the heap 64 MB at a time (address space only; pages cost nothing until used).

    A job's arrays then come from the heap and go back to it instead of being mapped and
    unmapped one by one; with the kernels' two threads every unmapping interrupts the other core.
    Measured in a warm server's job processes: a 1000x1000 image job 0.15 -> 0.09 s
    (BENCHMARKS.md). Nothing elsewhere (musl, macOS, Windows).
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_TOP_PAD, _TOP_PAD)


def _glibc():
    """The C library with mallopt, malloc and free typed (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # numpy imports it anyway

    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc, free = libc.mallopt, libc.malloc, libc.free
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.argtypes = [ctypes.c_void_p]
    return libc


# glibc's mallopt parameters M_TRIM_THRESHOLD and M_MMAP_MAX.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def prefault_heap(megabytes: int, stop=None) -> int:
    """glibc, in a warm server's spare job process: touch up to ``megabytes`` of heap now and
    keep them, so that the job's arrays land on pages already mapped; 16 MB at a time, until
    ``stop()`` says a job came. The megabytes touched.

    Every array then comes from the heap (no mmap) and freed memory stays in it (no trimming):
    the process is the job's alone and ends with it. A job's first touches of fresh pages cost
    about as much as a 3-D FFT's stages on the benchmark machine (a KVM guest); the spare pays
    them while it waits for a job (measured: BENCHMARKS.md).
    """
    libc = _glibc() if megabytes > 0 else None
    if libc is None:
        return 0
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)):
        return 0
    import ctypes

    step = 16 << 20
    blocks = []  # adjacent pieces of the heap: freed, they merge into its free top
    while len(blocks) * 16 < megabytes and not (stop and stop()):
        block = libc.malloc(step)
        if not block:
            break
        ctypes.memset(block, 0, step)
        blocks.append(block)
    for block in reversed(blocks):
        libc.free(block)
    return len(blocks) * 16


def _import_numeric_stack() -> None:
    # numpy is needed by every job; importing it here turns a missing or broken numpy into exit 5
    # before anything else (scipy and h5py are imported where used, classified by main()).
    import numpy  # noqa: F401


@contextlib.contextmanager
def _phase(error: type[BridgeError], path: str) -> Iterator[None]:
    """Name ``path`` in errors of one phase (reading IN, writing OUT); a stray OSError becomes
    that phase's error, so that its exit status says which side failed."""
    try:
        yield
    except BridgeError as err:
        err.where(file=path)
        raise
    except OSError as err:
        raise error(err.strerror or str(err), file=path) from err


def _option_value(argv: list[str], option: str) -> str | None:
    for k, arg in enumerate(argv):
        if arg == option and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def _numeric_stack_module(err: BaseException) -> str | None:
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


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _error_line(text: str) -> str:
    return printable(f"{PROG}: error: {' '.join(text.split())}")


def _report(text: str, error_file: str | None, debug: bool) -> None:
    line = _error_line(text) + "\n"
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    if error_file and _write_error_file(error_file, line):
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


def _write_error_file(path: str, line: str) -> bool:
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
