"""Efficiency under a limit on sequences per pack, on every real distribution.

For each file of ``../shared/data/lengths`` (the two Graphcore histograms
expanded), at limits 2, 3, 4, 8 and none: the efficiency and time of
``obfd`` (which plans limits 2 and 3 over the histogram) and of ``bfd``
(plain best fit under the limit, the greedy baseline, measured in the same
run), and the gap of obfd's bins to ``PackMetrics.lower_bound``. The
Wikipedia and SQuAD rows sit next to the published figures of Krell et al.
(arXiv 2107.02027) for Graphcore's SPFHP, LPFHP and NNLSHP.

Run from the repository root, with seqpacker installed::

    python asv_benchmarks/compare_constraints.py --page docs/constraints-benchmarks.md
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

import seqpacker
from seqpacker import Packer

LENGTHS = Path(__file__).resolve().parents[2] / "shared" / "data" / "lengths"
LIMITS = (2, 3, 4, 8, None)
#: Capacities: the model length of the two BERT sets, 4096 elsewhere.
CAPACITY = {"wikipedia_bert512_graphcore_histogram": 512, "squad11_bert384_graphcore_histogram": 384}
SKIP = {"wikipedia_bert512_graphcore_sample1m", "squad11_bert384_graphcore"}  # the histograms cover them
PUBLISHED = ("Krell et al. report on Wikipedia: SPFHP 99.604 %, LPFHP 99.8129 % "
             "(no depth limit) and NNLSHP 99.75 % at depth 3; SPFHP at depth 3 falls to "
             "about 89.4 %.")


def load(path: Path) -> np.ndarray:
    data = np.load(path)
    if path.stem.endswith("_histogram"):
        return np.repeat(np.arange(len(data)), data).astype(np.int64)
    return data.astype(np.int64)


def measure(lengths, capacity, strategy, limit):
    packer = Packer(capacity, strategy, max_seqs_per_pack=limit, threads=1)
    start = time.perf_counter()
    result = packer.pack(lengths)
    seconds = time.perf_counter() - start
    return result, seconds


def rows():
    for path in sorted(LENGTHS.glob("*.npy")):
        if path.stem in SKIP:
            continue
        lengths = load(path)
        capacity = CAPACITY.get(path.stem, 4096)
        dropped = int((lengths > capacity).sum())
        lengths = lengths[lengths <= capacity]
        for limit in LIMITS:
            ours, ours_s = measure(lengths, capacity, "obfd", limit)
            greedy, greedy_s = measure(lengths, capacity, "bfd", limit)
            yield (path.stem, capacity, len(lengths), dropped, limit or "none",
                   f"{ours.efficiency:.4%}", f"{ours_s * 1000:.0f}",
                   f"{greedy.efficiency:.4%}", f"{greedy_s * 1000:.0f}",
                   f"{ours.metrics.lower_bound_gap:.4%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, help="write a markdown page here")
    args = parser.parse_args()
    header = ("data", "capacity", "lengths", "dropped (> capacity)", "limit",
              "obfd efficiency", "obfd ms", "bfd efficiency", "bfd ms",
              "obfd gap to lower bound")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows():
        line = "| " + " | ".join(str(v) for v in row) + " |"
        print(line, flush=True)
        lines.append(line)
    if args.page:
        args.page.write_text(
            "# Efficiency under a limit on sequences per pack\n\n"
            "Written by `python asv_benchmarks/compare_constraints.py --page "
            "docs/constraints-benchmarks.md` (one run, one thread per call; "
            f"seqpacker {seqpacker.__version__}, Python {platform.python_version()}, "
            f"{platform.machine()}). `obfd` plans limits 2 and 3 over the length "
            "histogram (docs/constraints.md); `bfd` is plain best fit under the limit. "
            "The gap is `num_packs / lower_bound - 1`, with the bound of "
            "`PackMetrics.lower_bound` (L2, and `ceil(n / limit)` under a limit), which "
            "is loose under small limits.\n\n" + PUBLISHED + "\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8")


if __name__ == "__main__":
    main()
