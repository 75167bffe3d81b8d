"""seqpacker.ray.pack_dataset on a local Ray (2 CPUs): the rows of the
engine-free core on the same shards, whatever the blocks and partitions,
and again after a task fails and Ray retries it."""

import os
import sys

import numpy as np
import pytest

from optional import optional_import

ray = optional_import("ray")
pa = optional_import("pyarrow")

import fault_injection  # noqa: E402
import ray.data  # noqa: E402
import seqpacker.ray as sr  # noqa: E402
from packed_rows_check import (check_packed_rows, core_on, corpus,  # noqa: E402
                               engine_tables, plan_of, plan_reference, row_set)
from seqpacker import Packer  # noqa: E402
from seqpacker._sharded import plan_stage  # noqa: E402
from seqpacker._sharded.shard_stage import SHARD, assign_shards  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory):
    # Ray puts the driver's working directory on its workers' sys.path: from
    # a checkout's root they would import its seqpacker/ (no compiled
    # modules) instead of the installed package.
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray"))
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
    finally:
        os.chdir(here)
    context = ray.data.DataContext.get_current()
    saved = (context.enable_progress_bars, context.shuffle_strategy,
             context.retried_map_errors, context.max_map_retries)
    # Tasks, not hash-shuffle actors, run map_groups under the sort shuffle,
    # and Ray Data retries a task's exception only when told to.
    context.enable_progress_bars = False
    context.shuffle_strategy = "sort_shuffle_pull_based"
    context.retried_map_errors = True
    context.max_map_retries = 2
    ray.cloudpickle.register_pickle_by_value(fault_injection)
    yield
    (context.enable_progress_bars, context.shuffle_strategy,
     context.retried_map_errors, context.max_map_retries) = saved
    ray.shutdown()


TABLE, SEQUENCES, PLAN_TABLE, PLAN_IDS, PLAN_LENGTHS = engine_tables()


def packed(ds, **kwargs):
    tables = [t for t in ray.get(sr.pack_dataset(ds, 1024, **kwargs).to_arrow_refs())
              if t.num_columns]
    return pa.concat_tables(tables)


def test_rows_equal_the_core_on_the_same_shards():
    out = packed(ray.data.from_arrow(TABLE), shard_column="shard", num_partitions=2)
    check_packed_rows(out, SEQUENCES, capacity=1024)
    assert row_set(out) == row_set(core_on(TABLE, "shard"))


@pytest.mark.parametrize("blocks", [1, 2, 4, 7])
def test_rows_do_not_depend_on_blocks(blocks):
    ds = ray.data.from_arrow(TABLE).repartition(blocks)
    out = packed(ds, num_shards=3)
    keyed = assign_shards(TABLE.select(["input_ids"]), 3)
    assert row_set(out) == row_set(core_on(keyed, SHARD))


@pytest.mark.parametrize("partitions", [1, 2, 4])
def test_rows_do_not_depend_on_the_workers_of_a_hash_shuffle(partitions, monkeypatch):
    # The hash shuffle packs shards in num_partitions aggregators (the sort
    # shuffle of the other tests picks its own task count).
    monkeypatch.setattr(ray.data.DataContext.get_current(), "shuffle_strategy", "hash_shuffle")
    ds = ray.data.from_arrow(TABLE).repartition(3)
    out = packed(ds, num_shards=3, num_partitions=partitions)
    keyed = assign_shards(TABLE.select(["input_ids"]), 3)
    assert row_set(out) == row_set(core_on(keyed, SHARD))


def test_packing_options_reach_the_workers():
    options = {"strategy": "ffs", "seed": 3, "min_fill": 0.8, "max_seqs_per_pack": 3}
    out = packed(ray.data.from_arrow(TABLE), shard_column="shard", **options)
    assert row_set(out) == row_set(core_on(TABLE, "shard", **options))
    assert row_set(out) != row_set(core_on(TABLE, "shard"))


