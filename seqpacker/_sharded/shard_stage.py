"""The stages of sharded packing over Arrow tables of tokens.

Ray Data and PySpark run these functions on their workers; the engine-free
``distributed.pack_tables`` runs them in one process. So that every one of
them gives the same rows:

1. ``assign_shards`` gives each row a shard (its content key modulo the
   shard count) when the caller names no shard column.
2. ``pack_shards_in`` packs every shard found in a table. A shard's rows
   are first put in content order (``content_order``), since an engine
   hands them over in whatever order its shuffle left them; the pieces of
   the rows (``on_overlong``) are numbered in that order. The kept packs
   come out as packed rows; the residue pieces as rows of their own, with
   their shard and piece number in ``SHARD`` and ``ROW`` (``ROW`` is -1 on
   packed rows).
3. ``repack_residue`` packs all residue rows in (shard, piece) order.

Each function depends only on the rows it is given, so an engine that
retries a failed task gets the same output again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa

from .._training.arrow_rows import ArrowSource, RowError, bin_ranges, check_unpadded, list_array, \
    packed_schema, position_dtype, record_batch
from .content_order import content_keys, content_order, shard_of_keys
from .._training.layout import LABEL_CONVENTIONS, check_choice, pack_arrays
from .sharding import DEFAULT_MIN_FILL, check_min_fill, pack_shard, repack_order, shard_packer
from ..result import bin_sums
from .._training.tokens import Pieces, check_on_overlong, cut_overlong

SHARD = "_seqpacker_shard"
ROW = "_seqpacker_row"


@dataclass(frozen=True)
class StageOptions:
    """What both stages need, checked once by the caller that builds it."""

    capacity: int
    strategy: str
    seed: int | None
    min_fill: float
    max_seqs_per_pack: int | None
    on_overlong: str
    label_convention: str
    has_labels: bool

    @classmethod
    def checked(cls, capacity, *, strategy="obfd", seed=None,
                min_fill=DEFAULT_MIN_FILL, max_seqs_per_pack=None,
                on_overlong="error", label_convention="hf", has_labels=False) -> StageOptions:
        packer = shard_packer(capacity, strategy, seed, max_seqs_per_pack)
        position_dtype(packer.capacity)
        return cls(capacity=packer.capacity, strategy=packer.strategy, seed=seed,
                   min_fill=check_min_fill(min_fill),
                   max_seqs_per_pack=packer.max_seqs_per_pack,
                   on_overlong=check_on_overlong(on_overlong),
                   label_convention=check_choice("label_convention", label_convention,
                                                 LABEL_CONVENTIONS),
                   has_labels=bool(has_labels))

    def pack_options(self) -> dict:
        return {"strategy": self.strategy, "seed": self.seed,
                "max_seqs_per_pack": self.max_seqs_per_pack}


# ---- schemas -----------------------------------------------------------------

def token_types(schema: pa.Schema) -> tuple[pa.DataType, pa.DataType | None]:
    """The ``input_ids`` and ``labels`` (None without) list types of a source
    schema, checked to be lists of integers."""
    if "input_ids" not in schema.names:
        raise ValueError(f"the data has no 'input_ids' column (it has "
                         f"{', '.join(schema.names) or 'none'})")
    types = []
    for name in ("input_ids", "labels"):
        if name not in schema.names:
            types.append(None)
            continue
        kind = schema.field(name).type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) \
                or not pa.types.is_integer(kind.value_type):
            raise TypeError(f"column {name!r} must hold lists of integers, got {kind}")
        types.append(kind)
    return types[0], types[1]


def token_value_types(schema: pa.Schema) -> tuple:
    """The value types of ``input_ids`` and ``labels`` (None without): what
    two sources must share to give rows of one schema."""
    return tuple(None if kind is None else kind.value_type for kind in token_types(schema))


def output_schema(schema: pa.Schema, capacity: int) -> pa.Schema:
    """The packed rows' schema for a source of ``schema``."""
    input_type, label_type = token_types(schema)
    columns = {"input_ids": pa.array([], input_type)}
    if label_type is not None:
        columns["labels"] = pa.array([], label_type)
    return packed_schema(ArrowSource(pa.table(columns)), capacity)


def stage_schema(packed: pa.Schema) -> pa.Schema:
    """The first stage's rows: packed rows, or residue pieces with SHARD and ROW."""
    return packed.append(pa.field(SHARD, pa.int64())).append(pa.field(ROW, pa.int64()))


