"""``bridge batch JOB... --out-dir DIR``: many job files in one call, with progress, a report and
resume, on long-lived local worker processes or as tasks on a Dask distributed cluster.

Each job is the single-job command's: :func:`bridge._job.runner.run_captured` runs it with the
same code, so its output (written atomically by the formats) and its exit status and error line are
exactly those of ``bridge IN OUT`` with the same options. What this module adds:

* the job list: files, folders (their job files; recursive with ``--recursive``) and glob
  patterns expanded here, so that a quoted pattern works from MATLAB's ``system()``; the output
  of IN is ``DIR/<IN's name>`` (extension changed by ``--to``), and two inputs writing one output,
  or an output that is an input, is a usage error before anything runs;
* the workers: ``--jobs N`` processes (default: the cores this process may use), forked on Linux
  after numpy and bridge are imported once, each running many jobs; a job costs its own work plus
  a pipe round trip. A worker that dies fails only its job and is replaced;
* ``--scheduler ADDRESS``: the jobs as tasks on an existing Dask cluster (dask is imported only
  then; files on storage every worker sees);
* progress on stderr (a rich bar on a terminal, else a plain line every few seconds), every failed
  job's line, the report (``.csv`` or ``.json``) and a last summary line;
* Ctrl-C (SIGINT) or SIGTERM: workers abandon their job (atomic writes leave no partial file), the
  report lists what was done, exit status 130.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

from bridge import _atomic
from bridge._atomic import remove_stale_temporaries, sweep_folder
from bridge._job import outcome, process
from bridge._job import progress as job_progress
from bridge._job.options import (
    BATCH_OPTIONS,
    JOB_EXTENSIONS,
    JOB_OPTIONS,
    ROLE_FLAGS,
    TARGETS,
    scan,
)
from bridge._job.outcome import PROG
from bridge._job.runner import Request, check_identifier, import_numeric_stack, run_captured
from bridge._signals import STOP_SIGNALS
from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    BridgeError,
    OutputError,
    UsageError,
)

REPORT_KINDS = (".csv", ".json")
REPORT_COLUMNS = ("input", "output", "status", "exit", "message", "seconds", "worker")
EXIT_INTERRUPTED = 130
IN_FLIGHT = 2  # tasks queued per local worker, so that it never waits for the parent
CONNECT_TIMEOUT = 10.0  # seconds to reach a Dask scheduler
_GLOB = re.compile(r"[*?[]")


def parse(argv: list[str]) -> dict | None:
    """The parameters of ``bridge batch`` + ``argv`` (:func:`run`'s), or None: ask Typer (help,
    usage errors, anything it might read differently). The fast path: no Typer to build."""
    scanned = scan(argv, (*JOB_OPTIONS, *BATCH_OPTIONS))
    if scanned is None:
        return None
    params, job_files = scanned
    if not job_files or params["out_dir"] is None:
        return None
    own = {option.name: params.pop(option.name) for option in BATCH_OPTIONS}
    return {"job_files": job_files, **own, "job_options": params}


def main(argv: list[str]) -> int | None:
    """Run ``bridge batch`` + ``argv`` without Typer; its exit status, or None: ask Typer."""
    params = parse(argv)
    if params is None:
        return None
    job_options = params["job_options"]
    try:
        return run(**params)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        outcome.report("interrupted (bridge:interrupted)", job_options["error_file"], False)
        return EXIT_INTERRUPTED
    except Exception as err:
        return outcome.report_error(err, job_options["error_file"], job_options["debug"])


class SchedulerError(BridgeError):
    """The Dask scheduler cannot be reached (a bad --scheduler address, or a cluster that is
    down): nothing ran."""

    default_identifier = "bridge:scheduler"
    exit_code = EXIT_USAGE


class EnvironmentProblem(BridgeError):
    """dask[distributed] is missing from this Python (exit status 5, as numpy missing is)."""

    default_identifier = "bridge:pythonEnv"
    exit_code = EXIT_ENVIRONMENT


@dataclass
class Row:
    """One line of the report."""

    input: str
    output: str
    status: str = ""  # ok, failed, skipped; '' not run (yet)
    exit: int = 0
    message: str = ""
    seconds: float = 0.0
    worker: str = ""


def run(
    job_files: list[str],
    *,
    out_dir: str,
    jobs: int | None = None,
    report: str | None = None,
    resume: bool = False,
    scheduler: str | None = None,
    to: str | None = None,
    recursive: bool = False,
    job_options: dict,
) -> int:
    """Run the batch; its exit status. Usage problems raise before anything runs or is created."""
    started = time.monotonic()
    # --error-file is the batch's own (usage errors); a job's line goes to the report.
    options = {k: v for k, v in job_options.items() if k != "error_file"}
    _check_options(options)
    if report is not None and os.path.splitext(report)[1].lower() not in REPORT_KINDS:
        raise UsageError("the report must be a .csv or a .json file", file=report)
    rows = plan(expand(job_files, recursive=recursive, out_dir=out_dir), out_dir, to, report)
    if report is not None and not os.path.isdir(os.path.dirname(os.path.abspath(report))):
        raise OutputError("the report's folder does not exist", file=report)
    client = _connect(scheduler) if scheduler else None  # before anything is created
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as err:
        if client is not None:
            client.close()
        msg = f"cannot create the output folder: {err.strerror or err}"
        raise OutputError(msg, file=out_dir) from err
    # Temporaries a killed batch left here (its workers skip this sweep on each write).
    sweep_folder(out_dir)
    if resume:
        for row in rows:
            if os.path.exists(row.output):
                row.status = "skipped"
    todo = [row for row in rows if not row.status]
    progress = Progress(len(rows), len(rows) - len(todo))
    interrupted = False
    restore = _stop_on_sigterm()
    try:
        if client is not None:
            _run_dask(client, todo, options, progress)
        elif todo:
            _run_local(todo, options, jobs or cores(), progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        restore()
        progress.close()
    done = [row for row in rows if row.status]
    if report is not None:
        write_report(report, done if interrupted else rows)
    counts = {s: sum(row.status == s for row in rows) for s in ("ok", "failed", "skipped")}
    summary = f"{PROG}: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped"
    if interrupted:
        summary += f", {len(rows) - len(done)} not run (interrupted)"
    summary += f" in {time.monotonic() - started:.1f} s"
    if report is not None:
        summary += f"; report: {report}"
    sys.stderr.write(summary + "\n")
    sys.stderr.flush()
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_DATA if counts["failed"] else EXIT_OK


# --- the job list --------------------------------------------------------------------------


def expand(job_args: list[str], *, recursive: bool = False, out_dir: str | None = None) -> list:
    """The job files of JOB arguments, in order, each once: a file as given, a folder's job files
    (sorted; recursive with ``recursive``; hidden files and folders and the output folder left
    out), and a glob pattern's matches as if the shell had expanded it (``**`` spans folders)."""
    import glob

    found: list[str] = []
    seen: set[str] = set()
    skip = os.path.realpath(out_dir) if out_dir else None

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)

    def take(path: str) -> None:
        if os.path.isdir(path):
            for name in _folder(path, recursive, skip):
                add(name)
        else:
            add(path)

    for arg in job_args:
        if os.path.exists(arg):
            take(arg)
        elif _GLOB.search(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                msg = "no file matches this pattern"
                raise UsageError(msg, file=arg, identifier="bridge:noInput")
            for match in matches:
                take(match)
        else:
            raise UsageError("no such file or folder", file=arg, identifier="bridge:noInput")
    return found


def _folder(folder: str, recursive: bool, skip: str | None):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != skip
        )
        for name in sorted(files):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in JOB_EXTENSIONS:
                yield os.path.join(root, name)
        if not recursive:
            break


