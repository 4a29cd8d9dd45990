"""Hostile job files of issue 21: indirection to other files, characters beyond UTF-16, empty
arrays of huge sizes, values beyond single's range. Each goes through the real command line (in a
fresh process: what a user sees, warnings included) for a job and for ``bridge vars``.

Every refusal is exit 3 with one line ``bridge: error: FILE: variable 'X': ...``, and no OUT.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from bridge import _formats as formats
from bridge._formats import h5util, mat73
from bridge.errors import FileFormatError
from tests import hostile

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # most cases run the command line in a process


def cli(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bridge", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def refused(proc: subprocess.CompletedProcess, path: Path, variable: str, *fragments) -> str:
    """The one error line of exit 3, naming the file and the variable."""
    err = proc.stderr
    assert proc.returncode == 3, (proc.returncode, err)
    assert err.count("\n") == 1 and err.startswith("bridge: error: "), err
    assert "Traceback" not in err and "Warning" not in err, err
    assert f"{path}: variable '{variable}': " in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def job_and_vars_refuse(tmp_path: Path, path: Path, variable: str, *fragments) -> None:
    out = tmp_path / "out.mat"
    refused(cli(path, out), path, variable, *fragments)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    refused(cli("vars", path), path, variable, *fragments)


def hdf5_file(path: Path, build, *, mat: bool, libver=h5util.LIBVER) -> Path:
    """A v7.3 MAT-file (MATLAB's header) or a plain HDF5 file built by ``build(f)``."""
    options = {"userblock_size": 512} if mat else {}
    with h5py.File(path, "w", libver=libver, **options) as f:
        build(f)
    if mat:
        with open(path, "r+b") as f:
            f.write(mat73.header())
    return path


def matlab(dataset, cls="double"):
    h5util.write_text_attr(dataset, "MATLAB_class", cls)
    return dataset


def operand_b(f):
    matlab(f.create_dataset("B", data=np.ones((2, 2))))


# --- 1. a job file never makes bridge read another file ----------------------------------------


@pytest.fixture
def secret(tmp_path) -> Path:
    """Another file, whose bytes a hostile job file would like bridge to read as A."""
    path = tmp_path / "secret.bin"
    path.write_bytes(np.arange(32, dtype=np.float64).tobytes())
    with h5py.File(tmp_path / "other.h5", "w") as f:
        matlab(f.create_dataset("X", data=np.arange(4.0).reshape(2, 2)))
    return path


def _external_storage(secret):
    def build(f):
        operand_b(f)
        matlab(f.create_dataset("A", shape=(4, 4), dtype="<f8", external=[(str(secret), 0, 128)]))

    return build, "external storage", str(secret)


def _external_link(secret):
    def build(f):
        operand_b(f)
        f["A"] = h5py.ExternalLink(str(secret.parent / "other.h5"), "/X")

    return build, "external link", "other.h5"


def _soft_link_through_external(secret):
    def build(f):
        operand_b(f)
        f["g"] = h5py.ExternalLink(str(secret.parent / "other.h5"), "/")
        f["A"] = h5py.SoftLink("/g/X")

    return build, "external link", "other.h5"


def _virtual(secret, source=None):
    def build(f):
        operand_b(f)
        layout = h5py.VirtualLayout(shape=(2, 2), dtype="f8")
        where = source or str(secret.parent / "other.h5")
        layout[:] = h5py.VirtualSource(where, "X" if source is None else "B", shape=(2, 2))
        matlab(f.create_virtual_dataset("A", layout))

    return build, "virtual HDF5 dataset", None


def _plugin_filter(secret):
    def build(f):
        operand_b(f)
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_chunk((2, 2))
        plist.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, ())  # blosc: a plugin, not built in
        space = h5py.h5s.create_simple((4, 4))
        h5py.h5d.create(f.id, b"A", h5py.h5t.IEEE_F64LE, space, dcpl=plist)
        matlab(f["A"])

    return build, "HDF5 filter 32001", "plugin library"


INDIRECTIONS = {
    "external-storage": (_external_storage, h5util.LIBVER),
    "external-link": (_external_link, h5util.LIBVER),
    "soft-link-through-external-link": (_soft_link_through_external, h5util.LIBVER),
    "virtual-dataset": (_virtual, ("earliest", "latest")),
    "virtual-dataset-of-this-file": (lambda s: _virtual(s, "."), ("earliest", "latest")),
    "filter-plugin": (_plugin_filter, h5util.LIBVER),
}


