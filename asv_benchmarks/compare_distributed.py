"""Sharded packing against one global packing: efficiency, residue and wall time.

1. The engine-free core (``distributed.pack_shards``) on 20M lengths drawn
   from real distributions, in 20 shards, against ``Packer.pack`` on all of
   them in the same run; and the residue and gap for other ``min_fill``.
2. The same 20M Wikipedia lengths as 20 Parquet files, planned by Ray Data
   (``seqpacker.ray.plan_dataset``) and PySpark
   (``seqpacker.spark.plan_dataframe``) on this machine's cores, each
   checked against the core's packs.
3. Tokens: a corpus of real lengths with random token ids, packed into rows
   by the core (``pack_tables``), Ray and Spark, against
   ``hf_utils.pack_dataset`` (one global packing) where datasets is
   installed.

Run from the repository root, with seqpacker[ray,spark] installed::

    python asv_benchmarks/compare_distributed.py --page docs/distributed-benchmarks.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import seqpacker
from seqpacker import Packer
from seqpacker.distributed import pack_shard, pack_shards

LENGTHS = Path(__file__).resolve().parents[2] / "shared" / "data" / "lengths"
ROWS = 20_000_000
SHARDS = 20
DATA = [("wikipedia_bert512_graphcore_histogram", 512), ("sharegpt_v3_prefix_llama2", 4096),
        ("squad11_bert384_graphcore_histogram", 384), ("arxiv_summarization_llama2_etalon", 8192)]
TOKEN_ROWS = 200_000


def real(name: str, capacity: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` lengths drawn (seeded, with replacement) from a distribution."""
    data = np.load(LENGTHS / f"{name}.npy")
    if name.endswith("_histogram"):
        data = np.repeat(np.arange(len(data)), data)
    data = data.astype(np.int64)
    data = data[(data >= 1) & (data <= capacity)]
    return np.random.default_rng(seed).choice(data, count)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def core_rows():
    """(data, capacity, global eff, sharded eff, gap, residue, global s, sharded s)."""
    out = []
    for name, capacity in DATA:
        lengths = real(name, capacity, ROWS)
        shards = np.array_split(lengths, SHARDS)
        single, single_s = timed(lambda: Packer(capacity, threads=1).pack(lengths))
        sharded, sharded_s = timed(pack_shards, shards, capacity)
        residue = sum(pack_shard(s, capacity).residue.size for s in shards[:2]) / \
            sum(s.size for s in shards[:2])
        out.append((name, capacity, single.efficiency, sharded.efficiency,
                    1 - sharded.efficiency / single.efficiency, residue, single_s, sharded_s))
        print(out[-1], flush=True)
    return out


def min_fill_rows():
    """Residue and gap for several min_fill, 2M lengths in 20 shards."""
    out = []
    for name, capacity in DATA:
        lengths = real(name, capacity, 2_000_000, seed=1)
        single = Packer(capacity).pack(lengths).efficiency
        for min_fill in (0.0, 0.5, 0.9, 0.99):
            shards = np.array_split(lengths, SHARDS)
            packed = [pack_shard(s, capacity, min_fill=min_fill) for s in shards]
            residue = sum(p.residue.size for p in packed)
            sharded = pack_shards(shards, capacity, min_fill=min_fill)
            out.append((name, min_fill, residue / lengths.size,
                        1 - sharded.efficiency / single))
    return out


