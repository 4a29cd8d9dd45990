"""Issue 18: imfilter's guarded FFT (integer and logical images under kernels that 'auto' sums by
an FFT) against the path it replaces, in one process: ``filtering.GUARDED_FFT`` False (the old
path: fft-float over the whole image, rounded) and True, run in turn, and OpenCV's
``cv2.filter2D`` (BORDER_CONSTANT, the zero boundary) in the same run. Prints the best of
``--repeat`` wall times, the CPU seconds of the best run, the outputs guard2 recomputed and the
bands redone by nonsep2, and the ratios. Run with PYTHONPATH set to the tree measured.

    PYTHONPATH=. python3 benchmarks/guarded_fft.py --sizes 512 2048 --kernels 31
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bridge import filtering
from bridge._kernels import loops


def best(fn, repeat: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    i = int(np.argmin(wall))
    return wall[i], cpu[i]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    p.add_argument("--kernels", type=int, nargs="+", default=[15, 31])
    p.add_argument("--classes", nargs="+", default=["uint8", "int16"])
    p.add_argument("--chunks", type=int, nargs="+", default=[filtering.GUARD_CHUNK])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--planes", type=int, default=1, help="3: RGB images (n x n x 3)")
    args = p.parse_args()
    try:
        import cv2
    except ImportError:
        cv2 = None
    print("uptime:", os.popen("uptime").read().strip())
    real = loops.C_GUARD2
    stats = {"recomputed": 0, "calls": 0}

    def counted(*a):
        n = real(*a)
        stats["calls"] += 1
        stats["recomputed"] += max(n, 0)
        return n

    loops.C_GUARD2 = counted
    rng = np.random.default_rng(18)
    print(f"{'size':>5} {'q':>3} {'class':>6} {'chunk':>5} {'old ms':>8} {'new ms':>8} "
          f"{'cpu o/n':>11} {'cv2 ms':>7} {'new/old':>7} {'cv2/new':>7} {'recomp':>7}")  # fmt: skip
    for n in args.sizes:
        for q in args.kernels:
            h = rng.random((q, q))
            for cls in args.classes:
                dt = np.dtype(bool if cls == "logical" else cls)
                shape = (n, n) if args.planes == 1 else (n, n, args.planes)
                if dt.kind == "b":
                    A = rng.random(shape) < 0.5
                else:
                    info = np.iinfo(dt)
                    A = rng.integers(max(info.min, -255), min(info.max, 255) + 1, shape).astype(dt)
                cv = None
                if cv2 is not None and dt in (np.uint8, np.int16, np.uint16):
                    flipped = np.ascontiguousarray(h)
                    anchor = ((q + 1) // 2 - 1, (q + 1) // 2 - 1)
                    cv = best(
                        lambda A=A, f=flipped, a=anchor: cv2.filter2D(
                            A, -1, f, anchor=a, borderType=cv2.BORDER_CONSTANT
                        ),
                        args.repeat,
                    )
                for chunk in args.chunks:
                    filtering.GUARD_CHUNK = chunk
                    old = new = (1e9, 0.0)
                    for _ in range(2):  # old and new in turn, twice
                        filtering.GUARDED_FFT = False
                        o = best(lambda A=A, h=h: filtering.imfilter(A, h), args.repeat)
                        filtering.GUARDED_FFT = True
                        stats.update(recomputed=0, calls=0)
                        nw = best(lambda A=A, h=h: filtering.imfilter(A, h), args.repeat)
                        old, new = min(old, o), min(new, nw)
                    rec = stats["recomputed"] // max(1, args.repeat) if stats["calls"] else -1
                    cvs = f"{cv[0] * 1e3:7.1f}" if cv else "      -"
                    ratio = f"{cv[0] / new[0]:7.2f}" if cv else "      -"
                    print(f"{n:5d} {q:3d} {cls:>6} {chunk:5d} {old[0] * 1e3:8.1f} "
                          f"{new[0] * 1e3:8.1f} {old[1] * 1e3:5.0f}/{new[1] * 1e3:5.0f} {cvs} "
                          f"{new[0] / old[0]:7.2f} {ratio} {rec:7d}")  # fmt: skip
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
