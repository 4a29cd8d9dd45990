"""Jobs bigger than memory: the size check before anything is allocated, and streaming.

Before a job reads its operands, :func:`plan_job` works out from the file's headers what the
in-memory job would need (operands, their copies in the result's class, the result and the
kernels' work space; :func:`in_memory_bytes`) and compares it with the memory budget
(``--max-memory``, else :func:`default_budget`, half of the machine's memory). A job that fits
runs in memory as before. One that does not is *streamed* when it can be:

* the result is cut into boxes (:func:`plan_boxes`): slabs along the outermost dimension of the
  storage order, or, when even one plane is too large, single planes of the outer dimensions and
  slabs of the next one;
* each box reads its part of the large operand plus the halo the kernel needs (clipped at the
  volume's faces, where the sum has no terms), from the MAT v7.3/HDF5 dataset by hyperslab
  (contiguous or chunked, any filter HDF5 has), or from memory when the operand fits;
* :func:`compute_box` computes it with :func:`bridge._kernels.convolve` as a window of the full
  convolution of that part: a pure function of its inputs, so boxes could run as separate tasks
  (e.g. on a Dask cluster) without changing a value;
* each box is written to OUT at once (chunked MAT v7.3 or HDF5, uncompressed unless
  ``--compress``), inside the atomic temporary file, so Ctrl-C or an error leaves no output.

Values equal the in-memory run's: both compute in MATLAB's dimension order (a box of MATLAB's
layout in HDF5, C order of the reversed dimensions, is MATLAB's column-major box as read: the
direct sum and the FFTs take it without a copy, summing as on a row-major copy, and give a
column-major result, which is the output file's order; gemm gets a row-major copy), with one
method chosen for the whole job from the whole job's shapes
(:func:`choose_method`). ``direct`` and ``gemm`` give each output the same sum in the same order
whatever the box (integer-valued data exactly, floating-point data the same sums). Where the cost
model picks an FFT, each box takes the exact FFT when its data are integer-valued within the exact
bound (the same integers), else ``fft-float`` within its documented bound.

A job that neither fits nor can be streamed is refused before anything is allocated, with one
line naming the sizes and what to do (exit 3).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from bridge import _formats as formats
from bridge import _kernels as kernels
from bridge import convolution
from bridge._atomic import atomic_path
from bridge._formats import check_name
from bridge._formats.classes import NUMERIC_DTYPES, class_dtype, class_of
from bridge._job import compute
from bridge._job import progress as job_progress
from bridge.errors import BridgeError, OutputError

# Target bytes of an output chunk (MATLAB reads any chunking; this keeps chunks whole per slab).
CHUNK_BYTES = 1 << 20
# Outputs per box at least (when the result has more): bridge._kernels computes outputs of up to
# 32K elements by a plain numpy sum and larger ones by BLAS, whose fused multiply-adds round
# differently; boxes above that size take the path the whole in-memory result takes.
MIN_BOX_OUTPUTS = 1 << 16
# HDF5's chunk cache for the streamed input (its default; counted in the budget).
READ_CACHE_BYTES = 1 << 20


class MemoryLimitError(BridgeError, MemoryError):
    """A job whose result or operands do not fit the memory budget and cannot be streamed."""

    default_identifier = "bridge:outOfMemory"

    def __init__(self, message: str, **context) -> None:
        context.setdefault("arguments", ("max_memory", "mat_version"))
        super().__init__(message, **context)


def _bytes(n: float) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


# ---- what a job needs -------------------------------------------------------------------------


class Operand(NamedTuple):
    name: str
    size: tuple[int, ...]  # MATLAB size
    dtype: np.dtype  # class dtype
    variable: Any  # the formats Variable
    source: Any  # h5util.Source when it can be read by boxes, else None

    @property
    def numel(self) -> int:
        return math.prod(self.size)

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize


@dataclass
class Plan:
    """A streamed job: everything :func:`run` needs, in the compute (storage) order."""

    op: str
    shape: str
    dtype: np.dtype  # the result's class
    out_size: tuple[int, ...]  # the result's MATLAB size
    signal: Operand  # the operand read by boxes
    kernel: Operand  # the operand held whole
    signal_first: bool  # the signal is the first argument of the call
    dims: tuple[int, ...]  # signal dims, compute order
    kernel_dims: tuple[int, ...]
    starts: tuple[int, ...]  # the result's window in the full convolution, compute order
    lengths: tuple[int, ...]  # the result's dims, compute order
    method: str
    block: tuple[int, ...] = ()  # output box dims (compute order)
    axes: tuple[int, ...] = ()  # dimensions from outermost to innermost in the files
    empty: bool = False  # an empty operand: the result is zeros
    out_format: str = "mat73"
    path: str = ""
    notes: list[str] = field(default_factory=list)
    # The output dataset's dimensions reversed (MATLAB's order in HDF5's C order): set by run.
    out_reverse: bool = False
    # What the operation does to its kernel before convolving (filter2, xcorr2), or None.
    kernel_transform: Callable[[np.ndarray], np.ndarray] | None = None
    # imfilter-type jobs: the library's call (padding rule, kernel, class), else None.
    filtering: Any = None
    # The class the sums are computed in, when it is not the result's (imfilter: double).
    work_dtype: np.dtype | None = None


def _variable_size(variable) -> tuple[int, ...]:
    return tuple(int(n) for n in variable.size)


def in_memory_bytes(operands: list[Operand], result_bytes: int, dtype: np.dtype) -> int:
    """What the in-memory job needs at its peak (a measured upper estimate, BENCHMARKS.md):
    the operands as read, their copies in the result's class, the kernels' padded layout and
    work array (about the larger of operand and result each), and the result."""
    read = sum(o.nbytes for o in operands)
    converted = sum(o.numel * dtype.itemsize for o in operands)
    largest = max([result_bytes] + [o.numel * dtype.itemsize for o in operands])
    return read + converted + 2 * largest + result_bytes


def plan_job(job, outfile: str, limit: int, *, fmt=None, mat_version="7", hdf5_order=None):
    """None when the job fits ``limit`` bytes in memory; else a :class:`Plan` to stream it.

    Raises MemoryLimitError (exit 3) when it fits neither way, naming the sizes.
    """

    operands = []
    for name, variable in job.variables:
        if not variable.is_numeric:
            variable.array()  # raises MATLAB's inputType error with the variable's name
        dtype = class_dtype(variable.matlab_class, variable.complex)
        if variable.matlab_class not in NUMERIC_DTYPES:
            return None
        source = getattr(variable, "source", None)
        operands.append(Operand(name, _variable_size(variable), dtype, variable, source))
    kind = job.operation.streams
    if kind == "filter":
        return _plan_filter(job, operands, outfile, limit, fmt, mat_version, hdf5_order)
    if kind not in ("conv", "corr"):
        return None  # computed in memory (its size checks are the library's)
    conv_op, order, transform = job.op, list(range(len(operands))), None
    if kind == "corr":  # filter2, xcorr2: conv2 of two operands, the second transformed
        from bridge import filtering  # not for the conv family: a tiny job never loads it

        (first, second), transform = filtering.CONV2_FORMS[job.op]
        order = [first, second if second < len(operands) else first]  # xcorr2(a): b is a
        operands = [operands[k] for k in order]
        conv_op = "conv2"
    try:
        shape_of = convolution.layout(
            conv_op, [(o.size, o.dtype) for o in operands], job.shape or "full"
        )
    except BridgeError as err:
        if err.argument is not None and 1 <= err.argument <= len(order):
            err.argument = order[err.argument - 1] + 1  # the job's own argument
        raise compute.named(job, err) from None
    out_size, dtype = shape_of.size, shape_of.dtype
    result_bytes = math.prod(out_size) * dtype.itemsize
    need = in_memory_bytes(operands, result_bytes, dtype)
    if need <= limit:
        return None
    sizes_text = ", ".join(
        f"{o.name} {'x'.join(map(str, o.size))} ({_bytes(o.nbytes)})" for o in operands
    )
    what = (
        f"the result is {'x'.join(map(str, out_size))} {dtype.name} ({_bytes(result_bytes)}); "
        f"with {sizes_text} the job needs about {_bytes(need)} in memory, more than "
        f"{{max_memory}} {_bytes(limit)}"
    )
    out_fmt = _streamed_format(outfile, fmt, mat_version, result_bytes)
    if transform is not None and operands[1].numel > operands[0].numel:
        raise MemoryLimitError(
            f"{what}; streaming reads the larger operand in parts, and {operands[1].name}, "
            f"which {job.op} transforms, is the larger: raise {{max_memory}}"
        ).where(file=job.path)
    if shape_of.separable:
        raise MemoryLimitError(
            f"{what}; the separable conv2(u, v, A) is not streamed: compute "
            "convn(convn(A, u(:)), v(:).') as two convn jobs, or raise {max_memory}"
        ).where(file=job.path)
    _check_streamed_format(out_fmt, what, job.path)
    empty = any(o.numel == 0 for o in operands) or 0 in out_size
    # The signal: the operand read by boxes (the larger); the kernel is held whole.
    first_is_signal = operands[0].numel >= operands[1].numel
    signal, kernel = (operands[0], operands[1]) if first_is_signal else (operands[1], operands[0])
    # Compute in MATLAB's order, as the in-memory job does (bridge.convolution, whatever the
    # memory layout): boxes of a MATLAB-layout HDF5 operand are viewed in MATLAB's order after
    # reading, so that every output is the same sum in the same order.
    files_reversed = _files_reversed(signal, out_fmt, hdf5_order)
    ndim = len(shape_of.a_dims)
    s_m, k_m = shape_of.a_dims, shape_of.b_dims
    if not first_is_signal:
        s_m, k_m = k_m, s_m
    plan = Plan(
        op=job.op,
        shape=job.shape,
        dtype=dtype,
        out_size=out_size,
        signal=signal,
        kernel=kernel,
        signal_first=first_is_signal,
        dims=tuple(s_m),
        kernel_dims=tuple(k_m),
        # The window of the full convolution, the same whichever operand is the signal.
        starts=shape_of.starts,
        lengths=shape_of.lengths,
        method="direct",
        empty=empty,
        out_format=out_fmt,
        path=job.path,
        kernel_transform=transform,
        axes=tuple(range(ndim))[::-1] if files_reversed else tuple(range(ndim)),
    )
    if empty:
        return plan
    kernel_need = kernel.nbytes + 3 * kernel.numel * dtype.itemsize
    _check_resident(signal, kernel.name, kernel_need, limit, what, job.path)
    plan.method = choose_method(plan)
    resident = kernel_need + (signal.nbytes if signal.source is None else READ_CACHE_BYTES)
    plan.block = plan_boxes(plan, limit - resident, what)
    return plan


def _check_resident(
    signal: Operand, kernel: str, kernel_need: int, limit: int, what: str, path: str
) -> None:
    """What a streamed job holds whole must fit half the budget: the kernel with its copies,
    and the signal too unless a MAT v7.3 or HDF5 file lets it be read in parts."""
    if kernel_need > limit // 2:
        raise MemoryLimitError(
            f"{what}; streaming reads {signal.name} in parts but needs {kernel} whole: "
            f"{_bytes(kernel_need)} with its copies, more than half of {{max_memory}}; "
            "raise {max_memory}"
        ).where(file=path)
    if signal.source is None and signal.nbytes + kernel_need > limit // 2:
        raise MemoryLimitError(
            f"{what}; streaming needs {signal.name} read in parts, which only MAT v7.3 and "
            "HDF5 files allow: save IN with save -v7.3 (or h5create/h5write), or raise "
            "{max_memory}"
        ).where(file=path)


def _files_reversed(signal: Operand, out_fmt: str, hdf5_order: str | None) -> bool:
    """Whether the files hold MATLAB's dimensions reversed (the signal's, else the output's):
    boxes are read and written in that order."""
    if signal.source is not None:
        return bool(signal.source.reverse)
    return out_fmt == "mat73" or (hdf5_order or "matlab") == "matlab"


def _streamed_format(outfile: str, fmt, mat_version: str, result_bytes: int) -> str:
    """OUT's format for a streamed job: a MAT OUT is v7.3 when asked or too large for v7."""
    out_fmt = formats.check_output(outfile, fmt, mat_version)
    if out_fmt == "mat" and (mat_version == "7.3" or result_bytes > formats.V7_MAX_BYTES):
        out_fmt = "mat73"
    return out_fmt


