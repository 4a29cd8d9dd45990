"""Atomic file output: a result file is either complete or absent, never half-written.

MATLAB reads the output as soon as the bridge process exits; a crash, a full disk or an error
mid-write must not leave a truncated file that ``load`` would half-read, nor destroy the output of
an earlier run. So every writer writes a temporary file in the destination folder (same file
system, so the final rename is atomic), flushes it to disk, and only then renames it over the
destination with ``os.replace``. On any exception, including KeyboardInterrupt and the
:class:`bridge.errors.Interrupted` that SIGTERM and SIGHUP raise in the CLI, the temporary file is
removed. A read-only destination is refused, as MATLAB's ``save`` refuses it.

A process killed outright (SIGKILL, a power cut) cannot remove its temporary file. Its name says
who made it (``.OUT.<host>.<pid>.<random>.tmp``), so the next write of the same OUT removes the
temporaries of this host whose process is gone; another host's, or a living process's, are left.
A process that ends itself from another thread (bridge/_job/process.py's watchdog, when a job
stuck in C code is stopped) learns of each live temporary file through
:data:`TEMPORARY_WATCHERS` and removes it first.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from bridge.errors import BridgeError, OutputError

# Called with (temporary path, True) once a temporary output exists and (path, False) once it is
# renamed or removed: bridge's own processes register their watchdog here (never the library).
TEMPORARY_WATCHERS: list[Callable[[str, bool], None]] = []


def _announce(tmp: str, live: bool) -> None:
    for watcher in TEMPORARY_WATCHERS:
        watcher(tmp, live)


def _mode_for(path: Path) -> int:
    """Permissions the output should get: those of the file it replaces, else 0o666 minus umask.

    mkstemp creates 0o600 files; without this a result would be unreadable to the user's group
    where a plain open() would have made it readable.
    """
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _read_only(path: Path) -> bool:
    """An existing file without write permission (0444): refused even where the folder would
    allow replacing it (and even for root), as MATLAB's save refuses it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _host() -> str:
    """This machine's name as it goes into a temporary file's name (no dots, no separators)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", os.uname().nodename)[:64] or "host"


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{_host()}.{os.getpid()}.{secrets.token_hex(6)}.tmp"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files of ``path`` left by processes of this host that are gone
    (killed before they could clean up); the names removed."""
    path = Path(path)
    return _sweep(path.parent, re.escape(f".{path.name}."))


def sweep_folder(folder: str | os.PathLike) -> list[str]:
    """:func:`remove_stale_temporaries` for every file of ``folder`` at once: what a batch does
    before it writes thousands of results there (it then skips the sweep of each write)."""
    return _sweep(Path(folder), r"\..+\.")


def _sweep(folder: Path, start: str) -> list[str]:
    pattern = re.compile(start + re.escape(f"{_host()}.") + r"(\d+)\.[0-9a-f]{12}\.tmp\Z")
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.remove(folder / name)
                removed.append(name)
    return removed


# Whether each write sweeps its OUT's stale temporaries (a listing of OUT's folder). A batch's
# workers write thousands of results into one folder, which the batch sweeps once instead.
SWEEP_EACH_WRITE = True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed, ``path`` is left as it was, and OS errors are
    re-raised as OutputError naming the file.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"the folder '{folder}' does not exist").where(file=str(path))
    if path.is_dir():
        raise OutputError("is a folder, not a file name").where(file=str(path))
    if _read_only(path):
        msg = "is read-only; make it writable or choose another name (MATLAB's save refuses too)"
        raise OutputError(msg).where(file=str(path))
    if SWEEP_EACH_WRITE:
        remove_stale_temporaries(path)
    tmp = None
    try:
        # The name is known here before the file exists, so that a signal raised as an
        # exception at any point (even inside the open) finds it and removes it; mkstemp would
        # create the file before returning its name (seen: a batch interrupted at the terminal
        # left one).
        for _ in range(100):
            tmp = str(_temporary_name(path))
            try:
                os.close(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
                _announce(tmp, True)
                break
            except FileExistsError:
                tmp = None  # someone else's: never removed below
        else:
            raise FileExistsError(errno.EEXIST, "no unused temporary name")
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            _announce(tmp, False)
        if not isinstance(e, OSError):
            raise
        msg = f"cannot create a file in the folder '{folder}': {e.strerror or e}"
        raise OutputError(msg).where(file=str(path)) from e
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, BridgeError):
            msg = f"cannot be written: {e.strerror or e}"
            raise OutputError(msg).where(file=str(path)) from e
        raise
    finally:
        _announce(tmp, False)
