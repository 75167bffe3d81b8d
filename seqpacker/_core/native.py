"""The cffi binding: statuses, options, packing and row layout (the only
module that touches cffi; streams are driven by the extension, ``_ext``).

Buffers go in as contiguous int64 NumPy arrays; a status code other than
``SP_OK`` comes back as a Python exception whose message names the offending
index, value and limit. Callers validate types and dtypes before calling.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._seqpacker_ffi import ffi, lib

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class StrategyRow(NamedTuple):
    """One strategy as the C library describes it (``sp_strategy_describe``)."""

    id: int  # the sp_strategy enum constant
    name: str  # short name, lower case: "hk"
    long_name: str  # "HarmonicK"
    aliases: tuple[str, ...]  # further accepted names: ("Harmonic",)
    streamable: bool  # whether a stream packs with it


def _strategy_rows() -> tuple[StrategyRow, ...]:
    info = ffi.new("sp_strategy_info *")
    rows = []
    for strategy in range(lib.SP_STRATEGY_COUNT):
        status = lib.sp_strategy_describe(strategy, info)
        if status != lib.SP_OK:
            raise RuntimeError(f"seqpacker bug: sp_strategy_describe({strategy}) returned "
                               f"{status} ({status_string(status)})")
        rows.append(StrategyRow(strategy, ffi.string(info.name).decode(),
                                ffi.string(info.long_name).decode(),
                                tuple(ffi.string(info.aliases).decode().split()),
                                bool(info.streamable)))
    return tuple(rows)


DEFAULT_SEED = lib.SP_DEFAULT_SEED
DEFAULT_K = lib.SP_DEFAULT_K
MAX_K = lib.SP_MAX_K
MAX_THREADS = lib.SP_MAX_THREADS


def library_version() -> str:
    """The version string of the linked C library."""
    return ffi.string(lib.sp_version_string()).decode()


def status_string(status: int) -> str:
    return ffi.string(lib.sp_status_string(status)).decode()


#: The C library's strategies, in id order: the one source of their names.
STRATEGIES = _strategy_rows()
#: Short name -> C strategy id.
STRATEGY_IDS = {row.name: row.id for row in STRATEGIES}


class TotalOverflowError(ValueError, OverflowError):
    """A count or total that does not fit int64: a ValueError (bad input)
    and an OverflowError (as Python names such errors) at once."""


#: How each C status becomes a Python exception: its type and message. The
#: one place that maps statuses; the ``{fields}`` come from the call that
#: failed (see ``error``). Statuses not listed here cannot come from the
#: calls this package makes with the arguments it checks, so they report a
#: seqpacker bug.
_ERRORS = {
    lib.SP_ERR_LENGTH_NOT_POSITIVE:
        (ValueError, "{name} = {value} is not a valid length: every length must be >= 1"),
    lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY: (ValueError, "{name} = {value} exceeds capacity {capacity}"),
    lib.SP_ERR_INVALID_CAPACITY:
        (ValueError, "capacity = {capacity} is out of range: it must be >= 1 and <= " + str(INT64_MAX)),
    lib.SP_ERR_INVALID_OPTION: (ValueError, "{name} = {value} is out of range: {limits}"),
    lib.SP_ERR_OVERFLOW: (TotalOverflowError, "{subject} does not fit int64 (max " + str(INT64_MAX) + ")"),
    lib.SP_ERR_TOO_MANY_LENGTHS:
        (ValueError, "{count} lengths: one call packs at most " + str(lib.SP_MAX_LENGTHS)),
    lib.SP_ERR_OUT_OF_MEMORY: (MemoryError, "seqpacker: out of memory"),
    lib.SP_ERR_FINISHED:
        (ValueError, "this StreamPacker is finished: create a new one to pack more lengths"),
    lib.SP_ERR_INVALID_STATE:
        (ValueError, "the StreamPacker state is corrupted or not a StreamPacker state"),
    lib.SP_ERR_OUT_OF_BOUNDS: (ValueError, "{name} {index} lies outside its buffer"),
}

#: The range of each option, for the message when C rejects one.
_OPTION_LIMITS = {
    "k": f"it must be >= 2 and <= {lib.SP_MAX_K}",
    "threads": f"it must be >= 1 and <= {lib.SP_MAX_THREADS} (or None for one per CPU)",
    "max_seqs_per_pack": f"it must be >= 1 and <= {lib.SP_MAX_LENGTHS} (or None for no limit)",
}

#: The Python name of each ``sp_options`` field that has another one.
_OPTION_NAMES = {"max_items": "max_seqs_per_pack"}


def option_limits(name: str) -> str:
    """The range of an option, in words."""
    return _OPTION_LIMITS.get(name, "")


def error(status: int, **fields) -> Exception:
    """The exception for a C status other than ``SP_OK``."""
    kind, message = _ERRORS.get(status, (None, None))
    if kind is None:
        return RuntimeError(f"seqpacker C library error {status}: {status_string(status)} "
                            f"(a bug in seqpacker: please report it)")
    return kind(message.format(**fields))


#: The statuses of a length outside ``[1, capacity]``.
LENGTH_STATUSES = (lib.SP_ERR_LENGTH_NOT_POSITIVE, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY)


def length_error(status: int, value: int, capacity: int, index: int | None = None,
                 batch: str = "lengths") -> Exception:
    """The exception for a length C rejected: element ``index`` of a batch
    (``lengths[i] = v ...``, the batch named ``batch``), or a single length."""
    name = "length" if index is None else f"{batch}[{index}]"
    return error(status, name=name, value=value, capacity=capacity)


def raise_for_lengths(status: int, lengths: np.ndarray, capacity: int, error_index: int,
                      subject: str = "the total of the lengths", batch: str = "lengths") -> None:
    """Raise for a status of a call on a batch of lengths."""
    if status == lib.SP_OK:
        return
    if status in LENGTH_STATUSES:
        raise length_error(status, int(lengths[error_index]), capacity, error_index, batch)
    raise error(status, capacity=capacity, subject=subject, count=len(lengths))


def _lengths_check(lengths: np.ndarray, capacity: int) -> tuple[int, int]:
    """``sp_lengths_check`` on a contiguous int64 array: (status, error index)."""
    error_index = ffi.new("int64_t *")
    status = lib.sp_lengths_check(ffi.from_buffer("int64_t[]", lengths), lengths.size, capacity,
                                  ffi.NULL, error_index)
    return status, error_index[0]


def check_lengths(lengths: np.ndarray, capacity: int, batch: str = "lengths") -> None:
    """What ``sp_pack`` accepts (``sp_lengths_check``): each length in
    ``[1, capacity]`` and a total within int64; otherwise a ValueError that
    names the first bad element as ``{batch}[i]`` (so a caller checking one
    part of its input, a shard, names that part), its value and the limit."""
    status, error_index = _lengths_check(lengths, capacity)
    raise_for_lengths(status, lengths, capacity, error_index, batch=batch)


def first_bad_length(lengths: np.ndarray, capacity: int) -> int | None:
    """The index of the first length outside ``[1, capacity]``, as the C
    library judges it, or None: for callers whose message names the row by
    its own key rather than by its index. (A total beyond int64 is left to
    the packing that follows, which refuses it.)"""
    status, error_index = _lengths_check(lengths, capacity)
    if status in LENGTH_STATUSES:
        return int(error_index)
    return None


def check_capacity(capacity: int) -> None:
    """The C library's word on a capacity (an int that fits int64)."""
    status = lib.sp_lengths_check(ffi.NULL, 0, capacity, ffi.NULL, ffi.NULL)
    if status != lib.SP_OK:
        raise error(status, capacity=capacity)