# ---- stage 0: shards by content ----------------------------------------------

def unpadded_tokens(table: pa.Table) -> pa.Table:
    """``table`` without its ``attention_mask``, once that has been checked
    to mark no padding (every stage after the first reads tokens only)."""
    if "attention_mask" not in table.column_names:
        return table
    check_unpadded(table, None, "the data")
    return table.drop(["attention_mask"])


def assign_shards(table: pa.Table, num_shards: int) -> pa.Table:
    """``table`` with a SHARD column: each row's content key modulo ``num_shards``."""
    table = unpadded_tokens(table)
    source = ArrowSource(table)
    columns = [column.flat() for column in source.columns.values()]
    shards = shard_of_keys(content_keys(columns), num_shards)
    return table.append_column(SHARD, pa.array(shards, pa.int64()))


def integer_column(table: pa.Table, column: str) -> np.ndarray:
    """A column of integers without nulls, as int64 (a clear error otherwise)."""
    values = table.column(column)
    if not pa.types.is_integer(values.type):
        raise TypeError(f"column {column!r} must hold integers, not {values.type}")
    if values.null_count:
        row = int(values.is_null().to_numpy(zero_copy_only=False).argmax())
        raise RowError(f"column {column!r} is null in row {{row}}", row)
    if values.type == pa.uint64() and len(values) and \
            int(np.asarray(values.to_numpy()).max()) > np.iinfo(np.int64).max:
        raise ValueError(f"column {column!r} holds a value above {np.iinfo(np.int64).max}")
    return np.asarray(values.to_numpy(), dtype=np.int64)


def shard_from_column(table: pa.Table, column: str) -> pa.Table:
    """``table`` with its ``column`` of shard numbers (integers >= 0) as SHARD."""
    table = unpadded_tokens(table)
    shards = integer_column(table, column)
    negative = np.flatnonzero(shards < 0)
    if negative.size:
        row = int(negative[0])
        raise RowError(f"shard column {column!r} is {int(shards[row])} in row {{row}}; "
                       "shard numbers must be >= 0", row)
    index = table.schema.get_field_index(column)
    return table.remove_column(index).append_column(SHARD, pa.array(shards, pa.int64()))


# ---- stage 1: every shard of a table -----------------------------------------

def pack_shards_in(table: pa.Table, options: StageOptions, schema: pa.Schema
                   ) -> Iterator[pa.RecordBatch]:
    """Pack each shard of ``table`` (rows with SHARD), in shard number order;
    batches of ``schema`` (``stage_schema``)."""
    if table.num_rows == 0:
        return
    shards = integer_column(table, SHARD)
    order = np.argsort(shards, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(shards[order]) != 0, True])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        rows = order[start:stop]
        yield from _pack_one_shard(table, rows, int(shards[rows[0]]), options, schema)


