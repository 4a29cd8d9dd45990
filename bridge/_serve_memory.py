"""A warm job whose operands come from memory: the server side of the MEX client (issue 19).

The MEX client (``matlab/private/bridge_mex.c``) sends the same ``bridge-serve/2`` request as a
file job, op ``job``, but its arguments start with :data:`MARK`::

    --memory, 1, OP, SHAPE, NAME:CLASS:COMPLEX:D1xD2x..., ... [, shm=/dev/shm/bridge-mex-...]

The named values are the variables a wrapper's job file would hold: the operands, then the
operation's settings (``padding``, ``mode``, ``sigma``, ``FilterSize``, ...; a char setting as
CLASS ``char``, its UTF-16 codes as uint16), so any operation of :mod:`bridge._job.operations`
travels with no change here or in the client. SHAPE is the conv family's shape text, or empty
(a filtering wrapper's ``shape`` is one of its named values).

No plain job starts with ``--memory`` (fastpath.parse declines it), so an older server refuses the
request and the client runs the job through files. The listening process checks the request
(:func:`check`) exactly where it checks a file job's command line; the handshake (``queued``,
``ready``, ``go``) is the file job's. After ``go`` the client sends the operands' bytes, one after
another, each in MATLAB's column-major order (complex: all real parts, then all imaginary parts,
as MATLAB's separate complex storage holds them), and the job process answers one message::

    ok, STATUS, LINE                                      (STATUS != 0: LINE is the error line)
    ok, 0, "", CLASS, COMPLEX, D1xD2x...                  then the result's bytes, column-major
                                                          (CLASS: double, single, an integer
                                                          class or logical)
    refused, REASON                                       (a job the file path streams)

Then the process waits :data:`KEEP` seconds (for at most :data:`LIFETIME` in all) for the same
client's next call: the header with op ``next`` and a memory job's arguments, then the operands,
answered as above, with no handshake (the process is the client's already). A loop of small
calls so costs a fork every :data:`LIFETIME` seconds, not one per call. A process that is gone,
or refuses (another identity), leaves the client to start anew; a memory job has no side
effect, so the client may send it again.

Large operands (1 MB and more) travel through a file instead (``shm=PATH``, last): the MEX
client's one file in /dev/shm, kept from call to call, which holds the operands one after another
(each at a multiple of 64 bytes) and room for the result after them. The job computes on the
operands where they are (mapped), writes the result after them and answers ``ok, 0, "", CLASS,
COMPLEX, DIMS, shm``; a result that does not fit, or for which /dev/shm has no room, goes over
the socket as above. Only files named ``/dev/shm/bridge-mex-*``, regular and of this user, are
opened.

The job is the file job's: the operands become the :class:`bridge._formats.classes.Variable` s that
the MAT reader would give for them (MATLAB class, size, complexity), the request is a job file's
(the named values as a job file's variables, ``op`` and ``shape`` its request fields, resolved
by :func:`bridge._job.files.resolve`), the file job's memory plan decides
(:func:`bridge._job.stream.plan_job`; a job that the file path would stream is refused, and runs
through files), :func:`bridge._job.compute.compute` computes it with the library's function, and
an error becomes the one line :mod:`bridge._job.outcome` prints, from the same error object. The
wrappers strip the request file's name from a file job's line; a memory job names no file, so
the two lines the wrappers raise are the same.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import socket
import stat
import time
from typing import TYPE_CHECKING

from bridge import _client as client
from bridge._job.operations import OPERATIONS, SETTING_VARIABLES
from bridge._job.operations import ROLES as OPERAND_ROLES
from bridge.errors import EXIT_OK

if TYPE_CHECKING:
    import mmap

    import numpy as np

    from bridge._job.progress import Lines

MARK = "--memory"
VERSION = "1"
OPS = tuple(OPERATIONS)
# The names a value may have: an operand's role or a setting's job-file variable (request fields
# included: a filtering wrapper's shape).
ROLES = (*OPERAND_ROLES, *sorted(SETTING_VARIABLES - set(OPERAND_ROLES)))
MAX_VALUES = 12  # bridge_mex.c's MAX_VALUES
CLASSES = (
    "double",
    "single",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "logical",
    "char",  # a setting's text: its UTF-16 codes (uint16), as a MAT file holds char
)
ITEM = {"double": 8, "single": 4, "int64": 8, "uint64": 8, "int32": 4, "uint32": 4}
ITEM.update({"int16": 2, "uint16": 2, "int8": 1, "uint8": 1, "logical": 1, "char": 2})
# A job process waits KEEP seconds for its client's next memory job, and takes next jobs for at
# most LIFETIME seconds in all: it holds one of the server's job slots meanwhile, so a client
# that calls in a loop delays others' jobs (queued for a free slot) by at most that long.
KEEP = 1.0
LIFETIME = 2.0
MAX_MESSAGE = 1 << 20  # a "next" request, as the server's own limit
PAYLOAD_DEADLINE = 10.0  # the operands' bytes must keep coming: no progress this long, give up
NOT_STARTED = 3  # bridge._serve.NOT_STARTED: the client gave up; the job never ran


def is_memory(argv: list[str]) -> bool:
    return argv[:1] == [MARK]


def params(argv: list[str]) -> dict:
    """The job request of a memory job, as the server passes job requests on (JSON: a spare
    takes it through its control socket)."""
    return {"memory": list(argv)}


def is_params(request: dict) -> bool:
    return isinstance(request, dict) and "memory" in request


def parse(argv: list[str]) -> tuple[str, str, list[tuple[str, str, bool, tuple[int, ...]]]]:
    """(op, shape, operands) of a memory job's arguments; ValueError if they are malformed."""
    if len(argv) < 5 or argv[0] != MARK or argv[1] != VERSION:
        raise ValueError("not a memory job of this version")
    op, shape, fields = argv[2], argv[3], argv[4:]
    if fields and fields[-1].startswith("shm="):
        shared_file(argv)
        fields = fields[:-1]
    if op not in OPS or not 1 <= len(fields) <= MAX_VALUES:
        raise ValueError("bad op or number of operands")
    operands = []
    for field in fields:
        name, cls, cplx, dims = field.split(":")
        size = tuple(int(d) for d in dims.split("x"))
        if (
            name not in ROLES
            or cls not in CLASSES
            or cplx not in ("0", "1")
            or (cplx == "1" and cls in ("logical", "char"))
            or len(size) < 2
            or min(size) < 0
        ):
            raise ValueError(f"bad operand {field!r}")
        operands.append((name, cls, cplx == "1", size))
    if len({name for name, *_ in operands}) != len(operands):
        raise ValueError("an operand given twice")
    return op, shape, operands


