"""Progress on stderr, for every long-running front door (a streamed job, a batch).

One class, two looks: a rich bar on a terminal (no thread, no redirection of the streams), else
a plain line every :data:`PROGRESS_EVERY` seconds. stdout is never touched: MATLAB reads it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

# Seconds between plain progress lines (stderr not a terminal), and between refreshes of a bar.
PROGRESS_EVERY = 5.0
BAR_EVERY = 0.1


@contextlib.contextmanager
def heartbeat(what: str, stream: TextIO | Lines | None = None) -> Iterator[None]:
    """While the body runs: after :data:`PROGRESS_EVERY` seconds, a line every
    :data:`PROGRESS_EVERY` seconds saying how long ``what`` has taken so far (a long in-memory
    job is otherwise silent). A thread prints it: the kernels release the GIL while they sum."""
    out = stream or sys.stderr
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(PROGRESS_EVERY):
            elapsed = time.monotonic() - started
            with contextlib.suppress(OSError, ValueError):
                out.write(f"bridge: {what}: {elapsed:.0f} s so far\n")
                out.flush()

    thread = threading.Thread(target=beat, name="bridge-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Lines:
    """A text stream for :func:`heartbeat` that hands each complete line (without its newline)
    to ``send``: a warm job's progress travels to its client as messages, not as bytes on a
    stderr that the job's process captures."""

    def __init__(self, send: Callable[[str], None]) -> None:
        self.send = send
        self.pending = ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self.send(line)
        return len(text)

    def flush(self) -> None:
        pass


class Progress:
    """Progress of ``total`` units of work.

    ``delay``: nothing is shown before this many seconds (short jobs print nothing).
    ``line(done, total, elapsed)``: the plain line; ``describe()``: the bar's description.
    ``columns``: the bar's rich columns (default: label, bar, percentage, time left).
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        line: Callable[[int, int, float], str],
        describe: Callable[[], str] | None = None,
        delay: float = 0.0,
        columns: Callable[[], tuple] | None = None,
        done: int = 0,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self.label = label
        self.line = line
        self.describe = describe
        self.delay = delay
        self.columns = columns
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = self.started
        self.done = done
        self.bar: Any = None
        self.task: Any = None
        self.tty = (
            bool(getattr(self.stream, "isatty", lambda: False)())
            and os.environ.get("TERM") != "dumb"
        )
        if self.tty and delay <= 0 and total:
            self._start_bar()

    @property
    def interval(self) -> float:
        return BAR_EVERY if self.bar is not None else PROGRESS_EVERY

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.started < self.delay:
            return
        if self.tty and self.bar is None:
            self._start_bar()
        if now - self.shown < self.interval:
            return
        self.shown = now
        if self.bar is not None:
            self._update()
        else:
            self.say(self.line(self.done, self.total, now - self.started))

    def say(self, text: str) -> None:
        """A line of its own (above the bar, if any)."""
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _start_bar(self) -> None:
        try:
            from rich.console import Console
            from rich.progress import Progress as Bar
        except ImportError:  # no rich: plain lines
            self.tty = False
            return
        columns = self.columns() if self.columns else Bar.get_default_columns()
        self.bar = Bar(
            *columns,
            console=Console(file=self.stream),
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
            transient=self.describe is None,
        )
        self.bar.start()
        self.task = self.bar.add_task(self._description(), total=self.total, completed=self.done)

    def _description(self) -> str:
        return self.describe() if self.describe else self.label

    def _update(self) -> None:
        self.bar.update(self.task, completed=self.done, description=self._description())
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self._update()
            self.bar.stop()
            self.bar = None
