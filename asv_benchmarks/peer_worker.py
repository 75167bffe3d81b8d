"""Measure one side of ``compare_peers.py`` inside its own interpreter.

The published seqpacker 0.1.3 and this project share the import name
``seqpacker``, so each side runs in its own interpreter: ours in the venv that
has this project installed, the peers in theirs. This script reads the job
list and the arrays (``.npy`` files written by ``compare_peers.py``), runs
each job once after an optional warm-up call, and prints one JSON line per
job as soon as it is done, so that a crash in one job loses only that job.

    python peer_worker.py --side ours|peer --data DIR --jobs JOBS.json [--job-timeout S]

Jobs are dicts with ``id``, ``side``, ``kind``, ``data`` (the .npy stem),
``capacity`` and, depending on the kind, ``strategy``, ``k``, ``calls``,
``warmup`` and ``check`` (validate the packing; done once, untimed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
import common


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def split_points_of(bins):
    """Split points of a list-of-lists packing (LightBinPack's result)."""
    sizes = np.fromiter((len(b) for b in bins), dtype=np.int64, count=len(bins))
    return np.cumsum(sizes)[:-1]


# ------------------------------------------------------------------ the jobs
#
# Both sides import ``seqpacker``: in this interpreter it is ours or the
# peer's, and the two share the calls used here (``Packer(capacity,
# strategy).pack_flat``, ``StreamPacker(capacity, strategy, k=k)``).

def job_pack_flat(job, lengths):
    import seqpacker

    pack_flat = seqpacker.Packer(job["capacity"], job["strategy"]).pack_flat
    if job.get("warmup"):
        pack_flat(lengths)
    seconds, (items, split_points) = timed(lambda: pack_flat(lengths))
    num_bins = len(split_points) + 1 if len(lengths) else 0
    out = {"seconds": seconds, "bins": num_bins}
    if job.get("check"):
        out["invalid"] = common.check_packing(lengths, np.asarray(items),
                                              np.asarray(split_points), job["capacity"])
    return out


def job_lightbinpack_obfd(job, lengths):
    import lightbinpack

    # LightBinPack takes a sequence of ints; converting the array is the
    # caller's cost, not the algorithm's, so it is done before the clock.
    values = lengths.tolist()
    if job.get("warmup"):
        lightbinpack.obfd(values, job["capacity"])
    seconds, bins = timed(lambda: lightbinpack.obfd(values, job["capacity"]))
    out = {"seconds": seconds, "bins": len(bins)}
    if job.get("check"):
        items = np.fromiter((i for b in bins for i in b), dtype=np.int64, count=len(lengths))
        out["invalid"] = common.check_packing(lengths, items, split_points_of(bins),
                                              job["capacity"])
    return out


def job_argsort(job, lengths):
    if job.get("warmup"):
        np.argsort(lengths)
    seconds, _ = timed(lambda: np.argsort(lengths))
    return {"seconds": seconds}


def job_pack(job, lengths):
    import seqpacker

    packer = seqpacker.Packer(job["capacity"], job["strategy"])
    if job.get("warmup"):
        packer.pack(lengths)
    seconds, result = timed(lambda: packer.pack(lengths))
    return {"seconds": seconds, "bins": int(result.num_bins)}


def job_stream_add(job, lengths):
    """A Python loop of ``add()`` calls; reports the cost of one call."""
    import seqpacker

    values = lengths[: job["calls"]].tolist()
    stream = seqpacker.StreamPacker(job["capacity"], job["strategy"], k=job.get("k"))
    add = stream.add

    def loop():
        packs = 0
        for length in values:
            packs += len(add(length))
        return packs

    seconds, packs = timed(loop)
    packs += len(stream.finish())
    return {"seconds": seconds, "per_call": seconds / len(values), "bins": packs,
            "items": len(values)}


def job_stream_add_many(job, lengths):
    """One ``add_many`` call (or ``add_many_flat``) over the whole array (ours only)."""
    import seqpacker

    stream = seqpacker.StreamPacker(job["capacity"], job["strategy"], k=job.get("k"))
    add_many = stream.add_many_flat if job.get("flat") else stream.add_many
    seconds, emitted = timed(lambda: add_many(lengths))
    out = {"seconds": seconds, "per_second": len(lengths) / seconds, "items": len(lengths)}
    if not job.get("flat"):
        out["bins"] = len(emitted) + len(stream.finish())
    return out


def job_info(job, lengths):
    import seqpacker

    info = {"python": sys.version.split()[0], "numpy": np.__version__,
            "seqpacker": getattr(seqpacker, "__version__", "unknown"),
            "seqpacker_file": str(Path(seqpacker.__file__).parent)}
    try:
        import lightbinpack

        info["lightbinpack"] = getattr(lightbinpack, "__version__", "unknown")
    except ImportError:
        pass
    return {"info": info}


JOBS = {
    "pack_flat": job_pack_flat,
    "lightbinpack_obfd": job_lightbinpack_obfd,
    "argsort": job_argsort,
    "pack": job_pack,
    "stream_add": job_stream_add,
    "stream_add_many": job_stream_add_many,
    "info": job_info,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["ours", "peer"], required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--jobs", type=Path, required=True)
    parser.add_argument("--job-timeout", type=int, default=0,
                        help="seconds; a job still running then kills this process")
    args = parser.parse_args(argv)
    # SIGALRM's default action ends the process even inside a long C call,
    # which a Python handler could not interrupt; compare_peers.py sees the
    # signal and records the job as over its time limit.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)

    arrays = {}
    for job in json.loads(args.jobs.read_text()):
        if job["side"] != args.side:
            continue
        name = job.get("data")
        if name and name not in arrays:
            arrays[name] = np.load(args.data / f"{name}.npy")
        signal.alarm(args.job_timeout)
        try:
            out = JOBS[job["kind"]](job, arrays.get(name))
        except Exception as exc:  # noqa: BLE001 (a peer failing on an input is a result too)
            out = {"error": f"{type(exc).__name__}: {exc}",
                   "traceback": traceback.format_exc(limit=3)}
        signal.alarm(0)
        print(json.dumps({"id": job["id"], **out}), flush=True)


if __name__ == "__main__":
    main()
