"""The real length distributions that the tests carry (``tests/data``, see its
README.md for sources and licenses), and samples of them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

LENGTHS_DIR = Path(__file__).resolve().parent / "data"
# A histogram stands for at most this many of its lengths (see load_lengths).
HISTOGRAM_DRAW = 1_000_000


def real_length_files() -> list[str]:
    """The name of every file of ``tests/data``: per-example files and
    histograms (which load_lengths turns into lengths in random order)."""
    names = sorted(p.name for p in LENGTHS_DIR.glob("*.npy"))
    if not names:
        raise RuntimeError(f"no real length data in {LENGTHS_DIR}: it belongs to the repository")
    return names


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    return np.load(LENGTHS_DIR / name)


def load_histogram(name: str) -> np.ndarray:
    """The counts of one ``*_histogram.npy`` file of ``tests/data`` as int64
    (a fresh copy): entry ``i`` is the number of sequences of length ``i``."""
    if not name.endswith("_histogram.npy"):
        raise ValueError(f"{name} is not a histogram (*_histogram.npy)")
    return _load(name).astype(np.int64)


@lru_cache(maxsize=None)
def _lengths(name: str) -> np.ndarray:
    if not name.endswith("_histogram.npy"):
        return _load(name).astype(np.int64)
    data = load_histogram(name)
    # Index = length. Draw positions of the expanded (ascending) histogram
    # without replacement and map them to lengths, without expanding it.
    total = int(data.sum())
    picked = np.random.default_rng(0).choice(total, min(total, HISTOGRAM_DRAW), replace=False)
    return np.searchsorted(np.cumsum(data), picked, side="right").astype(np.int64)


def load_lengths(name: str) -> np.ndarray:
    """The lengths of one file of ``tests/data`` as int64 (a fresh copy).

    A per-example file comes in source order. A ``*_histogram.npy`` file
    (entry ``i`` counts the sequences of length ``i``) comes as up to
    HISTOGRAM_DRAW of its lengths drawn without replacement, in random order,
    with ``numpy.random.default_rng(0)``: for the Wikipedia histogram that is
    exactly the 1M sample that tests/data/README.md names; for SQuAD, all its
    lengths shuffled."""
    return _lengths(name).copy()


def sample_lengths(name: str, capacity: int, count: int, seed: int) -> np.ndarray:
    """``count`` lengths drawn with replacement from one file's lengths
    (``load_lengths``) in [1, capacity]."""
    lengths = load_lengths(name)
    lengths = lengths[(lengths >= 1) & (lengths <= capacity)]
    return np.random.default_rng(seed).choice(lengths, count)
