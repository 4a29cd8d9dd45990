"""h5py helpers shared by the MAT v7.3 and plain HDF5 formats (both are HDF5 underneath).

Imported only when an HDF5-based file is read or written: h5py costs start-up time.

Every h5py access to a file being read goes through :func:`guard`: a damaged file (overwritten
B-tree, heap or symbol-table signatures, truncated chunks, undecodable names) makes h5py raise
OSError, KeyError, RuntimeError, ValueError, UnicodeDecodeError and more; each becomes one
FileFormatError line naming the file and the variable. Root entries are listed by their links
(:func:`root_entries`, :func:`member`), so dangling soft links are named as links, and nothing that
would read another file (external links, soft links through them, external storage, virtual
datasets) is ever followed: the file is refused.

Numeric datasets are read lazily (:class:`Source`, :class:`H5Variable`): sizes and classes come
from the headers, so a job can check what a result will cost before reading anything, and a
large operand can be read by boxes (bridge.stream). Whole reads go into one preallocated array in
the file's own (C) order, returned as a transposed view in MATLAB's order: no copy.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import h5py
import numpy as np

from bridge._formats.classes import NUMERIC_DTYPES, Variable, class_dtype, to_dtype
from bridge.errors import BridgeError, FileFormatError

# MATLAB names the members of a complex compound exactly 'real' and 'imag'; h5py's own complex
# type uses 'r' and 'i' (accepted on reading, never written: Octave reads it as zeros).
COMPLEX_FIELDS = (("real", "imag"), ("r", "i"))

# HDF5 filters built into HDF5 and h5py: deflate (gzip), shuffle, fletcher32, szip, nbit,
# scaleoffset, lzf. Any other a dataset names would be looked for as a plugin library.
BUILT_IN_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})

# Superblock version 0: MATLAB before R2021b refuses files with a newer one.
LIBVER = ("earliest", "v108")

# What h5py raises on damaged files (besides MemoryError, which the CLI reports on its own).
H5_ERRORS = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    RuntimeError,
    AttributeError,
    IndexError,
    OverflowError,
    UnicodeError,
    SystemError,
)
# Whole reads go by slabs of at most this many bytes where values must be converted.
_READ_SLAB_BYTES = 32 << 20
# Numeric datasets up to this size are read at once (with the file open); larger ones on demand.
EAGER_BYTES = 16 << 20
# Text datasets (char variables) are read only up to this size: they are never operands.
MAX_TEXT_BYTES = 1 << 20


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextlib.contextmanager
def guard(path: str, variable: str | None = None, what: str = "cannot be read") -> Iterator[None]:
    """Turn whatever h5py raises on a damaged file into one FileFormatError line."""
    try:
        yield
    except BridgeError:
        raise
    except H5_ERRORS as e:
        msg = f"{what} (corrupt HDF5 data?): {first_line(e)}"
        raise FileFormatError(msg).where(file=path, variable=variable) from e


@contextlib.contextmanager
def open_read(path: str) -> Iterator[h5py.File]:
    """Open an HDF5 file read-only; FileFormatError (one line) if HDF5 cannot open it."""
    try:
        f = h5py.File(path, "r")
    except H5_ERRORS as e:
        msg = f"cannot be read as HDF5 (truncated or corrupt?): {first_line(e)}"
        raise FileFormatError(msg).where(file=path) from e
    with f:
        yield f


def shown_name(raw: bytes) -> str:
    """A link name as text: UTF-8, undecodable bytes escaped."""
    return raw.decode("utf-8", errors="backslashreplace")


def root_entries(f: h5py.File, path: str) -> Iterator[tuple[str, h5py.HLObject | None, str | None]]:
    """(name, object, note) for each link of the root group, in HDF5's order.

    ``object`` is None for links that are not followed; ``note`` then says what the link is
    (a dangling soft link, a name that is not UTF-8). Anything that would read another file (an
    external link, a soft link through one, a dataset stored externally or virtual) is refused:
    FileFormatError naming the variable.
    """
    with guard(path, what="its root group cannot be listed"):
        raw_names = list(f.id.__iter__())
    for raw in raw_names:
        name = shown_name(raw)
        with guard(path, name):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                yield name, None, "an HDF5 object whose name is not UTF-8 text"
                continue
            obj, note = member(f, raw, path, name)
            yield name, obj, note


# HDF5's own limit on soft links followed in one lookup (H5L_NUM_LINKS): counted over the whole
# lookup, not per level, so that links whose paths name other links many times cannot make a
# lookup take exponential time.
_MAX_SOFT_LINKS = 16


def member(
    group: h5py.Group,
    raw: bytes,
    path: str | None,
    variable: str | None,
    budget: list[int] | None = None,
) -> tuple[h5py.HLObject | None, str | None]:
    """(object, None) for the link ``raw`` of ``group``, or (None, note) for a link that leads
    nowhere. Links are looked at before they are followed: an external link, or a soft link whose
    path goes through one, is refused (FileFormatError), and so is a dataset whose values are in
    another file (:func:`check_local`). A job file never makes bridge open another file.
    ``budget``: soft links this lookup may still follow (shared by the nested calls)."""
    budget = [_MAX_SOFT_LINKS] if budget is None else budget
    links = group.id.links
    if not links.exists(raw):
        return None, "an HDF5 link to nothing"
    kind = links.get_info(raw).type
    if kind == h5py.h5l.TYPE_EXTERNAL:
        target_file, target = links.get_val(raw)
        msg = (
            f"is an HDF5 external link to '{shown_name(target)}' in '{shown_name(target_file)}'; "
            "bridge never reads another file than the job file (store the data in it)"
        )
        raise FileFormatError(msg).where(file=path, variable=variable)
    if kind == h5py.h5l.TYPE_SOFT:
        target = links.get_val(raw)
        if budget[0] <= 0:
            return None, f"an HDF5 soft link to '{shown_name(target)}' in a chain of too many"
        budget[0] -= 1
        obj, note = resolve(group, target, path, variable, budget)
        if obj is None:
            return (
                None,
                note or f"an HDF5 soft link to '{shown_name(target)}', which does not exist",
            )
        return check_local(obj, path, variable), None
    if kind != h5py.h5l.TYPE_HARD:
        return None, f"an HDF5 link of unknown type {kind}"
    return check_local(group[raw], path, variable), None


def resolve(
    group: h5py.Group,
    target: bytes,
    path: str | None,
    variable: str | None,
    budget: list[int] | None = None,
) -> tuple[h5py.HLObject | None, str | None]:
    """(object, None) at a soft link's ``target`` path, walked one link at a time, or (None, a
    note) if the path leads nowhere or through too many soft links."""
    budget = [_MAX_SOFT_LINKS] if budget is None else budget
    current = group.file if target.startswith(b"/") else group
    for part in (p for p in target.split(b"/") if p and p != b"."):
        if not isinstance(current, h5py.Group):
            return None, None
        obj, note = member(current, part, path, variable, budget)
        if obj is None:
            return None, note if budget[0] <= 0 else None
        current = obj
    return current, None


def child(
    group: h5py.Group, key: str, path: str | None, variable: str | None
) -> h5py.HLObject | None:
    """``group[key]`` if that link leads to an object in this file; None if there is none.
    ``path`` and ``variable`` name the file and variable in errors (None: the caller adds them)."""
    return member(group, key.encode("utf-8"), path, variable)[0]


def indirection(obj: h5py.HLObject) -> str | None:
    """What makes a dataset's values come from elsewhere (external storage, a virtual
    dataset), in words; None for a dataset that holds its own values, or for anything else."""
    if not isinstance(obj, h5py.Dataset):
        return None
    plist = obj.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        return "a virtual HDF5 dataset (its values are mapped from other datasets or files)"
    if plist.get_external_count() > 0:
        target = shown_name(plist.get_external(0)[0])
        return f"stored outside the HDF5 file, in '{target}' (HDF5 external storage)"
    for k in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(k)
        if code not in BUILT_IN_FILTERS:
            shown = shown_name(name) if name else "unnamed"
            return (
                f"compressed with HDF5 filter {code} ({shown}), which HDF5 would load as a plugin "
                "library from another file (MATLAB writes gzip)"
            )
    return None


def check_local(obj: h5py.HLObject, path: str | None, variable: str | None) -> h5py.HLObject:
    """``obj``, if its values are in this file; FileFormatError otherwise."""
    found = indirection(obj)
    if found is not None:
        msg = (
            f"is {found}; bridge never reads another file than the job file (store the data in it)"
        )
        raise FileFormatError(msg).where(file=path, variable=variable)
    return obj


@dataclass
class H5Variable(Variable):
    """A Variable read on demand: ``array()`` reads it (once); ``source`` reads boxes of it."""

    loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    source: Source | None = field(default=None, repr=False, compare=False)
    note: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_numeric(self) -> bool:
        return self.matlab_class in NUMERIC_DTYPES and (
            self.data is not None or self.loader is not None
        )

    def describe(self) -> str:
        return self.note or super().describe()

    def array(self) -> np.ndarray:
        if self.data is None and self.loader is not None and self.is_numeric:
            self.data = self.loader()
        return super().array()

    @property
    def nbytes(self) -> int:
        """Bytes of the values in their class's dtype (from the size: nothing is read)."""
        if self.matlab_class not in NUMERIC_DTYPES:
            return 0
        return math.prod(self.size) * class_dtype(self.matlab_class, self.complex).itemsize


