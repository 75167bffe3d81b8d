"""What an engine runs for sharded packing, as functions of Arrow tables.

``seqpacker.ray`` and ``seqpacker.spark`` run the same ``Stages`` in the
same shape, so they differ only in how they call their engine:

1. ``prepare`` every batch: keep the columns needed, add the SHARD column;
2. group rows by SHARD and ``pack`` the shards of each group;
3. ``kept`` rows are output as they are; the ``residue`` rows of all
   groups go to one task that ``repack``\\ s them.

Every function is a pure function of its input (so a retried task gives the
same rows) and pickles by reference to this package's modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Iterator

import pyarrow as pa

from . import plan_stage
from . import shard_stage
from .._training.arrow_rows import check_one_sequence_per_row
from .sharding import shard_count
from .._core.validation import check_positive


@dataclass(frozen=True)
class Stages:
    columns: list           # the source columns read
    keyed_schema: pa.Schema  # rows after ``prepare``
    staged_schema: pa.Schema  # rows after ``pack``
    output_schema: pa.Schema  # the rows returned
    prepare: Callable[[pa.Table], pa.Table]
    pack: Callable[[pa.Table], Iterator[pa.RecordBatch]]
    kept: Callable[[pa.Table], pa.Table]
    residue: Callable[[pa.Table], pa.Table]
    repack: Callable[[pa.Table], Iterator[pa.RecordBatch]]
    num_shards: int | None  # the content shards, None with a shard column


def for_tokens(schema: pa.Schema, capacity: int, count: Callable[[], int], *,
               shard_column: str | None, num_shards: int | None, **packing) -> Stages:
    """The stages of ``pack_dataset``/``pack_dataframe``: options checked,
    the shard count resolved (``count()`` gives the rows, asked only when
    content shards have no count), the stages built."""
    label_type = shard_stage.token_types(schema)[1]
    options = shard_stage.StageOptions.checked(capacity, has_labels=label_type is not None, **packing)
    num_shards = _shard_count(schema, count, shard_column, num_shards)
    return token_stages(schema, options, shard_column, num_shards)


def for_plan(schema: pa.Schema, capacity: int, count: Callable[[], int], *, id_column: str,
             length_column: str, shard_column: str | None, num_shards: int | None,
             **packing) -> Stages:
    """The stages of ``plan_dataset``/``plan_dataframe`` (see ``for_tokens``)."""
    options = shard_stage.StageOptions.checked(capacity, **packing)
    num_shards = _shard_count(schema, count, shard_column, num_shards)
    return plan_stages(schema, options, id_column, length_column, shard_column, num_shards)


def _shard_count(schema: pa.Schema, count, shard_column, num_shards) -> int | None:
    check_shard_column(shard_column, num_shards, schema.names)
    if shard_column is not None:
        return None
    return shard_count(count()) if num_shards is None else \
        check_positive("num_shards", num_shards, " (or None)")


def check_shard_column(shard_column, num_shards, names) -> None:
    if shard_column is None:
        return
    if shard_column not in names:
        raise ValueError(f"shard_column {shard_column!r} is not a column of the data "
                         f"(it has {', '.join(names)})")
    if num_shards is not None:
        raise ValueError("num_shards counts content shards: with a shard_column, pass none")


def token_stages(schema: pa.Schema, options: shard_stage.StageOptions, shard_column: str | None,
                 num_shards: int | None) -> Stages:
    """Packed rows from rows of tokens (``distributed.pack_tables``'s stages).

    A source ``attention_mask`` is read by the first stage, which refuses
    padding and drops the column."""
    check_one_sequence_per_row(schema.names, "the data")
    label_type = shard_stage.token_types(schema)[1]
    names = ["input_ids"] + (["labels"] if label_type is not None else [])
    read = names + (["attention_mask"] if "attention_mask" in schema.names else [])
    keyed = pa.schema([schema.field(name) for name in names]
                      + [pa.field(shard_stage.SHARD, pa.int64())])
    packed = shard_stage.output_schema(schema, options.capacity)
    staged = shard_stage.stage_schema(packed)
    if shard_column is None:
        prepare = partial(shard_stage.assign_shards, num_shards=num_shards)
    else:
        prepare = partial(shard_stage.shard_from_column, column=shard_column)
    return Stages(
        columns=read + ([shard_column] if shard_column is not None else []),
        keyed_schema=keyed, staged_schema=staged, output_schema=packed, prepare=prepare,
        pack=partial(shard_stage.pack_shards_in, options=options, schema=staged),
        kept=partial(shard_stage.kept_rows, packed=packed), residue=shard_stage.residue_rows,
        repack=partial(shard_stage.repack_residue, options=options, packed=packed),
        num_shards=num_shards)


def plan_stages(schema: pa.Schema, options: shard_stage.StageOptions, id_column: str,
                length_column: str, shard_column: str | None, num_shards: int | None) -> Stages:
    """A plan (id, pack_shard, pack_index) from rows of ids and lengths."""
    for column in (id_column, length_column):
        if column not in schema.names:
            raise ValueError(f"{column!r} is not a column of the data (it has "
                             f"{', '.join(schema.names)})")
        if not pa.types.is_integer(schema.field(column).type):
            raise TypeError(f"column {column!r} must hold integers, not "
                            f"{schema.field(column).type}")
    keyed = pa.schema([(plan_stage.ID, pa.int64()), (plan_stage.LENGTH, pa.int64()),
                       (shard_stage.SHARD, pa.int64())])
    return Stages(
        columns=[id_column, length_column] + ([shard_column] if shard_column else []),
        keyed_schema=keyed, staged_schema=plan_stage.STAGE_SCHEMA, output_schema=plan_stage.PLAN_SCHEMA,
        prepare=partial(plan_stage.prepare, id_column=id_column, length_column=length_column,
                        shard_column=shard_column, num_shards=num_shards),
        pack=partial(plan_stage.plan_shards_in, options=options), kept=plan_stage.plan_rows,
        residue=plan_stage.residue_rows, repack=partial(plan_stage.repack_plan, options=options),
        num_shards=num_shards)
