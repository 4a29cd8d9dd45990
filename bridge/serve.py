"""``bridge serve``: a warm worker that runs jobs for the MATLAB wrappers without a cold start.

One server per user, on a Unix socket (never TCP): by default ``$XDG_RUNTIME_DIR/bridge/serve.sock``
or ``/tmp/bridge-<uid>/serve.sock`` in a folder created 0700 (a folder owned by someone else or open
to others is refused); ``BRIDGE_SOCKET`` or ``--socket`` choose another path. A lock file next to
the socket (``serve.sock.lock``, held with flock while the server lives) makes it one per socket:
a second server exits with status 1; a socket left by a dead server is replaced.

Each job runs exactly as the cold command line does, through :func:`bridge.cli.main` with the
client's arguments, working folder and umask, and its stdout/stderr captured and sent back, so
results, exit statuses and error lines are the cold path's. Jobs run one at a time (connections
are served in order; the others wait in the listen queue). Any failure inside a job, even an
internal error, is that job's answer and never stops the server. The server refuses (and the
client then runs cold) a peer of another uid, a client of another bridge version or package
folder, or one whose code changed since the server started.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import time

from bridge import client
from bridge.errors import EXIT_OK, EXIT_OUTPUT, BridgeError

EXIT_RUNNING = 1  # another server answers on the socket (or, for --status/--stop, none does)
READ_TIMEOUT = 10.0  # a client that connects and sends nothing must not block the others
MAX_REQUEST = 1 << 20
IDENTITY = ("version", "package", "fingerprint")


class ServeError(BridgeError):
    """The socket cannot be set up (unsafe folder, path too long, permissions)."""

    exit_code = EXIT_OUTPUT
    default_identifier = "bridge:serve"


class AlreadyRunning(BridgeError):
    exit_code = EXIT_RUNNING
    default_identifier = "bridge:serveRunning"


class _Stop(BaseException):
    """Raised by the SIGTERM and SIGINT handlers: leave the loop, clean up. A BaseException, so
    that a job interrupted by it is not reported as its own error (cli.main catches Exception,
    and click turns KeyboardInterrupt into an "interrupted" answer): its client gets no answer
    and runs the job cold."""


class Server:
    def __init__(self, path: str, idle_timeout: float = 0.0, uid: int | None = None) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.uid = os.getuid() if uid is None else uid
        self.identity = client.package_identity()
        self.jobs = self.refused = 0
        self.started = time.time()
        self.sock: socket.socket | None = None
        self.lock_fd: int | None = None
        self.inode: tuple[int, int] | None = None
        self.stopping = False
        self.last_refusal = ""

    # --- setting up ---------------------------------------------------------------------------

    def open(self) -> None:
        """Take the lock, replace a stale socket, bind and listen."""
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
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(self.path)
        except OSError as err:
            sock.close()
            raise ServeError(f"cannot create the socket {self.path}: {err.strerror}") from err
        finally:
            os.umask(old)
        sock.listen(64)
        st = os.stat(self.path)
        self.inode = (st.st_dev, st.st_ino)
        self.sock = sock

    def warm_up(self) -> None:
        """Import what a .mat job needs by running two small jobs (text in, .mat in and out)."""
        from bridge import cli

        with tempfile.TemporaryDirectory(prefix="bridge-serve-") as tmp:
            txt, mat, out = (os.path.join(tmp, n) for n in ("in.txt", "in.mat", "out.mat"))
            with open(txt, "w") as f:
                f.write("% op conv2\n% A double 2 2\n1 2\n3 4\n% B double 1 1\n2\n")
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                cli.main([txt, mat])
                cli.main([mat, out, "--a", "C", "--b", "C", "--op", "conv2"])

    def close(self) -> None:
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
        self.sock.settimeout(self.idle_timeout or None)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                return  # idle for idle_timeout seconds
            with conn:
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(READ_TIMEOUT)
            if client.peer_uid(conn) != self.uid:
                answer = self._refuse("this server serves its own user only")
            else:
                fields = client.receive(conn, MAX_REQUEST)
                conn.settimeout(None)
                answer = self.answer(fields)
        except (_Stop, KeyboardInterrupt):
            raise
        except Exception as err:  # a bad request or a vanished client: answer if possible, go on
            answer = self._refuse(f"bad request: {type(err).__name__}: {err}")
        with contextlib.suppress(OSError):
            conn.sendall(client.encode(answer))

    def answer(self, fields: list[str]) -> list[str]:
        if len(fields) < 7 or fields[0] != client.MAGIC:
            return self._refuse(f"not a {client.MAGIC} request")
        op, identity, cwd, umask, argv = fields[1], fields[2:5], fields[5], fields[6], fields[7:]
        if op == "status":
            return ["ok", json.dumps(self.status())]
        if op == "stop":
            self.stopping = True
            return ["ok", json.dumps(self.status())]
        if op != "job":
            return self._refuse(f"unknown request {op!r}")
        for key, mine, theirs in zip(IDENTITY, self.identity, identity, strict=True):
            if mine != theirs:
                return self._refuse(f"{key} {theirs!r} differs from the server's {mine!r}")
        try:
            os.chdir(cwd)
        except OSError as err:
            return self._refuse(f"cannot enter {cwd}: {err.strerror}")
        old_umask = os.umask(int(umask) & 0o777)
        try:
            status, out, err = run_job(argv)
        finally:
            os.umask(old_umask)
            os.chdir("/")
        self.jobs += 1
        return ["ok", str(status), out, err]

    def _refuse(self, reason: str) -> list[str]:
        self.refused += 1
        self.last_refusal = reason
        return ["refused", reason]

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "socket": self.path,
            "jobs": self.jobs,
            "refused": self.refused,
            "last_refusal": self.last_refusal,
            "uptime": round(time.time() - self.started, 3),
            **dict(zip(IDENTITY, self.identity, strict=True)),
        }


def run_job(argv: list[str]) -> tuple[int, str, str]:
    """Run ``bridge.cli.main(argv)`` with stdout and stderr captured: (status, stdout, stderr).
    Whatever escapes main() (it should not) becomes the cold path's internal-error line."""
    from bridge import cli, jobcli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except (_Stop, KeyboardInterrupt):
            raise
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
        except BaseException as exc:
            error_file = jobcli._option_value(argv, "--error-file")
            status = jobcli.report_error(exc, error_file, "--debug" in argv)
    return status, out.getvalue(), err.getvalue()


def _on_signal(signum, frame):
    raise _Stop()


def serve(path: str | None = None, idle_timeout: float = 0.0) -> int:
    """Run a server until stopped (SIGTERM, Ctrl-C, ``--stop``) or idle; the exit status."""
    server = Server(os.path.abspath(path) if path else client.socket_path(), idle_timeout)
    os.chdir("/")  # hold no folder; every job enters its client's
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.open()
        try:
            server.warm_up()
        except Exception as err:
            sys.stderr.write(f"bridge serve: warning: warm-up failed: {err}\n")
        sys.stderr.write(f"bridge serve: listening on {server.path} (pid {os.getpid()})\n")
        sys.stderr.flush()
        server.serve_forever()
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


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
    fields = ("pid", "jobs", "refused", "uptime", "version", "package")
    text = " ".join(f"{k}={answer.get(k)}" for k in fields)
    if answer.get("last_refusal"):
        text += f" last_refusal={answer['last_refusal']!r}"
    verb = "stopping" if op == "stop" else "running"
    return EXIT_OK, f"{verb} on {where}: {text}"