SHM_FOLDER = "/dev/shm"
SHM_PREFIX = "bridge-mex-"


def shared_file(argv: list[str]) -> str | None:
    """The file in /dev/shm that holds the operands (``shm=PATH``, last), or None; ValueError
    for any other path (only the MEX client's own files are opened)."""
    if not argv[-1].startswith("shm="):
        return None
    path = argv[-1][4:]
    folder, name = os.path.split(path)
    if folder != SHM_FOLDER or not name.startswith(SHM_PREFIX) or name in ("", ".", ".."):
        raise ValueError(f"bad shared file {path!r}")
    return path


def _align(n: int) -> int:
    return (n + 63) & ~63


def nbytes(cls: str, cplx: bool, size: tuple[int, ...]) -> int:
    return ITEM[cls] * (2 if cplx else 1) * math.prod(size)


def check(argv: list[str]) -> str | None:
    """Why the listening process refuses this memory job (the client then runs it through files),
    or None."""
    try:
        parse(argv)
    except ValueError as err:
        return f"bad memory job: {err}"
    return None


def _receive(conn, buffer: memoryview, data: bytes) -> bytes:
    """Fill ``buffer`` from ``data`` (bytes that came with "go"), then from the connection; the
    bytes left over. ConnectionError: the client stopped sending (it gave up, or froze)."""
    n = min(len(data), len(buffer))
    buffer[:n] = data[:n]
    data = data[n:]
    got = n
    conn.settimeout(PAYLOAD_DEADLINE)
    while got < len(buffer):
        try:
            k = conn.recv_into(buffer[got:])
        except TimeoutError:
            raise ConnectionError("the operands stopped coming") from None
        if not k:
            raise ConnectionError("the client closed the connection")
        got += k
    return data


