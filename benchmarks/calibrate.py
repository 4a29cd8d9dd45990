"""Measure the cost model of bridge._kernels.choose_method on this machine.

    python benchmarks/calibrate.py [--quick]

Times every method (forced) on a grid of 1-D, 2-D and 3-D cases with random data and prints,
per case, the seconds, the method ``auto`` picks, and the per-unit constant each time implies
(seconds per multiply-add for ``direct``, per banded flop for ``gemm``, per point*log2(points)
for the FFT). The constants in bridge/_kernels/choice.py come from such a run (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge import _kernels as kernels


def best_of(fn, reps=3) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def grid(quick: bool):
    if quick:
        return [((200_000,), (q,)) for q in (3, 31, 301)] + [
            ((512, 512), (k, k)) for k in (3, 9, 31)
        ]
    cases = [((1_000_000,), (q,)) for q in (3, 8, 16, 31, 64, 128, 301, 1000, 3001)]
    cases += [((2048, 2048), (k, k)) for k in (3, 5, 7, 9, 13, 17, 25, 31)]
    cases += [((256, 256, 256), (k, k, k)) for k in (2, 3, 4, 5)]
    return cases


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--max-seconds", type=float, default=4.0, help="skip predicted slower runs")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    dt = np.dtype(np.float64)
    print("case | auto | " + " | ".join(("direct", "gemm", "fft-float")) + " | implied constants")
    for ash, bsh in grid(args.quick):
        a, b = rng.random(ash), rng.random(bsh)
        lengths = [p + q - 1 for p, q in zip(ash, bsh)]
        starts = [0] * len(ash)
        predicted = kernels.estimate_costs(ash, bsh, lengths)
        auto = kernels.choose_method(a, b, lengths)
        times = {}
        for m in ("direct", "gemm", "fft-float"):
            key = "fft" if m == "fft-float" else m
            if predicted.get(key, 0.0) > args.max_seconds:
                times[m] = None
                continue
            times[m] = best_of(
                lambda m=m, a=a, b=b, s=starts, n=lengths: kernels.convolve(a, b, s, n, dt, m)
            )
        taps, outs = math.prod(bsh), math.prod(lengths)
        implied = []
        if times["direct"]:
            implied.append(f"direct {times['direct'] / (taps * outs) * 1e9:.3f} ns/MAC")
        if times["fft-float"]:
            pts = math.prod(lengths)
            implied.append(f"fft {times['fft-float'] / (pts * math.log2(pts)) * 1e9:.2f} ns/pt")
        shown = " | ".join("-" if t is None else f"{t:.4f}" for t in times.values())
        pred = ", ".join(f"{k} {v:.4f}" for k, v in predicted.items())
        print(
            f"{'x'.join(map(str, ash))} * {'x'.join(map(str, bsh))} | {auto} | {shown} | "
            f"{'; '.join(implied)} | predicted {pred}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