def _pack_one_shard(table, rows: np.ndarray, shard: int, options: StageOptions,
                    schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    source = ArrowSource(table, rows)
    _check_labels(source, options)
    if options.on_overlong == "error":
        _check_not_overlong(source, rows, shard, options.capacity)
    columns = [column.flat() for column in source.columns.values()]
    order = content_order(columns, content_keys(columns))
    cut = cut_overlong(source.lengths[order], options.capacity, options.on_overlong)
    pieces = Pieces(order[cut.origin], cut.skip, cut.length)
    packing = pack_shard(pieces.length, options.capacity,
                         min_fill=options.min_fill, **options.pack_options())
    used = bin_sums(pieces.length[packing.items], packing.offsets)  # int64, as cut_overlong's
    for first, last in bin_ranges(used):
        offsets = packing.offsets[first:last + 1]
        arrays = pack_arrays(source, pieces, packing.items[offsets[0]:offsets[-1]],
                             offsets - offsets[0], options.capacity, layout="flat",
                             label_convention=options.label_convention,
                             position_dtype=schema.field("position_ids").type.value_type
                             .to_pandas_dtype())
        batch = record_batch(arrays)
        yield _with_keys(batch, schema, np.full(batch.num_rows, shard), np.full(batch.num_rows, -1))
    if packing.residue.size:
        yield _residue_rows(source, pieces, packing.residue, shard, schema)


def _check_not_overlong(source: ArrowSource, rows: np.ndarray, shard: int, capacity: int) -> None:
    """Name the first sequence longer than ``capacity`` by its row in the
    table given and by its first tokens (an engine's row numbers are its
    own, so the tokens are what finds it in the data)."""
    over = np.flatnonzero(source.lengths > capacity)
    if over.size:
        i = int(over[0])
        head = np.empty(8, dtype=source.dtype("input_ids"))  # capacity + 1 tokens at least
        count = min(head.size, int(source.lengths[i]))
        source.copy_runs("input_ids", head, np.array([i]), np.zeros(1, np.int64),
                         np.zeros(1, np.int64), np.array([count]))
        head = head[:count]
        raise ValueError(f"row {int(rows[i])} of shard {shard} has {int(source.lengths[i])} "
                         f"tokens, more than the capacity {capacity} (it starts "
                         f"{head.tolist()}): pass on_overlong='truncate' or 'split'")


def _check_labels(source: ArrowSource, options: StageOptions) -> None:
    if source.has_labels != options.has_labels:
        raise ValueError("the rows " + ("have" if source.has_labels else "lack")
                         + " a labels column, unlike the data the options were made for")


def _with_keys(batch: pa.RecordBatch, schema: pa.Schema, shard, row) -> pa.RecordBatch:
    arrays = [batch.column(name).cast(schema.field(name).type) for name in batch.schema.names]
    return pa.RecordBatch.from_arrays(arrays + [pa.array(shard, pa.int64()),
                                                pa.array(row, pa.int64())], schema=schema)


def _residue_rows(source: ArrowSource, pieces: Pieces, residue: np.ndarray, shard: int,
                  schema: pa.Schema) -> pa.RecordBatch:
    """The residue pieces as rows of their tokens (and labels), in piece order."""
    lengths = pieces.length[residue]
    offsets = np.zeros(residue.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    columns = {}
    for name in ("input_ids", "labels"):
        kind = schema.field(name).type
        if name in source.columns:
            values = np.empty(int(offsets[-1]), dtype=source.dtype(name))
            source.copy_runs(name, values, pieces.origin[residue], pieces.skip[residue],
                             offsets[:-1], lengths)
            columns[name] = list_array(values, offsets).cast(kind)
        else:
            columns[name] = pa.nulls(residue.size, kind)
    for name in ("position_ids", "seq_lengths"):
        columns[name] = pa.nulls(residue.size, schema.field(name).type)
    columns[SHARD] = pa.array(np.full(residue.size, shard), pa.int64())
    columns[ROW] = pa.array(residue, pa.int64())
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


# ---- stage 2: the residues of all shards --------------------------------------

def is_residue(table: pa.Table) -> np.ndarray:
    """Which rows of a first-stage table are residue pieces."""
    return np.asarray(table.column(ROW).to_numpy(zero_copy_only=False)) >= 0


def kept_rows(table: pa.Table, packed: pa.Schema) -> pa.Table:
    """The packed rows of a first-stage table, without SHARD and ROW."""
    return table.filter(pa.array(~is_residue(table))).select(packed.names).cast(packed)


def residue_rows(table: pa.Table) -> pa.Table:
    """The residue rows of a first-stage table."""
    return table.filter(pa.array(is_residue(table)))


def repack_residue(table: pa.Table, options: StageOptions, packed: pa.Schema
                   ) -> Iterator[pa.RecordBatch]:
    """Pack the residue rows of ``table`` (in any order) into packed rows of
    ``packed``'s schema."""
    if table.num_rows == 0:
        return
    shard = np.asarray(table.column(SHARD).to_numpy(zero_copy_only=False), dtype=np.int64)
    row = np.asarray(table.column(ROW).to_numpy(zero_copy_only=False), dtype=np.int64)
    tokens = table.select(["input_ids", "labels"] if options.has_labels else ["input_ids"])
    source = ArrowSource(tokens)
    order, packing = repack_order(shard, row, source.lengths, options.capacity,
                                  **options.pack_options())
    pieces = Pieces.whole(source.lengths)
    for first, last in bin_ranges(packing.used):
        offsets = packing.offsets[first:last + 1]
        arrays = pack_arrays(source, pieces, order[offsets[0]:offsets[-1]],
                             offsets - offsets[0], options.capacity, layout="flat",
                             label_convention=options.label_convention,
                             position_dtype=packed.field("position_ids").type.value_type
                             .to_pandas_dtype())
        batch = record_batch(arrays)
        yield pa.RecordBatch.from_arrays(
            [batch.column(name).cast(packed.field(name).type) for name in packed.names],
            schema=packed)
