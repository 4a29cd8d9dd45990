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
import inspect
import io
import json
import re
import sys
from enum import Enum
from typing import Annotated, Any

import typer

import bridge
from bridge import _fastpath as fastpath
from bridge._job import outcome, process
from bridge._job.operations import OPERATIONS
from bridge._job.options import BATCH_OPTIONS, JOB_OPTIONS, Option
from bridge._job.outcome import PROG, report
from bridge._job.runner import import_numeric_stack, phase
from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    FileFormatError,
)

# Click's exception base, wherever this Typer version takes click from (it vendors it since 0.2x).
_ClickException: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

EXIT_CODES_HELP = f"""\b
Exit status:
  {EXIT_OK}   success
  {EXIT_USAGE}   bad command line (unknown option, bad --op or --shape, OUT same as IN)
  {EXIT_DATA}   bad input: unreadable file, missing or non-numeric variable, or an
      error MATLAB itself raises (its identifier ends the message)
  {EXIT_OUTPUT}   the result could not be written (missing folder, permissions)
  {EXIT_ENVIRONMENT}   numpy, scipy, h5py or typer cannot be imported by this Python
  {EXIT_INTERNAL}  a bug in bridge (run with --debug for the traceback)
  {EXIT_SIGHUP} stopped by SIGHUP (the terminal closed); no output written
  {EXIT_SIGINT} stopped by Ctrl-C (SIGINT); no output written
  {EXIT_SIGTERM} stopped by SIGTERM (kill, a scheduler's time limit); no output written
"""


def _operations_help() -> str:
    """The job's operations and their operands, from their declarations."""
    lines = [
        f"  {op.name:<13}{' | '.join(', '.join(form) or '(no operands)' for form in op.forms)}"
        for op in OPERATIONS.values()
    ]
    return "\n".join(lines)


JOB_HELP = f"""Compute MATLAB's {", ".join(OPERATIONS)} of the operands in IN and write
the result to OUT. Or give one file per operand: A B OUT, u v OUT or u v A OUT.

\b
IN holds the operands, by name, and optionally the request:
{_operations_help()}
  op           the operation (without it the operands decide among conv, conv2, convn)
  shape        'full' (default; filter2, imfilter: 'same'), 'same' or 'valid'
  padding, mode                     imfilter's boundary option and 'corr'/'conv'
  sigma, FilterSize, Padding        imgaussfilt(3)'s
  type, p1, p2                      fspecial's type and parameters
as variables in .mat files (op and shape as char; Octave's plain save and
save -hdf5 too), datasets and attributes in .h5/.hdf5, or named arrays and
header lines in .txt. The result is written to OUT as C, in the format of
OUT's extension: .mat (MAT v7, or v7.3 with --mat-version 7.3), .h5/.hdf5,
.txt, or .csv/.dat (one real matrix). Options override what IN says.

\b
One file per operand, as dlmwrite, writematrix or save -ascii write them
(commas, tabs or spaces), or any job file holding one array:
  bridge A.csv B.csv OUT.csv --op conv2 --shape same
  bridge u.txt v.txt OUT.txt          two vectors: conv (else convn)
  bridge u.csv v.csv A.csv OUT.csv    the separable conv2(u, v, A)
A .txt OUT is then headerless too (load -ascii, dlmread, readmatrix).

\b
Example, from MATLAB or Octave:
  u = rand(1, 100); v = [1 2 1] / 4; shape = 'same';
  save('in.mat', 'u', 'v', 'shape', '-v7');
  system('python3 -m bridge in.mat out.mat');
  S = load('out.mat');   % S.C is conv(u, v, 'same')

\b
Other commands (each with --help):
  bridge vars FILE...             the variables of files, like MATLAB's whos
  bridge batch JOB... --out-dir DIR   many jobs in one call, on local workers or Dask
  bridge serve [--detach]         a warm worker: MATLAB's calls skip Python's start-up
OUT is written atomically: a failed job leaves an existing OUT as it was.
IN is never modified, and bridge never reads stdin.
"""

VARS_HELP = """List the variables of job or result files: name, size, MATLAB class and
attributes (complex, sparse), like whos, and the request (op, shape). A file that
cannot be read is reported and the others are still listed; the exit status is
then 3."""

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Command(typer.core.TyperCommand):
    """Typer's command with help in plain words: no Python types (``<str>``), no braces."""

    usage: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            shown = getattr(param, "display_type_rich", None)
            if shown is not None:
                param.display_type_rich = (  # type: ignore[attr-defined]
                    lambda ctx, shown=shown: _plain_type(shown(ctx))
                )

    def collect_usage_pieces(self, ctx) -> list[str]:
        if self.usage:
            return [self.usage]
        return [re.sub(r"[{}]", "", piece) for piece in super().collect_usage_pieces(ctx)]


