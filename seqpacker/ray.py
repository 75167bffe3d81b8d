"""Packed rows from a Ray Data dataset: every shard on its own worker, one repack.

    from seqpacker.ray import pack_dataset
    packed = pack_dataset(ray.data.read_parquet(path), capacity=4096)

The dataset's rows are grouped into shards (by ``shard_column``, or by the
content key of their tokens), each shard is packed by a ``map_groups`` task
(``distributed.pack_shard``), and the residues of all shards are packed by
one more task (``distributed.repack``). Tokens move as Arrow arrays; no
Python runs per token. The rows equal ``distributed.pack_tables`` on the
same shards, for any number of workers (docs/distributed.md).

Needs Ray Data (``pip install 'seqpacker[ray]'``); ``import seqpacker``
never imports this module.
"""

from __future__ import annotations

import pyarrow as pa

from ._core.optional import import_optional
from ._core.validation import check_positive
from .distributed import DEFAULT_MIN_FILL

ray = import_optional("ray", "ray", "seqpacker.ray")
import_optional("ray.data", "ray", "seqpacker.ray")
from ._sharded import engine_stages as engine  # noqa: E402
from ._sharded.shard_stage import SHARD  # noqa: E402

__all__ = ["pack_dataset", "plan_dataset"]


def pack_dataset(ds, capacity: int, *, shard_column: str | None = None,
                 num_shards: int | None = None, strategy: str = "obfd", seed: int | None = None,
                 min_fill: float = DEFAULT_MIN_FILL, max_seqs_per_pack: int | None = None,
                 on_overlong: str = "error", label_convention: str = "hf",
                 num_partitions: int | None = None):
    """Pack a ``ray.data.Dataset`` of token rows into a Dataset of packed rows.

    Args:
        ds: a Dataset with an ``input_ids`` column of integer lists and
            optionally ``labels``; other columns are dropped.
        capacity: tokens per packed row.
        shard_column: a column of non-negative integers naming each row's
            shard (for example the number of the file it came from). None
            shards rows by the content key of their tokens into
            ``num_shards`` shards (None: one per million rows, which counts
            the rows first).
        strategy, seed, min_fill, max_seqs_per_pack: as in
            ``distributed.pack_shard``.
        on_overlong, label_convention: as in ``hf_utils.pack_dataset``.
        num_partitions: under Ray's hash shuffle, its partitions (the
            aggregators that pack shards at once); None means Ray's default.
            The sort shuffle picks its own task count and ignores it. It
            changes where shards are packed, never the rows.

    Returns a Dataset with ``input_ids``, ``labels``, ``position_ids`` and
    ``seq_lengths`` (the columns of ``hf_utils.pack_dataset``); no rows for
    an empty ``ds`` (whose rows are counted first, which Ray reads from
    metadata where it has them). The shard
    stage runs when this is called (its output is materialized, so that the
    kept rows and the residue read it once); the rest runs when the result
    is consumed. Its rows do not depend on the number of workers; their
    order follows Ray's execution. Every stage is a pure function of its input, so a task that
    Ray runs again (``DataContext.retried_map_errors`` and
    ``max_map_retries`` for exceptions) gives the same rows.
    """
    count = _Count(ds)
    stages = engine.for_tokens(
        _arrow_schema(ds), capacity, count, shard_column=shard_column, num_shards=num_shards,
        strategy=strategy, seed=seed, min_fill=min_fill, max_seqs_per_pack=max_seqs_per_pack,
        on_overlong=on_overlong, label_convention=label_convention)
    return _run(ds, stages, num_partitions, count)


def plan_dataset(ds, capacity: int, *, id_column: str = "id", length_column: str = "length",
                 shard_column: str | None = None, num_shards: int | None = None,
                 strategy: str = "obfd", seed: int | None = None,
                 min_fill: float = DEFAULT_MIN_FILL, max_seqs_per_pack: int | None = None,
                 num_partitions: int | None = None):
    """Plan the packing of a Dataset of ids and lengths, moving no tokens.

    ``ds`` has a column of unique non-negative integer ids and a column of
    lengths; without ``shard_column``, a row's shard follows from its id.
    Returns a Dataset of ``id``, ``pack_shard`` and ``pack_index``: the
    row joins kept pack ``pack_index`` of shard ``pack_shard``, or, where
    ``pack_shard`` is -1, pack ``pack_index`` of the repack
    (docs/distributed.md). Other arguments are as in ``pack_dataset``.
    """
    count = _Count(ds)
    stages = engine.for_plan(
        _arrow_schema(ds), capacity, count, id_column=id_column, length_column=length_column,
        shard_column=shard_column, num_shards=num_shards, strategy=strategy, seed=seed,
        min_fill=min_fill, max_seqs_per_pack=max_seqs_per_pack)
    return _run(ds, stages, num_partitions, count)


class _Count:
    """``ds.count()``, asked of Ray at most once; ``empty()`` asks for at
    most one row when the count is not known (a lazy dataset would
    otherwise run its whole upstream pipeline once more)."""

    def __init__(self, ds):
        self._ds, self._rows = ds, None

    def __call__(self) -> int:
        if self._rows is None:
            self._rows = self._ds.count()
        return self._rows

    def empty(self) -> bool:
        if self._rows is not None:
            return self._rows == 0
        return self._ds.limit(1).count() == 0


def _run(ds, stages: engine.Stages, num_partitions: int | None, count: _Count):
    """Run ``stages`` on ``ds``: see _sharded/engine_stages.py."""
    if num_partitions is not None:
        check_positive("num_partitions", num_partitions, " (or None)")
    if count.empty():
        # Ray hands an empty block to no task, so no stage would add its
        # columns: the result of no rows is built here.
        return ray.data.from_arrow(stages.output_schema.empty_table())
    keyed = ds.select_columns(stages.columns).map_batches(
        _table_stage, fn_args=(stages.prepare,), batch_format="pyarrow")
    staged = keyed.groupby(SHARD, num_partitions=num_partitions).map_groups(
        _batches_stage, fn_args=(stages.pack, stages.staged_schema),
        batch_format="pyarrow").materialize()
    kept = staged.map_batches(_table_stage, fn_args=(stages.kept,), batch_format="pyarrow")
    rest = staged.map_batches(_table_stage, fn_args=(stages.residue,), batch_format="pyarrow")
    rest = rest.groupby(None).map_groups(
        _batches_stage, fn_args=(stages.repack, stages.output_schema), batch_format="pyarrow")
    return kept.union(rest)


def _arrow_schema(ds) -> pa.Schema:
    if not isinstance(ds, ray.data.Dataset):
        raise TypeError(f"ds must be a ray.data.Dataset, not {type(ds).__name__}")
    schema = ds.schema()
    base = getattr(schema, "base_schema", schema)
    if not isinstance(base, pa.Schema):
        raise TypeError(f"the dataset's blocks must be Arrow tables, not {type(base).__name__}")
    return base


# ---- the functions that run on the workers (module-level, so they pickle by name)

def _table_stage(table: pa.Table, function) -> pa.Table:
    return function(table)


def _batches_stage(table: pa.Table, function, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(list(function(table)), schema)