def dataset_variable(
    name: str, cls: str, size: tuple[int, ...], dataset: h5py.Dataset, path: str, is_complex: bool
) -> H5Variable:
    """A numeric variable whose values are the dataset's, MATLAB's dimensions reversed (as
    MATLAB's v7.3 and Octave's ``save -hdf5`` store them): read on demand, or by boxes when a
    job streams; small ones at once (:func:`lazy`)."""
    source = Source(
        path=path,
        name=dataset.name.encode(),
        variable=name,
        shape=tuple(dataset.shape),
        dtype=dataset.dtype,
        size=size,
        matlab_class=cls,
        complex=is_complex,
        reverse=True,
        chunks=dataset.chunks,
    )
    variable = H5Variable(name, cls, size, is_complex, file=path, loader=source.read, source=source)
    return lazy(variable)


def lazy(variable: H5Variable) -> H5Variable:
    """``variable``, already read if it is small (lazy reading needs the file to stay)."""
    if variable.nbytes <= EAGER_BYTES:
        variable.array()
    return variable


def storage_dims(size: tuple[int, ...], ndim: int, reverse: bool) -> tuple[int, ...]:
    """A MATLAB size padded to ``ndim`` dimensions, in storage order (reversed for MATLAB's
    layout in HDF5, where a MATLAB 3x2 is an HDF5 (2,3) dataset)."""
    dims = tuple(size) + (1,) * (ndim - len(size))
    return dims[::-1] if reverse else dims