class _JobCommand(_Command):
    usage = "[OPTIONS] IN OUT  |  A B OUT  |  u v OUT  |  u v A OUT"


class _VarsCommand(_Command):
    usage = "[OPTIONS] FILE..."


def _plain_type(text: str | None) -> str:
    """Metavars and choices stay ('NAME', 'matlab|c'); Python types ('<str>', '<list[str]>') go."""
    if not text:
        return ""
    if not (text.startswith("<") and text.endswith(">")):
        return text
    inner = text[1:-1]
    return inner if "|" in inner else ""


def _usage_message(err: Any) -> str:
    """Click's and Typer's message without pydantic's or Python's words."""
    text = err.format_message().rstrip(".")
    text = text.replace("Value error, ", "")
    text = re.sub(r"Input should be ", "must be ", text)
    return text


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


def _enum(option: Option) -> type[Enum]:
    """The choices of an option as the Enum Typer wants."""
    assert option.choices is not None
    return Enum(option.name.title(), [(c, c) for c in option.choices], type=str)  # type: ignore


def _typer_parameter(option: Option) -> inspect.Parameter:
    """The Typer option of a table entry (bridge._job.options), as a keyword-only parameter."""
    if option.is_flag:
        kind: object = bool
    elif option.choices is not None:
        kind = _enum(option) | None if option.default is None else _enum(option)
    elif option.integer_min is not None:
        kind = int | None
    else:
        kind = str | None if option.default is None else str
    default = option.default
    if option.choices is not None and default is not None:
        default = _enum(option)(default)
    declared = typer.Option(
        option.flag,
        metavar=option.metavar,
        help=option.help,
        case_sensitive=not option.case_insensitive,
        min=option.integer_min,
    )
    if option.required:
        kind, default = str, inspect.Parameter.empty
    return inspect.Parameter(
        option.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, declared],
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# Options that main() reads before parsing (so that even usage errors honour them); declared on
# every command so that parsing accepts them and --help documents them.
_BY_FLAG = {option.flag: option for option in JOB_OPTIONS}
DEBUG = _typer_parameter(_BY_FLAG["--debug"])
ERROR_FILE = _typer_parameter(_BY_FLAG["--error-file"])
ORDER = _typer_parameter(_BY_FLAG["--hdf5-order"])
DebugOption = DEBUG.annotation
ErrorFileOption = ERROR_FILE.annotation
OrderOption = ORDER.annotation


def _declare(function, parameters: list[inspect.Parameter]) -> None:
    """Give ``function`` the signature Typer reads its parameters from."""
    function.__signature__ = inspect.Signature(parameters)
    function.__annotations__ = {p.name: p.annotation for p in parameters}


def job(**params) -> None:
    # A plain job never gets here from main(): bridge._fastpath runs it without building this
    # command. Both parse into the same parameters (tests/test_fastpath.py) and run this:
    params = {name: _plain(value) for name, value in params.items()}
    params.pop("version", None)
    params["more_files"] = list(params.get("more_files") or ())
    process.import_numpy_with_signals_held()
    from bridge._job.runner import Request, run

    request = Request.from_params(params)
    request.progress = True
    run(request)


_JOB_FILES = [
    inspect.Parameter(
        "infile",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            str, typer.Argument(metavar="IN", help="Job file.", show_default=False)
        ],
    ),
    inspect.Parameter(
        "outfile",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            str, typer.Argument(metavar="OUT", help="Result file.", show_default=False)
        ],
    ),
    inspect.Parameter(
        "more_files",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation=Annotated[
            list[str] | None,
            typer.Argument(
                metavar="[FILE]...",
                help="With 3 or 4 files: one operand per file, in the order A B, u v or u v A, "
                "and the last file is OUT.",
                show_default=False,
            ),
        ],
    ),
]
_VERSION = inspect.Parameter(
    "version",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ],
)
_declare(job, [*_JOB_FILES, *(_typer_parameter(o) for o in JOB_OPTIONS), _VERSION])
job_app.command(cls=_JobCommand, help=JOB_HELP, epilog=EXIT_CODES_HELP)(job)


