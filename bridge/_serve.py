"""``bridge serve``: a warm worker that runs jobs for the MATLAB wrappers without a cold start.

One server per user, on a Unix socket (never TCP): by default ``$XDG_RUNTIME_DIR/bridge/serve.sock``
or ``/tmp/bridge-<uid>/serve.sock`` in a folder created 0700 (a folder owned by someone else or open
to others is refused); ``BRIDGE_SOCKET`` or ``--socket`` choose another path. A lock file next to
the socket (``serve.sock.lock``, held with flock while the server lives) makes it one per socket:
a second server exits with status 1; a socket left by a dead server is replaced.

The listening process imports what a job needs once, then never runs a job itself: it reads
requests from all connections at once (select, one deadline per whole request, so a silent or
trickling client delays nobody), checks them, and forks one process per job, at most one per
core (at least two) at a time, queueing the rest. A job process inherits the warm imports
(copy-on-write), enters the client's folder with its umask, runs the job request that the
client's arguments make (:func:`bridge._fastpath.parse`) with stdout/stderr captured, answers on
the connection and exits: results, exit statuses and error lines are the cold path's, and a crash
ends only that job (its client then runs the job cold). The handshake that makes a job run at
most once is in :mod:`bridge._client`.

Refused (the client then runs cold): a peer of another uid, or of other groups (its
``/proc/PID/status`` gid and supplementary groups must be the server's, so the server never uses
rights its client lacks), a client of another bridge version or package folder, or one whose code
changed since the server started, and any request that is not a plain job (``bridge IN OUT
[options]`` as :func:`bridge._fastpath.parse` accepts it: no subcommands, no help, no usage errors).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator

from bridge import _client as client
from bridge import _fastpath as fastpath
from bridge import _serve_memory as serve_memory
from bridge._job import outcome, process
from bridge._job import progress as job_progress
from bridge._signals import STOP_SIGNALS
from bridge.errors import EXIT_OK, EXIT_OUTPUT, BridgeError

EXIT_RUNNING = 1  # another server answers on the socket (or, for --status/--stop, none does)
REQUEST_DEADLINE = 3.0  # a whole request must arrive within this long after connecting
GO_DEADLINE = 5.0  # a job process waits this long for its client's "go"
MAX_REQUEST = 1 << 20
NOT_STARTED = 3  # exit status of a job process whose client gave up before "go"
MAX_CONNECTIONS = 256  # connections still sending their request; beyond, the oldest is dropped
MAX_QUEUE = 512  # jobs waiting for a slot; beyond, refused (they run cold)
QUEUE_PATIENCE = 30.0  # seconds after which a queued job goes first, however costly
IDENTITY = ("version", "package", "fingerprint")
# A spare job process forked ahead, its heap first touched while it waits (megabytes; 0: none).
SPARE_ENV = "BRIDGE_SERVE_PREFAULT_MB"
SPARE_MB = 512
# What jobs import (a job process that imports them itself pays for it: scipy.io and h5py are
# a large share of a small job). None of these may start a thread on import: the server forks.
WARM_MODULES = (
    "bridge._job.compute",
    "bridge._job.stream",
    "bridge.convolution",
    "bridge._semantics",
    "bridge._kernels",
    "bridge._formats.mat",
    "bridge._formats.text",
    "bridge._formats.hdf5",
    "bridge._formats.mat73",
    "bridge._kernels._direct_c",  # the C loop, where it was built
    "scipy.io",
    "h5py",
)


class ServeError(BridgeError):
    """The socket cannot be set up (unsafe folder, path too long, permissions)."""

    exit_code = EXIT_OUTPUT
    default_identifier = "bridge:serve"


class AlreadyRunning(BridgeError):
    exit_code = EXIT_RUNNING
    default_identifier = "bridge:serveRunning"


def job_slots() -> int:
    """Jobs at once: one per core this process may use, and at least two, so that even on one
    core a tiny job shares the time with a long one instead of waiting for its end."""
    try:
        return max(2, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(2, os.cpu_count() or 1)


def peer_groups(pid: int) -> frozenset[int] | None:
    """The effective gid and supplementary groups of process ``pid`` (/proc), None if unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            lines = dict(line.partition(":")[::2] for line in f)
        return frozenset([int(lines["Gid"].split()[1]), *map(int, lines["Groups"].split())])
    except (OSError, KeyError, ValueError, IndexError):
        return None


