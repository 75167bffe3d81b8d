"""A StreamPacker's memory is bounded by its open bins, not by the stream.

20 million lengths go through ``add_many`` in chunks, for NF and for HK,
in a fresh Python process (so that earlier tests cannot mask its peak
RSS). The open-bin count must stay within its bound after every chunk,
and the process's peak RSS may grow by less than 50 MB after a first,
warm-up chunk. A HarmonicK that held every id until ``finish()`` would need 160 MB
for the ids alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = r"""
import json, resource, sys
import numpy as np
from seqpacker import StreamPacker

def peak_rss_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

strategy, k, total, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
bound = 1 if strategy == "nf" else k
rng = np.random.default_rng(2024)
packer = StreamPacker(2048, strategy, k=k)
warm_up = packer.add_many(rng.integers(1, 400, size=chunk))
ids_out, packs = sum(len(pack) for pack in warm_up), len(warm_up)
del warm_up
baseline = peak_rss_kib()
added, most_open = chunk, 0
while added < total:
    for pack in packer.add_many(rng.integers(1, 400, size=chunk)):
        ids_out += len(pack)
        packs += 1
    most_open = max(most_open, packer.open_bins)
    if packer.open_bins > bound:
        raise SystemExit(f"{packer.open_bins} open bins after {added} lengths (bound {bound})")
    added += chunk
ids_out += sum(len(pack) for pack in packer.finish())
print(json.dumps({"growth_kib": peak_rss_kib() - baseline, "added": packer.sequences_added,
                  "ids_out": ids_out, "packs": packs, "most_open": most_open}))
"""

TOTAL = 20_000_000
CHUNK = 500_000


@pytest.mark.parametrize("strategy, k", [("nf", 10), ("hk", 32)])
def test_twenty_million_lengths_in_bounded_memory(strategy, k, tmp_path):
    # Run outside the repository, so "-c" imports the installed package.
    run = subprocess.run(
        [sys.executable, "-c", CHILD, strategy, str(k), str(TOTAL), str(CHUNK)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == TOTAL
    assert report["ids_out"] == TOTAL  # every length came out in a pack
    assert report["packs"] > TOTAL // 20  # many packs were handed out along the way
    assert 1 <= report["most_open"] <= (1 if strategy == "nf" else k)
    assert report["growth_kib"] < 50 * 1024, report