def job(conn, reader: client.Reader, argv: list[str], progress: Lines | None = None) -> int:
    """The body of a memory job's process, after "go": read the operands, compute, answer; then
    serve the same client's next memory jobs (:data:`KEEP`). The process's exit status.
    ``progress``: where a long computation says how long it has taken (the client's connection,
    when its "go" asked for it), for this job and the next ones; None: nowhere."""
    # No cyclic garbage collection in this short-lived process: a collection walks every object
    # the server imported (numpy, scipy: 10-20 ms), and touching them copies their pages from the
    # server's (copy-on-write). Reference counting still frees the jobs' arrays.
    gc.freeze()
    gc.disable()
    identity = client.package_identity()  # the server's: it checked the client's against it
    reader = _Leftover(conn, reader.data)
    end = time.monotonic() + LIFETIME
    while True:
        code = _one(conn, reader, argv, progress)
        if code is not None:
            return code
        if time.monotonic() >= end:
            return 0  # the slot goes back to the server: the client's next call starts anew
        # The next call of the same client: "next" with the file job's header and a memory job's
        # arguments, then its operands (no handshake: this process is the client's already).
        try:
            message = reader.next(KEEP)
        except (OSError, ValueError):
            return 0
        if message is None:
            return 0  # the client is idle: free the slot
        if (
            len(message) < 7
            or message[:2] != [client.MAGIC, "next"]
            or message[2:5] != identity
            or check(message[7:])
        ):
            client.send(conn, ["refused", "not a memory job of this server's bridge"])
            return 0
        argv = message[7:]


class _Leftover(client.Reader):
    """The connection's reader, with the bytes that came after the last message."""

    def __init__(self, conn, data: bytes) -> None:
        super().__init__(conn, MAX_MESSAGE)
        self.data = data


def _one(conn, reader: _Leftover, argv: list[str], progress: Lines | None) -> int | None:
    """One memory job on ``conn``: None when it was answered (the client may send another),
    else the process's exit status."""
    import numpy as np

    from bridge._formats.classes import Variable, class_dtype

    op, shape, described = parse(argv)
    shared = _Shared.open(shared_file(argv))
    if shared is False:  # (None: no file; the socket carries the operands)
        client.send(conn, ["refused", "the shared file cannot be used"])
        return 0
    variables, offset = [], 0
    try:
        data = reader.data
        for name, cls, cplx, size in described:
            if isinstance(shared, _Shared):  # in place, in the client's file
                count = nbytes(cls, cplx, size)
                raw = np.frombuffer(shared.map, np.uint8, count, offset)
                offset = _align(offset + count)
            else:
                raw = np.empty(nbytes(cls, cplx, size), np.uint8)
                data = _receive(conn, raw.data, data)
            if cls == "char":  # the codes, as the MAT reader holds a char variable's
                values = raw.view(np.uint16)
            elif cplx:  # the real parts, then the imaginary parts (MATLAB's separate storage)
                parts = raw.view(class_dtype(cls)).reshape(2, -1)
                values = np.empty(parts.shape[1], class_dtype(cls, True))
                values.real, values.imag = parts  # complex integers: as the MAT reader
            else:
                values = raw.view(class_dtype(cls))
            values = values.reshape(size, order="F")
            variables.append((name, Variable(name, cls, size, cplx, values)))
        reader.data = data
    except (OSError, ValueError):
        return NOT_STARTED  # the client gave up before its operands were all here
    status, line, result = run(op, shape, variables, progress)
    del variables, raw
    conn.settimeout(None)
    if isinstance(shared, _Shared) and result is not None and shared.put(result, offset):
        client.send(conn, ["ok", "0", "", *_described(result), "shm"])
        return None
    if status < 0:
        client.send(conn, ["refused", "a job this large is streamed; it runs through files"])
        return 0
    if result is None:
        client.send(conn, ["ok", str(status), line])
        return None
    if result.nbytes > 1 << 20:  # a large result goes over in fewer turns (capped by wmem_max)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    pieces = [result.real, result.imag] if result.dtype.kind == "c" else [result]
    try:
        conn.sendall(client.encode(["ok", "0", "", *_described(result)]))
        for part in pieces:
            flat = np.asfortranarray(part).reshape(-1, order="F")
            if flat.size:
                conn.sendall(flat.data.cast("B"))
    except OSError:
        return 0  # the client is gone (Ctrl-C): nobody waits for the answer
    return None