def own_groups() -> frozenset[int]:
    return frozenset([os.getegid(), *os.getgroups()])


class Pending:
    """A connection whose request is still arriving."""

    def __init__(self, conn: socket.socket, deadline: float) -> None:
        self.conn, self.deadline, self.data = conn, deadline, b""


def spare_megabytes() -> int:
    """BRIDGE_SERVE_PREFAULT_MB, else SPARE_MB but at most an eighth of the memory."""
    value = os.environ.get(SPARE_ENV, "").strip()
    with contextlib.suppress(ValueError):
        if value:
            return max(0, int(value))
    try:
        memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    except (ValueError, OSError):
        return 0
    return min(SPARE_MB, memory_mb // 8)


class Spare:
    """A job process forked before its job, while no job runs: it touches its heap until its
    job comes (all of it: it says "R" on its control socket), then takes the job there (the
    client's connection, passed as a descriptor)."""

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.control = control
        self.ready = False


class Server:
    def __init__(
        self,
        path: str,
        idle_timeout: float = 0.0,
        uid: int | None = None,
        groups: frozenset[int] | None = None,
        slots: int | None = None,
    ) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.uid = os.getuid() if uid is None else uid
        self.groups = own_groups() if groups is None else groups
        self.slots = slots or job_slots()
        self.identity = client.package_identity()
        self.jobs = self.refused = self.abandoned = 0
        self.started = time.time()
        self.sock: socket.socket | None = None
        self.lock_fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.stopping = False
        self.last_refusal = ""
        self.pending: list[Pending] = []
        self.queue: list[tuple[socket.socket, list[str]]] = []
        self.queued_at: dict[int, float] = {}  # id(fields) of a queued job -> when it came
        self.running: dict[int, float] = {}  # job process pid -> start time
        self.last_activity = time.monotonic()
        self.spare_mb = spare_megabytes()
        self.spare: Spare | None = None
        self.spare_after = 0.0  # no new spare before (a spare that died waits a little)
        self.pidfds: dict[int, int] = {}  # descriptor -> pid of a running job process
        self.wake: tuple[int, int] | None = None  # a pipe the stop signals write to

    def on_signal(self, signum, frame) -> None:
        """SIGTERM, SIGINT: stop (the loop wakes through the pipe the signal writes to). Only a
        flag: an exception raised here would be lost if the handler ran inside a callback."""
        self.stopping = True

    def catch_signals(self) -> dict:
        """Install the stop signals' handler and the wake-up pipe; the previous handlers."""
        self.wake = os.pipe()
        for fd in self.wake:
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake[1], warn_on_full_buffer=False)
        return {sig: signal.signal(sig, self.on_signal) for sig in STOP_SIGNALS}

    def release_signals(self, previous: dict) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        self.drop_wake()

    def drop_wake(self) -> None:
        """Stop the signals writing to the wake-up pipe, and close it."""
        signal.set_wakeup_fd(-1)
        if self.wake is not None:
            for fd in self.wake:
                os.close(fd)
            self.wake = None

    def fork(self) -> int:
        """``os.fork`` with the stop signals held back while it runs: in the child they stay
        pending until :meth:`forget` has given them their defaults (a job process stops on
        SIGTERM), in the server until its handler can take them."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise
        if pid == 0:
            try:
                self.forget()
            except BaseException:
                os._exit(70)  # a child never goes on as a second server
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return pid

    # --- setting up ---------------------------------------------------------------------------

    def open(self, listen: bool = True) -> None:
        """Take the lock, remove a stale socket, and (``listen``) bind and listen."""
        folder = os.path.dirname(self.path)
        if folder == client.default_folder():
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:
                pass
            except OSError as err:
                msg = f"cannot create the socket folder {folder}: {err.strerror}"
                raise ServeError(msg) from err
            problem = client.folder_problem(folder)
            if problem:
                raise ServeError(f"unsafe socket folder: {problem}; remove it or set BRIDGE_SOCKET")
        elif not os.path.isdir(folder):
            raise ServeError(f"the socket folder {folder} does not exist")
        if len(os.fsencode(self.path)) > 100:
            raise ServeError(f"the socket path {self.path} is too long for a Unix socket")
        try:
            self.lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise ServeError(f"cannot open {self.path}.lock: {err.strerror}") from err
        import fcntl

        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.lock_fd)
            self.lock_fd = None
            raise AlreadyRunning(f"a server is already running on {self.path}") from None
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise ServeError(f"{self.path} exists and is not a socket; not replacing it")
            os.unlink(self.path)  # stale: its server no longer holds the lock
        if listen:
            self.listen()

    def listen(self) -> None:
        """Create the socket: from now on clients wait for this server, so it is ready first."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        except OSError as err:
            sock.close()
            raise ServeError(f"cannot create the socket {self.path}: {err.strerror}") from err
        finally:
            os.umask(old)
        sock.listen(128)
        sock.setblocking(False)
        st = os.stat(self.path)
        self.inode = (st.st_dev, st.st_ino)
        self.sock = sock

    def warm_up(self) -> None:
        """Import what jobs need, so that every job process starts with them (copy-on-write).
        Only imports: no job runs here, so that no thread pool or BLAS state exists in this
        process when it forks."""
        import importlib

        import numpy  # noqa: F401

        for name in WARM_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    def close(self) -> None:
        self.drop_spare()
        for fd in self.pidfds:
            os.close(fd)
        self.pidfds = {}
        for conn in [p.conn for p in self.pending] + [c for c, _ in self.queue]:
            with contextlib.suppress(OSError):
                conn.sendall(client.encode(["refused", "the server is stopping"]))
            conn.close()
        self.pending, self.queue = [], []
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            with contextlib.suppress(OSError):
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self.inode:  # still ours
                    os.unlink(self.path)
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    # --- serving ------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        assert self.sock is not None
        self.last_activity = time.monotonic()  # idle from now, not from before the warm-up
        while not self.stopping:
            self.reap()
            self.start_queued()
            # A spare when no job runs: its first touches would slow a running job down.
            idle = not self.running and time.monotonic() >= self.spare_after
            if self.spare is None and self.spare_mb and idle:
                self.make_spare()
            now = time.monotonic()
            busy = self.pending or self.queue or self.running
            if self.idle_timeout and not busy and now - self.last_activity >= self.idle_timeout:
                return
            timeout = 0.2 if self.running else 1.0
            if self.pending:
                timeout = min(timeout, max(0.0, min(p.deadline for p in self.pending) - now))
            # poll, not select: no limit on descriptor numbers.
            conns: dict[int, socket.socket | None] = {self.sock.fileno(): self.sock}
            if self.wake is not None:  # a stop signal came
                conns[self.wake[0]] = None
            conns.update((p.conn.fileno(), p.conn) for p in self.pending)
            conns.update((c.fileno(), c) for c, _ in self.queue)
            if self.spare is not None:  # "R", or its end
                conns[self.spare.control.fileno()] = self.spare.control
            poller = select.poll()
            for fd in [*conns, *self.pidfds]:
                poller.register(fd, select.POLLIN)
            try:
                events = poller.poll(timeout * 1000)
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd not in conns:  # a job process ended: reaped at the top of the loop
                    continue
                sock = conns[fd]
                if sock is None:
                    with contextlib.suppress(OSError):
                        os.read(fd, 512)
                elif sock is self.sock:
                    self.accept()
                elif self.spare is not None and sock is self.spare.control:
                    self.spare_said()
                else:
                    self.read(sock)
            self.expire()

    def accept(self) -> None:
        if self.sock is None:
            return
        for _ in range(64):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                time.sleep(0.05)  # e.g. too many open files: the client waits or goes cold
                return
            self.last_activity = time.monotonic()
            conn.setblocking(False)
            refusal = self.check_peer(conn)
            if refusal:
                self.refuse(conn, refusal)
                continue
            if len(self.pending) >= MAX_CONNECTIONS:
                self.refuse(self.pending.pop(0).conn, "too many connections")
            self.pending.append(Pending(conn, time.monotonic() + REQUEST_DEADLINE))

    def check_peer(self, conn: socket.socket) -> str | None:
        try:
            pid, uid, _ = client.peer_creds(conn)
        except OSError as err:
            return f"cannot identify the client: {err.strerror}"
        if uid != self.uid:
            return "this server serves its own user only"
        groups = peer_groups(pid)
        if groups is None:
            return "the client is gone"
        if groups != self.groups:
            return "the client's groups differ from the server's; start a server of your own"
        return None

    def read(self, conn: socket.socket) -> None:
        entry = next((p for p in self.pending if p.conn is conn), None)
        if entry is None:  # a queued client: it may only hang up
            self.drop_queued(conn)
            return
        try:
            chunk = conn.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.pending.remove(entry)
            conn.close()
            return
        entry.data += chunk
        try:
            total = client.message_length(entry.data, MAX_REQUEST)
            if total is None or len(entry.data) < total:
                return
            self.pending.remove(entry)
            fields = client.decode(entry.data[8:total])
        except ValueError as err:
            if entry in self.pending:
                self.pending.remove(entry)
            self.refuse(conn, f"bad request: {err}")
            return
        try:
            self.request(conn, fields)
        except Exception as err:  # a bug must not stop the server: this client runs cold
            self.refuse(conn, f"internal error: {type(err).__name__}: {err}")

    def drop_queued(self, conn: socket.socket) -> None:
        """A queued client hung up, or sent something where nothing is due: drop it."""
        for c, f in self.queue:
            if c is conn:
                self.queued_at.pop(id(f), None)
        self.queue = [(c, f) for c, f in self.queue if c is not conn]
        try:
            hung_up = not conn.recv(1, socket.MSG_PEEK)
        except OSError:
            hung_up = True
        if hung_up:
            conn.close()
        else:
            self.refuse(conn, "the client spoke out of turn while queued")

    def expire(self) -> None:
        now = time.monotonic()
        for entry in [p for p in self.pending if p.deadline <= now]:
            self.pending.remove(entry)
            self.refuse(entry.conn, f"the request did not arrive within {REQUEST_DEADLINE} s")

    def refuse(self, conn: socket.socket, reason: str) -> None:
        self.refused += 1
        self.last_refusal = reason
        self.reply(conn, ["refused", reason])

    def reply(self, conn: socket.socket, fields: list[str]) -> None:
        """Send a short answer and close (the socket buffer holds it: no waiting)."""
        with contextlib.suppress(OSError):
            conn.setblocking(True)
            conn.settimeout(1.0)
            conn.sendall(client.encode(fields))
        conn.close()

    def request(self, conn: socket.socket, fields: list[str]) -> None:
        if len(fields) < 7 or fields[0] != client.MAGIC:
            self.refuse(conn, f"not a {client.MAGIC} request")
            return
        op, identity, argv = fields[1], fields[2:5], fields[7:]
        if op in ("status", "stop"):
            if op == "stop":
                self.stopping = True
            self.reply(conn, ["ok", json.dumps(self.status())])
            return
        if op != "job":
            self.refuse(conn, f"unknown request {op!r}")
            return
        for key, mine, theirs in zip(IDENTITY, self.identity, identity, strict=True):
            if mine != theirs:
                self.refuse(conn, f"{key} {theirs!r} differs from the server's {mine!r}")
                return
        if serve_memory.is_memory(argv):  # operands from memory (the MEX client)
            problem = serve_memory.check(argv)
            if problem:
                self.refuse(conn, problem)
                return
        elif fastpath.parse(argv) is None:
            self.refuse(conn, "not a plain job (bridge IN OUT [options]); it runs cold")
            return
        try:
            umask = int(fields[6]) & 0o777
        except ValueError:
            self.refuse(conn, f"bad umask {fields[6]!r}")
            return
        if len(self.running) < self.slots and not self.queue:
            self.start(conn, fields[5], umask, argv)
        elif len(self.queue) >= MAX_QUEUE:
            self.refuse(conn, f"{MAX_QUEUE} jobs are queued already")
        else:
            with contextlib.suppress(OSError):
                conn.sendall(client.encode(["queued"]))
            self.queue.append((conn, fields))
            self.queued_at[id(fields)] = time.monotonic()

    def start_queued(self) -> None:
        while self.queue and len(self.running) < self.slots:
            conn, fields = self.queue.pop(self.next_queued())
            self.queued_at.pop(id(fields), None)
            self.start(conn, fields[5], int(fields[6]) & 0o777, fields[7:])

    def next_queued(self) -> int:
        """The queued job to start next: the cheapest, so that a tiny job waits at most for a
        free slot, not behind long ones; ties, and every job queued longer than
        :data:`QUEUE_PATIENCE` seconds (no job waits for ever), in their order."""
        now = time.monotonic()
        costs = []
        for k, (_, fields) in enumerate(self.queue):
            waited = now - self.queued_at.get(id(fields), now)
            if waited > QUEUE_PATIENCE:
                return k
            costs.append((job_bytes(fields[5], fields[7:]), k))
        return min(costs)[1]

    def start(self, conn: socket.socket, cwd: str, umask: int, argv: list[str]) -> None:
        # The job request; request() let only plain jobs and memory jobs through.
        params = serve_memory.params(argv) if serve_memory.is_memory(argv) else fastpath.parse(argv)
        if params is None:
            self.refuse(conn, "not a plain job (bridge IN OUT [options]); it runs cold")
            return
        if self.spare is not None and self.hand_to_spare(conn, cwd, umask, params):
            return
        try:
            pid = self.fork()
        except OSError as err:
            self.refuse(conn, f"cannot start a job process: {err.strerror}")
            return
        if pid == 0:  # the job's process: never returns
            code = 70
            try:
                code = job_process(conn, cwd, umask, params)
            finally:
                os._exit(code)
        conn.close()
        self.jobs += 1
        self.running[pid] = time.monotonic()
        self.watch(pid)

    # --- the spare job process ----------------------------------------------------------------

    def make_spare(self) -> None:
        """Fork the next job's process now: it touches its heap while nothing waits for it."""
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError:
            return
        try:
            pid = self.fork()
        except OSError:
            ours.close()
            theirs.close()
            return
        if pid == 0:  # the spare: never returns
            code = 70
            try:
                ours.close()
                code = spare_process(theirs, self.spare_mb)
            finally:
                os._exit(code)
        theirs.close()
        ours.setblocking(False)
        self.spare = Spare(pid, ours)

    def spare_said(self) -> None:
        """The spare's control socket is readable: "R" (ready), or its end (it died)."""
        spare = self.spare
        if spare is None:
            return
        try:
            said = spare.control.recv(16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            said = b""
        if said == b"R" and not spare.ready:
            spare.ready = True
        else:
            self.drop_spare()
            self.spare_after = time.monotonic() + 5.0

    def hand_to_spare(self, conn: socket.socket, cwd: str, umask: int, params: dict) -> bool:
        """Give the job to the ready spare; False: it could not take it (run a new process)."""
        spare, self.spare = self.spare, None
        if spare is None:
            return False
        payload = json.dumps({"cwd": cwd, "umask": umask, "params": params}).encode("ascii")
        message = len(payload).to_bytes(8, "big") + payload
        try:
            spare.control.setblocking(True)
            spare.control.settimeout(5.0)
            sent = socket.send_fds(spare.control, [message], [conn.fileno()])
        except OSError:
            self.end_spare(spare)
            return False
        # The spare has the connection now: from here it answers the client or, short of the
        # whole message, closes it (the client then runs cold). It may have closed its end
        # already, having read everything: nothing more is sent then.
        with contextlib.suppress(OSError):
            if sent < len(message):
                spare.control.sendall(message[sent:])
        spare.control.close()
        conn.close()
        self.jobs += 1
        self.running[spare.pid] = time.monotonic()
        self.watch(spare.pid)
        return True

    def drop_spare(self) -> None:
        if self.spare is not None:
            spare, self.spare = self.spare, None
            self.end_spare(spare)

    def end_spare(self, spare: Spare) -> None:
        """End a spare that has no job: SIGTERM, then SIGKILL after 2 s; never wait longer."""
        spare.control.close()  # it reads the end of its control socket and exits
        for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            try:
                os.kill(spare.pid, sig)
            except OSError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    pid, _ = os.waitpid(spare.pid, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid:
                    return
                time.sleep(0.01)

    def forget(self) -> None:
        """In a job process: let go of everything that is the server's."""
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C at the server's terminal is not the job's
        self.drop_wake()
        if self.spare is not None:
            self.spare.control.close()
        for fd in self.pidfds:
            os.close(fd)
        for conn in [p.conn for p in self.pending] + [c for c, _ in self.queue]:
            conn.close()
        if self.sock is not None:
            self.sock.close()
        if self.lock_fd is not None:
            os.close(self.lock_fd)

    def watch(self, pid: int) -> None:
        """Wake the loop as soon as job process ``pid`` ends (Linux pidfd; elsewhere the loop
        looks every 0.2 s), so that the next spare is made before the next job comes."""
        with contextlib.suppress(AttributeError, OSError):
            self.pidfds[os.pidfd_open(pid)] = pid

    def reap(self) -> None:
        for fd, pid in list(self.pidfds.items()):
            if pid not in self.running:
                os.close(fd)
                del self.pidfds[fd]
        while self.running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.running.clear()
                return
            if pid == 0:
                return
            if self.spare is not None and pid == self.spare.pid:  # died before its job
                self.spare.control.close()
                self.spare = None
                self.spare_after = time.monotonic() + 5.0
                continue
            if self.running.pop(pid, None) is not None:
                for fd in [fd for fd, p in self.pidfds.items() if p == pid]:
                    os.close(fd)
                    del self.pidfds[fd]
                self.last_activity = time.monotonic()
                if os.WIFEXITED(status) and os.WEXITSTATUS(status) == NOT_STARTED:
                    self.abandoned += 1

    def status(self) -> dict:
        self.reap()
        return {
            "pid": os.getpid(),
            "socket": self.path,
            "jobs": self.jobs,
            "running": len(self.running),
            "job_pids": sorted(self.running),
            "queued": len(self.queue),
            "slots": self.slots,
            "refused": self.refused,
            "abandoned": self.abandoned,
            "last_refusal": self.last_refusal,
            "spare": None if self.spare is None else self.spare.pid,
            "spare_ready": self.spare is not None and self.spare.ready,
            "uptime": round(time.time() - self.started, 3),
            **dict(zip(IDENTITY, self.identity, strict=True)),
        }


def job_bytes(cwd: str, argv: list[str]) -> int:
    """What a queued job costs, as far as the server can tell without reading an untrusted file:
    the bytes of its operands (a memory job's from their sizes, a file job's input files' sizes on
    disk). A job whose files cannot be looked at counts as large."""
    if serve_memory.is_memory(argv):
        try:
            return sum(
                serve_memory.nbytes(cls, cplx, size)
                for _, cls, cplx, size in serve_memory.parse(argv)[2]
            )
        except (ValueError, KeyError):
            return 1 << 62
    params = fastpath.parse(argv)
    if params is None:
        return 1 << 62
    total = 0
    for path in (
        [params["infile"], *params["more_files"][:-1]]
        if params["more_files"]
        else [params["infile"]]
    ):
        try:
            total += os.stat(os.path.join(cwd, path)).st_size
        except OSError:
            return 1 << 62
    return total


def spare_process(control: socket.socket, megabytes: int) -> int:
    """The body of a spare job process: touch the heap until a job comes (all of it: say "R"),
    take the job, run it (as :func:`job_process`). The end of the control socket (the server
    stopped or gave up on it) ends it."""
    # Nothing of the server's output is held open by a spare (a job answers on its socket).
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    poller = select.poll()
    poller.register(control, select.POLLIN)
    try:
        if process.prefault_heap(megabytes, lambda: bool(poller.poll(0))) >= megabytes:
            # All touched (else a job came, or the heap would not grow). A job that came while
            # the last block was touched is in the socket already, and the server has closed its
            # end: "R" then fails (EPIPE), and the job must still be taken (it was dropped).
            with contextlib.suppress(OSError):
                control.sendall(b"R")
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        if not fds:
            return 0
        conn = socket.socket(fileno=fds[0])
        while len(data) < 8 or len(data) < 8 + int.from_bytes(data[:8], "big"):
            more = control.recv(1 << 16)
            if not more:
                conn.close()
                return 0
            data += more
    except OSError:
        return 0
    control.close()
    job = json.loads(data[8:].decode("ascii"))
    return job_process(conn, job["cwd"], job["umask"], job["params"])


def job_process(conn: socket.socket, cwd: str, umask: int, params: dict) -> int:
    """The body of a forked job process: announce, wait for "go", run, answer. Its exit status."""
    conn.setblocking(True)
    st = client.proc_stat(os.getpid())
    client.send(conn, ["ready", str(os.getpid()), str(st[2] if st else 0)])
    reader = client.Reader(conn, 1024)
    try:
        go = reader.next(GO_DEADLINE)
    except (OSError, ValueError):
        return NOT_STARTED
    if go not in (["go"], ["go", client.PROGRESS]):
        return NOT_STARTED  # the client gave up (it runs the job cold) or sent nonsense
    # A client that said "go, progress" shows "progress, LINE" messages while it waits for the
    # answer; to any other, the job's progress is as silent as its captured stderr.
    progress = progress_lines(conn) if go[1:] else None
    try:
        os.chdir(cwd)
    except OSError as problem:
        client.send(conn, ["refused", f"cannot enter {cwd}: {problem.strerror}"])
        return NOT_STARTED
    os.umask(umask)
    if serve_memory.is_params(params):
        return serve_memory.job(conn, reader, params["memory"], progress)
    # A job the watchdog ends (a read past its deadline, a stop signal while stuck in C code)
    # answers as run_job would, and the process exits 0 as below (bridge._job.process).
    process.set_last_words(
        conn.fileno(),
        lambda status, line: client.encode(["ok", str(status), "", line]),
        exit_status=0,
    )
    with _cancelled_if_gone(conn):
        status, out, err = run_job(params, progress)
    conn.settimeout(None)
    client.send(conn, ["ok", str(status), out, err])
    return 0


@contextlib.contextmanager
def _cancelled_if_gone(conn: socket.socket) -> Iterator[None]:
    """While the job runs: if its client goes away (killed, or gave up), stop the job as
    SIGTERM stops it, so that an OUT it has not committed yet is left as it was. A client sends
    nothing while it waits, so anything readable on the connection is its end."""
    stop_r, stop_w = os.pipe()

    def watch() -> None:
        poller = select.poll()
        poller.register(
            conn.fileno(), select.POLLIN | select.POLLHUP | getattr(select, "POLLRDHUP", 0)
        )
        poller.register(stop_r, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if stop_r in events:
                return
            if conn.fileno() in events:
                with contextlib.suppress(OSError):
                    if conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                        return  # bytes, not an end: no longer a sign of anything
                os.kill(os.getpid(), signal.SIGTERM)
                return

    thread = threading.Thread(target=watch, name="bridge-client-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.write(stop_w, b"x")
        thread.join()
        os.close(stop_r)
        os.close(stop_w)


def progress_lines(conn: socket.socket) -> job_progress.Lines:
    """The stream a job's progress goes to: each line a ``progress, LINE`` message to the client
    (one send each, from the heartbeat's thread; the job's own answer comes after that thread has
    ended). A client that is gone makes the send fail, and the heartbeat ignores it."""
    return job_progress.Lines(lambda line: conn.sendall(client.encode([client.PROGRESS, line])))


def run_job(params: dict, progress: job_progress.Lines | None = None) -> tuple[int, str, str]:
    """Run the job request ``params`` (:func:`bridge._fastpath.parse`'s) as the cold command line
    does, with stdout and stderr captured: (status, stdout, stderr). Whatever escapes (it should
    not) becomes the cold path's internal-error line. ``progress``: where a long computation
    says how long it has taken (the client's connection); None: nowhere."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = fastpath.run_reported(
                params, progress=progress is not None, progress_stream=progress
            )
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
        except BaseException as exc:
            error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            status = outcome.report_error(
                error, params.get("error_file"), bool(params.get("debug"))
            )
    return status, out.getvalue(), err.getvalue()


def serve(path: str | None = None, idle_timeout: float = 0.0, slots: int | None = None) -> int:
    """Run a server until stopped (SIGTERM, Ctrl-C, ``--stop``) or idle; the exit status.
    ``slots``: jobs at once (default: the cores this process may use)."""
    server = Server(
        os.path.abspath(path) if path else client.socket_path(), idle_timeout, slots=slots
    )
    os.chdir("/")  # hold no folder; every job enters its client's
    previous = server.catch_signals()
    try:
        server.open(listen=False)  # no socket while importing: callers run cold meanwhile
        try:
            server.warm_up()
        except Exception as err:
            sys.stderr.write(f"bridge serve: warning: warm-up failed: {err}\n")
        if server.stopping:  # stopped while importing
            return EXIT_OK
        server.listen()
        sys.stderr.write(
            f"bridge serve: listening on {server.path} (pid {os.getpid()}, "
            f"{server.slots} jobs at once)\n"
        )
        sys.stderr.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        server.release_signals(previous)
    return EXIT_OK


def start_detached(path: str | None = None, idle_timeout: float = 0.0, wait: float = 30.0) -> int:
    """Start a server in the background, detached from this process's terminal and output (for
    ``system()`` callers such as bridge_serve.m, which wait for their child's output to end), and
    wait until it answers. The exit status: 0 it answers (it was started, or was running), 1 it
    did not start (its error line is printed)."""
    where = os.path.abspath(path) if path else client.socket_path()
    code, line = query("status", where)
    if code == EXIT_OK:
        print(line.replace("running on", "already running on", 1))
        return EXIT_OK
    log = where + ".log"
    folder = os.path.dirname(where)
    if not os.path.isdir(folder) and folder != client.default_folder():
        print(f"no server started on {where}: the socket folder does not exist")
        return EXIT_RUNNING
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server: a new session, no terminal; stdout null, stderr to the log
        code = 70
        try:
            os.close(read_end)
            os.setsid()
            if os.fork():
                os._exit(0)
            for fd in os.listdir("/proc/self/fd"):  # nothing of the caller's (its pipes) stays
                if int(fd) > 2 and int(fd) != write_end:
                    with contextlib.suppress(OSError):
                        os.close(int(fd))
            null = os.open(os.devnull, os.O_RDWR)
            try:
                out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            except OSError:
                out = null
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(out, 2)
            try:
                code = serve(where, idle_timeout)
            except BridgeError as err:
                sys.stderr.write(f"bridge: error: {err}\n")
                sys.stderr.flush()
                code = err.exit_code
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(pid, 0)
    os.set_blocking(read_end, False)
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            code, line = query("status", where)
            if code == EXIT_OK:
                print(line.replace("running on", "started on", 1))
                return EXIT_OK
            with contextlib.suppress(BlockingIOError):
                if not os.read(read_end, 1):  # the server ended without answering
                    break
            time.sleep(0.05)
    finally:
        os.close(read_end)
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        lines = []
    reason = lines[-1] if lines else f"no answer within {wait:g} s"
    print(f"no server started on {where}: {reason}")
    return EXIT_RUNNING


def query(op: str, path: str | None = None) -> tuple[int, str]:
    """``--status`` or ``--stop``: (exit status, the line to print)."""
    where = os.path.abspath(path) if path else client.socket_path()
    try:
        answer = client.request(op, where, timeout=5.0)
    except (OSError, ValueError) as err:
        reason = (err.strerror if isinstance(err, OSError) else None) or str(err)
        return EXIT_RUNNING, f"no server on {where} ({reason})"
    if not answer.get("ok"):
        return EXIT_RUNNING, f"the server on {where} refused: {answer.get('reason')}"
    fields: tuple[str, ...] = ("pid", "jobs", "running", "job_pids", "queued", "refused")
    fields += ("abandoned", "spare", "spare_ready", "uptime", "version", "package")
    text = " ".join(f"{k}={answer.get(k)}" for k in fields)
    if answer.get("last_refusal"):
        text += f" last_refusal={answer['last_refusal']!r}"
    mine = dict(zip(IDENTITY, client.package_identity(), strict=True))
    differs = [key for key in IDENTITY if answer.get(key) != mine[key]]
    if differs and op == "status":
        text += f"; it refuses this bridge's jobs ({', '.join(differs)} differ), which run cold"
    verb = "stopping" if op == "stop" else "running"
    return EXIT_OK, f"{verb} on {where}: {text}"
