"""Broken and hostile HDF5 / MAT v7.3 files: exit 3 with what is wrong, never a traceback.

Hand-built files (links, names, MATLAB_empty sizes, char codes, types that are not numbers) and
mutated files (overwritten B-tree/heap/symbol-table signatures, random byte flips) go through the
readers in-process and through the command line in a fresh process: every failure is one line
and exit 3, nothing is left behind, and no file makes bridge allocate what its headers do not
justify.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from bridge import _formats as formats
from bridge.errors import BridgeError, FileFormatError
from tests.test_stream import one_line, run

ROOT = Path(__file__).resolve().parents[1]


def mat73_file(path: Path, build) -> Path:
    """A v7.3 MAT-file: MATLAB's header, then HDF5 built by ``build(f)``."""
    with h5py.File(path, "w", userblock_size=512, libver=("earliest", "v108")) as f:
        build(f)
    from bridge._formats import mat73

    with open(path, "r+b") as f:
        f.write(mat73.header())
    return path


def matlab_double(f, name, value):
    d = f.create_dataset(name, data=np.asarray(value, np.float64).T)
    d.attrs["MATLAB_class"] = np.bytes_("double")
    return d


def test_a_dangling_soft_link_is_named_as_a_link(capsys, tmp_path):
    def build(f):
        matlab_double(f, "B", np.ones((2, 2)))
        f["A"] = h5py.SoftLink("/nowhere")

    path = mat73_file(tmp_path / "in.mat", build)
    variables = formats.read(path)[0]
    assert "soft link to '/nowhere', which does not exist" in variables["A"].describe()
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and "soft link" in one_line(err) and "'A'" in err
    status, out, _ = run(capsys, "vars", path)
    assert status == 0 and "A" in out


@pytest.mark.parametrize("ext", [".mat", ".h5"])
def test_an_external_link_is_refused_and_not_followed(capsys, tmp_path, ext):
    target = tmp_path / "elsewhere.h5"
    with h5py.File(target, "w") as f:
        f["x"] = np.ones((3, 3))

    def build(f):
        matlab_double(f, "B", np.ones((2, 2)))
        f["A"] = h5py.ExternalLink(str(target), "/x")

    path = mat73_file(tmp_path / f"in{ext}", build)
    with pytest.raises(FileFormatError, match=r"external link to '/x'.*never reads another file"):
        formats.read(path)
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and "external link" in one_line(err) and "HDF5 group" not in err
    status, _, err = run(capsys, "vars", path)
    assert status == 3 and "external link" in one_line(err)


def test_a_soft_link_that_resolves_is_followed(tmp_path):
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(6.0).reshape(2, 3)
        f["A"] = h5py.SoftLink("/data")
    assert formats.read(path)[0]["A"].array().shape == (3, 2)


def test_a_name_that_is_not_utf8_is_listed_escaped_and_ignored(capsys, tmp_path):
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["A"] = np.ones((3, 3))
        f["B"] = np.ones((2, 2))
        f.id.links.create_hard(b"bad\xff\xfename", f.id, b"A")
    variables = formats.read(path)[0]
    assert "bad\\xff\\xfename" in variables
    assert "not UTF-8" in variables["bad\\xff\\xfename"].describe()
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 0, err
    status, out, _ = run(capsys, "vars", path)
    assert status == 0 and "bad\\xff\\xfename" in out


@pytest.mark.parametrize(
    ("stored", "fragment"),
    [
        ([2**40, 5], "stored size is 1099511627776x5"),
        ([], "stored size is nothing"),
        ([[1.5, 0]], "MATLAB_empty is set but the dataset holds"),
    ],
)
def test_bad_matlab_empty_sizes(capsys, tmp_path, stored, fragment):
    def build(f):
        matlab_double(f, "B", np.ones((2, 2)))
        is_float = bool(stored) and isinstance(stored[0], list)
        data = np.array(stored, np.float64 if is_float else np.uint64)
        d = f.create_dataset("A", data=data)
        d.attrs["MATLAB_class"] = np.bytes_("double")
        d.attrs["MATLAB_empty"] = np.uint8(1)

    path = mat73_file(tmp_path / "in.mat", build)
    with pytest.raises(FileFormatError, match=fragment):
        formats.read(path)
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and fragment in one_line(err)


def test_a_huge_empty_is_read_by_its_size_and_the_result_checked(capsys, tmp_path):
    def build(f):
        matlab_double(f, "B", np.ones((2, 2)))
        d = f.create_dataset("A", data=np.array([0, 2**40], np.uint64))
        d.attrs["MATLAB_class"] = np.bytes_("double")
        d.attrs["MATLAB_empty"] = np.uint8(1)

    path = mat73_file(tmp_path / "in.mat", build)
    assert formats.read(path)[0]["A"].size == (0, 2**40)
    status, _, err = run(capsys, path, tmp_path / "o.txt")
    assert status == 3 and "2x1099511627777" in one_line(err)
    assert not (tmp_path / "o.txt").exists()


def test_char_codes_beyond_utf16(capsys, tmp_path):
    def build(f):
        matlab_double(f, "A", np.ones((2, 2)))
        matlab_double(f, "B", np.ones((2, 2)))
        d = f.create_dataset("op", data=np.array([[2**31]], np.uint32))
        d.attrs["MATLAB_class"] = np.bytes_("char")
        d.attrs["MATLAB_int_decode"] = np.int32(2)

    path = mat73_file(tmp_path / "in.mat", build)
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and "char codes" in one_line(err) and "'op'" in err


