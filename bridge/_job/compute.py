"""A read job's library call: its operation's function with the operands and settings in
MATLAB's argument order, and errors named after the job file's variables."""

from __future__ import annotations

import numpy as np

from bridge._job.files import Job
from bridge.errors import BridgeError, ShapeParameterError


def arguments(job: Job) -> tuple[list[object], dict[int, str | None]]:
    """The call's positional arguments, and for each 1-based position past the operands the
    job-file variable (or None: the command line) its value came from."""
    # Unread operands (a job planned from its headers) keep their places as their variables.
    args: list[object] = [value for _, value in (job.operands or job.variables)]
    sources: dict[int, str | None] = {}
    for use in job.operation.uses:
        value = job.settings.get(use.setting, use.default)
        if value is None:
            continue
        if use.matlab is not None:
            args.append(use.matlab)
        args.append(value)
        sources[len(args)] = job.setting_variables.get(use.setting)
        if use.matlab is not None:
            sources[len(args) - 1] = sources[len(args)]
    return args, sources


def compute(job: Job) -> np.ndarray:
    """Run the job's MATLAB call; errors get the file and the guilty variable attached."""
    import bridge  # the library's public functions, imported only when a job runs

    function = getattr(bridge, job.operation.function)
    args, _ = arguments(job)
    try:
        return function(*args)
    except BridgeError as e:
        raise named(job, e) from None


def named(job: Job, error: BridgeError) -> BridgeError:
    """``error`` of the job's call with the file and the job-file variable it is about: the
    operand at its argument's position, or the setting's variable."""
    _, sources = arguments(job)
    names = [name for name, _ in (job.operands or job.variables)]
    variable: str | None = None
    path: str | None = job.path
    if error.argument is not None and 1 <= error.argument <= len(names):
        variable = names[error.argument - 1]
        if job.operand_files:
            path = job.operand_files[error.argument - 1]
    elif error.argument is not None and error.argument in sources:
        variable = sources[error.argument]
    elif isinstance(error, ShapeParameterError):
        variable = job.setting_variables.get("shape")
    elif job.operand_files:
        path = None  # an error about the whole call: no one file to blame
    return error.where(file=path, variable=variable)
