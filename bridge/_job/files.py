"""What a job file asks for: which operation, which operands in which order, which settings.

The job-file contract (docs/job-files.md):

* Operands by name, as the operation declares them (:mod:`bridge._job.operations`): ``A`` and
  ``B`` for conv2 and convn; ``u`` and ``v`` for conv (``A``/``B`` accepted too); ``u``, ``v``
  and ``A`` for the separable ``conv2(u, v, A)``; ``h`` and ``X`` for filter2, ``a`` (and ``b``)
  for xcorr2, ``A`` and ``h`` for imfilter, ``A`` for imgaussfilt(3). Other variables are
  ignored. The caller may map roles to other names (CLI ``--a``, ``--h``, ...).
* Request: ``op`` and ``shape`` from the file (MAT char variables, HDF5 root attributes, text
  request lines), other settings (``padding``, ``mode``, ``sigma``, ``FilterSize``, ``Padding``,
  ``FilterDomain``) from variables of those names; the caller's options override them.
* Without ``op`` the operands decide among the conv family: exactly u and v -> conv; u, v and
  A -> separable conv2; A and B -> convn (for 2-D operands conv2 and convn agree). Anything else
  is an error that says what to add.

Operands may also come one per file (:func:`load_files`): headerless numeric text as dlmwrite,
writematrix or ``save -ascii`` write it, or any job file holding exactly one array. Two files are
``A B`` (convn, the same as conv2 for matrices), or ``u v`` (conv) when both are vectors; three
files are ``u v A`` (the separable conv2). ``op`` says otherwise, in its own argument order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from bridge import _formats as formats
from bridge._job.operations import IMPLYING_ROLES, OPERATIONS, ROLES, Operation
from bridge._job.options import MAX_OPERAND_FILES
from bridge.errors import FileFormatError, JobError, UsageError, VariableError

_IMPLIED = {
    frozenset(form): (op.name, form, label)
    for op in OPERATIONS.values()
    for form, label in op.implied
}
_OP_WORDS = ", ".join(f"'{name}'" for name in OPERATIONS)
_WHAT_TO_ADD = (
    "a job needs u and v (conv), u, v and A (separable conv2) or A and B (conv2/convn), "
    f"and op ({_OP_WORDS}) when more than one of these fits or for another operation"
)
HEADERLESS_HELP = (
    "holds numbers without array headers (as dlmwrite, writematrix or save -ascii write them), "
    "so bridge cannot tell the operands apart: give each operand its own file "
    "('bridge A.csv B.csv OUT.csv --op conv2', 'bridge u.txt v.txt OUT.txt' for conv), "
    "or write one job file with bridge_write_text, or save('in.mat', 'A', 'B')"
)


@dataclass
class Job:
    """A job's operation, operands and settings, as read from its file(s)."""

    op: str
    operands: list[tuple[str | None, np.ndarray]]
    path: str
    # The settings' values (op's declared settings that were given), and the job-file variable
    # each came from (None: the command line), for error context.
    settings: dict[str, object] = field(default_factory=dict)
    setting_variables: dict[str, str | None] = field(default_factory=dict)
    # One file per operand (load_files): the file of each operand, and whether all of them were
    # headerless numeric text (then a .txt result is written headerless too).
    operand_files: list[str] | None = None
    headerless: bool = False
    # The operands' variables, in call order (read or not: see load_job's ``read``).
    variables: list = field(default_factory=list, repr=False)

    @property
    def operation(self) -> Operation:
        return OPERATIONS[self.op]

    def setting(self, name: str) -> object:
        """A setting's value: given (by the file or the caller), else the operation's default."""
        value = self.settings.get(name)
        if value is None:
            use = self.operation.use(name)
            value = use.default if use is not None else None
        return value

    @property
    def shape(self) -> str | None:
        value = self.setting("shape")
        return value if isinstance(value, str) else None

    def read_operands(self) -> None:
        """Read the operands' values (HDF5/v7.3 variables are read on demand)."""
        if not self.operands:
            self.operands = [(name, variable.array()) for name, variable in self.variables]


def load_job(
    path,
    *,
    op: str | None = None,
    shape: str | None = None,
    settings: dict[str, object] | None = None,
    names: dict[str, str] | None = None,
    hdf5_order: str | None = None,
    read: bool = True,
) -> Job:
    """Read a job file and resolve op, operands and settings (``settings`` from the caller,
    by setting name, override the file's; ``shape`` is short for ``settings={'shape': ...}``).
    ``names``: role -> variable name (a role in either case: 'A' or 'a' for --a).

    ``read=False`` leaves large HDF5/v7.3 operands unread (``job.variables``; their sizes are
    known) until :meth:`Job.read_operands`: the caller checks what the job will cost first.
    """
    path = os.fspath(path)
    if formats.kind_of(path) == "delimited":
        raise FileFormatError(HEADERLESS_HELP).where(file=path)
    if shape is not None:
        settings = {**(settings or {}), "shape": shape}
    variables, request = formats.read(path, hdf5_order=hdf5_order)
    job = resolve(path, variables, request, op=op, settings=settings, names=names)
    if read:
        job.read_operands()
    return job


