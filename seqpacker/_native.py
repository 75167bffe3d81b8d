"""The only module that touches the cffi binding.

Buffers go in as contiguous int64 NumPy arrays; a status code other than
``SP_OK`` comes back as a Python exception whose message names the offending
index, value and limit. Callers validate types and dtypes before calling.
"""

from __future__ import annotations

import numpy as np

from ._seqpacker_ffi import ffi, lib

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

#: Short name -> C strategy id, in ABI order.
STRATEGY_IDS = {
    "nf": lib.SP_NF,
    "ff": lib.SP_FF,
    "bf": lib.SP_BF,
    "wf": lib.SP_WF,
    "ffd": lib.SP_FFD,
    "bfd": lib.SP_BFD,
    "ffs": lib.SP_FFS,
    "mffd": lib.SP_MFFD,
    "obfd": lib.SP_OBFD,
    "obfdp": lib.SP_OBFDP,
    "hk": lib.SP_HK,
}

DEFAULT_SEED = lib.SP_DEFAULT_SEED
DEFAULT_K = lib.SP_DEFAULT_K
MAX_K = lib.SP_MAX_K
MAX_THREADS = lib.SP_MAX_THREADS


def library_version() -> str:
    """The version string of the linked C library."""
    return ffi.string(lib.sp_version_string()).decode()


def status_string(status: int) -> str:
    return ffi.string(lib.sp_status_string(status)).decode()


def length_error(value: int, capacity: int, index: int | None = None) -> ValueError:
    """The ValueError for a length outside ``[1, capacity]``: element
    ``index`` of a batch (``lengths[i] = v ...``), or a single length."""
    name = "length" if index is None else f"lengths[{index}]"
    if value < 1:
        return ValueError(f"{name} = {value} is not a valid length: every length must be >= 1")
    return ValueError(f"{name} = {value} exceeds capacity {capacity}")