@pytest.mark.parametrize("mat", [True, False], ids=["v73", "hdf5"])
@pytest.mark.parametrize("kind", list(INDIRECTIONS))
def test_indirection_to_another_file_is_refused(tmp_path, secret, kind, mat):
    make, libver = INDIRECTIONS[kind]
    build, fragment, target = make(secret)
    path = hdf5_file(tmp_path / ("in.mat" if mat else "in.h5"), build, mat=mat, libver=libver)
    fragments = [fragment, "never reads another file"] + ([target] if target else [])
    job_and_vars_refuse(tmp_path, path, "A", *fragments)
    with pytest.raises(FileFormatError, match="never reads another file"):
        formats.read(path)


def test_sparse_parts_stored_in_another_file_are_refused(tmp_path, secret):
    def build(f):
        operand_b(f)
        g = f.create_group("A")
        h5util.write_text_attr(g, "MATLAB_class", "double")
        g.attrs["MATLAB_sparse"] = np.uint64(2)
        g["jc"] = np.array([0, 1, 2], np.uint64)
        g["ir"] = np.array([0, 1], np.uint64)
        g.create_dataset("data", shape=(2,), dtype="<f8", external=[(str(secret), 0, 16)])

    path = hdf5_file(tmp_path / "in.mat", build, mat=True)
    job_and_vars_refuse(tmp_path, path, "A", "external storage", str(secret))


@pytest.mark.parametrize("how", ["external-storage", "external-link"])
def test_octave_hdf5_values_in_another_file_are_refused(tmp_path, secret, how):
    def build(f):
        for name in ("A", "B"):
            g = f.create_group(name)
            g.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)
            g["type"] = np.bytes_("matrix")
            if name == "B":
                g["value"] = np.ones((2, 2))
            elif how == "external-storage":
                g.create_dataset(
                    "value", shape=(4, 4), dtype="<f8", external=[(str(secret), 0, 128)]
                )
            else:
                g["value"] = h5py.ExternalLink(str(secret.parent / "other.h5"), "/X")

    path = hdf5_file(tmp_path / "in.h5", build, mat=False)
    job_and_vars_refuse(tmp_path, path, "A", "never reads another file")


def test_a_soft_link_inside_the_file_is_still_followed(tmp_path):
    def build(f):
        operand_b(f)
        g = f.create_group("g")
        matlab(g.create_dataset("data", data=np.arange(6.0).reshape(2, 3)))
        f["A"] = h5py.SoftLink("g/data")  # relative to the root

    path = hdf5_file(tmp_path / "in.h5", build, mat=False)
    assert formats.read(path)[0]["A"].array().shape == (3, 2)
    proc = cli(path, tmp_path / "o.mat")
    assert proc.returncode == 0, proc.stderr


# --- 6. char codes beyond UTF-16 and lone surrogates ------------------------------------------
# MATLAB's char is a UTF-16 code unit (0..65535). A lone surrogate is a char MATLAB holds: it is
# read as it is, and shown as the escape \udXXX where text is printed. A code beyond 65535 is no
# MATLAB char: the file is refused (exit 3), as MAT v7.3 files already were.

miUTF16, miUTF32 = 17, 18


def mat5_char(tmp_path: Path, codes, mdtype: int, name: str = "op") -> Path:
    dtype = "<u4" if mdtype in (hostile.miUINT32, miUTF32) else "<u2"
    data = np.asarray(codes, dtype).tobytes()
    head = hostile.array_head(name, hostile.mxCHAR, (1, len(codes)))
    path = tmp_path / "in.mat"
    path.write_bytes(
        hostile.mat5(hostile.operands(), hostile.matrix(head + hostile.element(mdtype, data)))
    )
    return path


def v73_char(tmp_path: Path, codes, *, mat: bool = True) -> Path:
    def build(f):
        for name in ("u", "v"):
            matlab(f.create_dataset(name, data=np.ones((3, 1))))
        d = matlab(f.create_dataset("op", data=np.asarray([codes], np.uint16).T), "char")
        d.attrs["MATLAB_int_decode"] = np.int32(2)

    return hdf5_file(tmp_path / ("in.mat" if mat else "in.h5"), build, mat=mat)


