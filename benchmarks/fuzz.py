"""Fuzz bridge's CLI for as long as asked: hostile files of every format, counts by outcome.

    python benchmarks/fuzz.py --minutes 10            # hand-built cases, then mutations
    python benchmarks/fuzz.py --count 600 --seed 7    # a fixed number of mutated files
    python benchmarks/fuzz.py --minutes 5 --no-hdf5 --keep /tmp/failures

Every case runs ``python -m bridge IN OUT`` in a subprocess under a 4 GiB address-space cap and a
30 s timeout, with an existing OUT, and must end in exit 0, 3 or 4, print nothing on success
and one 'bridge: error:' line on failure, leave OUT byte-identical on failure and IN untouched,
and leave no other file (tests/fuzzing.py). The report counts outcomes (ok, refused = exit 3,
unwritable = exit 4, FAIL) by seed format and lists every failure; exit status 1 if any.
Runs are reproducible from --seed. ``--keep DIR`` saves failing inputs there.

Besides valid files of every format, issue 21's hostile files (tests/hostile.py: HDF5 external
storage and links, virtual datasets, chars beyond UTF-16, huge empty arrays, doubles beyond
single's range) run as hand-built cases and, mutated, make a quarter of each batch
(``--no-issue21`` leaves them out).
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import fuzzing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="run this long (default 2)")
    parser.add_argument("--count", type=int, default=None, help="run this many mutated files")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the mutations")
    parser.add_argument("--workers", type=int, default=2, help="cases run at once")
    parser.add_argument("--no-hdf5", action="store_true", help="leave out HDF5/v7.3 seeds")
    parser.add_argument("--no-hand-built", action="store_true", help="mutations only")
    parser.add_argument(
        "--no-issue21", action="store_true", help="leave out issue 21's hostile files as seeds"
    )
    parser.add_argument("--keep", type=Path, default=None, help="save failing inputs here")
    args = parser.parse_args(argv)
    minutes = 2.0 if args.minutes is None and args.count is None else args.minutes
    deadline = time.monotonic() + 60 * minutes if minutes is not None else None
    hdf5 = False if args.no_hdf5 else None

    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[tuple[fuzzing.Case, fuzzing.Outcome]] = []
    started = time.monotonic()

    def record(batch: list[fuzzing.Case]) -> None:
        with ThreadPoolExecutor(args.workers) as pool:
            for case, outcome in zip(batch, pool.map(fuzzing.run, batch), strict=True):
                family = case.name.split("#")[0] if "#" in case.name else "hand-built"
                counts[family][outcome.kind] += 1
                if outcome.kind == "FAIL":
                    failures.append((case, outcome))

    if not args.no_hand_built:
        record(fuzzing.hand_built())
        if not args.no_hdf5:
            from tests import hostile

            built = hostile.hdf5_cases()
            record([fuzzing.Case(f"hdf5-hand-built#{n}", e, d) for n, (e, d) in built.items()])
    # issue 21's hostile files: hand-built, then also mutated (see hostile_mutations)
    hostile21 = [] if args.no_issue21 else issue21_seeds(hdf5=hdf5)
    if hostile21 and not args.no_hand_built:
        record(
            [
                fuzzing.Case(f"issue21-hand-built#{c.name}", c.ext, c.data, c.args, out_ext)
                for c in hostile21
                for out_ext in (".mat", ".h5")
            ]
        )
    batch_number = 0
    done = 0
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if args.count is not None and done >= args.count:
            break
        size = 8 if args.count is None else min(8, args.count - done)
        seed = args.seed * 1_000_003 + batch_number
        batch = fuzzing.mutated_cases(size, seed, hdf5=hdf5)
        if hostile21:  # a quarter of each batch: mutations of issue 21's hostile files
            batch[size - size // 4 :] = hostile_mutations(hostile21, size // 4, seed)
        record(batch)
        done += len(batch)
        batch_number += 1

    elapsed = time.monotonic() - started
    total = collections.Counter()
    kinds = ["ok", "refused", "unwritable", "FAIL"]
    print(f"{'seed format':32} " + " ".join(f"{k:>10}" for k in kinds) + f" {'total':>8}")
    for family in sorted(counts):
        row = counts[family]
        total.update(row)
        cells = " ".join(f"{row[k]:>10}" for k in kinds)
        print(f"{family:32} {cells} {sum(row.values()):>8}")
    cells = " ".join(f"{total[k]:>10}" for k in kinds)
    print(f"{'all':32} {cells} {sum(total.values()):>8}")
    rate = sum(total.values()) / elapsed if elapsed else 0
    print(
        f"{sum(total.values())} files in {elapsed:.0f} s ({rate:.1f}/s, {args.workers} workers),"
        f" seed {args.seed}; load: {os.getloadavg()[0]:.1f}"
    )
    for case, outcome in failures:
        print(f"FAIL {case.name}: {'; '.join(outcome.problems)}")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            safe = "".join(c if c.isalnum() or c in "-_.#" else "_" for c in case.name)[:120]
            (args.keep / f"{safe}{case.ext}").write_bytes(case.data)
    return 1 if failures else 0


def issue21_seeds(*, hdf5: bool | None) -> list[fuzzing.Case]:
    """Issue 21's hostile files (tests/hostile.py), as cases (hdf5=False: leave HDF5 out)."""
    from tests import hostile

    cases = [
        fuzzing.Case(name, ext, data, args)
        for name, (ext, data, args) in hostile.issue21_cases().items()
    ]
    return [c for c in cases if hdf5 is None or fuzzing.is_hdf5(c) == hdf5]


def hostile_mutations(pool: list[fuzzing.Case], count: int, seed: int) -> list[fuzzing.Case]:
    """``count`` mutations of issue 21's hostile files, reproducible from ``seed``; family
    'issue21:<seed format>' in the report."""
    rng = random.Random(seed ^ 0x21)
    out = []
    for k in range(count):
        base = rng.choice(pool)
        data, steps = base.data, []
        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 4)):
            what, data = fuzzing.mutate(data, base.ext, rng)
            steps.append(what)
            if not data:
                break
        kind = "hdf5" if fuzzing.is_hdf5(base) else base.ext.lstrip(".")
        name = f"issue21:{kind}#{seed}.{k}:{base.name}:{'+'.join(steps)}"
        out_ext = rng.choice([".mat", ".mat", ".txt", ".h5"])
        out.append(fuzzing.Case(name, base.ext, data, base.args, out_ext))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
