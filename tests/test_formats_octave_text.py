"""Octave's own save formats (plain ``save``/``save -text`` and ``save -hdf5``) and headerless
numeric text, read by bridge.

* Live Octave writes every class bridge reads (and the types it only lists), by every writer,
  and bridge's values, classes and sizes must be Octave's (hypothesis-generated arrays too, and
  Octave's own range lengths).
* Hostile Octave text (sizes that promise more than the file holds, truncation, garbage, deep
  nesting) is one FileFormatError, bounded in time and memory; never a traceback.
* Headerless text as dlmwrite, csvwrite and ``save -ascii`` write it, and what bridge writes, read
  back exactly (hypothesis round trip).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import _formats as formats
from bridge._formats import delimited, octave_text
from bridge.errors import BridgeError, FileFormatError, OutputError
from tests.formats_cases import assert_identical

# ----------------------------------------------------------------- what Octave writes (live)

# name -> Octave expression; (class, complex, sparse) bridge must report, values from Octave.
OCTAVE_VALUES = {
    "A": ("magic(4)", "double", False),
    "s": ("3.5", "double", False),
    "nz": ("-0", "double", False),
    "z": ("[1+2i 3-4i; NaN+Inf*i -Inf]", "double", True),
    "cs": ("1-2i", "double", True),
    "n3": ("reshape(1:24, 2, 3, 4)", "double", False),
    "c3": ("complex(reshape(1:8, 2, 2, 2), -1)", "double", True),
    "e": ("zeros(0, 3)", "double", False),
    "e3": ("zeros(2, 0, 3)", "double", False),
    "nv": ("[NaN Inf -Inf NA realmax realmin 4.9e-324 0.1]", "double", False),
    "sg": ("single([1.5 NaN Inf 0.1])", "single", False),
    "sgc": ("single(complex([1 2], [3 -4]))", "single", True),
    "b": ("true", "logical", False),
    "bm": ("logical([1 0; 0 1])", "logical", False),
    "b3": ("true(2, 1, 2)", "logical", False),
    "i8": ("int8([-128 5 127])", "int8", False),
    "u8": ("uint8(255)", "uint8", False),
    "i16": ("int16(reshape(-3:4, 2, 2, 2))", "int16", False),
    "u16": ("uint16([0 65535])", "uint16", False),
    "i32": ("int32([-2147483648; 2147483647])", "int32", False),
    "u32": ("uint32(4294967295)", "uint32", False),
    "i64": ("intmin('int64')", "int64", False),
    "u64": ("uint64([18446744073709551615 1])", "uint64", False),
    "r": ("1:5", "double", False),
    "r2": ("0:0.1:1", "double", False),
    "r3": ("10:-3:-5", "double", False),
    "r0": ("1:0", "double", False),
    "dm": ("diag([1 2 3])", "double", False),
    "dw": ("diag([1 2])(:, [1 2 2])", "double", False),
    "pm": ("eye(3)(:, [2 3 1])", "double", False),
    "pr": ("eye(4)([4 1 3 2], :)", "double", False),
    "sp": ("sparse([1 0 0; 0 0 2.5])", "double", False),
    "spc": ("sparse([1i 0; 0 2])", "double", True),
    "spb": ("sparse(logical([1 0; 0 1]))", "logical", False),
    "op": ("'conv2'", "char", False),
    "str2": ("['ab'; 'cd']", "char", False),
    "dq": ('"double quoted"', "char", False),
    "ch3": ("repmat('ab', [1 1 2])", "char", False),
    "es": ("''", "char", False),
    "hashy": ("'# name: x'", "char", False),
}
SPARSE = {"sp", "spc", "spb"}
# Types bridge lists but does not compute with: name -> (Octave expression, class)
OTHER_TYPES = {
    "c": ("{1, 'a'; [1 2], {3}}", "cell"),
    "st": ("struct('x', 1, 'y', {{2, 'b'}})", "struct"),
    "sa": ("struct('x', {1, 2})", "struct"),
    "fh": ("@sin", "function_handle"),
    "fa": ("@(x) x + A(1)", "function_handle"),
}
# Octave 7.3 cannot save these with -hdf5 (single complex: an error; NA: written as NaN is fine)
NOT_IN_HDF5 = {"sgc"}
WRITERS = {
    "default-save": ("job.mat", "save('{path}', {names});"),
    "save-text": ("job.txt", "save('-text', '{path}', {names});"),
    "save-text-zero-precision-h5": ("job.h5", "save('-text', '{path}', {names});"),
    "save-hdf5": ("job.h5", "save('-hdf5', '{path}', {names});"),
    "save-hdf5-as-mat": ("job.mat", "save('-hdf5', '{path}', {names});"),
}


def _octave_reports(octave, names, path):
    """Octave's own view of what it saved: values (as double), class, size, complex, sparse."""
    code = f"S__ = load('{path}');\nR__ = struct();\n"
    for name in names:
        code += (
            f"x__ = S__.{name}; R__.{name}_class = class(x__); R__.{name}_size = size(x__);"
            f" R__.{name}_cplx = double(iscomplex(x__)); R__.{name}_sp = double(issparse(x__));"
            f" R__.{name}_re = double(real(full(x__))); R__.{name}_im = double(imag(full(x__)));\n"
        )
    return octave.call(code, {}, ["R__"])["R__"][0, 0]


