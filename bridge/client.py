"""The client side of ``bridge serve``: hand a job to a warm server, or say that it cannot.

Built-in modules only (``_socket``, not ``socket``, which imports enum; no json, which imports re):
the MATLAB worker imports this before anything else, so a job that the server takes costs a bare
Python start-up and a socket round trip. :func:`run_warm` returns the job's exit status, or
``None`` whenever the job should run cold instead: no socket, no answer, a server of another user,
version or checkout, a refusal, or any error on the way. A job that got an answer is never run
twice.

Protocol: one request per connection. A message is an 8-byte big-endian length, then fields, each
a 4-byte big-endian length and its bytes (text is UTF-8 with surrogateescape, like file names).
Request: ``MAGIC, op, version, package, fingerprint, cwd, umask, *argv`` with op ``job``,
``status`` or ``stop``. Answer: ``ok, status, stdout, stderr`` for a job, ``ok, JSON`` for status
and stop, or ``refused, reason``.
"""

from __future__ import annotations

import _socket
import os
import sys
from stat import S_ISDIR

MAGIC = "bridge-serve/1"
SOCKET_ENV = "BRIDGE_SOCKET"
DISABLE_ENV = "BRIDGE_NO_SERVER"
CONNECT_TIMEOUT = 1.0
# Arguments that stay on the cold path: help is formatted for the caller's terminal.
COLD_ARGS = ("-h", "--help")
# First words that are not a job (subcommands run cold; the worker's own --diagnose too).
NOT_JOBS = ("vars", "serve", "--diagnose")


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


def peer_uid(sock) -> int:
    """The uid of the process at the other end of a Unix socket (Linux SO_PEERCRED)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder)  # struct ucred {pid, uid, gid}


def package_identity() -> list[str]:
    """What the server must share with this client: version, package folder, code fingerprint."""
    import bridge

    folder = os.path.dirname(os.path.realpath(bridge.__file__))
    return [bridge.__version__, folder, fingerprint(folder)]


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
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def encode(fields: list[str]) -> bytes:
    parts = []
    for field in fields:
        data = field.encode("utf-8", "surrogateescape")
        parts += [len(data).to_bytes(4, "big"), data]
    body = b"".join(parts)
    return len(body).to_bytes(8, "big") + body


def decode(body: bytes) -> list[str]:
    fields, k = [], 0
    while k < len(body):
        n = int.from_bytes(body[k : k + 4], "big")
        if n > len(body) - k - 4:
            raise ValueError("truncated field")
        fields.append(body[k + 4 : k + 4 + n].decode("utf-8", "surrogateescape"))
        k += 4 + n
    return fields


def receive(sock, limit: int = 1 << 40) -> list[str]:
    """One message from ``sock`` (EOF before its end: ConnectionError)."""
    data = b""
    while len(data) < 8 or len(data) < 8 + int.from_bytes(data[:8], "big"):
        if len(data) >= 8 and int.from_bytes(data[:8], "big") > limit:
            raise ValueError("message too long")
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the connection closed before the message ended")
        data += chunk
    return decode(data[8 : 8 + int.from_bytes(data[:8], "big")])


def exchange(sock, fields: list[str]) -> list[str]:
    sock.sendall(encode(fields))
    return receive(sock)


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
        sock.settimeout(timeout)
        answer = exchange(sock, header(op))
    finally:
        sock.close()
    if answer[:1] == ["ok"] and len(answer) == 2:
        return {"ok": True, **json.loads(answer[1])}
    return {"ok": False, "reason": answer[1] if len(answer) > 1 else "no reason given"}


def is_job(argv: list[str]) -> bool:
    return bool(argv) and argv[0] not in NOT_JOBS and not any(a in COLD_ARGS for a in argv)


def run_warm(argv: list[str]) -> int | None:
    """Run the job ``argv`` (the cold command line's arguments) on the server; its exit status,
    with its output written to this process's stdout/stderr, or None: run it cold."""
    if disabled() or not is_job(argv):
        return None
    path = socket_path()
    if not os.path.exists(path):
        return None
    try:
        if SOCKET_ENV not in os.environ and folder_problem(os.path.dirname(path)):
            return None
        sock = connect(path)
        try:
            answer = exchange(sock, [*header("job"), *argv])
        finally:
            sock.close()
        if answer[0] != "ok" or len(answer) != 4:
            return None
        status, out, err = int(answer[1]), answer[2], answer[3]
    except Exception:  # anything at all: the cold path is always there
        return None
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return status