def write_plan_corpus(folder: Path, lengths: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = np.arange(lengths.size, dtype=np.int64)
    for shard, part in enumerate(np.array_split(ids, SHARDS)):
        pq.write_table(pa.table({"id": part, "length": lengths[part],
                                 "shard": np.full(part.size, shard)}),
                       folder / f"part-{shard:02d}.parquet")


def core_plan(lengths: np.ndarray, capacity: int) -> int:
    """The pack count of the core on the corpus's shards (ids in order)."""
    return pack_shards(np.array_split(lengths, SHARDS), capacity).num_packs


def packs_in(plan) -> int:
    shard = plan.column("pack_shard").to_numpy()
    index = plan.column("pack_index").to_numpy()
    return np.unique(shard * (index.max() + 1) + index).size


@contextlib.contextmanager
def ray_session():
    """A local Ray on every core, the shard stage as tasks (docs/distributed.md)."""
    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.shuffle_strategy = "sort_shuffle_pull_based"
    try:
        yield ray
    finally:
        ray.shutdown()


def ray_plan(folder: Path, capacity: int):
    import pyarrow as pa

    from seqpacker.ray import plan_dataset

    with ray_session() as ray:
        start = time.perf_counter()
        refs = plan_dataset(ray.data.read_parquet(str(folder)), capacity,
                            shard_column="shard").to_arrow_refs()
        plan = pa.concat_tables([t for t in ray.get(refs) if t.num_columns])
        return plan, time.perf_counter() - start


def spark_session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master(f"local[{os.cpu_count()}]")
               .config("spark.ui.enabled", "false").config("spark.driver.memory", "8g")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000000")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_plan(folder: Path, capacity: int):
    from seqpacker.spark import plan_dataframe

    spark = spark_session()
    try:
        start = time.perf_counter()
        plan = plan_dataframe(spark.read.parquet(str(folder)), capacity,
                              shard_column="shard").toArrow()
        return plan, time.perf_counter() - start
    finally:
        spark.stop()


def token_table(lengths: np.ndarray):
    import pyarrow as pa

    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.random.default_rng(3).integers(0, 32000, int(offsets[-1]), dtype=np.int32)
    return pa.table({"input_ids": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
                     "shard": np.arange(lengths.size) % 4})


def token_rows(folder: Path):
    """Wall time and efficiency of packing rows with tokens, 4 shards."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from seqpacker.distributed import pack_tables

    capacity = 512
    lengths = real("wikipedia_bert512_graphcore_histogram", capacity, TOKEN_ROWS, seed=2)
    table = token_table(lengths)
    pq.write_table(table, folder / "tokens.parquet")
    shard = table.column("shard").to_numpy()
    out = []
    shards = [table.filter(pa.array(shard == s)).select(["input_ids"]) for s in range(4)]
    core, seconds = timed(pack_tables, shards, capacity)
    out.append(("core (pack_tables, 1 process)", core.num_rows, seconds))
    try:
        import datasets
    except ImportError:
        datasets = None
    if datasets is not None:
        from seqpacker.hf_utils import pack_dataset as hf_pack

        ds = datasets.Dataset(table.select(["input_ids"]))
        packed, seconds = timed(hf_pack, ds, capacity, keep_in_memory=True)
        out.append(("hf_utils.pack_dataset (one global packing)", packed.num_rows, seconds))
    from seqpacker.ray import pack_dataset

    with ray_session() as ray:
        start = time.perf_counter()
        refs = pack_dataset(ray.data.read_parquet(str(folder / "tokens.parquet")), capacity,
                            shard_column="shard").to_arrow_refs()
        rows = sum(t.num_rows for t in ray.get(refs))
        out.append(("Ray Data (pack_dataset)", rows, time.perf_counter() - start))
    from seqpacker.spark import pack_dataframe

    spark = spark_session()
    try:
        start = time.perf_counter()
        rows = pack_dataframe(spark.read.parquet(str(folder / "tokens.parquet")), capacity,
                              shard_column="shard").count()
        out.append(("PySpark (pack_dataframe)", rows, time.perf_counter() - start))
    finally:
        spark.stop()
    total = int(lengths.sum())
    return [(what, rows, total / (rows * capacity), seconds) for what, rows, seconds in out], \
        total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, help="write a markdown page here")
    parser.add_argument("--rows", type=int, default=ROWS, help="lengths per distribution")
    parser.add_argument("--token-rows", type=int, default=TOKEN_ROWS,
                        help="sequences of the token corpus")
    args = parser.parse_args()
    globals().update(ROWS=args.rows, TOKEN_ROWS=args.token_rows)

    core = core_rows()
    fills = min_fill_rows()
    folder = Path(tempfile.mkdtemp(prefix="seqpacker-distributed-"))
    try:
        capacity = 512
        lengths = real("wikipedia_bert512_graphcore_histogram", capacity, ROWS)
        write_plan_corpus(folder, lengths)
        packs, core_s = timed(core_plan, lengths, capacity)
        engines = [("core (pack_shards, 1 process)", packs, core_s)]
        for name, run in (("Ray Data (plan_dataset)", ray_plan),
                          ("PySpark (plan_dataframe)", spark_plan)):
            plan, seconds = run(folder, capacity)
            assert plan.num_rows == ROWS, f"{name}: {plan.num_rows} plan rows"
            engines.append((name, packs_in(plan), seconds))
            print(engines[-1], flush=True)
        tokens, token_total = token_rows(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    lines = [
        "# Sharded packing against one global packing",
        "",
        "Written by `python asv_benchmarks/compare_distributed.py --page "
        "docs/distributed-benchmarks.md` (one run; seqpacker "
        f"{seqpacker.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores). {ROWS:,} lengths drawn (seeded) "
        f"from each distribution of `../shared/data/lengths`, in {SHARDS} shards of "
        "consecutive rows; `min_fill` 0.5. The gap is `1 - sharded / global` "
        "efficiency; the residue is the share of rows that the shards send to the repack "
        "(measured on the first two shards).",
        "",
        "## The engine-free core, 20M lengths in 20 shards",
        "",
        "| data | capacity | global efficiency | sharded efficiency | gap | residue | "
        "global s | sharded s (all shards, one process) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, capacity, single, sharded, gap, residue, single_s, sharded_s in core:
        lines.append(f"| {name} | {capacity} | {single:.4%} | {sharded:.4%} | {gap:.4%} | "
                     f"{residue:.4%} | {single_s:.2f} | {sharded_s:.2f} |")
    lines += [
        "",
        "## Residue and gap by `min_fill` (2M lengths, 20 shards)",
        "",
        "| data | min_fill | residue | gap |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {min_fill} | {residue:.3%} | {gap:.4%} |"
              for name, min_fill, residue, gap in fills]
    lines += [
        "",
        f"## Engines: a plan for {ROWS:,} Wikipedia lengths in {SHARDS} Parquet files",
        "",
        "`plan_dataset` and `plan_dataframe` read the 20 files (id, length, shard) and "
        "return one plan row per input row, on a local engine with every core. The time "
        "runs from the call until every plan row is back in the driver (starting the "
        "engine is not timed). Each engine's pack count equals the core's (the script "
        "asserts it).",
        "",
        "| run | packs | wall s |",
        "|---|---|---|",
    ]
    for name, packs_count, seconds in engines:
        assert packs_count == engines[0][1], f"{name}: {packs_count} packs, core {engines[0][1]}"
        lines.append(f"| {name} | {packs_count:,} | {seconds:.1f} |")
    lines += [
        "",
        f"## Engines: packed rows with tokens, {TOKEN_ROWS:,} Wikipedia sequences "
        f"({token_total:,} tokens) in 4 shards",
        "",
        "Random token ids with the lengths of Wikipedia, one Parquet file with a shard "
        "column (row number modulo 4); `pack_tables` gets the same 4 shards as tables. "
        "Its time covers content keys and order, packing and building the rows; "
        "`hf_utils.pack_dataset` packs once over all lengths and copies rows in order.",
        "",
        "| run | rows | efficiency | wall s |",
        "|---|---|---|---|",
    ]
    lines += [f"| {what} | {rows:,} | {eff:.4%} | {seconds:.1f} |"
              for what, rows, eff, seconds in tokens]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.page:
        args.page.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
