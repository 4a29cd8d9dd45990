"""Issue 20's peer table: bridge against OpenCV, scipy, ndimage and Octave, side by side.

    python benchmarks/peers.py             # issue 20's cases (a few minutes)
    python benchmarks/peers.py --grid      # images 256^2..4096^2, kernels 3..15, both classes
    python benchmarks/peers.py --no-octave --reps 5
    python benchmarks/peers.py --big       # issue 20 goal 2: kernels of 31^2 and 63^2
    python benchmarks/peers.py --big --root /work/main   # the bridge of another checkout

Each case is timed **best of 7** (``--reps``) in this process, the peers in turn within each
repetition (bridge, OpenCV, ``scipy.signal.convolve``, ``scipy.ndimage.convolve``), so that
the load of a shared machine falls on all of them alike; Octave's ``conv2``/``convn`` are timed
in one ``octave-cli`` before (tic/toc, best of the same number). Peers compute the same window:

- OpenCV ``cv2.filter2D`` (images only) with ``BORDER_CONSTANT``, the kernel flipped and the
  anchor at ``q - 1 - floor(q/2)``, which is MATLAB's 'same' for every kernel; 'full' pads the
  image first (``cv2.copyMakeBorder``, counted). OpenCV keeps its own threads (2 here) and
  switches to its DFT for large kernels.
- ``scipy.signal.convolve`` (its own choice of direct or FFT; FFTs with 2 workers).
- ``scipy.ndimage.convolve`` with ``mode='constant'`` ('same' of odd kernels; 'full' pads);
  skipped above 2e9 multiply-adds (seconds per call, never the fastest).
- Octave 7's ``conv2``/``convn`` (``single`` data for single cases).

Printed per case: seconds of each, the fastest peer, bridge / fastest peer and bridge / floor,
and bridge's CPU seconds (every thread of this process, best of the repetitions) over those
of the in-process peer that used the least (a figure the load of a shared machine moves less);
where the floor is the larger of writing the output once (streaming ``x + 0.0``) and the
multiply-adds at this machine's 2-thread BLAS rate (dgemm, sgemm for single), both measured at
start (BENCHMARKS.md). Every answer (bridge's too) is checked against the defining sum
(bridge's 'direct'; its 'auto' above 5e9 multiply-adds): within ``1e3 * eps * max(conv(|A|,
|B|))`` (eps of the class), or it is marked ``!`` (and such a peer is not counted fastest).
Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# --root: time the bridge of another checkout (an old tree against this one, run in turn)
if "--root" in sys.argv[:-1]:
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep import octave_script_times  # noqa: E402

sys.path.insert(0, str(ROOT))  # sweep puts this checkout first

# (op, A's size, B's size, shape, class)
ISSUE_CASES = [
    ("conv2", (256, 256), (3, 3), "same", "double"),
    ("conv2", (1024, 1024), (3, 3), "same", "double"),
    ("conv2", (1024, 1024), (15, 15), "same", "double"),
    ("conv2", (2048, 2048), (5, 5), "same", "double"),
    ("conv2", (1024, 1024), (3, 3), "same", "single"),
    ("conv2", (2048, 2048), (31, 31), "same", "double"),
    ("conv2", (2048, 2048), (31, 31), "same", "single"),
    ("conv2", (1024, 1024), (3, 3), "full", "double"),
    ("conv2", (1024, 1024), (3, 3), "full", "single"),
    ("conv2", (2048, 2048), (5, 5), "same", "single"),
    ("conv2", (1024, 1024), (15, 15), "same", "single"),
    ("conv2", (2048, 2048), (63, 63), "same", "double"),
    ("convn", (40, 40, 40, 16), (3, 3, 3, 3), "same", "double"),
    ("convn", (40, 40, 40, 16), (3, 3, 3, 3), "full", "double"),
    ("convn", (32, 32, 32, 32), (3, 3, 3, 3), "same", "single"),
    ("convn", (24, 24, 24, 24, 4), (3, 3, 3, 3, 3), "same", "double"),
]


def grid_cases():
    out = []
    for n in (256, 512, 1024, 2048, 4096):
        for k in (3, 5, 9, 15):
            for cls in ("double", "single"):
                for shape in ("same", "full"):
                    out.append(("conv2", (n, n), (k, k), shape, cls))
    return out


def big_cases():
    out = []
    for n in (1024, 2048, 4096):
        for k in (31, 63):
            for cls in ("double", "single"):
                for shape in ("same", "full"):
                    out.append(("conv2", (n, n), (k, k), shape, cls))
    return out


def label(op, a, b, shape, cls) -> str:
    return f"{op} {'x'.join(map(str, a))} * {'x'.join(map(str, b))} {shape} {cls}"


def out_dims(a, b, shape):
    return [p + q - 1 if shape == "full" else p for p, q in zip(a, b)]


def reps_inner(a, b, shape) -> int:
    work = math.prod(out_dims(a, b, shape)) * math.prod(b)
    return max(1, min(200, int(2e6 // max(work, 1))))


OCTAVE_CASE = """
A = {cast}(rand({a})); B = {cast}(rand({b}));
C = {op}(A, B, '{shape}'); t = inf;
for r = 1:{reps}
  tic; for k = 1:{inner}, C = {op}(A, B, '{shape}'); end; t = min(t, toc / {inner});
