#!/usr/bin/env python3
"""Measure seqpacker against its peers in one run, on the same arrays.

    python asv_benchmarks/compare_peers.py [--n 1000000] [--repeat 5]
        [--peers-venv /tmp/peers] [--ours-python PY] [--out results.json]
        [--markdown] [--no-big] [--real-repeat 3]

The peers (seqpacker 0.1.3, LightBinPack) are installed by
``shared/tools/install-peers.sh`` into their own venv. seqpacker 0.1.3 has
the same import name as this project, so each side runs in its own
interpreter (``peer_worker.py``), reading the arrays from ``.npy`` files
written here. The rounds alternate (ours, peer, ours, peer, ...) so that
drift in the machine's speed hits both sides alike; each figure is the
median of the rounds (the minimum is kept in the JSON).

Prints the Markdown report (the speed targets with PASS/FAIL) and writes
every figure to ``--out``. A side failing on an input, or running over the
time limit, is reported, never fatal.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "benchmarks"))
import common
import compare_report

#: Strategies the peer seqpacker 0.1.3 has under the same short names.
PEER_STRATEGIES = common.STRATEGIES
BIG_N = 10_000_000
HK_K = compare_report.HK_K


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=common.N, help="uniform lengths (default 1M)")
    parser.add_argument("--capacity", type=int, default=common.CAPACITY)
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds per side")
    parser.add_argument("--real-repeat", type=int, default=3,
                        help="rounds for the real distributions (efficiency is exact anyway)")
    parser.add_argument("--peers-venv", type=Path, default=Path("/tmp/peers"))
    parser.add_argument("--ours-python", default=sys.executable,
                        help="an interpreter with this project installed")
    parser.add_argument("--out", type=Path, default=Path("compare_peers.json"))
    parser.add_argument("--markdown", action="store_true",
                        help="print every table, not only the targets")
    parser.add_argument("--page", type=Path,
                        help="also write every table as this Markdown page (docs/benchmarks.md)")
    parser.add_argument("--no-big", action="store_true", help="skip the 10M obfd/obfdp run")
    parser.add_argument("--no-real", action="store_true", help="skip the real distributions")
    parser.add_argument("--job-timeout", type=int, default=30,
                        help="seconds one measurement may take before it is reported "
                             "as over the limit (seqpacker 0.1.3's hk on 2M lengths can take "
                             "longer)")
    return parser.parse_args(argv)


# ------------------------------------------------------------------ the data

def write_arrays(args, data_dir: Path) -> dict:
    """Write every input as ``<name>.npy``; returns name -> {n, tokens, capacity, note}."""
    described = {}

    def put(name, lengths, capacity, note=""):
        np.save(data_dir / f"{name}.npy", np.ascontiguousarray(lengths, dtype=np.int64))
        described[name] = {"n": int(len(lengths)), "tokens": int(lengths.sum()),
                           "capacity": capacity, "note": note}

    put("uniform", common.uniform_lengths(args.n, args.capacity), args.capacity,
        f"uniform in [1, {args.capacity}], seed {common.SEED}")
    if not args.no_big:
        put("uniform_big", common.uniform_lengths(BIG_N, args.capacity), args.capacity,
            f"uniform in [1, {args.capacity}], seed {common.SEED}")
    if not args.no_real:
        for name, (lengths, note) in common.real_distributions().items():
            put(f"real_{name}", lengths, common.REAL_CAPACITY, note)
    return described


# ------------------------------------------------------------------ the jobs

def make_jobs(args, data: dict) -> list[dict]:
    jobs = [{"id": f"{side}:info", "side": side, "kind": "info"} for side in ("ours", "peer")]

    def add(side, kind, name, **extra):
        jobs.append({"id": compare_report.job_id(side, kind, name, extra.get("strategy"),
                                                 extra.get("calls"), extra.get("flat", False)),
                     "side": side, "kind": kind, "data": name,
                     "capacity": data[name]["capacity"], **extra})

    for strategy in common.STRATEGIES:
        add("ours", "pack_flat", "uniform", strategy=strategy, warmup=True, check=True)
        if strategy in PEER_STRATEGIES:
            add("peer", "pack_flat", "uniform", strategy=strategy, warmup=True, check=True)
    add("peer", "lightbinpack_obfd", "uniform", warmup=True, check=True)
    add("ours", "argsort", "uniform", warmup=True)
    add("ours", "pack", "uniform", strategy="obfd", warmup=True)
    if "uniform_big" in data:
        for strategy in ("obfd", "obfdp"):
            add("ours", "pack_flat", "uniform_big", strategy=strategy, warmup=True, check=True)
    add_calls = min(compare_report.ADD_CALLS, args.n)
    for strategy in ("nf", "hk"):
        for side in ("ours", "peer"):
            add(side, "stream_add", "uniform", strategy=strategy, k=HK_K, calls=add_calls)
        add("ours", "stream_add_many", "uniform", strategy=strategy, k=HK_K)
        add("ours", "stream_add_many", "uniform", strategy=strategy, k=HK_K, flat=True)
    # Streaming HK over every item as a loop of add(): the peer's only way
    # (it has no add_many), and ours beside it.
    if args.n != add_calls:
        for side in ("ours", "peer"):
            add(side, "stream_add", "uniform", strategy="hk", k=HK_K, calls=args.n)
    for name in data:
        if name.startswith("real_"):
            for strategy in common.STRATEGIES:
                for side in ("ours", "peer"):
                    add(side, "pack_flat", name, strategy=strategy, check=True, real=True)
    return jobs


# ---------------------------------------------------------------- the rounds

def run_side(python: str, side: str, jobs: list[dict], data_dir: Path,
             job_timeout: int) -> dict:
    """Run ``jobs`` of one side in a fresh interpreter; id -> result.

    If the interpreter dies (a peer crashing on an input, or a job over the
    time limit), that job is recorded as failed and the rest run in a new
    interpreter.
    """
    todo = [job for job in jobs if job["side"] == side]
    results = {}
    while todo:
        jobs_file = data_dir / f"jobs_{side}.json"
        jobs_file.write_text(json.dumps(todo))
        proc = subprocess.run(
            [python, str(HERE / "peer_worker.py"), "--side", side,
             "--data", str(data_dir), "--jobs", str(jobs_file),
             "--job-timeout", str(job_timeout)],
            capture_output=True, text=True, cwd=data_dir, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                out = json.loads(line)
                results[out.pop("id")] = out
        todo = [job for job in todo if job["id"] not in results]
        if proc.returncode == -signal.SIGALRM and todo:
            results[todo[0]["id"]] = {"error": f"over the time limit of {job_timeout} s"}
            todo = todo[1:]
        elif proc.returncode != 0 and todo:
            tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            results[todo[0]["id"]] = {"error": f"interpreter died (exit {proc.returncode}): {tail}"}
            todo = todo[1:]
        elif todo:  # exited cleanly without answering: nothing more to learn
            for job in todo:
                results[job["id"]] = {"error": f"no answer from worker: {proc.stderr[-300:]}"}
            todo = []
    return results


def aggregate(rounds: list[dict]) -> dict:
    """Per job id: median and min seconds over rounds, plus the other fields
    of the first round that answered."""
    merged = {}
    for results in rounds:
        for job_id, out in results.items():
            entry = merged.setdefault(job_id, {"seconds_all": []})
            if "seconds" in out:
                entry["seconds_all"].append(out["seconds"])
            for key, value in out.items():
                if key != "seconds":
                    entry.setdefault(key, value)
    for entry in merged.values():
        times = entry["seconds_all"]
        if times:
            entry["seconds"] = statistics.median(times)
            entry["seconds_min"] = min(times)
            if "per_call" in entry and "items" in entry:
                entry["per_call"] = entry["seconds"] / entry["items"]
            if "per_second" in entry and "items" in entry:
                entry["per_second"] = entry["items"] / entry["seconds"]
    return merged


def main(argv=None):
    args = parse_args(argv)
    peer_python = str(args.peers_venv / "bin" / "python")
    if not os.path.exists(peer_python):
        sys.exit(f"no peer interpreter at {peer_python}: run shared/tools/install-peers.sh")

    with tempfile.TemporaryDirectory(prefix="seqpacker-peers-") as tmp:
        data_dir = Path(tmp)
        print(f"writing arrays to {data_dir} ...", file=sys.stderr)
        data = write_arrays(args, data_dir)
        jobs = make_jobs(args, data)
        rounds = []
        failed = set()  # failures repeat, so a job that failed is not rerun
        for index in range(args.repeat):
            this_round = [job for job in jobs if job["id"] not in failed
                          and (index < args.real_repeat or not job.get("real"))]
            for job in this_round:
                job["check"] = job.get("check") and index == 0  # validate once, untimed
            for side, python in (("ours", args.ours_python), ("peer", peer_python)):
                print(f"round {index + 1}/{args.repeat}: {side}", file=sys.stderr, flush=True)
                results = run_side(python, side, this_round, data_dir, args.job_timeout)
                failed.update(job_id for job_id, out in results.items() if "error" in out)
                rounds.append(results)
        results = aggregate(rounds)

    report = compare_report.build(args, data, results)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "data": data, "results": results,
                                    "targets": report["targets"]}, indent=1))
    print(report["markdown"] if args.markdown else report["targets_markdown"])
    if args.page:
        args.page.write_text(
            "# seqpacker against its peers\n\n"
            "This page is written by `asv_benchmarks/compare_peers.py --page "
            "docs/benchmarks.md`; do not edit it by hand. seqpacker 0.1.3 and LightBinPack "
            "run in the same run, on the same arrays (see asv_benchmarks/README.md).\n\n"
            + report["markdown"] + "\n\nReproduce:\n\n```sh\n"
            "bash ../shared/tools/install-peers.sh /tmp/peers\n"
            "pip install --no-build-isolation .\n"
            "python asv_benchmarks/compare_peers.py --markdown --page docs/benchmarks.md\n```\n",
            encoding="utf-8")
    print(f"\nfigures written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