def test_labels_and_efficiency_against_one_packing():
    sequences = corpus(6000, seed=4, high=500)
    labels = [[-100] * (len(s) // 3) + s[len(s) // 3:] for s in sequences]
    ds = ray.data.from_arrow(pa.table({"input_ids": pa.array(sequences, pa.list_(pa.int64())),
                                       "labels": pa.array(labels, pa.list_(pa.int64()))}))
    out = packed(ds, num_shards=2, num_partitions=2)
    total = check_packed_rows(out, sequences, labels, capacity=1024)
    lengths = np.array([len(s) for s in sequences])
    assert total / (out.num_rows * 1024) >= Packer(1024).pack(lengths).efficiency * (1 - 1e-3)


def test_a_failed_shard_task_is_retried_without_loss_or_duplication(tmp_path, monkeypatch):
    want = row_set(core_on(TABLE, "shard"))
    for stage in ("pack", "repack"):
        marker = str(tmp_path / stage)
        monkeypatch.setattr(sr.engine, "token_stages", fault_injection.failing(sr.engine.token_stages, stage,
                                                               marker))
        out = packed(ray.data.from_arrow(TABLE), shard_column="shard", num_partitions=2)
        assert os.path.exists(marker), f"{stage} never failed"
        assert row_set(out) == want
        monkeypatch.undo()


def test_errors():
    with pytest.raises(TypeError, match="ray.data.Dataset"):
        sr.pack_dataset(TABLE, 1024)
    ds = ray.data.from_arrow(TABLE)
    with pytest.raises(ValueError, match="shard_column 'nope' is not a column"):
        sr.pack_dataset(ds, 1024, shard_column="nope")
    with pytest.raises(ValueError, match="num_shards counts content shards"):
        sr.pack_dataset(ds, 1024, shard_column="shard", num_shards=2)
    with pytest.raises(ValueError, match="min_fill"):
        sr.pack_dataset(ds, 1024, min_fill=1.5)
    with pytest.raises(ValueError, match=r"num_partitions = 0 is out of range: it must be >= 1 \(or None\)"):
        sr.pack_dataset(ds, 1024, num_partitions=0)
    no_tokens = ray.data.from_arrow(pa.table({"text": ["a"]}))
    with pytest.raises(ValueError, match="no 'input_ids' column"):
        sr.pack_dataset(no_tokens, 1024)


@pytest.mark.parametrize("kwargs", [{}, {"shard_column": "shard"}])
def test_an_empty_dataset_gives_no_rows(kwargs):
    table = TABLE.select(["input_ids", "shard"])
    for empty in (ray.data.from_arrow(table.slice(0, 0)),
                  ray.data.from_arrow(table).filter(lambda row: False)):
        out = sr.pack_dataset(empty, 1024, **kwargs)
        assert out.count() == 0
        assert out.schema().base_schema == sr.pack_dataset(
            ray.data.from_arrow(table), 1024, **kwargs).schema().base_schema
    plan = sr.plan_dataset(ray.data.from_arrow(PLAN_TABLE.slice(0, 0)), 1024)
    assert plan.count() == 0 and plan.schema().names == ["id", "pack_shard", "pack_index"]


def test_import_seqpacker_does_not_import_ray(tmp_path):
    import subprocess

    code = "import sys, seqpacker; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path)  # the installed package, not a checkout's
    assert out.stdout.strip() == "False"



def planned(ds, **kwargs):
    tables = [t for t in ray.get(sr.plan_dataset(ds, 1024, **kwargs).to_arrow_refs())
              if t.num_columns]
    return pa.concat_tables(tables)


@pytest.mark.parametrize("blocks, partitions", [(1, 1), (3, 2), (4, 4)])
def test_plan_equals_the_reference_on_the_same_shards(blocks, partitions):
    ds = ray.data.from_arrow(PLAN_TABLE).repartition(blocks)
    got = plan_of(planned(ds, shard_column="part", num_partitions=partitions))
    assert got == plan_reference(PLAN_IDS, PLAN_LENGTHS, PLAN_IDS % 5, 1024)
    by_id = planned(ds, num_shards=3, num_partitions=partitions)
    keyed = plan_stage.assign_shards(pa.table({"id": PLAN_IDS}), 3).column(SHARD).to_numpy()
    assert plan_of(by_id) == plan_reference(PLAN_IDS, PLAN_LENGTHS, keyed, 1024)


def test_plan_errors():
    table = pa.table({"id": [4, 9], "length": [5, 6000]})
    with pytest.raises(Exception, match="the length of id 9 is 6000: it must be >= 1 and <= "
                                        "the capacity 1024"):
        planned(ray.data.from_arrow(table), num_shards=1)
    table = pa.table({"id": [1, 1], "length": [5, 6]})
    with pytest.raises(Exception, match="id 1 appears twice in shard"):
        planned(ray.data.from_arrow(table), num_shards=1)
    with pytest.raises(ValueError, match="'size' is not a column"):
        planned(ray.data.from_arrow(table), length_column="size", num_shards=1)
