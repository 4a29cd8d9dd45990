"""The cold tiny job of two checkouts, alternated in one run: ``python -m bridge in.mat out.mat``
(64x64 * 3x3 .mat, the full conv2) started from each checkout in turn, best and median of N.

    python3 benchmarks/coldstart.py OTHER_CHECKOUT [--reps 30]

Each run is a fresh interpreter with the checkout first on PYTHONPATH, BRIDGE_NO_SERVER=1 (no
warm worker), in a scratch folder. Alternating A B A B ... keeps a busy machine's drift out of the
ratio. Prints the load (uptime) first, as BENCHMARKS.md records it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

HERE = Path(__file__).resolve().parents[1]


def once(checkout: Path, folder: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout), "BRIDGE_NO_SERVER": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "in.mat", "out.mat"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: exit {done.returncode}: {done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with (e.g. a worktree)")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        scipy.io.savemat(folder / "in.mat", {"A": rng.random((64, 64)), "B": rng.random((3, 3))})
        times: dict[Path, list[float]] = {HERE: [], args.other.resolve(): []}
        for checkout in times:  # one unmeasured run each: the file cache
            once(checkout, folder)
        for _ in range(args.reps):
            for checkout in times:
                times[checkout].append(once(checkout, folder))
    for checkout, seconds in times.items():
        print(f"{checkout}: best {min(seconds):.3f} s, median {statistics.median(seconds):.3f} s")
    this, other = times.values()
    print(
        f"ratio this/other: best {min(this) / min(other):.2f}, "
        f"median {statistics.median(this) / statistics.median(other):.2f}"
    )


if __name__ == "__main__":
    main()
