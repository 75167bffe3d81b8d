"""Packing a corpus shard by shard, for engines that run shards on many workers.

    from seqpacker.distributed import pack_shard, repack, pack_shards

Each shard is packed on its own (``pack_shard``); the packs it fills to more
than ``min_fill`` of the capacity are kept where they are, and the
sequences of the others (its residue) go to one ``repack`` of the residues
of all shards. The result depends only on each shard's lengths and the
shard numbers: never on how many workers ran the shards, in which order
they finished, or in which order the residues arrived (``repack`` sorts them
by shard and row first).

With the default ``min_fill`` of one half and an any-fit strategy (best or
first fit, and their decreasing forms, the default ``obfd`` among them), at
most one pack of a shard is left at half the capacity or less, and after
the repack at most one of the whole corpus: no two packs could be merged
into one, as in a single any-fit packing (docs/distributed.md gives the
efficiency against a global packing on real length distributions).

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

from . import _native
from ._validation import as_lengths, check_positive
from .packer import Packer
from .result import bin_sums

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
        return bin_sums(self.lengths.astype(np.int64, copy=False), self.offsets)

    @property
    def efficiency(self) -> float:
        """Tokens over token slots, ``sum(lengths) / (num_packs * capacity)``."""
        return int(self.lengths.sum()) / (self.num_packs * self.capacity) \
            if self.num_packs else 0.0


def check_lengths(lengths: np.ndarray, capacity: int, name: str = "lengths") -> None:
    """Every length in [1, capacity], or the C library's error for the first
    that is not, under ``name`` (so that callers that pack a reordered or
    partial copy still name the caller's own index)."""
    bad = np.flatnonzero((lengths < 1) | (lengths > capacity))
    if bad.size:
        i = int(bad[0])
        value = int(lengths[i])
        status = _native.lib.SP_ERR_LENGTH_NOT_POSITIVE if value < 1 else \
            _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY
        raise _native.error(status, name=f"{name}[{i}]", value=value, capacity=capacity)


def check_min_fill(min_fill) -> float:
    if isinstance(min_fill, bool) or not isinstance(min_fill, (int, float)) \
            or not 0.0 <= min_fill < 1.0:
        raise ValueError(f"min_fill must be a number in [0, 1), not {min_fill!r}")
    return float(min_fill)


def _packer(capacity, strategy, seed, max_seqs_per_pack, k=None, threads=1) -> Packer:
    # One thread per call by default: an engine already runs a task per core.
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
    packer = _packer(capacity, strategy, seed, max_seqs_per_pack, k, threads)
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
           k: int | None = None, threads: int | None = 1) -> ShardedPacking:
    """Pack the residue rows of all shards together.

    ``shard``, ``row`` and ``lengths`` are parallel arrays, one entry per
    residue row, in any order: they are sorted by (shard, row) first, so
    the packs do not depend on the order in which the residues arrived. A
    (shard, row) pair given twice raises ValueError.
    """
    return repack_order(shard, row, lengths, capacity, strategy=strategy, seed=seed,
                        max_seqs_per_pack=max_seqs_per_pack, k=k, threads=threads)[1]


def repack_order(shard, row, lengths, capacity: int, *, strategy: str = "obfd",
                 seed: int | None = None, max_seqs_per_pack: int | None = None,
                 k: int | None = None, threads: int | None = 1
                 ) -> tuple[np.ndarray, ShardedPacking]:
    """``repack``'s packing, and for each packed sequence its position in
    the arrays given (for callers that hold the rows beside them)."""
    packer = _packer(capacity, strategy, seed, max_seqs_per_pack, k, threads)
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


def pack_shards(shards: Sequence, capacity: int, *, strategy: str = "obfd",
                seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                max_seqs_per_pack: int | None = None, k: int | None = None,
                threads: int | None = 1) -> ShardedPacking:
    """Pack every shard, then the residues together, in this process.

    ``shards`` is a sequence of length arrays, shard 0 first. The packs
    are the kept packs of shard 0, 1, ... in their order, then the packs of
    the repack: what an engine running ``pack_shard`` and ``repack`` on
    any number of workers produces. A bad length is named by its shard
    and its index there.
    """
    options = {"strategy": strategy, "seed": seed, "max_seqs_per_pack": max_seqs_per_pack,
               "k": k, "threads": threads}
    capacity = _packer(capacity, strategy, seed, max_seqs_per_pack, k, threads).capacity
    kept = []
    residue = []
    for number, lengths in enumerate(shards):
        lengths = as_lengths(lengths)
        check_lengths(lengths, capacity, f"shard {number}: lengths")
        packed = pack_shard(lengths, capacity, min_fill=min_fill, **options)
        kept.append((number, packed))
        residue.append((np.full(packed.residue.size, number, dtype=np.int64), packed.residue,
                        packed.lengths[packed.residue]))
    columns = [np.concatenate(column) for column in zip(*residue)] if residue else [[], [], []]
    rest = repack(*columns, capacity, **options)
    parts = [ShardedPacking(capacity=rest.capacity,
                            shard=np.full(p.items.size, number, dtype=np.int64), row=p.items,
                            lengths=p.lengths[p.items], offsets=p.offsets)
             for number, p in kept] + [rest]
    return concatenate(parts)


