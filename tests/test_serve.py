"""``bridge serve``, the warm worker: same answers as the cold path, robust, private to its user.

A server runs as a subprocess on a socket in a private temporary folder (BRIDGE_SOCKET); jobs run
through matlab/private/bridge_worker.py exactly as the wrappers run it (``python -S``), once cold
(BRIDGE_NO_SERVER=1) and once warm, in the same folder with the same relative paths, and must give
the same exit status, stdout, stderr line, error file and result. The server's job counter proves
that the warm run was served (a silent fallback to the cold path would not count). No timings.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.signal

from bridge import _client as client
from bridge import _fastpath as fastpath
from bridge import _serve as serve
from bridge.errors import EXIT_DATA, EXIT_INTERNAL, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
from tests import progress_hooks
from tests.octave import octave_cli

pytestmark = pytest.mark.slow  # servers and jobs in processes
ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "matlab" / "private" / "bridge_worker.py"


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (client.SOCKET_ENV, "BRIDGE_NO_SERVER")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture
def short_dir():
    """A folder with a short path: a Unix socket path must stay under about 100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="bs-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Running:
    def __init__(
        self, sock: Path, *args: str, env: dict | None = None, command: list | None = None
    ) -> None:
        self.path = sock
        self.env = env or base_env(BRIDGE_SOCKET=str(sock))
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "bridge", "serve", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if client.request("status", str(sock))["ok"]:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate(timeout=10)
                pytest.fail(f"bridge serve did not start: {out}{err}")
            time.sleep(0.05)

    def status(self) -> dict:
        answer = client.request("status", str(self.path), timeout=30)
        assert answer["ok"], answer
        return answer

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # end it here, not in a later test's garbage
            self.proc.kill()
            _, err = self.proc.communicate(timeout=30)
            pytest.fail(f"bridge serve outlived SIGTERM by 30 s: {err}")
        return self.proc.returncode, err


@pytest.fixture
def server(short_dir):
    running = Running(short_dir / "serve.sock")
    yield running
    status, err = running.stop()
    assert status == 0, err
    assert not running.path.exists()  # SIGTERM removes the socket