@pytest.fixture(scope="module", params=list(WRITERS))
def octave_saved(request, octave, tmp_path_factory):
    file_name, save = WRITERS[request.param]
    path = tmp_path_factory.mktemp(request.param) / file_name
    hdf5 = "hdf5" in request.param
    values = {n: v for n, v in OCTAVE_VALUES.items() if not (hdf5 and n in NOT_IN_HDF5)}
    others = {} if hdf5 else OTHER_TYPES  # Octave's -hdf5 of cells etc. is checked below
    code = "".join(f"{n} = {expr};\n" for n, (expr, *_) in {**values, **others}.items())
    names = ", ".join(f"'{n}'" for n in [*values, *others])
    octave.call(code + save.format(path=path, names=names) + "ok__ = 1;", {}, ["ok__"])
    reports = _octave_reports(octave, list(values), path)
    return path, values, others, reports


def test_bridge_reads_what_octave_saved(octave_saved):
    path, values, others, reports = octave_saved
    variables, request = formats.read(path)
    assert request == {"op": "conv2"}
    assert set(variables) == (set(values) | set(others)) - {"op"}
    for name, (_, cls, is_complex) in values.items():
        if name == "op":
            continue
        var = variables[name]
        size = tuple(int(d) for d in np.ravel(reports[f"{name}_size"]))
        assert (var.matlab_class, var.size, var.complex) == (cls, size, is_complex), name
        assert str(np.ravel(reports[f"{name}_class"])[0]) == cls, name
        assert var.sparse == bool(np.ravel(reports[f"{name}_sp"])[0]) == (name in SPARSE), name
        re = np.asarray(reports[f"{name}_re"], dtype=np.float64).reshape(size, order="F")
        data = var.data
        if cls == "char":
            assert np.array_equal(data.astype(np.float64), re), name
            continue
        if cls in ("int64", "uint64"):  # Octave's double() rounds; compare the exact ends
            expected = {"i64": [-(2**63)], "u64": [2**64 - 1, 1]}[name]
            assert [int(x) for x in np.ravel(data, order="F")] == expected
            continue
        got_re = np.real(data).astype(np.float64)
        assert_identical(got_re, re)
        if is_complex:
            im = np.asarray(reports[f"{name}_im"], dtype=np.float64).reshape(size, order="F")
            assert_identical(np.imag(data).astype(np.float64), im)
    for name, (_, cls) in others.items():
        assert variables[name].matlab_class == cls and variables[name].data is None


def test_octave_hdf5_cells_structs_and_handles_are_listed(octave, tmp_path):
    path = tmp_path / "other.h5"
    code = "".join(f"{n} = {expr};\n" for n, (expr, _) in OTHER_TYPES.items() if n != "fa")
    octave.call(code + f"save('-hdf5', '{path}', 'c', 'st', 'sa', 'fh'); ok__ = 1;", {}, ["ok__"])
    variables, _ = formats.read(path)
    assert {n: v.matlab_class for n, v in variables.items()} == {
        "c": "cell",
        "st": "struct",
        "sa": "struct",
        "fh": "function_handle",
    }
    assert variables["c"].size == (2, 2) and variables["sa"].size == (1, 2)


