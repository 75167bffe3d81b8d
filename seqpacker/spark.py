"""Packed rows from a PySpark DataFrame: every shard in one task, one repack.

    from seqpacker.spark import pack_dataframe
    packed = pack_dataframe(spark.read.parquet(path), capacity=4096)

The rows are grouped into shards (by ``shard_column``, or by the content key
of their tokens), repartitioned by shard, and each partition packs the shards
it holds with ``mapInArrow`` (``distributed.pack_shard``); the residues of all
shards go to one partition that packs them together (``distributed.repack``).
Tokens move as Arrow arrays; no Python runs per token. The rows equal
``distributed.pack_tables`` on the same shards, for any number of executors
and partitions (docs/distributed.md).

Needs PySpark (``pip install 'seqpacker[spark]'``); ``import seqpacker``
never imports this module.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from ._core.optional import import_optional
from ._core.validation import check_positive
from .distributed import DEFAULT_MIN_FILL

import_optional("pyspark", "spark", "seqpacker.spark")
from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema  # noqa: E402

from ._sharded import engine_stages as engine  # noqa: E402
from ._sharded.shard_stage import SHARD  # noqa: E402

__all__ = ["pack_dataframe", "plan_dataframe", "release"]


def pack_dataframe(df, capacity: int, *, shard_column: str | None = None,
                   num_shards: int | None = None, strategy: str = "obfd",
                   seed: int | None = None, min_fill: float = DEFAULT_MIN_FILL,
                   max_seqs_per_pack: int | None = None, on_overlong: str = "error",
                   label_convention: str = "hf", num_partitions: int | None = None):
    """Pack a PySpark DataFrame of token rows into a DataFrame of packed rows.

    Args:
        df: a DataFrame with an ``input_ids`` column of integer arrays and
            optionally ``labels``; other columns are dropped.
        capacity: tokens per packed row.
        shard_column: a column of non-negative integers naming each row's
            shard. None shards rows by the content key of their tokens into
            ``num_shards`` shards (None: one per million rows, which counts
            the rows first).
        strategy, seed, min_fill, max_seqs_per_pack: as in
            ``distributed.pack_shard``.
        on_overlong, label_convention: as in ``hf_utils.pack_dataset``.
        num_partitions: the partitions that shards are spread over (each
            holds whole shards), which bounds how many tasks pack shards at
            once; None means one per content shard, or the DataFrame's
            own partition count with a ``shard_column``. It changes where
            shards are packed, never the rows.

    Returns a DataFrame with ``input_ids``, ``labels``, ``position_ids``
    and ``seq_lengths`` (the columns of ``hf_utils.pack_dataset``). The
    shard stage runs when this is called and its output is persisted
    (memory and disk), so that the kept rows and the residue read it once;
    ``release(result)`` frees it once the result is written. A task that
    fails is run again by Spark (``spark.task.maxFailures``) on
    the same input and gives the same rows.
    """
    stages = engine.for_tokens(
        _arrow_schema(df), capacity, df.count, shard_column=shard_column, num_shards=num_shards,
        strategy=strategy, seed=seed, min_fill=min_fill, max_seqs_per_pack=max_seqs_per_pack,
        on_overlong=on_overlong, label_convention=label_convention)
    return _run(df, stages, num_partitions)


def plan_dataframe(df, capacity: int, *, id_column: str = "id", length_column: str = "length",
                   shard_column: str | None = None, num_shards: int | None = None,
                   strategy: str = "obfd", seed: int | None = None,
                   min_fill: float = DEFAULT_MIN_FILL, max_seqs_per_pack: int | None = None,
                   num_partitions: int | None = None):
    """Plan the packing of a DataFrame of ids and lengths, moving no tokens.

    Returns a DataFrame of ``id``, ``pack_shard`` and ``pack_index``,
    as ``seqpacker.ray.plan_dataset`` does (docs/distributed.md); other
    arguments are as in ``pack_dataframe``.
    """
    stages = engine.for_plan(
        _arrow_schema(df), capacity, df.count, id_column=id_column, length_column=length_column,
        shard_column=shard_column, num_shards=num_shards, strategy=strategy, seed=seed,
        min_fill=min_fill, max_seqs_per_pack=max_seqs_per_pack)
    return _run(df, stages, num_partitions)


def _arrow_schema(df) -> pa.Schema:
    if not isinstance(df, DataFrame):
        raise TypeError(f"df must be a pyspark.sql.DataFrame, not {type(df).__name__}")
    return to_arrow_schema(df.schema)


def _run(df, stages: engine.Stages, partitions: int | None):
    """Run ``stages`` on ``df``: see _sharded/engine_stages.py."""
    if partitions is None:
        # An empty DataFrame may have no partitions: one then.
        partitions = stages.num_shards or max(1, df.rdd.getNumPartitions())
    partitions = check_positive("num_partitions", partitions, " (or None)")
    keyed = df.select(*stages.columns).mapInArrow(_numbered(stages.prepare),
                                                  from_arrow_schema(stages.keyed_schema))
    staged = keyed.repartition(partitions, SHARD).mapInArrow(
        _per_partition(stages.pack), from_arrow_schema(stages.staged_schema))
    # The shard stage runs once, now: both branches below read its output.
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    staged.count()
    output = from_arrow_schema(stages.output_schema)
    kept = staged.mapInArrow(_per_batch(stages.kept), output)
    rest = staged.mapInArrow(_per_batch(stages.residue), from_arrow_schema(stages.staged_schema))
    rest = rest.repartition(1).mapInArrow(_per_partition(stages.repack), output)
    result = kept.unionByName(rest)
    result._seqpacker_stage = staged  # for release()
    return result


def release(result) -> None:
    """Free the persisted shard stage behind a result of ``pack_dataframe``
    or ``plan_dataframe``, once the result is written. Reading the result
    again afterwards runs the shard stage anew: the same rows, at the cost
    of the first run."""
    stage = getattr(result, "_seqpacker_stage", None)
    if stage is None:
        raise TypeError("release takes a DataFrame that pack_dataframe or plan_dataframe "
                        "returned")
    stage.unpersist()


# ---- the functions that run on the executors --------------------------------

def _per_batch(function):
    """A mapInArrow function applying ``function`` to each batch as a table."""
    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from function(pa.Table.from_batches([batch])).to_batches()
    return apply


def _numbered(function):
    """``_per_batch`` for a stage that checks the rows it reads: a row named
    in its error is numbered within the partition, not the Arrow batch.
    Spark gives a task no number of its rows in the DataFrame, so the error
    names the partition too."""
    from pyspark import TaskContext

    from ._training.arrow_rows import RowError

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        first_row = 0
        for batch in batches:
            try:
                out = function(pa.Table.from_batches([batch]))
            except RowError as error:
                context = TaskContext.get()
                partition = context.partitionId() if context is not None else "?"
                raise error.renumbered(first_row, f" (the row's number within partition "
                                                  f"{partition} of the DataFrame: Spark numbers "
                                                  f"no rows across partitions)") from None
            first_row += batch.num_rows
            yield from out.to_batches()
    return apply


def _per_partition(function):
    """A mapInArrow function applying ``function`` to the whole partition."""
    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = list(batches)
        if batches:
            yield from function(pa.Table.from_batches(batches))
    return apply
