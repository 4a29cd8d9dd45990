"""The MATLAB user's whole round trip: ``bridge_conv*`` and the filtering wrappers from Octave
against Octave's built-in.

    python benchmarks/roundtrip.py               # issue 8's four cases, best of 2
    python benchmarks/roundtrip.py --rounds 3
    python benchmarks/roundtrip.py --quick       # smaller cases of the same kinds, best of 1

One ``octave-cli`` session runs everything, on the same random data per case: the built-in
(``conv``/``conv2``/``convn``; the image package's ``imfilter``, and for ``imgaussfilt``, which
the package lacks, ``imfilter`` with ``fspecial('gaussian', ...)`` and 'replicate', its
definition), then the wrapper on each of its paths: cold (``BRIDGE_NO_SERVER=1``:
a new Python per call), and with a warm worker (started with ``bridge_serve('start')`` on a
private socket, stopped at the end) through the Python client (``BRIDGE_NO_MEX=1
BRIDGE_NO_CLIENT=1``: files, a Python start per call), through the compiled client
(``BRIDGE_NO_MEX=1``: files, no Python start) and through the MEX client (from memory: no files,
no process). Each is timed with tic/toc, best of ``--rounds`` (small cases: the mean of several
calls, best of the rounds); the ratios path/built-in are printed, and ``system('true')``, the floor
of any call through ``system()``, heads the table. Then where the time goes: in the same session,
``save -v6`` of the operands and ``load`` of a result-sized file; in this Python, the convolution
in-process (``bridge.conv*``), and the cold worker's fixed cost (a tiny job, end to end).

Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import math
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

# (label, function, size of A, size of B, shape): the conv family
CASES = [
    ("conv2 16x16 * 3x3 'same'", "conv2", (16, 16), (3, 3), "same"),
    ("conv2 512x512 * 5x5 'same'", "conv2", (512, 512), (5, 5), "same"),
    ("conv2 1000x1000 * 15x15 'same'", "conv2", (1000, 1000), (15, 15), "same"),
    ("conv2 2048x2048 * 61x61 'same'", "conv2", (2048, 2048), (61, 61), "same"),
    ("conv 2e6 * 2001 'full'", "conv", (1, 2_000_000), (1, 2001), "full"),
    ("convn 200^3 * 9^3 'same'", "convn", (200, 200, 200), (9, 9, 9), "same"),
]
QUICK = [
    ("conv2 16x16 * 3x3 'same'", "conv2", (16, 16), (3, 3), "same"),
    ("conv2 512x512 * 5x5 'same'", "conv2", (512, 512), (5, 5), "same"),
    ("conv2 500x500 * 15x15 'same'", "conv2", (500, 500), (15, 15), "same"),
    ("conv2 1024x1024 * 31x31 'same'", "conv2", (1024, 1024), (31, 31), "same"),
    ("conv 5e5 * 1001 'full'", "conv", (1, 500_000), (1, 1001), "full"),
    ("convn 100^3 * 9^3 'same'", "convn", (100, 100, 100), (9, 9, 9), "same"),
]

# The filtering wrappers: (label, size of A, A's class, B (an Octave expression) and its size,
# the built-in call, the wrapper's call, the call in this Python)
FILTER_CASES = [
    (
        "imfilter 1000^2 u8 * 15x15 repl",
        (1000, 1000),
        "uint8",
        "rand(15, 15) / 225",
        (15, 15),
        "imfilter(A, B, 'replicate')",
        "bridge_imfilter(A, B, 'replicate')",
        lambda A, B: bridge.imfilter(A, B, "replicate"),
    ),
    (
        "imgaussfilt 1000^2 double s=2",
        (1000, 1000),
        "double",
        "fspecial('gaussian', 9, 2)",  # imgaussfilt's own size for sigma 2: 2*ceil(2*2)+1
        (9, 9),
        "imfilter(A, B, 'replicate')",
        "bridge_imgaussfilt(A, 2)",
        lambda A, B: bridge.imgaussfilt(A, 2),
    ),
]
QUICK_FILTER = [
    (label.replace("1000", "500"), (500, 500), *rest) for label, _, *rest in FILTER_CASES
]

SCRIPT = r"""
addpath('{matlab}');
try, pkg load image; catch, end  % imfilter, fspecial: the filtering cases' built-in
rand('seed', 1);
function t = best(f, rounds, reps)
  % the best over ROUNDS of the mean time of REPS calls
  t = Inf;
  for r = 1:rounds
    tic; for k = 1:reps, f(); end; t = min(t, toc / reps);
  end
