"""The asynchronous signals (from kill, the terminal, timers) and holding them off for a moment.

bridge's command line, batch workers and server jobs turn SIGTERM, SIGHUP and SIGINT into
exceptions in the main thread. :func:`held` keeps them pending across a step that must not be
cut in two (creating a temporary file and recording its name); :data:`ASYNC` is also what the
kernels' threads block, so that these signals reach the main thread.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

ASYNC = frozenset(
    getattr(signal, name)
    for name in (
        "SIGINT",
        "SIGTERM",
        "SIGHUP",
        "SIGQUIT",
        "SIGALRM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGCHLD",
    )
    if hasattr(signal, name)
)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Asynchronous signals stay pending inside; they are delivered (their handlers may raise)
    when it ends. Nothing is held where the platform cannot (no pthread_sigmask)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