def _check_streamed_format(out_fmt: str, what: str, path: str) -> None:
    """A streamed result is written in parts: MAT v7.3 or HDF5 only."""
    if out_fmt in ("mat73", "hdf5"):
        return
    hint = (
        "write OUT as MAT v7.3 ({mat_version} 7.3) or HDF5 (.h5)"
        if out_fmt == "mat"
        else "write OUT as .mat with {mat_version} 7.3, or .h5"
    )
    written = {"mat": "a MAT v7 file", "text": "a text file"}.get(out_fmt, out_fmt)
    msg = f"{what}; streaming it needs an output written in parts, not {written}: {hint}"
    raise MemoryLimitError(msg).where(file=path)


def _plan_filter(job, operands, outfile, limit, fmt, mat_version, hdf5_order):
    """imfilter, imgaussfilt(3): the padded image read in boxes (each box's padded part filled
    from A by the library's padding rule, the far end of A for 'circular'), the kernel whole.
    None when the in-memory job fits."""
    from bridge import filtering  # not for the conv family: a tiny job never loads it

    image = operands[0]
    standin = np.empty(0, image.dtype)
    args, _ = compute.arguments(job)
    try:
        if job.op == "imfilter":
            kernel = job.variables[1][1].array()
            call = filtering.imfilter_plan(standin, kernel, *args[2:], size=image.size)
        else:
            call = filtering.gauss_plan(job.op, standin, *args[1:], size=image.size)
    except BridgeError as err:
        raise compute.named(job, err) from None
    padded = tuple(
        n + b + a
        for n, (b, a) in zip(
            call.a_dims, filtering.pad_width(call.a_dims, call.h.shape, call.shape)
        )
    )
    dtype = call.dtype
    work = np.dtype(np.complex128 if dtype.kind == "c" or call.h.dtype.kind == "c" else np.float64)
    out_elements = math.prod(call.final)
    result_bytes = out_elements * dtype.itemsize
    # A as read, the padded copy in A's class and in double (with the kernels' work array),
    # the double result and its conversion to A's class.
    need = (
        image.nbytes
        + math.prod(padded) * (image.dtype.itemsize + 2 * work.itemsize)
        + out_elements * work.itemsize
        + result_bytes
    )
    if need <= limit or image.numel == 0 or call.h.size == 0:
        return None
    what = (
        f"the result is {'x'.join(map(str, call.size))} {dtype.name} ({_bytes(result_bytes)}); "
        f"with {image.name} {'x'.join(map(str, image.size))} ({_bytes(image.nbytes)}) the job "
        f"needs about {_bytes(need)} in memory, more than {{max_memory}} {_bytes(limit)}"
    )
    out_fmt = _streamed_format(outfile, fmt, mat_version, result_bytes)
    _check_streamed_format(out_fmt, what, job.path)
    kernel_need = call.h.nbytes * 3
    _check_resident(image, "the kernel", kernel_need, limit, what, job.path)
    files_reversed = _files_reversed(image, out_fmt, hdf5_order)
    ndim = len(call.a_dims)
    h_dims = call.h.shape
    plan = Plan(
        op=job.op,
        shape=call.shape,
        dtype=dtype,
        out_size=call.size,
        signal=image,
        kernel=image,  # no kernel operand to read: the call holds it
        signal_first=True,
        dims=padded,
        kernel_dims=tuple(h_dims),
        # The valid window of the padded array's correlation: box k needs padded [o0, o1+k-1).
        starts=tuple(k - 1 for k in h_dims),
        lengths=call.final,
        method="auto",
        out_format=out_fmt,
        path=job.path,
        axes=tuple(range(ndim))[::-1] if files_reversed else tuple(range(ndim)),
        filtering=call,
        work_dtype=work,
    )
    resident = kernel_need + (image.nbytes if image.source is None else READ_CACHE_BYTES)
    plan.block = plan_boxes(plan, limit - resident, what)
    return plan


