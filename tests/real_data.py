"""The real length distributions that the tests carry (``tests/data``, see its
README.md for sources and licenses), and samples of them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

LENGTHS_DIR = Path(__file__).resolve().parent / "data"
# A histogram stands for at most this many of its lengths (see load_lengths).
HISTOGRAM_DRAW = 1_000_000


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    path = LENGTHS_DIR / name
    data = np.load(path)
    if not name.endswith("_histogram.npy"):
        return data.astype(np.int64)
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
    exactly ``wikipedia_bert512_graphcore_sample1m.npy`` of
    ``shared/data/lengths``; for SQuAD, all its lengths shuffled."""
    return _load(name).copy()


def sample_lengths(name: str, capacity: int, count: int, seed: int) -> np.ndarray:
    """``count`` lengths drawn with replacement from one file's lengths
    (``load_lengths``) in [1, capacity]."""
    lengths = load_lengths(name)
    lengths = lengths[(lengths >= 1) & (lengths <= capacity)]
    return np.random.default_rng(seed).choice(lengths, count)
