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
import sys
from collections.abc import Iterator

from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    BridgeError,
    FileFormatError,
    OutputError,
    UsageError,
)

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
_EXTENSIONS = (".mat", ".h5", ".hdf5", ".txt")  # bridge.formats.FORMATS, without importing it
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


def parse(argv: list[str]) -> dict | None:
    """The job's parameters (``infile``, ``outfile`` and JOB_DEFAULTS' keys), or None: ask Typer."""
    params = dict(JOB_DEFAULTS)
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
        if option in JOB_FLAGS and not has_value:
            params[JOB_FLAGS[option]] = True
            continue
        if option not in JOB_OPTIONS:
            return None  # --help, --version, unknown options, "-", "--", short options
        if not has_value:
            if k >= len(argv):
                return None
            value = argv[k]
            k += 1
        if not value or value.startswith("-"):
            return None
        name, choices, case_insensitive = JOB_OPTIONS[option]
        if choices is not None:
            if not value.isascii():
                return None
            value = value.lower() if case_insensitive else value
            if value not in choices:
                return None
        params[name] = value
    if len(positional) != 2:
        return None
    # A job's files have a format's extension; anything else (a subcommand's name, a file whose
    # error message Typer's path words) is left to Typer.
    if not all(os.path.splitext(path)[1].lower() in _EXTENSIONS for path in positional):
        return None
    params["infile"], params["outfile"] = positional
    return params


def main(argv: list[str]) -> int | None:
    """Run a plain job invocation and return its exit status; None if Typer must parse ``argv``."""
    params = parse(argv)
    if params is None:
        return None
    debug = "--debug" in argv
    error_file = _option_value(argv, "--error-file")
    try:
        run_job(**params)
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("\n")  # what click does before its Abort
        _report("interrupted (bridge:interrupted)", error_file, debug)
        return 130
    except Exception as err:
        return report_error(err, error_file, debug)


def run_job(
    infile: str,
    outfile: str,
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
    """The job command's work, once its command line is parsed (by Typer or by :func:`parse`)."""
    names = {role: name for role, name in (("A", a), ("B", b), ("u", u), ("v", v)) if name}
    for name in (*names.values(), out_var):
        _check_identifier(name)
    _check_paths(infile, outfile)
    _import_numeric_stack()
    from bridge import jobs, stream

    limit = stream.budget(max_memory)
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


def report_error(err: Exception, error_file: str | None, debug: bool) -> int:
    """Report a job's error in one line; its exit status (BridgeError, environment, internal)."""
    if isinstance(err, BridgeError):
        _report(str(err), error_file, debug)
        return err.exit_code
    if isinstance(err, MemoryError):
        text = (
            f"out of memory ({_one_line(err)}); set --max-memory below what this machine "
            "can give, so that large jobs stream or are refused before they start "
            "(bridge:outOfMemory)"
        )
        _report(text, error_file, debug)
        return EXIT_DATA
    module = _numeric_stack_module(err)
    if module:
        text = (
            f"cannot import {module} ({_one_line(err)}) in the Python at {sys.executable}; "
            f"install numpy, scipy and h5py there or choose another Python (bridge:pythonEnv)"
        )
        _report(text, error_file, debug)
        return EXIT_ENVIRONMENT
    text = (
        f"internal error: {type(err).__name__}: {_one_line(err)}; "
        "run with --debug for the traceback (bridge:internal)"
    )
    _report(text, error_file, debug)
    return EXIT_INTERNAL


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")


def _check_identifier(name: str) -> None:
    # MATLAB's load() rejects names that are not identifiers or are longer than 63 characters.
    if not _IDENTIFIER.match(name):
        msg = f"'{name}' is not a MATLAB variable name (a letter, then letters, digits or _)"
        raise UsageError(msg)


def _check_paths(infile: str, outfile: str) -> None:
    """Fail before any computation on what the file system already tells."""
    if not os.path.isfile(infile):
        what = "is a folder, not a file" if os.path.isdir(infile) else "does not exist"
        raise FileFormatError(f"the input file {what}", file=infile, identifier="bridge:noInput")
    if os.path.isdir(outfile):
        raise OutputError("the output is a folder; give a file name", file=outfile)
    folder = os.path.dirname(os.path.abspath(outfile))
    if not os.path.isdir(folder):
        raise OutputError(f"the output folder {folder} does not exist", file=outfile)
    if os.path.exists(outfile) and os.path.samefile(infile, outfile):
        raise UsageError("OUT is the same file as IN; IN is never overwritten", file=outfile)


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


def _report(text: str, error_file: str | None, debug: bool) -> None:
    line = f"{PROG}: error: {' '.join(text.split())}\n"
    if debug:
        import traceback

        traceback.print_exc(file=sys.stderr)
    if error_file:
        try:
            with open(error_file, "w", encoding="utf-8") as f:
                f.write(line)
            return
        except OSError:
            pass  # fall back to stderr: the message must reach someone
    sys.stderr.write(line)
    sys.stderr.flush()
