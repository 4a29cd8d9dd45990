"""Settings of bridge's own processes: how signals reach a job, and the heap's tuning.

Used by the front doors (the command line, the warm worker, batch workers), never by a program
that imports bridge as a library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from bridge.errors import EXIT_SIGHUP, EXIT_SIGTERM, Interrupted
from bridge.signals import ASYNC_SIGNALS

_SIGNALS = {"SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT already raises KeyboardInterrupt), so
    that cleanup code runs: the temporary output file is removed. Only signals nobody handles
    yet are taken (a warm server keeps its own), and only in the main thread."""
    taken = {}
    if threading.current_thread() is threading.main_thread():
        for name in _SIGNALS:
            sig = getattr(signal, name, None)
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                taken[sig] = signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig, previous in taken.items():
            signal.signal(sig, previous)


def import_numpy_with_signals_held() -> None:
    """Import numpy with the asynchronous signals blocked in this (the main) thread, then
    unblocked: the threads its BLAS starts as it loads inherit the blocked mask, so SIGINT,
    SIGTERM and SIGHUP reach the main thread, and interrupt whatever it waits in (a slow write).
    Delivered to a BLAS thread, a signal waited until the main thread's wait ended (seen: a
    job interrupted mid-write went on for the rest of a 60 s wait). A signal that comes while
    numpy loads is held until it has loaded, then raised here."""
    if "numpy" in sys.modules or threading.current_thread() is not threading.main_thread():
        return
    if not hasattr(signal, "pthread_sigmask"):
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
    try:
        import numpy  # noqa: F401
    except Exception:
        pass  # the job's own import reports it (bridge:pythonEnv)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def tune_process() -> None:
    """Settings for bridge's own processes (the command line, the server, batch workers), never
    for a program that imports bridge as a library. Called before numpy is imported.

    The heap grows in steps of 64 MB (:func:`_pad_the_heap`).

    numpy asks Linux for transparent huge pages on arrays of 4 MB and more; a job's process is
    new and touches each large array's pages once, and those first touches cost more with the
    request (BENCHMARKS.md). A user's own setting of the variable wins.
    """
    if _TUNED:
        return  # python -m bridge and the MATLAB worker reach cli.main, which tunes too
    _TUNED.append(True)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    _pad_the_heap()


_TUNED: list = []


# glibc's mallopt parameter M_TOP_PAD, and the padding bridge's processes ask for.
_M_TOP_PAD = -2
_TOP_PAD = 64 << 20


def _pad_the_heap() -> None:
    """glibc: grow the heap 64 MB at a time (address space only; pages cost nothing until used).

    A job's arrays then come from the heap and go back to it instead of being mapped and
    unmapped one by one; with the kernels' two threads every unmapping interrupts the other core
    (BENCHMARKS.md, the warm server's job processes). Nothing elsewhere (musl, macOS, Windows).
    """
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_TOP_PAD, _TOP_PAD)


def _glibc():
    """The C library with mallopt, malloc and free typed (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # numpy imports it anyway

    try:
        libc = ctypes.CDLL(None)
        mallopt, malloc, free = libc.mallopt, libc.malloc, libc.free
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.argtypes = [ctypes.c_void_p]
    return libc


# glibc's mallopt parameters M_TRIM_THRESHOLD and M_MMAP_MAX.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def prefault_heap(megabytes: int, stop=None) -> int:
    """glibc, in a warm server's spare job process: touch up to ``megabytes`` of heap now and
    keep them, so that the job's arrays land on pages already mapped; 16 MB at a time, until
    ``stop()`` says a job came. The megabytes touched.

    Every array then comes from the heap (no mmap) and freed memory stays in it (no trimming):
    the process is the job's alone and ends with it. A job's first touches of fresh pages are
    a large share of a big job's time on a virtual machine (BENCHMARKS.md); the spare pays them
    while it waits for a job.
    """
    libc = _glibc() if megabytes > 0 else None
    if libc is None:
        return 0
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)):
        return 0
    import ctypes

    step = 16 << 20
    blocks: list[int] = []  # adjacent pieces of the heap: freed, they merge into its free top
    while len(blocks) * 16 < megabytes and not (stop and stop()):
        block = libc.malloc(step)
        if not block:
            break
        ctypes.memset(block, 0, step)
        blocks.append(block)
    for block in reversed(blocks):
        libc.free(block)
    return len(blocks) * 16


