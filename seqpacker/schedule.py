"""Rank-balanced schedules: which rank processes which pack, step by step.

In data-parallel training every rank processes ``accumulation_steps`` packs
(micro-batches) per optimizer step, and the step ends when the slowest rank
is done. ``balance`` orders the packs of a ``PackResult`` into global steps
of ``num_ranks * accumulation_steps`` packs and spreads each step's packs so
that the ranks' costs are as equal as a greedy rule makes them:

1. The cost of a pack is the sum of its sequences' costs: ``l`` (``"tokens"``),
   ``l**2`` (``"attention"``) or ``a*l + b*l**2`` (a tuple ``(a, b)``),
   in float64.
2. The packs are sorted by cost, descending; equal costs keep pack index
   order (a stable sort).
3. Step ``s`` takes sorted positions ``[s*R*A, (s+1)*R*A)``. Within a step,
   the packs go in that descending order, each to the rank with the smallest
   running cost among the ranks that hold fewer than ``A`` packs; equal
   running costs go to the lowest rank number (LPT with a cardinality limit).
   With ``A == 1`` the rank is the position within the step.
4. Without a seed, steps stay in the order built, heaviest first. With a
   seed, the steps are permuted by the Fisher-Yates shuffle of docs/prng.md
   (SplitMix64 and its unbiased bounded draw), bit for bit on every platform;
   a step's contents are not changed, so its balance is kept.

Step 3 runs for all steps at once: one loop over the ``R*A`` positions of a
step, on ``(steps, R)`` arrays, never a Python loop over packs or steps.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Iterator

import numpy as np

from ._core.mix import splitmix64
from ._core.validation import _check_int, check_positive, check_seed
from .result import PackResult, bin_sums

#: The bounded draw of docs/prng.md takes bounds below 2**32.
_MAX_SHUFFLED_STEPS = 2**32
#: SplitMix64 draws computed per NumPy call in the step shuffle.
_DRAW_BATCH = 1 << 16


def balance(result: PackResult, num_ranks: int, *, accumulation_steps: int = 1,
            cost="tokens", seed: int | None = None) -> Schedule:
    """A schedule of ``result``'s packs over ``num_ranks`` ranks.

    Each global step gives every rank ``accumulation_steps`` packs; the
    number of packs must be a multiple of ``num_ranks * accumulation_steps``.
    ``cost`` is ``"tokens"``, ``"attention"`` or ``(a, b)`` for
    ``a*l + b*l**2`` per sequence. ``seed`` (an int in [0, 2**64 - 1])
    shuffles the order of the steps; ``None`` keeps them heaviest first.
    """
    if not isinstance(result, PackResult):
        raise TypeError(f"result must be a PackResult, not {type(result).__name__}")
    ranks = check_positive("num_ranks", num_ranks)
    micro = check_positive("accumulation_steps", accumulation_steps)
    linear, quadratic = _cost_coefficients(cost)
    if seed is not None:
        seed = check_seed(seed)

    pack_cost = _pack_costs(result, linear, quadratic, cost)
    multiple = ranks * micro
    if len(pack_cost) % multiple:
        raise ValueError(
            f"{len(pack_cost)} packs cannot be split into steps of num_ranks * "
            f"accumulation_steps = {multiple} packs: the number of packs must be a "
            f"multiple of {multiple} (Packer(..., packs_multiple_of={multiple}) "
            f"packs to such a count)")

    packs, rank_cost = _assign(pack_cost, ranks, micro)
    schedule = Schedule(packs, pack_cost, rank_cost)
    return schedule if seed is None else schedule.shuffled(seed)


class Schedule:
    """Pack indices per step, rank and micro-batch, with their costs.

    Arrays (read-only): ``packs`` has shape ``(num_steps, num_ranks,
    accumulation_steps)`` and holds indices into the result's bins;
    ``pack_cost`` is the cost of each pack by pack index; ``rank_cost``
    (``(num_steps, num_ranks)``) the total cost of each rank in each step;
    ``imbalance`` is ``max / min - 1`` of each step's rank costs.
    """

    __slots__ = ("_packs", "_pack_cost", "_rank_cost", "_imbalance")

    def __init__(self, packs: np.ndarray, pack_cost: np.ndarray, rank_cost: np.ndarray):
        self._packs = packs
        self._pack_cost = pack_cost
        self._rank_cost = rank_cost
        self._imbalance = _imbalance(rank_cost)
        for array in (packs, pack_cost, rank_cost, self._imbalance):
            array.flags.writeable = False

    @property
    def num_ranks(self) -> int:
        return self._packs.shape[1]

    @property
    def accumulation_steps(self) -> int:
        return self._packs.shape[2]

    @property
    def num_steps(self) -> int:
        return self._packs.shape[0]

    @property
    def packs(self) -> np.ndarray:
        return self._packs

    @property
    def pack_cost(self) -> np.ndarray:
        return self._pack_cost

    @property
    def rank_cost(self) -> np.ndarray:
        return self._rank_cost

    @property
    def imbalance(self) -> np.ndarray:
        """Per step, ``max / min - 1`` of the ranks' costs: 0.0 when all are
        0, ``inf`` when the lightest rank's cost is 0 and another's is not."""
        return self._imbalance

    @property
    def mean_imbalance(self) -> float:
        return float(self._imbalance.mean()) if self.num_steps else 0.0

    @property
    def max_imbalance(self) -> float:
        return float(self._imbalance.max()) if self.num_steps else 0.0

    def for_rank(self, rank: int) -> np.ndarray:
        """The pack indices ``rank`` processes, in order: step by step, and
        within a step micro-batch by micro-batch (a new int64 array)."""
        rank = _check_int("rank", rank)
        if not 0 <= rank < self.num_ranks:
            raise ValueError(f"rank = {rank} is out of range: it must be >= 0 and "
                             f"< num_ranks = {self.num_ranks}")
        return self._packs[:, rank, :].reshape(-1).copy()

    def shuffled(self, seed: int) -> Schedule:
        """A new schedule with the steps permuted by the seeded shuffle of
        docs/prng.md; each step keeps its ranks' packs."""
        order = _step_order(self.num_steps, check_seed(seed))
        return Schedule(self._packs[order], self._pack_cost, self._rank_cost[order])

    def __repr__(self) -> str:
        return (f"Schedule(steps={self.num_steps}, ranks={self.num_ranks}, "
                f"accumulation_steps={self.accumulation_steps}, "
                f"mean_imbalance={self.mean_imbalance:.3g})")