FIXTURES = [HealthCheck.function_scoped_fixture]  # tmp_path is reused: every file is rewritten
_CLASSES = ["double", "single", "int8", "uint16", "int32", "uint64", "logical"]


@st.composite
def octave_arrays(draw):
    cls = draw(st.sampled_from(_CLASSES))
    ndim = draw(st.integers(2, 4))
    size = tuple(draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim)))
    is_complex = cls in ("double", "single") and draw(st.booleans())
    n = int(np.prod(size))
    if cls == "logical":
        values = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    elif cls in ("double", "single"):
        width = 32 if cls == "single" else 64
        floats = st.floats(width=width, allow_subnormal=True)
        values = np.array(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)
        if is_complex:
            imag = np.array(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)
            values = values + 0j
            values.imag = imag
    else:
        info = np.iinfo(cls)
        ints = st.integers(int(info.min), int(info.max))
        values = np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=cls)
    return cls, is_complex, values.reshape(size, order="F")


@pytest.mark.parametrize("writer", ["-text", "-hdf5"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=octave_arrays())
def test_generated_arrays_saved_by_octave_read_back_exactly(octave, tmp_path, writer, case):
    cls, is_complex, array = case
    if writer == "-hdf5" and cls == "single" and is_complex:
        return  # Octave 7.3 cannot save single complex arrays to HDF5
    path = tmp_path / f"gen{writer}.mat"
    inputs = {"X": array.astype(np.uint8) if cls == "logical" else array}
    cast = "logical(X)" if cls == "logical" else f"{cls}(X)"
    if is_complex:
        cast = f"complex({cls}(real(X)), {cls}(imag(X)))"
    octave.call(f"X = {cast}; save('{writer}', '{path}', 'X'); ok__ = 1;", inputs, ["ok__"])
    var = formats.read(path)[0]["X"]
    size = array.shape
    while len(size) > 2 and size[-1] == 1:
        size = size[:-1]
    assert (var.matlab_class, var.size, var.complex) == (cls, size, is_complex)
    expected = array.reshape(size, order="F").astype(var.data.dtype)
    if cls == "single":
        expected = array.reshape(size, order="F").astype(np.complex64 if is_complex else np.float32)
    _assert_same_ignoring_nan_signs(var.data, expected)


def _assert_same_ignoring_nan_signs(got: np.ndarray, expected: np.ndarray) -> None:
    """assert_identical, except that NaN has no sign (Octave writes every NaN as NaN), and
    neither has an all-zero imaginary part (see below)."""
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected, equal_nan=True)
    for part in (np.real, np.imag):
        g, e = part(got), part(expected)
        if part is np.imag and not np.any(e):
            # Octave narrows a complex array whose imaginary part is all zero when it loads
            # the test's input: the sign of those zeros never reaches Octave's save.
            continue
        if g.dtype.kind == "f":
            keep = ~np.isnan(e)
            assert np.array_equal(np.signbit(g[keep]), np.signbit(e[keep]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.sampled_from([0, 1, -2.5, 0.1, 1e-3, 7]),
    inc=st.sampled_from([1, -1, 0.1, -0.1, 0.3, 1 / 3, 2.5, 1e-3]),
    span=st.integers(-5, 40),
)
def test_ranges_have_octaves_length_and_values(octave, tmp_path, base, inc, span):
    path = tmp_path / "range.txt"
    limit = base + span * inc + (inc / 7 if span % 3 == 0 else 0)
    got = octave.call(
        f"r = {base!r}:{inc!r}:{limit!r}; save('-text', '{path}', 'r'); n = numel(r);",
        {},
        ["r", "n"],
    )
    var = formats.read(path)[0]["r"]
    assert var.size == (1, int(got["n"][0, 0]))
    assert_identical(var.data, np.asarray(got["r"], dtype=np.float64).reshape(var.size))


# ----------------------------------------------------------------- hostile Octave text


def _refused(tmp_path, text: str, *fragments: str, name: str = "job.mat") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    with pytest.raises(FileFormatError) as caught:
        formats.read(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


HEAD = "# Created by Octave 7.3.0\n"
NESTED = "# type: cell\n# rows: 1\n# columns: 1\n# name: <cell-element>\n"
HOSTILE = {
    "rows-promise-more": (
        HEAD + "# name: A\n# type: matrix\n# rows: 100000000\n# columns: 100000000\n 1 2\n",
        ["expected 10000000000000000 values, found 2"],
    ),
    "ndims-huge": (HEAD + "# name: A\n# type: matrix\n# ndims: 99999\n 1 2\n", ["ndims"]),
    "ndims-sizes-missing": (HEAD + "# name: A\n# type: matrix\n# ndims: 3\n 1 2\n", ["3 sizes"]),
    "negative-rows": (HEAD + "# name: A\n# type: matrix\n# rows: -1\n# columns: 2\n", ["count"]),
    "huge-count-digits": (
        HEAD + "# name: A\n# type: matrix\n# rows: " + "9" * 400 + "\n# columns: 2\n",
        ["count"],
    ),
    "truncated-values": (
        HEAD + "# name: A\n# type: matrix\n# rows: 2\n# columns: 2\n 1 2\n",
        ["expected 4 values, found 2", "variable 'A'"],
    ),
    "garbage-value": (
        HEAD + "# name: A\n# type: matrix\n# rows: 1\n# columns: 2\n 1 x\n",
        ["'x' is not a number"],
    ),
    "int-out-of-range": (
        HEAD + "# name: A\n# type: int8 matrix\n# ndims: 2\n 1 1\n 300\n",
        ["'300' is not an int8 value (-128..127)"],
    ),
    "bool-not-0-1": (HEAD + "# name: b\n# type: bool\n2\n", ["'2' is not 0 or 1"]),
    "complex-unpaired": (
        HEAD + "# name: z\n# type: complex matrix\n# rows: 1\n# columns: 2\n (1,2) 3\n",
        ["complex values"],
    ),
    "string-too-long": (
        HEAD + "# name: s\n# type: sq_string\n# elements: 1\n# length: 999999999\nab\n",
        ["the file ends first"],
    ),
    "string-rows-differ": (
        HEAD + "# name: s\n# type: sq_string\n# elements: 2\n# length: 1\na\n# length: 2\nab\n",
        ["same length"],
    ),
    "no-type": (HEAD + "# name: A\n 1 2\n", ["expected '# type: ...'"]),
    "unknown-type": (
        HEAD + "# name: A\n# type: octave_java\n",
        ["Octave type 'octave_java' cannot be read", "save('in.mat', 'A', 'B')"],
    ),
    "bad-name": (HEAD + "# name: 1x\n# type: scalar\n1\n", ["not a valid variable name"]),
    "twice": (HEAD + "# name: A\n# type: scalar\n1\n# name: A\n# type: scalar\n2\n", ["twice"]),
    "stray-line": (HEAD + "hello\n", ["expected '# name: ...'"]),
    "only-comments": (HEAD, ["holds no variables"]),
    "cell-promises-more": (
        HEAD + "# name: c\n# type: cell\n# rows: 100000\n# columns: 100000\n",
        ["expected '# name: ...', found the end of the file"],
    ),
    "deep-nesting": (
        HEAD
        + "# name: c\n"
        + "# type: cell\n# rows: 1\n# columns: 1\n# name: <cell-element>\n" * 100,
        ["nested more than 64 deep"],
    ),
    "range-huge": (
        HEAD + "# name: r\n# type: double_range\n# base, limit, increment\n1 1e15 1\n",
        ["more than bridge allows"],
    ),
    "range-inf": (
        HEAD + "# name: r\n# type: double_range\n# base, limit, increment\n1 Inf 1\n",
        ["more than bridge allows"],
    ),
    "sparse-huge": (
        HEAD + "# name: s\n# type: sparse matrix\n# nnz: 1\n# rows: 100000\n# columns: 100000\n"
        "1 1 1\n",
        ["more than bridge allows"],
    ),
    "sparse-index-outside": (
        HEAD + "# name: s\n# type: sparse matrix\n# nnz: 1\n# rows: 2\n# columns: 2\n3 1 1\n",
        ["outside the 2x2 matrix"],
    ),
    "permutation-repeats": (
        HEAD + "# name: p\n# type: permutation matrix\n# size: 2\n# orient: c\n1\n1\n",
        ["each of 1..2 once"],
    ),
    "nul-bytes-late": (HEAD + "#" + "x" * 3000 + "\n# name: A\n# type: scalar\n1\x00\n", ["NUL"]),
    "nul-bytes-early": (HEAD + "# name: A\n# type: scalar\n1\x00\n", ["binary data"]),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_octave_text_is_one_clear_error(tmp_path, case):
    text, fragments = HOSTILE[case]
    message = _refused(tmp_path, text, *fragments)
    assert "Octave text format" in message or case.startswith("nul-bytes")


@pytest.mark.parametrize("cut", [30, 60, 100, 150, 200])
def test_octave_text_cut_anywhere_is_an_error_or_fewer_variables_never_a_crash(tmp_path, cut):
    text = (
        HEAD + "# name: A\n# type: matrix\n# rows: 2\n# columns: 2\n 1 2\n 3 4\n\n\n"
        "# name: op\n# type: sq_string\n# elements: 1\n# length: 5\nconv2\n\n\n"
    )
    path = tmp_path / "job.mat"
    path.write_text(text[:cut])
    try:
        variables, _ = formats.read(path)
    except FileFormatError as e:
        assert "\n" not in str(e)
    else:
        assert set(variables) <= {"A"}


def test_octave_text_is_read_whatever_the_extension(tmp_path):
    text = HEAD + "# name: A\n# type: matrix\n# rows: 1\n# columns: 2\n 1 2\n"
    for name in ("job.mat", "job.txt", "job.h5", "job.csv", "job.dat"):
        (tmp_path / name).write_text(text)
        assert formats.read(tmp_path / name)[0]["A"].size == (1, 2)


# ----------------------------------------------------------------- headerless numeric text

DELIMITED = {
    "dlmwrite": ("16,2,3\n5,11,10\n", [[16, 2, 3], [5, 11, 10]]),
    "spaces-after-commas": ("1, 2,  3\n4 ,5,6\n", [[1, 2, 3], [4, 5, 6]]),
    "save-ascii": (
        " 1.60000000e+01 2.00000000e+00\n 5.00000000e+00 1.10000000e+01\n",
        [[16, 2], [5, 11]],
    ),
    "save-ascii-double-tabs": ("1.6000000000000000e+01\t2.0000000000000000e+00\r\n", [[16, 2]]),
    "nan-inf": ("NaN,Inf,-Inf\nnan,inf,-inf\n", [[np.nan, np.inf, -np.inf]] * 2),
    "writematrix-nan-is-empty": (",1,\n2,,3\n", [[np.nan, 1, np.nan], [2, np.nan, 3]]),
    "comments-and-blank-lines": ("% a comment\n\n1 2\n\n3 4\n", [[1, 2], [3, 4]]),
    "bom": ("\ufeff1,2\n".encode(), [[1, 2]]),
    "column": ("1\n2\n3\n", [[1], [2], [3]]),
}


@pytest.mark.parametrize("case", list(DELIMITED), ids=list(DELIMITED))
def test_headerless_text_as_matlab_writes_it(tmp_path, case):
    text, expected = DELIMITED[case]
    path = tmp_path / "x.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    assert_identical(delimited.read_matrix(str(path)), np.array(expected, dtype=np.float64))


def test_headerless_complex_as_dlmwrite_writes_it(tmp_path):
    path = tmp_path / "z.csv"
    path.write_text("1+2i,3-4i\n-1.5e-3+0i,0-1i\n")
    expected = np.array([[1 + 2j, 3 - 4j], [complex(-1.5e-3, 0), complex(0, -1)]])
    assert_identical(delimited.read_matrix(str(path)), expected)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1,2\n3\n", "line 2: 1 values where the rows above have 2"),
        ("1 2,3\n", "'1 2' is not a number"),
        ("1 x\n", "'x' is not a number"),
        ("\n\n", "holds no numbers"),
    ],
)
def test_bad_headerless_text_is_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(FileFormatError) as caught:
        formats.read(path)
    assert fragment in str(caught.value) and str(path) in str(caught.value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    single=st.booleans(),
    data=st.data(),
    name=st.sampled_from(["r.csv", "r.dat", "r.txt"]),
)
def test_headerless_results_read_back_exactly(tmp_path, rows, cols, single, data, name):
    width = 32 if single else 64
    values = data.draw(st.lists(st.floats(width=width), min_size=rows * cols, max_size=rows * cols))
    array = np.array(values, dtype=np.float32 if single else np.float64).reshape(rows, cols)
    path = tmp_path / name
    formats.write(path, {"C": array}, fmt="csv" if name.endswith(".csv") else "ascii")
    got, expected = delimited.read_matrix(str(path)), array.astype(np.float64)
    assert np.array_equal(got, expected, equal_nan=True)  # NaN has no sign in MATLAB's text
    assert np.array_equal(np.signbit(got[got == 0]), np.signbit(expected[expected == 0]))
    if not name.endswith(".csv"):
        assert "," not in path.read_text()


@pytest.mark.parametrize(
    "array", [np.ones((2, 2)) * 1j, np.ones((2, 2, 2))], ids=["complex", "3-d"]
)
def test_headerless_results_hold_a_real_matrix_only(tmp_path, array):
    with pytest.raises(OutputError) as caught:
        formats.write(tmp_path / "r.csv", {"C": array})
    assert "fmt text" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_octave_text_detection_needs_octaves_markers():
    assert octave_text.looks_like(b"# Created by Octave 7.3.0\n# name: A\n")
    assert octave_text.looks_like(b"# name: A\n# type: matrix\n")
    assert not octave_text.looks_like(b"% A double 1 1\n1\n")
    assert not octave_text.looks_like(b"1 2 3\n")


# ----------------------------------------------------------------- hostile Octave HDF5


def _octave_group(f, name: str, kind: bytes, value=None):
    group = f.create_group(name)
    group.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)
    group["type"] = np.bytes_(kind)
    if value is not None:
        group["value"] = value
    return group