def worker(*args, env, cwd, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-S", str(WORKER), *map(str, args)],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


# --- jobs: the same answers warm and cold ----------------------------------------------------


def make_files(folder: Path) -> None:
    rng = np.random.default_rng(5)
    scipy.io.savemat(folder / "in.mat", {"A": rng.random((8, 8)), "B": rng.random((3, 3))})
    scipy.io.savemat(
        folder / "vec.mat",
        {"u": rng.random((1, 9)), "v": np.array([[1.0, 2, 1]]), "shape": "same"},
    )
    scipy.io.savemat(
        folder / "ints.mat",
        {"A": np.arange(12, dtype=np.int16).reshape(3, 4), "B": np.ones((2, 2), dtype=np.int16)},
    )
    scipy.io.savemat(
        folder / "notvec.mat", {"u": np.ones((3, 3)), "v": np.ones((2, 2)), "op": "conv"}
    )
    scipy.io.savemat(
        folder / "badshape.mat", {"A": np.ones((3, 3)), "B": np.ones(2), "shape": "middle"}
    )
    scipy.io.savemat(folder / "onlyu.mat", {"u": np.ones((1, 3))})
    (folder / "garbage.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 3)
    (folder / "in.txt").write_text("% op conv\n% u double 1 3\n1 2 3\n% v double 1 2\n1 -1\n")
    scipy.io.savemat(
        folder / "image.mat",
        {"A": rng.integers(0, 256, (9, 11, 3)).astype(np.uint8), "h": rng.random((3, 4))},
    )
    (folder / "sub").mkdir()


JOBS = {
    "conv2": ["in.mat", "out.mat"],
    "conv-same-error-file": ["vec.mat", "out.mat", "--error-file", "err.txt"],
    "int16-valid": ["ints.mat", "out.mat", "--shape", "valid"],
    "text": ["in.txt", "out.txt"],
    "hdf5-out": ["in.mat", "sub/out.h5"],
    "options": ["vec.mat", "out.mat", "--op", "convn", "--a", "u", "--b", "v", "--out-var", "R"],
    "missing-file": ["none.mat", "out.mat"],
    "missing-file-error-file": ["none.mat", "out.mat", "--error-file", "err.txt"],
    "not-vector": ["notvec.mat", "out.mat", "--error-file", "err.txt"],
    "bad-shape-in-file": ["badshape.mat", "out.mat"],
    "missing-variable": ["onlyu.mat", "out.mat"],
    "malformed-file": ["garbage.mat", "out.mat"],
    "missing-output-folder": ["in.mat", "nowhere/out.mat"],
    "output-is-folder": ["in.mat", "sub"],
    "bad-option": ["in.mat", "out.mat", "--bogus"],
    "bad-shape-option": ["in.mat", "out.mat", "--shape", "middle", "--error-file", "err.txt"],
    "out-same-as-in": ["in.mat", "in.mat"],
    "debug": ["notvec.mat", "out.mat", "--debug"],
    "imfilter": ["image.mat", "out.mat", "--op", "imfilter", "--padding", "symmetric"],
    "imgaussfilt": ["image.mat", "out.mat", "--op", "imgaussfilt", "--sigma", "1.5"],
    "filter-bad-option": ["image.mat", "out.mat", "--op", "imfilter", "--padding", "rim"],
}
STATUS = {
    "filter-bad-option": EXIT_DATA,
    "missing-file": EXIT_DATA,
    "missing-file-error-file": EXIT_DATA,
    "not-vector": EXIT_DATA,
    "bad-shape-in-file": EXIT_DATA,
    "missing-variable": EXIT_DATA,
    "malformed-file": EXIT_DATA,
    "missing-output-folder": EXIT_OUTPUT,
    "output-is-folder": EXIT_OUTPUT,
    "bad-option": EXIT_USAGE,
    "bad-shape-option": EXIT_USAGE,
    "out-same-as-in": EXIT_USAGE,
    "debug": EXIT_DATA,
}
OUTPUTS = ("out.mat", "out.txt", "sub/out.h5", "err.txt")


def outcome(done: subprocess.CompletedProcess, folder: Path) -> dict:
    """Everything a caller sees of a run; output files are read, then removed."""
    seen = {"status": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    for name in OUTPUTS:
        path = folder / name
        if not path.exists():
            continue
        if name.endswith(".mat"):
            seen[name] = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
        elif name.endswith(".h5"):
            import h5py

            with h5py.File(path, "r") as f:
                seen[name] = {k: f[k][()] for k in f}
        else:
            seen[name] = path.read_text()
        path.unlink()
    return seen


def assert_same(cold: dict, warm: dict) -> None:
    assert cold.keys() == warm.keys()
    for key, value in cold.items():
        if isinstance(value, dict):
            assert value.keys() == warm[key].keys()
            for name, array in value.items():
                assert array.dtype == warm[key][name].dtype
                np.testing.assert_array_equal(array, warm[key][name])
        else:
            assert value == warm[key], key


@pytest.mark.parametrize("name", list(JOBS))
def test_warm_job_is_the_cold_job(server, short_dir, name):
    folder = short_dir / "work"
    folder.mkdir()
    make_files(folder)
    cold = outcome(
        worker(*JOBS[name], env=dict(server.env, BRIDGE_NO_SERVER="1"), cwd=folder), folder
    )
    before = server.status()
    warm = outcome(worker(*JOBS[name], env=server.env, cwd=folder), folder)
    after = server.status()
    if fastpath.parse(JOBS[name]) is not None:
        assert after["jobs"] == before["jobs"] + 1  # served warm, not a silent fallback
    else:  # not a plain job (a usage error): refused, and the cold path answers
        assert after["jobs"] == before["jobs"] and after["refused"] == before["refused"] + 1
    assert cold["status"] == STATUS.get(name, EXIT_OK), cold
    assert_same(cold, warm)
    if cold["status"] and "--error-file" not in JOBS[name]:
        last = cold["stderr"].splitlines()[-1]
        assert last.startswith("bridge: error: ")
        if "--debug" in JOBS[name]:
            assert cold["stderr"].startswith("Traceback")
        else:
            assert cold["stderr"].count("\n") == 1
    # The server survives every bad job: the next job works, warm.
    again = outcome(worker("in.mat", "out.mat", env=server.env, cwd=folder), folder)
    assert again["status"] == EXIT_OK and "out.mat" in again
    assert server.status()["jobs"] == after["jobs"] + 1
    assert server.proc.poll() is None


def test_results_keep_the_callers_umask(server, short_dir):
    make_files(short_dir)
    modes = []
    for env in (dict(server.env, BRIDGE_NO_SERVER="1"), server.env):
        done = worker("in.mat", "new.mat", env=env, cwd=short_dir, umask=0o027)
        assert done.returncode == 0, done.stderr
        modes.append((short_dir / "new.mat").stat().st_mode & 0o777)
        (short_dir / "new.mat").unlink()
    assert modes == [0o640, 0o640]


def test_internal_error_in_a_job_is_the_cold_line(monkeypatch):
    def boom(params, **_):
        raise KeyError("unexpected")

    monkeypatch.setattr(fastpath, "run_reported", boom)
    status, out, err = serve.run_job(fastpath.parse(["in.mat", "out.mat"]))
    assert status == EXIT_INTERNAL and out == ""
    assert err.startswith("bridge: error: internal error: KeyError") and err.count("\n") == 1

    def leaves(params, **_):
        raise SystemExit(3)

    monkeypatch.setattr(fastpath, "run_reported", leaves)
    assert serve.run_job(fastpath.parse(["in.mat", "out.mat"]))[0] == 3


def test_an_error_text_with_a_lone_surrogate_is_sent(monkeypatch):
    """Error texts that UTF-8 cannot hold are escaped as Python's stderr escapes them."""

    def odd(params, **_):
        sys.stderr.write("bridge: error: bad \ud800 and \udcff (x)\n")
        return EXIT_DATA

    monkeypatch.setattr(fastpath, "run_reported", odd)
    status, out, err = serve.run_job(fastpath.parse(["in.mat", "out.mat"]))
    fields = client.decode(client.encode(["ok", str(status), out, err])[8:])
    assert fields[3] == "bridge: error: bad \\ud800 and \\udcff (x)\n"
    cold = subprocess.run(
        [sys.executable, "-c", "import sys; sys.stderr.write('bad \\ud800 and \\udcff')"],
        capture_output=True,
    )
    assert cold.stderr == b"bad \\ud800 and \\udcff"  # what the cold path prints
    assert client.run_warm(["in\ud800.mat", "out.mat"]) is None  # no such file name: cold


def test_a_job_raising_inside_main_does_not_stop_the_server(server, short_dir, tmp_path):
    # A request the server cannot even parse, then a client that sends half a message and leaves.
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(server.path))
        sock.sendall((10).to_bytes(8, "big") + b"\x00\x00\x00\x09garbage!!")
        answer = client.receive(sock)
    assert answer[0] == "refused"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(server.path))
        sock.sendall((1000).to_bytes(8, "big") + b"abc")
    make_files(short_dir)
    done = worker("in.mat", "out.mat", env=server.env, cwd=short_dir)
    assert done.returncode == 0 and server.status()["jobs"] == 1


# --- refusals: the client goes cold ----------------------------------------------------------


def other_checkout(folder: Path) -> Path:
    """A copy of the package and the worker: same version, another package folder."""
    shutil.copytree(
        ROOT / "bridge", folder / "bridge", ignore=shutil.ignore_patterns("__pycache__")
    )
    (folder / "matlab" / "private").mkdir(parents=True)
    shutil.copy(WORKER, folder / "matlab" / "private")
    return folder / "matlab" / "private" / "bridge_worker.py"


def test_another_checkout_is_refused_and_runs_cold(server, short_dir):
    copy = other_checkout(short_dir / "other")
    make_files(short_dir)
    done = subprocess.run(
        [sys.executable, "-S", str(copy), "in.mat", "out.mat"],
        env=server.env,
        cwd=short_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (short_dir / "out.mat").exists()
    status = server.status()
    assert status["jobs"] == 0 and status["refused"] == 1
    assert "package" in status["last_refusal"]


class InThread:
    """A Server's loop in a thread of the test process (only refusals and status: no job forks)."""

    def __init__(self, path: Path, **options) -> None:
        self.server = serve.Server(str(path), **options)
        self.server.open()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ask(self, fields: list[str]) -> list[str]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(30)
            sock.connect(self.server.path)
            client.send(sock, fields)
            return client.receive(sock)

    def close(self) -> None:
        self.server.stopping = True
        self.thread.join(30)
        self.server.close()


@pytest.fixture
def in_thread(short_dir):
    running = []

    def start(**options):
        running.append(InThread(short_dir / "t.sock", **options))
        return running[-1]

    yield start
    for each in running:
        each.close()


def test_identity_rules(in_thread, short_dir):
    running = in_thread()
    server = running.server
    good = [client.MAGIC, "job", *server.identity, str(short_dir), "18"]
    for k, key in ((2, "version"), (3, "package"), (4, "fingerprint")):
        fields = list(good)
        fields[k] += "x"
        assert running.ask([*fields, "in.mat", "out.mat"])[0] == "refused"
        assert key in server.last_refusal
    assert running.ask(["something else", "job", "", "", "", "", ""])[0] == "refused"
    assert running.ask(["bridge-serve/1", "job", *good[2:], "in.mat", "out.mat"])[0] == "refused"
    assert server.jobs == 0 and server.refused == 5


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--stop"],
        ["serve", "--socket", "/tmp/x.sock"],
        ["vars", "in.mat"],
        ["in.mat", "out.mat", "--help"],
        ["--version"],
        ["in.mat"],
        ["in.mat", "out.mat", "--bogus"],
    ],
)
def test_requests_are_limited_to_the_job_command(in_thread, short_dir, argv):
    running = in_thread()
    fields = [client.MAGIC, "job", *running.server.identity, str(short_dir), "18", *argv]
    answer = running.ask(fields)
    assert answer[0] == "refused" and "not a plain job" in answer[1]
    assert running.ask([client.MAGIC, "status", *running.server.identity, "/", "18"])[0] == "ok"
    assert not running.server.stopping and running.server.jobs == 0


