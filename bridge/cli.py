"""The command line: ``bridge IN OUT`` runs a job, ``bridge vars FILE`` lists a file's variables.

This is the only module that turns errors into exit statuses and one-line messages. MATLAB calls
it through ``system()`` and reads what it prints, so:

* every failure is one line, ``bridge: error: <message> (<identifier>)``, on stderr (or in the
  file named by ``--error-file``, which is how the MATLAB wrappers read it without shell
  redirection); tracebacks only with ``--debug``; no colour, no rich formatting, no prompts and
  never a read from stdin (it is MATLAB's own);
* start-up is part of every MATLAB call, so numpy, scipy and h5py are imported inside the
  commands only: ``--help``, ``--version`` and usage errors never load them.

:func:`main` takes an argument list and returns the exit status, so tests call it in-process.
"""

import contextlib
import os
import re
import sys
import traceback
from collections.abc import Iterator
from enum import Enum
from typing import Annotated

import typer

import bridge
from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    BridgeError,
    FileFormatError,
    OutputError,
    UsageError,
)

PROG = "bridge"

# Packages whose absence or breakage is the interpreter's fault, not bridge's (exit 5).
NUMERIC_STACK = ("numpy", "scipy", "h5py")

# Click's exception base, wherever this Typer version takes click from (it vendors it since 0.2x).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

EXIT_CODES_HELP = f"""\b
Exit status:
  {EXIT_OK}   success
  {EXIT_USAGE}   bad command line (unknown option, bad --op or --shape, OUT same as IN)
  {EXIT_DATA}   bad input: unreadable file, missing or non-numeric variable, or an
      error MATLAB itself raises (its identifier ends the message)
  {EXIT_OUTPUT}   the result could not be written (missing folder, permissions)
  {EXIT_ENVIRONMENT}   numpy, scipy, h5py or typer cannot be imported by this Python
  {EXIT_INTERNAL}  a bug in bridge (run with --debug for the traceback)
"""

JOB_HELP = """Compute MATLAB's conv, conv2 or convn of the operands in IN and write the
result to OUT.

\b
IN holds the operands and, optionally, the request:
  u, v       conv (A and B accepted)
  A, B       conv2 or convn
  u, v, A    the separable conv2(u, v, A)
  op         'conv', 'conv2' or 'convn' (without it the operands decide)
  shape      'full' (default), 'same' or 'valid'
as variables in .mat files (op and shape as char), datasets and attributes
in .h5/.hdf5, or named arrays and header lines in .txt. The result is written
to OUT as C, in the format of OUT's extension: .mat (MAT v7, or v7.3 with
--mat-version 7.3), .h5/.hdf5 or .txt. Options override what IN says.

\b
Example, from MATLAB or Octave:
  u = rand(1, 100); v = [1 2 1] / 4; shape = 'same';
  save('in.mat', 'u', 'v', 'shape', '-v7');
  system('python3 -m bridge in.mat out.mat');
  S = load('out.mat');   % S.C is conv(u, v, 'same')

\b
'bridge vars FILE...' lists the variables of files, like MATLAB's whos.
OUT is written atomically: a failed job leaves an existing OUT as it was.
IN is never modified, and bridge never reads stdin.
"""

VARS_HELP = "List the variables of job or result files: name, size and MATLAB class, like whos."

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Op(str, Enum):
    conv = "conv"
    conv2 = "conv2"
    convn = "convn"


class Shape(str, Enum):
    full = "full"
    same = "same"
    valid = "valid"


class MatVersion(str, Enum):
    v7 = "7"
    v73 = "7.3"


class Order(str, Enum):
    matlab = "matlab"
    c = "c"


def _app() -> typer.Typer:
    return typer.Typer(
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings=CONTEXT,
    )


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {bridge.__version__}")
        raise typer.Exit()


job_app = _app()
vars_app = _app()

# Options that main() reads before parsing (so that even usage errors honour them); declared on
# the commands as well so that parsing accepts them and --help documents them.
DebugOption = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]
ErrorFileOption = Annotated[
    str | None,
    typer.Option(
        "--error-file",
        metavar="PATH",
        help="Write the error line to PATH instead of stderr (for MATLAB's system()).",
    ),
]
OrderOption = Annotated[
    Order | None,
    typer.Option(
        "--hdf5-order",
        case_sensitive=False,
        help="Dimension order of HDF5 datasets: matlab (h5write's, reversed) or c (h5py's). "
        "Default: what the file records, else matlab.",
    ),
]


def _name_option(role: str) -> object:
    return typer.Option(f"--{role.lower()}", metavar="NAME", help=f"Variable holding {role}.")


