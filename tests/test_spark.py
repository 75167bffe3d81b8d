"""seqpacker.spark.pack_dataframe on PySpark local[2]: the rows of the
engine-free core on the same shards, whatever the partitions, and again
after a task fails and Spark retries it."""

import os
import sys

import numpy as np
import pytest

from optional import optional_import

optional_import("pyspark")
pa = optional_import("pyarrow")

import fault_injection  # noqa: E402
import pyspark.cloudpickle  # noqa: E402
import seqpacker.spark as ss  # noqa: E402
from packed_rows_check import (check_packed_rows, core_on, corpus,  # noqa: E402
                               engine_tables, plan_of, plan_reference, row_set)
from pyspark.sql import SparkSession  # noqa: E402
from seqpacker import Packer  # noqa: E402
from seqpacker._sharded import plan_stage  # noqa: E402
from seqpacker._sharded.shard_stage import SHARD, assign_shards  # noqa: E402


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    # Workers run this interpreter (with seqpacker installed); local[2, 3]
    # is 2 cores, and a failed task is tried up to 3 times. They start in
    # the JVM's working directory and put it on sys.path: from a checkout's
    # root they would import its seqpacker/ (no compiled modules) instead
    # of the installed package.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("spark"))
    try:
        session = (SparkSession.builder.master("local[2, 3]").appName("seqpacker-tests")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    finally:
        os.chdir(here)
    session.sparkContext.setLogLevel("ERROR")
    pyspark.cloudpickle.register_pickle_by_value(fault_injection)
    yield session
    session.stop()


TABLE, SEQUENCES, PLAN_TABLE, PLAN_IDS, PLAN_LENGTHS = engine_tables()


def dataframe(spark, table, partitions=2):
    return spark.createDataFrame(table.to_pandas()).repartition(partitions)


def test_rows_equal_the_core_on_the_same_shards(spark):
    out = ss.pack_dataframe(dataframe(spark, TABLE), 1024, shard_column="shard").toArrow()
    check_packed_rows(out, SEQUENCES, capacity=1024)
    assert row_set(out) == row_set(core_on(TABLE, "shard"))


@pytest.mark.parametrize("inputs, partitions", [(1, 1), (2, 2), (4, 4), (7, 3)])
def test_rows_do_not_depend_on_partitions(spark, inputs, partitions):
    df = dataframe(spark, TABLE, inputs)
    out = ss.pack_dataframe(df, 1024, num_shards=3, num_partitions=partitions).toArrow()
    keyed = assign_shards(TABLE.select(["input_ids"]), 3)
    assert row_set(out) == row_set(core_on(keyed, SHARD))


def test_packing_options_reach_the_workers(spark):
    options = {"strategy": "ffs", "seed": 3, "min_fill": 0.8, "max_seqs_per_pack": 3}
    out = ss.pack_dataframe(dataframe(spark, TABLE), 1024, shard_column="shard", **options)
    assert row_set(out.toArrow()) == row_set(core_on(TABLE, "shard", **options))
    assert row_set(out.toArrow()) != row_set(core_on(TABLE, "shard"))
    ss.release(out)
    assert row_set(out.toArrow()) == row_set(core_on(TABLE, "shard", **options))
    with pytest.raises(TypeError, match="release takes a DataFrame that pack_dataframe"):
        ss.release(dataframe(spark, TABLE))


def test_labels_and_efficiency_against_one_packing(spark):
    sequences = corpus(6000, seed=4, high=500)
    labels = [[-100] * (len(s) // 3) + s[len(s) // 3:] for s in sequences]
    table = pa.table({"input_ids": pa.array(sequences, pa.list_(pa.int64())),
                      "labels": pa.array(labels, pa.list_(pa.int64()))})
    out = ss.pack_dataframe(dataframe(spark, table), 1024, num_shards=2).toArrow()
    total = check_packed_rows(out, sequences, labels, capacity=1024)
    lengths = np.array([len(s) for s in sequences])
    assert total / (out.num_rows * 1024) >= Packer(1024).pack(lengths).efficiency * (1 - 1e-3)


def test_a_failed_shard_task_is_retried_without_loss_or_duplication(spark, tmp_path,
                                                                    monkeypatch):
    want = row_set(core_on(TABLE, "shard"))
    for stage in ("pack", "repack"):
        marker = str(tmp_path / stage)
        monkeypatch.setattr(ss.engine, "token_stages", fault_injection.failing(ss.engine.token_stages, stage,
                                                               marker))
        out = ss.pack_dataframe(dataframe(spark, TABLE), 1024, shard_column="shard").toArrow()
        assert os.path.exists(marker), f"{stage} never failed"
        assert row_set(out) == want
        monkeypatch.undo()


def test_errors(spark):
    with pytest.raises(TypeError, match="pyspark.sql.DataFrame"):
        ss.pack_dataframe(TABLE, 1024)
    df = dataframe(spark, TABLE)
    with pytest.raises(ValueError, match="shard_column 'nope' is not a column"):
        ss.pack_dataframe(df, 1024, shard_column="nope")
    with pytest.raises(ValueError, match="num_shards counts content shards"):
        ss.pack_dataframe(df, 1024, shard_column="shard", num_shards=2)
    with pytest.raises(ValueError, match=r"num_partitions = 0 is out of range: it must be >= 1 \(or None\)"):
        ss.pack_dataframe(df, 1024, num_shards=2, num_partitions=0)
    with pytest.raises(ValueError, match="no 'input_ids' column"):
        ss.pack_dataframe(df.select("shard"), 1024)


def test_an_empty_dataframe_gives_no_rows(spark):
    empty = spark.createDataFrame([], "input_ids array<int>, shard long")
    want = ss.pack_dataframe(dataframe(spark, TABLE.select(["input_ids", "shard"])), 1024,
                             shard_column="shard").schema
    for kwargs in ({}, {"shard_column": "shard"}):
        out = ss.pack_dataframe(empty, 1024, **kwargs)
        assert out.schema == want and out.count() == 0
    plan = ss.plan_dataframe(spark.createDataFrame([], "id long, length long"), 1024)
    assert plan.columns == ["id", "pack_shard", "pack_index"] and plan.count() == 0


def test_a_bad_row_is_numbered_in_its_partition_not_its_arrow_batch(spark):
    rows = [([1, 2],)] * 9 + [([],)] + [([3],)] * 3
    df = spark.createDataFrame(rows, "input_ids array<int>").coalesce(1)
    saved = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "4")  # row 9 is batch 2's row 1
    try:
        with pytest.raises(Exception, match=r"row 9 has no input_ids: every sequence needs at "
                                            r"least one token \(the row's number within "
                                            r"partition 0 of the DataFrame: Spark numbers no rows "
                                            r"across partitions\)"):
            ss.pack_dataframe(df, 8).count()
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", saved)


def test_import_seqpacker_does_not_import_pyspark(tmp_path):
    import subprocess

    code = "import sys, seqpacker; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path)  # the installed package, not a checkout's
    assert out.stdout.strip() == "False"



@pytest.mark.parametrize("inputs, partitions", [(1, 1), (3, 2), (4, 4)])
def test_plan_equals_the_reference_on_the_same_shards(spark, inputs, partitions):
    df = dataframe(spark, PLAN_TABLE, inputs)
    got = ss.plan_dataframe(df, 1024, shard_column="part", num_partitions=partitions).toArrow()
    assert plan_of(got) == plan_reference(PLAN_IDS, PLAN_LENGTHS, PLAN_IDS % 5, 1024)
    by_id = ss.plan_dataframe(df, 1024, num_shards=3, num_partitions=partitions).toArrow()
    keyed = plan_stage.assign_shards(pa.table({"id": PLAN_IDS}), 3).column(SHARD).to_numpy()
    assert plan_of(by_id) == plan_reference(PLAN_IDS, PLAN_LENGTHS, keyed, 1024)


def test_plan_errors(spark):
    df = spark.createDataFrame([(4, 5), (9, 6000)], "id long, length long")
    with pytest.raises(Exception, match="the length of id 9 is 6000"):
        ss.plan_dataframe(df, 1024, num_shards=1).toArrow()
    df = spark.createDataFrame([(1, 5), (1, 6)], "id long, length long")
    with pytest.raises(Exception, match="id 1 appears twice in shard"):
        ss.plan_dataframe(df, 1024, num_shards=1).toArrow()
    with pytest.raises(ValueError, match="'size' is not a column"):
        ss.plan_dataframe(df, 1024, length_column="size", num_shards=1).toArrow()
