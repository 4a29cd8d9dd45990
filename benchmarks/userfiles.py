"""Reading the files MATLAB and Octave users already have: bridge against Octave's own readers.

    python benchmarks/userfiles.py             # 1000x1000 doubles
    python benchmarks/userfiles.py --rows 2000 --cols 500 --repeat 5

Octave writes one random double matrix (full precision) with ``save -text``, ``save -hdf5``,
``dlmwrite`` (CSV, %.17g via 'precision') and ``save -ascii -double``. Then, in one run:

* bridge: ``bridge._formats.read`` (Octave text, Octave HDF5) and
  ``bridge._formats.delimited.read_matrix`` (CSV, ``save -ascii``), in this process;
* Octave: ``load`` / ``dlmread`` of the same file inside one ``octave-cli`` (tic/toc);
* numpy: ``np.loadtxt`` of the delimited files (the obvious Python alternative).

Times are medians of ``--repeat`` runs after a warm-up; the ratios are bridge/Octave and
bridge/numpy. The values are checked equal to Octave's before timing. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import _formats as formats  # noqa: E402
from bridge._formats import delimited  # noqa: E402

FILES = {
    "octave text": ("A.txt", "save('-text', '{p}', 'A');", "S = load('{p}');"),
    "octave hdf5": ("A.h5", "save('-hdf5', '{p}', 'A');", "S = load('{p}');"),
    "dlmwrite csv": ("A.csv", "dlmwrite('{p}', A, 'precision', '%.17g');", "S = dlmread('{p}');"),
    "save -ascii -double": (
        "A.dat",
        "save('-ascii', '-double', '{p}', 'A');",
        "S = load('-ascii', '{p}');",
    ),
}


def _octave(code: str) -> str:
    done = subprocess.run(
        ["octave-cli", "--norc", "--quiet", "--no-history", "--eval", code],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    return done.stdout


def _median(function, repeat: int) -> float:
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bridge-userfiles-"))
    paths = {kind: folder / name for kind, (name, _, _) in FILES.items()}
    write = f"rand('seed', 1); A = randn({args.rows}, {args.cols});\n"
    write += "".join(save.format(p=paths[k]) + "\n" for k, (_, save, _) in FILES.items())
    write += f"save('-v7', '{folder / 'ref.mat'}', 'A');"
    _octave(write)
    import scipy.io

    reference = scipy.io.loadmat(folder / "ref.mat")["A"]
    print(f"{args.rows}x{args.cols} doubles; medians of {args.repeat}; {folder}")
    print(
        f"{'file':22} {'MB':>6} {'bridge s':>9} {'Octave s':>9} {'numpy s':>8} "
        f"{'bridge/Octave':>14} {'bridge/numpy':>13}"
    )
    for kind, (_, _, load) in FILES.items():
        path = paths[kind]
        if kind.startswith("octave"):

            def bridge_read(path=path):
                return formats.read(path)[0]["A"].data

            numpy_read = None
        else:

            def bridge_read(path=path):
                return delimited.read_matrix(str(path))

            delimiter = "," if path.suffix == ".csv" else None

            def numpy_read(path=path, delimiter=delimiter):
                return np.loadtxt(path, delimiter=delimiter)

        assert np.array_equal(bridge_read(), reference), kind
        bridge_s = _median(bridge_read, args.repeat)
        numpy_s = _median(numpy_read, args.repeat) if numpy_read else float("nan")
        code = (
            f"{load.format(p=path)} t = zeros(1, {args.repeat});"
            f" for k = 1:{args.repeat}, tic; {load.format(p=path)} t(k) = toc; end;"
            " printf('%.6f\\n', median(t));"
        )
        octave_s = float(_octave(code).split()[-1])
        size = path.stat().st_size / 1e6
        print(
            f"{kind:22} {size:6.1f} {bridge_s:9.3f} {octave_s:9.3f} {numpy_s:8.3f} "
            f"{bridge_s / octave_s:14.2f} {bridge_s / numpy_s:13.2f}"
        )


if __name__ == "__main__":
    main()