def test_vlen_and_reference_datasets_are_not_char(capsys, tmp_path):
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["B"] = np.ones((2, 2))
        vlen = f.create_dataset("A", (3,), dtype=h5py.vlen_dtype(np.int32))
        vlen[0] = np.arange(3, dtype=np.int32)
        f.create_dataset("R", data=np.array([f["B"].ref]), dtype=h5py.ref_dtype)
    variables = formats.read(path)[0]
    assert variables["A"].matlab_class != "char" and "variable-length" in variables["A"].describe()
    assert "reference" in variables["R"].describe()
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and "variable-length" in one_line(err)
    status, _, err = run(capsys, path, tmp_path / "o.mat", "--a", "R")
    assert status == 3 and "reference" in one_line(err)


def test_a_sparse_matrix_with_bad_indices(capsys, tmp_path):
    def build(f):
        matlab_double(f, "B", np.ones((2, 2)))
        g = f.create_group("A")
        g.attrs["MATLAB_class"] = np.bytes_("double")
        g.attrs["MATLAB_sparse"] = np.uint64(3)
        g["jc"] = np.array([0, 1, 2], np.uint64)
        g["ir"] = np.array([0, 7], np.uint64)  # row 7 of 3
        g["data"] = np.array([1.0, 2.0])

    path = mat73_file(tmp_path / "in.mat", build)
    status, _, err = run(capsys, path, tmp_path / "o.mat")
    assert status == 3 and "sparse" in one_line(err)


def _valid_v73(path: Path) -> bytes:
    A = np.random.default_rng(0).standard_normal((60, 40))
    formats.write(path, {"A": A, "B": np.ones((3, 3)), "Z": np.zeros((0, 3))}, mat_version="7.3")
    with h5py.File(path, "a") as f:  # a chunked, compressed dataset too: its B-tree is a TREE
        f.create_dataset("D", data=A, chunks=(10, 10), compression="gzip")
        f["D"].attrs["MATLAB_class"] = np.bytes_("double")
    return path.read_bytes()


@pytest.mark.parametrize("signature", [b"TREE", b"HEAP", b"SNOD"])
def test_overwritten_signatures(capsys, tmp_path, signature):
    good = _valid_v73(tmp_path / "good.mat")
    assert signature in good  # superblock 0: old-style groups and chunk B-trees
    for k, name in enumerate(("first", "all")):
        bad = good.replace(signature, b"XXXX", 1 if k == 0 else -1)
        path = tmp_path / f"{name}.mat"
        path.write_bytes(bad)
        for argv in ([path, tmp_path / "o.mat"], [path, tmp_path / "o.mat", "--a", "D"]):
            status, _, err = run(capsys, *argv)
            assert status in (0, 3), err
            if status == 3:
                one_line(err)
            status, _, err = run(capsys, "vars", path)
            assert status in (0, 3), err


MUTATE = """
import random, sys, numpy as np
from bridge._job import runner
from bridge.errors import BridgeError
good = open(sys.argv[1], "rb").read()
rng = random.Random(int(sys.argv[3]))
outcomes = {}
for k in range(int(sys.argv[4])):
    data = bytearray(good)
    for _ in range(rng.choice((1, 4, 16))):
        i = rng.randrange(512, len(data))
        data[i] = rng.randrange(256)
    path = sys.argv[2] + f"/m{k}.mat"
    open(path, "wb").write(bytes(data))
    for options in ({}, {"a": "D"}):
        try:
            request = runner.Request(
                [path, sys.argv[2] + "/out.mat"], max_memory="256M", names=options
            )
            runner.run(request)
            kind = "ok"
        except BridgeError as e:
            kind = f"exit {e.exit_code}"
            assert "\\n" not in str(e)
        except MemoryError:
            kind = "MemoryError"
        except Exception as e:
            kind = f"{type(e).__name__}: {e}"
        outcomes[kind] = outcomes.get(kind, 0) + 1
print(outcomes)
"""


@pytest.mark.slow
def test_random_byte_flips_end_in_exit_0_or_3(tmp_path):
    good = tmp_path / "good.mat"
    _valid_v73(good)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", MUTATE, str(good), str(tmp_path), "11", "150"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcomes = eval(proc.stdout.strip().splitlines()[-1])  # a dict literal we printed
    assert set(outcomes) <= {"ok", "exit 3"}, outcomes
    assert outcomes.get("exit 3", 0) > 0
    print(outcomes)


@pytest.mark.slow
def test_corrupt_files_through_a_fresh_process_have_no_traceback(tmp_path):
    good = _valid_v73(tmp_path / "good.mat")
    bad = tmp_path / "bad.mat"
    bad.write_bytes(good.replace(b"TREE", b"XXXX"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["--a", "D"], []):
        proc = subprocess.run(
            [sys.executable, "-m", "bridge", str(bad), str(tmp_path / "o.mat"), *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert proc.returncode in (0, 3)
        if proc.returncode == 3:
            one_line(proc.stderr)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bridge_error_is_the_only_exception_type_of_readers(tmp_path):
    good = _valid_v73(tmp_path / "good.mat")
    for cut in (600, 2048, len(good) // 2, len(good) - 100):
        path = tmp_path / f"cut{cut}.mat"
        path.write_bytes(good[:cut])
        try:
            for variable in formats.read(path)[0].values():
                if variable.is_numeric:
                    variable.array()
        except BridgeError as e:
            assert "\n" not in str(e)