def test_another_user_is_refused(in_thread, short_dir):
    """SO_PEERCRED: a server for another uid (as if the client were another user) refuses."""
    running = in_thread(uid=os.getuid() + 1)
    answer = client.request("status", running.server.path, timeout=30)
    assert not answer["ok"] and "own user" in answer["reason"]
    assert running.server.refused == 1


def test_other_groups_are_refused(in_thread, short_dir):
    """Same uid, other groups: the server would read files its client cannot; refused."""
    running = in_thread(groups=frozenset({os.getegid() + 12345}))
    answer = client.request("status", running.server.path, timeout=30)
    assert not answer["ok"] and "groups differ" in answer["reason"]
    assert serve.peer_groups(os.getpid()) == serve.own_groups()
    assert serve.peer_groups(2**22 + 7) is None


def test_fingerprint_follows_the_code(short_dir):
    shutil.copytree(ROOT / "bridge", short_dir / "bridge")
    before = client.fingerprint(str(short_dir / "bridge"))
    path = short_dir / "bridge" / "errors.py"
    path.write_text(path.read_text() + "\n# edited\n")
    assert client.fingerprint(str(short_dir / "bridge")) != before


def test_peer_uid_is_this_process_uid():
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert client.peer_uid(a) == os.getuid()


def test_no_server_and_disabled_go_cold(short_dir, monkeypatch):
    monkeypatch.setenv(client.SOCKET_ENV, str(short_dir / "none.sock"))
    assert client.run_warm(["in.mat", "out.mat"]) is None
    monkeypatch.setenv("BRIDGE_NO_SERVER", "1")
    assert client.disabled()
    assert not client.is_job(["vars", "x.mat"]) and not client.is_job(["in.mat", "--help"])
    assert client.is_job(["in.mat", "out.mat", "--debug"])


def test_codec_round_trip():
    fields = ["", "a b", "é", "\udcff name", "x" * 70000]
    assert client.decode(client.encode(fields)[8:]) == fields


# --- one server per user, stale sockets, folders ----------------------------------------------


def test_a_second_server_is_refused(server):
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == serve.EXIT_RUNNING
    assert done.stderr == (
        f"bridge: error: a server is already running on {server.path} (bridge:serveRunning)\n"
    )
    assert server.status()["pid"] == server.proc.pid