def plan(inputs: list[str], out_dir: str, to: str | None, report: str | None = None) -> list[Row]:
    """A row per input with its output ``DIR/<name>``; usage errors for outputs that collide."""
    inputs_by_key = {os.path.realpath(path): path for path in inputs}
    writers: dict[str, str] = {}
    rows = []
    for infile in inputs:
        name = os.path.basename(infile)
        if to is not None:
            name = os.path.splitext(name)[0] + TARGETS[to]
        outfile = os.path.join(out_dir, name)
        key = os.path.realpath(outfile)
        if key in writers:
            msg = (
                f"{writers[key]} and {infile} would both write {outfile}; "
                "rename one or run them in two batches"
            )
            raise UsageError(msg)
        if key in inputs_by_key:
            other = inputs_by_key[key]
            what = "is this job's input" if other == infile else f"is the input {other}"
            msg = f"the output {outfile} {what}; choose another --out-dir or --to"
            raise UsageError(msg, file=infile)
        writers[key] = infile
        rows.append(Row(infile, outfile))
    if report is not None:
        key = os.path.realpath(report)
        if key in writers or key in inputs_by_key:
            raise UsageError("the report would overwrite a job's input or output", file=report)
    return rows


def _check_options(options: dict) -> None:
    """The options every job would reject alike: a usage error before anything runs."""
    for name in (*ROLE_FLAGS, "out_var"):
        if options.get(name):
            check_identifier(options[name])
    fmt = options.get("fmt")
    if fmt:
        from bridge._formats import FORMATS

        known = sorted(set(FORMATS.values()))
        if fmt not in known:
            raise UsageError(f"format '{fmt}' is not supported; must be one of {known}")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --- the report and the progress -------------------------------------------------------------