def _padded_part(plan: Plan, sources: list[np.ndarray], read) -> np.ndarray:
    """A box of the padded image: per axis, the indices of A its padded indices read
    (``sources``, -1 for the constant), read from A by contiguous runs (``read(slices)`` returns
    A's part in MATLAB's order) and placed; the constant where any index is -1."""
    assert plan.filtering is not None
    wanted = [np.unique(ix[ix >= 0]) for ix in sources]
    fill = plan.filtering.fill()
    shape = tuple(len(ix) for ix in sources)
    if any(w.size == 0 for w in wanted):
        return np.full(shape, fill)
    runs = [np.split(w, np.flatnonzero(np.diff(w) != 1) + 1) for w in wanted]
    gathered = None
    for combo in itertools.product(*runs):
        part = read(tuple(slice(int(r[0]), int(r[-1]) + 1) for r in combo))
        if gathered is None:
            gathered = np.empty([w.size for w in wanted], part.dtype)
        at = tuple(
            slice(int(np.searchsorted(w, r[0])), int(np.searchsorted(w, r[0])) + r.size)
            for w, r in zip(wanted, combo)
        )
        gathered[at] = part
    assert gathered is not None
    where = [np.searchsorted(w, np.clip(ix, 0, None)) for w, ix in zip(wanted, sources)]
    where = [np.minimum(p, w.size - 1) for p, w in zip(where, wanted)]
    box = gathered[np.ix_(*where)]
    outside = np.zeros(shape, bool)
    for d, ix in enumerate(sources):
        line = [1] * len(shape)
        line[d] = len(ix)
        outside |= (ix < 0).reshape(line)
    if outside.any():
        box = box.astype(np.result_type(box.dtype, np.asarray(fill).dtype), copy=True)
        box[outside] = fill
    return box


