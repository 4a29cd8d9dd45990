"""The in-process sweep of issue 8: bridge against Octave's built-in and scipy, every size.

    python benchmarks/sweep.py            # every case (a few minutes)
    python benchmarks/sweep.py --quick    # a reduced set
    python benchmarks/sweep.py --no-numba # the pure-numpy direct sum (no C loop, no numba)

Cases: tiny calls (conv 1x100*1x5, conv2 16x16*3x3 and 64x64*3x3), images 256^2..4096^2 with
3x3..15x15 kernels in 'full' and 'same', vectors 1e5 and 1e6 with 3..31 taps, volumes 64^3..
256x256x64 with 3^3 and 5^3 kernels. Each is timed best of 7 (``--reps``) in this process
(bridge, ``method='auto'``), in one ``octave-cli`` (its conv/conv2/convn, tic/toc) and with
scipy (``signal.convolve`` direct and fft, ``oaconvolve`` for vectors, ``ndimage.convolve`` for
'same'; FFTs with 2 workers), on random data of the same sizes; tiny calls are timed in loops
and divided. Printed: seconds, the ratios bridge/Octave and bridge/best scipy, and bridge/floor,
where the floor is the larger of streaming an output-sized array once into a new array
(``x + 0.0``) and the multiply-adds at this machine's 2-thread dgemm rate (measured at start).
Operands are column-major by default, as Octave's built-in and MATLAB's wrappers have them
(``--layout numpy``: row-major). ``--json FILE`` writes the raw numbers. Nothing here is a
test: no time is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cases(quick: bool) -> list[tuple[str, tuple, tuple, str]]:
    out = [
        ("conv", (1, 100), (1, 5), "full"),
        ("conv2", (16, 16), (3, 3), "full"),
        ("conv2", (64, 64), (3, 3), "full"),
    ]
    sizes = (256, 1024, 2048) if quick else (256, 512, 1024, 2048, 4096)
    kernels = (3, 9) if quick else (3, 5, 9, 15)
    for n in sizes:
        for k in kernels:
            for shape in ("full", "same"):
                out.append(("conv2", (n, n), (k, k), shape))
    for n in (100_000, 1_000_000):
        for q in (3, 31) if quick else (3, 7, 15, 31):
            out.append(("conv", (1, n), (1, q), "full"))
    vols = [(64, 64, 64), (128, 128, 128)] + ([] if quick else [(256, 256, 64)])
    for v in vols:
        for k in (3, 5):
            out.append(("convn", v, (k, k, k), "full"))
    return out


def label(op, a, b, shape) -> str:
    return f"{op} {'x'.join(map(str, a))} * {'x'.join(map(str, b))} {shape}"


def macs(a, b, shape) -> int:
    """Multiply-adds of the window (interior approximation: outputs x taps)."""
    out = [p + q - 1 if shape == "full" else p for p, q in zip(a, b)]
    return math.prod(out) * math.prod(b)


def out_elements(a, b, shape) -> int:
    return math.prod(p + q - 1 if shape == "full" else p for p, q in zip(a, b))


def inner_count(a, b, shape) -> int:
    """Calls per timing: enough that one timing lasts about a millisecond or more."""
    work = macs(a, b, shape)
    return max(1, min(1000, int(2e6 // max(work, 1))))


def best_of(fn, reps: int, inner: int) -> float:
    fn()
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


OCTAVE_CASE = """
A = rand({a}); B = rand({b});
C = {op}(A, B, '{shape}'); t = inf;
for r = 1:{reps}
  tic; for k = 1:{inner}, C = {op}(A, B, '{shape}'); end; t = min(t, toc / {inner});
