"""bridge against GNU Octave and scipy on the cases of issue 5, in one run.

    python benchmarks/run.py            # every case (several minutes: Octave's big cases)
    python benchmarks/run.py --quick    # a reduced set, under a minute
    python benchmarks/run.py --rounds 2 --json out.json   # best of two rounds per case
    python benchmarks/run.py --no-octave
    python benchmarks/run.py --sweep [--quick]   # every size in-process (benchmarks/sweep.py)

For each case it times bridge (``method='auto'``, and the method it chose), Octave's own
conv/conv2/convn on random data of the same sizes (``octave-cli``, tic/toc, median), and the
scipy methods (``scipy.signal.convolve`` direct/fft, ``fftconvolve``, ``oaconvolve``,
``scipy.ndimage.convolve`` on the zero-padded input, so every method returns the full result;
the FFT ones with ``scipy.fft.set_workers(2)``), then prints seconds and the ratios
bridge/Octave and bridge/best-scipy. Times are medians of a few runs after a warm-up; a method
whose first run takes longer than ``--slow`` seconds is timed once, and scipy's N-D direct
method and ndimage are skipped where they would take minutes (shown as "-"). Peak memory of
bridge's computation (tracemalloc: numpy reports its buffers) is printed as a multiple of
inputs + output.

The tiny-job case times ``python -m bridge in.mat out.mat`` against an ``octave-cli`` job doing
load/conv2/save of the same file, end to end (process start included), and the same job warm:
``python -S matlab/private/bridge_worker.py in.mat out.mat`` (what the wrappers run) with a
``bridge serve`` started for the measurement and stopped after it.

Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bridge  # noqa: E402
from bridge import _kernels as kernels  # noqa: E402

FULL = [
    ("conv", (1_000_000, 1), (3, 1)),
    ("conv", (1_000_000, 1), (31, 1)),
    ("conv", (1_000_000, 1), (301, 1)),
    ("conv", (1_000_000, 1), (3001, 1)),
    ("conv2", (2048, 2048), (3, 3)),
    ("conv2", (2048, 2048), (9, 9)),
    ("conv2", (2048, 2048), (31, 31)),
    ("conv2", (2048, 2048), (101, 101)),
    ("convn", (256, 256, 256), (3, 3, 3)),
    ("convn", (256, 256, 256), (9, 9, 9)),
]
QUICK = [
    ("conv", (1_000_000, 1), (3, 1)),
    ("conv", (1_000_000, 1), (31, 1)),
    ("conv", (1_000_000, 1), (301, 1)),
    ("conv2", (1024, 1024), (3, 3)),
    ("conv2", (1024, 1024), (9, 9)),
    ("conv2", (1024, 1024), (31, 31)),
    ("convn", (128, 128, 128), (3, 3, 3)),
]
SCIPY_DIRECT_MAX_MACS = 2e9  # scipy's N-D direct path runs at ~0.2 GFLOP/s
SCIPY_NDIMAGE_MAX_MACS = 5e9  # ndimage: ~0.5 GFLOP/s (88 s for 2048^2 * 101^2)


def label(op, a, b) -> str:
    return f"{op} {'x'.join(map(str, a))} * {'x'.join(map(str, b))}"


def timeit(fn, reps: int, slow: float) -> float:
    """Median seconds of ``reps`` runs after a warm-up (one run if the warm-up is slow)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > slow:
        return first
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def chosen_method(a, b) -> str:
    full = [p + q - 1 for p, q in zip(a.shape, b.shape)]
    keep = [d for d in range(a.ndim) if a.shape[d] != 1 or b.shape[d] != 1]
    sa = a.reshape([a.shape[d] for d in keep])
    sb = b.reshape([b.shape[d] for d in keep])
    return kernels.choose_method(sa, sb, [full[d] for d in keep])


def bridge_call(op, a, b):
    fn = {"conv": bridge.conv, "conv2": bridge.conv2, "convn": bridge.convn}[op]
    return lambda: fn(a, b)


def peak_memory_ratio(op, a, b) -> float:
    out_bytes = math.prod(p + q - 1 for p, q in zip(a.shape, b.shape)) * 8
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    bridge_call(op, a, b)()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / (a.nbytes + b.nbytes + out_bytes)