def resolve(
    path: str,
    variables: dict,
    request: dict,
    *,
    op: str | None = None,
    settings: dict[str, object] | None = None,
    names: dict[str, str] | None = None,
) -> Job:
    """The job a file's ``variables`` and ``request`` (:func:`bridge._formats.read`) ask for,
    operands unread; raises what is missing or contradictory, naming ``path``."""
    renamed = _role_names(names or {})
    _check_renamed(path, renamed, variables)
    op_value = op if op is not None else request.get("op")
    if op_value is None:
        role_name = {role: renamed.get(role.lower(), role) for role in IMPLYING_ROLES}
        present = [role for role in IMPLYING_ROLES if role_name[role] in variables]
        op_value, roles = _implied(path, present, role_name, variables)
    else:
        op_value = _check_op(path, op_value, from_file=op is None)
        operation = OPERATIONS[op_value]
        role_name = {role: renamed.get(role.lower(), role) for role in operation.roles}
        present = [role for role in operation.roles if role_name[role] in variables]
        roles = _roles_for(path, operation, present, role_name, variables)
    chosen = [(role_name[r], variables[role_name[r]]) for r in roles]
    job = Job(op_value, [], path, variables=chosen)
    _settings(job, settings or {}, request, variables)
    return job


def call_text(job: Job) -> str:
    """The MATLAB call a job makes, as text: ``conv2(A, B, 'same')``."""
    words = [name or "?" for name, _ in (job.operands or job.variables)]
    for use in job.operation.uses:
        value = job.setting(use.setting)
        if value is None:
            continue
        shown = (
            f"'{value}'"
            if isinstance(value, str)
            else (use.variable if use.setting in job.settings else repr(value))
        )
        words += [f"'{use.matlab}'", shown] if use.matlab else [shown]
    return f"{job.operation.function}({', '.join(words)})"


def _settings(job: Job, given: dict[str, object], request: dict, variables: dict) -> None:
    """The operation's settings: the caller's, else the file's request field or variable."""
    for use in job.operation.uses:
        if given.get(use.setting) is not None:
            job.settings[use.setting] = given[use.setting]
            job.setting_variables[use.setting] = None
        elif use.variable in request:
            job.settings[use.setting] = request[use.variable]
            job.setting_variables[use.setting] = use.variable
        elif use.variable in variables:
            variable = variables[use.variable]
            try:
                value = variable.text() if variable.matlab_class == "char" else variable.array()
            except Exception as err:
                if hasattr(err, "where"):
                    raise err.where(file=job.path, variable=use.variable) from None
                raise
            job.settings[use.setting] = value
            job.setting_variables[use.setting] = use.variable


def load_files(
    paths: list,
    *,
    op: str | None = None,
    shape: str | None = None,
    settings: dict[str, object] | None = None,
    hdf5_order: str | None = None,
) -> Job:
    """A job whose operands come one per file, in MATLAB's argument order (see the module doc)."""
    paths = [os.fspath(p) for p in paths]
    if shape is not None:
        settings = {**(settings or {}), "shape": shape}
    if not 2 <= len(paths) <= MAX_OPERAND_FILES:
        msg = (
            f"{len(paths)} operand files given; a job takes 2 (A B, or u v) or 3 (u v A) files, "
            "then OUT"
        )
        raise UsageError(msg)
    operands, headerless = [], True
    for path in paths:
        name, array, plain = _operand(path, hdf5_order)
        operands.append((name, array))
        headerless = headerless and plain
    count = len(paths)
    if op is None:
        if count == 3:
            op = "conv2"
        elif all(_is_vector(a) for _, a in operands):
            op = "conv"
        else:
            op = "convn"
    else:
        op = _check_op(paths[0], op, from_file=False)
    takes = OPERATIONS[op].file_counts
    if count not in takes:
        msg = f"{op} takes {' or '.join(map(str, takes))} operand files, {count} given"
        raise UsageError(msg)
    job = Job(op, operands, paths[0], operand_files=paths, headerless=headerless)
    for use in job.operation.uses:
        value = (settings or {}).get(use.setting)
        if value is not None:
            job.settings[use.setting] = value
            job.setting_variables[use.setting] = None
    return job


