#!/usr/bin/env python3
"""Measure the training helpers against their peers in one run.

    python asv_benchmarks/compare_training.py [--repeat 7] [--rows 1000000]
        [--out compare_training.json] [--skip-dataset]

Run it with an interpreter that has this project and the training peers
(torch, transformers, datasets, trl) installed, e.g. the venv of
``shared/tools/install-training-peers.sh`` with ``pip install .`` added.

- **collate**: 256 token lists, lengths drawn (seeded) from
  ``sharegpt_v3_prefix_llama2.npy`` capped at 4096, into flat tensors:
  ``packed_collate_fn(4096, layout="flat")`` against transformers'
  ``DataCollatorWithFlattening(return_flash_attn_kwargs=True,
  return_seq_idx=True)`` on the same sequences (as the dict rows it takes).
  Rounds alternate; each figure is the median.
- **pack_dataset**: a 1,000,000-row in-memory Dataset of random int32
  tokens with the lengths of ``wikipedia_bert512_graphcore_sample1m.npy``,
  at capacity 512: ``seqpacker.hf_utils.pack_dataset`` (its default, one
  worker per CPU writing the rows to a file; ``num_proc=1``; and
  ``keep_in_memory=True``) against TRL's ``pack_dataset(strategy="bfd")``
  (its default, one process, in memory). Each side runs in a fresh process
  (so that its peak RSS is its own), alternating, ``--dataset-repeat``
  times; the time is the median, the peak RSS the largest. The peak RSS is
  that of the packing call: the process's peak mark is reset after the
  dataset is built (Linux ``/proc/self/clear_refs``), so it counts the
  dataset in memory plus what the packing adds.

Prints a Markdown report with the targets (collate >= 10x faster; dataset
packing >= 10x faster than TRL with at least its efficiency and a peak RSS
below twice the dataset's Arrow size) and writes every figure to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LENGTHS = HERE.parent.parent / "shared" / "data" / "lengths"
COLLATE_FILE = "sharegpt_v3_prefix_llama2.npy"
DATASET_FILE = "wikipedia_bert512_graphcore_sample1m.npy"
COLLATE_CAPACITY = 4096
DATASET_CAPACITY = 512


def collate_inputs(size: int = 256, seed: int = 0) -> list[list[int]]:
    lengths = np.minimum(np.load(LENGTHS / COLLATE_FILE).astype(np.int64), COLLATE_CAPACITY)
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 32000, n).tolist() for n in rng.choice(lengths, size)]


def measure_collate(repeat: int) -> dict:
    from transformers import DataCollatorWithFlattening

    from seqpacker.torch_utils import packed_collate_fn

    sequences = collate_inputs()
    rows = [{"input_ids": s} for s in sequences]
    peer = DataCollatorWithFlattening(return_flash_attn_kwargs=True, return_seq_idx=True)
    ours = packed_collate_fn(COLLATE_CAPACITY, layout="flat")
    peer(rows), ours(sequences), ours(rows)  # warm-up
    times = {"seqpacker (token lists)": [], "seqpacker (dict rows)": [],
             "DataCollatorWithFlattening": []}
    for _ in range(repeat):
        for name, call in (("seqpacker (token lists)", lambda: ours(sequences)),
                           ("DataCollatorWithFlattening", lambda: peer(rows)),
                           ("seqpacker (dict rows)", lambda: ours(rows))):
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000)
    return {"tokens": sum(map(len, sequences)), "sequences": len(sequences),
            "ms": {name: statistics.median(t) for name, t in times.items()},
            "rounds": times}


def build_dataset(rows: int, seed: int = 0):
    import datasets
    import pyarrow as pa

    lengths = np.load(LENGTHS / DATASET_FILE).astype(np.int64)[:rows]
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # Generated in blocks into one int32 buffer that Arrow then shares, so
    # that the process holds little more than the dataset.
    tokens = np.empty(int(offsets[-1]), dtype=np.int32)
    rng = np.random.default_rng(seed)
    for start in range(0, tokens.size, 1 << 24):
        block = tokens[start:start + (1 << 24)]
        block[:] = rng.integers(0, 2**31 - 1, block.size, dtype=np.int32)
    column = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(tokens))
    data = datasets.Dataset(pa.table({"input_ids": column}))
    # Dataset() hashes the table through Arrow's memory pool, which keeps
    # the freed gigabyte; hand it back so that it is not counted later.
    pa.default_memory_pool().release_unused()
    return data


def peak_rss_reset() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux), so that the
    next reading covers only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_bytes(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def dataset_child(tool: str, rows: int, num_proc: int | None, keep_in_memory: bool) -> dict:
    """One packing of the benchmark dataset in this (fresh) process."""
    import datasets

    datasets.disable_progress_bars()
    data = build_dataset(rows)
    arrow_bytes = data.data.nbytes
    if not peak_rss_reset():
        raise OSError("cannot reset the peak RSS (/proc/self/clear_refs): Linux only")
    rss_before = rss_bytes("VmRSS")
    start = time.perf_counter()
    if tool == "seqpacker":
        from seqpacker.hf_utils import pack_dataset
        packed = pack_dataset(data, DATASET_CAPACITY, num_proc=num_proc,
                              keep_in_memory=keep_in_memory)
    else:
        from trl.data_utils import pack_dataset
        kwargs = {"num_proc": num_proc} if num_proc else {}
        packed = pack_dataset(data, DATASET_CAPACITY, strategy="bfd", map_kwargs=kwargs)
    seconds = time.perf_counter() - start
    peak = rss_bytes("VmHWM")
    speeds = memory_speeds()  # after the peak is read: the probe's memory is its own
    lengths = packed.data.column("seq_lengths")
    import pyarrow.compute as pc
    tokens = int(pc.sum(pc.list_flatten(lengths)).as_py())
    return {"tool": tool, "seconds": seconds, "rows": packed.num_rows,
            "efficiency": tokens / (packed.num_rows * DATASET_CAPACITY),
            "tokens": tokens, "arrow_bytes": arrow_bytes, "peak_rss_bytes": peak,
            "rss_before_bytes": rss_before, **speeds}


#: (label, tool, extra child arguments) of each pack_dataset configuration measured.
DATASET_RUNS = (("seqpacker", "seqpacker", []),
                ("seqpacker num_proc=1", "seqpacker", ["--num-proc", "1"]),
                ("seqpacker keep_in_memory", "seqpacker", ["--keep-in-memory"]),
                ("TRL bfd", "trl", []))


def measure_dataset(repeat: int, rows: int) -> dict:
    runs = {label: [] for label, _tool, _extra in DATASET_RUNS}
    for _ in range(repeat):
        for label, tool, extra in DATASET_RUNS:
            command = [sys.executable, __file__, "--child", tool, "--rows", str(rows), *extra]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            runs[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for label, results in runs.items():
        summary[label] = {
            "seconds": statistics.median(r["seconds"] for r in results),
            "efficiency": results[0]["efficiency"],
            "rows": results[0]["rows"],
            "tokens": results[0]["tokens"],
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in results),
            "rss_before_bytes": max(r["rss_before_bytes"] for r in results),
            "arrow_bytes": results[0]["arrow_bytes"],
            **{name: statistics.median(r[name] for r in results)
               for name in ("first_touch_gib_s", "warm_gib_s", "file_write_gib_s",
                            "chunked_write_gib_s")},
        }
    return {"summary": summary, "runs": runs}


def memory_speeds(gib: int = 1) -> dict:
    """GiB/s of writing into fresh memory (first touch, page faults) and into
    memory already touched, and of writing a file in 64 MiB calls (as
    Arrow's own file writer does) and in 64 KiB calls (as seqpacker's
    ``ChunkedFile`` does): on a VM the first touch can cost much more than
    the second, and packing a dataset writes every output byte into fresh
    memory or the page cache once."""
    import tempfile

    size = gib << 30
    start = time.perf_counter()
    fresh = np.empty(size, dtype=np.uint8)
    fresh.fill(1)
    first = time.perf_counter() - start
    start = time.perf_counter()
    fresh.fill(2)
    warm = time.perf_counter() - start
    files = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, block in (("file_write_gib_s", 64 << 20), ("chunked_write_gib_s", 64 << 10)):
            path = os.path.join(folder, name)
            start = time.perf_counter()
            with open(path, "wb", buffering=0) as f:
                for offset in range(0, size, block):
                    f.write(fresh[offset:offset + block])
            files[name] = gib / (time.perf_counter() - start)
            # Kept until both are written: the pages of a removed file would
            # be fresh memory no longer for the next.
    return {"first_touch_gib_s": gib / first, "warm_gib_s": gib / warm, **files}


def report(collate: dict, dataset: dict | None) -> str:
    ms = collate["ms"]
    peer = ms["DataCollatorWithFlattening"]
    lines = ["## Collate: 256 sequences into flat tensors",
             f"{collate['sequences']} sequences, {collate['tokens']:,} tokens "
             f"(median of {len(collate['rounds']['DataCollatorWithFlattening'])} rounds)", "",
             "| collator | ms | speed-up |", "|---|---|---|"]
    for name, value in ms.items():
        lines.append(f"| {name} | {value:.2f} | {peer / value:.1f}x |")
    speedup = peer / ms["seqpacker (token lists)"]
    lines += ["", f"Target >= 10x DataCollatorWithFlattening: {speedup:.1f}x "
                  f"{'PASS' if speedup >= 10 else 'FAIL'}"]
    if dataset:
        ours, trl = dataset["summary"]["seqpacker"], dataset["summary"]["TRL bfd"]
        arrow = ours["arrow_bytes"]
        lines += ["", "## pack_dataset: 1M rows at capacity 512", "",
                  "| tool | s | speed-up | rows | efficiency | RSS before | peak RSS "
                  "| peak / Arrow size |", "|---|---|---|---|---|---|---|---|"]
        for name, s in dataset["summary"].items():
            lines.append(f"| {name} | {s['seconds']:.2f} | {trl['seconds'] / s['seconds']:.1f}x "
                         f"| {s['rows']:,} | {s['efficiency']:.4%} | "
                         f"{s['rss_before_bytes'] / 2**30:.2f} GiB | "
                         f"{s['peak_rss_bytes'] / 2**30:.2f} GiB | "
                         f"{s['peak_rss_bytes'] / arrow:.2f} |")
        speedup = trl["seconds"] / ours["seconds"]
        ok = (speedup >= 10 and ours["efficiency"] >= trl["efficiency"]
              and ours["peak_rss_bytes"] < 2 * arrow)
        lines += ["", "Each process, right after its packing, also measured how fast it "
                      "writes 1 GiB into fresh memory (first touch), into memory already "
                      "touched, and into a file in 64 MiB and in 64 KiB write calls "
                      "(medians):", "",
                  "| tool | fresh memory | touched memory | file, 64 MiB calls "
                  "| file, 64 KiB calls |", "|---|---|---|---|---|"]
        for name, s in dataset["summary"].items():
            lines.append(f"| {name} | {s['first_touch_gib_s']:.1f} GiB/s | "
                         f"{s['warm_gib_s']:.1f} GiB/s | {s['file_write_gib_s']:.1f} GiB/s | "
                         f"{s['chunked_write_gib_s']:.1f} GiB/s |")
        lines += ["", "The packed rows (about 2.5 GiB here) go once through the page cache "
                      "in 64 KiB calls (or once through fresh memory with `keep_in_memory`), "
                      "so seqpacker's time follows the last column (or the first); TRL's is "
                      "mostly Python. On a VM, small writes are fast only while free memory "
                      "that the host still backs lasts; the probe runs after the packing, so "
                      "where the packing wrote its rows to a file it has taken that memory "
                      "and the two file columns read alike (docs/training.md)."]
        lines += ["", f"Dataset Arrow size {arrow / 2**30:.2f} GiB. Target >= 10x TRL with at "
                      f"least its efficiency, peak RSS < 2x Arrow size: {speedup:.1f}x, "
                      f"{ours['efficiency']:.4%} vs {trl['efficiency']:.4%}, "
                      f"{ours['peak_rss_bytes'] / arrow:.2f}x: {'PASS' if ok else 'FAIL'}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="collate rounds")
    parser.add_argument("--dataset-repeat", type=int, default=3,
                        help="fresh processes per side for pack_dataset")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--num-proc", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--keep-in-memory", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-dataset", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("compare_training.json"))
    parser.add_argument("--page", type=Path,
                        help="also write the report as this Markdown page "
                             "(docs/training-benchmarks.md)")
    parser.add_argument("--child", choices=("seqpacker", "trl"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(dataset_child(args.child, args.rows, args.num_proc,
                                       args.keep_in_memory)))
        return 0
    collate = measure_collate(args.repeat)
    dataset = None if args.skip_dataset else measure_dataset(args.dataset_repeat, args.rows)
    args.out.write_text(json.dumps({"collate": collate, "dataset": dataset}, indent=1))
    text = report(collate, dataset)
    print(text)
    if args.page:
        args.page.write_text(page(text), encoding="utf-8")
    return 0


def page(text: str) -> str:
    """The report as a documentation page, with where and how it was measured."""
    import platform

    import datasets
    import torch
    import transformers
    import trl

    versions = (f"torch {torch.__version__}, transformers {transformers.__version__}, "
                f"datasets {datasets.__version__}, trl {trl.__version__}")
    return (
        "# Training helpers: measured against their peers\n\n"
        "This page is written by `asv_benchmarks/compare_training.py --page "
        "docs/training-benchmarks.md`; do not edit it by hand. Both sides run in the same "
        f"run on the same data ({platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; {versions}).\n\n"
        + text + "\n\nReproduce (about five minutes on 2 CPUs):\n\n```sh\n"
        "bash ../shared/tools/install-training-peers.sh /tmp/training-peers\n"
        "/tmp/training-peers/bin/pip install .\n"
        "/tmp/training-peers/bin/python asv_benchmarks/compare_training.py "
        "--page docs/training-benchmarks.md\n```\n")


if __name__ == "__main__":
    sys.exit(main())