def _described(result: np.ndarray) -> list[str]:
    """CLASS, COMPLEX, D1xD2x... of a result."""
    from bridge._formats.classes import class_of

    cls, cplx = class_of(result)  # the class the file job's writer gives it
    return [cls, "1" if cplx else "0", "x".join(map(str, result.shape))]


class _Shared:
    """The client's shared file, mapped: its operands, then room for the result. The client keeps
    the file from call to call (its pages are touched once); so does this process, while it takes
    the same client's next calls."""

    last: _Shared | None = None

    def __init__(self, path: str, fd: int, st: os.stat_result, mapping: mmap.mmap) -> None:
        self.path, self.fd, self.key, self.size, self.map = path, fd, st.st_ino, st.st_size, mapping
        self.reserved = 0  # the result's space, reserved up to here (the operands' by the client)

    @classmethod
    def open(cls, path: str | None) -> _Shared | bool | None:
        """The mapped file, None without one, False if it cannot be used."""
        if path is None:
            return None
        import mmap

        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size <= 0:
                raise OSError("not the client's file")
            last = cls.last
            if last is not None and (last.path, last.key, last.size) == (
                path,
                st.st_ino,
                st.st_size,
            ):
                os.close(fd)
                return last  # the same file, the same size: the same mapping
            if last is not None:
                cls.last = None
                last.close()
            cls.last = cls(path, fd, st, mmap.mmap(fd, st.st_size))
            return cls.last
        except (OSError, ValueError):
            os.close(fd)
            return False

    def put(self, result: np.ndarray, offset: int) -> bool:
        """Write the result at ``offset`` (real parts, then imaginary parts); False when it
        does not fit or the space cannot be had (the socket then carries it)."""
        import numpy as np

        parts = [result.real, result.imag] if result.dtype.kind == "c" else [result]
        need = sum(part.nbytes for part in parts)
        if offset + need > self.size:
            return False
        try:
            if need and offset + need > self.reserved:  # a full /dev/shm: no SIGBUS
                os.posix_fallocate(self.fd, offset, need)
                self.reserved = max(self.reserved, offset + need)
        except OSError:
            return False
        for part in parts:
            view = np.frombuffer(self.map, part.dtype, part.size, offset)
            view.reshape(part.shape, order="F")[...] = part
            offset += part.nbytes
            del view
        return True

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self.map.close()  # views still alive (an error's traceback): the collector's job
        os.close(self.fd)


def run(
    op: str, shape: str, variables: list, progress: Lines | None = None
) -> tuple[int, str, np.ndarray | None]:
    """(status, error line, result or None): the file job's work and error report on operands
    that are already in memory; a long computation says so on ``progress``, as the file job's."""
    from bridge._formats.classes import REQUEST_FIELDS
    from bridge._job import compute, files, memory, outcome, runner, stream

    # The job a job file with these variables (and op and shape, as the wrappers save them) is,
    # resolved as the file job resolves one: the operands by role, the settings by variable.
    # The request fields are taken out of the variables as the file readers take them.
    request = {"op": op, **({"shape": shape} if shape else {})}
    named: dict = {}
    try:
        for name, variable in variables:
            if name in REQUEST_FIELDS:
                request.setdefault(name, variable.text())
            else:
                named[name] = variable
        job = files.resolve("", named, request)  # no file to name in errors
        # The file job's memory plan: the same checks and errors, and the same refusal of a job
        # that does not fit. A job the file path would stream is not run here.
        plan = stream.plan_job(job, "out.mat", memory.budget(None))
        if plan is not None:
            return -1, "", None
        job.read_operands()
        if progress is None:
            result = compute.compute(job)
        else:
            result = runner.compute_reported(job, progress)
    except Exception as err:
        status, text = outcome.status_and_text(err)
        return status, outcome.error_line(text), None
    if result.ndim < 2:
        result = result.reshape(1, -1)
    return EXIT_OK, "", result
