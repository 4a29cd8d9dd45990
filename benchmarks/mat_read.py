"""Reading MAT-files: bridge's bounds-checked reader against scipy.io.loadmat, in the same run.

    python benchmarks/mat_read.py [--mb 200] [--repeat 3]

For v7 uncompressed and compressed files of one double array (and v4), each reader runs in a
fresh process; the table gives the best wall time of --repeat runs and the peak resident memory
of the reading process, and their ratios to scipy's. bridge reads uncompressed data with one
``readinto`` into the buffer numpy then views, so its peak is the array plus the interpreter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

READERS = {
    "bridge": "from bridge._formats import mat; mat.read({path!r})",
    "scipy": "import scipy.io; scipy.io.loadmat({path!r})",
}


def _child(code: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a fresh Python running ``code``."""
    script = (
        "import time\n"
        "import numpy, scipy.io\n"  # imports outside the timed part, for both readers
        "from bridge._formats import mat\n"
        "t = time.perf_counter()\n"
        f"{code}\n"
        # VmHWM: this process's peak (ru_maxrss would keep the parent's from before exec)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(time.perf_counter() - t, hwm)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=200, help="array size in MB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import numpy as np
    import scipy.io

    n = int(args.mb * 2**20 / 8)
    rng = np.random.default_rng(0)
    # half random, half zeros: compressible, as real data often is
    A = np.concatenate([rng.standard_normal(n // 2), np.zeros(n - n // 2)]).reshape(-1, 1024)
    print(f"load: {os.getloadavg()[0]:.1f} (busy machine: other jobs run beside this one)")
    columns = f"{'seconds':>9} {'peak MB':>9} {'time/scipy':>11} {'mem/scipy':>10}"
    print(f"{'file':24} {'reader':8} {columns}")
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "v7": dict(format="5"),
            "v7-compressed": dict(format="5", do_compression=True),
            "v4": dict(format="4"),
        }
        for name, options in files.items():
            path = str(Path(folder) / f"{name}.mat")
            scipy.io.savemat(path, {"A": A}, **options)
            results = {}
            for reader, code in READERS.items():
                runs = [_child(code.format(path=path)) for _ in range(args.repeat)]
                results[reader] = (min(r[0] for r in runs), max(r[1] for r in runs))
            label = f"{name} ({os.path.getsize(path) / 2**20:.0f} MB)"
            for reader, (seconds, peak) in results.items():
                ratio_t = seconds / results["scipy"][0]
                ratio_m = peak / results["scipy"][1]
                cells = f"{seconds:9.3f} {peak:9.0f} {ratio_t:11.2f} {ratio_m:10.2f}"
                print(f"{label:24} {reader:8} {cells}")
    print(f"load: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
