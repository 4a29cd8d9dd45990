"""Every operation a job can ask for, declared once.

An :class:`Operation` says what the job layer needs to know about a library function: its name
(``op``), the operands it takes in MATLAB's argument order with their job-file variable names
(``forms``), the settings it reads (``uses``: the job file's variable or the command line's flag,
and how the value is passed to the function), the MATLAB wrapper that calls it, whether the
operands alone can imply it, and whether it streams. Job files, both command-line parsers,
``bridge vars``, ``bridge batch``, streaming, the warm worker and the wrappers take the
operation from here; the checks, MATLAB's identifiers, result size and class are the library
function's (:mod:`bridge.convolution`, :mod:`bridge.filtering`).

Adding an operation: its library function (exported by ``bridge``), one :class:`Operation`
below, and its ``matlab/bridge_<op>.m`` wrapper (README, "Adding an operation").
Nothing here imports numpy.
"""

from __future__ import annotations

from typing import NamedTuple


class Setting(NamedTuple):
    """A setting an operation may read, with its command-line flag (one per setting)."""

    name: str  # the request's key
    flag: str
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None  # case-insensitive when given
    numeric: bool = False  # numbers: 'S' or 'S1,S2,...' on the command line
    text_or_number: bool = False  # a number if it reads as one, else text


SETTINGS: dict[str, Setting] = {
    setting.name: setting
    for setting in (
        Setting(
            "shape",
            "--shape",
            "Shape of the result (conv, conv2, convn, filter2: full, same or valid; "
            "imfilter: same or full).",
            choices=("full", "same", "valid"),
        ),
        Setting(
            "padding",
            "--padding",
            "imfilter/imgaussfilt boundary: a number, symmetric, replicate or circular.",
            "X",
            text_or_number=True,
        ),
        Setting(
            "mode", "--mode", "imfilter: corr (correlation) or conv.", choices=("corr", "conv")
        ),
        Setting(
            "sigma", "--sigma", "imgaussfilt(3): standard deviation(s).", "S[,S...]", numeric=True
        ),
        Setting(
            "filter_size",
            "--filter-size",
            "imgaussfilt(3): FilterSize, odd sizes.",
            "N[,N...]",
            numeric=True,
        ),
        Setting("type", "--type", "fspecial: the filter's type (gaussian, sobel, ...).", "TYPE"),
        Setting(
            "p1",
            "--p1",
            "fspecial: its first parameter (size, radius, ...).",
            "N[,N]",
            numeric=True,
        ),
        Setting(
            "p2", "--p2", "fspecial: its second parameter (sigma, angle).", "N[,N]", numeric=True
        ),
        Setting(
            "filter_domain",
            "--filter-domain",
            "imgaussfilt(3): FilterDomain.",
            choices=("auto", "spatial", "frequency"),
        ),
    )
}


class Use(NamedTuple):
    """How an operation takes a setting: from the job file's variable ``variable`` (or the
    command line), passed positionally (``matlab`` None) or as the name-value pair
    ``matlab, value``; ``default`` is passed when neither gives it (None: nothing passed)."""

    setting: str
    variable: str
    matlab: str | None = None
    default: object = None


