"""400 tiny jobs three ways, in one run: ``bridge batch --jobs 2``, one ``octave-cli`` process
looping over the same files (load, conv2, save), and 400 separate ``python -m bridge IN OUT``.

    python benchmarks/batch.py                  # 400 jobs of 64x64 * 3x3, 3 rounds
    python benchmarks/batch.py --jobs 400 --rounds 5 --cli-calls 100

Every time is a whole process's wall time, start-up included (``bridge batch`` starts Python,
imports numpy and forks its workers; Octave starts once). Each round runs the three in turn on
fresh output folders; the ratios are taken within a round, and the round with the median batch
time is the one reported. ``--cli-calls N`` times N of the separate calls and scales to all jobs
(the full 400 take a minute or two). Outputs are checked to hold the same values.

Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

ROOT = Path(__file__).resolve().parent.parent

OCTAVE_LOOP = """\
d = dir(fullfile('in', '*.mat'));
for k = 1:numel(d)
  S = load(fullfile('in', d(k).name));
  C = conv2(S.A, S.B);
  save('-v7', fullfile('{out}', d(k).name), 'C');
end
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["BRIDGE_NO_SERVER"] = "1"
    return env


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, env=environment(), stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def make_jobs(folder: Path, count: int) -> list[str]:
    rng = np.random.default_rng(0)
    (folder / "in").mkdir(parents=True)
    names = [f"job{k:04d}.mat" for k in range(count)]
    for name in names:
        scipy.io.savemat(folder / "in" / name, {"A": rng.random((64, 64)), "B": rng.random((3, 3))})
    return names


def one_round(folder: Path, names: list[str], octave: str | None, cli_calls: int) -> dict:
    for sub in ("out-batch", "out-octave", "out-cli"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    times = {}
    times["batch"] = timed(
        [sys.executable, "-m", "bridge", "batch", "in", "--out-dir", "out-batch", "--jobs", "2"],
        folder,
    )
    if octave:
        (folder / "out-octave").mkdir()
        script = folder / "loop.m"
        script.write_text(OCTAVE_LOOP.format(out="out-octave"))
        times["octave"] = timed(
            [octave, "--norc", "--quiet", "--no-history", "--no-gui", str(script)], folder
        )
    (folder / "out-cli").mkdir()
    start = time.perf_counter()
    for name in names[:cli_calls]:
        timed([sys.executable, "-m", "bridge", f"in/{name}", f"out-cli/{name}"], folder)
    times["cli"] = (time.perf_counter() - start) * len(names) / cli_calls
    return times


def check(folder: Path, names: list[str], octave: bool, cli_calls: int) -> None:
    for name in names:
        got = scipy.io.loadmat(folder / "out-batch" / name)["C"]
        if octave:
            np.testing.assert_allclose(
                got, scipy.io.loadmat(folder / "out-octave" / name)["C"], rtol=1e-13, atol=1e-13
            )
    for name in names[:cli_calls]:
        a = (folder / "out-batch" / name).read_bytes()
        b = (folder / "out-cli" / name).read_bytes()
        assert a[116:] == b[116:], name  # all but the header's creation time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400, help="number of job files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cli-calls",
        type=int,
        default=None,
        help="separate CLI calls timed (scaled to all jobs); default: all",
    )
    args = parser.parse_args()
    cli_calls = min(args.cli_calls or args.jobs, args.jobs)
    octave = shutil.which("octave-cli")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime before: {load}")
    print(
        f"{args.jobs} jobs of 64x64 * 3x3 (.mat), {args.rounds} rounds; separate CLI calls: "
        f"{cli_calls} timed" + ("" if cli_calls == args.jobs else f", scaled to {args.jobs}")
    )
    with tempfile.TemporaryDirectory(prefix="bridge-bench-batch-") as tmp:
        folder = Path(tmp)
        names = make_jobs(folder, args.jobs)
        rounds = []
        for k in range(args.rounds):
            times = one_round(folder, names, octave, cli_calls)
            rounds.append(times)
            shown = "  ".join(f"{key} {value:6.2f} s" for key, value in times.items())
            print(f"round {k + 1}: {shown}")
        check(folder, names, bool(octave), cli_calls)
    median = statistics.median(r["batch"] for r in rounds)
    chosen = min(rounds, key=lambda r: abs(r["batch"] - median))
    print()
    print(
        f"bridge batch --jobs 2     {chosen['batch']:7.2f} s  "
        f"({chosen['batch'] / args.jobs * 1e3:.1f} ms a job)"
    )
    if octave:
        print(
            f"octave-cli loop           {chosen['octave']:7.2f} s  "
            f"({chosen['octave'] / args.jobs * 1e3:.1f} ms a job)"
        )
    print(
        f"separate CLI calls        {chosen['cli']:7.2f} s  "
        f"({chosen['cli'] / args.jobs * 1e3:.1f} ms a job)"
    )
    if octave:
        ratio = chosen["batch"] / chosen["octave"]
        print(f"batch / octave loop       {ratio:7.2f}x  (goal <= 1.0)")
    print(f"CLI calls / batch         {chosen['cli'] / chosen['batch']:7.1f}x  (goal >= 10)")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"uptime after: {load}")


if __name__ == "__main__":
    main()