end
printf('SWEEP %d %.9f\\n', {i}, t);
clear A B C;
"""


def octave_times(all_cases, reps: int) -> dict[int, float]:
    exe = shutil.which("octave-cli")
    if exe is None:
        return {}
    parts = []
    for i, (op, a, b, shape) in enumerate(all_cases):
        dims = lambda s: ", ".join(map(str, s))  # noqa: E731
        parts.append(
            OCTAVE_CASE.format(
                a=dims(a), b=dims(b), op=op, shape=shape, reps=reps, i=i,
                inner=inner_count(a, b, shape),
            )
        )  # fmt: skip
    return octave_script_times(exe, "".join(parts), "SWEEP")


def octave_script_times(exe: str, script_text: str, tag: str) -> dict[int, float]:
    """Run an Octave script in one octave-cli; its lines ``TAG i seconds`` as {i: seconds}
    (also used by benchmarks/run.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "times.m"
        script.write_text(script_text)
        proc = subprocess.run(
            [exe, "--norc", "--no-gui", "--quiet", str(script)],
            capture_output=True,
            text=True,
            check=False,
        )
    times = {}
    for line in proc.stdout.splitlines():
        if line.startswith(tag + " "):
            _, i, t = line.split()
            times[int(i)] = float(t)
    return times


def scipy_best(op, A, B, shape, reps, inner) -> tuple[float | None, str]:
    import numpy as np
    import scipy.fft
    import scipy.ndimage
    import scipy.signal

    a, b = A, B
    if op == "conv":
        a, b = A.ravel(), B.ravel()
    methods = {
        "signal direct": lambda: scipy.signal.convolve(a, b, shape, method="direct"),
        "signal fft": lambda: scipy.signal.convolve(a, b, shape, method="fft"),
    }
    if a.ndim == 1:
        methods["oaconvolve"] = lambda: scipy.signal.oaconvolve(a, b, shape)
    if shape == "same":
        methods["ndimage"] = lambda: scipy.ndimage.convolve(a, b, mode="constant")
    if a.ndim > 1 and a.size * b.size > 3e8:
        del methods["signal direct"]  # scipy's N-D direct sum: minutes
    best, name = None, "-"
    with scipy.fft.set_workers(2):
        for m, fn in methods.items():
            t = best_of(fn, reps, inner)
            if best is None or t < best:
                best, name = t, m
    del np
    return best, name


def floors(reps: int):
    """(seconds to stream n doubles into a new array, as a function of n; MAC/s of dgemm)."""
    import numpy as np

    x = np.random.default_rng(0).random(2000 * 2000)
    copy_s = best_of(lambda: x + 0.0, reps, 1) / x.size
    m = np.random.default_rng(1).random((1500, 1500))
    gemm_s = best_of(lambda: m @ m, max(3, reps // 2), 1)
    rate = 1500**3 / gemm_s
    return copy_s, rate


def chosen(A, B) -> str:
    from bridge._kernels import choose_method

    keep = [d for d in range(A.ndim) if A.shape[d] != 1 or B.shape[d] != 1]
    a = A.reshape([A.shape[d] for d in keep])
    b = B.reshape([B.shape[d] for d in keep])
    return choose_method(a, b, [p + q - 1 for p, q in zip(a.shape, b.shape)])


def sec(x) -> str:
    return "-" if x is None else f"{x:.6f}"


def ratio(t):
    return lambda x: "-" if x is None else f"{t / x:.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a reduced set")
    p.add_argument("--reps", type=int, default=7, help="best of this many timings")
    p.add_argument("--no-octave", action="store_true")
    p.add_argument("--no-scipy", action="store_true")
    p.add_argument(
        "--no-numba", action="store_true", help="the pure-numpy direct sum (no C loop, no numba)"
    )
    p.add_argument(
        "--layout",
        choices=("matlab", "numpy"),
        default="matlab",
        help="operands column-major as MATLAB/Octave hold them (default), or numpy's row-major",
    )
    p.add_argument("--json", type=Path, help="write the results here too")
    args = p.parse_args(argv)
    if args.no_numba:
        os.environ["BRIDGE_NUMBA"] = "0"
        os.environ["BRIDGE_C_LOOP"] = "0"
    import numpy as np

    import bridge
    from bridge._kernels import method_direct

    all_cases = cases(args.quick)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime at start: {load}")
    print(f"operands: {args.layout} layout")
    copy_s, rate = floors(args.reps)
    print(f"floor: stream {copy_s * 1e9:.2f} ns/element, dgemm {rate / 1e9:.1f} GMAC/s (2 threads)")
    oct_t = {} if args.no_octave else octave_times(all_cases, args.reps)
    rng = np.random.default_rng(0)
    fns = {"conv": bridge.conv, "conv2": bridge.conv2, "convn": bridge.convn}
    # Warm-up as a long-running process would be: the first large direct sums pay for loading
    # the compiled loop (when numba is installed and allowed).
    warm_a, warm_b = rng.random((2048, 2048)), rng.random((3, 3))
    for _ in range(12):
        bridge.conv2(warm_a, warm_b)
    loop = method_direct.compiled_loop(10**12, np.float64)
    print(f"compiled direct loop: {getattr(loop, '__module__', None) or loop}")
    header = (
        "| case | bridge method | bridge s | Octave s | best scipy s (method) | floor s "
        "| bridge/Octave | bridge/scipy | bridge/floor |"
    )
    print(header)
    print("|" + "---|" * 9)
    rows = []
    for i, (op, a, b, shape) in enumerate(all_cases):
        A, B = rng.random(a), rng.random(b)
        if args.layout == "matlab":  # column-major, as Octave's built-in and the wrappers have them
            A, B = np.asfortranarray(A), np.asfortranarray(B)
        inner = inner_count(a, b, shape)
        fn = fns[op]
        t_bridge = best_of(lambda fn=fn, A=A, B=B, s=shape: fn(A, B, s), args.reps, inner)
        method = chosen(A, B)
        s_t, s_name = None, "-"
        if not args.no_scipy:
            s_t, s_name = scipy_best(op, A, B, shape, args.reps, inner)
        floor = max(copy_s * out_elements(a, b, shape), macs(a, b, shape) / rate)
        o = oct_t.get(i)
        r = ratio(t_bridge)
        line = (
            f"| {label(op, a, b, shape)} | {method} | {sec(t_bridge)} | {sec(o)} | {sec(s_t)} "
            f"({s_name}) | {sec(floor)} | {r(o)} | {r(s_t)} | {r(floor)} |"
        )
        print(line, flush=True)
        rows.append(
            dict(case=label(op, a, b, shape), method=method, bridge=t_bridge, octave=o,
                 scipy=s_t, scipy_method=s_name, floor=floor)
        )  # fmt: skip
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime at end: {load}")
    slower = [r for r in rows if r["octave"] and r["bridge"] > r["octave"]]
    print(f"cases slower than Octave: {len(slower)} of {sum(1 for r in rows if r['octave'])}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "stream_s": copy_s, "gemm_rate": rate}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