@dataclass(frozen=True)
class Source:
    """Where a numeric dataset's values are: enough to read them whole or box by box."""

    path: str
    name: bytes  # the dataset's link name in the root group
    variable: str
    shape: tuple[int, ...]  # the HDF5 dataset's shape
    dtype: np.dtype  # the HDF5 dataset's (numpy) dtype
    size: tuple[int, ...]  # MATLAB size
    matlab_class: str
    complex: bool
    reverse: bool  # HDF5 dimensions are MATLAB's reversed
    chunks: tuple[int, ...] | None = None

    @property
    def target(self) -> np.dtype:
        return class_dtype(self.matlab_class, self.complex)

    @contextlib.contextmanager
    def open(self) -> Iterator[h5py.Dataset]:
        with open_read(self.path) as f, guard(self.path, self.variable):
            dataset, _ = resolve(f, self.name, self.path, self.variable)
            if not isinstance(dataset, h5py.Dataset):
                msg = "is no longer a dataset in the file (was it changed while bridge read it?)"
                raise FileFormatError(msg).where(file=self.path, variable=self.variable)
            yield check_local(dataset, self.path, self.variable)

    def _file_slices(self, box: tuple[slice, ...], dims: tuple[int, ...]) -> tuple[slice, ...]:
        """The dataset's selection for a box of ``dims`` (the storage dims, any padding; a
        vector may lie along any of them): the dataset's and the box's non-singleton
        dimensions are the same ones, in the same order."""
        wide = [s for s, n in zip(box, dims) if n != 1]
        out = []
        for n in self.shape:
            out.append(wide.pop(0) if n != 1 else slice(0, 1))
        return tuple(out)

    def read_box(
        self,
        dataset: h5py.Dataset,
        box: tuple[slice, ...],
        dims: tuple[int, ...] | None = None,
        buffer: np.ndarray | None = None,
    ) -> np.ndarray:
        """The values in ``box`` (slices of ``dims``, by default the storage dims padded to
        ``len(box)``), in the storage order and the class's dtype.

        With ``buffer`` (1-D, the class's dtype, at least the box's size), a dataset stored in
        that dtype is read straight into its start and a view of it is returned: the buffer is
        reused box after box instead of a new array faulted in for each."""
        lengths = tuple(s.stop - s.start for s in box)
        if dims is None:
            dims = storage_dims(self.size, len(box), self.reverse)
        selection = self._file_slices(box, dims)
        count = math.prod(lengths)
        with guard(self.path, self.variable):
            if (
                buffer is not None
                and count
                and count <= buffer.size
                and buffer.dtype == dataset.dtype == self.target
                and self.matlab_class != "logical"
            ):
                into = buffer[:count].reshape([s.stop - s.start for s in selection])
                dataset.read_direct(into, selection)
                return into.reshape(lengths)
            raw = dataset[selection]
        return self._convert(raw).reshape(lengths)

    def _convert(self, raw: np.ndarray) -> np.ndarray:
        pair = complex_fields(raw.dtype)
        if pair is not None:
            return _complex(raw[pair[0]], raw[pair[1]], self.target)
        if self.matlab_class == "logical":
            return raw != 0
        return to_dtype(raw, self.target)  # MATLAB's conversion: saturated, no warning

    def read(self) -> np.ndarray:
        """All values, MATLAB-shaped, in the class's dtype, C-contiguous in MATLAB's order (what
        the kernels compute on: no further copy). MATLAB's layout is transposed slab by slab,
        so only one slab is ever held twice."""
        if not self.reverse:
            out = np.empty(self.size, self.target)
            flat = out.reshape(self.shape)
        else:
            out = np.empty(self.size, self.target)
            flat = None
            mirror = out.reshape(self.shape[::-1])  # MATLAB's order, the file's dims reversed
        if out.size:
            with self.open() as dataset, guard(self.path, self.variable):
                direct = dataset.dtype == self.target and self.matlab_class != "logical"
                if not self.shape:
                    out.reshape(())[()] = self._convert(dataset[()])
                for k0, k1 in _slabs(self.shape, dataset.dtype.itemsize, dataset.chunks):
                    if flat is not None and direct:  # HDF5 reads straight into the result
                        dataset.read_direct(flat, np.s_[k0:k1], np.s_[k0:k1])
                    elif flat is not None:
                        flat[k0:k1] = self._convert(dataset[k0:k1])
                    else:
                        mirror[..., k0:k1] = self._convert(dataset[k0:k1]).T
        return out


