"""Packing a corpus shard by shard, for engines that run shards on many workers.

    from seqpacker.distributed import pack_shard, repack, pack_shards

Each shard is packed on its own (``pack_shard``); the packs it fills to more
than ``min_fill`` of the capacity are kept where they are, and the
sequences of the others (its residue) go to one ``repack`` of the residues
of all shards. The result depends only on each shard's lengths and the
shard numbers: never on how many workers ran the shards, in which order
they finished, or in which order the residues arrived (``repack`` sorts them
by shard and row first).

With the default ``min_fill`` of one half, at most one pack of a shard is
left at half the capacity or less, and after the repack at most one of the
whole corpus: no two packs could be merged into one, as in a single any-fit
packing (docs/distributed.md gives the efficiency against a global packing
on real length distributions).

``pack_tables`` does the same with tokens, for Arrow tables of
``input_ids`` (and ``labels``), and gives packed rows; ``seqpacker.ray``
and ``seqpacker.spark`` run its stages on Ray Data and PySpark. This module
imports NumPy only (``pack_tables`` imports pyarrow when called).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._validation import as_lengths
from .packer import Packer

__all__ = ["DEFAULT_MIN_FILL", "DEFAULT_SHARD_ROWS", "ShardPacking", "ShardedPacking",
           "pack_in_shards", "pack_shard", "pack_shards", "pack_tables", "repack"]

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
        sums = np.zeros(self.lengths.size + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=sums[1:])
        return sums[self.offsets[1:]] - sums[self.offsets[:-1]]

    @property
    def efficiency(self) -> float:
        """Tokens over token slots, ``sum(lengths) / (num_packs * capacity)``."""
        return int(self.lengths.sum()) / (self.num_packs * self.capacity) \
            if self.num_packs else 0.0


def check_min_fill(min_fill) -> float:
    if isinstance(min_fill, bool) or not isinstance(min_fill, (int, float)) \
            or not 0.0 <= min_fill < 1.0:
        raise ValueError(f"min_fill must be a number in [0, 1), not {min_fill!r}")
    return float(min_fill)


def _packer(capacity, strategy, seed, max_seqs_per_pack, k=None) -> Packer:
    # One thread per call: an engine already runs one task per core.
    return Packer(capacity, strategy, seed, k=k, threads=1, max_seqs_per_pack=max_seqs_per_pack)


def pack_shard(lengths, capacity: int, *, strategy: str = "obfd", seed: int | None = None,
               min_fill: float = DEFAULT_MIN_FILL, max_seqs_per_pack: int | None = None,
               k: int | None = None) -> ShardPacking:
    """Pack one shard's ``lengths``; keep the packs filled to more than
    ``min_fill * capacity`` tokens (and those holding ``max_seqs_per_pack``
    sequences, which could take no more) and return the rest as residue.

    ``strategy``, ``seed``, ``max_seqs_per_pack`` and ``k`` are as in
    ``Packer``; ``min_fill`` is a number in [0, 1) (0 keeps every pack).
    """
    min_fill = check_min_fill(min_fill)
    packer = _packer(capacity, strategy, seed, max_seqs_per_pack, k)
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


def repack(shard, row, lengths, capacity: int, *, strategy: str = "obfd",
           seed: int | None = None, max_seqs_per_pack: int | None = None,
           k: int | None = None) -> ShardedPacking:
    """Pack the residue rows of all shards together.

    ``shard``, ``row`` and ``lengths`` are parallel arrays, one entry per
    residue row, in any order: they are sorted by (shard, row) first, so
    the packs do not depend on the order in which the residues arrived. A
    (shard, row) pair given twice raises ValueError.
    """
    return repack_order(shard, row, lengths, capacity, strategy=strategy, seed=seed,
                        max_seqs_per_pack=max_seqs_per_pack, k=k)[1]


def repack_order(shard, row, lengths, capacity: int, *, strategy: str = "obfd",
                 seed: int | None = None, max_seqs_per_pack: int | None = None,
                 k: int | None = None) -> tuple[np.ndarray, ShardedPacking]:
    """``repack``'s packing, and for each packed sequence its position in
    the arrays given (for callers that hold the rows beside them)."""
    lengths = as_lengths(lengths)
    shard = _row_numbers("shard", shard, lengths.size)
    row = _row_numbers("row", row, lengths.size)
    order = np.lexsort((row, shard))
    shard, row = shard[order], row[order]
    twice = np.flatnonzero((shard[1:] == shard[:-1]) & (row[1:] == row[:-1]))
    if twice.size:
        i = int(twice[0])
        raise ValueError(f"residue row {int(row[i])} of shard {int(shard[i])} is given twice")
    result = _packer(capacity, strategy, seed, max_seqs_per_pack, k).pack(lengths[order])
    items = result.items
    packing = ShardedPacking(capacity=result.capacity, shard=shard[items], row=row[items],
                             lengths=lengths[order][items],
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


def pack_shards(shards: Sequence, capacity: int, *, strategy: str = "obfd",
                seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                max_seqs_per_pack: int | None = None, k: int | None = None) -> ShardedPacking:
    """Pack every shard, then the residues together, in this process.

    ``shards`` is a sequence of length arrays, shard 0 first. The packs
    are the kept packs of shard 0, 1, ... in their order, then the packs of
    the repack: what an engine running ``pack_shard`` and ``repack`` on
    any number of workers produces.
    """
    kept = []
    residue = []
    for number, lengths in enumerate(shards):
        packed = pack_shard(lengths, capacity, strategy=strategy, seed=seed, min_fill=min_fill,
                            max_seqs_per_pack=max_seqs_per_pack, k=k)
        kept.append((number, packed))
        residue.append((np.full(packed.residue.size, number, dtype=np.int64), packed.residue,
                        packed.lengths[packed.residue]))
    columns = [np.concatenate(column) for column in zip(*residue)] if residue else [[], [], []]
    rest = repack(*columns, capacity, strategy=strategy, seed=seed,
                  max_seqs_per_pack=max_seqs_per_pack, k=k)
    parts = [ShardedPacking(capacity=rest.capacity,
                            shard=np.full(p.items.size, number, dtype=np.int64), row=p.items,
                            lengths=p.lengths[p.items], offsets=p.offsets)
             for number, p in kept] + [rest]
    return concatenate(parts)


def pack_in_shards(lengths, capacity: int, shard_rows: int, *, strategy: str = "obfd",
                   seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                   max_seqs_per_pack: int | None = None, k: int | None = None):
    """``pack_shards`` over consecutive shards of ``shard_rows`` lengths, as a
    ``PackResult`` over the lengths' own positions: one process's sharded
    packing, whose memory is bounded by one shard rather than all lengths."""
    from .result import PackResult

    shard_rows = _check_shard_rows(shard_rows)
    lengths = as_lengths(lengths)
    start = time.perf_counter()
    starts = np.arange(0, max(lengths.size, 1), shard_rows, dtype=np.int64)
    packing = pack_shards([lengths[a:a + shard_rows] for a in starts], capacity,
                          strategy=strategy, seed=seed, min_fill=min_fill,
                          max_seqs_per_pack=max_seqs_per_pack, k=k)
    items = starts[packing.shard] + packing.row
    return PackResult(items, packing.offsets, packing.used, lengths, packing.capacity,
                      (time.perf_counter() - start) * 1e3)


def _check_shard_rows(shard_rows) -> int:
    if isinstance(shard_rows, bool) or not isinstance(shard_rows, int) or shard_rows < 1:
        raise ValueError(f"shard_rows must be an int >= 1, not {shard_rows!r}")
    return shard_rows


def concatenate(parts: Sequence[ShardedPacking]) -> ShardedPacking:
    """The packs of ``parts`` one after another (all of one capacity)."""
    capacity = parts[0].capacity
    starts = np.cumsum([0] + [part.shard.size for part in parts])
    offsets = [np.zeros(1, dtype=np.int64)] + [part.offsets[1:] + start
                                               for part, start in zip(parts, starts)]
    return ShardedPacking(capacity=capacity,
                          shard=np.concatenate([part.shard for part in parts]),
                          row=np.concatenate([part.row for part in parts]),
                          lengths=np.concatenate([part.lengths for part in parts]),
                          offsets=np.concatenate(offsets))


def pack_tables(shards: Sequence, capacity: int, *, strategy: str = "obfd",
                seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                max_seqs_per_pack: int | None = None, on_overlong: str = "error",
                label_convention: str = "hf"):
    """Pack Arrow tables of tokens, one table per shard, shard 0 first.

    Each table has an ``input_ids`` column of integer lists and optionally
    ``labels`` (the same in every table); other columns are dropped.
    ``on_overlong`` and ``label_convention`` are as in
    ``hf_utils.pack_dataset``, the rest as in ``pack_shard``.

    Returns a ``pyarrow.Table`` of packed rows (``input_ids``, ``labels``,
    ``position_ids``, ``seq_lengths``): the kept packs of shard 0, 1, ...,
    then the packs of the residues. A shard's rows are packed in content
    order (docs/distributed.md), so the rows are those that
    ``seqpacker.ray.pack_dataset`` and ``seqpacker.spark.pack_dataframe``
    give for the same shards.
    """
    import pyarrow as pa

    from . import _shard_stage as stage

    tables = list(shards)
    if not tables:
        raise ValueError("pack_tables needs at least one shard")
    for number, table in enumerate(tables):
        if not isinstance(table, pa.Table):
            raise TypeError(f"shard {number} is a {type(table).__name__}, not a pyarrow.Table")
    schema = tables[0].schema
    types = stage.token_types(schema)
    for number, table in enumerate(tables[1:], start=1):
        if stage.token_types(table.schema) != types:
            raise ValueError(f"shard {number}'s token columns {stage.token_types(table.schema)} "
                             f"differ from shard 0's {types}")
    options = stage.StageOptions.checked(
        capacity, strategy=strategy, seed=seed, min_fill=min_fill,
        max_seqs_per_pack=max_seqs_per_pack, on_overlong=on_overlong,
        label_convention=label_convention, has_labels=types[1] is not None)
    packed = stage.output_schema(schema, options.capacity)
    staged_schema = stage.stage_schema(packed)
    columns = ["input_ids"] + (["labels"] if types[1] is not None else [])
    kept, residue = [], []
    for number, table in enumerate(tables):
        tokens = table.select(columns).append_column(
            stage.SHARD, pa.array(np.full(table.num_rows, number), pa.int64()))
        staged = pa.Table.from_batches(list(stage.pack_shards_in(tokens, options, staged_schema)),
                                       staged_schema)
        kept.extend(stage.kept_rows(staged, packed).to_batches())
        residue.append(stage.residue_rows(staged))
    rest = stage.repack_residue(pa.concat_tables(residue), options, packed)
    return pa.Table.from_batches(kept + list(rest), packed)


def shard_count(rows: int, shard_rows: int = DEFAULT_SHARD_ROWS) -> int:
    """Shards of about ``shard_rows`` rows for ``rows`` rows (at least one)."""
    return max(1, math.ceil(rows / shard_rows))
