"""Every strategy, through the public API, against its invariants and, where
one exists, against its pure-Python reference (tests/reference*.py).

The ``strategy`` fixture (conftest.py) runs each test once per name in
``Packer.strategies()``, so a new strategy is covered without editing this file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from length_lists import packing_inputs
from seqpacker import Packer

# Strategies that open a bin only when the item fits no open bin (first fit
# on a shuffled order is still first fit).
ANY_FIT = {"FF", "BF", "WF", "FFD", "BFD", "OBFD", "FFS"}
ANY_FIT_PRESENT = [short for short, _long in Packer.strategies() if short in ANY_FIT]


def assert_valid_packing(lengths, capacity, result) -> None:
    """Each id once, no empty bin, no bin over capacity, packs consistent."""
    bins = result.bins
    placed = sorted(i for b in bins for i in b)
    assert placed == list(range(len(lengths)))
    assert all(len(b) > 0 for b in bins)
    assert result.num_bins == len(bins)
    assert len(result.packs) == len(bins)
    for ids, pack in zip(bins, result.packs):
        assert pack.sequence_ids == ids
        assert pack.lengths == [lengths[i] for i in ids]
        assert pack.used == sum(lengths[i] for i in ids)
        assert pack.used <= capacity
        assert len(pack) == len(ids)


def flat_to_bins(items: np.ndarray, splits: np.ndarray) -> list:
    """The bins of a ``pack_flat`` result, as ``np.split`` gives them."""
    assert items.dtype == np.int64 and splits.dtype == np.int64
    if items.size == 0:  # np.split of nothing would give one empty bin
        assert splits.size == 0
        return []
    return [part.tolist() for part in np.split(items, splits)]


def assert_valid_flat(lengths: np.ndarray, capacity: int, items, splits) -> np.ndarray:
    """The invariants of a ``pack_flat`` result, vectorized; returns ``used``."""
    n = lengths.size
    assert items.dtype == np.int64 and splits.dtype == np.int64
    assert np.array_equal(np.sort(items), np.arange(n))
    if n == 0:
        assert splits.size == 0
        return np.zeros(0, dtype=np.int64)
    bounds = np.concatenate(([0], splits, [n]))
    assert np.all(np.diff(bounds) > 0), "empty bin or decreasing split points"
    used = np.add.reduceat(lengths[items], bounds[:-1])
    assert used.max() <= capacity
    return used


# ---- every strategy: invariants ---------------------------------------------


@given(packing_inputs())
def test_packing_is_valid_deterministic_and_flat_agrees(strategy, case):
    lengths, capacity = case
    packer = Packer(capacity, strategy)
    result = packer.pack(lengths)
    assert_valid_packing(lengths, capacity, result)
    assert Packer(capacity, strategy).pack(lengths).bins == result.bins
    items, splits = packer.pack_flat(lengths)
    assert flat_to_bins(items, splits) == result.bins


@pytest.mark.parametrize("strategy", ANY_FIT_PRESENT)
@given(packing_inputs())
def test_any_fit_opens_a_bin_only_when_nothing_fits(strategy, case):
    lengths, capacity = case
    result = Packer(capacity, strategy).pack(lengths)
    # When bin b opened, its first item fitted no earlier bin, whose load then
    # was at most its final load.
    for b in range(1, result.num_bins):
        first = lengths[result.bins[b][0]]
        lightest_before = min(pack.used for pack in result.packs[:b])
        assert lightest_before + first > capacity


@given(packing_inputs())
def test_next_fit_keeps_input_order(case):
    lengths, capacity = case
    bins = Packer(capacity, "nf").pack(lengths).bins
    assert [i for b in bins for i in b] == list(range(len(lengths)))


# ---- deterministic strategies: identical to the reference -------------------


@given(packing_inputs())
def test_matches_reference(referenced_strategy, case):
    name, reference = referenced_strategy
    lengths, capacity = case
    assert Packer(capacity, name).pack(lengths).bins == reference(lengths, capacity)


@pytest.mark.parametrize(
    "capacity, unit",
    [(1000, 1), (65535, 1), (65537, 1), (2**40, 1), (40 * 2**34, 2**34)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_on_hundreds_of_items(referenced_strategy, capacity, unit, seed):
    # Hundreds of open bins, and both kinds of residual index (dense up to a
    # capacity of 2**16, sparse above). Lengths in multiples of a large unit
    # give the sparse index many bins with equal remaining space.
    name, reference = referenced_strategy
    rng = np.random.default_rng(seed)
    slots = capacity // unit
    lengths = (unit * rng.integers(1, slots // 2, size=600, endpoint=True)).tolist()
    lengths += [unit * (slots // 3)] * 50 + [capacity] * 5
    assert Packer(capacity, name).pack(lengths).bins == reference(lengths, capacity)


TIE_CASES = [
    [6, 6, 4, 4, 2, 2, 1, 1],
    [5, 5, 5, 5, 5, 5, 3, 3, 3, 2, 2, 2],
    [3, 3, 3, 7, 7, 7, 1, 2, 3, 4],
    [4, 4, 4, 4, 6, 6, 6, 6, 2, 2, 2, 2, 2, 2],
]


@pytest.mark.parametrize("scale", [1, 2**17, 2**28, 2**36])
@pytest.mark.parametrize("lengths", TIE_CASES, ids=str)
def test_tie_rules_match_reference_at_every_scale(referenced_strategy, lengths, scale):
    # Capacity 10 scaled up keeps every tie but moves BF/WF from the dense
    # residual index to the sparse one.
    name, reference = referenced_strategy
    scaled = [length * scale for length in lengths]
    capacity = 10 * scale
    assert Packer(capacity, name).pack(scaled).bins == reference(scaled, capacity)


def test_reference_follows_the_documented_tie_rule():
    # Worked by hand, capacity 10, lengths [6, 6, 4]: bins 0 and 1 both have
    # 4 left; bin 1 received an item last, so best and worst fit choose it.
    from reference import best_fit, worst_fit

    assert best_fit([6, 6, 4], 10) == [[0], [1, 2]]
    assert worst_fit([6, 6, 4], 10) == [[0], [1, 2]]
    # Lengths [6, 7, 2]: bin 0 has 4 left, bin 1 has 3. Best fit takes the
    # fuller bin 1, worst fit the emptier bin 0.
    assert best_fit([6, 7, 2], 10) == [[0], [1, 2]]
    assert worst_fit([6, 7, 2], 10) == [[0, 2], [1]]


# ---- OBFD is BFD made fast ----------------------------------------------------


@given(packing_inputs(max_size=400))
def test_obfd_equals_bfd(case):
    lengths, capacity = case
    assert Packer(capacity, "obfd").pack(lengths).bins == Packer(capacity, "bfd").pack(lengths).bins


def _large_lengths(kind: str, n: int, capacity: int, rng) -> np.ndarray:
    if kind == "uniform":
        return rng.integers(1, capacity, size=n, endpoint=True)
    if kind == "short":
        return rng.integers(1, max(1, capacity // 20), size=n, endpoint=True)
    # Few distinct values: long runs of equal lengths, which OBFD places a
    # run at a time.
    values = rng.integers(1, capacity, size=7, endpoint=True)
    return rng.choice(values, size=n)


@pytest.mark.parametrize(
    "n, capacity",
    [
        (20_000, 1024),
        (20_000, 65535),
        (20_000, 65536),  # largest dense residual index for n <= 2**16
        (20_000, 65537),  # smallest sparse one
        (20_000, 2**40),
        (70_000, 69_999),  # dense up to capacity n when n > 2**16
        (70_000, 70_000),
        (70_000, 70_001),
    ],
)
@pytest.mark.parametrize("kind", ["uniform", "short", "runs"])
def test_obfd_equals_bfd_on_large_inputs(n, capacity, kind):
    lengths = _large_lengths(kind, n, capacity, np.random.default_rng(n + capacity))
    bfd_items, bfd_splits = Packer(capacity, "bfd").pack_flat(lengths)
    obfd_items, obfd_splits = Packer(capacity, "obfd").pack_flat(lengths)
    bfd_used = assert_valid_flat(lengths, capacity, bfd_items, bfd_splits)
    obfd_used = assert_valid_flat(lengths, capacity, obfd_items, obfd_splits)
    assert obfd_splits.size == bfd_splits.size  # same number of bins
    assert np.array_equal(np.sort(obfd_used), np.sort(bfd_used))
    assert np.array_equal(obfd_items, bfd_items)  # and in fact the same bins
    assert np.array_equal(obfd_splits, bfd_splits)


# ---- every input type gives the same bins ------------------------------------

INTEGER_DTYPES = [
    np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64,
    ">i4", ">i8", ">u8",  # non-native byte order
]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
def test_every_integer_dtype_gives_the_same_bins(strategy, dtype):
    lengths = np.random.default_rng(7).integers(1, 100, size=300, endpoint=True).tolist()
    expected = Packer(250, strategy).pack(lengths).bins
    array = np.array(lengths, dtype=dtype)
    assert Packer(250, strategy).pack(array).bins == expected
    items, splits = Packer(250, strategy).pack_flat(array)
    assert flat_to_bins(items, splits) == expected
    assert np.array_equal(array, lengths)  # the input is left alone


def test_views_and_sequences_give_the_same_bins(strategy):
    base = np.random.default_rng(3).integers(1, 500, size=801, endpoint=True)
    table = np.stack([base, base[::-1]], axis=1)
    views = {
        "every other": base[::2],
        "reversed": base[::-1],
        "column": table[:, 1],
        "int32 strided": base.astype(np.int32)[1::3],
    }
    packer = Packer(1000, strategy)
    for name, view in views.items():
        assert not view.flags.c_contiguous, name
        expected = packer.pack(view.tolist()).bins
        assert packer.pack(view).bins == expected, name
        assert flat_to_bins(*packer.pack_flat(view)) == expected, name
        assert packer.pack(tuple(view.tolist())).bins == expected, name
    lengths = range(1, 400, 3)
    assert packer.pack(lengths).bins == packer.pack(list(lengths)).bins
    assert packer.pack(lengths).bins == packer.pack(np.arange(1, 400, 3)).bins


# ---- real length distributions -----------------------------------------------


def test_real_distribution_packs_validly(strategy, real_lengths):
    name, lengths = real_lengths
    # At the longest length nothing is rejected; at 4096 (a common context
    # size) the longer sequences are left out, as a trainer would.
    short = lengths[lengths <= 4096]
    for capacity, data in ((int(lengths.max()), lengths), (4096, short)):
        packer = Packer(capacity, strategy)
        items, splits = packer.pack_flat(data)
        used = assert_valid_flat(data, capacity, items, splits)
        assert used.sum() == data.sum()
        again_items, again_splits = packer.pack_flat(data)
        assert np.array_equal(items, again_items), name
        assert np.array_equal(splits, again_splits), name


def test_real_distribution_prefix_matches_reference(referenced_strategy, real_lengths):
    name, reference = referenced_strategy
    file_name, lengths = real_lengths
    prefix = lengths[:300].tolist()
    capacity = max(4096, max(prefix))
    expected = reference(prefix, capacity)
    assert Packer(capacity, name).pack(prefix).bins == expected, file_name
