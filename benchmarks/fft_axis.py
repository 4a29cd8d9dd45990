"""The FFT path with the last axis summed directly against the full transform, in one run.

    python benchmarks/fft_axis.py            # best of 5, operands column-major (MATLAB's)

For each case, ``method='fft-float'`` as it runs (the last axis summed directly where
``method_fft.direct_last_axis`` says so: images by stages, volumes plane by plane) and with
every axis transformed (``DIRECT_AXIS_TAPS = 0``), alternated, best of N, and scipy.signal's
``fftconvolve`` for scale. Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bridge  # noqa: E402
from bridge._kernels import method_fft  # noqa: E402

CASES = [
    ((1000, 1000), (5, 5)),
    ((1000, 1000), (15, 15)),
    ((1000, 1000), (31, 31)),
    ((2048, 2048), (15, 15)),
    ((64, 64, 64), (5, 5, 5)),
    ((128, 128, 128), (3, 3, 3)),
    ((128, 128, 128), (9, 9, 9)),
    ((128, 128, 128), (17, 17, 17)),
    ((200, 200, 200), (9, 9, 9)),
]


def best(fn, reps: int) -> float:
    fn()
    t = float("inf")
    for _ in range(reps):
        s = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - s)
    return t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    from scipy import signal

    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| case 'same' | last axis summed s | all axes transformed s | ratio | scipy s |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(1)
    taps = method_fft.DIRECT_AXIS_TAPS
    for a, b in CASES:
        A = np.asfortranarray(rng.random(a))
        B = np.asfortranarray(rng.random(b))

        def ours(A=A, B=B):
            return bridge.convn(A, B, "same", method="fft-float")

        summed = full = float("inf")
        for _ in range(2):  # alternated: the machine's drift touches both
            method_fft.DIRECT_AXIS_TAPS = taps
            summed = min(summed, best(ours, args.reps))
            method_fft.DIRECT_AXIS_TAPS = 0
            full = min(full, best(ours, args.reps))
        method_fft.DIRECT_AXIS_TAPS = taps
        sp = best(lambda A=A, B=B: signal.fftconvolve(A, B, "same"), args.reps)
        label = f"{'x'.join(map(str, a))} * {'x'.join(map(str, b))}"
        used = "summed" if method_fft.direct_last_axis(a, b) else "not summed"
        print(f"| {label} ({used}) | {summed:.4f} | {full:.4f} | {summed / full:.2f} | {sp:.4f} |")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