def scipy_methods(a, b, limit: float = 1.0):
    import scipy.fft
    import scipy.ndimage
    import scipy.signal

    pad = [(q - 1, q - 1) for q in b.shape]

    def fft_workers(f):
        def run():
            with scipy.fft.set_workers(2):
                return f()

        return run

    methods = {
        "signal.convolve direct": lambda: scipy.signal.convolve(a, b, method="direct"),
        "signal.convolve fft": fft_workers(lambda: scipy.signal.convolve(a, b, method="fft")),
        "fftconvolve": fft_workers(lambda: scipy.signal.fftconvolve(a, b)),
        "oaconvolve": fft_workers(lambda: scipy.signal.oaconvolve(a, b)),
        "ndimage.convolve": lambda: scipy.ndimage.convolve(np.pad(a, pad), b, mode="constant"),
    }
    if a.size * b.size > SCIPY_DIRECT_MAX_MACS * limit:
        methods["signal.convolve direct"] = None
    if a.size * b.size > SCIPY_NDIMAGE_MAX_MACS * limit:
        methods["ndimage.convolve"] = None
    return methods


OCTAVE_CASE = """
A = rand({a}); B = rand({b});
C = {op}(A, B); t = [];
for r = 1:{reps}
  tic; C = {op}(A, B); t(end+1) = toc;
  if t(1) > {slow}, break; end
end
printf('BENCH %d %.6f\\n', {i}, median(t));
clear A B C;
"""


def octave_times(cases, reps: int, slow: float) -> dict[int, float]:
    exe = shutil.which("octave-cli")
    if exe is None:
        return {}
    parts = []
    for i, (op, a, b) in enumerate(cases):
        dims = lambda s: ", ".join(map(str, s))  # noqa: E731
        parts.append(OCTAVE_CASE.format(a=dims(a), b=dims(b), op=op, reps=reps, slow=slow, i=i))
    from sweep import octave_script_times  # benchmarks/sweep.py, beside this file

    return octave_script_times(exe, "".join(parts), "BENCH")


