"""The signals that come from outside the process, and what bridge's threads do with them.

Ground layer: imported by the kernels (whose threads block these signals) and by every front
door; imports nothing of bridge.
"""

from __future__ import annotations

import signal

# Signals that come from outside (kill, the terminal, timers): blocked in every thread but the
# main one (numpy's BLAS threads, the kernels' pool), so that they interrupt the main thread.
ASYNC_SIGNALS = frozenset(
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

# The signals that ask a process of bridge's to stop (kill's default, Ctrl-C). Held back while a
# front door forks (the server's job processes, batch's workers): a handler that runs while
# os.fork's at-fork hooks run (logging has one) is lost if it raises, since the hook swallows
# the exception; held, the signal is taken once the fork is done.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
