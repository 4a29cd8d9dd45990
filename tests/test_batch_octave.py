"""matlab/bridge_batch.m in GNU Octave: the report as a struct array, results equal to Octave's own
conv2, failed jobs with the single job's line, options passed through, and the wrappers' error
identifiers. Each case runs in a fresh octave-cli with TMPDIR in a folder that must end empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tests.test_batch import single, write_jobs
from tests.test_wrappers import m_string, octave_eval

pytestmark = pytest.mark.octave


def run_octave(code: str, tmp_path: Path, **env: str) -> dict:
    """Run ``code`` in a fresh Octave (cwd tmp_path/work); return the variables it saves in
    ``result.mat`` (use ``save_result``), after checking that its temporary folder is empty."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    out = tmp_path / "result.mat"
    done = octave_eval(
        f"cd({m_string(tmp_path / 'work')}); {code}\nsave('-v7', {m_string(out)}, 'res');",
        tmp,
        **env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(tmp.iterdir()) == []  # bridge_batch's temporary folder is gone
    return scipy.io.loadmat(out, squeeze_me=True, chars_as_strings=True)["res"]


def field(res, name):
    return res[name].item() if isinstance(res, np.ndarray) else res[name]


def test_report_struct_and_results(tmp_path, monkeypatch):
    expected = write_jobs(tmp_path / "work" / "jobs")
    code = """
R = bridge_batch('jobs', 'out', 'Shape', 'same', 'Jobs', 2, 'OutVar', 'R', 'Compress', false);
res = struct();
res.n = numel(R); res.size = size(R); res.fields = strjoin(fieldnames(R)', ',');
res.inputs = strjoin({R.input}, '|'); res.status = strjoin({R.status}, '|');
res.messages = strjoin({R.message}, '|'); res.exits = [R.exit];
res.workers = strjoin({R.worker}, '|'); res.seconds_ok = all([R.seconds] >= 0);
% each result against Octave's own function
ok = true;
for k = 1:numel(R)
  if strcmp(R(k).status, 'ok')
    J = load(R(k).input); C = load(R(k).output);
    if isfield(J, 'u') && isfield(J, 'A')
      want = conv2(J.u, J.v, J.A, 'same');
    elseif isfield(J, 'u')
      want = conv(J.u, J.v, 'same');
    elseif ndims(J.A) > 2
      want = convn(J.A, J.B, 'same');
    else
      want = conv2(double(J.A), double(J.B), 'same');
    end
    ok = ok && isequal(size(C.R), size(want)) && max(abs(double(C.R(:)) - double(want(:)))) < 1e-5;
  end
end
res.values_ok = ok;
"""
    # .h5 and .txt results cannot be load()ed by Octave: compare the MAT ones only.
    for name in list(expected):
        if not name.endswith(".mat"):
            (tmp_path / "work" / "jobs" / name).unlink()
            del expected[name]
    res = run_octave(code, tmp_path)
    assert field(res, "n") == len(expected)
    assert list(field(res, "size")) == [len(expected), 1]
    assert field(res, "fields") == "input,output,status,exit,message,seconds,worker"
    inputs = field(res, "inputs").split("|")
    assert inputs == [f"jobs/{name}" for name in sorted(expected)]
    statuses = field(res, "status").split("|")
    messages = field(res, "messages").split("|")
    exits = list(np.atleast_1d(field(res, "exits")))
    monkeypatch.chdir(tmp_path / "work")
    (tmp_path / "work" / "single").mkdir()
    for name, status, message, code_ in zip(sorted(expected), statuses, messages, exits):
        want_status, want_line = single(
            Path("jobs") / name, Path("single") / name, ["--shape", "same", "--out-var", "R"]
        )
        assert (code_, message) == (want_status, want_line)
        assert status == ("ok" if expected[name] else "failed")
    assert set(field(res, "workers").split("|")) == {"local"}
    assert field(res, "seconds_ok") and field(res, "values_ok")


def test_resume_empty_folder_and_pattern(tmp_path):
    write_jobs(tmp_path / "work" / "jobs")
    (tmp_path / "work" / "empty").mkdir()
    code = """
R1 = bridge_batch({'jobs/a_*.mat', 'jobs/b_*.mat'}, 'out');
R2 = bridge_batch('jobs/*.mat', 'out', 'Resume', true);
E = bridge_batch('empty', 'out');
res = struct('first', strjoin({R1.status}, '|'), 'second', strjoin({R2.status}, '|'), ...
  'empty_size', size(E), 'empty_fields', strjoin(fieldnames(E)', ','));
"""
    res = run_octave(code, tmp_path)
    assert field(res, "first") == "ok|ok"
    second = field(res, "second").split("|")
    assert second[:2] == ["skipped", "skipped"] and "ok" in second and "failed" in second
    assert list(field(res, "empty_size")) == [0, 1]
    assert field(res, "empty_fields") == "input,output,status,exit,message,seconds,worker"


@pytest.mark.parametrize(
    "call, identifier, words",
    [
        ("bridge_batch('jobs', 'out', 'Bogus', 1)", "bridge:usage", ["No such option: --bogus"]),
        ("bridge_batch('jobs/*.h5x', 'out')", "bridge:noInput", ["no file matches"]),
        ("bridge_batch('nothere', 'out')", "bridge:noInput", ["nothere: no such file"]),
        ("bridge_batch('jobs', 'out', 'Jobs', 0)", "bridge:usage", ["--jobs"]),
        ("bridge_batch('jobs', 'out', 'Report', 'r.csv')", "bridge:badOption", ["Report"]),
        ("bridge_batch('jobs', 'out', 'Shape')", "bridge:badOption", ["pairs"]),
        ("bridge_batch('jobs', 'out', 'Python', 3)", "bridge:badOption", ["Python"]),
        ("bridge_batch('jobs', 'out', 'Shape', {1})", "bridge:badOption", ["Shape"]),
        ("bridge_batch(3, 'out')", "bridge:badOption", ["JOBS"]),
        ("bridge_batch('jobs')", "MATLAB:minrhs", []),
        (
            "bridge_batch('jobs', 'out', 'Python', '/nonexistent/python3')",
            "bridge:pythonNotFound",
            ["/nonexistent/python3", "does not exist"],
        ),
        (
            "bridge_batch('jobs', 'out', 'Python', 'bridge-no-such-python')",
            "bridge:pythonNotFound",
            ["exit status 127"],
        ),
        (
            "bridge_batch('jobs', 'out', 'Scheduler', 'tcp://127.0.0.1:1')",
            "bridge:scheduler",
            ["tcp://127.0.0.1:1"],
        ),
    ],
    ids=[
        "unknown-option",
        "no-match",
        "missing",
        "zero-jobs",
        "report",
        "odd",
        "python-number",
        "bad-value",
        "jobs-not-text",
        "too-few",
        "python-missing",
        "python-not-on-path",
        "scheduler",
    ],
)
def test_errors_carry_the_wrappers_identifiers(tmp_path, call, identifier, words):
    if identifier == "bridge:scheduler":
        pytest.importorskip("distributed", reason="pip install -e '.[dask]'")
    (tmp_path / "work" / "jobs").mkdir(parents=True)
    scipy.io.savemat(tmp_path / "work" / "jobs" / "a.mat", {"A": np.ones((2, 2)), "B": 1.0})
    code = (
        f"try, {call}; res = struct('id', '', 'msg', ''); catch e, "
        "res = struct('id', e.identifier, 'msg', e.message); end"
    )
    res = run_octave(code, tmp_path)
    assert field(res, "id") == identifier, field(res, "msg")
    for word in words:
        assert word in field(res, "msg")
    assert not (tmp_path / "work" / "out").exists()


def test_python_without_numpy_is_a_python_environment_error(tmp_path):
    folder = tmp_path / "no-numpy"
    (folder / "numpy").mkdir(parents=True)
    (folder / "numpy" / "__init__.py").write_text("raise ImportError('numpy is broken here')\n")
    python = folder / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH='{folder}' exec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    (tmp_path / "work" / "jobs").mkdir(parents=True)
    scipy.io.savemat(tmp_path / "work" / "jobs" / "a.mat", {"A": np.ones((2, 2)), "B": 1.0})
    code = (
        f"try, bridge_batch('jobs', 'out', 'Python', {m_string(python)}); res = struct('id', '');"
        " catch e, res = struct('id', e.identifier, 'msg', e.message); end"
    )
    res = run_octave(code, tmp_path)
    assert field(res, "id") == "bridge:pythonEnv"
    assert "cannot import numpy" in field(res, "msg") and "exit status 5" in field(res, "msg")


def test_a_running_server_does_not_take_the_batch(tmp_path):
    import os
    import subprocess
    import time

    from tests.processes import cold_environment

    sock = tmp_path / "serve.sock"
    env = {**cold_environment(), "BRIDGE_SOCKET": str(sock)}
    env.pop("BRIDGE_NO_SERVER")
    server = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve", "--idle-timeout", "120"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        write_jobs(tmp_path / "work" / "jobs")
        res = run_octave(
            "R = bridge_batch('jobs', 'out'); res = struct('n', numel(R));",
            tmp_path,
            BRIDGE_SOCKET=str(sock),
            BRIDGE_NO_SERVER="",
        )
        assert field(res, "n") == 13
        status = subprocess.run(
            [sys.executable, "-m", "bridge", "serve", "--status"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert " jobs=0 " in status.stdout, status.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert not os.path.exists(sock)
