"""The client side of ``bridge serve``: hand a job to a warm server, or say that it cannot.

Built-in modules only (``_socket``, not ``socket``, which imports enum; no json, which imports re):
the MATLAB worker and ``python -m bridge`` import this before anything else, so a job that the
server takes costs a bare Python start-up and a socket round trip. :func:`run_warm` returns the
job's exit status, or ``None`` whenever the job should run cold instead: no socket, no answer, a
server of another user, version or checkout, a refusal, or any error on the way.

Protocol (one job per connection). A message is an 8-byte big-endian length, then fields, each a
4-byte big-endian length and its bytes (text is UTF-8 with surrogateescape, like file names; what
cannot be encoded so is backslash-escaped, as Python's stderr does). The client sends
``MAGIC, op, version, package, fingerprint, cwd, umask, *argv`` with op ``job``, ``status`` or
``stop``. For status and stop the server answers ``ok, JSON`` or ``refused, reason``. For a job:

1. the server (its listening process) answers ``refused, reason``, or ``queued`` when all its job
   slots are busy, then, from the process forked for the job, ``ready, pid, starttime``;
2. the client answers ``go`` and only then does the job start: a client that gave up before
   (frozen or vanished server) has closed the connection, and the job is never run;
3. the job's process answers ``ok, status, stdout, stderr``. A client that answered
   ``go, progress`` instead gets ``progress, LINE`` messages before it, while a long job computes
   (the cold path's progress lines, which a job's captured stderr would hold back until the end),
   and shows them on its stderr; a client that said ``go`` gets none.

The client waits only while the process it waits for lives and is not stopped (``/proc/PID/stat``;
the listening process is the peer of ``SO_PEERCRED``, the job's process must be its child with the
start time it announced). A server stopped for :data:`STOPPED_GRACE` seconds, gone, or silent for
:data:`ACK_TIMEOUT` seconds before it says ``queued`` or ``ready`` means: run cold. A job process
that is stopped that long after ``go`` is killed first (so the job never runs twice); one that dies
without an answer (a crash) leaves the job to the cold path too. A job that got an answer is never
run again, and a long job that runs is waited for however long it takes.
"""

from __future__ import annotations

import _socket
import os
import sys
import time
from stat import S_ISDIR

MAGIC = "bridge-serve/2"
PROGRESS = "progress"  # after "go": this client shows progress messages; before "ok": one line
SOCKET_ENV = "BRIDGE_SOCKET"
DISABLE_ENV = "BRIDGE_NO_SERVER"
CONNECT_TIMEOUT = 1.0
ACK_TIMEOUT = 5.0  # a live server says "queued" or "ready" at once; this covers a loaded machine
STOPPED_GRACE = 1.0  # a server or job process stopped (SIGSTOP, ^Z) this long: go cold
TICK = 0.1  # how often a waiting client looks at the process it waits for
# Arguments that stay on the cold path: help is formatted for the caller's terminal.
COLD_ARGS = ("-h", "--help", "--version")
# First words that are not a job (subcommands run cold; the worker's own options too).
NOT_JOBS = ("vars", "serve", "--diagnose", "--serve")


def socket_path() -> str:
    """The server's socket: BRIDGE_SOCKET, else a private per-user folder."""
    path = os.environ.get(SOCKET_ENV, "").strip()
    if path:
        return os.path.abspath(path)
    return os.path.join(default_folder(), "serve.sock")


def default_folder() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and os.path.isabs(runtime):
        return os.path.join(runtime, "bridge")
    return os.path.join("/tmp", f"bridge-{os.getuid()}")


def folder_problem(folder: str) -> str | None:
    """Why ``folder`` is not a safe place for the socket (None when it is): it must be a real
    folder owned by this user with no access for group or others."""
    try:
        st = os.lstat(folder)
    except OSError as err:
        return f"{folder}: {err.strerror or err}"
    if not S_ISDIR(st.st_mode):
        return f"{folder} is not a folder"
    if st.st_uid != os.getuid():
        return f"{folder} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o077:
        return f"{folder} is accessible to other users (mode {st.st_mode & 0o777:o})"
    return None


def disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def peer_creds(sock) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket (Linux SO_PEERCRED), as
    they were when it connected (or listened)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    pid, uid, gid = (int.from_bytes(creds[k : k + 4], sys.byteorder) for k in (0, 4, 8))
    return pid, uid, gid


def peer_uid(sock) -> int:
    return peer_creds(sock)[1]


def package_identity() -> list[str]:
    """What the server must share with this client: version, package folder, code fingerprint.
    Taken from this file's own folder, never from whatever ``import bridge`` finds (a folder named
    ``bridge`` in the working directory can shadow it)."""
    folder = os.path.dirname(os.path.realpath(__file__))
    return [_version(folder), folder, fingerprint(folder)]


def _version(folder: str) -> str:
    with open(os.path.join(folder, "__init__.py"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("__version__"):
                return line.partition("=")[2].strip().strip("\"'")
    return "?"


def fingerprint(folder: str) -> str:
    """Number, newest modification time and total size of the package's .py files: a server
    started before the code was edited refuses the jobs of the edited code."""
    count = newest = total = 0
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    st = entry.stat()
                    count += 1
                    total += st.st_size
                    newest = max(newest, st.st_mtime_ns)
                elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return f"{count}:{newest}:{total}"


def connect(path: str, timeout: float = CONNECT_TIMEOUT):
    """A connection to the server at ``path``, checked to be this user's process."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        if peer_uid(sock) != os.getuid():
            raise ConnectionRefusedError(f"the server on {path} runs as another user")
    except BaseException:
        sock.close()
        raise
    return sock


def encode_text(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte: escape it
        return text.encode("utf-8", "backslashreplace")


def encode(fields: list[str]) -> bytes:
    parts = []
    for field in fields:
        data = encode_text(field)
        parts += [len(data).to_bytes(4, "big"), data]
    body = b"".join(parts)
    return len(body).to_bytes(8, "big") + body


def decode(body: bytes) -> list[str]:
    fields, k = [], 0
    while k < len(body):
        if len(body) - k < 4:
            raise ValueError("truncated field")
        n = int.from_bytes(body[k : k + 4], "big")
        if n > len(body) - k - 4:
            raise ValueError("truncated field")
        fields.append(body[k + 4 : k + 4 + n].decode("utf-8", "surrogateescape"))
        k += 4 + n
    return fields


def message_length(data: bytes, limit: int = 1 << 40) -> int | None:
    """The total length of the message that ``data`` starts with, None until its header is in."""
    if len(data) < 8:
        return None
    n = int.from_bytes(data[:8], "big")
    if n > limit:
        raise ValueError("message too long")
    return 8 + n


class Reader:
    """Messages from a socket, one at a time, however the bytes arrive."""

    def __init__(self, sock, limit: int = 1 << 40) -> None:
        self.sock, self.limit, self.data = sock, limit, b""

    def next(self, timeout: float | None = None) -> list[str] | None:
        """The next message; None if none is complete within ``timeout`` seconds; EOF before
        its end: ConnectionError."""
        self.sock.settimeout(timeout)
        while True:
            total = message_length(self.data, self.limit)
            if total is not None and len(self.data) >= total:
                body, self.data = self.data[8:total], self.data[total:]
                return decode(body)
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("the connection closed before the message ended")
            self.data += chunk


def receive(sock, limit: int = 1 << 40) -> list[str] | None:
    """One message from ``sock`` (EOF before its end: ConnectionError); None if the socket has a
    timeout and it passes first."""
    return Reader(sock, limit).next(sock.gettimeout())


def send(sock, fields: list[str]) -> None:
    """Send a message; a server that already answered and closed (a refusal) is not an error
    here: its answer is still there to read."""
    try:  # noqa: SIM105 (contextlib costs imports)
        sock.sendall(encode(fields))
    except (BrokenPipeError, ConnectionResetError):
        pass


def header(op: str) -> list[str]:
    return [MAGIC, op, *package_identity(), os.getcwd(), str(_umask())]


def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def request(op: str, path: str | None = None, timeout: float = CONNECT_TIMEOUT) -> dict:
    """A ``status`` or ``stop`` request (``serve --status``/``--stop``, tests): the server's
    answer as a dict, or ``{"ok": False, "reason": ...}``."""
    import json

    sock = connect(path or socket_path(), timeout)
    try:
        send(sock, header(op))
        answer = Reader(sock).next(timeout)
    finally:
        sock.close()
    if answer is None:
        raise TimeoutError(f"no answer within {timeout} s")
    if answer[:1] == ["ok"] and len(answer) == 2:
        return {"ok": True, **json.loads(answer[1])}
    return {"ok": False, "reason": answer[1] if len(answer) > 1 else "no reason given"}


def is_job(argv: list[str]) -> bool:
    return bool(argv) and argv[0] not in NOT_JOBS and not any(a in COLD_ARGS for a in argv)


# --- processes the client waits for ------------------------------------------------------------


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of process ``pid`` from /proc, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[19])


class Watch:
    """Whether a waiting client should keep waiting for process ``pid``: it must exist (and be
    the process announced: same start time) and not stay stopped for STOPPED_GRACE seconds."""

    def __init__(self, pid: int, starttime: int | None = None) -> None:
        self.pid, self.starttime = pid, starttime
        self.stopped_since: float | None = None

    def alive(self) -> bool:
        stat = proc_stat(self.pid)
        if stat is None or stat[0] in "ZXx" or (self.starttime not in (None, stat[2])):
            return False
        if stat[0] in "Tt":
            now = time.monotonic()
            if self.stopped_since is None:
                self.stopped_since = now
            return now - self.stopped_since < STOPPED_GRACE
        self.stopped_since = None
        return True

    def kill(self) -> None:
        """SIGKILL the process if it is still the one announced (a stopped job: never twice)."""
        stat = proc_stat(self.pid)
        if stat is not None and stat[2] == self.starttime:
            try:  # noqa: SIM105
                os.kill(self.pid, 9)
            except OSError:
                pass


def wait(reader: Reader, watch: Watch, first_within: float | None = None) -> list[str] | None:
    """The next message while ``watch``'s process lives; None: give up (go cold)."""
    start = time.monotonic()
    while True:
        message = reader.next(TICK)
        if message is not None:
            return message
        if not watch.alive():
            return None
        if first_within is not None and time.monotonic() - start > first_within:
            return None


def show_progress(line: str) -> None:
    """A progress line on stderr, as the cold job writes it while it runs; a stderr that cannot
    take it (closed) costs the line, never the job."""
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def run_warm(argv: list[str]) -> int | None:
    """Run the job ``argv`` (the cold command line's arguments) on the server; its exit status,
    with its output written to this process's stdout/stderr, or None: run it cold."""
    if disabled() or not is_job(argv):
        return None
    try:
        for arg in argv:  # an argument no file name can hold: the cold path says what is wrong
            arg.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None
    path = socket_path()
    if not os.path.exists(path):
        return None
    try:
        if SOCKET_ENV not in os.environ and folder_problem(os.path.dirname(path)):
            return None
        sock = connect(path)
    except Exception:
        return None
    try:
        answer = _job(sock, argv)
    except Exception:  # anything at all: the cold path is always there
        return None
    finally:
        sock.close()
    if answer is None:
        return None
    status, out, err = answer
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return status


def _job(sock, argv: list[str]) -> tuple[int, str, str] | None:
    server = Watch(peer_creds(sock)[0])
    reader = Reader(sock)
    send(sock, [*header("job"), *argv])
    message = wait(reader, server, ACK_TIMEOUT)
    if message is not None and message[0] == "queued":
        message = wait(reader, server)  # as long as the server lives: slots free up
    if message is None or message[0] != "ready" or len(message) != 3:
        return None
    job = Watch(int(message[1]), int(message[2]))
    stat = proc_stat(job.pid)
    if stat is None or stat[1] != server.pid or stat[2] != job.starttime:
        return None  # not the server's child: do not start anything
    send(sock, ["go", PROGRESS])
    try:
        message = wait(reader, job)
        while message is not None and message[0] == PROGRESS and len(message) == 2:
            show_progress(message[1])
            message = wait(reader, job)
    except ConnectionError:
        return None  # the job's process died without an answer (a crash): run it cold
    if message is None:
        job.kill()  # stopped: make sure it never finishes behind the cold run
        return None
    if message[0] != "ok" or len(message) != 4:
        return None
    return int(message[1]), message[2], message[3]