end
function save_v6(file, S)
  save(file, '-struct', 'S', '-v6');
end
function on(name, value)
  setenv(name, value);
end
[ok, line] = bridge_serve('start', 'IdleTimeout', 600);
if ~ok, printf('SERVER %s\n', line); end
system('true');
printf('FLOOR %.6g\n', best(@() system('true'), {rounds}, 50));
{cases}
bridge_serve('stop');
"""

# Per case: the built-in, then the wrapper cold, warm through Python, through the compiled
# client, through the MEX client (each warmed up once first: the MEX and the compiled client are
# built on first use, the worker's first job of a kind loads what it needs).
CASE = r"""
A = {a}; B = {b};
f = @() {builtin};
w = @() {wrapper};
R = double(f()); W = double(w());
err = max(abs(R(:) - W(:))) / max(abs(R(:)));
tb = best(f, {rounds}, {reps});
on('BRIDGE_NO_SERVER', '1'); tc = best(w, {rounds}, {cold_reps}); on('BRIDGE_NO_SERVER', '');
on('BRIDGE_NO_MEX', '1'); on('BRIDGE_NO_CLIENT', '1'); w(); tp = best(w, {rounds}, {reps});
on('BRIDGE_NO_CLIENT', ''); w(); tx = best(w, {rounds}, {reps}); on('BRIDGE_NO_MEX', '');
w(); tm = best(w, {rounds}, {reps});
S = struct('A', A, 'B', B); tmp = [tempname() '.mat'];
ts = best(@() save_v6(tmp, S), {rounds}, 1);
C = R; save(tmp, 'C', '-v6'); tl = best(@() load(tmp), {rounds}, 1); delete(tmp);
printf('CASE {k} %.6g %.6g %.6g %.6g %.6g %.6g %.6g %.3g\n', tb, tc, tp, tx, tm, ts, tl, err);
"""


def reps_for(a: tuple, b: tuple) -> int:
    """Calls per timing: many for small cases (tic/toc and the scheduler's noise), one for big."""
    work = int(np.prod(a)) * int(np.prod(b))
    return 20 if work < 10**4 else 5 if work < 10**8 else 1


def octave_size(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))


def in_process(call, a: tuple, b: tuple, rounds: int, cls: str) -> float:
    rng = np.random.default_rng(1)
    A = (rng.random(a) * (255 if cls == "uint8" else 1)).astype(cls)
    B = rng.random(b) / math.prod(b)
    call(A, B)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        call(A, B)
        best = min(best, time.perf_counter() - t)
    return best


