"""The fuzz harness: hostile job files through the real CLI, and what every run must satisfy.

Seeds are valid job files of every format bridge reads (MAT v4, v6, v7 compressed and not, with
sparse/cell/struct variables, v7.3, plain HDF5, bridge text). Mutations are bit flips, truncation,
splices, inserted and deleted bytes, and size-field abuse (4-byte words set to 0, 2^31-1, 2^32-1,
the file's length ...), plus token-level edits of text files. Hand-built cases come from
tests/hostile.py. Each case runs ``python -m bridge IN OUT`` in a fresh folder, in a subprocess
under a 4 GiB address-space cap and a 30 s timeout (bridge's read deadline set to 10 s), with an
existing OUT, and must:

* end in exit 0, 3 or 4 (never a signal, 70, 1 or a timeout);
* print nothing on success and exactly one line, ``bridge: error: ...``, on failure;
* leave an existing OUT byte-identical on failure and IN untouched;
* leave no other file behind.

Used by tests/test_fuzz.py (bounded, in CI) and benchmarks/fuzz.py (as long as asked).
"""

from __future__ import annotations

import io
import random
import resource
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.processes import cold_environment

ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE = 4 << 30
TIMEOUT = 30.0
# bridge's own deadline for a read (BRIDGE_READ_TIMEOUT), below TIMEOUT: a mutated HDF5 file can
# make the HDF5 library loop forever, and bridge must then end the job itself (exit 3, one error
# line, OUT untouched) rather than be killed by the harness. Its default (60 s plus the file's size
# at 10 MB/s) is longer than TIMEOUT.
READ_DEADLINE = 10.0
OK_STATUSES = (0, 3, 4)
EXISTING_OUT = b"an earlier result that a failed job must leave as it is\n"

# Words that break size fields: zero, one, the int32 and uint32 limits, and near them.
ABUSIVE_WORDS = [0, 1, 7, 8, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF8, 0x10000, 2**24]
# Tokens a hand-edited text file may hold where a number belongs.
ABUSIVE_TOKENS = [
    "1_0",
    "0x10",
    "1e999999",
    "-1e-999999",
    "nan(1)",
    "²",
    "１",
    "inf inf",
    "--1",
    "1e",
    ".",
    "+",
    "9" * 400,
    "18446744073709551616",
    "-9223372036854775809",
    "NaNNaN",
    "1,",
    ",",
    "1.2.3",
    "\t",
    "\u00a0",
    "\x00",
    "2147483647",
    "99999999999999999999",
]
ABUSIVE_SIZES = ["0", "2147483647", "4294967296", "99999999999999999999", "²", "-1", "1e3"]


@dataclass(frozen=True)
class Case:
    name: str
    ext: str  # of IN, with the dot
    data: bytes
    args: tuple[str, ...] = ()
    out_ext: str = ".mat"

    def __repr__(self) -> str:  # (hypothesis prints failing examples: not their bytes)
        return f"Case({self.name!r}, {len(self.data)} bytes)"


@dataclass
class Outcome:
    case: str
    status: int | None  # None: timed out
    kind: str  # "ok", "refused" (3), "unwritable" (4) or "FAIL"
    problems: list[str]
    stderr: str


def _rng_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"A": rng.standard_normal((6, 5)), "B": rng.standard_normal((3, 2))}


def seeds() -> list[Case]:
    """Valid job files of every format, small enough to mutate quickly."""
    import scipy.io
    import scipy.sparse

    from bridge import _formats as formats

    arrays = _rng_arrays()
    out: list[Case] = []
    with tempfile.TemporaryDirectory() as folder:

        def written(name: str, ext: str, **options) -> None:
            path = Path(folder) / f"seed{ext}"
            formats.write(path, arrays, request={"op": "conv2", "shape": "same"}, **options)
            out.append(Case(name, ext, path.read_bytes()))

        written("v7", ".mat")
        written("v7-compressed", ".mat", compress=True)
        written("v6", ".mat", mat_version="6")
        written("v73", ".mat", mat_version="7.3")
        written("hdf5", ".h5")
        written("text", ".txt")
        for compress in (False, True):
            buf = io.BytesIO()
            contents = {
                "A": scipy.sparse.csc_matrix(np.eye(5) - 2 * np.eye(5, k=2)),
                "B": np.array([[1, 2], [3, 4]], np.int16),
                "X": np.array([np.ones(2), "x"], dtype=object),
                "S": {"f": np.ones(2), "g": "text"},
                "op": "conv2",
            }
            scipy.io.savemat(buf, contents, do_compression=compress)
            out.append(
                Case(f"v7-sparse-cell-struct{'-compressed' * compress}", ".mat", buf.getvalue())
            )
        buf = io.BytesIO()
        scipy.io.savemat(buf, {"A": arrays["A"], "B": arrays["B"] * 1j + 1}, format="4")
        out.append(Case("v4", ".mat", buf.getvalue()))
    return out