def raise_for_status(
    status: int, lengths: np.ndarray | None, capacity: int, error_index: int
) -> None:
    """Turn a C status code into the matching Python exception."""
    if status == lib.SP_OK:
        return
    if status in (lib.SP_ERR_LENGTH_NOT_POSITIVE, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
        raise length_error(int(lengths[error_index]), capacity, error_index)
    if status == lib.SP_ERR_INVALID_CAPACITY:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    if status == lib.SP_ERR_OVERFLOW:
        raise ValueError(
            f"the total of the lengths does not fit int64 (max {INT64_MAX})"
        )
    if status == lib.SP_ERR_OUT_OF_MEMORY:
        raise MemoryError("seqpacker: out of memory")
    if status == lib.SP_ERR_INVALID_OPTION:
        raise ValueError(f"seqpacker: {status_string(status)}")
    raise RuntimeError(f"seqpacker C library error {status}: {status_string(status)}")


def options(seed: int = DEFAULT_SEED, k: int = DEFAULT_K, threads: int = 0):
    """A filled ``sp_options`` struct, checked by the C library (the authority
    on what it accepts; the values' types and ranges are checked before)."""
    opts = ffi.new("sp_options *")
    lib.sp_options_init(opts)
    opts.seed = seed
    opts.k = k
    opts.threads = threads
    status = lib.sp_options_check(opts)
    if status != lib.SP_OK:
        raise ValueError(f"seqpacker: {status_string(status)} (seed={seed}, k={k}, "
                         f"threads={threads})")
    return opts


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
    raise_for_status(status, lengths, capacity, error_index[0])
    nb = num_bins[0]
    return items, offsets[: nb + 1], used[:nb]


# ---- row layout (used by _packed_layout.py) ---------------------------------

def _raise_for_layout_status(status: int, what: str, error_index: int) -> None:
    if status == lib.SP_ERR_OUT_OF_BOUNDS:
        raise ValueError(f"{what} {error_index} lies outside its buffer")
    raise_for_status(status, None, 0, error_index)


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
        _raise_for_layout_status(status, "run", error_index[0])


def fill_positions(positions: np.ndarray, lengths: np.ndarray) -> None:
    """Positions 0..lengths[r] - 1 of each segment, one after another
    (``positions``: contiguous int32 or int64; ``lengths``: int64)."""
    _check_runs(lengths=lengths)
    error_index = ffi.new("int64_t *")
    status = lib.sp_fill_positions(
        ffi.from_buffer(positions, require_writable=True), positions.size, positions.itemsize,
        ffi.from_buffer("int64_t[]", lengths), lengths.size, error_index)
    if status != lib.SP_OK:
        _raise_for_layout_status(status, "segment", error_index[0])


# ---- streams (used by stream.py) -------------------------------------------

class StreamHandle:
    """One C stream (``sp_stream``), freed with this object.

    ``StreamPacker.add`` calls the same stream from C (``_stream_fast.c``)
    at ``address``, holding a reference to this object. Concurrent calls
    on one handle are serialised by the C library.
    """

    __slots__ = ("_handle", "capacity", "strategy_id", "k", "finished")

    def __init__(self, handle, capacity: int, strategy_id: int, k: int, finished: bool):
        self._handle = ffi.gc(handle, lib.sp_stream_free)
        self.capacity = capacity
        self.strategy_id = strategy_id
        self.k = k
        self.finished = finished  # as created; StreamPacker tracks it after

    @property
    def address(self) -> int:
        """The ``sp_stream *`` as an int, for ``_stream_fast``."""
        return int(ffi.cast("uintptr_t", self._handle))

    @classmethod
    def create(cls, capacity: int, strategy_id: int, k: int) -> StreamHandle:
        out = ffi.new("sp_stream **")
        status = lib.sp_stream_create(capacity, strategy_id, options(k=k), out)
        raise_for_status(status, None, capacity, -1)
        return cls(out[0], capacity, strategy_id, k, False)

    @classmethod
    def from_state(cls, state: np.ndarray) -> StreamHandle:
        """A stream restored from ``export_state()``; ValueError if corrupted."""
        out = ffi.new("sp_stream **")
        status = lib.sp_stream_import(ffi.from_buffer("int64_t[]", state), len(state), out)
        if status == lib.SP_ERR_OUT_OF_MEMORY:
            raise MemoryError("seqpacker: out of memory")
        if status == lib.SP_ERR_INVALID_STATE:
            raise ValueError("the StreamPacker state is corrupted or not a StreamPacker state")
        if status != lib.SP_OK:
            raise RuntimeError(f"seqpacker C library error {status}: {status_string(status)}")
        # The header that sp_stream_import has just checked: magic, version,
        # capacity, strategy, k, next id, finished, ... (see stream_state.c).
        capacity, strategy_id, k = int(state[2]), int(state[3]), int(state[4])
        finished = bool(state[6])
        return cls(out[0], capacity, strategy_id, k, finished)

    def add_status_error(self, status: int, length: int) -> Exception:
        """The exception for a length the stream rejected with ``status``."""
        if status in (lib.SP_ERR_LENGTH_NOT_POSITIVE, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
            return length_error(length, self.capacity)
        return self._status_error(status)

    def _status_error(self, status: int) -> Exception:
        if status == lib.SP_ERR_FINISHED:
            return ValueError("this StreamPacker is finished: create a new one to pack more lengths")
        if status == lib.SP_ERR_OVERFLOW:
            return OverflowError(f"a stream takes at most {INT64_MAX} sequences")
        if status == lib.SP_ERR_OUT_OF_MEMORY:
            return MemoryError("seqpacker: out of memory")
        return RuntimeError(f"seqpacker C library error {status}: {status_string(status)}")

    def pack_many(self, lengths: np.ndarray, ids_only: bool = False):
        """Add a contiguous int64 array (all of it or, on a bad length, none)
        and move out the unread packs and every pack it closes, in one C
        pass (``sp_stream_pack_many``): ``(items, lengths, offsets, used)``
        as ``read()`` gives them."""
        n = len(lengths)
        # items size, packs size, packs written, error index
        out = ffi.new("int64_t[4]")
        source = ffi.from_buffer("int64_t[]", lengths)
        while True:
            status = lib.sp_stream_pack_many_bound(self._handle, n, out, out + 1)
            if status != lib.SP_OK:
                raise self._status_error(status)
            items_size, packs_size = out[0], out[1]
            items = np.empty(items_size, dtype=np.int64)
            offsets = np.empty(packs_size + 1, dtype=np.int64)
            item_lengths = None if ids_only else np.empty(items_size, dtype=np.int64)
            used = None if ids_only else np.empty(packs_size, dtype=np.int64)
            status = lib.sp_stream_pack_many(
                self._handle, source, n,
                ffi.from_buffer("int64_t[]", items, require_writable=True),
                ffi.NULL if ids_only else ffi.from_buffer("int64_t[]", item_lengths, require_writable=True),
                items_size,
                ffi.from_buffer("int64_t[]", offsets, require_writable=True),
                ffi.NULL if ids_only else ffi.from_buffer("int64_t[]", used, require_writable=True),
                packs_size, out + 2, out + 3,
            )
            # Another thread may have added to the stream since the sizes
            # were taken; then size again.
            if status != lib.SP_ERR_BUFFER_TOO_SMALL:
                break
        if status in (lib.SP_ERR_LENGTH_NOT_POSITIVE, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
            raise_for_status(status, lengths, self.capacity, out[3])
        if status != lib.SP_OK:
            raise self._status_error(status)
        got = out[2]
        end = offsets[got]
        if ids_only:
            return items[:end], None, offsets[: got + 1], None
        return items[:end], item_lengths[:end], offsets[: got + 1], used[:got]

    def finish(self) -> None:
        status = lib.sp_stream_finish(self._handle)
        if status != lib.SP_OK:
            raise self._status_error(status)

    def read(self):
        """Move the unread packs out: ``(items, lengths, offsets, used)``.

        ``offsets`` has ``num_packs + 1`` entries from 0; pack ``p`` holds
        ``items[offsets[p]:offsets[p + 1]]`` with ``lengths`` alongside.
        """
        counts = ffi.new("int64_t[2]")
        while True:
            lib.sp_stream_pending(self._handle, counts, counts + 1)
            num_packs, num_items = counts[0], counts[1]
            items = np.empty(num_items, dtype=np.int64)
            offsets = np.empty(num_packs + 1, dtype=np.int64)
            lengths = np.empty(num_items, dtype=np.int64)
            used = np.empty(num_packs, dtype=np.int64)
            status = lib.sp_stream_read(
                self._handle,
                ffi.from_buffer("int64_t[]", items, require_writable=True),
                ffi.from_buffer("int64_t[]", lengths, require_writable=True),
                num_items,
                ffi.from_buffer("int64_t[]", offsets, require_writable=True),
                ffi.from_buffer("int64_t[]", used, require_writable=True),
                num_packs,
                counts,
            )
            # Another thread may have closed more packs since the sizes
            # were taken; then size again.
            if status != lib.SP_ERR_BUFFER_TOO_SMALL:
                break
        if status != lib.SP_OK:
            raise self._status_error(status)
        got = counts[0]
        return items[: offsets[got]], lengths[: offsets[got]], offsets[: got + 1], used[:got]

    def export_state(self) -> np.ndarray:
        """The whole state as an int64 array (see ``sp_stream_export``)."""
        size = ffi.new("int64_t *")
        while True:
            lib.sp_stream_state_size(self._handle, size)
            state = np.empty(size[0], dtype=np.int64)
            status = lib.sp_stream_export(
                self._handle, ffi.from_buffer("int64_t[]", state, require_writable=True), size[0], size
            )
            if status != lib.SP_ERR_BUFFER_TOO_SMALL:  # else it grew meanwhile
                break
        if status != lib.SP_OK:
            raise self._status_error(status)
        return state

    @property
    def sequences_added(self) -> int:
        return lib.sp_stream_sequences_added(self._handle)

    @property
    def open_bins(self) -> int:
        return lib.sp_stream_open_bins(self._handle)