def write_report(path: str, rows: list[Row]) -> None:
    """The report, atomically: CSV with a header line, or JSON (a list of objects)."""
    from bridge._atomic import atomic_path

    records = [asdict(row) for row in rows]
    for record in records:
        record["seconds"] = round(record["seconds"], 6)
    with atomic_path(path) as tmp:
        if path.lower().endswith(".json"):
            import json

            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(records, f, indent=1)
                f.write("\n")
        else:
            import csv

            with open(tmp, "w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=REPORT_COLUMNS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(records)


class Progress(job_progress.Progress):
    """The batch's progress: jobs done with their counts (ok, failed, skipped) and every failed
    job's line as it comes."""

    def __init__(self, total: int, skipped: int) -> None:
        self.counts = {"ok": 0, "failed": 0, "skipped": skipped}
        super().__init__(
            total,
            f"{PROG} batch",
            line=self._line,
            describe=self._counts,
            columns=self._columns,
            done=skipped,
        )

    def _columns(self) -> tuple:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return (
            TextColumn(f"{PROG} batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )

    def _counts(self) -> str:
        c = self.counts
        return f"{c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped"

    def _line(self, done: int, total: int, elapsed: float) -> str:
        return f"{PROG}: {done} of {total} jobs done ({self._counts()}) in {elapsed:.0f} s"

    def finished(self, row: Row) -> None:
        self.counts[row.status] += 1
        if row.status == "failed":
            self.say(row.message)
        self.advance(1)


def _stop_on_sigterm():
    """SIGTERM stops the batch as Ctrl-C does (in the main thread); returns the undo."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


# --- local workers ---------------------------------------------------------------------------


def _preload() -> None:
    """Import what every job needs once, before the workers are forked (exit 5 if numpy is
    missing, as for a single job)."""
    import_numeric_stack()


def _worker_main(conn, options: dict, parent: int, words: int = -1) -> None:
    """A worker: run (index, IN, OUT) tasks from ``conn`` until None, answering (index, exit
    status, error line, seconds) for each. A first SIGINT or SIGTERM abandons the running job
    (its output is written atomically, so nothing partial is left) and ends the worker; one that
    comes while a finished job's answer is on its way ends the worker after the answer. The
    worker ends with the batch process ``parent``, however that dies (:func:`_end_with`)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    signal.signal(signal.SIGTERM, _interrupt_once)
    _atomic.SWEEP_EACH_WRITE = False  # the batch swept DIR before its workers started
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held while it forked (_Worker)
        if words >= 0:  # a job the watchdog ends (a read past its deadline): its line, for died()
            process.set_last_words(words, lambda status, line: line.encode(), quiet_stops=True)
        _end_with(parent)
        while True:
            task = conn.recv()
            if task is None:
                return
            index, infile, outfile = task
            start = time.perf_counter()
            status, line = run_captured(_request(options, infile, outfile))
            _STATE["answering"] = True
            conn.send((index, status, line, time.perf_counter() - start))
            _STATE["answering"] = False
            if _STATE["stop"]:
                return
    except (KeyboardInterrupt, EOFError, OSError):
        return


_STATE = {"answering": False, "stop": False}  # a worker's: see _worker_main
# Linux's prctl option: a signal for this process when its parent dies.
_PR_SET_PDEATHSIG = 1
ORPHAN_GRACE = 5.0  # seconds an orphaned worker has to clean up after SIGTERM


def _end_with(parent: int) -> None:
    """End this worker when the batch process ``parent`` dies, even by SIGKILL: its end of the
    pipe stays open in the workers forked after this one, so no read here would see the end.
    Linux sends SIGTERM at once (prctl); a watcher thread exits the process if it still runs
    :data:`ORPHAN_GRACE` seconds after its parent is gone (a job inside C code, which no Python
    signal handler interrupts), elsewhere it is the only means."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(EXIT_INTERRUPTED)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(ORPHAN_GRACE)
        os._exit(EXIT_INTERRUPTED)

    threading.Thread(target=watch, name="bridge-orphan-watch", daemon=True).start()


def _interrupt_once(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _STATE["answering"]:
        _STATE["stop"] = True
        return
    raise KeyboardInterrupt


class _Worker:
    def __init__(self, context, options: dict) -> None:
        self.conn, child = context.Pipe()
        self.words, words = os.pipe()  # bridge._job.process.set_last_words
        self.process = context.Process(
            target=_worker_main, args=(child, options, os.getpid(), words), daemon=True
        )
        # The stop signals are held while the worker forks (bridge._signals.STOP_SIGNALS): the
        # worker takes them once its handlers are in place (_worker_main), the batch here.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        child.close()
        os.close(words)
        self.queued: deque[int] = deque()  # tasks sent, oldest (running) first

    def send(self, index: int, row: Row) -> None:
        self.conn.send((index, row.input, row.output))
        self.queued.append(index)

    def died(self) -> tuple[int, str]:
        """The exit status and error text of the job that was running when the worker died:
        128 + N for signal N, as a shell reports a killed command."""
        self.process.join(5)
        code = self.process.exitcode
        self.conn.close()
        words = self.last_words()
        if words:  # the watchdog ended the job (a read past its deadline): the job's own line
            return code or EXIT_INTERNAL, words
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return 128 - code, f"the worker process running this job was killed by {name}"
        return EXIT_INTERNAL, f"the worker process running this job exited with status {code}"

    def last_words(self) -> str:
        words = b""
        with contextlib.suppress(OSError):
            os.set_blocking(self.words, False)
            words = os.read(self.words, 1 << 16)
        with contextlib.suppress(OSError):
            os.close(self.words)
        return words.decode("utf-8", "replace").strip()

    def stop(self, interrupt: bool) -> None:
        if self.process.is_alive():
            if interrupt:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGINT)
            else:
                with contextlib.suppress(OSError):
                    self.conn.send(None)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        with contextlib.suppress(OSError):
            os.close(self.words)


def _run_local(todo: list[Row], options: dict, workers: int, progress: Progress) -> None:
    import multiprocessing
    from multiprocessing.connection import wait

    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("fork")
        _preload()  # once, shared by the forked workers
    else:
        context = multiprocessing.get_context("spawn")
    pending = deque(range(len(todo)))
    pool: list[_Worker] = []
    interrupted = False

    def record(worker: _Worker, index: int, status: int, line: str, seconds: float) -> None:
        worker.queued.remove(index)
        row = todo[index]
        row.status, row.exit, row.message = ("ok" if status == EXIT_OK else "failed"), status, line
        row.seconds, row.worker = seconds, "local"
        progress.finished(row)

    # Ctrl-C and SIGTERM only set a flag, seen between two messages: an interruption in the middle
    # of one would leave a pipe half-written or half-read.
    stop = []
    restore_signals = _on_signals(lambda signum, frame: stop.append(signum))
    try:
        # Started under the flag's handler: a stop that comes while they start ends them below.
        while len(pool) < min(workers, len(todo)):
            pool.append(_Worker(context, options))
        while pending or any(w.queued for w in pool):
            for worker in list(pool):
                while pending and len(worker.queued) < IN_FLIGHT:
                    try:
                        worker.send(pending[0], todo[pending[0]])
                    except OSError:  # the worker is gone: Ctrl-C reached it first, or it died
                        if stop:
                            raise KeyboardInterrupt from None
                        if not worker.queued:  # nothing of it left to read below
                            worker.process.join(5)
                            if worker.process.exitcode == 0:  # it ended itself: Ctrl-C
                                raise KeyboardInterrupt from None
                            worker.conn.close()
                            pool.remove(worker)
                            pool.append(_Worker(context, options))
                        break  # its answers, then its end, are read below
                    pending.popleft()
            if stop:
                raise KeyboardInterrupt
            busy = {w.conn: w for w in pool if w.queued}
            for conn in wait(list(busy), timeout=min(progress.interval, 0.2)):
                worker = busy[conn]
                try:
                    record(worker, *conn.recv())  # type: ignore[union-attr,call-arg]
                except (EOFError, OSError):
                    worker.process.join(5)
                    if stop or worker.process.exitcode == 0:
                        # a worker ends by itself only on Ctrl-C (the terminal's reaches all)
                        raise KeyboardInterrupt from None
                    _replace(worker, pool, todo, pending, context, options, progress)
            progress.tick()
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        restore_signals()
        restore = _ignore_sigint() if interrupted else (lambda: None)
        try:
            for worker in pool:
                if interrupted:
                    _drain(worker, record)
                worker.stop(interrupted)
        finally:
            restore()


def _on_signals(handler):
    """``handler`` for SIGINT and SIGTERM (in the main thread); returns the undo."""
    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: [signal.signal(sig, old) for sig, old in previous.items()]


def _ignore_sigint():
    """A second Ctrl-C must not cut the clean-up short; returns the undo."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGINT, previous)


def _replace(worker, pool, todo, pending, context, options, progress) -> None:
    """A worker died: its running job failed, its queued ones go back; a new worker if needed."""
    status, text = worker.died()
    index = worker.queued.popleft()
    pending.extendleft(reversed(worker.queued))
    worker.queued.clear()

    row = todo[index]
    # The dead worker's temporary output, if it left one (reaped above, so it is gone).
    remove_stale_temporaries(row.output)
    row.status, row.exit, row.worker = "failed", status, "local"
    if text.startswith(f"{PROG}: error:"):  # the job's own line (Worker.died)
        row.message = text
    else:
        row.message = outcome.error_line(f"{row.input}: {text} (bridge:workerDied)")
    progress.finished(row)
    pool.remove(worker)
    if pending:
        pool.append(_Worker(context, options))


def _drain(worker: _Worker, record) -> None:
    """On interruption: record the results a worker sent before it stopped."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.process.pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    try:
        while worker.queued and time.monotonic() < deadline:
            if worker.conn.poll(0.05):
                record(worker, *worker.conn.recv())
            elif not worker.process.is_alive() and not worker.conn.poll():
                break
    except (EOFError, OSError, ValueError):
        pass


# --- Dask ----------------------------------------------------------------------------------


def _request(options: dict, infile: str, outfile: str) -> Request:
    """The job request of one batch row: the batch's job options with its IN and OUT."""
    return Request.from_params({**options, "infile": infile, "outfile": outfile})


def _dask_job(infile: str, outfile: str, options: dict) -> tuple[int, str, float, str]:
    """The task run on a Dask worker: (exit status, error line, seconds, worker address)."""
    from distributed import get_worker

    start = time.perf_counter()
    status, line = run_captured(_request(options, infile, outfile))
    return status, line, time.perf_counter() - start, get_worker().address


def _connect(address: str):
    """A Dask client of the scheduler at ``address`` (dask is imported here only)."""
    try:
        from distributed import Client
    except ImportError as err:
        msg = (
            f"--scheduler needs dask[distributed], which cannot be imported in the Python at "
            f"{sys.executable} ({err}); install it with pip install 'bridge[dask]'"
        )
        raise EnvironmentProblem(msg) from err
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        msg = f"cannot reach the Dask scheduler at {address}: {' '.join(str(err).split())}"
        raise SchedulerError(msg) from err


def _run_dask(client, todo: list[Row], options: dict, progress: Progress) -> None:
    """Each job a task on the cluster; the client is closed at the end."""
    from distributed import as_completed

    token = f"{os.getpid()}-{time.time_ns()}"
    try:
        if not todo:
            return
        futures = client.map(
            _dask_job,
            [os.path.abspath(row.input) for row in todo],
            [os.path.abspath(row.output) for row in todo],
            options=options,
            key=[f"bridge-batch-{token}-{k}" for k in range(len(todo))],
            pure=False,
        )
        index = {future.key: k for k, future in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                row = todo[index[future.key]]
                if future.status == "finished":
                    status, line, seconds, worker = future.result()
                else:
                    err = future.exception()
                    text = f"{row.input}: the Dask task failed: {type(err).__name__}: {err}"
                    line = outcome.error_line(f"{text} (bridge:dask)")
                    status, seconds, worker = EXIT_INTERNAL, 0.0, ""
                # The task got absolute paths (the workers' folder is not ours): name the files
                # as the single job run here would.
                for given in (row.input, row.output):
                    line = line.replace(os.path.abspath(given), given)
                row.status = "ok" if status == EXIT_OK else "failed"
                row.exit, row.message, row.seconds, row.worker = status, line, seconds, worker
                progress.finished(row)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
    finally:
        client.close()
