"""The lower bound on the number of bins (``sp_lower_bound``, Martello and
Toth's L2 with an optional cap on items per bin): equal to the definition
evaluated over every alpha, never above any strategy's bins nor the optimum
of tiny inputs, errors as packing gives them, and its value on real data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from length_lists import capacities, length_lists
from real_data import load_histogram
from seqpacker import Packer
from seqpacker._core.native import STRATEGY_IDS, lower_bound

BUILT_IN = [short for short, _long in Packer.strategies() if short.lower() in STRATEGY_IDS]


def as_array(lengths) -> np.ndarray:
    return np.ascontiguousarray(lengths, dtype=np.int64)


def l2_reference(lengths, capacity: int) -> int:
    """L2 by its definition: L(alpha) for every integer alpha with
    0 <= alpha <= C/2, in plain loops over the lengths."""
    best = 0
    for alpha in range(capacity // 2 + 1):
        j1 = j2 = j2_sum = j3_sum = 0
        for length in lengths:
            if length > capacity - alpha:
                j1 += 1
            elif 2 * length > capacity:
                j2 += 1
                j2_sum += length
            elif length >= alpha:
                j3_sum += length
        excess = j3_sum - (j2 * capacity - j2_sum)
        best = max(best, j1 + j2 + max(0, -(-excess // capacity)))
    return best


def optimal_bins(lengths, capacity: int, max_items: int = 0) -> int:
    """The fewest bins of at most ``max_items`` items each (0 = any), by
    exhaustive search: each item, longest first, goes into every open bin
    that takes it (one of each (load, count)) or a new one."""
    items = sorted(lengths, reverse=True)
    cap_items = max_items or len(items)
    best = len(items)

    def place(i: int, bins: list) -> None:
        nonlocal best
        if len(bins) >= best:
            return
        if i == len(items):
            best = len(bins)
            return
        tried = set()
        for b, (load, count) in enumerate(bins):
            if load + items[i] <= capacity and count < cap_items and (load, count) not in tried:
                tried.add((load, count))
                bins[b] = (load + items[i], count + 1)
                place(i + 1, bins)
                bins[b] = (load, count)
        bins.append((items[i], 1))
        place(i + 1, bins)
        bins.pop()

    place(0, [])
    return best


def ceil_total(lengths, capacity: int) -> int:
    return -(-sum(int(x) for x in lengths) // capacity)


# ---- the definition ----------------------------------------------------------

# Capacities that the reference's loop over every alpha can afford. With up
# to 60 lengths, capacities up to 40 often take the C histogram (C <= 4n)
# and the others the sorted copy (C > 4n).
small_capacities = st.one_of(st.integers(1, 40), st.integers(41, 3000))


@given(small_capacities.flatmap(lambda c: st.tuples(length_lists(c), st.just(c))))
def test_equals_the_definition(case):
    lengths, capacity = case
    got = lower_bound(as_array(lengths), capacity)
    assert got == l2_reference(lengths, capacity)
    assert got >= ceil_total(lengths, capacity)
    assert got >= sum(2 * x > capacity for x in lengths)


@given(small_capacities.flatmap(lambda c: st.tuples(length_lists(c), st.just(c))),
       st.sampled_from([2, 3, 2**20 + 7, 2**40 + 1]))
def test_same_on_scaled_inputs(case, scale):
    """L2 of lengths and capacity scaled alike is L2 of the originals: the
    sorted path with capacities up to about 2**52 against the reference."""
    lengths, capacity = case
    scaled = as_array(lengths) * scale
    assert lower_bound(scaled, capacity * scale) == l2_reference(lengths, capacity)


@pytest.mark.parametrize("n, capacity", [(400, 64), (400, 1600), (30, 121), (30, 2000)])
def test_both_paths_on_random_inputs(n, capacity):
    """C <= 4n (the histogram) and C > 4n (the sort), named explicitly."""
    rng = np.random.default_rng(n * 10007 + capacity)
    for low in (1, capacity // 4, capacity // 3 + 1):
        lengths = rng.integers(max(low, 1), capacity + 1, size=n)
        assert lower_bound(as_array(lengths), capacity) == l2_reference(lengths.tolist(), capacity)


@pytest.mark.parametrize("lengths, capacity, expected", [
    ([], 10, 0),
    ([6, 6, 6], 10, 3),                  # above C/2: one bin each
    ([60, 60, 60, 45, 45, 45], 100, 5),  # alpha = 45 beats ceil(315 / 100) = 4
    ([5, 5, 5, 5], 10, 2),               # exactly C/2 pairs up
    ([5, 5, 5], 9, 3),                   # odd C: 5 > 9/2
    ([4, 4, 4, 4], 9, 2),
    ([2**62, 2**62 - 1], 2**63 - 1, 1),  # the total is the int64 maximum
])
def test_worked_values(lengths, capacity, expected):
    assert lower_bound(as_array(lengths), capacity) == expected


# ---- never above a packing -----------------------------------------------------

@given(capacities.flatmap(lambda c: st.tuples(length_lists(c), st.just(c))))
def test_never_above_any_strategy(case):
    lengths, capacity = case
    bound = lower_bound(as_array(lengths), capacity)
    for strategy in BUILT_IN:
        assert bound <= Packer(capacity, strategy).pack(lengths).num_bins, strategy


tiny_inputs = st.integers(1, 30).flatmap(
    lambda c: st.tuples(st.lists(st.integers(1, c), max_size=8), st.just(c)))


@given(tiny_inputs)
def test_never_above_the_optimum(case):
    lengths, capacity = case
    assert lower_bound(as_array(lengths), capacity) <= optimal_bins(lengths, capacity)


@given(tiny_inputs, st.integers(0, 9))
def test_never_above_the_optimum_under_a_cap(case, max_items):
    lengths, capacity = case
    bound = lower_bound(as_array(lengths), capacity, max_items)
    assert bound <= optimal_bins(lengths, capacity, max_items)
    assert bound >= lower_bound(as_array(lengths), capacity)
    if max_items > 0:
        assert bound >= -(-len(lengths) // max_items)


def test_the_cap_alone():
    ones = as_array([1] * 7)
    assert [lower_bound(ones, 100, cap) for cap in (0, 1, 2, 3, 7, 8, 2**63 - 1)] == [1, 7, 4, 3, 1, 1, 1]


# ---- errors ------------------------------------------------------------------

@pytest.mark.parametrize("lengths, capacity", [
    ([3, 0, 4], 10),
    ([3, -2], 10),
    ([3, 11, 0], 10),
    ([5, 2**41], 2**40),
])
def test_bad_lengths_raise_as_packing_does(lengths, capacity):
    with pytest.raises(ValueError) as packing:
        Packer(capacity, "obfd").pack(lengths)
    with pytest.raises(ValueError) as bounding:
        lower_bound(as_array(lengths), capacity)
    assert str(bounding.value) == str(packing.value)
    bad = next(i for i, x in enumerate(lengths) if not 1 <= x <= capacity)
    assert f"lengths[{bad}] = {lengths[bad]}" in str(bounding.value)


def test_bad_length_message_names_index_value_and_limit():
    with pytest.raises(ValueError, match=r"lengths\[1\] = 11 exceeds capacity 10"):
        lower_bound(as_array([3, 11]), 10)
    with pytest.raises(ValueError, match=r"lengths\[2\] = 0 is not a valid length"):
        lower_bound(as_array([3, 4, 0]), 10)


@pytest.mark.parametrize("max_items", [-1, -(2**63)])
def test_negative_max_items(max_items):
    with pytest.raises(ValueError, match=rf"max_items = {max_items} is out of range: it must be >= 0"):
        lower_bound(as_array([1, 2]), 10, max_items)


@pytest.mark.parametrize("capacity", [0, -5])
def test_bad_capacity(capacity):
    with pytest.raises(ValueError, match=rf"capacity = {capacity} is out of range"):
        lower_bound(as_array([]), capacity)


def test_total_overflow():
    with pytest.raises(OverflowError, match="does not fit int64"):
        lower_bound(as_array([2**62, 2**62]), 2**63 - 1)


# ---- real data ---------------------------------------------------------------

def histogram_l2(histogram: np.ndarray, capacity: int) -> int:
    """L2 from a histogram (index = length), by the definition over every
    alpha, each term summed over the lengths 1..C at once."""
    length = np.arange(len(histogram), dtype=np.int64)
    count = histogram.astype(np.int64)
    large = 2 * length > capacity
    best = 0
    for alpha in range(capacity // 2 + 1):
        j1 = large & (length > capacity - alpha)
        j2 = large & ~j1
        j3 = ~large & (length >= alpha) & (length >= 1)
        room = int(((capacity - length) * count)[j2].sum())
        excess = int((length * count)[j3].sum()) - room
        best = max(best, int(count[j1 | j2].sum()) + max(0, -(-excess // capacity)))
    return best


# The histograms of the packed-BERT data sets (Graphcore), the bound they
# give, ceil(total / C) and OBFD's bins, recorded when this test was written.
REAL = {
    "wikipedia_bert512_graphcore_histogram.npy": (512, 8_135_727, 8_134_368, 8_138_483),
    "squad11_bert384_graphcore_histogram.npy": (384, 39_775, 39_713, 40_631),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_histograms(name):
    capacity, l2, by_total, obfd = REAL[name]
    histogram = load_histogram(name)
    assert histogram[0] == 0 and len(histogram) == capacity + 1
    lengths = np.repeat(np.arange(len(histogram), dtype=np.int64), histogram)
    bound = lower_bound(lengths, capacity)
    assert bound == l2 == histogram_l2(histogram, capacity)
    assert bound >= -(-int(lengths.sum()) // capacity) == by_total
    assert bound <= Packer(capacity, "obfd").pack(lengths).num_bins == obfd