def _sparse_group(f, cidx, ridx, data, nr=2, nc=2):
    group = _octave_group(f, "S", b"sparse matrix")
    value = group.create_group("value")
    for key, item in (("nr", nr), ("nc", nc), ("nz", len(data))):
        value[key] = np.int64(item)
    value["cidx"] = np.array(cidx, dtype=np.int64).reshape(-1, 1)
    value["ridx"] = np.array(ridx, dtype=np.int64).reshape(-1, 1)
    value["data"] = np.array(data, dtype=np.float64).reshape(-1, 1)


def _bomb(f):
    group = _octave_group(f, "A", b"matrix")
    group.create_dataset("value", shape=(100000, 100000), dtype="f8", chunks=(1000, 1000))


def _type_number(f):
    group = f.create_group("A")
    group["type"] = np.float64(1)
    group["value"] = np.ones((2, 2))


def _range_huge(f):
    dtype = np.dtype([("base", "<f8"), ("limit", "<f8"), ("increment", "<f8")])
    group = _octave_group(f, "r", b"double_range")
    group["value"] = np.array((1.0, 1e15, 1.0), dtype=dtype)


def _mixed(f):
    _octave_group(f, "A", b"matrix", np.ones((2, 2)))
    f["B"] = np.ones(3)


def _complex_as_real(f):
    _octave_group(f, "Z", b"complex matrix", np.ones((2, 2)))


