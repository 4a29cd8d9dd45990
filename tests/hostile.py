"""Hand-built hostile files: what a malformed or malicious job file can hold, built in code.

Each builder returns the bytes of a whole file. The MAT v5 pieces follow the MAT-file format
(MATLAB's "MAT-File Format" document): an 128-byte header, then 8-byte tagged data elements, an
array being a miMATRIX element of array flags, dimensions, name and data elements.
Used by tests/test_mat5.py and the fuzz suite (tests/test_fuzz.py, benchmarks/fuzz.py).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

miINT8, miUINT8, miINT16, miUINT16, miINT32, miUINT32 = 1, 2, 3, 4, 5, 6
miSINGLE, miDOUBLE, miINT64, miUINT64, miMATRIX, miCOMPRESSED, miUTF8 = 7, 9, 12, 13, 14, 15, 16
mxCELL, mxSTRUCT, mxCHAR, mxSPARSE, mxDOUBLE, mxINT8 = 1, 2, 4, 5, 6, 8


def header(order: str = "<") -> bytes:
    text = b"MATLAB 5.0 MAT-file, hostile test".ljust(116, b" ")
    endian = b"IM" if order == "<" else b"MI"
    return text + b"\0" * 8 + struct.pack(order + "H", 0x0100) + endian


def element(mdtype: int, data: bytes, order: str = "<") -> bytes:
    pad = b"\0" * (-len(data) % 8)
    return struct.pack(order + "II", mdtype, len(data)) + data + pad


def array_head(name: str, mxclass: int, dims, *, complex_=False, logical=False, nzmax=0):
    flags = mxclass | (complex_ << 11) | (logical << 9)
    return (
        element(miUINT32, struct.pack("<II", flags, nzmax))
        + element(miINT32, np.asarray(dims, "<i4").tobytes())
        + element(miINT8, name.encode())
    )


def matrix(body: bytes) -> bytes:
    return struct.pack("<II", miMATRIX, len(body)) + body


def compressed(whole_element: bytes) -> bytes:
    packed = zlib.compress(whole_element)
    return struct.pack("<II", miCOMPRESSED, len(packed)) + packed


def double(name: str, values, dims=None, mdtype: int = miDOUBLE, dtype: str = "<f8") -> bytes:
    values = np.asarray(values)
    dims = dims or (1, values.size)
    return matrix(
        array_head(name, mxDOUBLE, dims) + element(mdtype, values.astype(dtype).tobytes())
    )


def mat5(*variables: bytes) -> bytes:
    return header() + b"".join(variables)


def operands() -> bytes:
    """A valid job: u and v, then whatever the hostile case appends."""
    return double("u", [1.0, 2, 3]) + double("v", [1.0, 1])


# --- the crashers of issue 11 ----------------------------------------------------------------


def unknown_data_type() -> bytes:
    """An array whose data element is of type code 99."""
    body = array_head("A", mxDOUBLE, (1, 3)) + element(99, np.ones(3).tobytes())
    return mat5(operands(), matrix(body))


def complex_without_imaginary() -> bytes:
    body = array_head("A", mxDOUBLE, (1, 3), complex_=True) + element(
        miDOUBLE, np.ones(3).tobytes()
    )
    return mat5(operands(), matrix(body))


def _nested(depth: int, level: bytes, inner: bytes) -> bytes:
    """``depth`` levels of the same header around ``inner``, in linear time."""
    parts = []
    size = len(inner)
    sizes = []
    for _ in range(depth):
        size += 8 + len(level)
        sizes.append(size)
    for k in range(depth):
        parts.append(struct.pack("<II", miMATRIX, sizes[depth - 1 - k] - 8) + level)
    parts.append(inner)
    return b"".join(parts)


def nested_cells(depth: int = 10_000, *, compress: bool = False) -> bytes:
    inner = matrix(array_head("", mxDOUBLE, (1, 1)) + element(miDOUBLE, np.ones(1).tobytes()))
    cells = _nested(depth - 1, array_head("", mxCELL, (1, 1)), inner)
    top = matrix(array_head("C", mxCELL, (1, 1)) + cells)
    return mat5(operands(), compressed(top) if compress else top)


def nested_structs(depth: int = 100_000, *, compress: bool = False) -> bytes:
    fields = element(miINT32, struct.pack("<i", 8)) + element(miINT8, b"f".ljust(8, b"\0"))
    inner = matrix(array_head("", mxDOUBLE, (1, 1)) + element(miDOUBLE, np.ones(1).tobytes()))
    nested = _nested(depth - 1, array_head("", mxSTRUCT, (1, 1)) + fields, inner)
    top = matrix(array_head("S", mxSTRUCT, (1, 1)) + fields + nested)
    return mat5(operands(), compressed(top) if compress else top)


def sparse(name: str, rows: int, cols: int, ir, jc, values, *, nzmax=None) -> bytes:
    ir, jc = np.asarray(ir, "<i4"), np.asarray(jc, "<i4")
    nzmax = len(ir) if nzmax is None else nzmax
    body = (
        array_head(name, mxSPARSE, (rows, cols), nzmax=nzmax)
        + element(miINT32, ir.tobytes())
        + element(miINT32, jc.tobytes())
        + element(miDOUBLE, np.asarray(values, "<f8").tobytes())
    )
    return matrix(body)


def sparse_row_out_of_range() -> bytes:
    return mat5(double("v", [1.0, 1]), sparse("u", 3, 2, [0, 7_000_000], [0, 1, 2], [1.0, 2.0]))


def int8_stored_as_doubles() -> bytes:
    """An int8-class variable whose data are doubles that do not fit int8."""
    data = element(miDOUBLE, np.array([np.nan, 1e10, 3.7, -300], "<f8").tobytes())
    return mat5(double("v", [1.0]), matrix(array_head("u", mxINT8, (1, 4)) + data))


def _zeros_stream(prefix: bytes, zeros: int) -> bytes:
    """A zlib stream of ``prefix`` then ``zeros`` zero bytes, built without holding them."""
    step = 1 << 20
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [b"\x78\xda", raw.compress(prefix), raw.flush(zlib.Z_FULL_FLUSH)]
    block = raw.compress(b"\0" * step) + raw.flush(zlib.Z_FULL_FLUSH)
    again = raw.compress(b"\0" * step) + raw.flush(zlib.Z_FULL_FLUSH)
    assert block == again  # after a full flush the same input deflates to the same bytes
    count, rest = divmod(zeros, step)
    out += [block] * (count - 1) if count else []
    out.append(raw.compress(b"\0" * (rest + (step if count else 0))) + raw.flush())
    checksum = _adler_zeros(zlib.adler32(prefix), zeros)
    out.append(struct.pack(">I", checksum))
    return b"".join(out)


def _adler_zeros(checksum: int, n: int) -> int:
    """adler32 continued over ``n`` zero bytes, in O(1)."""
    a, b = checksum & 0xFFFF, checksum >> 16
    b = (b + n % 65521 * a) % 65521
    return (b << 16) | a


def zlib_bomb(inflated: int = 3 << 30, *, honest_dims: bool = False) -> bytes:
    """A compressed variable of a few MB that inflates to ``inflated`` bytes of zeros.

    By default it declares a 1x1 double (so the declared size already gives it away); with
    ``honest_dims`` its dimensions claim as many doubles as it holds.
    """
    count = inflated // 8 if honest_dims else 1
    head = array_head("B", mxDOUBLE, (1, count))
    data_tag = struct.pack("<II", miDOUBLE, count * 8) if honest_dims else b""
    body_size = len(head) + len(data_tag) + inflated
    prefix = struct.pack("<II", miMATRIX, body_size) + head + data_tag
    stream = _zeros_stream(prefix, inflated)
    return mat5(double("A", [1.0, 2.0]), struct.pack("<II", miCOMPRESSED, len(stream)) + stream)


def cell_bomb(inflated: int = 3 << 30) -> bytes:
    """A compressed 1x1 cell whose contents inflate to ``inflated`` bytes of zeros."""
    head = array_head("X", mxCELL, (1, 1))
    prefix = struct.pack("<II", miMATRIX, len(head) + inflated) + head
    stream = _zeros_stream(prefix, inflated)
    return mat5(operands(), struct.pack("<II", miCOMPRESSED, len(stream)) + stream)


def huge_declared_element() -> bytes:
    """A variable tag declaring 4 GB in a small file."""
    return mat5(operands(), struct.pack("<II", miMATRIX, 0xFFFFFFF0) + b"\0" * 64)


def huge_sparse() -> bytes:
    """A 2^31-1 x 2^31-1 sparse matrix with one nonzero: full, it would be 32 EB."""
    n = 2**31 - 1
    jc = np.zeros(n + 1, "<i4")
    del jc  # (the column starts of a real one would be 8 GB; a short list must be refused)
    return mat5(double("v", [1.0]), sparse("u", n, 2, [0], [0, 1, 1], [1.0]))


def mat4(name: str, values, mopt: int = 0, imag=None) -> bytes:
    values = np.atleast_2d(np.asarray(values, np.float64))
    rows, cols = values.shape
    head = struct.pack("<5i", mopt, rows, cols, imag is not None, len(name) + 1)
    data = values.astype("<f8").tobytes(order="F")
    if imag is not None:
        data += np.asarray(imag, "<f8").tobytes(order="F")
    return head + name.encode() + b"\0" + data


def mat4_huge_dims() -> bytes:
    return mat4("u", [1.0, 2.0]) + struct.pack("<5i", 0, 2**31 - 1, 2**31 - 1, 1, 2) + b"v\0"


def all_mat_cases() -> dict[str, bytes]:
    """Every hand-built hostile MAT file, by name (the large bombs excluded)."""
    return {
        "type-99": unknown_data_type(),
        "complex-without-imaginary": complex_without_imaginary(),
        "cells-10000-deep": nested_cells(),
        "cells-10000-deep-compressed": nested_cells(compress=True),
        "structs-100000-deep": nested_structs(),
        "structs-100000-deep-compressed": nested_structs(compress=True),
        "sparse-row-out-of-range": sparse_row_out_of_range(),
        "int8-stored-as-doubles": int8_stored_as_doubles(),
        "huge-declared-element": huge_declared_element(),
        "huge-sparse": huge_sparse(),
        "zlib-bomb-1x1": zlib_bomb(1 << 30),
        "cell-bomb": cell_bomb(1 << 28),
        "mat4-huge-dims": mat4_huge_dims(),
    }


# --- HDF5 and v7.3 (built with h5py) ---------------------------------------------------------


def hdf5_cases() -> dict[str, tuple[str, bytes]]:
    """Hostile HDF5 and v7.3 files of issue 11: name -> (extension, bytes)."""
    import os
    import tempfile

    import h5py

    from bridge import _formats as formats

    def built(ext: str, edit) -> tuple[str, bytes]:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, f"job{ext}")
            options = {"mat_version": "7.3"} if ext == ".mat" else {}
            arrays = {"u": np.array([[1.0, 2.0, 3.0]]), "v": np.array([[1.0, 1.0]])}
            formats.write(path, arrays, **options)
            with h5py.File(path, "r+") as f:
                edit(f)
            with open(path, "rb") as f:
                return ext, f.read()

    def dangling(f):
        f["A"] = h5py.SoftLink("/nowhere")

    def external(f):
        f["A"] = h5py.ExternalLink("elsewhere.h5", "/x")

    def empty_2_40(f):
        del f["v"]
        f["v"] = np.array([2**40, 1], np.uint64)
        f["v"].attrs["MATLAB_class"] = np.bytes_(b"double")
        f["v"].attrs["MATLAB_empty"] = np.uint8(1)

    def char_2_31(f):
        f["op"] = np.array([[2**31], [99]], np.uint32)
        f["op"].attrs["MATLAB_class"] = np.bytes_(b"char")

    def vlen_op(f):
        f.create_dataset("op", data=["conv"], dtype=h5py.string_dtype())
        f["op"].attrs["MATLAB_class"] = np.bytes_(b"char")

    def reference(f):
        f.create_dataset("A", data=[f["u"].ref], dtype=h5py.ref_dtype)

    def bad_name(f):
        f[b"\xff\xfe"] = np.ones((1, 1))

    def self_link(f):
        f["g"] = h5py.SoftLink("/g")

    cases = {}
    for ext in (".mat", ".h5"):
        tag = "v73" if ext == ".mat" else "hdf5"
        for name, edit in [
            ("dangling-soft-link", dangling),
            ("external-link", external),
            ("empty-2^40", empty_2_40),
            ("char-code-2^31", char_2_31),
            ("vlen-string-op", vlen_op),
            ("reference-dataset", reference),
            ("non-utf8-name", bad_name),
            ("soft-link-to-itself", self_link),
        ]:
            cases[f"{tag}-{name}"] = built(ext, edit)
    return cases


# --- issue 21: indirection to other files, chars beyond UTF-16, huge empties, single range ----


def issue21_cases() -> dict[str, tuple[str, bytes, tuple[str, ...]]]:
    """Hostile files of issue 21: name -> (extension, bytes, extra CLI arguments).

    HDF5 external storage, external links (also through a soft link) and virtual datasets that
    would make bridge read another file; char codes beyond UTF-16 and lone surrogates; empty
    arrays of huge sizes, within MATLAB's limit and beyond it; doubles beyond single's range
    stored for a single variable. Each ends in exit 0 or 3 (tests/fuzzing.py says what else).
    """
    import os
    import tempfile

    import h5py

    from bridge._formats import h5util, mat73

    def matlab(dataset, cls="double"):
        h5util.write_text_attr(dataset, "MATLAB_class", cls)
        return dataset

    def built(ext: str, build, libver=h5util.LIBVER) -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, f"job{ext}")
            options = {"userblock_size": 512} if ext == ".mat" else {}
            with h5py.File(path, "w", libver=libver, **options) as f:
                matlab(f.create_dataset("v", data=np.ones((2, 1))))
                build(f)
            if ext == ".mat":
                with open(path, "r+b") as f:
                    f.write(mat73.header())
            with open(path, "rb") as f:
                return f.read()

    def external_storage(f):
        matlab(
            f.create_dataset("u", shape=(3, 1), dtype="<f8", external=[("/etc/hostname", 0, 24)])
        )

    def external_link(f):
        f["u"] = h5py.ExternalLink("/etc/elsewhere.h5", "/x")

    def soft_through_external(f):
        f["g"] = h5py.ExternalLink("elsewhere.h5", "/")
        f["u"] = h5py.SoftLink("/g/x")

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(3, 1), dtype="f8")
        layout[:] = h5py.VirtualSource("elsewhere.h5", "x", shape=(3, 1))
        matlab(f.create_virtual_dataset("u", layout))

    def operand(f):
        matlab(f.create_dataset("u", data=np.ones((3, 1))))

    def lone_surrogate(f):
        operand(f)
        matlab(f.create_dataset("op", data=np.array([[0xD800, 0x63]], np.uint16).T), "char")

    def code_beyond_utf16(f):
        operand(f)
        matlab(f.create_dataset("op", data=np.array([[0x110000]], np.uint32)), "char")

    def empty(dims):
        def build(f):
            d = matlab(f.create_dataset("u", data=np.array(dims, np.uint64)))
            d.attrs["MATLAB_empty"] = np.uint8(1)

        return build

    def single_beyond_range(f):
        del f["v"]
        matlab(f.create_dataset("v", data=np.ones((1, 1), np.float32)), "single")
        matlab(f.create_dataset("u", data=np.array([[1e300, -1e300, 1.0]]).T), "single")

    def soft_links_exponential(f):
        # walked naively, u takes 10^16 steps; HDF5 and bridge follow 16 soft links per lookup
        for k in range(16):
            f[f"l{k}"] = h5py.SoftLink("/" + "/".join([f"l{k + 1}"] * 10))
        f["l16"] = h5py.SoftLink("/")
        f["u"] = h5py.SoftLink("/l0/v")

    latest = ("earliest", "latest")
    cases: dict[str, tuple[str, bytes, tuple[str, ...]]] = {}
    for ext in (".mat", ".h5"):
        tag = "v73" if ext == ".mat" else "hdf5"
        for name, build, libver in [
            ("external-storage", external_storage, h5util.LIBVER),
            ("external-link", external_link, h5util.LIBVER),
            ("soft-link-through-external-link", soft_through_external, h5util.LIBVER),
            ("virtual-dataset", virtual, latest),
            ("soft-links-exponential", soft_links_exponential, h5util.LIBVER),
        ]:
            cases[f"{tag}-{name}"] = (ext, built(ext, build, libver), ())
    for name, build in [
        ("v73-char-lone-surrogate", lone_surrogate),
        ("v73-char-beyond-utf16", code_beyond_utf16),
        ("v73-single-beyond-range", single_beyond_range),
        ("v73-empty-0x2^40x2^40", empty([0, 2**40, 2**40])),
        ("v73-empty-0x2^48", empty([0, 2**48])),
    ]:
        cases[name] = (".mat", built(".mat", build), ())
    cases["v73-empty-0x2^40-convn-same"] = (
        ".mat",
        built(".mat", empty([0, 2**40])),
        ("--a", "u", "--b", "v", "--op", "convn", "--shape", "same"),
    )

    def char5(codes, mdtype, dtype):
        head = array_head("op", mxCHAR, (1, len(codes)))
        return matrix(head + element(mdtype, np.asarray(codes, dtype).tobytes()))

    def empty5(name, dims):
        return matrix(array_head(name, mxDOUBLE, dims) + element(miDOUBLE, b""))

    n = 2**31 - 1
    single = matrix(
        array_head("u", 7, (1, 3))
        + element(miDOUBLE, np.array([1e300, -1e300, 1], "<f8").tobytes())
    )
    v_single = matrix(array_head("v", 7, (1, 1)) + element(7, np.ones(1, "<f4").tobytes()))
    for name, data, args in [
        ("mat5-char-lone-surrogate", mat5(operands(), char5([0xD800, 0x63], miUINT16, "<u2")), ()),
        ("mat5-char-utf16-surrogate", mat5(operands(), char5([0xDC00], 17, "<u2")), ()),
        ("mat5-char-utf32-beyond-unicode", mat5(operands(), char5([0x110000], 18, "<u4")), ()),
        ("mat5-char-uint32-huge", mat5(operands(), char5([0xFFFFFFFF], miUINT32, "<u4")), ()),
        ("mat5-empty-0x2^31x2^31", mat5(empty5("u", (0, n, n)), double("v", [1.0])), ()),
        (
            "mat5-empty-0x2^31-valid",
            mat5(empty5("A", (0, n)), double("B", [1.0, 2.0], (1, 2))),
            ("--shape", "valid"),
        ),
        ("mat5-single-beyond-range", mat5(single, v_single), ()),
    ]:
        cases[name] = (".mat", data, args)
    texts = [
        ("text-single-beyond-range", "% u single 1 3\n1e300 -1e300 1\n% v single 1 1\n1\n"),
        (
            "octave-float-beyond-range",
            "# name: u\n# type: float matrix\n# rows: 1\n# columns: 2\n 1e300 1\n\n\n"
            "# name: v\n# type: float scalar\n1\n",
        ),
        (
            "octave-empty-huge",
            "# name: u\n# type: matrix\n# ndims: 3\n 0 100000000000000 100000000000000\n\n\n"
            "# name: v\n# type: scalar\n1\n",
        ),
    ]
    for name, content in texts:
        cases[name] = (".txt", content.encode("utf-8"), ())
    return cases
