"""Streamed jobs against the h5py copy floor: time and peak RSS as the volume grows.

For each size (GiB of double data) a MATLAB-layout v7.3 volume (MATLAB 512x512xN, integer values,
HDF5 dims reversed, chunked by h5py's automatic chunking: MATLAB does not document its own) is
written to a scratch folder, then, each in a fresh process whose peak RSS is taken from wait4:

* ``copy``: an h5py slab-by-slab copy of the same bytes into a new chunked dataset, then fsync'd
  (bridge's output is made durable before its rename): the floor;
* ``stream``: ``bridge IN OUT --shape same --mat-version 7.3 --max-memory BUDGET`` with a 3x5x3
  kernel;
* ``memory``: the same job in memory (default budget), up to ``--in-memory-up-to`` GiB.

Every block of the streamed result is then checked against the in-memory ``convn`` of that
region (bridge.convolution on the block's planes plus halo, an independent path from the
streaming boxes); integer data make that an exact comparison. Files are deleted at the end.

    python3 benchmarks/stream.py                      # 0.5, 1 and 2 GiB, then the 3 GiB goal
    python3 benchmarks/stream.py --sizes 0.5 --no-goal
    python3 benchmarks/stream.py --no-copy-fsync       # the copy left in the page cache
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLANE = (512, 512)  # MATLAB's first two dimensions
KERNEL_SEED = 7

COPY = """
import os, sys, h5py, numpy as np
src, dst = sys.argv[1], sys.argv[2]
with h5py.File(src, "r") as f, h5py.File(dst, "w", userblock_size=512) as g:
    a = f["A"]
    c = g.create_dataset("C", shape=a.shape, dtype=a.dtype, chunks=(1,) + a.shape[1:])
    step = max(1, (64 << 20) // (a.dtype.itemsize * a.shape[1] * a.shape[2]))
    buf = np.empty((step,) + a.shape[1:], a.dtype)
    for k in range(0, a.shape[0], step):
        n = min(step, a.shape[0] - k)
        a.read_direct(buf, np.s_[k:k + n], np.s_[0:n])
        c[k:k + n] = buf[:n]
if sys.argv[3] == "fsync":  # durable, as bridge's output is (fsync before its rename)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
"""


def make_volume(path: Path, gib: float) -> tuple[int, ...]:
    from bridge._formats import mat73

    planes = max(8, round(gib * (1 << 30) / (8 * PLANE[0] * PLANE[1])))
    shape = (planes, PLANE[1], PLANE[0])  # HDF5 order of a MATLAB 512x512xN
    rng = np.random.default_rng(0)
    with h5py.File(path, "w", userblock_size=512, libver=("earliest", "v108")) as f:
        a = f.create_dataset("A", shape=shape, dtype="f8", chunks=True)
        a.attrs["MATLAB_class"] = np.bytes_("double")
        step = 32
        for k in range(0, planes, step):
            n = min(step, planes - k)
            a[k : k + n] = rng.integers(-1000, 1000, (n, *shape[1:]))
        kernel = np.random.default_rng(KERNEL_SEED).integers(-3, 4, (3, 5, 3)).astype("f8")
        b = f.create_dataset("B", data=kernel.T)
        b.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as f:
        f.write(mat73.header())
    return shape


def timed(argv: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS (bytes) and exit status of a fresh process, measured by GNU time
    (a forked child's maxrss would start at this process's own RSS)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "@@ %e %M", *argv], env=env, capture_output=True, text=True
    )
    last = [line for line in proc.stderr.splitlines() if line.startswith("@@ ")][-1]
    _, seconds, kib = last.split()
    return float(seconds), int(kib) * 1024, proc.returncode, proc.stderr


def check_blocks(infile: Path, outfile: Path, planes_per_block: int = 64) -> int:
    """Compare every block of planes of OUT with convn of that region of IN, computed in memory
    (with its halo, 'full', then cut to the 'same' window); returns the number of blocks."""
    from bridge import convolution

    with h5py.File(infile, "r") as f, h5py.File(outfile, "r") as g:
        a, c = f["A"], g["C"]
        kernel = f["B"][()].T  # MATLAB order 3x5x3
        q = kernel.shape[2]
        lo_pad = q // 2  # 'same' starts at floor(q/2) of 'full'
        n = a.shape[0]
        blocks = 0
        for k0 in range(0, n, planes_per_block):
            k1 = min(k0 + planes_per_block, n)
            # outputs k0..k1-1 of 'same' are 'full' indices k0+lo_pad..; they need inputs from
            # k0+lo_pad-(q-1) to k1-1+lo_pad
            i0 = max(0, k0 + lo_pad - (q - 1))
            i1 = min(n, k1 + lo_pad)
            region = a[i0:i1].T  # MATLAB order: 512 x 512 x planes
            full = convolution.convn(region, kernel, "full")
            p, r = kernel.shape[0] // 2, kernel.shape[1] // 2
            want = full[p : p + region.shape[0], r : r + region.shape[1], :]
            start = k0 + lo_pad - i0
            want = want[:, :, start : start + (k1 - k0)]
            got = c[k0:k1].T
            if not np.array_equal(got, want):
                raise SystemExit(f"block {k0}:{k1} differs from the in-memory convn")
            blocks += 1
    return blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="*", default=[0.5, 1.0, 2.0])
    parser.add_argument("--goal", type=float, default=3.0, help="GiB of the goal case")
    parser.add_argument("--no-goal", action="store_true")
    parser.add_argument("--max-memory", default="512M")
    parser.add_argument("--in-memory-up-to", type=float, default=1.0)
    parser.add_argument("--scratch", default=tempfile.gettempdir())
    parser.add_argument(
        "--no-copy-fsync",
        action="store_true",
        help="leave the copy in the page cache (the floor before issue 20 goal 5 asked for fsync)",
    )
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime before: {uptime}")
    sizes = list(args.sizes) + ([] if args.no_goal else [args.goal])
    sync = "no-fsync" if args.no_copy_fsync else "fsync"
    print(f"copy floor: {sync}")
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="bridge-stream-bench-", dir=args.scratch))
    try:
        for gib in sizes:
            infile = folder / "in.mat"
            shape = make_volume(infile, gib)
            nbytes = infile.stat().st_size
            copy_s, copy_rss, status, err = timed(
                [sys.executable, "-c", COPY, str(infile), str(folder / "copy.mat"), sync]
            )
            assert status == 0, err
            (folder / "copy.mat").unlink()
            out = folder / "out.mat"
            job = [sys.executable, "-m", "bridge", str(infile), str(out), "--shape", "same"]
            job += ["--mat-version", "7.3"]
            s_s, s_rss, status, err = timed([*job, "--max-memory", args.max_memory])
            assert status == 0, err
            blocks = check_blocks(infile, out)
            out.unlink()
            m_s = m_rss = None
            if gib <= args.in_memory_up_to:
                m_s, m_rss, status, err = timed(job)
                assert status == 0, err
                out.unlink()
            rows.append((gib, shape, nbytes, copy_s, copy_rss, s_s, s_rss, m_s, m_rss, blocks))
            infile.unlink()
            line = (
                f"{gib:4.1f} GiB  copy {copy_s:6.1f} s {copy_rss / 2**20:6.0f} MiB  "
                f"stream {s_s:6.1f} s {s_rss / 2**20:6.0f} MiB ({s_s / copy_s:.2f}x copy)"
            )
            if m_s is not None:
                line += f"  memory {m_s:6.1f} s {m_rss / 2**20:6.0f} MiB"
                line += f" ({m_rss / (2 * nbytes):.2f}x operands+result)"
            print(line + f"  blocks equal: {blocks}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime after: {uptime}")
    print()
    print(
        "| volume | MATLAB size | h5py copy (peak RSS) | streamed (peak RSS) | streamed/copy |"
        " in memory (peak RSS, / operands+result) |"
    )
    print("|---|---|---|---|---|---|")
    for gib, shape, nbytes, cs, crss, ss, srss, ms, mrss, _ in rows:
        size = "x".join(map(str, shape[::-1]))
        mem = "-"
        if ms is not None:
            mem = f"{ms:.1f} s ({mrss / 2**20:.0f} MiB, {mrss / (2 * nbytes):.2f}x)"
        print(
            f"| {gib:g} GiB | {size} | {cs:.1f} s ({crss / 2**20:.0f} MiB) | "
            f"{ss:.1f} s ({srss / 2**20:.0f} MiB) | {ss / cs:.2f}x | {mem} |"
        )


if __name__ == "__main__":
    main()