def mat4_text(tmp_path: Path, codes) -> Path:
    path = tmp_path / "in.mat"
    path.write_bytes(
        hostile.mat4("u", [1.0, 2.0]) + hostile.mat4("v", [1.0]) + hostile.mat4("op", codes, 1)
    )
    return path


LONE_SURROGATES = {
    "mat5-uint16": lambda t: mat5_char(t, [0xD800, 0x63], hostile.miUINT16),
    "mat5-utf16": lambda t: mat5_char(t, [0x63, 0xDC00], miUTF16),
    "v73": lambda t: v73_char(t, [0xD800, 0x63]),
    "mat4-text": lambda t: mat4_text(t, [0xD800, 0x63]),
}


@pytest.mark.parametrize("kind", list(LONE_SURROGATES))
def test_a_lone_surrogate_is_read_as_matlab_holds_it(tmp_path, kind):
    path = LONE_SURROGATES[kind](tmp_path)
    codes = formats.read(path)[1]["op"]
    assert codes.startswith("\\ud") or codes.endswith("\\udc00")
    # the job: MATLAB's char read, and the op refused as any unknown op is (not a bug report)
    proc = cli(path, tmp_path / "out.mat")
    assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert "\\ud" in proc.stderr and "(bridge:job)" in proc.stderr, proc.stderr
    # bridge vars lists the file and shows the request (escaped), in text and JSON
    proc = cli("vars", path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "request: op = '" in proc.stdout and "\\ud" in proc.stdout
    proc = cli("vars", "--json", path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_a_surrogate_pair_is_one_character(tmp_path):
    path = v73_char(tmp_path, [0xD83D, 0xDE00])
    assert formats.read(path)[1]["op"] == "\U0001f600"


BEYOND_UTF16 = {
    "mat5-uint32": lambda t: mat5_char(t, [0x110000], hostile.miUINT32),
    "mat5-utf32": lambda t: mat5_char(t, [0x63, 0x7FFFFFFF], miUTF32),
    "mat5-utf32-astral": lambda t: mat5_char(t, [0x1F600], miUTF32),
}


@pytest.mark.parametrize("kind", list(BEYOND_UTF16))
def test_char_codes_beyond_utf16_are_refused(tmp_path, kind):
    path = BEYOND_UTF16[kind](tmp_path)
    job_and_vars_refuse(tmp_path, path, "op", "char codes must be UTF-16 code units")


def test_hdf5_text_that_is_not_utf8_reads_as_replacement_characters(tmp_path):
    def build(f):
        f["A"] = np.ones((2, 2))
        f["B"] = np.ones((2, 2))
        f.attrs.create("op", b"conv\xed\xa0\x80", dtype=h5py.string_dtype("utf-8"))

    path = hdf5_file(tmp_path / "in.h5", build, mat=False)
    assert formats.read(path)[1]["op"] == "conv\ufffd\ufffd\ufffd"
    proc = cli("vars", "--json", path)
    assert proc.returncode == 0 and "\\udc" not in proc.stdout, proc.stdout


# --- 7. empty arrays of huge sizes ---------------------------------------------------------------
# MATLAB's largest array has 2^48-1 elements. An empty array within that (its nonzero dimensions
# multiplied, as bridge's text format always counted them) is read and computed with MATLAB's
# empty rules, and a huge empty result is written wherever MATLAB could hold it (v7.3 when MAT
# v7's int32 dimensions cannot); a size beyond it is refused with exit 3.

BEYOND = "beyond what MATLAB holds"


def mat5_empty(tmp_path: Path, dims) -> Path:
    head = hostile.array_head("A", hostile.mxDOUBLE, dims)
    path = tmp_path / "in.mat"
    path.write_bytes(
        hostile.mat5(
            hostile.matrix(head + hostile.element(hostile.miDOUBLE, b"")),
            hostile.double("B", [1.0, 2, 3, 4], (2, 2)),
        )
    )
    return path


def v73_empty(tmp_path: Path, dims) -> Path:
    def build(f):
        operand_b(f)
        d = matlab(f.create_dataset("A", data=np.asarray(dims, np.uint64)))
        d.attrs["MATLAB_empty"] = np.uint8(1)

    return hdf5_file(tmp_path / "in.mat", build, mat=True)


def octave_empty(tmp_path: Path, dims) -> Path:
    path = tmp_path / "in.txt"
    path.write_text(
        f"# name: A\n# type: matrix\n# ndims: {len(dims)}\n {' '.join(map(str, dims))}\n\n\n"
        "# name: B\n# type: matrix\n# rows: 1\n# columns: 1\n 2\n"
    )
    return path


def hdf5_empty(tmp_path: Path, dims) -> Path:
    def build(f):
        operand_b(f)
        f.create_dataset("A", shape=tuple(dims)[::-1], dtype="<f8")

    return hdf5_file(tmp_path / "in.h5", build, mat=False)


N31 = 2**31 - 1
TOO_LARGE = {
    "mat5-0x2^31x2^31": lambda t: mat5_empty(t, (0, N31, N31)),
    "v73-0x2^40x2^40": lambda t: v73_empty(t, (0, 2**40, 2**40)),
    "v73-0x2^48": lambda t: v73_empty(t, (0, 2**48)),
    "octave-0x10^14x10^14": lambda t: octave_empty(t, (0, 10**14, 10**14)),
    "hdf5-0x2^40x2^40": lambda t: hdf5_empty(t, (0, 2**40, 2**40)),
}


@pytest.mark.parametrize("kind", list(TOO_LARGE))
def test_an_empty_array_beyond_matlabs_limit_is_refused(tmp_path, kind):
    path = TOO_LARGE[kind](tmp_path)
    job_and_vars_refuse(tmp_path, path, "A", BEYOND, "2^48-1")


@pytest.mark.parametrize("shape", ["same", "valid"])
@pytest.mark.parametrize("ext", [".mat", ".h5", ".txt"])
def test_a_huge_empty_result_is_written_where_matlab_can_hold_it(tmp_path, shape, ext):
    # convn(zeros(0, 2^40), ones(2)): 'same' is 0 x 2^40, 'valid' 0 x (2^40-1): no elements,
    # dimensions MAT v7's int32 cannot hold, so a .mat OUT is v7.3
    path = v73_empty(tmp_path, (0, 2**40))
    out = tmp_path / f"out{ext}"
    proc = cli(path, out, "--shape", shape)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    result = formats.read(out)[0]["C"]
    expected = (0, 2**40) if shape == "same" else (0, 2**40 - 1)
    assert result.size == expected and result.matlab_class == "double"
    if ext == ".mat":
        assert formats.kind_of(out) == "mat73"
    proc = cli("vars", out)
    assert proc.returncode == 0 and f"0x{expected[1]}" in proc.stdout, proc.stderr


def test_an_empty_mat5_operand_of_a_long_dimension_is_read(tmp_path):
    path = mat5_empty(tmp_path, (0, N31))
    assert formats.read(path)[0]["A"].size == (0, N31)
    proc = cli(path, tmp_path / "out.mat", "--shape", "valid")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert formats.read(tmp_path / "out.mat")[0]["C"].size == (0, N31 - 1)


# --- 8. no Python warning ever reaches a user -------------------------------------------------
# A double beyond single's range stored for a single variable reads as +-Inf (MATLAB's single()),
# values that do not fit an integer class saturate: silently, in every reader.

BIG = [1e300, -1e300, 1.0]


def _single_text(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("% A single 1 3\n1e300 -1e300 1\n% B single 1 1\n1\n")
    return path


def _single_mat5(tmp_path):
    head = hostile.array_head("A", 7, (1, 3))  # mxSINGLE, data stored as doubles
    data = hostile.element(hostile.miDOUBLE, np.asarray(BIG, "<f8").tobytes())
    path = tmp_path / "in.mat"
    b = hostile.matrix(
        hostile.array_head("B", 7, (1, 1))
        + hostile.element(7, np.ones(1, "<f4").tobytes())  # miSINGLE
    )
    path.write_bytes(hostile.mat5(hostile.matrix(head + data), b))
    return path


def _single_v73(tmp_path, complex_=False):
    def build(f):
        matlab(f.create_dataset("B", data=np.ones((1, 1), np.float32)), "single")
        values = np.asarray([BIG], np.float64).T
        if complex_:
            pair = np.empty(values.shape, [("real", "<f8"), ("imag", "<f8")])
            pair["real"], pair["imag"] = values, values[::-1]
            values = pair
        matlab(f.create_dataset("A", data=values), "single")

    return hdf5_file(tmp_path / "in.mat", build, mat=True)


def _single_octave_text(tmp_path, complex_=False):
    path = tmp_path / "in.txt"
    if complex_:
        body = (
            "# type: float complex matrix\n# rows: 1\n# columns: 3\n"
            " (1e300,1) (-1e300,1e300) (1,1)\n"
        )
    else:
        body = "# type: float matrix\n# rows: 1\n# columns: 3\n 1e300 -1e300 1\n"
    path.write_text(
        "# Created by Octave 7.3.0\n# name: A\n" + body + "\n\n# name: B\n# type: float scalar\n1\n"
    )
    return path


def _single_octave_hdf5(tmp_path):
    def build(f):
        for name, kind, value in (
            ("A", "float matrix", np.asarray([BIG])),
            ("B", "float scalar", 1.0),
        ):
            g = f.create_group(name)
            g.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)
            g["type"] = np.bytes_(kind)
            g["value"] = np.asarray(value, np.float64).T

    return hdf5_file(tmp_path / "in.h5", build, mat=False)


SINGLE_BEYOND_RANGE = {
    "text": _single_text,
    "mat5": _single_mat5,
    "v73": _single_v73,
    "v73-complex": lambda t: _single_v73(t, True),
    "octave-text": _single_octave_text,
    "octave-text-complex": lambda t: _single_octave_text(t, True),
    "octave-hdf5": _single_octave_hdf5,
}


@pytest.mark.parametrize("kind", list(SINGLE_BEYOND_RANGE))
def test_doubles_beyond_singles_range_read_as_inf_without_a_warning(tmp_path, kind):
    path = SINGLE_BEYOND_RANGE[kind](tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning fails the test
        a = formats.read(path)[0]["A"]
        values = a.array().ravel()
    assert a.matlab_class == "single" and values.real.tolist() == [np.inf, -np.inf, 1.0]
    out = tmp_path / "out.txt"
    proc = cli(path, out, "--format", "text")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert formats.read(out)[0]["C"].matlab_class == "single"


def test_integers_stored_as_doubles_in_v73_saturate_as_matlab_converts(tmp_path):
    # README: an int8 variable stored as [NaN 1e10 3.7 -300] reads as [0 127 4 -128]
    def build(f):
        matlab(f.create_dataset("A", data=np.array([[np.nan, 1e10, 3.7, -300]]).T), "int8")
        matlab(f.create_dataset("B", data=np.ones((1, 1), np.int8)), "int8")

    path = hdf5_file(tmp_path / "in.mat", build, mat=True)
    assert formats.read(path)[0]["A"].array().ravel().tolist() == [0, 127, 4, -128]
    proc = cli(path, tmp_path / "out.mat")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_a_double_beyond_singles_range_meeting_a_single_operand_has_no_warning(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("% A single 1 2\n1 2\n% B double 1 1\n1e300\n")
    proc = cli(path, tmp_path / "out.txt")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_soft_links_naming_other_soft_links_are_followed_a_bounded_number_of_times(
    tmp_path, monkeypatch
):
    # l0 -> /l1/l1/.../l1, l1 -> /l2/l2/..., ..., l16 -> '/': walked naively, l0 takes 10^16
    # steps. HDF5 follows at most 16 soft links per lookup; so does bridge, in total.
    def build(f):
        operand_b(f)
        for k in range(16):
            f[f"l{k}"] = h5py.SoftLink("/" + "/".join([f"l{k + 1}"] * 10))
        f["l16"] = h5py.SoftLink("/")
        f["A"] = h5py.SoftLink("/l0/B")

    path = hdf5_file(tmp_path / "in.h5", build, mat=False)
    calls = []
    member = h5util.member

    def counted(*args, **kwargs):
        calls.append(args[1])
        return member(*args, **kwargs)

    monkeypatch.setattr(h5util, "member", counted)
    variables = formats.read(path)[0]
    assert "too many" in variables["A"].describe()
    assert len(calls) < 2000
    monkeypatch.undo()
    job_and_vars_ok = cli("vars", path)
    assert job_and_vars_ok.returncode == 0, job_and_vars_ok.stderr


def test_a_soft_link_loop_is_named(tmp_path):
    def build(f):
        operand_b(f)
        f["A"] = h5py.SoftLink("/A")

    path = hdf5_file(tmp_path / "in.mat", build, mat=True)
    assert "too many" in formats.read(path)[0]["A"].describe()
    proc = cli(path, tmp_path / "out.mat")
    assert proc.returncode == 3 and "'A'" in proc.stderr and "soft link" in proc.stderr
