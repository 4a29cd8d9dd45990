"""The MATLAB user's whole round trip: ``bridge_conv*`` from Octave against Octave's built-in.

    python benchmarks/roundtrip.py               # issue 8's four cases, best of 2
    python benchmarks/roundtrip.py --rounds 3
    python benchmarks/roundtrip.py --quick       # smaller cases of the same kinds, best of 1

One ``octave-cli`` session runs everything, on the same random data per case: the built-in
(``conv``/``conv2``/``convn``), the wrapper cold (``BRIDGE_NO_SERVER=1``: a new Python per call)
and the wrapper warm (a server started with ``bridge_serve('start')`` on a private socket, stopped
at the end). Each is timed with tic/toc, best of ``--rounds``; the ratios wrapper/built-in are
printed. Then where the time goes: in the same session, ``save -v6`` of the operands and
``load`` of a result-sized file; in this Python, the convolution in-process (``bridge.conv*``),
and the cold worker's fixed cost (a tiny job, end to end).

Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bridge  # noqa: E402

# (label, function, size of A, size of B, shape)
CASES = [
    ("conv2 1000x1000 * 15x15 'same'", "conv2", (1000, 1000), (15, 15), "same"),
    ("conv2 2048x2048 * 61x61 'same'", "conv2", (2048, 2048), (61, 61), "same"),
    ("conv 2e6 * 2001 'full'", "conv", (1, 2_000_000), (1, 2001), "full"),
    ("convn 200^3 * 9^3 'same'", "convn", (200, 200, 200), (9, 9, 9), "same"),
]
QUICK = [
    ("conv2 500x500 * 15x15 'same'", "conv2", (500, 500), (15, 15), "same"),
    ("conv2 1024x1024 * 31x31 'same'", "conv2", (1024, 1024), (31, 31), "same"),
    ("conv 5e5 * 1001 'full'", "conv", (1, 500_000), (1, 1001), "full"),
    ("convn 100^3 * 9^3 'same'", "convn", (100, 100, 100), (9, 9, 9), "same"),
]

SCRIPT = r"""
addpath('{matlab}');
rand('seed', 1);
function t = best(f, rounds)
  t = Inf;
  for r = 1:rounds
    tic; f(); t = min(t, toc);
  end
end
function save_v6(file, S)
  save(file, '-struct', 'S', '-v6');
end
[ok, line] = bridge_serve('start', 'IdleTimeout', 600);
if ~ok, printf('SERVER %s\n', line); end
{cases}
bridge_serve('stop');
"""

CASE = r"""
A = rand({a}); B = rand({b});
f = @() {fn}(A, B, '{shape}');
w = @() bridge_{fn}(A, B, '{shape}');
R = f(); W = w();
err = max(abs(R(:) - W(:))) / max(abs(R(:)));
tb = best(f, {rounds});
setenv('BRIDGE_NO_SERVER', '1'); tc = best(w, {rounds}); setenv('BRIDGE_NO_SERVER', '');
tw = best(w, {rounds});
S = struct('A', A, 'B', B); tmp = [tempname() '.mat'];
ts = best(@() save_v6(tmp, S), {rounds});
C = R; save(tmp, 'C', '-v6'); tl = best(@() load(tmp), {rounds}); delete(tmp);
printf('CASE {k} %.6g %.6g %.6g %.6g %.6g %.3g\n', tb, tc, tw, ts, tl, err);
"""


def octave_size(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))


def in_process(fn: str, a: tuple, b: tuple, shape: str, rounds: int) -> float:
    rng = np.random.default_rng(1)
    A, B = rng.random(a), rng.random(b)
    f = getattr(bridge, fn)
    f(A, B, shape)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        f(A, B, shape)
        best = min(best, time.perf_counter() - t)
    return best


def tiny_cold(rounds: int) -> float:
    """A tiny job through the worker, cold, end to end: Python's start-up and imports."""
    import scipy.io

    with tempfile.TemporaryDirectory() as tmp:
        scipy.io.savemat(f"{tmp}/in.mat", {"A": np.ones((3, 3)), "B": np.ones((2, 2))})
        env = dict(os.environ, BRIDGE_NO_SERVER="1")
        cmd = [sys.executable, "-S", str(ROOT / "matlab/private/bridge_worker.py")]
        best = float("inf")
        for _ in range(rounds + 1):
            t = time.perf_counter()
            subprocess.run([*cmd, "in.mat", "out.mat"], cwd=tmp, env=env, check=True)
            best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=None, help="best of N (default 2; --quick 1)")
    p.add_argument("--quick", action="store_true", help="smaller cases, best of 1")
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 2)
    cases = QUICK if args.quick else CASES
    octave = shutil.which("octave-cli")
    if not octave:
        print("octave-cli not found: nothing to compare against")
        return 1
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"best of {rounds}; Python {sys.version.split()[0]}, numpy {np.__version__}")
    body = "".join(
        CASE.format(k=k, a=octave_size(a), b=octave_size(b), fn=fn, shape=shape, rounds=rounds)
        for k, (_, fn, a, b, shape) in enumerate(cases)
    )
    with tempfile.TemporaryDirectory(prefix="bridge-rt-", dir="/tmp") as tmp:
        env = dict(
            os.environ,
            BRIDGE_PYTHON=sys.executable,
            BRIDGE_SOCKET=f"{tmp}/s.sock",
            BRIDGE_NO_SERVER="",
        )
        env.pop("BRIDGE_TEMP", None)
        script = SCRIPT.format(matlab=ROOT / "matlab", cases=body)
        done = subprocess.run(
            [octave, "--norc", "--quiet", "--no-history", "--eval", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
        )
    rows = {}
    for line in done.stdout.splitlines():
        if line.startswith("CASE "):
            k, *values = line.split()[1:]
            rows[int(k)] = [float(v) for v in values]
        elif line.startswith("SERVER"):
            print(line)
    if done.returncode != 0 or len(rows) != len(cases):
        print(done.stdout[-2000:], done.stderr[-2000:])
        return 1
    fixed = tiny_cold(rounds)
    print(f"cold worker's fixed cost (tiny job, end to end): {fixed:.3f} s\n")
    head = (
        f"{'case':34} {'built-in':>9} {'cold':>8} {'ratio':>6} {'warm':>8} {'ratio':>6}"
        f" | {'save -v6':>8} {'load':>7} {'compute':>8}  rel.err"
    )
    print(head)
    print("-" * len(head))
    for k, (label, fn, a, b, shape) in enumerate(cases):
        tb, tc, tw, ts, tl, err = rows[k]
        compute = in_process(fn, a, b, shape, rounds)
        print(
            f"{label:34} {tb:9.3f} {tc:8.3f} {tc / tb:6.2f} {tw:8.3f} {tw / tb:6.2f}"
            f" | {ts:8.3f} {tl:7.3f} {compute:8.3f}  {err:.1e}"
        )
    print(
        "\nratio = wrapper / built-in (lower is better); save, load: Octave's side of the files;"
        "\ncompute: bridge's convolution in this Python, in-process. The rest of a warm call is"
        "\nthe worker reading and writing the files and the socket round trip; cold adds the"
        "\nfixed cost above (Python's start-up and imports)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
