"""imfilter and imgaussfilt against scipy.ndimage, OpenCV and Octave, in one run, best of 7.

Two tables:

* ``imfilter``: a random (not separable) k x k kernel and a separable one (fspecial's Gaussian
  of that size, sigma k/6), 'same', each boundary option; bridge's ``imfilter`` against
  ``scipy.ndimage.correlate`` (modes constant/nearest/reflect/wrap), OpenCV's ``filter2D``
  (the random kernel) or ``sepFilter2D`` (the separable one) with the matching border
  (CONSTANT/REPLICATE/REFLECT; OpenCV's filters have no circular border), and Octave's
  ``imfilter`` timed inside octave-cli (tic/toc around the call only);
* ``imgaussfilt``: bridge's ``imgaussfilt(A, sigma)`` (9 taps for sigma 2: ``2*ceil(2*sigma)+1``,
  replicate padding) against ``scipy.ndimage.gaussian_filter`` with the same radius
  (``truncate = ceil(2*sigma)/sigma``, mode 'nearest'), ``cv2.GaussianBlur`` with the same ksize
  and BORDER_REPLICATE, and Octave's ``imfilter(A, fspecial('gaussian', ...), 'replicate')``
  (Octave has no imgaussfilt);
* volumes (``--volumes``): bridge's ``imfilter`` on n x n x n volumes with a random k x k x k
  kernel and a separable one (the outer product of a 1-D Gaussian, sigma k/6), 'same', each
  boundary option, against ``scipy.ndimage.correlate``; and ``imgaussfilt3(A, sigma)`` against
  ``scipy.ndimage.gaussian_filter`` with the same radius (mode 'nearest'). scipy is the only
  peer: OpenCV has no 3-D filter and Octave's imfilter refuses N-D images.

Ratios are the other library's time over bridge's (above 1: bridge is faster). Every answer is
checked against bridge's: double within 1e-10 of the result's scale, single within 1e-4, uint8
within 1 (OpenCV rounds ties to even and its 8-bit Gaussian uses fixed-point taps; scipy is run
with a double output, then rounded as MATLAB does, since its own uint8 output truncates and
wraps). A library whose first run of a case takes longer than ``--slow`` seconds is not
repeated (marked ``*``: one run). Octave runs only where the case's multiply-adds stay below
``--octave-max-work`` (its conv2 is the direct sum), scipy's ``correlate`` below
``--scipy-max-work`` (also direct); ``-`` in the table: not run.

    python3 benchmarks/filtering.py                    # the default grid (tens of minutes)
    python3 benchmarks/filtering.py --sizes 512 --kernels 3 7 --no-octave   # a quick look
    python3 benchmarks/filtering.py --skip imfilter imgaussfilt --volumes 64 128   # volumes only
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge import filtering  # noqa: E402
from bridge._kernels import loops  # noqa: E402

SCIPY_MODE = {"0": "constant", "replicate": "nearest", "symmetric": "reflect", "circular": "wrap"}
CLASSES = {"double": np.float64, "single": np.float32, "uint8": np.uint8}


def best_of(fn, repeat: int, slow: float) -> tuple[float, object, bool]:
    """(best seconds, the last result, whether it was repeated)."""
    t0 = time.perf_counter()
    out = fn()
    best = time.perf_counter() - t0
    if best > slow:
        return best, out, False
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out, True


def agree(ref: np.ndarray, got: np.ndarray, cls: str) -> bool:
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    if ref.shape != got.shape:
        return False
    if cls == "uint8":
        return bool(np.max(np.abs(ref - got)) <= 1)
    scale = max(float(np.max(np.abs(ref))), 1e-300)
    return bool(np.max(np.abs(ref - got)) <= (1e-10 if cls == "double" else 1e-4) * scale)


def to_class(x: np.ndarray, cls: str) -> np.ndarray:
    return filtering.cast_to_class(x, CLASSES[cls]) if cls == "uint8" else x


class Octave:
    """One octave-cli process; each case: load the operands, time the call inside Octave."""

    def __init__(self) -> None:
        from tests.octave import OctaveSession

        self.session = OctaveSession("octave-cli", timeout=3600)
        self.session.call("pkg load image; x = 1;", {}, ["x"])

    def time(self, A, h, call: str, repeat: int, slow: float):
        code = (
            f"tic; B = {call}; t = toc;"
            f"if t <= {slow}, for r = 2:{repeat}, tic; B = {call}; t = min(t, toc); end; end;"
            "n = min(size(B), 256); B = B(1:n(1), 1:n(2));"
        )
        got = self.session.call(code, {"A": A, "h": h}, ["t", "B"])
        return float(got["t"].reshape(())), got["B"]

    def close(self) -> None:
        self.session.close()


def cv2_border(cv2, boundary: str):
    return {
        "0": cv2.BORDER_CONSTANT,
        "replicate": cv2.BORDER_REPLICATE,
        "symmetric": cv2.BORDER_REFLECT,
    }.get(boundary)


def row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(columns: list[str]) -> None:
    """A table's header row and its rule."""
    print(row(columns))
    print(row(["---"] * len(columns)))


