"""The wrappers' fast paths (issue 19), live in Octave: the MEX client and the compiled client.

With a warm worker running, ``bridge_conv*`` hand the operands to it from memory through the MEX
client (matlab/private/bridge_mex.c, built on first use by mkoctfile into BRIDGE_BUILD_CACHE), or,
with BRIDGE_NO_MEX=1, send the file job through the compiled client (bridge_client.c) instead of
starting Python. Checked here against the cold path (BRIDGE_NO_SERVER=1) bit for bit and against
Octave's own functions: every class, complex, empty, N-D, every shape, errors with identifiers
and messages; then the fallbacks (a dead worker, a frozen one, another user's), Ctrl-C, and
several Octave sessions at once. No assertion is about time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bridge import _client as client
from tests import progress_hooks
from tests.octave import OctaveSession, m_string, octave_cli, wrapper_eval

pytestmark = [pytest.mark.octave, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
MATLAB = ROOT / "matlab"
PRIVATE = MATLAB / "private"


def server_env(sock: Path) -> dict:
    return {**os.environ, "BRIDGE_SOCKET": str(sock), "PYTHONPATH": str(ROOT)}


def client_command(client: Path, *job: str) -> list[str]:
    """The compiled client's command line for the job ``job`` (IN OUT [options]), as
    bridge_call.m builds it: the checkout's package, this Python, the worker script."""
    return [
        str(client),
        str(ROOT / "bridge"),
        sys.executable,
        str(PRIVATE / "bridge_worker.py"),
        *job,
    ]


def start_server(sock: Path, idle: float = 600) -> int:
    """A detached server of this checkout on ``sock``; its pid."""
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "--detach", "--idle-timeout", str(idle)],
        env=server_env(sock),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return status(sock)["pid"]


def status(sock: Path) -> dict:
    return client.request("status", str(sock), timeout=30)