def _empty_wrong(f):
    group = _octave_group(f, "E", b"matrix", np.array([2, 3], dtype=np.int64))
    group.attrs["OCTAVE_EMPTY_MATRIX"] = np.uint8(1)


HOSTILE_HDF5 = {
    "compression-bomb": (_bomb, "declares 80000000000 bytes"),
    "type-not-a-string": (_type_number, "'type' is not a string"),
    "range-huge": (_range_huge, "cannot be expanded"),
    "dataset-beside-groups": (_mixed, "outside Octave's layout"),
    "complex-stored-real": (_complex_as_real, "complex double data is stored as float64"),
    "empty-not-empty": (_empty_wrong, "cannot have the size 2x3"),
    "sparse-bad-cidx": (lambda f: _sparse_group(f, [0, 2, 1], [0, 1], [1.0, 2.0]), "cidx"),
    "sparse-row-outside": (lambda f: _sparse_group(f, [0, 1, 2], [0, 5], [1.0, 2.0]), "ridx"),
    "sparse-huge": (
        lambda f: _sparse_group(f, [0, 0, 0], [], [], nr=10**6, nc=10**6),
        "too large to expand",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_HDF5), ids=list(HOSTILE_HDF5))
def test_hostile_octave_hdf5_is_one_clear_error(tmp_path, case):
    import h5py

    build, fragment = HOSTILE_HDF5[case]
    path = tmp_path / "job.h5"
    with h5py.File(path, "w") as f:
        build(f)
    with pytest.raises(FileFormatError) as caught:
        formats.read(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and fragment in message, message


# ----------------------------------------------------------------- fuzzing: errors, never crashes

SAMPLE = (
    HEAD + "# name: A\n# type: matrix\n# rows: 2\n# columns: 2\n 1 NaN\n -Inf 4\n\n\n"
    "# name: z\n# type: complex matrix\n# ndims: 3\n 1 1 2\n (1,2)\n (NA,-0)\n\n\n"
    "# name: i\n# type: int16 matrix\n# ndims: 2\n 1 2\n -3\n 7\n\n\n"
    "# name: op\n# type: sq_string\n# elements: 1\n# length: 5\nconv2\n\n\n"
    "# name: c\n# type: cell\n# rows: 1\n# columns: 1\n# name: <cell-element>\n# type: scalar\n1\n"
    "\n\n# name: r\n# type: double_range\n# base, limit, increment\n0 1 0.25\n\n\n"
    "# name: s\n# type: sparse matrix\n# nnz: 1\n# rows: 2\n# columns: 2\n2 1 5\n\n\n"
    "# name: p\n# type: permutation matrix\n# size: 2\n# orient: r\n2\n1\n"
)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(SAMPLE) - 1),
            st.integers(0, 3),
            st.sampled_from([*"0123456789 \n#-(),:.eEnNaAiI", "99999999999", "\x00"]),
        ),
        max_size=4,
    ),
    cut=st.one_of(st.just(len(SAMPLE)), st.integers(0, len(SAMPLE))),
)
def test_mutated_octave_text_reads_or_fails_in_one_line(tmp_path, edits, cut):
    text = SAMPLE[:cut]
    for position, width, replacement in edits:
        text = text[:position] + replacement + text[position + width :]
    path = tmp_path / "fuzz.mat"
    path.write_bytes(text.encode("latin-1"))
    try:
        formats.read(path)
    except FileFormatError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    except BridgeError as e:  # a request field that is not text, for example
        assert "\n" not in str(e)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES)