def expanded(cases: list, filters: list) -> list:
    """Every case as (label, A, B, built-in, wrapper, reps, in-process call, A's and B's sizes,
    A's class)."""
    rows = []
    for label, fn, a, b, shape in cases:
        call = f"(A, B, '{shape}')"
        operands = (f"rand({octave_size(a)})", f"rand({octave_size(b)})")
        computed = lambda A, B, fn=fn, shape=shape: getattr(bridge, fn)(A, B, shape)  # noqa: E731
        wrapper = f"bridge_{fn}{call}"
        rows.append(
            (label, *operands, fn + call, wrapper, reps_for(a, b), computed, a, b, "double")
        )
    for label, a, cls, b_expr, b, builtin, wrapper, call in filters:
        scale = "255 * " if cls == "uint8" else ""
        a_expr = f"{cls}({scale}rand({octave_size(a)}))"
        rows.append((label, a_expr, b_expr, builtin, wrapper, reps_for(a, b), call, a, b, cls))
    return rows


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
    cases = expanded(*((QUICK, QUICK_FILTER) if args.quick else (CASES, FILTER_CASES)))
    octave = shutil.which("octave-cli")
    if not octave:
        print("octave-cli not found: nothing to compare against")
        return 1
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"best of {rounds}; Python {sys.version.split()[0]}, numpy {np.__version__}")
    body = "".join(
        CASE.format(
            k=k,
            a=a,
            b=b,
            builtin=builtin,
            wrapper=wrapper,
            rounds=rounds,
            reps=reps,
            cold_reps=max(1, reps // 4),
        )
        for k, (_, a, b, builtin, wrapper, reps, *_) in enumerate(cases)
    )
    with tempfile.TemporaryDirectory(prefix="bridge-rt-", dir="/tmp") as tmp:
        env = dict(
            os.environ,
            BRIDGE_PYTHON=sys.executable,
            BRIDGE_SOCKET=f"{tmp}/s.sock",
            BRIDGE_NO_SERVER="",
            BRIDGE_BUILD_CACHE=f"{tmp}/cache",  # the compiled clients built afresh, here
        )
        env.pop("BRIDGE_TEMP", None)
        script = SCRIPT.format(matlab=ROOT / "matlab", cases=body, rounds=rounds)
        done = subprocess.run(
            [octave, "--norc", "--quiet", "--no-history", "--eval", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
        )
    rows, floor = {}, float("nan")
    for line in done.stdout.splitlines():
        if line.startswith("CASE "):
            k, *values = line.split()[1:]
            rows[int(k)] = [float(v) for v in values]
        elif line.startswith("FLOOR "):
            floor = float(line.split()[1])
        elif line.startswith("SERVER"):
            print(line)
    if done.returncode != 0 or len(rows) != len(cases):
        print(done.stdout[-2000:], done.stderr[-2000:])
        return 1
    fixed = tiny_cold(rounds)
    print(f"cold worker's fixed cost (tiny job, end to end): {fixed:.3f} s")
    print(f"system('true') in Octave (the floor of any system() call): {floor * 1e3:.2f} ms\n")
    head = (
        f"{'case':32} {'built-in':>9} {'cold':>8} {'x':>5} {'warm py':>8} {'x':>5}"
        f" {'warm C':>8} {'x':>5} {'MEX':>8} {'x':>5} | {'save':>6} {'load':>6} {'compute':>7}"
    )
    print(head)
    print("-" * len(head))
    for k, (label, *_, call, a, b, cls) in enumerate(cases):
        tb, tc, tp, tx, tm, ts, tl, err = rows[k]
        compute = in_process(call, a, b, rounds, cls)
        print(
            f"{label:32} {tb:9.4f} {tc:8.4f} {tc / tb:5.2f} {tp:8.4f} {tp / tb:5.2f}"
            f" {tx:8.4f} {tx / tb:5.2f} {tm:8.4f} {tm / tb:5.2f} | {ts:6.3f} {tl:6.3f}"
            f" {compute:7.3f}  err {err:.1e}"
        )
        if k == 0 and label.startswith("conv2 16x16"):
            print(
                f"{'  the same / system(true)':32} {'':9} {'':8} {tc / floor:5.1f} {'':8}"
                f" {tp / floor:5.1f} {'':8} {tx / floor:5.1f} {'':8} {tm / floor:5.1f}"
            )
    print(
        "\nx = path / built-in (lower is better; the 16x16 row also against system('true'));"
        "\nsave, load: Octave's side of the files; compute: bridge's function in this Python,"
        "\nin-process. A warm file call adds the worker reading and writing the files and the"
        "\nsocket round trip, and a Python start (warm py) or none (warm C); the MEX client sends"
        "\nthe operands over the socket and gets the result back, no file, no process."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