def stop_server(sock: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        client.request("stop", str(sock), timeout=10)


def wait_until(predicate, seconds: float = 60.0) -> None:
    """Poll ``predicate`` (never an assertion about time: the limit only ends a hung test)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def gone(pid: int) -> bool:
    stat = client.proc_stat(pid)
    return stat is None or stat[0] in "ZXx"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("mex")
    for name in ("cache", "temp", "sock"):
        (base / name).mkdir()
    (base / "sock").chmod(0o700)
    return base


@pytest.fixture(scope="module")
def server(folders):
    sock = folders / "sock" / "s.sock"
    start_server(sock)
    yield sock
    stop_server(sock)


@pytest.fixture(scope="module")
def session(server, folders):
    """An Octave session whose wrappers talk to ``server``, building into a private cache."""
    octave = OctaveSession(octave_cli())
    octave._run(
        f"addpath({m_string(MATLAB)}); setenv('BRIDGE_PYTHON', {m_string(sys.executable)});"
        f"setenv('BRIDGE_SOCKET', {m_string(server)});"
        f"setenv('BRIDGE_BUILD_CACHE', {m_string(folders / 'cache')});"
        f"setenv('BRIDGE_TEMP', {m_string(folders / 'temp')});"
        "setenv('BRIDGE_NO_SERVER', ''); setenv('BRIDGE_NO_MEX', '');"
        "setenv('BRIDGE_KEEP_TEMP', '');"
    )
    octave.temp = folders / "temp"
    yield octave
    octave.close()


def mex_folder(folders: Path) -> Path:
    (built,) = [p for p in (folders / "cache").iterdir() if p.name.startswith("mex-")]
    return built


# --- cases -----------------------------------------------------------------------------------

RNG = np.random.default_rng(19)


def rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def ints(dtype, *shape):
    info = np.iinfo(dtype)
    return RNG.integers(max(info.min, -100), min(info.max, 100), shape, endpoint=True).astype(dtype)


def cplx(*shape, dtype=np.complex128):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


# name -> (wrapper call on x1.., Octave's own call or None, inputs)
CASES = {
    "conv2-same": (
        "bridge_conv2(x1, x2, 'same')",
        "conv2(x1, x2, 'same')",
        [rand(16, 16), rand(3, 3)],
    ),
    "conv2-full": ("bridge_conv2(x1, x2)", "conv2(x1, x2)", [rand(7, 5), rand(4, 6)]),
    "conv2-valid-mixed-case": (
        "bridge_conv2(x1, x2, 'VaLiD')",
        "conv2(x1, x2, 'valid')",
        [rand(9, 8), rand(3, 2)],
    ),
    "conv-row-col": ("bridge_conv(x1, x2, 'same')", None, [rand(1, 9), rand(4, 1)]),
    "conv-full-col": ("bridge_conv(x1, x2)", None, [rand(6, 1), rand(1, 3)]),
    "conv-single-complex": (
        "bridge_conv(x1, x2, 'full')",
        None,
        [cplx(1, 7, dtype=np.complex64), rand(1, 3)],
    ),
    "conv2-single": (
        "bridge_conv2(x1, x2, 'same')",
        "conv2(x1, x2, 'same')",
        [rand(8, 9, dtype=np.float32), rand(3, 3)],
    ),
    "conv2-complex": ("bridge_conv2(x1, x2)", "conv2(x1, x2)", [cplx(6, 5), cplx(2, 3)]),
    "conv2-complex-zero-imag": (
        "bridge_conv2(complex(x1, 0), x2)",
        "conv2(complex(x1, 0), x2)",
        [rand(4, 4), rand(2, 2)],
    ),
    "conv2-logical": (
        "bridge_conv2(x1 > 0, x2 > 0, 'valid')",
        "conv2(double(x1 > 0), double(x2 > 0), 'valid')",
        [rand(6, 7), rand(2, 3)],
    ),
    "conv2-separable": (
        "bridge_conv2(x1, x2, x3, 'same')",
        "conv2(x1, x2, x3, 'same')",
        [rand(1, 3), rand(4, 1), rand(10, 9)],
    ),
    "conv2-separable-single": (
        "bridge_conv2(x1, x2, x3)",
        "conv2(x1, x2, x3)",
        [rand(1, 3, dtype=np.float32), rand(2, 1), rand(5, 6)],
    ),
    "convn-3d-complex-single": (
        "bridge_convn(x1, x2, 'same')",
        "convn(x1, x2, 'same')",
        [cplx(5, 4, 3, dtype=np.complex64), rand(2, 2, 2, dtype=np.float32)],
    ),
    "convn-4d-uint8": (
        "bridge_convn(x1, x2, 'valid')",
        "convn(double(x1), x2, 'valid')",
        [ints(np.uint8, 4, 3, 3, 2), rand(2, 1, 2)],
    ),
    "convn-mixed-dims": ("bridge_convn(x1, x2)", "convn(x1, x2)", [rand(3, 4), rand(2, 2, 3)]),
    # Octave's own functions differ from MATLAB's on empties (spec 7): fast against cold only.
    "empty-conv2": ("bridge_conv2(x1, x2)", None, [np.zeros((0, 3)), rand(2, 2)]),
    "empty-convn-same": (
        "bridge_convn(x1, x2, 'same')",
        None,
        [np.zeros((2, 0, 3)), rand(2, 2)],
    ),
    "empty-valid-result": (
        "bridge_conv2(x1, x2, 'valid')",
        None,
        [rand(2, 2), rand(3, 3)],
    ),
    "nonfinite": (
        "bridge_conv2(x1, x2)",
        "conv2(x1, x2)",
        [np.array([[1.0, np.nan], [np.inf, -np.inf]]), rand(2, 2)],
    ),
    "large": (
        "bridge_conv2(x1, x2, 'same')",
        "conv2(x1, x2, 'same')",
        [rand(300, 200), rand(7, 9)],
    ),
}
for _dtype in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
    CASES[f"conv2-{np.dtype(_dtype).name}"] = (
        "bridge_conv2(x1, x2, 'same')",
        "conv2(double(x1), x2, 'same')",
        [ints(_dtype, 6, 5), rand(3, 2)],
    )
CASES["conv2-int64-beyond-2^53"] = (
    "bridge_conv2(x1, x2)",
    None,
    [np.array([[2**62 + 1, -(2**61) + 3]], np.int64), np.array([[1.0, 1.0]])],
)


def compare_paths(session, call: str, own: str | None, inputs: list, fast_env: str = "") -> dict:
    """The call on the fast path, on the cold path and (``own``) Octave's own function, in one
    Octave command; the fast path must leave no file (BRIDGE_KEEP_TEMP would keep them)."""
    names = {f"x{k + 1}": a for k, a in enumerate(inputs)}
    code = (
        f"setenv('BRIDGE_KEEP_TEMP', '1'); {fast_env} W = {call}; setenv('BRIDGE_NO_MEX', '');"
        f"setenv('BRIDGE_KEEP_TEMP', ''); setenv('BRIDGE_NO_SERVER', '1'); K = {call};"
        f"setenv('BRIDGE_NO_SERVER', ''); R = {own or 'K'};"
        "cls = {class(W), class(K), class(R)}; cx = [iscomplex(W), iscomplex(K), iscomplex(R)];"
    )
    return session.call(code, names, ["W", "K", "R", "cls", "cx"])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_mex_path_is_the_cold_path_bit_for_bit(session, folders, name):
    call, own, inputs = CASES[name]
    got = compare_paths(session, call, own, inputs)
    kept = list(session.temp.iterdir())
    for folder in kept:
        shutil.rmtree(folder)
    assert kept == [], "the fast path wrote files: it was not the MEX client"
    classes = [str(c[0]) for c in got["cls"].ravel()]
    complexity = got["cx"].ravel().tolist()
    assert classes[0] == classes[1] and complexity[0] == complexity[1]
    assert same_bits(got["W"], got["K"])
    if own is not None:  # and MATLAB's answer, as Octave's own function gives it
        assert classes[0] == classes[2] and got["W"].shape == got["R"].shape
        scale = 1 + np.abs(got["R"][np.isfinite(got["R"])]).max(initial=0)
        np.testing.assert_allclose(got["W"], got["R"], rtol=1e-4, atol=1e-4 * scale)


SHARED = [
    "conv2-same",
    "conv-row-col",
    "conv-single-complex",
    "conv2-complex",
    "conv2-logical",
    "conv2-separable-single",
    "convn-3d-complex-single",
    "convn-4d-uint8",
    "empty-conv2",
    "empty-valid-result",
    "conv2-int64-beyond-2^53",
    "large",
]


@pytest.mark.parametrize("name", SHARED)
def test_mex_shared_memory_is_the_cold_path_bit_for_bit(session, name):
    """Operands through the shared file in /dev/shm (BRIDGE_MEX_SHM_MIN=0: every size)."""
    call, own, inputs = CASES[name]
    fast = "setenv('BRIDGE_MEX_SHM_MIN', '0');"
    got = compare_paths(session, call + "; setenv('BRIDGE_MEX_SHM_MIN', '')", own, inputs, fast)
    for folder in list(session.temp.iterdir()):
        shutil.rmtree(folder)
    assert same_bits(got["W"], got["K"])
    classes = [str(c[0]) for c in got["cls"].ravel()]
    assert classes[0] == classes[1]


@pytest.mark.parametrize(
    "name",
    [
        "conv2-same",
        "conv-single-complex",
        "convn-3d-complex-single",
        "conv2-uint64",
        "empty-conv2",
        "large",
    ],
)
def test_compiled_client_path_is_the_cold_path_bit_for_bit(session, server, name):
    call, own, inputs = CASES[name]
    before = status(server)["jobs"]
    got = compare_paths(session, call, own, inputs, fast_env="setenv('BRIDGE_NO_MEX', '1');")
    for folder in list(session.temp.iterdir()):
        shutil.rmtree(folder)
    assert status(server)["jobs"] == before + 1  # one file job went to the server
    assert same_bits(got["W"], got["K"])
    assert [str(c[0]) for c in got["cls"].ravel()][:2] in ([c, c] for c in ("double", "single"))


ERRORS = {
    "conv-of-matrix": ("bridge_conv(x1, [1 2])", [np.ones((3, 3))], "MATLAB:conv:AorBNotVector"),
    "conv-second-not-vector": (
        "bridge_conv([1 2], x1, 'same')",
        [np.ones((2, 2))],
        "MATLAB:conv:AorBNotVector",
    ),
    "conv2-of-3d": ("bridge_conv2(x1, [1 2])", [np.ones((2, 2, 2))], "bridge:conv2:notMatrix"),
    "conv2-second-3d": (
        "bridge_conv2([1 2], x1, 'valid')",
        [np.ones((2, 2, 2))],
        "bridge:conv2:notMatrix",
    ),
    "separable-not-vectors": (
        "bridge_conv2(x1, x1, x1)",
        [np.ones((2, 2))],
        "MATLAB:conv2:firstTwoInputsNotVectors",
    ),
    "bad-shape": (
        "bridge_conv2(x1, x1, 'middle')",
        [np.ones((2, 2))],
        "MATLAB:conv2:unknownShapeParameter",
    ),
    "shape-with-space": (
        "bridge_conv(x1, [1 2], 'Same ')",
        [np.ones((1, 2))],
        "MATLAB:conv2:unknownShapeParameter",
    ),
    "char": ("bridge_convn('abc', x1)", [np.ones((1, 2))], "MATLAB:conv2:inputType"),
    "sparse": ("bridge_conv2(sparse(x1), x1)", [np.eye(3)], None),
}


@pytest.mark.parametrize("name", list(ERRORS), ids=list(ERRORS))
@pytest.mark.parametrize("path", ["mex", "client"])
def test_errors_are_the_cold_paths(session, name, path):
    call, inputs, identifier = ERRORS[name]
    names = {f"x{k + 1}": a for k, a in enumerate(inputs)}
    fast_env = "setenv('BRIDGE_NO_MEX', '1');" if path == "client" else ""
    code = (
        f"{fast_env} try, W = {call}; m1 = 'none'; i1 = 'none'; catch e, m1 = e.message;"
        " i1 = e.identifier; end; setenv('BRIDGE_NO_MEX', ''); setenv('BRIDGE_NO_SERVER', '1');"
        f" try, W = {call}; m2 = 'none'; i2 = 'none'; catch e, m2 = e.message;"
        " i2 = e.identifier; end; setenv('BRIDGE_NO_SERVER', '');"
    )
    got = session.call(code, names, ["m1", "i1", "m2", "i2"])
    text = {k: "".join(np.ravel(v).astype(str)) for k, v in got.items()}
    assert (text["i1"], text["m1"]) == (text["i2"], text["m2"])
    if identifier is not None:
        assert text["i1"] == identifier


def test_the_mex_client_is_built_once_into_the_cache(session, folders):
    session.call("W = bridge_conv2(x1, x1);", {"x1": np.ones((2, 2))}, ["W"])
    built = mex_folder(folders)
    assert (built / "bridge_mex.mex").is_file()
    assert not (PRIVATE / "bridge_mex.mex").exists()  # never inside the installation
    got = session.call("v = bridge_mex('version'); w = which('bridge_mex');", {}, ["v", "w"])
    assert "".join(got["v"].ravel()) == "bridge_mex 2"
    assert "".join(got["w"].ravel()).startswith(str(built))


# --- fallbacks -------------------------------------------------------------------------------


def octave_script(code: str, env: dict, folders: Path, timeout: float = 300) -> subprocess.Popen:
    environ = {
        **env,
        "BRIDGE_PYTHON": sys.executable,
        "BRIDGE_BUILD_CACHE": str(folders / "cache"),
        "BRIDGE_TEMP": str(folders / "temp"),
    }
    return subprocess.Popen(
        wrapper_eval(code),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
    )


CHECK = (
    "A = magic(6); B = [1 2; 3 4]; ok = 1;"
    "for k = 1:4, C = bridge_conv2(A, B, 'same'); ok = ok && isequal(C, conv2(A, B, 'same')); end;"
    "printf('ok=%d\\n', ok);"
)


# The same through a filtering wrapper, whose settings travel as named values: answered as the
# cold file job answers (computed first, with no worker).
FILTER_CHECK = (
    "A = uint8(magic(6) * 7); h = [1 2; 3 4] / 7; setenv('BRIDGE_NO_SERVER', '1');"
    "R = bridge_imfilter(A, h, 'replicate', 'full'); setenv('BRIDGE_NO_SERVER', ''); ok = 1;"
    "for k = 1:4, C = bridge_imfilter(A, h, 'replicate', 'full'); ok = ok && isequal(C, R)"
    " && isa(C, 'uint8'); end; printf('ok=%d\\n', ok);"
)


def run_octave(code: str, env: dict, folders: Path) -> str:
    proc = octave_script(code, env, folders)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


@pytest.mark.parametrize("check", [CHECK, FILTER_CHECK], ids=["conv2", "imfilter"])
def test_a_dead_worker_leaves_its_socket_and_the_call_runs_cold(session, folders, tmp_path, check):
    sock = tmp_path / "dead.sock"
    pid = start_server(sock)
    os.killpg(os.getpgid(pid), signal.SIGKILL)  # the server and its job processes, mid-life
    wait_until(lambda: gone(pid))
    assert sock.exists()
    out = run_octave(check, server_env(sock), folders)
    assert "ok=1" in out


def test_a_frozen_worker_is_given_up_and_the_call_runs_cold(folders, tmp_path):
    sock = tmp_path / "frozen.sock"
    flag = tmp_path / "frozen"
    pid = start_server(sock)
    group = os.getpgid(pid)
    # A call first, so that the session keeps a job process of this server; then freeze the
    # server and that process (their whole group), and call again.
    code = (
        "C = bridge_conv2(magic(6), [1 2; 3 4]); printf('first\\n'); fflush(stdout);"
        f"while ~exist({m_string(flag)}, 'file'), pause(0.05); end;" + CHECK
    )
    proc = octave_script(code, server_env(sock), folders)
    try:
        assert proc.stdout.readline().strip() == "first"
        os.killpg(group, signal.SIGSTOP)
        flag.write_text("")
        out, _ = proc.communicate(timeout=300)
    finally:
        os.killpg(group, signal.SIGCONT)
    assert "ok=1" in out, out
    assert status(sock)["ok"]  # the server lives on
    stop_server(sock)


@pytest.mark.parametrize("check", [CHECK, FILTER_CHECK], ids=["conv2", "imfilter"])
def test_a_frozen_worker_without_a_kept_process(folders, tmp_path, check):
    sock = tmp_path / "frozen2.sock"
    pid = start_server(sock)
    os.kill(pid, signal.SIGSTOP)
    try:
        out = run_octave(check, server_env(sock), folders)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "ok=1" in out
    assert status(sock)["ok"]
    stop_server(sock)


def test_another_users_worker_is_refused(folders, tmp_path):
    """A socket whose listener is another user (SO_PEERCRED): nothing is sent to it."""
    if os.getuid() != 0:
        pytest.skip("needs root to listen as another user")
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="bridge-other-user-", dir="/tmp"))  # reachable by 65534
    shared.chmod(0o777)
    sock = shared / "s.sock"
    log = shared / "bytes"
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user's "server": counts what it receives
        try:
            os.close(ready_r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(sock))
            listener.listen(16)
            os.write(ready_w, b"R")
            received = 0
            listener.settimeout(120)
            while True:
                conn, _ = listener.accept()
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    while chunk := conn.recv(65536):
                        received += len(chunk)
                conn.close()
                log.write_text(str(received))
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"R"
        out = run_octave(CHECK, server_env(sock), folders)
        assert "ok=1" in out
        assert log.read_text() == "0"  # it was reached (connected to), and sent nothing
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_r)
        shutil.rmtree(shared, ignore_errors=True)


def test_ctrl_c_kills_the_job(folders, tmp_path):
    sock = tmp_path / "c.sock"
    start_server(sock)
    try:
        code = (
            "A = rand(250, 250, 250); B = rand(31, 31, 31); printf('start\\n'); fflush(stdout);"
            "C = bridge_convn(A, B); printf('finished\\n');"
        )
        proc = octave_script(code, server_env(sock), folders)
        assert proc.stdout.readline().strip() == "start"
        wait_until(lambda: status(sock)["running"] == 1)
        (job,) = status(sock)["job_pids"]
        os.kill(job, signal.SIGSTOP)  # it can never finish by itself now
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
        assert "finished" not in out
        wait_until(lambda: gone(job))  # killed by the MEX client (a stopped process only by KILL)
        assert status(sock)["ok"]
    finally:
        stop_server(sock)


def test_several_sessions_at_once(server, folders):
    code = (
        "ok = 1; shapes = {'full', 'same', 'valid'};"
        "for k = 1:12, A = rand(randi(40), randi(40)); B = rand(randi(5), randi(5));"
        " s = shapes{randi(3)}; C = bridge_conv2(A, B, s); R = conv2(A, B, s);"
        " ok = ok && isequal(size(C), size(R)) && all(abs(C(:) - R(:)) < 1e-9); end;"
        "printf('ok=%d\\n', ok);"
    )
    env = {**server_env(server), "BRIDGE_MEX_SHM_MIN": "0"}  # the shared files too
    procs = [octave_script(code, env, folders) for _ in range(3)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all("ok=1" in o for o in outs), outs
    left = [f"bridge-mex-{p.pid}-" for p in procs]  # removed as each Octave ended
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(tuple(left))]


# --- the compiled client on its own ------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled_client(tmp_path_factory):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("client") / "bridge_client"
    subprocess.run([cc, "-O2", "-o", str(out), str(PRIVATE / "bridge_client.c")], check=True)
    return out


@pytest.mark.parametrize("job", ["good", "not-a-vector", "missing-input"])
def test_compiled_client_answers_as_the_cold_path(server, compiled_client, tmp_path, job):
    inputs = {"u": np.ones((3, 3)) if job == "not-a-vector" else np.arange(4.0), "v": np.ones(2)}
    scipy.io.savemat(tmp_path / "in.mat", {**inputs, "op": "conv"})
    infile = "absent.mat" if job == "missing-input" else "in.mat"
    results = {}
    for way, env in (
        ("warm", server_env(server)),
        ("cold", {**server_env(server), "BRIDGE_NO_SERVER": "1"}),
    ):
        before = status(server)["jobs"]
        done = subprocess.run(
            client_command(compiled_client, infile, f"{way}.mat", "--error-file", f"{way}.err"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        err = tmp_path / f"{way}.err"
        out = tmp_path / f"{way}.mat"
        results[way] = (
            done.returncode,
            err.read_text() if err.exists() else "",
            scipy.io.loadmat(out)["C"].tolist() if out.exists() else None,
        )
        assert status(server)["jobs"] == before + (way == "warm")
    assert results["warm"] == results["cold"]
    assert results["warm"][0] == {"good": 0, "not-a-vector": 3, "missing-input": 3}[job]


def test_compiled_client_without_a_server_runs_cold(compiled_client, tmp_path):
    scipy.io.savemat(tmp_path / "in.mat", {"u": np.arange(3.0), "v": np.ones(2)})
    env = {**os.environ, "BRIDGE_SOCKET": str(tmp_path / "none.sock"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        client_command(compiled_client, "in.mat", "out.mat"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert scipy.io.loadmat(tmp_path / "out.mat")["C"].tolist() == [[0.0, 1.0, 3.0, 2.0]]


def test_compiled_client_ctrl_c_stops_the_job_as_the_cold_path_does(compiled_client, tmp_path):
    sock = tmp_path / "i.sock"
    start_server(sock)
    try:
        scipy.io.savemat(
            tmp_path / "big.mat",
            {"A": RNG.random((256, 256, 256)), "B": RNG.random((41, 41, 41)), "op": "convn"},
        )
        proc = subprocess.Popen(
            client_command(compiled_client, "big.mat", "out.mat", "--error-file", "err.txt"),
            cwd=tmp_path,
            env=server_env(sock),
        )
        wait_until(lambda: status(sock)["running"] == 1)
        (job,) = status(sock)["job_pids"]
        os.kill(job, signal.SIGSTOP)  # it can never finish by itself now
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
        assert (tmp_path / "err.txt").read_text() == (
            "bridge: error: interrupted (bridge:interrupted)\n"
        )
        wait_until(lambda: gone(job))
        left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("i.sock"))
        assert left == ["big.mat", "err.txt"]  # no output, no temporary file
    finally:
        stop_server(sock)


# --- the filtering wrappers ------------------------------------------------------------------
# The same contract as the conv family's: through the MEX client (with the operation's settings
# as named values next to the operands) the answer is the cold file job's bit for bit, class,
# size and complexity included, and errors carry the same identifier and message.


def image(cls: str, *shape):
    """An image of MATLAB class ``cls`` whose integer values reach past the class's range
    after filtering (rounding and saturation are exercised)."""
    if cls == "logical":
        return RNG.random(shape) > 0.5
    if cls == "complex":
        return cplx(*shape)
    if cls in ("double", "single"):
        return rand(*shape, dtype=np.dtype(cls))
    dtype = np.dtype(cls)
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, endpoint=True).astype(dtype)


FILTER_CLASSES = ("double", "single", "uint8", "int16", "logical")
PADDINGS = {  # the option as the wrapper gets it: none, numbers, every boundary rule
    "zero": "",
    "number": ", 300.6",
    "number-of-class": ", cast(-7, class(x1(1) + 0))",  # (logical: double)
    "symmetric": ", 'symmetric'",
    "replicate": ", 'Replicate'",
    "circular": ", 'circ'",
}
SHAPES_MODES = ["", ", 'full'", ", 'conv'", ", 'full', 'conv'", ", 'same', 'corr'"]

FILTER_CASES: dict[str, tuple[str, list]] = {}
for _k, (_cls, _pad) in enumerate((c, p) for c in FILTER_CLASSES for p in PADDINGS):
    _how = SHAPES_MODES[_k % len(SHAPES_MODES)]
    FILTER_CASES[f"imfilter-{_cls}-{_pad}{_how.replace(', ', '-').replace(chr(39), '')}"] = (
        f"bridge_imfilter(x1, x2{PADDINGS[_pad]}{_how})",
        [image(_cls, 9, 8), rand(3, 4)],
    )
FILTER_CASES.update(
    {
        "imfilter-complex-image-and-kernel": (
            "bridge_imfilter(x1, x2, 'replicate', 'full')",
            [cplx(7, 6), cplx(2, 3)],
        ),
        "imfilter-complex-number-padding": (
            "bridge_imfilter(x1, x2, complex(1, 2), 'conv')",
            [cplx(5, 6), rand(3, 3)],
        ),
        "imfilter-3d-image": (
            "bridge_imfilter(x1, x2, 'symmetric')",
            [image("int16", 6, 5, 3), rand(3, 3)],
        ),
        "imfilter-3d-kernel-full": (
            "bridge_imfilter(x1, x2, 'circular', 'full')",
            [image("single", 5, 5, 4), rand(2, 3, 2)],
        ),
        "imfilter-empty-image": (
            "bridge_imfilter(x1, x2)",
            [np.zeros((0, 4), np.uint8), rand(3, 3)],
        ),
        "imfilter-large-uint8": (
            "bridge_imfilter(x1, x2, 'replicate')",
            [image("uint8", 300, 200), rand(15, 15)],
        ),
        "filter2-same": ("bridge_filter2(x1, x2)", [rand(3, 3), rand(9, 8)]),
        "filter2-full-single": (
            "bridge_filter2(x1, x2, 'full')",
            [rand(2, 3, dtype=np.float32), rand(6, 7)],
        ),
        "filter2-valid-uint8": (
            "bridge_filter2(x1, x2, 'VALID')",
            [rand(3, 2), image("uint8", 8, 9)],
        ),
        "filter2-complex-logical": ("bridge_filter2(x1, x2 > 0)", [cplx(3, 3), rand(6, 5)]),
        "xcorr2-one": ("bridge_xcorr2(x1)", [rand(6, 5)]),
        "xcorr2-two-single": ("bridge_xcorr2(x1, x2)", [rand(7, 6, dtype=np.float32), rand(3, 2)]),
        "xcorr2-complex": ("bridge_xcorr2(x1, x2)", [cplx(5, 4), cplx(2, 3)]),
        "xcorr2-int16-logical": ("bridge_xcorr2(x1, x2 > 0)", [image("int16", 5, 5), rand(3, 3)]),
        "fspecial-gaussian": ("bridge_fspecial('gaussian', [5 7], 1.5)", []),
        "fspecial-disk": ("bridge_fspecial('disk', 2.5)", []),
        "fspecial-motion": ("bridge_fspecial('Motion', 9, 30)", []),
        "fspecial-sobel": ("bridge_fspecial('sobel')", []),
    }
)
for _cls in FILTER_CLASSES[:4]:
    FILTER_CASES[f"imgaussfilt-{_cls}"] = ("bridge_imgaussfilt(x1)", [image(_cls, 12, 11)])
FILTER_CASES.update(
    {
        "imgaussfilt-sigma-per-axis": ("bridge_imgaussfilt(x1, [0.7 2])", [image("uint8", 12, 13)]),
        "imgaussfilt-filtersize-padding-number": (
            "bridge_imgaussfilt(x1, 1.2, 'FilterSize', [3 7], 'Padding', 4.5)",
            [image("int16", 10, 9)],
        ),
        "imgaussfilt-replicate": (
            "bridge_imgaussfilt(x1, 2, 'padding', 'replicate')",
            [rand(9, 9)],
        ),
        "imgaussfilt-circular-size": (
            "bridge_imgaussfilt(x1, 1, 'Padding', 'circular', 'FilterSize', 5)",
            [image("single", 8, 8)],
        ),
        "imgaussfilt-symmetric-3d": (
            "bridge_imgaussfilt(x1, 0.8, 'Padding', 'symmetric')",
            [image("uint8", 7, 6, 3)],
        ),
        "imgaussfilt-domain": (
            "bridge_imgaussfilt(x1, 1, 'FilterDomain', 'spatial')",
            [image("double", 8, 7)],
        ),
        "imgaussfilt3-double": ("bridge_imgaussfilt3(x1)", [rand(6, 7, 5)]),
        "imgaussfilt3-uint8-per-axis": (
            "bridge_imgaussfilt3(x1, [1 0.5 2])",
            [image("uint8", 7, 6, 8)],
        ),
        "imgaussfilt3-size-padding": (
            "bridge_imgaussfilt3(x1, 1, 'FilterSize', [3 5 3], 'Padding', 'replicate')",
            [image("single", 6, 6, 6)],
        ),
        "imgaussfilt3-int16-number": (
            "bridge_imgaussfilt3(x1, 0.9, 'Padding', 100)",
            [image("int16", 5, 6, 4)],
        ),
    }
)


def mex_and_cold(session, call: str, inputs: list, fast_env: str = "") -> dict:
    """The call through the MEX client (``fast_env`` set first), then cold, in one Octave
    command; ``same``: isequal, the same class, size and complexity, checked in Octave. The
    MEX client's call keeps the temporary folder it would have made (BRIDGE_KEEP_TEMP)."""
    names = {f"x{k + 1}": a for k, a in enumerate(inputs)}
    code = (
        f"setenv('BRIDGE_KEEP_TEMP', '1'); {fast_env} W = {call};"
        "setenv('BRIDGE_MEX_SHM_MIN', ''); setenv('BRIDGE_KEEP_TEMP', '');"
        f"setenv('BRIDGE_NO_SERVER', '1'); K = {call}; setenv('BRIDGE_NO_SERVER', '');"
        "same = isequal(W, K) && strcmp(class(W), class(K)) && isequal(size(W), size(K))"
        " && isreal(W) == isreal(K); cls = class(W);"
    )
    return session.call(code, names, ["W", "K", "same", "cls"])


def took_no_files(session) -> bool:
    """Whether the last call through the MEX client wrote no temporary folder (the file path,
    with BRIDGE_KEEP_TEMP set, leaves its folder behind): the mark of the MEX path."""
    kept = list(session.temp.iterdir())
    for folder in kept:
        shutil.rmtree(folder)
    return kept == []


@pytest.mark.parametrize("name", list(FILTER_CASES), ids=list(FILTER_CASES))
def test_filtering_through_the_mex_client_is_the_cold_path_bit_for_bit(session, name):
    call, inputs = FILTER_CASES[name]
    got = mex_and_cold(session, call, inputs)
    assert took_no_files(session), "the call wrote files: it did not go through the MEX client"
    assert got["same"].item() == 1
    assert same_bits(got["W"], got["K"])


@pytest.mark.parametrize(
    "name",
    [
        "imfilter-uint8-replicate-full",
        "imfilter-logical-replicate-full-conv",
        "imfilter-complex-image-and-kernel",
        "imfilter-large-uint8",
        "filter2-valid-uint8",
        "xcorr2-one",
        "imgaussfilt-filtersize-padding-number",
        "imgaussfilt3-uint8-per-axis",
        "fspecial-motion",
    ],
)
def test_filtering_through_shared_memory_is_the_cold_path_bit_for_bit(session, name):
    """Operands, settings and the result (integer, logical) through the shared file."""
    call, inputs = FILTER_CASES[name]
    got = mex_and_cold(session, call, inputs, "setenv('BRIDGE_MEX_SHM_MIN', '0');")
    assert took_no_files(session)
    assert got["same"].item() == 1
    assert same_bits(got["W"], got["K"])


FILTER_ERRORS = {
    "imfilter-unknown-option": (
        "bridge_imfilter(x1, x2, 'middle')",
        "MATLAB:imfilter:unrecognizedStringChoice",
    ),
    "imfilter-ambiguous-option": (
        "bridge_imfilter(x1, x2, 'c')",
        "MATLAB:imfilter:ambiguousStringChoice",
    ),
    "imfilter-int64": ("bridge_imfilter(int64(x1), x2)", "bridge:imfilter:int64"),
    "imfilter-padding-not-scalar": ("bridge_imfilter(x1, x2, [1 2])", None),
    # (Octave's strncmp refused the empty text in the wrapper, with no identifier)
    "imfilter-empty-text": (
        "bridge_imfilter(x1, x2, '')",
        "MATLAB:imfilter:unrecognizedStringChoice",
    ),
    "imgaussfilt-negative-sigma": ("bridge_imgaussfilt(x1, -1)", None),
    "imgaussfilt-even-size": ("bridge_imgaussfilt(x1, 1, 'FilterSize', 4)", None),
    "imgaussfilt-bad-padding": ("bridge_imgaussfilt(x1, 1, 'Padding', 'mirror')", None),
    "imgaussfilt3-2d-sigma": ("bridge_imgaussfilt3(x1, [1 2])", None),
    "filter2-bad-shape": ("bridge_filter2(x2, x1, 'middle')", "MATLAB:conv2:unknownShapeParameter"),
    "xcorr2-3d": ("bridge_xcorr2(cat(3, x1, x1))", None),
    "fspecial-unknown": ("bridge_fspecial('blur', 3)", None),
    "fspecial-too-many": (
        "bridge_fspecial('sobel', 3)",
        "images:fspecial:tooManyArgsForThisFilter",
    ),
}


@pytest.mark.parametrize("name", list(FILTER_ERRORS), ids=list(FILTER_ERRORS))
def test_filtering_errors_through_the_mex_client_are_the_cold_paths(session, name):
    call, identifier = FILTER_ERRORS[name]
    names = {"x1": rand(6, 5), "x2": rand(3, 3)}
    code = (
        "setenv('BRIDGE_KEEP_TEMP', '1');"
        f"try, W = {call}; m1 = 'none'; i1 = 'none'; catch e, m1 = e.message;"
        " i1 = e.identifier; end; setenv('BRIDGE_KEEP_TEMP', ''); setenv('BRIDGE_NO_SERVER', '1');"
        f" try, W = {call}; m2 = 'none'; i2 = 'none'; catch e, m2 = e.message;"
        " i2 = e.identifier; end; setenv('BRIDGE_NO_SERVER', '');"
    )
    got = session.call(code, names, ["m1", "i1", "m2", "i2"])
    assert took_no_files(session), "the failing call went through files, not the MEX client"
    text = {k: "".join(np.ravel(v).astype(str)) for k, v in got.items()}
    assert text["i1"] != "none"
    assert (text["i1"], text["m1"]) == (text["i2"], text["m2"])
    if identifier is not None:
        assert text["i1"] == identifier


def test_filtering_falls_back_to_files_where_memory_cannot_carry_a_setting(session):
    """A setting the MEX client does not send (a cell) goes through files, with the cold
    path's error."""
    code = (
        "setenv('BRIDGE_KEEP_TEMP', '1'); try, bridge_imfilter(x1, x2, {1}); i1 = 'none';"
        " catch e, i1 = e.identifier; end; setenv('BRIDGE_KEEP_TEMP', '');"
        "setenv('BRIDGE_NO_SERVER', '1'); try, bridge_imfilter(x1, x2, {1}); i2 = 'none';"
        " catch e, i2 = e.identifier; end; setenv('BRIDGE_NO_SERVER', '');"
    )
    got = session.call(code, {"x1": rand(4, 4), "x2": rand(2, 2)}, ["i1", "i2"])
    assert not took_no_files(session)  # the file path, whose error it is
    text = {k: "".join(np.ravel(v).astype(str)) for k, v in got.items()}
    assert text["i1"] == text["i2"] != "none"


# --- progress of a long call -------------------------------------------------------------------


@contextlib.contextmanager
def progress_server(sock: Path, gate: Path):
    """A warm server whose long jobs wait at ``gate`` (tests/progress_hooks.py)."""
    env = {**server_env(sock), progress_hooks.GATE_ENV: str(gate)}
    proc = subprocess.Popen(
        [sys.executable, "-c", progress_hooks.SERVER],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        with contextlib.suppress(OSError, ValueError):
            return status(sock)["ok"]
        return False

    try:
        wait_until(answers)
        yield env
    finally:
        gate.touch()
        stop_server(sock)
        proc.wait(timeout=60)


def test_compiled_client_shows_a_long_jobs_progress_on_stderr(compiled_client, tmp_path):
    gate = tmp_path / "gate"
    rng = np.random.default_rng(21)
    scipy.io.savemat(tmp_path / "big.mat", {"A": rng.random((100, 100)), "B": rng.random((90, 90))})
    scipy.io.savemat(tmp_path / "small.mat", {"A": rng.random((8, 8)), "B": rng.random((3, 3))})
    command = client_command(compiled_client)
    with progress_server(tmp_path / "p.sock", gate) as env:
        cold = subprocess.run(
            [*command, "big.mat", "cold.mat"],
            cwd=tmp_path,
            env={**env, "BRIDGE_NO_SERVER": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cold.returncode == 0, cold.stderr
        short = subprocess.run(
            [*command, "small.mat", "short.mat"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert (short.returncode, short.stdout, short.stderr) == (0, "", "")
        long = subprocess.Popen(
            [*command, "big.mat", "warm.mat"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        progress_hooks.progress_then_result(long, gate, tmp_path / "warm.mat")
        assert status(tmp_path / "p.sock")["jobs"] == 2  # both warm
    warm_c, cold_c = (scipy.io.loadmat(tmp_path / n)["C"] for n in ("warm.mat", "cold.mat"))
    assert warm_c.dtype == cold_c.dtype and warm_c.tobytes() == cold_c.tobytes()


LONG_CALL = (
    "A = magic(100) / 7; B = magic(90) / 11;"  # above the heartbeat's work, gated
    "printf('short-begin\\n'); fflush(stdout); S = bridge_conv2(magic(6), [1 2; 3 4]);"
    "printf('short-end\\n'); fflush(stdout); setenv('BRIDGE_KEEP_TEMP', '1');"
    "W = bridge_conv2(A, B); printf('long-end\\n'); setenv('BRIDGE_KEEP_TEMP', '');"
    "setenv('BRIDGE_NO_SERVER', '1'); K = bridge_conv2(A, B);"
    "printf('same=%d\\n', strcmp(class(W), class(K)) && isequal(size(W), size(K))"
    " && isequal(typecast(W(:), 'uint64'), typecast(K(:), 'uint64')));"
)


@pytest.mark.parametrize("path", ["mex", "client"])
def test_a_long_call_shows_its_progress_in_the_command_window(folders, tmp_path, path):
    """The MEX client prints the worker's progress messages (mexPrintf), the compiled client
    writes them to the stderr Octave shares with it; a short call prints nothing."""
    gate = tmp_path / "gate"
    temp = tmp_path / "temp"
    temp.mkdir()
    with progress_server(tmp_path / "o.sock", gate) as env:
        fast = "setenv('BRIDGE_NO_MEX', '1');" if path == "client" else ""
        proc = octave_script(
            f"setenv('BRIDGE_TEMP', {m_string(temp)}); {fast} {LONG_CALL}", env, folders
        )
        try:
            seen = progress_hooks.read_until(proc.stdout, progress_hooks.LINE_END)
            assert "long-end" not in seen  # the call still runs
            gate.touch()
            out, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, seen + out
    lines = (seen + out).splitlines()
    assert lines[lines.index("short-begin") + 1] == "short-end"  # a short call prints nothing
    during = lines[lines.index("short-end") + 1 : lines.index("long-end")]
    during = [line for line in during if not line.startswith("bridge: kept the temporary")]
    assert during and all(progress_hooks.is_progress(line) for line in during), lines
    assert "same=1" in lines
    kept = list(temp.iterdir())  # the calls through files kept theirs (BRIDGE_KEEP_TEMP)
    assert len(kept) == (0 if path == "mex" else 1), kept


def test_ctrl_c_still_stops_a_job_that_sends_progress(compiled_client, tmp_path):
    """While progress messages come, the client still watches for Ctrl-C: exit 130, the cold
    path's line, and the job's process is ended (its gate never opens)."""
    gate = tmp_path / "gate"
    rng = np.random.default_rng(23)
    scipy.io.savemat(tmp_path / "big.mat", {"A": rng.random((100, 100)), "B": rng.random((90, 90))})
    sock = tmp_path / "i.sock"
    with progress_server(sock, gate) as env:
        proc = subprocess.Popen(
            client_command(compiled_client, "big.mat", "out.mat", "--error-file", "err.txt"),
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        progress_hooks.read_until(proc.stderr, progress_hooks.LINE_END)
        (job,) = status(sock)["job_pids"]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
        assert proc.returncode == 130
        assert (tmp_path / "err.txt").read_text() == (
            "bridge: error: interrupted (bridge:interrupted)\n"
        )
        wait_until(lambda: gone(job))
        assert not (tmp_path / "out.mat").exists()
