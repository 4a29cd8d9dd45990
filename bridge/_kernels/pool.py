"""Threads for the kernels: one persistent pool, and BLAS kept to one thread inside it.

The pool is created on first use and lives as long as the process (a warm ``bridge serve``
reuses it for every job). Work is cut into shares: the calling thread runs the first, the pool
the others, so nested or concurrent callers never wait on a full pool with nothing running
(:func:`in_threads`); or, for loops over adjacent rows, blocks the calling thread takes from the
front and the pool from the back (:func:`from_both_ends`).
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque

from bridge._signals import ASYNC_SIGNALS

# Threads for the direct path, the banded products and the FFTs (the benchmark machine has 2).
THREADS = max(1, min(2, os.cpu_count() or 1))

_POOL = None
_LOCK = threading.Lock()


def _pool():
    global _POOL
    if _POOL is None:
        with _LOCK:
            if _POOL is None:
                from concurrent.futures import ThreadPoolExecutor

                _POOL = ThreadPoolExecutor(
                    max(1, THREADS - 1),
                    thread_name_prefix="bridge-kernel",
                    initializer=_block_signals,
                )
    return _POOL


def _block_signals() -> None:
    """In a kernel thread: leave the process's asynchronous signals to the main thread.

    The kernel may deliver SIGTERM, SIGINT or SIGHUP to any thread that does not block it.
    Python runs the handler in the main thread either way, but only a signal delivered to the
    main thread interrupts what it is waiting in (a sleep, a read): otherwise the job would
    stop only once that wait ended.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, ASYNC_SIGNALS)


def in_threads(run, blocks) -> None:
    """Run ``run`` on interleaved shares of ``blocks``, one share per thread (this one too)."""
    if THREADS == 1 or len(blocks) < 2:
        run(blocks)
        return
    shares = [blocks[k::THREADS] for k in range(THREADS)]
    futures = [_pool().submit(run, s) for s in shares[1:]]
    try:
        run(shares[0])
    finally:
        for f in futures:
            f.result()


def from_both_ends(run_one, blocks) -> None:
    """Run ``run_one(block)`` on every block of ``blocks``: the calling thread takes them from
    the front, the pool's threads from the back, each the next one once it has finished one.

    For loops over adjacent rows: each thread's blocks stay mostly adjacent (the rows one reads
    ahead are its own next ones), and a thread the machine delays takes fewer blocks instead of
    leaving its fixed share to be waited for. A pool thread that has not started by the time
    the caller has run out of blocks is cancelled, not waited for.
    """
    if THREADS == 1 or len(blocks) < 2:
        for block in blocks:
            run_one(block)
        return
    queue = deque(blocks)
    # Emptied on return: a cancelled task waits in the pool's queue until a thread takes it,
    # and must not keep run_one's arrays alive that long (the next call's output could not
    # reuse their memory, and would fault its pages in anew).
    task = [run_one]

    def back() -> None:
        while queue:
            try:
                block = queue.pop()
            except IndexError:  # the other end took the last one
                return
            task[0](block)

    futures = [_pool().submit(back) for _ in range(min(THREADS, len(blocks)) - 1)]
    try:
        while queue:
            try:
                block = queue.popleft()
            except IndexError:
                break
            run_one(block)
    except BaseException:
        queue.clear()  # the error is the answer: the other threads stop after their block
        raise
    finally:
        for f in futures:
            if not f.cancel():
                f.result()
        task.clear()


class single_threaded_blas:
    """Context: BLAS runs each product on one thread (threadpoolctl); restored on exit.

    Our own threads take blocks of rows: a threaded BLAS spinning on every small product is
    many times slower on a busy machine. threadpoolctl is imported only here, on the paths that
    call BLAS; without it (not installed) BLAS keeps its own threads.
    """

    def __enter__(self):
        controller = _controller()
        self.ctx = None if controller is None else controller.limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()


_CONTROLLER: list = []


def _controller():
    """threadpoolctl's view of the loaded thread pools, made once (None without threadpoolctl)."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]