def pack_in_shards(lengths, capacity: int, shard_rows: int, *, strategy: str = "obfd",
                   seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                   max_seqs_per_pack: int | None = None, k: int | None = None,
                   threads: int | None = 1):
    """``pack_shards`` over consecutive shards of ``shard_rows`` lengths, as a
    ``PackResult`` over the lengths' own positions: one process's sharded
    packing, whose packing state is one shard's rather than all lengths'
    (the kept packs' ids are held until the end)."""
    from .result import PackResult

    shard_rows = check_positive("shard_rows", shard_rows)
    lengths = as_lengths(lengths).copy()  # the result freezes its arrays
    check_lengths(lengths, _packer(capacity, strategy, seed, max_seqs_per_pack, k,
                                   threads).capacity)
    start = time.perf_counter()
    starts = np.arange(0, max(lengths.size, 1), shard_rows, dtype=np.int64)
    packing = pack_shards([lengths[a:a + shard_rows] for a in starts], capacity,
                          strategy=strategy, seed=seed, min_fill=min_fill,
                          max_seqs_per_pack=max_seqs_per_pack, k=k, threads=threads)
    items = starts[packing.shard] + packing.row
    return PackResult._of_packing(items, packing.offsets, packing.used, lengths,
                                  packing.capacity, (time.perf_counter() - start) * 1e3)


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
    ``hf_utils.pack_dataset``; ``strategy``, ``seed``, ``min_fill`` and
    ``max_seqs_per_pack`` as in ``pack_shard``.

    Returns a ``pyarrow.Table`` of packed rows (``input_ids``, ``labels``,
    ``position_ids``, ``seq_lengths``): the kept packs of shard 0, 1, ...,
    then the packs of the residues. A shard's rows are packed in content
    order (docs/distributed.md), so the rows are those that
    ``seqpacker.ray.pack_dataset`` and ``seqpacker.spark.pack_dataframe``
    give for the same shards.
    """
    import pyarrow as pa

    from . import _engine_stages as engine
    from . import _shard_stage as token_stage

    tables = list(shards)
    if not tables:
        raise ValueError("pack_tables needs at least one shard")
    for number, table in enumerate(tables):
        if not isinstance(table, pa.Table):
            raise TypeError(f"shard {number} is a {type(table).__name__}, not a pyarrow.Table")
    kinds = [token_stage.token_value_types(table.schema) for table in tables]
    for number, kind in enumerate(kinds):
        if kind != kinds[0]:
            raise ValueError(f"shard {number}'s token columns hold {kind}, shard 0's "
                             f"{kinds[0]} (input_ids, labels)")
    schema = tables[0].schema
    options = token_stage.StageOptions.checked(
        capacity, strategy=strategy, seed=seed, min_fill=min_fill,
        max_seqs_per_pack=max_seqs_per_pack, on_overlong=on_overlong,
        label_convention=label_convention, has_labels=kinds[0][1] is not None)
    # The engines' stages, with each table's number as its shard.
    stages = engine.token_stages(schema, options, token_stage.SHARD, None)
    names = [name for name in stages.columns if name != token_stage.SHARD]
    kept, residue = [], []
    for number, table in enumerate(tables):
        read = table.select([name for name in names if name in table.column_names])
        keyed = stages.prepare(read.append_column(
            token_stage.SHARD, pa.array(np.full(table.num_rows, number), pa.int64())))
        staged = pa.Table.from_batches(list(stages.pack(keyed)), stages.staged_schema)
        kept.append(stages.kept(staged))
        residue.append(stages.residue(staged))
    rest = stages.repack(pa.concat_tables(residue))
    return pa.concat_tables(kept + [pa.Table.from_batches(list(rest), stages.output_schema)])


def shard_count(rows: int, shard_rows: int = DEFAULT_SHARD_ROWS) -> int:
    """Shards of about ``shard_rows`` rows for ``rows`` rows (at least one)."""
    return max(1, math.ceil(rows / shard_rows))