@vars_app.command(cls=_VarsCommand, help=VARS_HELP, epilog=EXIT_CODES_HELP)
def list_vars(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", show_default=False)],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON instead: a list with, per file, its variables (name, size, class, "
            "complex, sparse) and request, or its error.",
        ),
    ] = False,
    hdf5_order: OrderOption = None,  # type: ignore[valid-type]
    error_file: ErrorFileOption = None,  # type: ignore[valid-type]
    debug: DebugOption = False,  # type: ignore[valid-type]
) -> None:
    import_numeric_stack()
    from bridge import _formats as formats

    order = _plain(hdf5_order)
    status, errors = EXIT_OK, []
    listing: list[dict[str, object]] = []
    for index, path in enumerate(files):
        try:
            # As a job's: SIGTERM and SIGHUP raise too, and a read has a deadline and stops
            # even when stuck in C code (process.read_guard).
            with (
                phase(FileFormatError, path),
                process.signals_raise(),
                process.read_guard([path], error_file=error_file, protect=files),
            ):
                variables, request = formats.read(path, hdf5_order=order)
        except KeyboardInterrupt as err:
            raise typer.Exit(outcome.report_interrupt(err, error_file, debug)) from None
        except Exception as err:  # report it, go on with the other files, fail at the end
            captured = io.StringIO()
            with contextlib.redirect_stderr(captured):
                code = outcome.report_error(err, None, debug)
            errors.append(captured.getvalue())
            if not error_file:
                sys.stderr.write(captured.getvalue())
            status = status or code
            listing.append({"file": path, "error": captured.getvalue().strip()})
            continue
        call = _call(path, variables, request)
        listing.append({"file": path, **_described(variables, request), "call": call})
        if as_json:
            continue
        if len(files) > 1:
            typer.echo(("\n" if index else "") + f"{path}:")
        typer.echo(_whos(variables, request, call))
    if as_json:
        typer.echo(json.dumps(listing, indent=1))
    if errors and error_file and not outcome.write_error_file(error_file, "".join(errors)):
        sys.stderr.write("".join(errors))
    if status:
        raise typer.Exit(status)


def _call(path: str, variables: dict, request: dict) -> str | None:
    """The MATLAB call the file asks for as a job (bridge._job.files), or None: not a whole job."""
    from bridge._job import files
    from bridge.errors import BridgeError

    try:
        return files.call_text(files.resolve(path, variables, request))
    except BridgeError:
        return None


def _described(variables: dict, request: dict) -> dict:
    return {
        "variables": [
            {
                "name": name,
                "size": list(var.size),
                "class": var.matlab_class,
                "complex": bool(var.complex),
                "sparse": bool(var.sparse),
            }
            for name, var in variables.items()
        ],
        "request": dict(request),
    }


def _whos(variables: dict, request: dict, call: str | None = None) -> str:
    """A table like MATLAB's ``whos``: Name, Size, Class, Attributes."""
    rows = [("Name", "Size", "Class", "Attributes")]
    for name, var in variables.items():
        size = "x".join(str(d) for d in var.size)
        attributes = ", ".join(
            word for word, on in (("sparse", var.sparse), ("complex", var.complex)) if on
        )
        rows.append((name, size, var.matlab_class, attributes))
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
    if call:
        lines += [] if request else [""]
        lines.append(f"  job: {call}")
    return "\n".join(line.rstrip() for line in lines)


SERVE_HELP = """Run a warm worker: jobs of the MATLAB wrappers (and of bridge_worker.py) go
to it instead of starting a new Python, with the same results, exit statuses and error lines.

\b
One per user, local only: a Unix socket, by default $XDG_RUNTIME_DIR/bridge/serve.sock or
/tmp/bridge-<uid>/serve.sock in a folder of mode 0700; BRIDGE_SOCKET or --socket choose
another. Other users are refused (SO_PEERCRED), and so is a client of another bridge
version or checkout, or whose code changed since the server started: such jobs run cold.
Jobs run at once up to the number of cores, at least two (more wait in a queue), each in its own
process forked from the warm server; a failing job never stops the server. Clients of other
groups are refused too. BRIDGE_NO_SERVER=1 makes the worker ignore it; --detach starts it
in the background and returns once it answers. Stop it with Ctrl-C, SIGTERM or
'bridge serve --stop'.
"""

SERVE_EXIT_HELP = """\b
Exit status:
  0   stopped (Ctrl-C, SIGTERM, --stop, --idle-timeout); --status/--stop: a server answered
  1   another server already runs on the socket; --status/--stop: no server answered
  2   bad command line
  4   the socket cannot be created (unsafe folder, missing folder, path too long)
"""

serve_app = _app()


