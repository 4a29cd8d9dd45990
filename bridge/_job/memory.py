"""The memory budget of a job: ``--max-memory`` or half of the machine's memory.

Kept apart from :mod:`bridge._job.stream`, so that a small job, which :func:`obviously_fits`,
never loads the streaming planner.
"""

from __future__ import annotations

import math
import os
import re

from bridge.errors import UsageError

# Fraction of the available memory a job may use by default, and the budget when the system does
# not say what is available.
DEFAULT_FRACTION = 0.5
FALLBACK_BUDGET = 2 << 30
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*\Z", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size like '512M', '4G', '1.5GiB', '800000000' (binary units)."""
    match = _SIZE.match(str(text))
    if not match:
        msg = f"{{max_memory}} '{text}' is not a size; write it like 512M, 4G or 1.5GiB"
        raise UsageError(msg, arguments=("max_memory",))
    value = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if value < 1 << 20:
        msg = f"{{max_memory}} '{text}' is below 1M; bridge needs at least that"
        raise UsageError(msg, arguments=("max_memory",))
    return int(value)


def physical_memory() -> int | None:
    """The memory this machine (or this container's cgroup, where it sets a limit) has, in
    bytes: MemTotal of /proc/meminfo, else sysconf; None if neither says."""
    total = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if total is None:
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total


def default_budget() -> int:
    """Half of the machine's memory (:func:`physical_memory`): the same for every run of a job
    on a machine, so whether it streams never depends on what else runs at its start."""
    total = physical_memory()
    if not total:
        return FALLBACK_BUDGET
    return max(int(total * DEFAULT_FRACTION), 64 << 20)


def budget(max_memory: str | None) -> int:
    return default_budget() if max_memory is None else parse_size(max_memory)


def obviously_fits(sizes: list[tuple[int, ...]], limit: int) -> bool:
    """True when a job of operands of these MATLAB sizes fits ``limit`` bytes whatever the
    operation, class and shape: every operand and a result of at most the product of the
    summed sizes (the largest full convolution), at 16 bytes an element (complex double) and
    eight copies of each (well above the planner's own estimate). False: ask the planner."""
    if not sizes:
        return True
    ndim = max(len(s) for s in sizes)
    padded = [tuple(s) + (1,) * (ndim - len(s)) for s in sizes]
    result = math.prod(sum(d[k] for d in padded) for k in range(ndim))
    elements = sum(math.prod(s) for s in padded) + result
    return elements * 16 * 8 <= limit