def choose_method(plan: Plan) -> str:
    """The method for every box: what the in-memory job's 'auto' picks from the whole shapes
    (kernels.convolve drops the dimensions where both operands are 1 first, and so do we)."""
    keep = [d for d, (p, q) in enumerate(zip(plan.dims, plan.kernel_dims)) if p != 1 or q != 1]
    keep = keep or [0]
    a = [plan.dims[d] for d in keep]
    b = [plan.kernel_dims[d] for d in keep]
    lengths = [plan.lengths[d] for d in keep]
    if not plan.signal_first:
        a, b = b, a
    costs = kernels.estimate_costs(a, b, lengths, plan.dtype.kind == "c")
    best = min(costs, key=costs.__getitem__)
    if best == "fft":
        return "fft*"  # decided per box from the box's data (module docstring)
    return best


def _box_bytes(plan: Plan, block: tuple[int, ...]) -> int:
    """Memory of one box: the input part (as read and in the result's class), the kernels'
    padded layout and work array, the output box and its stored form."""
    inp = math.prod(min(n + q - 1, a) for n, q, a in zip(block, plan.kernel_dims, plan.dims))
    out = math.prod(block)
    item = max(plan.dtype.itemsize, plan.work_dtype.itemsize if plan.work_dtype else 0)
    read_item = plan.signal.dtype.itemsize * (2 if plan.signal.dtype.kind == "c" else 1)
    work = max(inp, math.prod(n + q - 1 for n, q in zip(block, plan.kernel_dims)))
    return inp * read_item + inp * item + 2 * work * item + 3 * out * item


