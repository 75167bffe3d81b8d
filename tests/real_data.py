"""Where the real length distributions live (``shared/data/lengths``, the
``shared`` folder beside the repository, also in CI), and samples of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

LENGTHS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lengths"


def sample_lengths(name: str, capacity: int, count: int, seed: int) -> np.ndarray:
    """``count`` lengths drawn with replacement from one distribution's
    lengths in [1, capacity]; skips the test when the data is absent."""
    path = LENGTHS_DIR / name
    if not path.is_file():
        pytest.skip(f"no real length data: {path} does not exist")
    lengths = np.load(path).astype(np.int64)
    lengths = lengths[(lengths >= 1) & (lengths <= capacity)]
    return np.random.default_rng(seed).choice(lengths, count)
