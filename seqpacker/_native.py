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


def library_version() -> str:
    """The version string of the linked C library."""
    return ffi.string(lib.sp_version_string()).decode()


def status_string(status: int) -> str:
    return ffi.string(lib.sp_status_string(status)).decode()


def raise_for_status(
    status: int, lengths: np.ndarray | None, capacity: int, error_index: int
) -> None:
    """Turn a C status code into the matching Python exception."""
    if status == lib.SP_OK:
        return
    if status == lib.SP_ERR_LENGTH_NOT_POSITIVE:
        value = int(lengths[error_index])
        raise ValueError(
            f"lengths[{error_index}] = {value} is not a valid length: "
            f"every length must be >= 1"
        )
    if status == lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY:
        value = int(lengths[error_index])
        raise ValueError(
            f"lengths[{error_index}] = {value} exceeds capacity {capacity}"
        )
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
    """A filled ``sp_options`` struct (values already validated)."""
    opts = ffi.new("sp_options *")
    lib.sp_options_init(opts)
    opts.seed = seed
    opts.k = k
    opts.threads = threads
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
