"""Pure-Python references for FirstFitShuffle, Modified FFD and Harmonic-K.

Written from the descriptions in docs/prng.md and docs/mffd-and-harmonic.md,
not from the C code: obvious, slow (every step scans lists) and exact, so the
C strategies must give the very same bins.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

from reference import (
    Bins,
    Reference,
    decreasing_order,
    first_fit_choice,
    place_in_order,
)

MASK64 = (1 << 64) - 1
DEFAULT_SEED = 0  # SP_DEFAULT_SEED
DEFAULT_K = 10  # SP_DEFAULT_K


# ---- FirstFitShuffle --------------------------------------------------------


class SplitMix64:
    """SplitMix64 with every step masked to 64 bits."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, bound: int) -> int:
        """Uniform in [0, bound), bound < 2**32: Lemire's method on the high
        32 bits of each draw, rejecting products whose low 32 bits fall
        below 2**32 mod bound."""
        product = (self.next() >> 32) * bound
        threshold = (1 << 32) % bound
        while product & 0xFFFFFFFF < threshold:
            product = (self.next() >> 32) * bound
        return product >> 32


def shuffled_ids(n: int, seed: int) -> List[int]:
    """Fisher-Yates from the last position down to 1."""
    order = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def first_fit_shuffle(
    lengths: Sequence[int], capacity: int, seed: int = DEFAULT_SEED
) -> Bins:
    order = shuffled_ids(len(lengths), seed)
    return place_in_order(lengths, capacity, order, first_fit_choice(capacity))


# ---- Modified First Fit Decreasing ------------------------------------------


def modified_first_fit_decreasing(lengths: Sequence[int], capacity: int) -> Bins:
    """Johnson and Garey's MFFD, phase by phase.

    Every class list is in decreasing order (equal lengths by ascending id):
    "the largest that fits" is the first that fits, "the smallest" the last.
    """
    order = decreasing_order(lengths)
    c = capacity
    large = [i for i in order if 2 * lengths[i] > c]
    medium = [i for i in order if 2 * lengths[i] <= c < 3 * lengths[i]]
    small = [i for i in order if 3 * lengths[i] <= c < 6 * lengths[i]]

    bins: Bins = [[i] for i in large]  # phase 1
    loads = [lengths[i] for i in large]

    def put(b: int, item: int) -> None:
        bins[b].append(item)
        loads[b] += lengths[item]

    # Phase 2: forward, the largest remaining medium that fits.
    for b in range(len(large)):
        fitting = [m for m in medium if loads[b] + lengths[m] <= c]
        if fitting:
            medium.remove(fitting[0])
            put(b, fitting[0])

    # Phase 3: backward over the bins without a medium, two smalls.
    for b in reversed(range(len(large))):
        if len(bins[b]) != 1 or len(small) < 2:
            continue
        if loads[b] + lengths[small[-1]] + lengths[small[-2]] > c:
            continue
        smallest = small.pop()
        put(b, smallest)
        partner = next(s for s in small if loads[b] + lengths[s] <= c)
        small.remove(partner)
        put(b, partner)

    # Phases 4 and 5: the rest by first fit, existing bins first.
    placed = {i for b in bins for i in b}
    for item in order:
        if item in placed:
            continue
        for b in range(len(bins)):
            if loads[b] + lengths[item] <= c:
                put(b, item)
                break
        else:
            bins.append([item])
            loads.append(lengths[item])
    return bins


# ---- Harmonic-K --------------------------------------------------------------


def harmonic_k(lengths: Sequence[int], capacity: int, k: int = DEFAULT_K) -> Bins:
    """Lee and Lee's Harmonic-K: class i = capacity // length when < k holds
    i items per bin; the rest go next fit into one bin."""
    bins: Bins = []
    open_bin: Dict[int, int] = {}  # class -> bin number, while not full
    last_bin = -1
    last_load = 0
    for item, length in enumerate(lengths):
        i = capacity // length
        if i >= k:
            if last_bin < 0 or last_load + length > capacity:
                bins.append([])
                last_bin, last_load = len(bins) - 1, 0
            bins[last_bin].append(item)
            last_load += length
            continue
        if i not in open_bin:
            bins.append([])
            open_bin[i] = len(bins) - 1
        b = open_bin[i]
        bins[b].append(item)
        if len(bins[b]) == i:
            del open_bin[i]
    return bins


def max_open_bins(bins: Bins, n: int) -> int:
    """The most bins whose first..last item span covers one input position,
    given bins of input ids (a bin is open from its first to its last item)."""
    delta = [0] * (n + 1)
    for ids in bins:
        delta[min(ids)] += 1
        delta[max(ids) + 1] -= 1
    most = running = 0
    for d in delta:
        running += d
        most = max(most, running)
    return most


#: Merged into reference.REFERENCES by all_references(); default options.
REFERENCES: Dict[str, Reference] = {
    "ffs": first_fit_shuffle,
    "mffd": modified_first_fit_decreasing,
    "hk": harmonic_k,
}
