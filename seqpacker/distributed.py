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
imports NumPy only (``pack_tables`` imports pyarrow and the stage modules
when called; the core over lengths is in ``_sharded.sharding``).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ._core.validation import as_lengths, check_capacity, check_positive
# The core over lengths lives in _sharded.sharding, below both this module
# and the engines' stage modules, which import it and never this module.
from ._sharded.sharding import (DEFAULT_MIN_FILL, DEFAULT_SHARD_ROWS, ShardedPacking,  # noqa: F401
                                ShardPacking, check_lengths, check_min_fill, pack_shard,
                                repack_order, shard_count, shard_packer)

__all__ = ["DEFAULT_MIN_FILL", "DEFAULT_SHARD_ROWS", "ShardPacking", "ShardedPacking",
           "pack_in_shards", "pack_shard", "pack_shards", "pack_tables", "repack"]


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
    # Every option is checked before the first shard is read.
    capacity = shard_packer(capacity, strategy, seed, max_seqs_per_pack, k, threads).capacity
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
    check_lengths(lengths, check_capacity(capacity))  # pack_shards checks the other options
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

    from ._sharded import engine_stages as engine
    from ._sharded import shard_stage

    tables = list(shards)
    if not tables:
        raise ValueError("pack_tables needs at least one shard")
    for number, table in enumerate(tables):
        if not isinstance(table, pa.Table):
            raise TypeError(f"shard {number} is a {type(table).__name__}, not a pyarrow.Table")
    kinds = [shard_stage.token_value_types(table.schema) for table in tables]
    for number, kind in enumerate(kinds):
        if kind != kinds[0]:
            raise ValueError(f"shard {number}'s token columns hold {kind}, shard 0's "
                             f"{kinds[0]} (input_ids, labels)")
    schema = tables[0].schema
    options = shard_stage.StageOptions.checked(
        capacity, strategy=strategy, seed=seed, min_fill=min_fill,
        max_seqs_per_pack=max_seqs_per_pack, on_overlong=on_overlong,
        label_convention=label_convention, has_labels=kinds[0][1] is not None)
    # The engines' stages, with each table's number as its shard.
    stages = engine.token_stages(schema, options, shard_stage.SHARD, None)
    names = [name for name in stages.columns if name != shard_stage.SHARD]
    kept, residue = [], []
    for number, table in enumerate(tables):
        read = table.select([name for name in names if name in table.column_names])
        keyed = stages.prepare(read.append_column(
            shard_stage.SHARD, pa.array(np.full(table.num_rows, number), pa.int64())))
        staged = pa.Table.from_batches(list(stages.pack(keyed)), stages.staged_schema)
        kept.append(stages.kept(staged))
        residue.append(stages.residue(staged))
    rest = stages.repack(pa.concat_tables(residue))
    return pa.concat_tables(kept + [pa.Table.from_batches(list(rest), stages.output_schema)])