def _slabs(shape, itemsize: int, chunks) -> Iterator[tuple[int, int]]:
    """Ranges of the first dimension of about _READ_SLAB_BYTES, whole rows of chunks (HDF5 reads
    a chunked dataset much faster by slabs than into one large selection)."""
    if not shape:
        return
    row = max(1, math.prod(shape[1:]) * itemsize)
    step = max(1, _READ_SLAB_BYTES // row)
    if chunks:
        step = max(chunks[0], step // chunks[0] * chunks[0])
    for k in range(0, shape[0], step):
        yield k, min(k + step, shape[0])


def complex_fields(dtype: np.dtype) -> tuple[str, str] | None:
    """The (real, imaginary) member names if ``dtype`` is a complex compound, else None."""
    names = dtype.names or ()
    for pair in COMPLEX_FIELDS:
        if tuple(names) == pair and dtype[pair[0]] == dtype[pair[1]]:
            return pair
    return None


def read_values(dataset: h5py.Dataset) -> np.ndarray:
    """All values of a (small) dataset as numpy sees them (h5py order), complex made complex."""
    if dataset.shape is None:  # HDF5 null dataspace: no values at all
        return np.zeros((0, 0))
    values = dataset[()]
    pair = complex_fields(dataset.dtype)
    if pair is not None:
        values = _complex(values[pair[0]], values[pair[1]])
    return np.asarray(values)


def _complex(real: np.ndarray, imag: np.ndarray, dtype: np.dtype | None = None) -> np.ndarray:
    # Assign the parts: real + 1j*imag would turn an infinite imaginary part into NaN + Inf*1j.
    if dtype is None:
        dtype = np.dtype(np.complex64 if real.dtype == np.float32 else np.complex128)
    out = np.empty(real.shape, dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # double parts of a single: +-Inf
        out.real, out.imag = real, imag
    return out


def storable(array: np.ndarray) -> np.ndarray:
    """``array`` in a form HDF5 stores the MATLAB way: complex as a real/imag compound."""
    if not np.iscomplexobj(array):
        return array
    part = array.real.dtype
    out = np.empty(array.shape, dtype=np.dtype([("real", part), ("imag", part)]))
    out["real"], out["imag"] = array.real, array.imag
    return out


def create_dataset(group: h5py.Group, name: str, stored: np.ndarray, options: dict) -> h5py.Dataset:
    """A dataset holding ``stored`` (already in the file's order). A transposed view (MATLAB's
    layout of a C-order result) is written by slabs, each made contiguous in turn, instead of
    being copied whole first (h5py would)."""
    if stored.ndim == 0 or stored.flags.c_contiguous or stored.nbytes <= _READ_SLAB_BYTES:
        return group.create_dataset(name, data=stored, **options)
    dataset = group.create_dataset(name, shape=stored.shape, dtype=stored.dtype, **options)
    for k0, k1 in _slabs(stored.shape, stored.dtype.itemsize, dataset.chunks):
        dataset[k0:k1] = np.ascontiguousarray(stored[k0:k1])
    return dataset


def write_text_attr(obj: h5py.HLObject, name: str, text: str) -> None:
    """A scalar fixed-length NULLTERM ASCII string attribute, as MATLAB writes MATLAB_class.

    h5py's default for str is a variable-length UTF-8 string, which Octave cannot read and which
    is not what MATLAB writes.
    """
    data = text.encode("utf-8")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(max(len(data), 1))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    if not text.isascii():
        tid.set_cset(h5py.h5t.CSET_UTF8)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    if name in obj.attrs:
        del obj.attrs[name]
    attr = h5py.h5a.create(obj.id, name.encode("ascii"), tid, space)
    attr.write(np.array(data, dtype=f"S{max(len(data), 1)}"), mtype=tid)


def attr_text(value: object) -> str | None:
    """The text of a string attribute (bytes, str or a one-element array of them), else None."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "SUO":
            return None
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        # h5py hands undecodable bytes over as lone surrogates: make them U+FFFD, as above
        return value.encode("utf-8", "surrogateescape").decode("utf-8", errors="replace")
    return None


def dataset_options(array: np.ndarray, compress: bool) -> dict:
    """gzip (the only filter MATLAB reads) when compression is asked for and there is data."""
    if compress and array.size > 0:
        return {"compression": "gzip", "shuffle": True}
    return {}
