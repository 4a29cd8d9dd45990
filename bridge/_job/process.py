"""Settings of bridge's own processes: how signals reach a job, the read guard (a deadline on
reading untrusted files, and stop signals that end a job stuck in C code), and the heap's tuning.

Used by the front doors (the command line, the warm worker, batch workers), never by a program
that imports bridge as a library: :func:`read_guard` does nothing until :func:`tune_process` ran.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bridge._signals import ASYNC_SIGNALS
from bridge.errors import EXIT_DATA, EXIT_SIGHUP, EXIT_SIGINT, EXIT_SIGTERM, Interrupted

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
    _GUARD["enabled"] = True
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


# --- the read guard ------------------------------------------------------------------------------
#
# A read from an untrusted file may never end: a mutated 6 KB HDF5 file makes the HDF5 library
# loop forever reading a root attribute, holding the GIL (plain h5py hangs too). No Python thread
# runs then, and Python's signal handlers, which run only between the main thread's bytecodes,
# never do: SIGTERM, SIGINT and SIGHUP did not stop such a job, only SIGKILL did.
#
# While a job reads, a watchdog (bridge/_job/_watchdog.c, a thread that never takes the GIL)
# waits on the pipe that CPython's C-level signal handler writes each signal's number to
# (signal.set_wakeup_fd) and on a deadline. A stop signal the main thread has not acted on
# within STOP_GRACE seconds (it normally raises, cleans up and reports itself), or the deadline,
# ends the process from that thread: the live temporary outputs bridge._atomic announced are
# removed, the job's one line (prepared here) goes where the job's errors go, and the process
# exits with the job's status (143, 130, 129; 3 for the deadline). Where the extension was not
# built, a Python thread does the same, but only while the read lets go of the GIL.

READ_TIMEOUT_ENV = "BRIDGE_READ_TIMEOUT"  # seconds for every read; 0: no deadline
READ_SECONDS = 60.0  # every read's deadline: this, plus its files' size at SLOW_DISK
SLOW_DISK = 10 << 20  # bytes per second: a USB 2 stick, a busy network share
STOP_GRACE = 1.0  # seconds the main thread has to act on a stop signal itself

STOP_EVENTS = {"SIGINT": EXIT_SIGINT, "SIGTERM": EXIT_SIGTERM, "SIGHUP": EXIT_SIGHUP}

# enabled: bridge's own process (tune_process); depth: guards open in this process; last_words:
# (fd, encode, quiet_stops) for a front door that reports a job's end on a channel of its own.
_GUARD: dict[str, Any] = {"enabled": False, "depth": 0, "last_words": None}
_WATCHDOG: list = []  # the implementation, once chosen: the C module or a _PythonWatchdog


def read_deadline(paths: Sequence[str]) -> float:
    """Seconds a read of ``paths`` may take (0: no deadline): :data:`READ_SECONDS` plus their
    size at :data:`SLOW_DISK`, or the environment's :data:`READ_TIMEOUT_ENV`."""
    given = os.environ.get(READ_TIMEOUT_ENV, "").strip()
    if given:
        try:
            return max(float(given), 0.0)
        except ValueError:
            pass
    size = 0
    for path in paths:
        with contextlib.suppress(OSError):
            size += os.stat(path).st_size
    return READ_SECONDS + size / SLOW_DISK


def set_last_words(
    fd: int | None,
    encode: Callable[[int, str], bytes] | None = None,
    quiet_stops: bool = False,
    exit_status: int | None = None,
) -> None:
    """Where a front door hears of a job the watchdog ended: ``encode(status, line)`` is written
    to ``fd`` instead of the line to stderr (``line`` is '' when the error file took it);
    ``quiet_stops``: a stop signal ends the process without a line (a batch worker's stop is the
    batch's business); ``exit_status``: the process's status then, instead of the job's (a warm
    worker's job process answers the status and exits 0). ``fd`` None: back to stderr."""
    _GUARD["last_words"] = None if fd is None else (fd, encode, quiet_stops, exit_status)