def options(seed: int = DEFAULT_SEED, k: int = DEFAULT_K, threads: int = 0,
            max_items: int = 0):
    """A filled ``sp_options`` struct, checked by ``sp_options_check`` (the
    authority on what the library accepts; the values' types are checked
    before). A rejected field is found by checking it alone."""
    values = {"seed": seed, "k": k, "threads": threads, "max_items": max_items}
    opts = ffi.new("sp_options *")
    lib.sp_options_init(opts)
    for name, value in values.items():
        setattr(opts, name, value)
    status = lib.sp_options_check(opts)
    if status == lib.SP_OK:
        return opts
    for name, value in values.items():
        alone = ffi.new("sp_options *")
        lib.sp_options_init(alone)
        setattr(alone, name, value)
        if lib.sp_options_check(alone) != lib.SP_OK:
            name = _OPTION_NAMES.get(name, name)
            raise error(status, name=name, value=value, limits=option_limits(name))
    raise error(status, name="options", value=values, limits="")


def pack(
    lengths: np.ndarray,
    capacity: int,
    strategy_id: int,
    opts=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pack a contiguous int64 array.

    Returns ``(items, offsets, used)``: the ids bin by bin, the
    ``num_bins + 1`` bin offsets (starting at 0, ending at n) and the used
    space of each bin. The GIL is released during the C call.
    """
    n = lengths.shape[0]
    items = np.empty(n, dtype=np.int64)
    offsets = np.empty(n + 1, dtype=np.int64)
    used = np.empty(n, dtype=np.int64)
    num_bins = ffi.new("int64_t *")
    error_index = ffi.new("int64_t *")
    status = lib.sp_pack(
        ffi.from_buffer("int64_t[]", lengths),
        n,
        capacity,
        strategy_id,
        ffi.NULL if opts is None else opts,
        ffi.from_buffer("int64_t[]", items, require_writable=True),
        ffi.from_buffer("int64_t[]", offsets, require_writable=True),
        ffi.from_buffer("int64_t[]", used, require_writable=True),
        num_bins,
        error_index,
    )
    raise_for_lengths(status, lengths, capacity, error_index[0])
    nb = num_bins[0]
    return items, offsets[: nb + 1], used[:nb]


def lower_bound(lengths: np.ndarray, capacity: int, max_items: int = 0) -> int:
    """No packing of a contiguous int64 array into bins of ``capacity``
    uses fewer bins than this: Martello and Toth's L2, and with
    ``max_items > 0`` (at most that many lengths a bin) also
    ``ceil(n / max_items)``. Bad lengths raise as packing does."""
    bound = ffi.new("int64_t *")
    error_index = ffi.new("int64_t *")
    status = lib.sp_lower_bound(ffi.from_buffer("int64_t[]", lengths), lengths.size, capacity,
                                max_items, bound, error_index)
    if status == lib.SP_ERR_INVALID_OPTION:
        raise error(status, name="max_items", value=max_items,
                    limits="it must be >= 0 (0 for no limit on the items per bin)")
    raise_for_lengths(status, lengths, capacity, error_index[0])
    return bound[0]


# ---- row layout (used by _training/layout.py) ---------------------------------

def _check_runs(**arrays: np.ndarray) -> None:
    """The run arrays of a layout call: 1-D contiguous int64, all as long as
    each other (C reads as many entries of each as the last one has)."""
    sizes = set()
    for name, array in arrays.items():
        if not (isinstance(array, np.ndarray) and array.dtype == np.int64 and array.ndim == 1
                and array.flags.c_contiguous):
            raise TypeError(f"{name} must be a 1-D contiguous int64 array")
        sizes.add(array.size)
    if len(sizes) > 1:
        raise ValueError(f"the run arrays differ in length: "
                         f"{', '.join(f'{n}={a.size}' for n, a in arrays.items())}")


def copy_runs(dst: np.ndarray, src: np.ndarray, src_start: np.ndarray, dst_start: np.ndarray,
              length: np.ndarray) -> None:
    """``dst[dst_start[r]:][:length[r]] = src[src_start[r]:][:length[r]]`` for
    every run r: contiguous 1-D arrays of one dtype, int64 run arrays."""
    if dst.dtype != src.dtype:
        raise TypeError(f"copy_runs: dst is {dst.dtype}, src {src.dtype}")
    _check_runs(src_start=src_start, dst_start=dst_start, length=length)
    error_index = ffi.new("int64_t *")
    status = lib.sp_copy_runs(
        ffi.from_buffer(dst, require_writable=True), dst.size, ffi.from_buffer(src), src.size,
        dst.itemsize, ffi.from_buffer("int64_t[]", src_start),
        ffi.from_buffer("int64_t[]", dst_start), ffi.from_buffer("int64_t[]", length),
        length.size, error_index)
    if status != lib.SP_OK:
        raise error(status, name="run", index=error_index[0])


def fill_positions(positions: np.ndarray, lengths: np.ndarray) -> None:
    """Positions 0..lengths[r] - 1 of each segment, one after another
    (``positions``: contiguous int32 or int64; ``lengths``: int64)."""
    _check_runs(lengths=lengths)
    error_index = ffi.new("int64_t *")
    status = lib.sp_fill_positions(
        ffi.from_buffer(positions, require_writable=True), positions.size, positions.itemsize,
        ffi.from_buffer("int64_t[]", lengths), lengths.size, error_index)
    if status != lib.SP_OK:
        raise error(status, name="segment", index=error_index[0])
