"""Seeded benchmark data, packing checks and timing helpers, shared by the
asv benchmarks and by ``compare_peers.py``.

This module imports only NumPy, so ``compare_peers.py`` can reuse it in any
interpreter, including the peers' venv where a different package owns the
name ``seqpacker``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

SEED = 20240601
CAPACITY = 2048
N = 1_000_000
#: Real distributions are packed at this capacity; longer examples are
#: dropped (heavy tails would otherwise force a capacity that makes every
#: other example look tiny).
REAL_CAPACITY = 4096
#: Histogram files can expand to tens of millions of items; a seeded sample
#: of this many keeps a benchmark run short without changing the shape.
MAX_REAL_ITEMS = 2_000_000

#: Every built-in strategy, in the order the tables print them.
STRATEGIES = ("nf", "ff", "bf", "wf", "ffd", "bfd", "ffs", "mffd", "obfd", "obfdp", "hk")

# asv_benchmarks/benchmarks/common.py -> parents[3] is the folder that holds
# the repository, where ``shared/data/lengths`` lives beside it.
LENGTHS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "lengths"


def uniform_lengths(n: int = N, capacity: int = CAPACITY, seed: int = SEED) -> np.ndarray:
    """``n`` int64 lengths uniform in ``[1, capacity]``, fixed seed."""
    return np.random.default_rng(seed).integers(1, capacity + 1, size=n, dtype=np.int64)


def lognormal_lengths(n: int = 100_000, capacity: int = REAL_CAPACITY, seed: int = SEED) -> np.ndarray:
    """A synthetic heavy-tailed stand-in for real data (median ~ 400 tokens)."""
    rng = np.random.default_rng(seed)
    raw = np.rint(rng.lognormal(mean=6.0, sigma=1.0, size=n)).astype(np.int64)
    return np.clip(raw, 1, capacity)


def load_lengths_file(path: Path, capacity: int = REAL_CAPACITY,
                      max_items: int = MAX_REAL_ITEMS, seed: int = SEED) -> tuple[np.ndarray, str]:
    """Load one file of ``shared/data/lengths`` as int64 lengths in ``[1, capacity]``.

    Returns the array and a note saying what was changed: lengths < 1 or
    > capacity are dropped; more than ``max_items`` items are sampled down,
    seeded. ``*_histogram.npy`` files (index = length, value = count) are
    expanded and shuffled with a fixed seed, since an expanded histogram is
    sorted and online strategies would see an order no real stream has.
    """
    raw = np.load(path).astype(np.int64)
    rng = np.random.default_rng(seed)
    notes = []
    if path.stem.endswith("_histogram"):
        counts = raw.copy()
        counts[0] = 0
        counts[capacity + 1:] = 0
        dropped = int(raw.sum() - counts.sum())
        if counts.sum() > max_items:
            # Drawing the sample's counts directly avoids expanding millions.
            counts = rng.multivariate_hypergeometric(counts, max_items)
            notes.append(f"seeded sample of {max_items:,} of {int(raw.sum()):,}")
        lengths = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        rng.shuffle(lengths)
        notes.append("histogram expanded, shuffled")
    else:
        keep = (raw >= 1) & (raw <= capacity)
        dropped = int(len(raw) - keep.sum())
        lengths = raw[keep]
        if len(lengths) > max_items:
            pick = np.sort(rng.choice(len(lengths), max_items, replace=False))
            lengths = lengths[pick]
            notes.append(f"seeded sample of {max_items:,}")
    if dropped:
        notes.insert(0, f"dropped {dropped:,} > {capacity}")
    return np.ascontiguousarray(lengths), "; ".join(notes)


def real_distribution_files() -> list[Path]:
    """The ``.npy`` files of ``shared/data/lengths`` (empty if it is absent)."""
    return sorted(LENGTHS_DIR.glob("*.npy")) if LENGTHS_DIR.is_dir() else []


def real_distributions(capacity: int = REAL_CAPACITY,
                       max_items: int = MAX_REAL_ITEMS) -> dict[str, tuple[np.ndarray, str]]:
    """Every real distribution beside the repository, or a log-normal stand-in.

    Maps a short name (the file stem) to ``(lengths, note)``.
    """
    files = real_distribution_files()
    if not files:
        return {"synthetic_lognormal": (lognormal_lengths(capacity=capacity),
                                        f"{LENGTHS_DIR} not found: synthetic log-normal")}
    return {f.stem: load_lengths_file(f, capacity, max_items) for f in files}


def efficiency_of(tokens: int, num_bins: int, capacity: int) -> float:
    """Tokens packed / tokens of space in the bins used (0.0 for no bins)."""
    return tokens / (num_bins * capacity) if num_bins else 0.0


def efficiency(lengths: np.ndarray, num_bins: int, capacity: int) -> float:
    """:func:`efficiency_of` for an array of lengths."""
    return efficiency_of(int(lengths.sum()), num_bins, capacity)


def check_packing(lengths: np.ndarray, items: np.ndarray, split_points: np.ndarray,
                  capacity: int) -> str | None:
    """Why ``(items, split_points)`` is not a valid packing, or None if it is.

    A benchmark must not report a fast but wrong answer as a win: every id
    appears once and no bin exceeds the capacity.
    """
    n = len(lengths)
    if len(items) != n or not np.array_equal(np.sort(items), np.arange(n)):
        return "items are not a permutation of the ids"
    if n == 0:
        return None
    starts = np.concatenate(([0], np.asarray(split_points, dtype=np.int64)))
    if np.any(np.diff(starts) <= 0) or starts[-1] >= n:
        return "bin offsets are not strictly increasing inside [0, n)"
    fills = np.add.reduceat(lengths[items], starts)
    if fills.max() > capacity:
        return f"a bin holds {int(fills.max())} > capacity {capacity}"
    return None


def best_time(fn, repeat: int = 5) -> float:
    """The smallest wall time of ``repeat`` calls of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
