"""GNU Octave as the independent writer and reader of MAT v6/v7 and bridge text files.

Both directions, for every case of the table (class x size, NaN/Inf, integer extremes):
Octave saves (``save -v6`` / ``save -v7`` / matlab/bridge_write_text.m) and bridge reads; bridge
writes and Octave loads (``load`` / matlab/bridge_read_text.m) and reports class(), size(),
iscomplex() and the values. One Octave call per file keeps this to seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge import _formats as formats
from tests.formats_cases import (
    CASE_IDS,
    CASES,
    MATLAB_DIR,
    all_samples,
    assert_identical,
    assert_variable,
    var_name,
)
from tests.octave import OctaveError

pytestmark = pytest.mark.octave

# Octave code that reports every field of the struct S__ in one struct R__ (tests/octave.py's
# call() saves one output reliably): R__.<name>, R__.<name>_class, _size and _cplx.
REPORT = """
R__ = struct();
names__ = fieldnames(S__);
for k__ = 1:numel(names__)
  n__ = names__{k__};
  x__ = S__.(n__);
  R__.(n__) = x__;
  R__.([n__ '_class']) = class(x__);
  R__.([n__ '_size']) = size(x__);
  R__.([n__ '_cplx']) = double(iscomplex(x__));
end
"""
# Builds S__ from the variables the fixture loaded.
GATHER = "S__ = struct();\n" + "".join(f"S__.{n} = {n};\n" for n in all_samples())


def _reports(octave, code: str, inputs: dict, names) -> dict[str, tuple]:
    """Run code + REPORT; name -> (values, class, size, complex) as Octave reported them."""
    got = octave.call(code + REPORT, inputs, ["R__"])["R__"][0, 0]
    return {
        n: (
            got[n],
            str(np.ravel(got[f"{n}_class"])[0]),
            tuple(int(d) for d in np.ravel(got[f"{n}_size"])),
            bool(np.ravel(got[f"{n}_cplx"])[0]),
        )
        for n in names
    }


@pytest.fixture(scope="module")
def octave_with_path(octave):
    octave._run(f"addpath('{MATLAB_DIR}');")
    return octave


def _case(cid: str, size_id: str, **options):
    name = var_name(cid, size_id)
    return name, all_samples(**options)[name]


# ------------------------------------------------------------------ Octave writes, bridge reads

OCTAVE_WRITERS = {
    "v6": "save('-v6', '{path}', '-struct', 'S__');",
    "v7": "save('-v7', '{path}', '-struct', 'S__');",
    "text": "S__.op = 'conv2'; S__.shape = 'valid'; bridge_write_text('{path}', S__);",
}


@pytest.fixture(scope="module", params=list(OCTAVE_WRITERS))
def octave_written(request, octave_with_path, tmp_path_factory):
    """(Octave's reports, bridge's variables, bridge's request) for a file Octave wrote."""
    path = tmp_path_factory.mktemp(f"octave-{request.param}") / (
        "job.txt" if request.param == "text" else "job.mat"
    )
    names = list(all_samples())
    code = GATHER + OCTAVE_WRITERS[request.param].format(path=path)
    reports = _reports(octave_with_path, code, all_samples(), names)
    variables, found = formats.read(path)
    return reports, variables, found


@pytest.mark.parametrize(("cid", "cls", "is_complex", "size_id"), CASES, ids=CASE_IDS)
def test_bridge_reads_what_octave_wrote(octave_written, cid, cls, is_complex, size_id):
    reports, variables, _ = octave_written
    name, expected = _case(cid, size_id)
    _, octave_class, octave_size, octave_complex = reports[name]
    assert (octave_class, octave_size) == (cls, expected.shape)  # the data reached Octave intact
    if is_complex and not octave_complex:
        # Octave narrows complex arrays without nonzero imaginary parts: only empties here.
        assert expected.size == 0
        expected, is_complex = expected.real, False
    assert_variable(variables[name], cls, is_complex, expected)


def test_request_from_octave_text(octave_written, request):
    _, _, found = octave_written
    if "text" in request.node.callspec.id:
        assert found == {"op": "conv2", "shape": "valid"}
    else:
        assert found == {}


# ------------------------------------------------------------------ bridge writes, Octave reads

BRIDGE_WRITERS = {
    "v6": ("job.mat", {"mat_version": "6"}, "S__ = load('{path}');"),
    "v7": ("job.mat", {}, "S__ = load('{path}');"),
    "v7-compressed": ("job.mat", {"compress": True}, "S__ = load('{path}');"),
    # Octave's reader goes through double: 64-bit integers stay within 2^53 for it.
    "text": ("job.txt", {}, "S__ = bridge_read_text('{path}');"),
}


@pytest.fixture(scope="module", params=list(BRIDGE_WRITERS))
def octave_read(request, octave_with_path, tmp_path_factory):
    """(Octave's reports, the arrays bridge wrote) for a file bridge wrote."""
    name, options, load = BRIDGE_WRITERS[request.param]
    narrow = request.param == "text"
    arrays = all_samples(narrow_ints=narrow)
    path = tmp_path_factory.mktemp(f"bridge-{request.param}") / name
    formats.write(path, arrays, request={"op": "conv", "shape": "same"}, **options)
    names = [*arrays, "op", "shape"]
    return _reports(octave_with_path, load.format(path=path), {}, names), arrays


@pytest.mark.parametrize(("cid", "cls", "is_complex", "size_id"), CASES, ids=CASE_IDS)
def test_octave_reads_what_bridge_wrote(octave_read, cid, cls, is_complex, size_id):
    reports, arrays = octave_read
    name = var_name(cid, size_id)
    expected = arrays[name]
    values, octave_class, octave_size, octave_complex = reports[name]
    assert (octave_class, octave_size) == (cls, expected.shape)
    assert octave_complex == is_complex or expected.size == 0
    values = np.asarray(values).astype(expected.dtype).reshape(expected.shape)
    assert_identical(values, expected)


def test_octave_reads_the_request_as_char(octave_read):
    reports, _ = octave_read
    assert (reports["op"][1], reports["shape"][1]) == ("char", "char")
    assert [str(np.ravel(reports[k][0])[0]) for k in ("op", "shape")] == ["conv", "same"]


def test_a_text_result_loads_with_plain_load_ascii(octave, tmp_path):
    # MATLAB's and Octave's load skip the '%' header lines: a real matrix needs no helper.
    result = np.array([[1.0, np.nan, -np.inf], [0.1, 2.5e-300, np.inf]])
    path = tmp_path / "out.txt"
    formats.write(path, {"C": result}, fmt="text")
    got = octave.call(f"C = load('-ascii', '{path}');", {}, ["C"])["C"]
    assert_identical(got, result)


@pytest.mark.parametrize(
    ("code", "identifier"),
    [
        ("bridge_read_text('{folder}/plain.txt');", "bridge:text:format"),
        ("bridge_read_text('{folder}/absent.txt');", "bridge:text:cannotOpen"),
        ("S.A = {{1}}; bridge_write_text('{folder}/x.txt', S);", "bridge:text:badField"),
        ("S.shape = 'two words'; bridge_write_text('{folder}/x.txt', S);", "bridge:text:badField"),
        ("bridge_write_text('{folder}/x.txt', 5);", "bridge:text:badInput"),
    ],
    ids=["headerless", "missing", "cell-field", "shape-two-words", "not-a-struct"],
)
def test_the_matlab_helpers_refuse_with_an_identifier(octave_with_path, tmp_path, code, identifier):
    (tmp_path / "plain.txt").write_text("1 2\n3 4\n")
    with pytest.raises(OctaveError) as caught:
        octave_with_path.call(code.format(folder=tmp_path), {}, ["S"])
    assert caught.value.identifier == identifier
    assert not (tmp_path / "x.txt").exists()