@given(text=st.text(alphabet="0123456789 ,\t\n\r.-+eEiInNaAfF%#", max_size=80))
def test_any_headerless_text_reads_or_fails_in_one_line(tmp_path, text):
    path = tmp_path / "fuzz.csv"
    path.write_text(text)
    try:
        values = delimited.read_matrix(str(path))
    except FileFormatError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:
        assert values.ndim == 2 and values.size > 0


def test_headerless_text_beyond_one_batch(tmp_path):
    # More values than delimited._BATCH: rows converted in batches give the same matrix, a
    # complex value in a late batch makes the whole matrix complex, and errors keep their line.
    rows = delimited._BATCH // 4 + 7
    array = np.arange(rows * 8, dtype=np.float64).reshape(rows, 8) / 3
    lines = [",".join(repr(float(x)) for x in row) for row in array]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    assert_identical(delimited.read_matrix(str(path)), array)
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",1+2i"
    path.write_text("\n".join(lines) + "\n")
    got = delimited.read_matrix(str(path))
    assert got.dtype == np.complex128 and got[-1, -1] == 1 + 2j and got[0, 1] == array[0, 1]
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",x"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FileFormatError, match=f"line {rows}: 'x' is not a number"):
        delimited.read_matrix(str(path))


def test_octave_text_beyond_one_chunk(tmp_path):
    # More text than octave_text._CHUNK_CHARS in one block: converted in pieces, in place.
    rows = octave_text._CHUNK_CHARS // 100 + 3
    array = np.arange(rows * 10, dtype=np.float64).reshape(rows, 10) / 7
    body = "".join(" " + " ".join(repr(float(x)) for x in row) + "\n" for row in array)
    text = f"{HEAD}# name: A\n# type: matrix\n# rows: {rows}\n# columns: 10\n{body}"
    path = tmp_path / "big.mat"
    path.write_text(text)
    assert len(body) > octave_text._CHUNK_CHARS
    assert_identical(formats.read(path)[0]["A"].data, array)
    path.write_text(text + " 1\n")
    with pytest.raises(FileFormatError, match=f"expected {rows * 10} values, found more than"):
        formats.read(path)