def test_status_and_stop(short_dir):
    env = base_env(BRIDGE_SOCKET=str(short_dir / "s.sock"))
    query = [sys.executable, "-m", "bridge", "serve"]
    done = subprocess.run([*query, "--status"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout.startswith("no server on ")
    running = Running(short_dir / "s.sock", env=env)
    done = subprocess.run([*query, "--status"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and f"pid={running.proc.pid} jobs=0" in done.stdout
    done = subprocess.run([*query, "--stop"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("stopping on ")
    running.proc.communicate(timeout=30)
    assert running.proc.returncode == 0
    assert not (short_dir / "s.sock").exists()


def test_a_stop_signal_during_a_fork_stops_the_server(short_dir):
    """A SIGTERM whose handler runs inside an after-fork hook (logging has one) still stops the
    server. (It was raised as an exception there, the hook swallowed it, the server served on.)
    """
    sock = short_dir / "s.sock"
    code = (
        "import os, signal, sys\n"
        "def hook():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    for _ in range(1000): pass  # the handler runs here, inside the hook\n"
        "os.register_at_fork(after_in_parent=hook)\n"
        "from bridge import _serve as serve\n"
        f"sys.exit(serve.serve({str(sock)!r}))\n"
    )
    env = base_env(BRIDGE_SOCKET=str(sock), BRIDGE_SERVE_PREFAULT_MB="0")
    running = Running(sock, env=env, command=[sys.executable, "-c", code])
    make_files(short_dir)
    done = worker("in.mat", "out.mat", env=env, cwd=short_dir)  # forks a job process
    assert done.returncode == EXIT_OK, done.stderr
    _, err = running.proc.communicate(timeout=30)
    assert running.proc.returncode == 0, err
    assert "Exception ignored" not in err
    assert not sock.exists()


def test_idle_timeout_ends_the_server(short_dir):
    running = Running(short_dir / "s.sock", "--idle-timeout", "0.5")
    running.proc.communicate(timeout=60)
    assert running.proc.returncode == 0
    assert not (short_dir / "s.sock").exists()


def test_stale_socket_runs_cold_then_is_replaced(short_dir):
    path = short_dir / "serve.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed server leaves
    make_files(short_dir)
    env = base_env(BRIDGE_SOCKET=str(path))
    done = worker("in.mat", "out.mat", env=env, cwd=short_dir)
    assert done.returncode == 0 and (short_dir / "out.mat").exists(), done.stderr
    running = Running(path, env=env)
    try:
        done = worker("in.mat", "out.mat", env=env, cwd=short_dir)
        assert done.returncode == 0 and running.status()["jobs"] == 1
    finally:
        assert running.stop()[0] == 0


def test_a_file_in_the_way_is_not_replaced(short_dir):
    path = short_dir / "serve.sock"
    path.write_text("mine")
    env = base_env(BRIDGE_SOCKET=str(path))
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"], env=env, capture_output=True, text=True
    )
    assert done.returncode == EXIT_OUTPUT and "not a socket" in done.stderr
    assert path.read_text() == "mine"


def test_default_folder_is_private(short_dir):
    env = base_env(XDG_RUNTIME_DIR=str(short_dir))
    running = Running(short_dir / "bridge" / "serve.sock", env=env)
    try:
        assert (short_dir / "bridge").stat().st_mode & 0o777 == 0o700
        assert (short_dir / "bridge" / "serve.sock").stat().st_mode & 0o077 == 0
    finally:
        assert running.stop()[0] == 0


def test_an_open_folder_is_refused(short_dir):
    (short_dir / "bridge").mkdir(mode=0o755)
    os.chmod(short_dir / "bridge", 0o755)
    env = base_env(XDG_RUNTIME_DIR=str(short_dir))
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"], env=env, capture_output=True, text=True
    )
    assert done.returncode == EXIT_OUTPUT and "unsafe socket folder" in done.stderr
    assert done.stderr.count("\n") == 1
    # And a client does not trust a socket there.
    assert client.folder_problem(str(short_dir / "bridge"))


def test_folder_problems(short_dir):
    assert client.folder_problem(str(short_dir)) is None  # mkdtemp makes 0700
    os.chmod(short_dir, 0o750)
    assert "accessible" in client.folder_problem(str(short_dir))
    (short_dir / "f").write_text("")
    assert "not a folder" in client.folder_problem(str(short_dir / "f"))
    assert client.folder_problem(str(short_dir / "none"))


def test_default_socket_path(monkeypatch):
    monkeypatch.delenv(client.SOCKET_ENV, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert client.socket_path() == "/run/user/1000/bridge/serve.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert client.socket_path() == f"/tmp/bridge-{os.getuid()}/serve.sock"


# --- the wrappers in Octave -------------------------------------------------------------------

WRAPPER_SCRIPT = """
addpath('{matlab}');
rand('seed', 3);
A = rand(8, 8); B = rand(3, 3);
W = bridge_conv2(A, B, 'same'); R = conv2(A, B, 'same');
printf('equal=%d\\n', isequal(size(W), size(R)) && max(abs(W(:) - R(:))) < 1e-12);
S = single(A(1:5, :));
W = bridge_convn(S, B, 'valid'); R = convn(S, B, 'valid');
printf('single=%d\\n', strcmp(class(W), 'single') && max(abs(W(:) - R(:))) < 1e-5);
try
  bridge_conv(ones(3), ones(2));
catch err
  printf('id=%s\\nmessage=%s\\n', err.identifier, err.message);
end
"""


def run_octave(script: str, env: dict, cwd: Path) -> str:
    done = subprocess.run(
        [octave_cli(), "--norc", "--quiet", "--no-history", "--eval", script],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.octave
def test_wrappers_use_the_server(server, short_dir):
    # Each call one file job (the compiled client's or the Python client's): without the MEX
    # client, whose job process takes a session's next calls (tests/test_mex.py covers it).
    octave_cli()
    script = WRAPPER_SCRIPT.format(matlab=ROOT / "matlab")
    env = dict(server.env, BRIDGE_PYTHON=sys.executable, TMPDIR=str(short_dir), BRIDGE_NO_MEX="1")
    cold = run_octave(script, dict(env, BRIDGE_NO_SERVER="1"), short_dir)
    assert server.status()["jobs"] == 0
    warm = run_octave(script, env, short_dir)
    assert server.status()["jobs"] == 3
    assert warm == cold
    assert "equal=1\nsingle=1\nid=MATLAB:conv:AorBNotVector\n" in warm


@pytest.mark.octave
@pytest.mark.slow
def test_four_octave_processes_share_one_server(server, short_dir):
    from tests.test_wrappers_parallel import CALLS, PROCESSES, SCRIPT

    octave = octave_cli()
    env = dict(server.env, BRIDGE_PYTHON=sys.executable, TMPDIR=str(short_dir), BRIDGE_NO_MEX="1")
    procs = [
        subprocess.Popen(
            [
                octave,
                "--norc",
                "--quiet",
                "--no-history",
                "--eval",
                SCRIPT.format(matlab=ROOT / "matlab", seed=seed, calls=CALLS),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=short_dir,
        )
        for seed in range(1, PROCESSES + 1)
    ]
    for seed, proc in enumerate(procs, start=1):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
        assert f"process {seed}: {CALLS} calls correct" in out
    assert server.status()["jobs"] == PROCESSES * CALLS
    assert server.proc.poll() is None


def test_ctrl_c_stops_the_server_and_removes_the_socket(short_dir):
    running = Running(short_dir / "s.sock")
    running.proc.send_signal(signal.SIGINT)
    running.proc.communicate(timeout=30)
    assert running.proc.returncode == 0
    assert not (short_dir / "s.sock").exists()


def test_a_missing_socket_folder_is_one_line(short_dir):
    env = base_env(BRIDGE_SOCKET=str(short_dir / "none" / "s.sock"))
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve"], env=env, capture_output=True, text=True
    )
    assert done.returncode == EXIT_OUTPUT and "does not exist" in done.stderr
    assert done.stderr.count("\n") == 1


# --- no client blocks another; a frozen server or job costs seconds, never a double run ------

# A server whose jobs sleep SLOW seconds first when their input's name starts with "slow" (and say
# so in a file IN.started): a long job without depending on how fast the kernels are. The sleep is
# inherited by the forked job processes; the package files are unchanged, so the identity check
# passes. Cold runs (another process) do not sleep.
SLOW = 7.0
SLOW_SERVER = """
import os, sys, time
from bridge import _serve as serve
from bridge._job import runner
run = runner.run
def slow(request):
    infile = request.files[0]
    if os.path.basename(infile).startswith("slow"):
        open(infile + ".started", "w").close()
        time.sleep({slow})
    return run(request)
runner.run = slow
sys.stderr.write("slow server\\n")
raise SystemExit(serve.serve(None, 0, slots={slots}))
"""


def pid_alive(pid: int) -> bool:
    """A process that has not ended (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ScriptServer(Running):
    """A server started by a script (``python -c code``) that patches bridge first."""

    def __init__(self, sock: Path, code: str, **env: str) -> None:
        env = base_env(BRIDGE_SOCKET=str(sock), **env)
        super().__init__(sock, env=env, command=[sys.executable, "-c", code])

    def job_processes(self) -> list[int]:
        """The server's children that run a job (not the spare waiting for the next one)."""
        jobs = self.status()["job_pids"]
        return [pid for pid in self.children() if pid in jobs]


class SlowServer(ScriptServer):
    def __init__(self, sock: Path, slots: int = 2) -> None:
        super().__init__(sock, SLOW_SERVER.format(slow=SLOW, slots=slots))


@pytest.fixture
def slow_server(short_dir):
    made = []

    def start(slots: int = 2) -> SlowServer:
        made.append(SlowServer(short_dir / "slow.sock", slots))
        return made[-1]

    yield start
    for running in made:
        with contextlib.suppress(OSError):
            for pid in running.job_processes():  # one a test stopped holds the server's pipes
                os.kill(pid, signal.SIGKILL)
        status, err = running.stop()
        assert status == 0, err


def background_worker(*args, env, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-S", str(WORKER), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def check_result(folder: Path, name: str = "out.mat") -> None:
    got = scipy.io.loadmat(folder / name)["C"]
    data = scipy.io.loadmat(folder / "in.mat")
    expected = scipy.signal.convolve2d(data["A"], data["B"])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_a_long_warm_job_shows_its_progress_while_it_runs(short_dir):
    """A warm job's stderr comes back with its answer, so a long one was silent to the end: its
    progress lines now come as messages while it runs, and the client writes them to stderr, as
    the cold job does. The long job waits for a gate that is opened only once a line was seen."""
    gate = short_dir / "gate"
    running = ScriptServer(
        short_dir / "p.sock", progress_hooks.SERVER, **{progress_hooks.GATE_ENV: str(gate)}
    )
    try:
        make_files(short_dir)
        rng = np.random.default_rng(21)
        big = {"A": rng.random((100, 100)), "B": rng.random((90, 90))}  # above the heartbeat's
        scipy.io.savemat(short_dir / "big.mat", big)
        cold = worker(
            "big.mat", "cold.mat", env=dict(running.env, BRIDGE_NO_SERVER="1"), cwd=short_dir
        )
        assert cold.returncode == 0, cold.stderr
        short = worker("in.mat", "short.mat", env=running.env, cwd=short_dir)
        assert (short.returncode, short.stdout, short.stderr) == (0, "", "")
        long = background_worker("big.mat", "warm.mat", env=running.env, cwd=short_dir)
        progress_hooks.progress_then_result(long, gate, short_dir / "warm.mat")
        assert running.status()["jobs"] == 2  # both warm
        warm_c, cold_c = (scipy.io.loadmat(short_dir / n)["C"] for n in ("warm.mat", "cold.mat"))
        assert warm_c.dtype == cold_c.dtype and warm_c.tobytes() == cold_c.tobytes()
    finally:
        gate.touch()
        running.stop()


def test_a_client_that_does_not_ask_for_progress_gets_none(short_dir):
    """Progress messages only for a client that answered "go, progress": an older client, which
    answers "go", gets the answer alone, as before."""
    gate = short_dir / "gate"
    running = ScriptServer(
        short_dir / "q.sock", progress_hooks.SERVER, **{progress_hooks.GATE_ENV: str(gate)}
    )
    try:
        rng = np.random.default_rng(22)
        scipy.io.savemat(
            short_dir / "big.mat", {"A": rng.random((100, 100)), "B": rng.random((90, 90))}
        )
        sock = client.connect(str(running.path))
        try:
            reader = client.Reader(sock)
            files = [str(short_dir / "big.mat"), str(short_dir / "out.mat")]
            client.send(sock, [*client.header("job"), *files])
            message = reader.next(60)
            if message == ["queued"]:
                message = reader.next(60)
            assert message is not None and message[0] == "ready"
            client.send(sock, ["go"])
            assert reader.next(1.0) is None  # nothing while the job waits at its gate
            gate.touch()
            answer = reader.next(120)
        finally:
            sock.close()
        assert answer is not None and answer[:2] == ["ok", "0"], answer
        assert answer[3] == ""  # the captured stderr: no progress there either
    finally:
        gate.touch()
        running.stop()


def test_silent_and_trickling_clients_do_not_delay_a_job(server, short_dir):
    make_files(short_dir)
    silent = []
    for _ in range(6):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(server.path))
        silent.append(sock)
    stop = threading.Event()

    def trickle():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(server.path))
            with contextlib.suppress(OSError):
                for byte in client.encode(["x" * 100]):
                    if stop.wait(0.5):
                        return
                    sock.send(bytes([byte]))

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        time.sleep(0.5)
        done = worker("in.mat", "out.mat", env=server.env, cwd=short_dir)
        # Answered while the silent and trickling connections still hang on: the job did not
        # wait for them, which are dropped at their deadline only now.
        refused_when_done = server.status()["refused"]
        wait_for(lambda: server.status()["refused"] >= 7, timeout=30)
    finally:
        stop.set()
        thread.join(30)
        for sock in silent:
            sock.close()
    assert done.returncode == 0, done.stderr
    check_result(short_dir)
    assert refused_when_done < 7
    status = server.status()
    assert status["jobs"] == 1  # served warm, not after the others gave up


def test_a_tiny_job_does_not_wait_behind_a_long_one(slow_server, short_dir):
    running = slow_server(slots=2)
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    long = background_worker("slow.mat", "slow-out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["running"] == 1)
    done = worker("in.mat", "out.mat", env=running.env, cwd=short_dir)
    assert done.returncode == 0, done.stderr
    assert long.poll() is None  # the long job still runs: the tiny one did not wait for it
    _, err = long.communicate(timeout=120)
    assert long.returncode == 0, err
    check_result(short_dir)
    check_result(short_dir, "slow-out.mat")
    status = running.status()
    # Both ran warm, once each: the long job's client waited for its live job process.
    assert status["jobs"] == 2 and status["abandoned"] == 0 and status["refused"] == 0


def test_a_client_that_goes_away_cancels_its_job(slow_server, short_dir):
    """Killed mid-request, a client's job went on and replaced OUT about 12 s later: the job
    now stops as SIGTERM stops it (OUT as it was, no temporary file left)."""
    running = slow_server(slots=2)
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    (short_dir / "slow-out.mat").write_bytes(b"previous result")
    long = background_worker("slow.mat", "slow-out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: (short_dir / "slow.mat.started").exists())
    pids = running.status()["job_pids"]
    assert len(pids) == 1
    long.kill()
    long.communicate(timeout=30)
    deadline = time.monotonic() + SLOW + 10
    while time.monotonic() < deadline and pid_alive(pids[0]):
        time.sleep(0.1)
    assert not pid_alive(pids[0]), "the job went on without its client"
    time.sleep(0.5)
    assert (short_dir / "slow-out.mat").read_bytes() == b"previous result"
    assert not [p.name for p in short_dir.iterdir() if p.name.endswith(".tmp")]


def test_jobs_beyond_the_slots_queue_and_run_warm(slow_server, short_dir):
    running = slow_server(slots=1)
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    long = background_worker("slow.mat", "slow-out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["running"] == 1)
    queued = background_worker("in.mat", "out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["queued"] == 1)
    for proc in (long, queued):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    check_result(short_dir)
    status = running.status()
    assert status["jobs"] == 2 and status["queued"] == 0 and status["refused"] == 0


def test_the_cheapest_queued_job_runs_first(slow_server, short_dir):
    """With every slot busy, a tiny job queued after a large one starts first (40 clients once
    left tiny jobs waiting behind long ones, a median of 10 s)."""
    running = slow_server(slots=1)
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    big = np.random.default_rng(3).random((400, 400))
    scipy.io.savemat(short_dir / "slow-big.mat", {"A": big, "B": np.ones((3, 3))})
    first = background_worker("slow.mat", "slow-out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["running"] == 1)
    large = background_worker("slow-big.mat", "big-out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["queued"] == 1)
    tiny = background_worker("in.mat", "out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["queued"] == 2)
    finished = []
    procs = {"large": large, "tiny": tiny, "first": first}
    deadline = time.monotonic() + 120
    while len(finished) < 3 and time.monotonic() < deadline:
        for name, proc in procs.items():
            if name not in finished and proc.poll() is not None:
                finished.append(name)
        time.sleep(0.05)
    for proc in procs.values():
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    assert finished.index("tiny") < finished.index("large")


def test_a_frozen_server_costs_seconds_and_never_runs_the_job(server, short_dir):
    make_files(short_dir)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        # It finishes while the server is still frozen: cold, within its time-outs.
        done = worker("in.mat", "out.mat", env=server.env, cwd=short_dir)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert done.returncode == 0, done.stderr
    check_result(short_dir)
    before = (short_dir / "out.mat").stat().st_mtime_ns
    # Resumed, the server finds the request of a client that left: it never runs it.
    wait_for(lambda: server.status()["abandoned"] + server.status()["refused"] >= 1)
    time.sleep(0.5)
    assert (short_dir / "out.mat").stat().st_mtime_ns == before
    status = server.status()
    assert status["jobs"] == status["abandoned"]
    done = worker("in.mat", "out.mat", env=server.env, cwd=short_dir)
    assert done.returncode == 0 and server.status()["jobs"] == status["jobs"] + 1


def test_a_stopped_job_process_is_killed_and_the_job_runs_cold(slow_server, short_dir):
    running = slow_server()
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    proc = background_worker("slow.mat", "out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["running"] == 1)
    wait_for(lambda: (short_dir / "slow.mat.started").exists())  # past the handshake
    (pid,) = running.job_processes()
    os.kill(pid, signal.SIGSTOP)
    # The stopped job process never finishes: the caller's answer is the cold run's.
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    check_result(short_dir, "out.mat")
    wait_for(lambda: client.proc_stat(pid) is None or client.proc_stat(pid)[0] == "Z")


def test_a_crashed_job_process_leaves_the_job_to_the_cold_path(slow_server, short_dir):
    running = slow_server()
    make_files(short_dir)
    shutil.copy(short_dir / "in.mat", short_dir / "slow.mat")
    proc = background_worker("slow.mat", "out.mat", env=running.env, cwd=short_dir)
    wait_for(lambda: running.status()["running"] == 1)
    wait_for(lambda: (short_dir / "slow.mat.started").exists())  # past the handshake
    (pid,) = running.job_processes()
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    check_result(short_dir, "out.mat")
    assert running.proc.poll() is None and running.status()["jobs"] == 1


def test_identity_does_not_follow_a_shadowing_bridge_folder(monkeypatch):
    """A folder named bridge in the working directory can be what ``import bridge`` finds:
    ``bridge serve --status`` exited 70 there. The identity comes from the client's own folder."""
    import types

    import bridge

    expected = client.package_identity()
    assert expected[0] == bridge.__version__
    monkeypatch.setitem(sys.modules, "bridge", types.ModuleType("bridge"))
    assert client.package_identity() == expected


def test_serve_does_not_import_the_cli():
    """No import circle: serve runs job requests (bridge._fastpath, bridge._job); only cli
    imports serve."""
    import ast

    tree = ast.parse((ROOT / "bridge" / "_serve.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{a.name}" for a in node.names} | {node.module or ""}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    assert not any(n == "bridge._cli" or n.startswith("bridge._cli.") for n in names), names
    assert "bridge._fastpath" in names


def test_status_from_a_folder_holding_bridge(server, short_dir):
    (short_dir / "bridge").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "--status"],
        env=server.env,
        cwd=short_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def module(*args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *map(str, args)],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "name", ["conv2", "conv-same-error-file", "text", "missing-file", "not-vector", "debug"]
)
def test_python_m_bridge_uses_the_server(server, short_dir, name):
    """``python -m bridge IN OUT`` from a shell: warm when a server runs, with the cold answers."""
    folder = short_dir / "work"
    folder.mkdir()
    make_files(folder)
    cold = outcome(
        module(*JOBS[name], env=dict(server.env, BRIDGE_NO_SERVER="1"), cwd=folder), folder
    )
    before = server.status()["jobs"]
    warm = outcome(module(*JOBS[name], env=server.env, cwd=folder), folder)
    assert server.status()["jobs"] == before + 1
    assert cold["status"] == STATUS.get(name, EXIT_OK)
    assert_same(cold, warm)


def test_detach_starts_a_background_server(short_dir):
    env = base_env(BRIDGE_SOCKET=str(short_dir / "d.sock"))
    cmd = [sys.executable, "-m", "bridge", "serve"]
    try:
        done = subprocess.run(
            [*cmd, "--detach", "--idle-timeout", "60"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stdout.startswith("started on "), done
        again = subprocess.run([*cmd, "--detach"], env=env, capture_output=True, text=True)
        assert again.returncode == 0 and again.stdout.startswith("already running on ")
        assert client.request("status", str(short_dir / "d.sock"), timeout=30)["ok"]
    finally:
        subprocess.run([*cmd, "--stop"], env=env, capture_output=True, timeout=60)
    missing = base_env(BRIDGE_SOCKET=str(short_dir / "none" / "d.sock"))
    done = subprocess.run([*cmd, "--detach"], env=missing, capture_output=True, text=True)
    assert done.returncode == serve.EXIT_RUNNING and "does not exist" in done.stdout


def test_worker_autostart_replaces_a_dead_servers_socket(short_dir):
    path = short_dir / "a.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # what a killed server leaves
    make_files(short_dir)
    env = base_env(BRIDGE_SOCKET=str(path))
    try:
        done = worker("--autostart", "30", "in.mat", "out.mat", env=env, cwd=short_dir)
        assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done
        check_result(short_dir)
        wait_for(lambda: serve.query("status", str(path))[0] == 0)
        assert client.request("status", str(path), timeout=30)["jobs"] == 0  # this job ran cold
        done = worker("--autostart", "30", "in.mat", "out.mat", env=env, cwd=short_dir)
        assert done.returncode == 0
        assert client.request("status", str(path), timeout=30)["jobs"] == 1
    finally:
        with contextlib.suppress(OSError):
            client.request("stop", str(path), timeout=30)


# --- the spare job process: forked and warmed before its job -----------------------------------


def test_the_spare_takes_the_next_job_and_a_new_one_is_made(short_dir):
    sock = short_dir / "s.sock"
    running = Running(sock, env=base_env(BRIDGE_SOCKET=str(sock), BRIDGE_SERVE_PREFAULT_MB="16"))
    try:
        make_files(short_dir)
        used = set()
        for k in range(8):  # (a spare once got SIGTERM after taking its job, now and then)
            wait_for(lambda: running.status()["spare_ready"])
            spare = running.status()["spare"]
            assert spare in running.children() and spare not in used
            used.add(spare)
            done = worker("in.mat", f"out{k}.mat", env=running.env, cwd=short_dir)
            assert done.returncode == 0, done.stderr
            check_result(short_dir, f"out{k}.mat")
            # It ran the job and ended (reaped); the next job gets a new spare.
            wait_for(lambda spare=spare: spare not in running.children())
        status = running.status()
        assert status["jobs"] == 8 and status["abandoned"] == 0 and status["refused"] == 0
    finally:
        assert running.stop()[0] == 0


def test_a_spare_that_dies_is_replaced_and_jobs_run_meanwhile(server, short_dir):
    make_files(short_dir)
    wait_for(lambda: server.status()["spare_ready"])
    spare = server.status()["spare"]
    os.kill(spare, signal.SIGKILL)
    wait_for(lambda: server.status()["spare"] != spare)
    done = worker("in.mat", "out.mat", env=server.env, cwd=short_dir)  # a process of its own
    assert done.returncode == 0, done.stderr
    check_result(short_dir)
    assert server.status()["jobs"] == 1
    wait_for(lambda: server.status()["spare_ready"], timeout=60)
    assert server.status()["spare"] != spare


def test_no_spare_when_its_memory_is_zero(short_dir):
    sock = short_dir / "s.sock"
    running = Running(sock, env=base_env(BRIDGE_SOCKET=str(sock), BRIDGE_SERVE_PREFAULT_MB="0"))
    try:
        make_files(short_dir)
        done = worker("in.mat", "out.mat", env=running.env, cwd=short_dir)
        assert done.returncode == 0, done.stderr
        check_result(short_dir)
        status = running.status()
        assert status["jobs"] == 1 and status["spare"] is None and not status["spare_ready"]
    finally:
        assert running.stop()[0] == 0


def test_the_spare_memory_setting(monkeypatch):
    monkeypatch.setenv(serve.SPARE_ENV, "64")
    assert serve.spare_megabytes() == 64
    monkeypatch.setenv(serve.SPARE_ENV, "0")
    assert serve.spare_megabytes() == 0
    monkeypatch.setenv(serve.SPARE_ENV, "lots")
    assert 0 < serve.spare_megabytes() <= serve.SPARE_MB
    monkeypatch.delenv(serve.SPARE_ENV)
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 20
    assert serve.spare_megabytes() == min(serve.SPARE_MB, memory_mb // 8)


def test_prefaulting_the_heap_in_a_child():
    code = (
        "from bridge._job import process\n"
        "assert not process.prefault_heap(0)\n"
        "assert process.prefault_heap(16)\n"
        "import numpy as np\n"
        "a = np.ones(8 << 20)\n"  # 64 MB from the heap, not a mapping of its own
        "assert a.sum() == 8 << 20\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


LATE_SERVER = """
import socket, sys, time
from bridge import _serve as serve
send_fds = socket.send_fds
def late(*args, **kwargs):  # the spare reads the job and closes its end before the server goes on
    sent = send_fds(*args, **kwargs)
    time.sleep(0.3)
    return sent
socket.send_fds = late
raise SystemExit(serve.serve(None, 0))
"""


def test_a_spare_that_took_its_job_is_left_alone(short_dir):
    running = ScriptServer(short_dir / "late.sock", LATE_SERVER, BRIDGE_SERVE_PREFAULT_MB="16")
    try:
        make_files(short_dir)
        for k in range(2):
            wait_for(lambda: running.status()["spare_ready"], timeout=60)
            done = worker("in.mat", f"out{k}.mat", env=running.env, cwd=short_dir)
            assert done.returncode == 0, done.stderr
            check_result(short_dir, f"out{k}.mat")
        status = running.status()
        assert status["jobs"] == 2 and status["abandoned"] == 0
    finally:
        assert running.stop()[0] == 0
