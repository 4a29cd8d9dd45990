"""Every option of the job and batch commands, declared once.

The Typer commands (:mod:`bridge._cli`), the fast argument path (:mod:`bridge._fastpath`) and
``bridge batch`` all take their options from :data:`JOB_OPTIONS` and :data:`BATCH_OPTIONS`: the
flag, the parameter it sets, its choices, its default and its help. :func:`scan` is the fast
path's reader of an argument list with such a table. Nothing here imports numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bridge._job.operations import OPERATIONS, ROLES, SETTINGS

# The operand-renaming options: --a names A (or xcorr2's a), --h names h, ...
ROLE_FLAGS: tuple[str, ...] = tuple(dict.fromkeys(role.lower() for role in ROLES))


class Option(NamedTuple):
    """One command-line option.

    ``choices`` None: any text. ``flag`` options take no value (they set True). ``check``
    names a rule the Typer command applies too (``int>=1``).
    """

    flag: str
    name: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    case_insensitive: bool = False
    default: object = None
    is_flag: bool = False
    integer_min: int | None = None
    required: bool = False


def _role_option(flag_name: str) -> Option:
    roles = [role for role in ROLES if role.lower() == flag_name]
    return Option(f"--{flag_name}", flag_name, f"Variable holding {' or '.join(roles)}.", "NAME")


def _setting_option(name: str) -> Option:
    setting = SETTINGS[name]
    return Option(
        setting.flag,
        setting.name,
        setting.help,
        setting.metavar,
        setting.choices,
        case_insensitive=setting.choices is not None,
    )


JOB_OPTIONS: tuple[Option, ...] = (
    Option("--op", "op", "Operation.", choices=tuple(OPERATIONS), case_insensitive=True),
    *(_setting_option(name) for name in SETTINGS),
    *(_role_option(name) for name in ROLE_FLAGS),
    Option("--out-var", "out_var", "Name of the result variable.", "NAME", default="C"),
    Option(
        "--mat-version",
        "mat_version",
        "MAT-file version of a .mat OUT.",
        choices=("7", "7.3"),
        default="7",
    ),
    Option(
        "--compress",
        "compress",
        "Compress the output (slower to write).",
        is_flag=True,
        default=False,
    ),
    Option(
        "--hdf5-order",
        "hdf5_order",
        "Dimension order of HDF5 datasets: matlab (h5write's, reversed) or c (h5py's). "
        "Default: what the file records, else matlab.",
        choices=("matlab", "c"),
        case_insensitive=True,
    ),
    Option(
        "--format",
        "fmt",
        "Output format: mat, hdf5, text, csv or ascii (one real matrix, commas or spaces). "
        "Default: from OUT's extension.",
        "FORMAT",
    ),
    Option(
        "--error-file",
        "error_file",
        "Write the error line to PATH instead of stderr (for MATLAB's system()).",
        "PATH",
    ),
    Option("--debug", "debug", "Show the traceback of an error.", is_flag=True, default=False),
    Option(
        "--max-memory",
        "max_memory",
        "Memory budget (512M, 4G). Larger jobs stream between MAT v7.3/HDF5 files or are "
        "refused. Default: half of the available memory.",
        "SIZE",
    ),
)

# --to: the output's new extension.
TARGETS = {"mat": ".mat", "h5": ".h5", "txt": ".txt"}

BATCH_OPTIONS: tuple[Option, ...] = (
    Option("--out-dir", "out_dir", "Folder of the results (created).", "DIR", required=True),
    Option("--jobs", "jobs", "Worker processes. Default: the cores.", "N", integer_min=1),
    Option(
        "--report",
        "report",
        "Write a .csv or .json report: input, output, status (ok, failed, skipped), exit, "
        "message, seconds, worker.",
        "FILE",
    ),
    Option(
        "--resume",
        "resume",
        "Skip jobs whose output exists; failed jobs rerun.",
        is_flag=True,
        default=False,
    ),
    Option(
        "--scheduler",
        "scheduler",
        "Run the jobs on this Dask scheduler (tcp://host:8786); needs bridge[dask].",
        "ADDRESS",
    ),
    Option(
        "--to",
        "to",
        "Output format: the extension it gets.",
        choices=tuple(TARGETS),
        case_insensitive=True,
    ),
    Option(
        "--recursive",
        "recursive",
        "Take the job files of subfolders too.",
        is_flag=True,
        default=False,
    ),
)

# The job file's extensions, by the format that reads them (bridge._formats checks the table
# against its own readers when it is imported).
EXTENSIONS = {
    ".mat": "mat",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".txt": "text",
    ".csv": "delimited",
    ".dat": "delimited",
}
# The formats one file can hold a whole job in: a folder's job files for bridge batch
# (headerless .csv/.dat files hold one operand each).
JOB_EXTENSIONS = tuple(ext for ext, kind in EXTENSIONS.items() if kind != "delimited")

MAX_FILES = 4  # IN OUT, A B OUT, u v A OUT: up to three operand files, then OUT
MAX_OPERAND_FILES = MAX_FILES - 1


def defaults(options: Sequence[Option]) -> dict[str, object]:
    return {option.name: option.default for option in options}


def scan(argv: Sequence[str], options: Sequence[Option]):
    """(parameters, positional arguments) of ``argv`` read with ``options``, or None for
    anything Typer must read: help, unknown or short options, empty arguments, a missing or
    dash-led value, a value outside its choices, a bad integer."""
    table = {option.flag: option for option in options}
    params = defaults(options)
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
        flag, has_value, value = arg.partition("=")
        option = table.get(flag)
        if option is None:
            return None  # --help, --version, unknown options, "-", "--", short options
        if option.is_flag:
            if has_value:
                return None
            params[option.name] = True
            continue
        if not has_value:
            if k >= len(argv):
                return None
            value = argv[k]
            k += 1
        if not value or value.startswith("-"):
            return None
        if option.choices is not None:
            if not value.isascii():
                return None
            value = value.lower() if option.case_insensitive else value
            if value not in option.choices:
                return None
        if option.integer_min is not None:
            if not (value.isascii() and value.isdigit()) or int(value) < option.integer_min:
                return None
            params[option.name] = int(value)
            continue
        params[option.name] = value
    return params, positional
