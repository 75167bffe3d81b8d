"""The sharded-packing core over lengths: one shard's packing, the repack of
residues, and the shard counts and defaults they share.

``distributed`` (the public module) and the engines' stage modules
(``shard_stage``, ``plan_stage``, ``engine_stages``) both build on this
module, which imports NumPy and the core only and none of them, so that no
module imports one above it (``distributed`` re-exports the public names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._core import native as _native
from .._core.validation import as_lengths
from ..packer import Packer
from ..result import bin_sums

#: Packs filled to more than this fraction of the capacity stay in their shard.
DEFAULT_MIN_FILL = 0.5
#: Rows per shard when an engine shards by content and no count is given.
DEFAULT_SHARD_ROWS = 1_000_000


@dataclass(frozen=True)
class ShardPacking:
    """The packing of one shard: the packs it keeps and its residue.

    ``items`` lists the kept packs' row numbers (positions in the shard's
    lengths) pack by pack, ``offsets`` holds the ``num_packs + 1`` pack
    boundaries in it, and ``residue`` the rows of the packs not kept, in
    ascending order. Every row is in exactly one of the two.
    """

    capacity: int
    lengths: np.ndarray
    items: np.ndarray
    offsets: np.ndarray
    residue: np.ndarray

    @property
    def num_packs(self) -> int:
        return self.offsets.size - 1

    @property
    def residue_fraction(self) -> float:
        """The share of the shard's rows in its residue (0.0 for no rows)."""
        return self.residue.size / self.lengths.size if self.lengths.size else 0.0


@dataclass(frozen=True)
class ShardedPacking:
    """Packs whose sequences are named by shard and row.

    Pack ``p`` holds the sequences ``shard[offsets[p]:offsets[p + 1]]``,
    ``row[...]`` (their rows within their shards), with ``lengths[...]``.
    """

    capacity: int
    shard: np.ndarray
    row: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray

    @property
    def num_packs(self) -> int:
        return self.offsets.size - 1

    @property
    def used(self) -> np.ndarray:
        """The tokens of each pack."""
        return bin_sums(self.lengths.astype(np.int64, copy=False), self.offsets)

    @property
    def efficiency(self) -> float:
        """Tokens over token slots, ``sum(lengths) / (num_packs * capacity)``."""
        return int(self.lengths.sum()) / (self.num_packs * self.capacity) \
            if self.num_packs else 0.0


#: The C library's check, before a reordered or partial copy is packed, so
#: that the error names the caller's own index (and shard: ``batch``).
check_lengths = _native.check_lengths


def check_min_fill(min_fill) -> float:
    if isinstance(min_fill, bool) or not isinstance(min_fill, (int, float)) \
            or not 0.0 <= min_fill < 1.0:
        raise ValueError(f"min_fill must be a number in [0, 1), not {min_fill!r}")
    return float(min_fill)


def shard_packer(capacity, strategy, seed, max_seqs_per_pack, k=None, threads=1) -> Packer:
    """The Packer of a shard; building it checks every option. One thread
    per call by default: an engine already runs a task per core."""
    return Packer(capacity, strategy, seed, k=k, threads=threads,
                  max_seqs_per_pack=max_seqs_per_pack)


def pack_shard(lengths, capacity: int, *, strategy: str = "obfd", seed: int | None = None,
               min_fill: float = DEFAULT_MIN_FILL, max_seqs_per_pack: int | None = None,
               k: int | None = None, threads: int | None = 1) -> ShardPacking:
    """Pack one shard's ``lengths``; keep the packs filled to more than
    ``min_fill * capacity`` tokens (and those holding ``max_seqs_per_pack``
    sequences, which could take no more) and return the rest as residue.

    ``strategy``, ``seed``, ``max_seqs_per_pack``, ``k`` and ``threads``
    are as in ``Packer`` (one thread by default, as an engine runs a task
    per core); ``min_fill`` is a number in [0, 1) (0 keeps every pack).
    """
    min_fill = check_min_fill(min_fill)
    packer = shard_packer(capacity, strategy, seed, max_seqs_per_pack, k, threads)
    lengths = as_lengths(lengths)
    result = packer.pack(lengths)
    counts = np.diff(result.offsets)
    keep = result.used > min_fill * packer.capacity
    if packer.max_seqs_per_pack is not None:
        keep |= counts == packer.max_seqs_per_pack
    kept_counts = counts[keep]
    offsets = np.zeros(kept_counts.size + 1, dtype=np.int64)
    np.cumsum(kept_counts, out=offsets[1:])
    in_kept = np.repeat(keep, counts)
    return ShardPacking(capacity=packer.capacity, lengths=lengths,
                        items=result.items[in_kept], offsets=offsets,
                        residue=np.sort(result.items[~in_kept]))


def repack_order(shard, row, lengths, capacity: int, *, strategy: str = "obfd",
                 seed: int | None = None, max_seqs_per_pack: int | None = None,
                 k: int | None = None, threads: int | None = 1
                 ) -> tuple[np.ndarray, ShardedPacking]:
    """``repack``'s packing, and for each packed sequence its position in
    the arrays given (for callers that hold the rows beside them)."""
    packer = shard_packer(capacity, strategy, seed, max_seqs_per_pack, k, threads)
    lengths = as_lengths(lengths)
    check_lengths(lengths, packer.capacity)
    shard = _row_numbers("shard", shard, lengths.size)
    row = _row_numbers("row", row, lengths.size)
    order = np.lexsort((row, shard))
    shard, row = shard[order], row[order]
    twice = np.flatnonzero((shard[1:] == shard[:-1]) & (row[1:] == row[:-1]))
    if twice.size:
        i = int(twice[0])
        raise ValueError(f"residue row {int(row[i])} of shard {int(shard[i])} is given twice")
    ordered = lengths[order]
    result = packer.pack(ordered)
    items = result.items
    packing = ShardedPacking(capacity=result.capacity, shard=shard[items], row=row[items],
                             lengths=ordered[items],
                             offsets=result.offsets.astype(np.int64))
    return order[items], packing


def _row_numbers(name: str, values, size: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size != size:
        raise ValueError(f"{name} must be a 1-D array of {size} entries (one per length), "
                         f"not of shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, not {array.dtype}")
    array = array.astype(np.int64)
    if array.size and array.min() < 0:
        i = int(np.argmin(array))
        raise ValueError(f"{name}[{i}] is {int(array[i])}; it must be >= 0")
    return array


def shard_count(rows: int, shard_rows: int = DEFAULT_SHARD_ROWS) -> int:
    """Shards of about ``shard_rows`` rows for ``rows`` rows (at least one)."""
    return max(1, math.ceil(rows / shard_rows))
