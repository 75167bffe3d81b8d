"""SplitMix64 (docs/prng.md), the one 64-bit mixer of the Python package.

NumPy's wrapping uint64 arithmetic makes it bit for bit the C library's
(``csrc/src/common/mix.h``) on every platform. ``mix`` is the finalizer, a
bijection of 64-bit words; the generator adds ``GOLDEN_GAMMA`` to its state
and returns the finalizer of the new state, so its draw ``k`` (counting
from 1) from seed ``s`` is ``mix(s + k * GOLDEN_GAMMA)`` and ``splitmix64``
computes any run of draws at once. Content keys and shards use ``mix``;
the step shuffle of ``schedule`` draws from ``splitmix64``.
"""

from __future__ import annotations

import numpy as np

#: The generator's increment: 2**64 / golden ratio, rounded down (odd).
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer over a uint64 array, in place where it can."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def splitmix64(seed: int, first: int, count: int) -> np.ndarray:
    """Draws ``first + 1`` to ``first + count`` of SplitMix64 seeded with
    ``seed`` (an int in [0, 2**64 - 1]), as a uint64 array."""
    draw = np.arange(first + 1, first + count + 1, dtype=np.uint64)
    draw *= np.uint64(GOLDEN_GAMMA)
    draw += np.uint64(seed)
    return mix(draw)