def plan_boxes(plan: Plan, room: int, what: str) -> tuple[int, ...]:
    """Output box dims: full extents on the files' inner dimensions, one slab dimension, single
    planes of the outer ones (``plan.axes`` gives the files' order, outermost first)."""
    axes = plan.axes or tuple(range(len(plan.lengths)))
    n = len(axes)
    for i, k in enumerate(axes):
        if plan.lengths[k] == 1 and i < n - 1:
            continue
        block = list(plan.lengths)
        for outer in axes[:i]:
            block[outer] = 1
        block[k] = 1
        if _box_bytes(plan, tuple(block)) > room:
            continue
        lo, hi = 1, plan.lengths[k]
        while lo < hi:  # the thickest slab that fits
            mid = (lo + hi + 1) // 2
            block[k] = mid
            if _box_bytes(plan, tuple(block)) <= room:
                lo = mid
            else:
                hi = mid - 1
        inner = math.prod(block) // max(block[k], 1)
        if lo * inner < MIN_BOX_OUTPUTS:  # the same summation path as in memory (see above)
            wanted = min(plan.lengths[k], -(-MIN_BOX_OUTPUTS // inner))
            block[k] = wanted
            if _box_bytes(plan, tuple(block)) <= room:  # never past the budget
                lo = wanted
        block[k] = lo
        return tuple(block)
    raise MemoryLimitError(
        f"{what}; even a single line of the result with its halo does not fit: raise {{max_memory}}"
    ).where(file=plan.path)


class Box(NamedTuple):
    out: tuple[slice, ...]  # the box in the result (compute order)
    inp: tuple[slice, ...]  # the part of the signal it needs (compute order)
    starts: tuple[int, ...]  # the box's window in the full convolution of that part


def boxes(plan: Plan) -> Iterator[Box]:
    """The result's boxes in storage order, each with the signal part (halo included)."""
    # Boxes of (nearly) equal thickness: no small last box (see MIN_BOX_OUTPUTS).
    counts = [-(-n // t) for n, t in zip(plan.lengths, plan.block)]
    axes = plan.axes or tuple(range(len(counts)))
    for ordered in np.ndindex(*(counts[k] for k in axes)):  # the files' order: sequential I/O
        index = [0] * len(counts)
        for k, i in zip(axes, ordered):
            index[k] = i
        out, inp, starts = [], [], []
        for d, i in enumerate(index):
            g0 = i * plan.lengths[d] // counts[d]
            g1 = (i + 1) * plan.lengths[d] // counts[d]
            f0 = plan.starts[d] + g0  # full-convolution index of the box's first output
            lo = max(0, f0 - (plan.kernel_dims[d] - 1))
            hi = min(plan.dims[d], plan.starts[d] + g1)
            out.append(slice(g0, g1))
            inp.append(slice(lo, hi))
            starts.append(f0 - lo)
        yield Box(tuple(out), tuple(inp), tuple(starts))


def compute_box(
    part: np.ndarray,
    kernel: np.ndarray,
    starts: tuple[int, ...],
    lengths: tuple[int, ...],
    dtype: np.dtype,
    method: str,
    signal_first: bool = True,
) -> np.ndarray:
    """One output box: the window ``starts``/``lengths`` of the full convolution of the
    signal's ``part`` (halo included) with the whole ``kernel``. Pure: no file, no state."""
    # Any memory layout: kernels.convolve makes the copies a method needs (its row-major
    # methods), and a column-major part (a box of MATLAB's layout in HDF5) is summed as its
    # row-major copy would be, into a column-major result that is the file's order.
    part = np.asarray(part, dtype=dtype)
    a, b = (part, kernel) if signal_first else (kernel, part)
    if method == "fft*":
        method = _fft_method(a, b, lengths)
    return kernels.convolve(a, b, starts, lengths, dtype, method)


def _fft_method(a: np.ndarray, b: np.ndarray, lengths) -> str:
    """Where the cost model picks an FFT: for integer-valued data the in-memory choice on this
    box (every method it may pick is exact on them, so the values are the same integers);
    'fft-float' for other floating-point data (its documented bound)."""
    if all(np.array_equal(f, np.rint(f)) for f in (x[np.isfinite(x)] for x in (a, b))):
        return kernels.choose_method(a, b, lengths)
    return "fft-float"


# ---- running ----------------------------------------------------------------------------------


def _stream_line(label: str) -> Callable[[int, int, float], str]:
    def line(done: int, total: int, elapsed: float) -> str:
        pct = 100.0 * done / total
        eta = elapsed * (total - done) / max(done, 1)
        return f"bridge: {label}: {pct:.0f}% ({elapsed:.0f} s, about {eta:.0f} s left)"

    return line


def _out_shape(plan: Plan) -> tuple[int, ...]:
    """The output dataset's shape: the result's MATLAB size in the output file's order."""
    size = tuple(plan.out_size)
    return size[::-1] if plan.out_reverse else size


def _select(dims: tuple[int, ...], shape: tuple[int, ...], box: tuple[slice, ...]):
    """A box of ``dims`` (padded, any order) as a selection of a dataset of ``shape`` holding the
    same non-singleton dimensions in the same order."""
    wide = [s for s, n in zip(box, dims) if n != 1]
    return tuple(wide.pop(0) if n != 1 else slice(0, 1) for n in shape)


def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...] | None:
    if not shape or 0 in shape:
        return None
    left = max(1, CHUNK_BYTES // itemsize)
    chunks = [1] * len(shape)
    for i in range(len(shape) - 1, -1, -1):
        chunks[i] = max(1, min(shape[i], left))
        left //= chunks[i]
        if left < 2:
            break
    return tuple(chunks)


def run(plan: Plan, outfile: str, *, out_var="C", compress=False, hdf5_order=None, progress=True):
    """Stream the job into ``outfile`` (atomically): box by box, each written when done."""
    import h5py

    # h5py (through these two) is imported only when a job streams: a tiny job never needs it.
    from bridge._formats import h5util, mat73

    check_name(out_var)
    order = hdf5_order or "matlab"
    plan.out_reverse = plan.out_format == "mat73" or order == "matlab"
    cls, _ = class_of(np.empty(0, plan.dtype))
    stored_dtype = h5util.storable(np.empty(0, plan.dtype)).dtype
    shape = _out_shape(plan)
    nbytes = math.prod(shape) * stored_dtype.itemsize
    _check_disk(outfile, 0 if plan.empty or compress else nbytes)
    kernel = np.empty(0, plan.dtype)
    if not plan.empty and plan.filtering is None:
        kernel = plan.kernel.variable.array()
        if plan.kernel_transform is not None:
            kernel = plan.kernel_transform(kernel)
        kernel = np.ascontiguousarray(kernel.reshape(plan.kernel_dims), dtype=plan.dtype)
    userblock = mat73.USERBLOCK_SIZE if plan.out_format == "mat73" else 0
    with atomic_path(outfile) as tmp:
        with h5py.File(tmp, "w", userblock_size=userblock, libver=h5util.LIBVER) as f:
            if plan.out_format == "hdf5":
                h5util.write_text_attr(f, "bridge_dim_order", order)
            chunks = _chunks(shape, stored_dtype.itemsize)
            options = {"compression": "gzip", "shuffle": True} if compress and chunks else {}
            dataset = f.create_dataset(
                out_var, shape=shape, dtype=stored_dtype, chunks=chunks, fillvalue=None, **options
            )
            h5util.write_text_attr(dataset, "MATLAB_class", cls)
            if not plan.empty:
                _fill(plan, dataset, kernel, shape, progress)
        if plan.out_format == "mat73":
            with open(tmp, "r+b") as f:
                f.write(mat73.header())


def _fill(plan: Plan, dataset, kernel: np.ndarray, shape, progress: bool) -> None:
    from bridge._formats import h5util  # h5py: only when a job streams

    signal = plan.signal
    total = math.prod(plan.lengths)
    label = f"streaming {plan.op} of {signal.name}"
    meter = (
        job_progress.Progress(
            max(total, 1), label, line=_stream_line(label), delay=job_progress.PROGRESS_EVERY
        )
        if progress
        else None
    )
    swap = plan.out_reverse
    out_dims = plan.lengths[::-1] if swap else plan.lengths
    sources = plan.filtering.plan() if plan.filtering is not None else None
    try:
        if signal.source is not None:
            import h5py

            with h5util.open_read(signal.source.path) as f:
                _ = h5py  # the file stays open for the whole job
                with h5util.guard(signal.source.path, signal.name):
                    ds = f[signal.source.name]
                flip = signal.source.reverse
                # MATLAB-ordered dims of what is read: the padded array's for a filtering job
                # read through its padding plan, the signal's otherwise.
                a_dims = plan.filtering.a_dims if plan.filtering is not None else plan.dims

                # One buffer for every box's part (the largest; counted in _box_bytes as the part
                # as read): a box's part is done with before the next is read. A filtering job
                # reads several runs per box, so it keeps a new array per read.
                buffer = None
                if sources is None:
                    largest = max(math.prod(s.stop - s.start for s in b.inp) for b in boxes(plan))
                    buffer = np.empty(largest, signal.source.target)

                def read(box_slices):
                    if flip:  # read in the file's order, seen in MATLAB's (column-major)
                        part = signal.source.read_box(ds, box_slices[::-1], a_dims[::-1], buffer)
                        return part.T
                    return signal.source.read_box(ds, box_slices, a_dims, buffer)

                for box in boxes(plan):
                    part = _part(plan, box, read, sources)
                    _write_box(plan, dataset, box, part, kernel, out_dims, shape, swap, meter)
        else:
            whole = signal.variable.array()
            whole = whole.reshape(plan.filtering.a_dims if plan.filtering else plan.dims)
            for box in boxes(plan):
                part = _part(plan, box, lambda sl: whole[sl], sources)
                _write_box(plan, dataset, box, part, kernel, out_dims, shape, swap, meter)
    finally:
        if meter is not None:
            meter.close()


def _part(plan: Plan, box: Box, read, sources) -> np.ndarray:
    """The input part of a box: the signal's slab (halo included), or for a filtering job the
    padded image's part, filled through the padding plan ``sources``."""
    if sources is None:
        return read(box.inp)
    return _padded_part(plan, [ix[sl] for ix, sl in zip(sources, box.inp)], read)


def _write_box(plan, dataset, box, part, kernel, out_dims, shape, swap, meter) -> None:
    from bridge._formats import h5util  # h5py: only when a job streams

    lengths = tuple(s.stop - s.start for s in box.out)
    if plan.filtering is not None:
        block = plan.filtering.box(part)
    else:
        block = compute_box(
            part, kernel, box.starts, lengths, plan.dtype, plan.method, plan.signal_first
        )
    del part
    out_box = box.out
    if swap:
        block = block.T
        out_box = out_box[::-1]
    # A column-major block (see compute_box) is already the file's order: no copy here.
    stored = h5util.storable(np.ascontiguousarray(block))
    target = _select(out_dims, shape, out_box)
    dataset[target] = stored.reshape(tuple(s.stop - s.start for s in target))
    if meter is not None:
        meter.advance(block.size)


def _check_disk(outfile: str, nbytes: int) -> None:
    folder = os.path.dirname(os.path.abspath(outfile))
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return
    free = st.f_bavail * st.f_frsize
    if nbytes > free:
        msg = f"the result needs {_bytes(nbytes)} on disk and the folder has {_bytes(free)} free"
        raise OutputError(msg, file=outfile)