@serve_app.command(help=SERVE_HELP, epilog=SERVE_EXIT_HELP)
def serve(
    socket_path: Annotated[
        str | None,
        typer.Option("--socket", metavar="PATH", help="Socket path (default: see above)."),
    ] = None,
    idle_timeout: Annotated[
        float,
        typer.Option(
            "--idle-timeout", metavar="SECONDS", min=0, help="Exit after this long without a job."
        ),
    ] = 0.0,
    status: Annotated[
        bool, typer.Option("--status", help="Say whether a server runs, and its job count.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running server.")] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start it in the background; return once it answers.")
    ] = False,
    error_file: ErrorFileOption = None,  # type: ignore[valid-type]
    debug: DebugOption = False,  # type: ignore[valid-type]
) -> None:
    from bridge import _serve as server

    if status or stop:
        code, line = server.query("stop" if stop else "status", socket_path)
        typer.echo(line)
        raise typer.Exit(code)
    if detach:
        raise typer.Exit(server.start_detached(socket_path, idle_timeout))
    raise typer.Exit(server.serve(socket_path, idle_timeout))


BATCH_HELP = """Run many jobs in one call: the job files JOB... (files, folders, glob
patterns), each written to DIR under its own name, on long-lived worker processes (--jobs) or on
a Dask cluster (--scheduler).

\b
Each output holds exactly what 'bridge IN OUT' with the same options writes, written
atomically; the job options below apply to every job. A failed job fails alone, with the
exit status and error line 'bridge IN OUT' gives it (printed, and in the report). A folder
gives its .mat/.h5/.hdf5/.txt files (not its subfolders' unless --recursive); a pattern
('data/*.mat', quoted) is expanded by bridge. Two inputs that would write one output are a
usage error before anything runs. Progress goes to stderr; the last line sums up:
  bridge: 997 ok, 3 failed, 0 skipped in 12.4 s; report: FILE
"""

BATCH_EXIT_HELP = """\b
Exit status:
  0   every job ok or skipped
  2   bad command line (also: a missing JOB, outputs that collide, a --scheduler that
      does not answer); nothing ran
  3   a job failed (the report says which, with its own exit status and error line)
  4   DIR or the report cannot be written
  5   numpy, scipy, h5py or (with --scheduler) dask.distributed cannot be imported
  130 interrupted (Ctrl-C, SIGTERM): no partial output; the report lists what was done
"""


def batch(**params) -> None:
    from bridge import _batch as batch_jobs

    own = {option.name for option in BATCH_OPTIONS} | {"job_files"}
    values = {k: _plain(v) for k, v in params.items()}
    job_options = {k: v for k, v in values.items() if k not in own}
    batch_options = {k: v for k, v in values.items() if k in own}
    raise typer.Exit(batch_jobs.run(**batch_options, job_options=job_options))


_JOB_FILES_ARGUMENT = inspect.Parameter(
    "job_files",
    inspect.Parameter.KEYWORD_ONLY,
    annotation=Annotated[
        list[str],
        typer.Argument(metavar="JOB", help="Job files, folders, patterns.", show_default=False),
    ],
)
# The batch's own parameters, then every option of the job command.
_declare(
    batch,
    [_JOB_FILES_ARGUMENT, *(_typer_parameter(o) for o in (*BATCH_OPTIONS, *JOB_OPTIONS))],
)
batch_app = _app()
batch_app.command(name="batch", help=BATCH_HELP, epilog=BATCH_EXIT_HELP)(batch)


# --- the dispatcher ---------------------------------------------------------------------------

SUBCOMMANDS = {"vars": vars_app, "serve": serve_app, "batch": batch_app}


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    process.tune_process()
    if not (argv and argv[0] in SUBCOMMANDS) or argv[0] == "batch":
        status = fastpath.main(argv)  # a plain job: no Typer command to build
        if status is not None:
            return status
    debug = "--debug" in argv
    error_file = option_value(argv, "--error-file")
    if argv and argv[0] in SUBCOMMANDS:
        app, args, prog = SUBCOMMANDS[argv[0]], argv[1:], f"{PROG} {argv[0]}"
    else:
        app, args, prog = job_app, argv, PROG
    try:
        command = typer.main.get_command(app)
        status = command.main(args=args, prog_name=prog, standalone_mode=False)
        return status if isinstance(status, int) else EXIT_OK
    except _ClickException as err:
        text = f"{_usage_message(err)}; see '{prog} --help' (bridge:usage)"
        report(text, error_file, debug)
        return EXIT_USAGE
    except typer.Abort:
        report("interrupted (bridge:interrupted)", error_file, debug)
        return 130
    except Exception as err:  # BridgeError, a broken numeric stack, or a bug: as a plain job
        return outcome.report_error(err, error_file, debug)


def option_value(argv: list[str], option: str) -> str | None:
    """The value of ``option`` in ``argv`` as given (before any parsing), or None."""
    for k, arg in enumerate(argv):
        if arg == option and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None