def is_hdf5(case: Case) -> bool:
    return b"\x89HDF\r\n\x1a\n" in case.data[:2056]


# --- mutations ------------------------------------------------------------------------------------


def mutate(data: bytes, ext: str, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``data``: (what was done, the mutated bytes)."""
    kinds = ["flip", "truncate", "splice", "insert", "delete", "word", "word", "flips"]
    if ext == ".txt":
        kinds += ["token", "token", "size", "line"]
    kind = rng.choice(kinds)
    n = len(data)
    buf = bytearray(data)
    if kind == "flip":
        pos = rng.randrange(n)
        buf[pos] ^= 1 << rng.randrange(8)
        return f"flip@{pos}", bytes(buf)
    if kind == "flips":
        for _ in range(rng.randint(2, 32)):
            buf[rng.randrange(n)] = rng.randrange(256)
        return "flips", bytes(buf)
    if kind == "truncate":
        pos = rng.randrange(n)
        return f"truncate@{pos}", bytes(buf[:pos])
    if kind == "splice":
        a, b, c = sorted(rng.randrange(n) for _ in range(3))
        return f"splice@{a}:{b}->{c}", bytes(buf[:c] + buf[a:b] + buf[c:])
    if kind == "insert":
        pos = rng.randrange(n)
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        return f"insert@{pos}", bytes(buf[:pos] + junk + buf[pos:])
    if kind == "delete":
        a = rng.randrange(n)
        b = min(n, a + rng.randint(1, 64))
        return f"delete@{a}:{b}", bytes(buf[:a] + buf[b:])
    if kind == "word":
        pos = rng.randrange(0, max(1, n - 4)) & ~3
        value = rng.choice([*ABUSIVE_WORDS, n, n - pos, n + 8, rng.randrange(2**32)])
        order = rng.choice("<>")
        buf[pos : pos + 4] = struct.pack(order + "I", value)[: max(0, n - pos)]
        return f"word@{pos}={value:#x}", bytes(buf)
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    if kind == "token":
        words = lines[k].split(" ")
        words[rng.randrange(len(words))] = rng.choice(ABUSIVE_TOKENS)
        lines[k] = " ".join(words)
    elif kind == "size":
        headers = [
            i for i, line in enumerate(lines) if line.startswith("% ") and " double " in line
        ]
        k = rng.choice(headers) if headers else k
        words = lines[k].split(" ")
        words[rng.randrange(len(words))] = rng.choice(ABUSIVE_SIZES)
        lines[k] = " ".join(words)
    else:
        j = rng.randrange(len(lines))
        lines.insert(j, lines[k]) if rng.random() < 0.5 else lines.pop(k)
    return f"{kind}@line{k}", "\n".join(lines).encode("utf-8", "surrogatepass")


# --- hand-built cases -----------------------------------------------------------------------------


def hand_built() -> list[Case]:
    """The hostile files of issue 11, built in code (see tests/hostile.py), and operand abuse."""
    from tests import hostile

    cases = [Case(name, ".mat", data) for name, data in hostile.all_mat_cases().items()]
    cases.append(Case("zlib-bomb-honest-3GB", ".mat", hostile.zlib_bomb(3 << 30, honest_dims=True)))
    cases.append(Case("cell-bomb-3GB", ".mat", hostile.cell_bomb(3 << 30)))
    text = [
        ("text-100000-arrays", "".join(f"% A{k} double 1 1\n{k}\n" for k in range(100_000))),
        ("text-empty-huge", "% u double 0 2147483647\n% v double 1 1\n1\n"),
        ("text-superscript-size", "% u double 1 ²\n1\n% v double 1 1\n1\n"),
        ("text-underscore", "% u double 1 2\n1_0 2\n% v double 1 1\n1\n"),
        ("text-bom", "\ufeff% u double 1 2\n1 2\n% v double 1 1\n1\n"),
        ("text-commas", "% u double 1 3\n1,2,3\n% v double 1 2\n1, 1\n"),
        ("text-nan-inf", "% u double 1 3\nNaN Inf -Inf\n% v double 1 2\n1 -Inf\n"),
        (
            "text-int64-extremes",
            "% u int64 1 2\n-9223372036854775808 9223372036854775807\n% v int64 1 1\n-1\n",
        ),
        ("text-uint64-overflow", "% u uint64 1 1\n18446744073709551616\n% v double 1 1\n1\n"),
        ("text-result-too-large", "% op convn\n% A double 1 1\n1\n% B double 0 2147483647\n"),
        ("text-nd-conv2", "% op conv2\n% A double 2 1 2\n1 2\n3 4\n% B double 1 1\n1\n"),
        ("text-char-op", "% op conv9\n% u double 1 1\n1\n% v double 1 1\n1\n"),
        ("text-40-dims", "% u double " + "1 " * 40 + "\n1\n% v double 1 1\n1\n"),
        ("text-long-line", "% u double 1 200000\n" + " 1" * 200_000 + "\n% v double 1 1\n1\n"),
        ("text-not-utf8", "% u double 1 1\n\udcff1\n% v double 1 1\n1\n"),
        ("text-nul", "% u double 1 1\n1\x00\n% v double 1 1\n1\n"),
        ("text-many-dims-empty", "% u double 0 " + "2147483647 " * 8 + "\n% v double 1 1\n1\n"),
    ]
    for name, content in text:
        cases.append(Case(name, ".txt", content.encode("utf-8", "surrogateescape")))
    text_op = hostile.matrix(
        hostile.array_head("op", hostile.mxCHAR, (1, 5)) + hostile.element(hostile.miUTF8, b"convn")
    )
    cases.append(
        Case(
            "mat-empty-operand-huge-result",  # (0x2147483647) * (2x1): a 1 x 2^31-1 result
            ".mat",
            hostile.mat5(
                hostile.double("A", [], dims=(0, 2**31 - 1)),
                hostile.double("B", [1.0, 2.0], (2, 1)),
                text_op,
            ),
        )
    )
    int64 = hostile.matrix(
        hostile.array_head("u", 14, (1, 2))
        + hostile.element(hostile.miINT64, np.array([-(2**63), 2**63 - 1], "<i8").tobytes())
    )
    cases.append(
        Case("mat-int64-extremes", ".mat", hostile.mat5(int64, hostile.double("v", [1.0, -1.0])))
    )
    cases.append(
        Case(
            "mat-op-is-a-number",
            ".mat",
            hostile.mat5(hostile.operands(), hostile.double("op", [3.0])),
        )
    )
    for out_ext in (".txt", ".h5"):
        cases.append(
            Case(
                f"mat-valid-to{out_ext}", ".mat", hostile.mat5(hostile.operands()), out_ext=out_ext
            )
        )
    cases.append(Case("empty", ".mat", b""))
    cases.append(Case("header-only", ".mat", hostile.header()))
    cases.append(Case("v4-as-text-name", ".txt", hostile.mat4("u", [1.0, 2.0])))
    cases.append(Case("v4-valid", ".mat", hostile.mat4("u", [1.0, 2.0]) + hostile.mat4("v", [3.0])))
    cases.append(Case("v4-big-endian-mopt", ".mat", hostile.mat4("u", [1.0], mopt=1000)))
    cases.append(Case("v4-vax", ".mat", hostile.mat4("u", [1.0], mopt=2000)))
    cases.append(
        Case("v4-text-codes", ".mat", hostile.mat4("u", [1.0]) + hostile.mat4("v", [-1.5], mopt=1))
    )
    cases.append(
        Case(
            "v4-sparse-bad",
            ".mat",
            hostile.mat4("u", [[5.0, 1, 1], [2, 2, 0]], mopt=2) + hostile.mat4("v", [1.0]),
        )
    )
    return cases


# --- running --------------------------------------------------------------------------------------


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(case: Case, folder: Path | None = None) -> Outcome:
    """Run ``case`` through ``python -m bridge IN OUT`` and check everything the suite demands."""
    with tempfile.TemporaryDirectory(dir=folder) as work:
        work = Path(work)
        infile, outfile = work / f"in{case.ext}", work / f"out{case.out_ext}"
        infile.write_bytes(case.data)
        outfile.write_bytes(EXISTING_OUT)
        command = [sys.executable, "-m", "bridge", infile.name, outfile.name, *case.args]
        try:
            done = subprocess.run(
                command,
                cwd=work,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env={**cold_environment(), "BRIDGE_READ_TIMEOUT": str(READ_DEADLINE)},
                timeout=TIMEOUT,
                preexec_fn=_limits,
            )
            status, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as e:
            status, stdout, stderr = None, e.stdout or b"", e.stderr or b""
        problems = []
        if status not in OK_STATUSES:
            problems.append("timed out" if status is None else f"exit status {status}")
        if stdout:
            problems.append(f"printed on stdout: {stdout[:200]!r}")
        lines = stderr.splitlines()
        if status == 0 and stderr:
            problems.append(f"succeeded but printed: {stderr[:200]!r}")
        if status != 0 and (len(lines) != 1 or not lines[0].startswith(b"bridge: error: ")):
            problems.append(f"not one error line: {stderr[-600:]!r}")
        if infile.read_bytes() != case.data:
            problems.append("IN was modified")
        if status != 0 and outfile.read_bytes() != EXISTING_OUT:
            problems.append("OUT was changed by a failed job")
        left = sorted(p.name for p in work.iterdir()) if work.exists() else []
        if left != sorted([infile.name, outfile.name]):
            problems.append(f"files left behind: {left}")
    kind = {0: "ok", 3: "refused", 4: "unwritable"}.get(status, "FAIL") if not problems else "FAIL"
    return Outcome(case.name, status, kind, problems, stderr.decode("utf-8", "replace").strip())


def mutated_cases(count: int, seed: int, *, hdf5: bool | None = None) -> list[Case]:
    """``count`` mutations of the seeds, reproducible from ``seed`` (hdf5: only, none, or any)."""
    rng = random.Random(seed)
    pool = [s for s in seeds() if hdf5 is None or is_hdf5(s) == hdf5]
    cases = []
    for k in range(count):
        base = rng.choice(pool)
        data, steps = base.data, []
        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 4)):
            what, data = mutate(data, base.ext, rng)
            steps.append(what)
            if not data:
                break
        out_ext = rng.choice([".mat", ".mat", ".txt", ".h5"])
        cases.append(
            Case(f"{base.name}#{seed}.{k}:{'+'.join(steps)}", base.ext, data, out_ext=out_ext)
        )
    return cases


# --- in-process: the library API ------------------------------------------------------------------


def in_process(paths: list[str]) -> list[tuple[str, str]]:
    """Read each job file with bridge's library API (``jobs.load_job``) in a child process under
    the address-space cap; (path, exception type) of every exception that is neither a
    BridgeError nor a MemoryError. The child exits 0 however its cases end."""
    import json

    code = (
        "import json, sys\n"
        "from tests.fuzzing import _classify\n"
        "print(json.dumps([_classify(p) for p in sys.argv[1:]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *paths],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=cold_environment(),
        timeout=TIMEOUT * 4,
        preexec_fn=_limits,
    )
    if done.returncode != 0:
        return [("(the child)", f"exit {done.returncode}: {done.stderr[-800:]!r}")]
    kinds = json.loads(done.stdout)
    return [(p, k) for p, k in zip(paths, kinds, strict=True) if k not in ("ok", "BridgeError")]


def _classify(path: str) -> str:
    from bridge._job import files
    from bridge.errors import BridgeError

    try:
        files.load_job(path)
        return "ok"
    except (BridgeError, MemoryError):
        return "BridgeError"
    except Exception as e:
        return f"{type(e).__name__}: {e}"[:300]
