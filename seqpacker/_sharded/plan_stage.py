"""The two stages of sharded packing over Arrow tables of lengths: a plan.

Where the tokens are too many to move, an engine packs the rows' lengths
alone and returns which pack each row joins; the caller joins that plan back
to its data. Rows are named by an id column (unique integers), and a shard's
rows are packed in id order, so the plan depends on the ids, lengths and
shards only, never on the order in which an engine delivers the rows.

A plan row is ``(id, pack_shard, pack_index)``: the kept pack ``pack_index``
of shard ``pack_shard``, or, with ``pack_shard == -1``, pack ``pack_index``
of the repack of all residues. ``distributed.pack_shards`` on each shard's
lengths in id order gives the same packs.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from .._training.arrow_rows import RowError
from .._core import native as _native
from .._core.mix import mix
from .shard_stage import SHARD, integer_column, shard_from_column
from .sharding import pack_shard, repack_order

ID = "id"
LENGTH = "length"
PACK_SHARD = "pack_shard"
PACK_INDEX = "pack_index"
#: The plan's rows.
PLAN_SCHEMA = pa.schema([(ID, pa.int64()), (PACK_SHARD, pa.int64()), (PACK_INDEX, pa.int64())])
#: The first stage's rows: plan rows, and residue rows with their length
#: (``pack_index == -1``, ``pack_shard`` their shard).
STAGE_SCHEMA = PLAN_SCHEMA.append(pa.field(LENGTH, pa.int64()))


def read_rows(table: pa.Table, id_column: str, length_column: str) -> pa.Table:
    """The ids and lengths of ``table`` as ID and LENGTH int64 columns."""
    for column in (id_column, length_column):
        if column not in table.column_names:
            raise ValueError(f"{column!r} is not a column (there are "
                             f"{', '.join(table.column_names)})")
    columns = {ID: integer_column(table, id_column), LENGTH: integer_column(table, length_column)}
    negative = np.flatnonzero(columns[ID] < 0)
    if negative.size:
        row = int(negative[0])
        raise RowError(f"id column {id_column!r} is {int(columns[ID][row])} in row {{row}}; "
                       "ids must be >= 0", row)
    return pa.table({name: pa.array(values, pa.int64()) for name, values in columns.items()})


def prepare(table: pa.Table, id_column: str, length_column: str, shard_column: str | None,
            num_shards: int | None) -> pa.Table:
    """ID, LENGTH and SHARD (from ``shard_column``, else from the id)."""
    rows = read_rows(table, id_column, length_column)
    if shard_column is None:
        return assign_shards(rows, num_shards)
    shards = shard_from_column(table.select([shard_column]), shard_column).column(SHARD)
    return rows.append_column(SHARD, shards)


def assign_shards(table: pa.Table, num_shards: int) -> pa.Table:
    """``table`` (with ID) and a SHARD column: the mixed id modulo ``num_shards``."""
    ids = integer_column(table, ID).view(np.uint64)
    with np.errstate(over="ignore"):
        shards = (mix(ids.copy()) % np.uint64(num_shards)).astype(np.int64)
    return table.append_column(SHARD, pa.array(shards, pa.int64()))


def plan_shards_in(table: pa.Table, options) -> Iterator[pa.RecordBatch]:
    """Pack the lengths of each shard of ``table`` (ID, LENGTH, SHARD) in id order."""
    if table.num_rows == 0:
        return
    ids, lengths, shards = (integer_column(table, c) for c in (ID, LENGTH, SHARD))
    i = _native.first_bad_length(lengths, options.capacity)  # the C library's judgement
    if i is not None:
        raise ValueError(f"the length of id {int(ids[i])} is {int(lengths[i])}: it must be "
                         f">= 1 and <= the capacity {options.capacity}")
    order = np.lexsort((ids, shards))
    ids, lengths, shards = ids[order], lengths[order], shards[order]
    twice = np.flatnonzero((ids[1:] == ids[:-1]) & (shards[1:] == shards[:-1]))
    if twice.size:
        raise ValueError(f"id {int(ids[twice[0]])} appears twice in shard "
                         f"{int(shards[twice[0]])}: ids must be unique")
    bounds = np.flatnonzero(np.r_[True, np.diff(shards) != 0, True])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        shard = int(shards[start])
        packing = pack_shard(lengths[start:stop], options.capacity,
                             min_fill=options.min_fill, **options.pack_options())
        pack_index = np.repeat(np.arange(packing.num_packs, dtype=np.int64),
                               np.diff(packing.offsets))
        rows = np.concatenate([packing.items, packing.residue]) + start
        index = np.concatenate([pack_index, np.full(packing.residue.size, -1, np.int64)])
        yield pa.RecordBatch.from_arrays(
            [pa.array(ids[rows]), pa.array(np.full(rows.size, shard, np.int64)),
             pa.array(index), pa.array(lengths[rows])], schema=STAGE_SCHEMA)


def is_residue(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column(PACK_INDEX).to_numpy(zero_copy_only=False)) < 0


def plan_rows(table: pa.Table) -> pa.Table:
    """The kept rows of a first-stage table, as plan rows."""
    return table.filter(pa.array(~is_residue(table))).select(PLAN_SCHEMA.names)


def residue_rows(table: pa.Table) -> pa.Table:
    """The residue rows of a first-stage table."""
    return table.filter(pa.array(is_residue(table)))


def repack_plan(table: pa.Table, options) -> Iterator[pa.RecordBatch]:
    """The plan rows of the repack of the residue rows of ``table``."""
    if table.num_rows == 0:
        return
    ids, lengths, shards = (integer_column(table, c) for c in (ID, LENGTH, PACK_SHARD))
    order, packing = repack_order(shards, ids, lengths, options.capacity,
                                  **options.pack_options())
    pack_index = np.repeat(np.arange(packing.num_packs, dtype=np.int64), np.diff(packing.offsets))
    yield pa.RecordBatch.from_arrays(
        [pa.array(ids[order]), pa.array(np.full(order.size, -1, np.int64)), pa.array(pack_index)],
        schema=PLAN_SCHEMA)