def fmt(t: float | None, base: float, repeated: bool = True) -> str:
    if t is None:
        return "-"
    return f"{t:.4f}{'' if repeated else '*'} ({t / base:.2f})"


def bench_imfilter(args, octave) -> None:
    import cv2
    import scipy.ndimage as ndi

    header(
        [
            "image",
            "class",
            "kernel",
            "boundary",
            "bridge s",
            "scipy s (ratio)",
            "OpenCV s (ratio)",
            "Octave s (ratio)",
            "agree",
        ]
    )
    rng = np.random.default_rng(0)
    for n in args.sizes:
        base = rng.random((n, n))
        for k in args.kernels:
            kernels = {
                "random": rng.standard_normal((k, k)),
                "gaussian": filtering.fspecial("gaussian", k, max(k / 6, 0.5)),
            }
            for cls in args.classes:
                A = (
                    (base * 255).astype(CLASSES[cls])
                    if cls == "uint8"
                    else base.astype(CLASSES[cls])
                )
                for kind, h in kernels.items():
                    if kind not in args.kinds:
                        continue
                    for boundary in args.boundaries:
                        opt = float(boundary) if boundary == "0" else boundary
                        tb, ref, rb = best_of(
                            lambda A=A, h=h, opt=opt: filtering.imfilter(A, h, opt),
                            args.repeat,
                            args.slow,
                        )
                        ok = []
                        src = A.astype(np.float64) if cls == "uint8" else A
                        ts, rs = None, True
                        if n * n * k * k <= args.scipy_max_work:
                            ts, out, rs = best_of(
                                lambda src=src, h=h, b=boundary: ndi.correlate(
                                    src, h, mode=SCIPY_MODE[b], cval=0.0
                                ),
                                args.repeat,
                                args.slow,
                            )
                            ok.append(agree(ref, to_class(out, cls), cls))
                        tc = None
                        rc = True
                        border = cv2_border(cv2, boundary)
                        if border is not None:
                            if kind == "random":
                                fn = lambda A=A, h=h, border=border: cv2.filter2D(  # noqa: E731
                                    A, -1, h, borderType=border
                                )
                            else:
                                u = h[:, h.shape[1] // 2] / math.sqrt(h[k // 2, k // 2])
                                fn = lambda A=A, u=u, border=border: cv2.sepFilter2D(  # noqa: E731
                                    A, -1, u, u, borderType=border
                                )
                            tc, out, rc = best_of(fn, args.repeat, args.slow)
                            ok.append(agree(ref, out, cls))
                        to = None
                        if octave is not None and n * n * k * k <= args.octave_max_work:
                            call = f"imfilter(A, h, {'0' if boundary == '0' else repr(boundary)})"
                            to, out = octave.time(A, h, call, args.repeat, args.slow)
                            m = out.shape
                            ok.append(agree(ref[: m[0], : m[1]], out, cls))
                        print(
                            row(
                                [
                                    f"{n}x{n}",
                                    cls,
                                    f"{k}x{k} {kind}",
                                    boundary,
                                    f"{tb:.4f}{'' if rb else '*'}",
                                    fmt(ts, tb, rs),
                                    fmt(tc, tb, rc),
                                    fmt(to, tb),
                                    "yes" if all(ok) else "NO",
                                ]
                            ),
                            flush=True,
                        )


def bench_gauss(args, octave) -> None:
    import cv2
    import scipy.ndimage as ndi

    print()
    header(
        [
            "image",
            "class",
            "sigma (taps)",
            "bridge s",
            "scipy s (ratio)",
            "OpenCV s (ratio)",
            "Octave s (ratio)",
            "agree",
        ]
    )
    rng = np.random.default_rng(1)
    for n in args.sizes:
        base = rng.random((n, n))
        for sigma in args.sigmas:
            taps = 2 * math.ceil(2 * sigma) + 1
            for cls in args.classes:
                A = (base * 255).astype(np.uint8) if cls == "uint8" else base.astype(CLASSES[cls])
                tb, ref, rb = best_of(
                    lambda A=A, s=sigma: filtering.imgaussfilt(A, s), args.repeat, args.slow
                )
                ok = []
                src = A.astype(np.float64) if cls == "uint8" else A
                trunc = math.ceil(2 * sigma) / sigma
                ts, out, rs = best_of(
                    lambda src=src, s=sigma, t=trunc: ndi.gaussian_filter(
                        src, s, mode="nearest", truncate=t
                    ),
                    args.repeat,
                    args.slow,
                )
                ok.append(agree(ref, to_class(out, cls), cls))
                tc, out, rc = best_of(
                    lambda A=A, s=sigma, t=taps: cv2.GaussianBlur(
                        A, (t, t), s, borderType=cv2.BORDER_REPLICATE
                    ),
                    args.repeat,
                    args.slow,
                )
                ok.append(agree(ref, out, cls))
                to = None
                if octave is not None and n * n * taps * taps <= args.octave_max_work:
                    h = filtering.fspecial("gaussian", taps, sigma)
                    to, out = octave.time(
                        A,
                        h,
                        f"imfilter(A, fspecial('gaussian', {taps}, {sigma}), 'replicate')",
                        args.repeat,
                        args.slow,
                    )
                    m = out.shape
                    ok.append(agree(ref[: m[0], : m[1]], out, cls))
                print(
                    row(
                        [
                            f"{n}x{n}",
                            cls,
                            f"{sigma} ({taps})",
                            f"{tb:.4f}{'' if rb else '*'}",
                            fmt(ts, tb, rs),
                            fmt(tc, tb, rc),
                            fmt(to, tb),
                            "yes" if all(ok) else "NO",
                        ]
                    ),
                    flush=True,
                )


def gaussian_3d(k: int) -> np.ndarray:
    """A separable k x k x k kernel: the outer product of a 1-D Gaussian (sigma k/6), sum 1."""
    x = np.arange(k) - (k - 1) / 2
    g = np.exp(-(x * x) / (2 * max(k / 6, 0.5) ** 2))
    g /= g.sum()
    return g[:, None, None] * g[None, :, None] * g[None, None, :]


def alternate_old(fn, repeat: int, slow: float):
    """best_of for bridge's volume paths and for the path before them
    (``filtering.FUSED_VOLUME = False``: the same bits), one of each per round in turn:
    (best seconds, the last result, whether repeated, best seconds before)."""
    times: dict[bool, list[float]] = {True: [], False: []}
    out = None
    for r in range(repeat):
        for on in (True, False):
            filtering.FUSED_VOLUME = on  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            got = fn()
            times[on].append(time.perf_counter() - t0)
            if on:
                out = got
        if r == 0 and min(times[True][0], times[False][0]) > slow:
            break
    filtering.FUSED_VOLUME = True  # type: ignore[attr-defined]
    return min(times[True]), out, len(times[True]) > 1, min(times[False])


def bench_volumes(args) -> None:
    """imfilter and imgaussfilt3 on n x n x n volumes against scipy.ndimage (the only peer)."""
    import scipy.ndimage as ndi

    print()
    old_path = args.volume_old and hasattr(filtering, "FUSED_VOLUME")
    header(
        ["volume", "class", "call", "boundary", "bridge s", "scipy s (ratio)", "agree"]
        + (["bridge before s (old / new)"] if old_path else [])
    )
    rng = np.random.default_rng(2)
    for n in args.volumes:
        base = rng.random((n, n, n))
        for cls in args.classes:
            A = (base * 255).astype(np.uint8) if cls == "uint8" else base.astype(CLASSES[cls])
            src = A.astype(np.float64) if cls == "uint8" else A
            cases = []  # (call, boundary, bridge's, scipy's or None)
            for k in args.volume_kernels:
                kernels = {"random": rng.standard_normal((k, k, k)), "gaussian": gaussian_3d(k)}
                for kind, h in kernels.items():
                    if kind not in args.kinds:
                        continue
                    for boundary in args.boundaries:
                        opt = float(boundary) if boundary == "0" else boundary
                        sp = None
                        if n**3 * k**3 <= args.scipy_max_work:
                            sp = lambda src=src, h=h, b=boundary: ndi.correlate(  # noqa: E731
                                src, h, mode=SCIPY_MODE[b], cval=0.0
                            )
                        cases.append(
                            (
                                f"imfilter {k}x{k}x{k} {kind}",
                                boundary,
                                lambda A=A, h=h, opt=opt: filtering.imfilter(A, h, opt),
                                sp,
                            )
                        )
            for sigma in args.volume_sigmas:
                taps = 2 * math.ceil(2 * sigma) + 1
                trunc = math.ceil(2 * sigma) / sigma
                cases.append(
                    (
                        f"imgaussfilt3 sigma {sigma:g} ({taps} taps)",
                        "replicate",
                        lambda A=A, s=sigma: filtering.imgaussfilt3(A, s),
                        lambda src=src, s=sigma, t=trunc: ndi.gaussian_filter(
                            src, s, mode="nearest", truncate=t
                        ),
                    )
                )
            for name, boundary, fb, fs in cases:
                if old_path:
                    tb, ref, rb, told = alternate_old(fb, args.repeat, args.slow)
                else:
                    tb, ref, rb = best_of(fb, args.repeat, args.slow)
                ts, rs, ok = None, True, True
                if fs is not None:
                    ts, out, rs = best_of(fs, args.repeat, args.slow)
                    ok = agree(ref, to_class(out, cls), cls)
                print(
                    row(
                        [
                            f"{n}^3",
                            cls,
                            name,
                            boundary,
                            f"{tb:.4f}{'' if rb else '*'}",
                            fmt(ts, tb, rs),
                            "yes" if ok else "NO",
                        ]
                        + ([fmt(told, tb)] if old_path else [])
                    ),
                    flush=True,
                )


def double_loop(on: bool) -> None:
    """The fused loops summing in double only (sep2's and nonsep2's mode 0, as before their
    float32 paths and single images' fused multiply-adds), or as they choose (the default): the
    same bits, for comparison."""
    if not hasattr(loops, "_sep2_default"):
        loops._sep2_default = loops.C_SEP2  # type: ignore[attr-defined]
        loops._nonsep2_default = loops.C_NONSEP2  # type: ignore[attr-defined]
    for name, real in (
        ("C_SEP2", loops._sep2_default),  # type: ignore[attr-defined]
        ("C_NONSEP2", loops._nonsep2_default),  # type: ignore[attr-defined]
    ):
        forced = (lambda *a, real=real: real(*a, 0)) if on and real is not None else real
        setattr(loops, name, forced)


def bench_alternate(args) -> None:
    """The separable cases of issue 18, each library once per round in turn (bridge with the
    fused loop, the fused loop in double only, bridge's two-pass path, OpenCV, scipy),
    ``--alternate`` rounds: on a shared machine a neighbour's burst then slows every library of
    a round, not one library's whole best-of series. Ratios are the other time over the fused
    loop's, best and median."""
    import cv2
    import scipy.ndimage as ndi

    print()
    header(
        [
            "image",
            "class",
            "call",
            "bridge fused s (best / median)",
            "bridge two-pass s",
            "bridge double loop s",
            "OpenCV s",
            "scipy s",
            "OpenCV / fused",
            "scipy / fused",
            "two-pass / fused",
            "double loop / fused",
        ]
    )
    rng = np.random.default_rng(1)
    for n in args.sizes:
        base = rng.random((n, n))
        for cls in args.classes:
            A = (base * 255).astype(np.uint8) if cls == "uint8" else base.astype(CLASSES[cls])
            src = A.astype(np.float64) if cls == "uint8" else A
            cases = []
            for sigma in args.sigmas:
                t = 2 * math.ceil(2 * sigma) + 1
                trunc = math.ceil(2 * sigma) / sigma
                cases.append(
                    (
                        f"imgaussfilt sigma {sigma:g} ({t} taps)",
                        lambda A=A, s=sigma: filtering.imgaussfilt(A, s),
                        lambda A=A, s=sigma, t=t: cv2.GaussianBlur(
                            A, (t, t), s, borderType=cv2.BORDER_REPLICATE
                        ),
                        lambda src=src, s=sigma, tr=trunc: ndi.gaussian_filter(
                            src, s, mode="nearest", truncate=tr
                        ),
                    )
                )
            for k in args.kernels:
                h = filtering.fspecial("gaussian", k, max(k / 6, 0.5))
                u = h[:, h.shape[1] // 2] / math.sqrt(h[k // 2, k // 2])
                cases.append(
                    (
                        f"imfilter {k}x{k} gaussian replicate",
                        lambda A=A, h=h: filtering.imfilter(A, h, "replicate"),
                        lambda A=A, u=u: cv2.sepFilter2D(
                            A, -1, u, u, borderType=cv2.BORDER_REPLICATE
                        ),
                        lambda src=src, h=h: ndi.correlate(src, h, mode="nearest"),
                    )
                )
            for name, fb, fc, fs in cases:
                times: dict[str, list[float]] = {
                    "fused": [],
                    "two": [],
                    "dbl": [],
                    "cv": [],
                    "sp": [],
                }
                for _ in range(args.alternate):
                    for key, fn, fused, dbl in (
                        ("fused", fb, True, False),
                        ("cv", fc, True, False),
                        ("dbl", fb, True, True),
                        ("two", fb, False, False),
                        ("sp", fs, True, False),
                    ):
                        filtering.FUSED_SEPARABLE = fused
                        double_loop(dbl)
                        t0 = time.perf_counter()
                        fn()
                        times[key].append(time.perf_counter() - t0)
                filtering.FUSED_SEPARABLE = not args.two_pass
                double_loop(args.double_loop)
                best = {k: min(v) for k, v in times.items()}
                med = {k: float(np.median(v)) for k, v in times.items()}

                cell = {k: f"{best[k]:.4f} / {med[k]:.4f}" for k in best}
                ratio = {
                    k: f"{best[k] / best['fused']:.2f} ({med[k] / med['fused']:.2f})" for k in best
                }
                print(
                    row(
                        [
                            f"{n}x{n}",
                            cls,
                            name,
                            cell["fused"],
                            cell["two"],
                            cell["dbl"],
                            cell["cv"],
                            cell["sp"],
                            ratio["cv"],
                            ratio["sp"],
                            ratio["two"],
                            ratio["dbl"],
                        ]
                    ),
                    flush=True,
                )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    p.add_argument("--kernels", type=int, nargs="+", default=[3, 7, 15, 31])
    p.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    p.add_argument("--volumes", type=int, nargs="*", default=[64, 128, 256])
    p.add_argument("--volume-kernels", type=int, nargs="+", default=[3, 5, 7])
    p.add_argument("--volume-sigmas", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    p.add_argument(
        "--volume-old",
        action="store_true",
        help="the volume table also times bridge's path before its volume paths "
        "(filtering.FUSED_VOLUME = False: the same bits), alternated with them",
    )
    p.add_argument("--classes", nargs="+", default=list(CLASSES), choices=list(CLASSES))
    p.add_argument("--boundaries", nargs="+", default=list(SCIPY_MODE), choices=list(SCIPY_MODE))
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--slow", type=float, default=3.0, help="seconds: run such a case once")
    p.add_argument("--octave-max-work", type=float, default=2e9, help="multiply-adds")
    p.add_argument("--scipy-max-work", type=float, default=20e9, help="multiply-adds")
    p.add_argument("--no-octave", action="store_true")
    p.add_argument("--skip", nargs="*", default=[], choices=["imfilter", "imgaussfilt", "volumes"])
    p.add_argument(
        "--kinds",
        nargs="+",
        default=["random", "gaussian"],
        choices=["random", "gaussian"],
        help="imfilter's kernels: the random (non-separable) one, fspecial's Gaussian",
    )
    p.add_argument(
        "--old-direct",
        action="store_true",
        help="bridge's non-separable kernels as the direct sum over a padded double copy, as "
        "before the fused direct loop (filtering.FUSED_NONSEPARABLE = False): the same bits, "
        "for comparison",
    )
    p.add_argument(
        "--two-pass",
        action="store_true",
        help="bridge's separable kernels as two direct passes over a padded double copy, as "
        "before the fused loop (filtering.FUSED_SEPARABLE = False): the same bits, for comparison",
    )
    p.add_argument(
        "--double-loop",
        action="store_true",
        help="bridge's fused loops summing in double only, as before their float32 paths and "
        "single images' fused multiply-adds (sep2's and nonsep2's mode 0): the same bits, for "
        "comparison",
    )
    p.add_argument(
        "--alternate",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead of the tables: the separable cases (imgaussfilt at --sigmas, imfilter "
        "with the Gaussian of --kernels, replicate), every library once per round",
    )
    args = p.parse_args(argv)
    filtering.FUSED_SEPARABLE = not args.two_pass
    fused_direct = hasattr(filtering, "FUSED_NONSEPARABLE") and not args.old_direct
    if hasattr(filtering, "FUSED_NONSEPARABLE"):  # a tree before the loop has no switch
        filtering.FUSED_NONSEPARABLE = fused_direct
    double_loop(args.double_loop)
    print(
        "uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    )
    print(
        f"cores: {os.cpu_count()}, numpy {np.__version__}, "
        f"fused separable loop: {not args.two_pass}, fused direct loop: {fused_direct}, "
        f"fused loops in double only: {args.double_loop}, "
        f"bridge from {Path(filtering.__file__).parents[1]}"
    )
    if args.alternate:
        bench_alternate(args)
        print(
            "uptime after:",
            subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        )
        return 0
    octave = None if args.no_octave else Octave()
    try:
        if "imfilter" not in args.skip:
            bench_imfilter(args, octave)
        if "imgaussfilt" not in args.skip:
            bench_gauss(args, octave)
        if "volumes" not in args.skip and args.volumes:
            bench_volumes(args)
    finally:
        if octave is not None:
            octave.close()
    print(
        "uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
