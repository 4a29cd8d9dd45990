"""What a job file asks for: which function, which shape, which operands in which order.

The job-file contract (README, "Job files"):

* Operands by name: ``A`` and ``B`` for conv2 and convn; ``u`` and ``v`` for conv (``A``/``B``
  accepted too); ``u``, ``v`` and ``A`` for the separable ``conv2(u, v, A)``. Other variables in
  the file are ignored. The caller may map these roles to other names (CLI ``--a/--b/--u/--v``).
* Request: ``op`` ('conv', 'conv2', 'convn') and ``shape`` ('full', 'same', 'valid'; default
  'full') from the file, overridden by the caller's options.
* Without ``op`` the operands decide: exactly u and v -> conv; u, v and A -> separable conv2;
  A and B -> convn (for 2-D operands conv2 and convn agree). Anything else is an error that says
  what to add.

Operands may also come one per file (:func:`load_files`): headerless numeric text as dlmwrite,
writematrix or ``save -ascii`` write it, or any job file holding exactly one array. Two files are
``A B`` (convn, the same as conv2 for matrices), or ``u v`` (conv) when both are vectors; three
files are ``u v A`` (the separable conv2). ``op`` (and only ``op``) can say otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from bridge import formats
from bridge.errors import (
    BridgeError,
    FileFormatError,
    JobError,
    ShapeParameterError,
    UsageError,
    VariableError,
)

OPS = ("conv", "conv2", "convn")
ROLES = ("A", "B", "u", "v")

# op -> the operand lists it accepts, in MATLAB call order, most specific first.
_SIGNATURES = {
    "conv": (("u", "v"), ("A", "B")),
    "conv2": (("u", "v", "A"), ("A", "B")),
    "convn": (("A", "B"),),
}
# Without op: the exact set of operands present -> (op, call order, what to call it).
_IMPLIED = {
    frozenset("uv"): ("conv", ("u", "v"), "conv"),
    frozenset("uvA"): ("conv2", ("u", "v", "A"), "separable conv2"),
    frozenset("AB"): ("convn", ("A", "B"), "convn or conv2"),
}
_WHAT_TO_ADD = (
    "a job needs u and v (conv), u, v and A (separable conv2) or A and B (conv2/convn), "
    "and op ('conv', 'conv2' or 'convn') when more than one of these fits"
)


@dataclass
class Job:
    op: str
    shape: str
    operands: list[tuple[str, np.ndarray]]
    path: str
    # Where shape came from when it was the file's own request field (for error context).
    shape_variable: str | None = None
    # One file per operand (load_files): the file of each operand, and whether all of them were
    # headerless numeric text (then a .txt result is written headerless too).
    operand_files: list[str] | None = None
    headerless: bool = False

    # The operands' variables, in call order (read or not: see load_job's ``read``).
    variables: list = field(default_factory=list, repr=False)

    def read_operands(self) -> None:
        """Read the operands' values (HDF5/v7.3 variables are read on demand)."""
        if not self.operands:
            self.operands = [(name, variable.array()) for name, variable in self.variables]


HEADERLESS_HELP = (
    "holds numbers without array headers (as dlmwrite, writematrix or save -ascii write them), "
    "so bridge cannot tell the operands apart: give each operand its own file "
    "('bridge A.csv B.csv OUT.csv --op conv2', 'bridge u.txt v.txt OUT.txt' for conv), "
    "or write one job file with bridge_write_text, or save('in.mat', 'A', 'B')"
)
MAX_OPERAND_FILES = 3


def load_job(
    path,
    *,
    op: str | None = None,
    shape: str | None = None,
    names: dict[str, str] | None = None,
    hdf5_order: str | None = None,
    read: bool = True,
) -> Job:
    """Read a job file and resolve op, shape and operands (options override the file's request).

    ``read=False`` leaves large HDF5/v7.3 operands unread (``job.variables``; their sizes are
    known) until :meth:`Job.read_operands`: the caller checks what the job will cost first.
    """
    path = os.fspath(path)
    if formats.kind_of(path) == "delimited":
        raise FileFormatError(HEADERLESS_HELP).where(file=path)
    variables, request = formats.read(path, hdf5_order=hdf5_order)
    names = _role_names(names or {})
    present = [role for role in ROLES if names[role] in variables]
    _check_renamed(path, names, variables)
    op_value = op if op is not None else request.get("op")
    if op_value is None:
        op_value, roles = _implied(path, present, names, variables)
    else:
        op_value = _check_op(path, op_value, from_file=op is None)
        roles = _roles_for(path, op_value, present, names, variables)
    shape_variable = None
    if shape is None:
        shape = request.get("shape", "full")
        shape_variable = "shape" if "shape" in request else None
    chosen = [(names[r], variables[names[r]]) for r in roles]
    job = Job(op_value, shape, [], path, shape_variable, variables=chosen)
    if read:
        job.read_operands()
    return job