def _cost_coefficients(cost) -> tuple[float, float]:
    """``(a, b)`` of the per-sequence cost ``a*l + b*l**2``."""
    if isinstance(cost, str):
        named = {"tokens": (1.0, 0.0), "attention": (0.0, 1.0)}
        if cost not in named:
            raise ValueError(f"cost = {cost!r} is not a cost: use 'tokens', 'attention' "
                             f"or a tuple (a, b) for a*l + b*l**2")
        return named[cost]
    if not isinstance(cost, tuple):
        raise TypeError(f"cost must be 'tokens', 'attention' or a tuple (a, b), "
                        f"not {type(cost).__name__} ({cost!r})")
    if len(cost) != 2:
        raise ValueError(f"cost = {cost!r} has {len(cost)} values: a tuple cost is (a, b) "
                         f"for a*l + b*l**2")
    for name, value in zip("ab", cost):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            raise TypeError(f"cost {name} must be a real number, not "
                            f"{type(value).__name__} ({value!r})")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"cost {name} = {value!r} must be finite and >= 0")
    if cost[0] == 0 and cost[1] == 0:
        raise ValueError(f"cost = {cost!r}: a and b cannot both be 0")
    return float(cost[0]), float(cost[1])


def _pack_costs(result: PackResult, linear: float, quadratic: float, cost) -> np.ndarray:
    """The float64 cost of each pack: per-sequence costs summed bin by bin."""
    lengths = result.lengths[result.items].astype(np.float64)
    with np.errstate(over="ignore"):  # an overflow is reported below, by value
        item_cost = linear * lengths + quadratic * lengths * lengths
    pack_cost = bin_sums(item_cost, result.offsets)
    if not np.all(np.isfinite(pack_cost)):
        raise ValueError(f"cost = {cost!r} overflows float64 on these packs "
                         f"(largest length {int(result.lengths.max())})")
    return pack_cost


def _assign(pack_cost: np.ndarray, ranks: int, micro: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2 and 3 of the module docstring: ``(packs, rank_cost)``."""
    per_step = ranks * micro
    steps = len(pack_cost) // per_step
    # Negating keeps a stable sort: descending cost, ascending index on ties.
    by_cost = np.argsort(-pack_cost, kind="stable").reshape(steps, per_step)
    packs = np.empty((steps, ranks, micro), dtype=np.int64)
    rank_cost = np.zeros((steps, ranks))
    if micro == 1:
        packs[:, :, 0] = by_cost
        rank_cost[:] = pack_cost[by_cost]
        return packs, rank_cost
    held = np.zeros((steps, ranks), dtype=np.int64)
    rows = np.arange(steps)
    for position in range(per_step):
        pack = by_cost[:, position]
        # Full ranks are out of the running; argmin takes the lowest rank on ties.
        rank = np.argmin(np.where(held < micro, rank_cost, np.inf), axis=1)
        packs[rows, rank, held[rows, rank]] = pack
        rank_cost[rows, rank] += pack_cost[pack]
        held[rows, rank] += 1
    return packs, rank_cost


def _imbalance(rank_cost: np.ndarray) -> np.ndarray:
    """``max / min - 1`` per step: 0.0 for all-zero steps, inf for min 0 < max."""
    if rank_cost.shape[0] == 0:
        return np.zeros(0)
    high = rank_cost.max(axis=1)
    low = rank_cost.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = high / low - 1.0
    ratio[high == 0] = 0.0
    ratio[(low == 0) & (high > 0)] = np.inf
    return ratio


def _high_draws(seed: int, batch: int) -> Iterator[int]:
    """The high 32 bits of each SplitMix64 draw from ``seed``, computed
    ``batch`` draws at a time."""
    first = 0
    while True:
        yield from (splitmix64(seed, first, batch) >> np.uint64(32)).tolist()
        first += batch


def _step_order(num_steps: int, seed: int) -> np.ndarray:
    """Fisher-Yates from the end over ``range(num_steps)``, driven by
    SplitMix64 and the bounded draw of docs/prng.md."""
    if num_steps >= _MAX_SHUFFLED_STEPS:
        raise ValueError(f"num_steps = {num_steps} is too many to shuffle: it must be "
                         f"< {_MAX_SHUFFLED_STEPS} (the bound of the draw)")
    # num_steps - 1 draws unless a draw is rejected, which is rare.
    draws = _high_draws(seed, min(max(num_steps, 1), _DRAW_BATCH))
    order = list(range(num_steps))
    for i in range(num_steps - 1, 0, -1):
        bound = i + 1
        threshold = 2**32 % bound
        while True:
            m = next(draws) * bound
            if m & 0xFFFFFFFF >= threshold:
                break
        j = m >> 32
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)