@contextlib.contextmanager
def read_guard(
    paths: Sequence[str],
    *,
    error_file: str | None = None,
    protect: Sequence[str] = (),
    deadline: bool = True,
) -> Iterator[None]:
    """Guard the reading of ``paths`` (see above): a deadline (:func:`read_deadline`; none with
    ``deadline=False``) and stop signals that end the process even while the main thread is
    stuck in C code. ``error_file`` gets the line by :func:`bridge._job.outcome.write_error_file`'s
    rule, never when it is one of ``protect`` (IN, OUT). Nothing in library use (before
    :func:`tune_process`), nothing when already inside a guard, nothing outside the main thread
    (a job run by a thread of a process that does other things must not end that process; bridge's
    own jobs run on the main thread of the command line, batch workers, warm job processes)."""
    if (
        not _GUARD["enabled"]
        or _GUARD["depth"]
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    seconds = read_deadline(paths) if deadline else 0.0
    watchdog = _watchdog()
    target = None
    if error_file and not _is_one_of(error_file, protect):
        target = os.fsencode(error_file)
    words = _GUARD["last_words"]
    channel = words[0] if words else -1
    previous = None
    try:
        previous = signal.set_wakeup_fd(watchdog.wakeup_fd(), warn_on_full_buffer=False)
        forward = previous if previous >= 0 else -1
        watchdog.arm(seconds, STOP_GRACE, forward, channel, target, _events(paths, seconds))
    except OSError:  # no pipe or thread to be had (out of descriptors): read unguarded
        if previous is not None:
            signal.set_wakeup_fd(previous)
        previous = watchdog = None
    if watchdog is None:
        yield
        return
    _GUARD["depth"] += 1
    try:
        yield
    finally:
        _GUARD["depth"] -= 1
        if previous is not None:
            signal.set_wakeup_fd(previous)
        watchdog.disarm()


def _events(paths: Sequence[str], seconds: float) -> list[tuple]:
    """(key, status, line, channel line, channel quiet) for the deadline (key 0) and each stop
    signal, as :func:`bridge._job.outcome.report_interrupt` and the job's errors word them."""
    from bridge._job import outcome

    words = _GUARD["last_words"]
    encode, quiet, exit_status = words[1:] if words else (None, False, None)
    shown = f"{round(seconds, 1):g}"
    where = ", ".join(paths)
    texts = {
        0: (
            EXIT_DATA,
            f"{where}: reading took more than {shown} s; the file may be malformed "
            "(bridge:readTimeout)",
        )
    }
    for name, status in STOP_EVENTS.items():
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        if name == "SIGINT":
            text = "interrupted (bridge:interrupted)"
        else:
            text = f"stopped by {name}; no output was written (bridge:interrupted)"
        texts[int(sig)] = (status, "" if quiet else text)
    events = []
    for key, (status, text) in texts.items():
        line = outcome.error_line(text) + "\n" if text else ""
        if encode is None:
            events.append((key, status, line.encode(), None, None))
        else:
            end = status if exit_status is None else exit_status
            events.append((key, end, line.encode(), encode(status, line), encode(status, "")))
    if seconds <= 0:
        events = [event for event in events if event[0] != 0]
    return events


def _is_one_of(path: str, others: Sequence[str]) -> bool:
    for other in others:
        try:
            if os.path.abspath(other) == os.path.abspath(path) or (
                os.path.exists(other) and os.path.exists(path) and os.path.samefile(other, path)
            ):
                return True
        except (OSError, ValueError):
            return True
    return False


def _watchdog() -> Any:
    """The watchdog (the C extension, else a Python thread), told of live temporary outputs."""
    if not _WATCHDOG:
        try:
            from bridge._job import _watchdog as native  # type: ignore[attr-defined]

            chosen: Any = native
        except ImportError:
            chosen = _PythonWatchdog()
        from bridge import _atomic as atomic

        def announce(path: str, live: bool) -> None:
            chosen.register(os.fsencode(os.path.abspath(path)), live)

        atomic.TEMPORARY_WATCHERS.append(announce)
        _WATCHDOG.append(chosen)
    return _WATCHDOG[0]


_TICK = 0.25  # seconds: the watchdog looks at its settings at least this often


class _PythonWatchdog:
    """The watchdog where bridge/_job/_watchdog.c was not built: the same rules in a Python
    thread, which runs only while the main thread lets go of the GIL (a read stuck in C code
    holding it is then ended only by SIGKILL, as before)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = -1
        self.armed = False
        self.settings: tuple = ()
        self.pending: tuple[int, float] | None = None
        self.until = 0.0
        self.live: set[bytes] = set()

    def _start(self) -> None:
        if self.pid == os.getpid():
            return
        self.pid = os.getpid()  # a forked child starts afresh
        self.armed, self.pending, self.live = False, None, set()
        self.wake = os.pipe()
        for fd in self.wake:
            os.set_blocking(fd, False)
        threading.Thread(target=self._watch, name="bridge-watchdog", daemon=True).start()

    def wakeup_fd(self) -> int:
        with self.lock:
            self._start()
            return self.wake[1]

    def arm(self, seconds, grace, forward, channel, error_file, events) -> None:
        import time

        with self.lock:
            self._start()
            until = time.monotonic() + seconds if seconds > 0 else None
            self.settings = (until, grace, forward, channel, error_file, {e[0]: e for e in events})
            self.armed, self.pending = True, None

    def disarm(self) -> None:
        with self.lock:
            self.armed, self.pending = False, None

    def register(self, path: bytes, live: bool) -> None:
        with self.lock:
            (self.live.add if live else self.live.discard)(path)

    def _watch(self) -> None:
        import select
        import time

        with contextlib.suppress(AttributeError, OSError):
            signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)
        while True:
            timeout = _TICK  # arm and disarm never wake this thread (it would take the GIL)
            with self.lock:
                if self.armed:
                    until = [t for t in (self.settings[0], self.pending and self.pending[1]) if t]
                    if until:
                        timeout = min(max(min(until) - time.monotonic(), 0.0), _TICK)
            ready, _, _ = select.select([self.wake[0]], [], [], timeout)
            data = b""
            if self.wake[0] in ready:
                with contextlib.suppress(OSError):
                    data = os.read(self.wake[0], 4096)
            with self.lock:
                if not self.armed:
                    continue
                until, grace, forward, channel, error_file, events = self.settings
                if data and forward >= 0:
                    with contextlib.suppress(OSError):
                        os.write(forward, data)
                for sig in data:
                    if self.pending is None and sig in events:
                        self.pending = (sig, time.monotonic() + grace)
                now = time.monotonic()
                if self.pending is not None and now >= self.pending[1]:
                    self._finish(events[self.pending[0]], channel, error_file)
                if until is not None and now >= until and 0 in events:
                    self._finish(events[0], channel, error_file)

    def _finish(self, event: tuple, channel: int, error_file: bytes | None) -> None:
        from bridge._job import outcome

        _, status, line, channel_line, channel_quiet = event
        for path in self.live:
            with contextlib.suppress(OSError):
                os.remove(path)
        try:
            if error_file is not None and outcome.write_error_file(
                os.fsdecode(error_file), line.decode()
            ):
                if channel >= 0 and channel_quiet is not None:
                    os.write(channel, channel_quiet)
            elif channel >= 0 and channel_line is not None:
                os.write(channel, channel_line)
            elif line:
                os.write(2, line)
        finally:
            os._exit(status)