def load_files(
    paths: list,
    *,
    op: str | None = None,
    shape: str | None = None,
    hdf5_order: str | None = None,
) -> Job:
    """A job whose operands come one per file, in MATLAB's argument order (see the module doc)."""
    paths = [os.fspath(p) for p in paths]
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
    takes = {"conv": (2,), "convn": (2,), "conv2": (2, 3)}[op]
    if count not in takes:
        msg = f"{op} takes {' or '.join(map(str, takes))} operand files, {count} given"
        raise UsageError(msg)
    return Job(op, shape or "full", operands, paths[0], None, paths, headerless)


def _operand(path: str, hdf5_order: str | None) -> tuple[str | None, np.ndarray, bool]:
    """(variable name or None for headerless text, values, headerless) of an operand file."""
    if formats.kind_of(path) == "delimited":
        from bridge.formats import delimited

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
    unknown = sorted(set(given) - set(ROLES))
    if unknown:
        raise JobError(f"unknown operand roles {', '.join(unknown)}; must be among A, B, u, v")
    return {role: given.get(role) or role for role in ROLES}


def _check_renamed(path: str, names: dict[str, str], variables: dict) -> None:
    """A variable the caller named explicitly must exist, whatever the op turns out to need."""
    for role, name in names.items():
        if name != role and name not in variables:
            msg = f"is missing (given for {role}); the file has {_listing(variables)}"
            raise VariableError(msg).where(file=path, variable=name)


def _check_op(path: str, value: str, *, from_file: bool) -> str:
    op = value.strip().lower()
    if op not in OPS:
        source = "the file's op" if from_file else "op"
        msg = f"{source} '{value}' is not supported; must be 'conv', 'conv2' or 'convn'"
        error = JobError(msg).where(file=path, variable="op" if from_file else None)
        raise error
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
        f"{_and([r for r in ROLES if r in pattern - have])} ({label})"
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


def _roles_for(path, op, present, names, variables) -> tuple[str, ...]:
    fits = [sig for sig in _SIGNATURES[op] if set(sig) <= set(present)]
    if op == "conv2" and len(fits) == 2:
        msg = (
            "is ambiguous for conv2: it has u, v and A (separable conv2(u, v, A)) and A and B "
            "(conv2(A, B)); remove B, or u and v"
        )
        raise JobError(msg).where(file=path)
    if fits:
        return fits[0]
    wanted = " or ".join(_and([_shown(r, names) for r in sig]) for sig in _SIGNATURES[op])
    msg = f"{op} needs {wanted}; the file has {_listing(variables)}"
    raise VariableError(msg).where(file=path)


def _and(words: list[str]) -> str:
    if not words:
        return ""
    return words[0] if len(words) <= 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _shown(role: str, names: dict[str, str]) -> str:
    return role if names[role] == role else f"{names[role]} (as {role})"


def _listing(variables: dict) -> str:
    return ", ".join(sorted(variables)) if variables else "no variables"


def run_job(job: Job) -> np.ndarray:
    """Run the job's MATLAB call; errors get the file and the guilty operand's name attached."""
    from bridge import convolution  # the numeric core, imported only when a job runs

    function = getattr(convolution, job.op)
    try:
        return function(*(array for _, array in job.operands), shape=job.shape)
    except BridgeError as e:
        variable, path = None, job.path
        if e.argument is not None and 1 <= e.argument <= len(job.operands):
            variable = job.operands[e.argument - 1][0]
            if job.operand_files:
                path = job.operand_files[e.argument - 1]
        elif isinstance(e, ShapeParameterError):
            variable = job.shape_variable
        elif job.operand_files:
            path = None  # an error about the whole call: no one file to blame
        raise e.where(file=path, variable=variable) from None


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