def tiny_job(reps: int) -> dict[str, float] | None:
    """End to end: python -m bridge in.mat out.mat vs octave-cli load/conv2/save."""
    import scipy.io

    exe = shutil.which("octave-cli")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst, odst = (Path(tmp) / n for n in ("in.mat", "out.mat", "oct.mat"))
        rng = np.random.default_rng(0)
        scipy.io.savemat(src, {"A": rng.random((64, 64)), "B": rng.random((3, 3))})
        cmd = [sys.executable, "-m", "bridge", str(src), str(dst)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            return None

        def run_bridge():
            subprocess.run(cmd, env=env, capture_output=True, check=True)

        res = {"bridge": timeit(run_bridge, reps, 10.0)}
        if exe:
            code = f"S = load('{src}'); C = conv2(S.A, S.B); save('-v7', '{odst}', 'C');"

            def run_octave():
                subprocess.run(
                    [exe, "--norc", "--no-gui", "--quiet", "--eval", code],
                    capture_output=True,
                    check=True,
                )

            res["octave"] = timeit(run_octave, reps, 10.0)
        warm = tiny_job_warm(src, dst, reps)
        if warm is not None:
            res["warm"] = warm
        return res


def tiny_job_warm(src: Path, dst: Path, reps: int) -> float | None:
    """The same job through the MATLAB wrappers' worker (``python -S bridge_worker.py``) with a
    ``bridge serve`` running for the measurement: the warm path. None if it did not serve."""
    from bridge import _client as client

    worker = ROOT / "matlab" / "private" / "bridge_worker.py"
    folder = tempfile.mkdtemp(prefix="bridge-bench-", dir="/tmp")  # socket paths must be short
    sock = os.path.join(folder, "serve.sock")
    env = dict(os.environ, PYTHONPATH=str(ROOT), BRIDGE_SOCKET=sock)
    env.pop("BRIDGE_NO_SERVER", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve", "--idle-timeout", "600"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                if client.request("status", sock)["ok"]:
                    break
            except OSError:
                time.sleep(0.05)
        cmd = [sys.executable, "-S", str(worker), str(src), str(dst)]

        def run_warm():
            subprocess.run(cmd, env=env, capture_output=True, check=True)

        t = timeit(run_warm, reps, 10.0)
        served = client.request("status", sock).get("jobs", 0)
        return t if served >= reps + 1 else None
    except (OSError, subprocess.CalledProcessError):
        return None
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def machine() -> str:
    lines = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        keep = ("Model name", "CPU(s):", "Thread(s) per core", "L2 cache", "Flags")
        for line in out.splitlines():
            if line.startswith(keep):
                if line.startswith("Flags"):
                    flags = line.split()
                    line = "Flags (SIMD): " + " ".join(
                        f for f in flags if f.startswith(("avx", "fma", "sse4"))
                    )
                lines.append(" ".join(line.split()))
    except OSError:
        pass
    import scipy

    octave = shutil.which("octave-cli")
    ov = ""
    if octave:
        ov = subprocess.run([octave, "--version"], capture_output=True, text=True).stdout
        ov = ov.splitlines()[0] if ov else ""
    lines.append(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{ov or 'no octave-cli'}"
    )
    return "\n".join(lines)


def _best(old, new):
    return new if old is None else old if new is None else min(old, new)


def fmt(t) -> str:
    return "-" if t is None else f"{t:.4f}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--sweep" in argv:  # the in-process sweep of issue 8: benchmarks/sweep.py
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import sweep

        return sweep.main([x for x in argv if x != "--sweep"])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sweep", action="store_true", help="the in-process sweep (sweep.py)")
    p.add_argument("--quick", action="store_true", help="reduced set, under a minute")
    p.add_argument("--no-octave", action="store_true")
    p.add_argument("--no-scipy", action="store_true")
    p.add_argument("--reps", type=int, default=None, help="timed runs per method (median)")
    p.add_argument("--slow", type=float, default=2.0, help="time once above this many seconds")
    p.add_argument("--rounds", type=int, default=1, help="repeat each case; best round counts")
    p.add_argument("--json", type=Path, help="write the results here too")
    args = p.parse_args(argv)
    cases = QUICK if args.quick else FULL
    reps = args.reps or (3 if args.quick else 5)
    print(machine())
    print()
    results = []
    rng = np.random.default_rng(0)
    for op, ash, bsh in cases:
        a, b = rng.random(ash), rng.random(bsh)
        row = {"case": label(op, ash, bsh), "method": chosen_method(a, b)}
        row["bridge"] = row["octave"] = None
        row["scipy"] = {}
        # Each round times Octave (its own process), bridge and scipy back to back, so that
        # they share the machine's conditions; the best round counts (a shared machine's load
        # only ever adds time).
        for _ in range(args.rounds):
            if not args.no_octave:
                t = octave_times([(op, ash, bsh)], reps, args.slow).get(0)
                row["octave"] = _best(row["octave"], t)
            row["bridge"] = _best(row["bridge"], timeit(bridge_call(op, a, b), reps, args.slow))
            if not args.no_scipy:
                for name, fn in scipy_methods(a, b, 0.1 if args.quick else 1.0).items():
                    t = None if fn is None else timeit(fn, reps, args.slow)
                    row["scipy"][name] = _best(row["scipy"].get(name), t)
        row["memory"] = peak_memory_ratio(op, a, b)
        results.append(row)
        best = min((t for t in row["scipy"].values() if t is not None), default=None)
        row["best_scipy"] = best
        ratio_o = f"{row['bridge'] / row['octave']:.2f}" if row["octave"] else "-"
        ratio_s = f"{row['bridge'] / best:.2f}" if best else "-"
        print(
            f"{row['case']:<34} {row['method']:<9} bridge {fmt(row['bridge'])}  "
            f"octave {fmt(row['octave'])}  best scipy {fmt(best)}  "
            f"bridge/octave {ratio_o}  bridge/scipy {ratio_s}  peak mem {row['memory']:.2f}x",
            flush=True,
        )
    tiny = tiny_job(reps)
    print()
    print(
        "| case | bridge method | bridge s | Octave s | best scipy s (method) | "
        "bridge/Octave | bridge/best scipy | peak memory |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        sc = {k: v for k, v in row["scipy"].items() if v is not None}
        bname = min(sc, key=sc.get) if sc else "-"
        best = row["best_scipy"]
        print(
            f"| {row['case']} | {row['method']} | {fmt(row['bridge'])} | {fmt(row['octave'])} | "
            f"{fmt(best)} ({bname}) | "
            f"{row['bridge'] / row['octave']:.2f} | "
            if row["octave"]
            else f"| {row['case']} | {row['method']} | {fmt(row['bridge'])} | - | {fmt(best)} "
            f"({bname}) | - | ",
            end="",
        )
        print(f"{row['bridge'] / best:.2f} | " if best else "- | ", end="")
        print(f"{row['memory']:.2f}x |")
    print()
    print("scipy methods (s):")
    for row in results:
        print(f"  {row['case']}: " + ", ".join(f"{k} {fmt(v)}" for k, v in row["scipy"].items()))
    if tiny:
        line = f"tiny job end to end (64x64 * 3x3 .mat): bridge {tiny['bridge']:.3f} s"
        if "octave" in tiny:
            line += (
                f", octave-cli {tiny['octave']:.3f} s, ratio {tiny['bridge'] / tiny['octave']:.2f}"
            )
        print(line)
        if "warm" in tiny:
            line = f"tiny job warm (bridge serve, python -S bridge_worker.py): {tiny['warm']:.3f} s"
            if "octave" in tiny:
                line += f", ratio to octave-cli {tiny['warm'] / tiny['octave']:.2f}"
            print(line)
        else:
            print("tiny job warm: `bridge serve` did not serve the job")
    else:
        print("tiny job: `python -m bridge in.mat out.mat` did not run")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "cases": results, "tiny": tiny}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