class Operation(NamedTuple):
    name: str
    function: str  # the function of the public API (bridge.<function>) that computes it
    forms: tuple[tuple[str, ...], ...]  # operand variables in MATLAB's order, most specific first
    uses: tuple[Use, ...]
    wrapper: str
    # Operand sets that imply this operation in a job file without 'op': (form, label).
    implied: tuple[tuple[tuple[str, ...], str], ...] = ()
    # How it streams past memory (bridge._job.stream): 'conv', 'corr' (conv with the kernel
    # rotated, conj for xcorr2), 'filter' (the padded image in boxes: imfilter, imgaussfilt) or
    # None (computed in memory).
    streams: str | None = None
    summary: str = ""

    @property
    def roles(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for form in self.forms:
            seen.update(dict.fromkeys(form))
        return tuple(seen)

    @property
    def file_counts(self) -> tuple[int, ...]:
        """How many operand files (one operand each) the operation takes."""
        return tuple(sorted({len(form) for form in self.forms}))

    def use(self, setting: str) -> Use | None:
        return next((u for u in self.uses if u.setting == setting), None)


_SHAPE_FULL = Use("shape", "shape", default="full")

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "conv",
            "conv",
            (("u", "v"), ("A", "B")),
            (_SHAPE_FULL,),
            "bridge_conv",
            implied=((("u", "v"), "conv"),),
            streams="conv",
            summary="convolution of two vectors",
        ),
        Operation(
            "conv2",
            "conv2",
            (("u", "v", "A"), ("A", "B")),
            (_SHAPE_FULL,),
            "bridge_conv2",
            implied=((("u", "v", "A"), "separable conv2"),),
            streams="conv",
            summary="2-D convolution",
        ),
        Operation(
            "convn",
            "convn",
            (("A", "B"),),
            (_SHAPE_FULL,),
            "bridge_convn",
            implied=((("A", "B"), "convn or conv2"),),
            streams="conv",
            summary="N-D convolution",
        ),
        Operation(
            "filter2",
            "filter2",
            (("h", "X"),),
            (Use("shape", "shape", default="same"),),
            "bridge_filter2",
            streams="corr",
            summary="2-D digital filter (correlation)",
        ),
        Operation(
            "xcorr2",
            "xcorr2",
            (("a", "b"), ("a",)),
            (),
            "bridge_xcorr2",
            streams="corr",
            summary="2-D cross-correlation",
        ),
        Operation(
            "imfilter",
            "imfilter",
            (("A", "h"),),
            (Use("padding", "padding"), Use("shape", "shape"), Use("mode", "mode")),
            "bridge_imfilter",
            streams="filter",
            summary="N-D filtering of images",
        ),
        Operation(
            "fspecial",
            "fspecial",
            ((),),
            (Use("type", "type"), Use("p1", "p1"), Use("p2", "p2")),
            "bridge_fspecial",
            summary="predefined 2-D filters",
        ),
        Operation(
            "imgaussfilt",
            "imgaussfilt",
            (("A",),),
            (
                Use("sigma", "sigma"),
                Use("filter_size", "FilterSize", "FilterSize"),
                Use("padding", "Padding", "Padding"),
                Use("filter_domain", "FilterDomain", "FilterDomain"),
            ),
            "bridge_imgaussfilt",
            streams="filter",
            summary="2-D Gaussian filtering",
        ),
        Operation(
            "imgaussfilt3",
            "imgaussfilt3",
            (("A",),),
            (
                Use("sigma", "sigma"),
                Use("filter_size", "FilterSize", "FilterSize"),
                Use("padding", "Padding", "Padding"),
                Use("filter_domain", "FilterDomain", "FilterDomain"),
            ),
            "bridge_imgaussfilt3",
            streams="filter",
            summary="3-D Gaussian filtering",
        ),
    )
}

# Every operand role, in a stable order; the command line renames a role with --<role in
# lower case> (no operation has two roles that differ only in case).
ROLES: tuple[str, ...] = ("A", "B", "u", "v", "h", "X", "a", "b")
# The roles whose presence in a job file may imply the operation (the conv family's).
IMPLYING_ROLES: tuple[str, ...] = tuple(
    role
    for role in ROLES
    if any(role in form for op in OPERATIONS.values() for form, _ in op.implied)
)
# Job-file variables that are settings, never operands.
SETTING_VARIABLES: frozenset[str] = frozenset(
    use.variable for op in OPERATIONS.values() for use in op.uses
)


def _check_table() -> None:
    for op in OPERATIONS.values():
        if set(op.roles) - set(ROLES):
            raise AssertionError(f"{op.name}: add its roles to ROLES")
        names = [role.lower() for role in op.roles]
        if len(set(names)) != len(names):
            raise AssertionError(f"{op.name}: two roles differ only in case (one --flag each)")
        for use in op.uses:
            if use.setting not in SETTINGS:
                raise AssertionError(f"{op.name}: unknown setting {use.setting}")


_check_table()