end
printf('PEERS %d %.9f\\n', {i}, t);
clear A B C;
"""


def octave_times(cases, reps):
    exe = shutil.which("octave-cli")
    if exe is None:
        return {}
    parts = []
    for i, (op, a, b, shape, cls) in enumerate(cases):
        dims = lambda s: ", ".join(map(str, s))  # noqa: E731
        parts.append(
            OCTAVE_CASE.format(
                a=dims(a), b=dims(b), op=op, shape=shape, reps=reps, i=i, cast=cls,
                inner=reps_inner(a, b, shape),
            )
        )  # fmt: skip
    return octave_script_times(exe, "".join(parts), "PEERS")


def peers_for(op, A, B, shape):
    """{name: function} computing the same window as bridge."""
    import cv2
    import numpy as np
    import scipy.fft
    import scipy.ndimage
    import scipy.signal

    q = B.shape
    out = {}

    def signal():
        with scipy.fft.set_workers(2):
            return scipy.signal.convolve(A, B, shape)

    out["scipy.signal"] = signal
    if shape == "full":
        # 'same' of the operand padded by q - 1 zeros, from its centre shift floor(q/2) on
        pad = [(k - 1, k - 1) for k in q]
        cut = tuple(slice(k - 1 - k // 2, k - 1 - k // 2 + n + k - 1) for n, k in zip(A.shape, q))

        def ndimage():
            return scipy.ndimage.convolve(np.pad(A, pad), B, mode="constant")[cut]

    else:

        def ndimage():
            return scipy.ndimage.convolve(A, B, mode="constant")

    slow = math.prod(A.shape) * math.prod(q) > 2e9  # ndimage's direct sum: seconds a call
    if (shape == "full" or all(k % 2 for k in q)) and not slow:  # even kernels: off centre
        out["ndimage"] = ndimage
    if A.ndim == 2:
        flipped = np.ascontiguousarray(B[::-1, ::-1])
        anchor = (q[1] - 1 - q[1] // 2, q[0] - 1 - q[0] // 2)
        if shape == "full":
            # q - 1 zeros above and left, the anchor at (0, 0): output o reads o - j for
            # every tap j, the border's zeros below and right

            def opencv():
                padded = cv2.copyMakeBorder(A, q[0] - 1, 0, q[1] - 1, 0, cv2.BORDER_CONSTANT, 0)
                return cv2.filter2D(padded, -1, flipped, anchor=(0, 0),
                                    borderType=cv2.BORDER_CONSTANT)  # fmt: skip

        else:

            def opencv():
                return cv2.filter2D(A, -1, flipped, anchor=anchor, borderType=cv2.BORDER_CONSTANT)

        out["opencv"] = opencv
    return out


def agree(got, want, scale, eps) -> bool:
    import numpy as np

    if got.shape != want.shape:
        return False
    # normwise, as FFTs err (relative to the largest outputs): 1e3 eps of max conv(|A|, |B|)
    return bool(np.all(np.abs(got.astype(np.float64) - want) <= 1e3 * eps * float(scale.max())))


def floors(reps):
    import numpy as np

    x = np.random.default_rng(0).random(2000 * 2000)
    t0 = min(_time(lambda: x + 0.0) for _ in range(reps))
    rates = {}
    for cls, dt in (("double", np.float64), ("single", np.float32)):
        m = np.random.default_rng(1).random((1500, 1500)).astype(dt)
        t = min(_time(lambda m=m: m @ m) for _ in range(max(3, reps // 2)))
        rates[cls] = 1500**3 / t
    return t0 / x.size, rates


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--grid", action="store_true", help="every image size, kernel, class, shape")
    p.add_argument("--big", action="store_true", help="images 1024^2..4096^2, kernels 31, 63")
    p.add_argument("--root", help="the checkout whose bridge is timed (default: this one)")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--no-octave", action="store_true")
    p.add_argument("--only", help="cases whose label contains this")
    args = p.parse_args(argv)
    import numpy as np

    import bridge

    cases = grid_cases() if args.grid else big_cases() if args.big else ISSUE_CASES
    if args.only:
        cases = [c for c in cases if args.only in label(*c)]
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime at start: {load}")
    print(f"bridge from {Path(bridge.__file__).resolve().parent}")
    stream, rates = floors(args.reps)
    print(
        f"floor: stream {stream * 1e9:.2f} ns/element, dgemm {rates['double'] / 1e9:.1f}, "
        f"sgemm {rates['single'] / 1e9:.1f} GMAC/s (2 threads)"
    )
    oct_t = {} if args.no_octave else octave_times(cases, args.reps)
    rng = np.random.default_rng(0)
    print(
        "| case | bridge s | OpenCV s | scipy.signal s | ndimage s | Octave s | fastest peer "
        "| bridge/fastest | bridge/floor | CPU: bridge/least (peer) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for i, (op, a, b, shape, cls) in enumerate(cases):
        dt = np.float32 if cls == "single" else np.float64
        A = rng.random(a).astype(dt)
        B = rng.random(b).astype(dt)
        fn = getattr(bridge, op)
        wrong = set()
        # The reference: the defining sum (bridge's 'direct'), bridge's 'auto' for the largest
        work = math.prod(out_dims(a, b, shape)) * math.prod(b)
        want = fn(A, B, shape, method="direct" if work <= 5e9 else "auto")
        scale = fn(np.abs(A).astype(np.float64), np.abs(B).astype(np.float64), shape)
        eps = float(np.finfo(dt).eps)
        runs = {"bridge": lambda fn=fn, A=A, B=B, shape=shape: fn(A, B, shape)}
        peer_runs = peers_for(op, A, B, shape)
        for name, peer in [("bridge", runs["bridge"]), *peer_runs.items()]:
            got = peer()
            if not agree(got, want.astype(np.float64), scale, eps):
                wrong.add(name)
            runs[name] = peer
        inner = reps_inner(a, b, shape)
        best = {name: math.inf for name in runs}
        cpu = dict(best)
        for _ in range(args.reps):
            for name, run in runs.items():
                c0, t0 = time.process_time(), time.perf_counter()
                for _ in range(inner):
                    run()
                best[name] = min(best[name], (time.perf_counter() - t0) / inner)
                cpu[name] = min(cpu[name], (time.process_time() - c0) / inner)
        if i in oct_t:
            best["octave"] = oct_t[i]
        peers = {k: v for k, v in best.items() if k != "bridge" and k not in wrong}
        fastest = min(peers, key=peers.get) if peers else None
        r = best["bridge"] / peers[fastest] if fastest else math.nan
        # CPU seconds (all threads of this process): the in-process peer using the least
        in_cpu = {k: v for k, v in cpu.items() if k != "bridge" and k not in wrong}
        thrifty = min(in_cpu, key=in_cpu.get) if in_cpu else None
        r_cpu = cpu["bridge"] / in_cpu[thrifty] if thrifty else math.nan
        outs = math.prod(out_dims(a, b, shape))
        floor = max(stream * outs, outs * math.prod(b) / rates[cls])
        worst = max(worst, r)

        def cell(name, best=best, wrong=wrong):
            if name not in best:
                return "-"
            return f"{best[name]:.5f}" + ("!" if name in wrong else "")

        print(
            f"| {label(op, a, b, shape, cls)} | {cell('bridge')} | {cell('opencv')} | "
            f"{cell('scipy.signal')} | {cell('ndimage')} | {cell('octave')} | {fastest} | "
            f"{r:.2f} | {best['bridge'] / floor:.2f} | {r_cpu:.2f} ({thrifty}) |",
            flush=True,
        )
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime at end: {load}")
    print(f"largest bridge/fastest peer: {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