@job_app.command(help=JOB_HELP, epilog=EXIT_CODES_HELP)
def job(
    infile: Annotated[str, typer.Argument(metavar="IN", help="Job file.", show_default=False)],
    outfile: Annotated[str, typer.Argument(metavar="OUT", help="Result file.", show_default=False)],
    op: Annotated[Op | None, typer.Option("--op", case_sensitive=False, help="Operation.")] = None,
    shape: Annotated[
        Shape | None, typer.Option("--shape", case_sensitive=False, help="Shape of the result.")
    ] = None,
    a: Annotated[str | None, _name_option("A")] = None,
    b: Annotated[str | None, _name_option("B")] = None,
    u: Annotated[str | None, _name_option("u")] = None,
    v: Annotated[str | None, _name_option("v")] = None,
    out_var: Annotated[
        str, typer.Option("--out-var", metavar="NAME", help="Name of the result variable.")
    ] = "C",
    mat_version: Annotated[
        MatVersion, typer.Option("--mat-version", help="MAT-file version of a .mat OUT.")
    ] = MatVersion.v7,
    compress: Annotated[
        bool, typer.Option("--compress", help="Compress the output (slower to write).")
    ] = False,
    hdf5_order: OrderOption = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="Output format: mat, hdf5 or text. Default: from OUT's extension.",
        ),
    ] = None,
    error_file: ErrorFileOption = None,
    debug: DebugOption = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    names = {role: name for role, name in (("A", a), ("B", b), ("u", u), ("v", v)) if name}
    for name in (*names.values(), out_var):
        _check_identifier(name)
    _check_paths(infile, outfile)
    _import_numeric_stack()
    from bridge import jobs

    order = hdf5_order.value if hdf5_order else None
    with _phase(FileFormatError, infile):
        loaded = jobs.load_job(
            infile,
            op=op.value if op else None,
            shape=shape.value if shape else None,
            names=names or None,
            hdf5_order=order,
        )
    result = jobs.run_job(loaded)
    with _phase(OutputError, outfile):
        jobs.save_result(
            outfile,
            result,
            out_var=out_var,
            fmt=fmt,
            mat_version=mat_version.value,
            compress=compress,
            hdf5_order=order or "matlab",
        )


@vars_app.command(help=VARS_HELP, epilog=EXIT_CODES_HELP)
def list_vars(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", show_default=False)],
    hdf5_order: OrderOption = None,
    error_file: ErrorFileOption = None,
    debug: DebugOption = False,
) -> None:
    _import_numeric_stack()
    from bridge import formats

    order = hdf5_order.value if hdf5_order else None
    for index, path in enumerate(files):
        with _phase(FileFormatError, path):
            variables, request = formats.read(path, hdf5_order=order)
        if len(files) > 1:
            typer.echo(("\n" if index else "") + f"{path}:")
        typer.echo(_whos(variables, request))


def _whos(variables: dict, request: dict) -> str:
    """A table like MATLAB's ``whos``: Name, Size, Class, Attributes."""
    rows = [("Name", "Size", "Class", "Attributes")]
    for name, var in variables.items():
        size = "x".join(str(d) for d in var.size)
        rows.append((name, size, var.matlab_class, "complex" if var.complex else ""))
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    lines = [
        "  "
        + "    ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
        + ("    " + row[3] if row[3] else "")
        for row in rows
    ]
    lines.insert(1, "")
    if request:
        fields = ", ".join(f"{key} = '{value}'" for key, value in request.items())
        lines += ["", f"  request: {fields}"]
    return "\n".join(line.rstrip() for line in lines)


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


# --- the dispatcher ---------------------------------------------------------------------------

SUBCOMMANDS = {"vars": vars_app}


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    error_file = _option_value(argv, "--error-file")
    if argv and argv[0] in SUBCOMMANDS:
        app, args, prog = SUBCOMMANDS[argv[0]], argv[1:], f"{PROG} {argv[0]}"
    else:
        app, args, prog = job_app, argv, PROG
    try:
        command = typer.main.get_command(app)
        status = command.main(args=args, prog_name=prog, standalone_mode=False)
        return status if isinstance(status, int) else EXIT_OK
    except BridgeError as err:
        _report(str(err), error_file, debug)
        return err.exit_code
    except _ClickException as err:
        text = f"{err.format_message().rstrip('.')}; see '{prog} --help' (bridge:usage)"
        _report(text, error_file, debug)
        return EXIT_USAGE
    except typer.Abort:
        _report("interrupted (bridge:interrupted)", error_file, debug)
        return 130
    except Exception as err:
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
