"""``balanced``: packs that keep data-parallel ranks in step.

In data-parallel training each of ``ranks`` workers takes one pack per step,
and every step waits for the slowest worker. This strategy packs with
seqpacker's OBFD (through ``seqpacker.registry.pack_builtin``, so the packing
itself runs in C), then arranges the packs so that:

- the number of packs is a multiple of ``ranks``: every rank gets the same
  number of packs (bins with the most sequences are split in two, at most
  ``ranks - 1`` times, to get there);
- pack ``b`` belongs to rank ``b % ranks``, so ``bins[rank::ranks]`` are a
  rank's packs in step order;
- the packs of one step have similar sizes: packs are taken largest first,
  ``ranks`` at a time;
- within a step, the largest pack goes to the rank with the fewest tokens so
  far (ties: the lower rank), so that rank totals differ by at most the
  largest pack.

Deterministic: every sort is stable and ties go to the lower index.
"""

from __future__ import annotations

import numpy as np
from seqpacker.registry import pack_builtin

__all__ = ["balanced"]
__version__ = "0.1.0"


def balanced(lengths: np.ndarray, capacity: int, *, ranks: int = 1, seed=None, k=None,
             threads=None) -> tuple[np.ndarray, np.ndarray]:
    """The seqpacker strategy (protocol 1): ``(items, bin_offsets)``.

    ``ranks`` (an option: ``Packer(..., options={"ranks": 8})``) is the
    number of data-parallel workers. ``seed``, ``k`` and ``threads`` are
    seqpacker's options, which this strategy does not use.
    """
    ranks = _check_ranks(ranks)
    items, offsets = pack_builtin(lengths, capacity, "obfd")
    num_bins = len(offsets) - 1
    target = -(-num_bins // ranks) * ranks  # the next multiple of ranks
    if target > len(lengths):
        raise ValueError(
            f"balanced: cannot give each of {ranks} ranks the same number of non-empty packs: "
            f"{len(lengths)} sequences make at most {len(lengths)} packs, {target} are needed"
        )
    offsets = _split_until(offsets, target)
    if len(items) == 0:
        return items, offsets
    used = np.add.reduceat(lengths[items], offsets[:-1])
    return _reorder(items, offsets, _step_order(used, ranks))


balanced.seqpacker_protocol = 1  # the strategy protocol this function follows


def _check_ranks(ranks) -> int:
    if isinstance(ranks, bool) or not isinstance(ranks, (int, np.integer)):
        raise TypeError(f"balanced: ranks must be an int, not {type(ranks).__name__}")
    if ranks < 1:
        raise ValueError(f"balanced: ranks = {ranks} must be >= 1")
    return int(ranks)


def _split_until(offsets: np.ndarray, target: int) -> np.ndarray:
    """Split bins until there are ``target``: each time the bin with the most
    sequences (the first such), into its first half and the rest. Splitting
    only adds an offset, so the items stay where they are."""
    while len(offsets) - 1 < target:
        sizes = np.diff(offsets)
        b = int(np.argmax(sizes))  # has >= 2 items, as there are fewer bins than items
        offsets = np.insert(offsets, b + 1, offsets[b] + (sizes[b] + 1) // 2)
    return offsets


def _step_order(used: np.ndarray, ranks: int) -> np.ndarray:
    """Bin ids in output order: step by step, rank 0 to ranks - 1."""
    largest_first = np.argsort(-used, kind="stable")
    if ranks == 1:
        return largest_first
    steps = largest_first.reshape(-1, ranks)
    order = np.empty_like(steps)
    totals = np.zeros(ranks, dtype=np.int64)
    for step, bins in enumerate(steps):  # one pass per step, not per sequence
        lightest_first = np.argsort(totals, kind="stable")
        order[step, lightest_first] = bins
        totals[lightest_first] += used[bins]
    return order.ravel()


def _reorder(items: np.ndarray, offsets: np.ndarray, order: np.ndarray):
    """The flat form with the bins taken in ``order``."""
    sizes = np.diff(offsets)[order]
    new_offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(sizes, out=new_offsets[1:])
    shift = offsets[:-1][order] - new_offsets[:-1]
    gather = np.repeat(shift, sizes) + np.arange(len(items), dtype=np.int64)
    return items[gather], new_offsets
