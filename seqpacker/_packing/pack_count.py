"""Pack-count constraints: ``min_packs`` and ``packs_multiple_of``.

A packing with too few bins, or a count that the data-parallel ranks times
the accumulation steps do not divide, is mended by splitting bins. Every
split adds one bin and moves no token, so the efficiency after the splits
is ``total / (target * capacity)`` whichever bins are split: the least
cost is the least target, the smallest count >= ``min_packs`` (and >= the
bins there are) that is a multiple of ``packs_multiple_of``.

Which bins split (the rule, so that results are deterministic): the bins
with the most tokens first, ties to the lower bin number, among bins with
at least two units (sequences, or whole groups); each splits into two runs
of its units in placement order, at the point that makes their token sums
the closest (the earlier point on a tie). The second half follows the
first. When more splits are needed than there are such bins, the rule
runs again on the result.
"""

from __future__ import annotations

import numpy as np


def target_count(num_bins: int, units: int, min_packs: int | None,
                 multiple: int | None) -> int:
    """The pack count to reach; ValueError when ``units`` (sequences or
    groups, each indivisible) cannot fill that many packs."""
    target = max(num_bins, min_packs or 0)
    if multiple:
        target = -(-target // multiple) * multiple
    if target > units and target > num_bins:
        asked = []
        if min_packs:
            asked.append(f"min_packs={min_packs}")
        if multiple:
            asked.append(f"packs_multiple_of={multiple}")
        raise ValueError(f"{' and '.join(asked)}: {target} packs are needed, but there are only "
                         f"{units} sequences (or groups) to put in them: every pack needs at "
                         f"least one")
    return target


def split_bins(items: np.ndarray, offsets: np.ndarray, unit_lengths: np.ndarray,
               target: int) -> np.ndarray:
    """The offsets of ``target`` bins, made from ``offsets`` by the rule of
    this module. ``unit_lengths[items]`` are the tokens of each unit."""
    placed = unit_lengths[items]
    cumulative = np.concatenate(([0], np.cumsum(placed)))
    while len(offsets) - 1 < target:
        counts = np.diff(offsets)
        used = cumulative[offsets[1:]] - cumulative[offsets[:-1]]
        candidates = np.flatnonzero(counts >= 2)
        # Most tokens first, then the lower bin number.
        chosen = candidates[np.lexsort((candidates, -used[candidates]))]
        chosen = np.sort(chosen[: target - (len(offsets) - 1)])
        offsets = np.sort(np.concatenate((offsets, _split_points(offsets, chosen, cumulative))))
    return offsets


def _split_points(offsets: np.ndarray, chosen: np.ndarray, cumulative: np.ndarray) -> np.ndarray:
    """For each chosen bin, the position in ``items`` where its second half
    starts: the one of ``start + 1 .. end - 1`` whose prefix sum is closest
    to half the bin's tokens (the earliest on a tie)."""
    starts, ends = offsets[chosen], offsets[chosen + 1]
    sizes = ends - starts - 1  # candidate points per bin
    bin_of = np.repeat(np.arange(len(chosen)), sizes)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    points = starts[bin_of] + 1 + (np.arange(bin_of.size) - first[bin_of])
    before = cumulative[points] - cumulative[starts[bin_of]]
    total = cumulative[ends[bin_of]] - cumulative[starts[bin_of]]
    distance = np.abs(2 * before - total)
    # The earliest point of least distance in each bin.
    order = np.lexsort((points, distance, bin_of))
    best = order[np.concatenate(([0], np.cumsum(sizes)[:-1]))]
    return points[best]