def _operand(path: str, hdf5_order: str | None) -> tuple[str | None, np.ndarray, bool]:
    """(variable name or None for headerless text, values, headerless) of an operand file."""
    if formats.kind_of(path) == "delimited":
        from bridge._formats import delimited

        return None, delimited.read_matrix(path), True
    variables, _ = formats.read(path, hdf5_order=hdf5_order)
    if len(variables) != 1:
        msg = (
            f"holds {len(variables)} variables ({_listing(variables)}); a file per operand must "
            "hold exactly one array"
        )
        raise VariableError(msg).where(file=path)
    (variable,) = variables.values()
    return variable.name, variable.array(), False


def _is_vector(array: np.ndarray) -> bool:
    """MATLAB's isvector: 2-D with one dimension of 1 (1x1 and 1x0 too)."""
    return array.ndim <= 2 and 1 in np.atleast_2d(array).shape


def _role_names(given: dict[str, str]) -> dict[str, str]:
    """Role (lower case, as its --flag) -> the variable the caller named for it."""
    flags = {role.lower() for role in _ALL_ROLES}
    unknown = sorted(role for role in given if role.lower() not in flags)
    if unknown:
        words = ", ".join(_ALL_ROLES)
        raise JobError(f"unknown operand roles {', '.join(unknown)}; must be among {words}")
    return {role.lower(): name for role, name in given.items() if name}


def _check_renamed(path: str, renamed: dict[str, str], variables: dict) -> None:
    """A variable the caller named explicitly must exist, whatever the op turns out to need."""
    for flag_name, name in renamed.items():
        if name.lower() != flag_name and name not in variables:
            role = next((r for r in _ALL_ROLES if r.lower() == flag_name), flag_name)
            msg = f"is missing (given for {role}); the file has {_listing(variables)}"
            raise VariableError(msg).where(file=path, variable=name)


_ALL_ROLES = ROLES


def _check_op(path: str, value: str, *, from_file: bool) -> str:
    op = value.strip().lower()
    if op not in OPERATIONS:
        source = "the file's op" if from_file else "op"
        msg = f"{source} '{value}' is not supported; must be one of {_OP_WORDS}"
        raise JobError(msg).where(file=path, variable="op" if from_file else None)
    return op


def _implied(path, present, names, variables) -> tuple[str, tuple[str, ...]]:
    have = frozenset(present)
    if have in _IMPLIED:
        return _IMPLIED[have][:2]
    shown = _and([_shown(r, names) for r in present])
    if any(pattern <= have for pattern in _IMPLIED):
        msg = (
            f"is ambiguous: it has {shown}; add op ('conv', 'conv2' or 'convn') to say which "
            "call, or remove the operands it does not need"
        )
        raise JobError(msg).where(file=path)
    completions = [
        f"{_and([r for r in IMPLYING_ROLES if r in pattern - have])} ({label})"
        for pattern, (_, _, label) in _IMPLIED.items()
        if have and have <= pattern
    ]
    if completions:
        msg = f"has only {shown}: add {' or '.join(completions)}"
    elif have:
        msg = f"has {shown}, which no call takes together; {_WHAT_TO_ADD}"
    else:
        msg = f"has no operands (variables: {_listing(variables)}); {_WHAT_TO_ADD}"
    raise VariableError(msg).where(file=path)


def _roles_for(path, operation: Operation, present, names, variables) -> tuple[str, ...]:
    fits = [form for form in operation.forms if set(form) <= set(present)]
    if operation.name == "conv2" and len(fits) == 2:
        msg = (
            "is ambiguous for conv2: it has u, v and A (separable conv2(u, v, A)) and A and B "
            "(conv2(A, B)); remove B, or u and v"
        )
        raise JobError(msg).where(file=path)
    if fits:
        return fits[0]
    wanted = " or ".join(_and([_shown(r, names) for r in form]) for form in operation.forms)
    msg = f"{operation.name} needs {wanted}; the file has {_listing(variables)}"
    raise VariableError(msg).where(file=path)


def _and(words: list[str]) -> str:
    if not words:
        return ""
    return words[0] if len(words) <= 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _shown(role: str, names: dict[str, str]) -> str:
    return role if names[role] == role else f"{names[role]} (as {role})"


def _listing(variables: dict) -> str:
    return ", ".join(sorted(variables)) if variables else "no variables"


def save_result(
    path,
    result: np.ndarray,
    *,
    out_var: str = "C",
    fmt: str | None = None,
    mat_version: str = "7",
    compress: bool = False,
    hdf5_order: str = "matlab",
) -> None:
    """Write the result as ``out_var`` (atomically; v7.3 automatically when too large for v7)."""
    formats.write(
        path,
        {out_var: result},
        fmt=fmt,
        mat_version=mat_version,
        compress=compress,
        hdf5_order=hdf5_order,
    )
