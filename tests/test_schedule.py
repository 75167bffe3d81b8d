"""seqpacker.balance: rank-balanced schedules of packs.

A plain-loop reference of the algorithm (docs/balance.md) decides the exact
``packs`` array on hypothesis inputs full of ties; the invariants, the seeded
step shuffle, the balance on real lengths and every error path follow.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seqpacker
from length_lists import length_lists
from real_data import load_lengths
from reference_ffs_mffd_hk import shuffled_ids
from seqpacker import Packer, PackResult, Schedule, balance

# 1M lengths drawn from the histogram (see real_data.load_lengths).
WIKI = "wikipedia_bert512_graphcore_histogram.npy"


# ---- helpers -----------------------------------------------------------------

def prefix(result: PackResult, num_bins: int) -> PackResult:
    """The first ``num_bins`` bins of ``result`` as a PackResult of their own."""
    end = int(result.offsets[num_bins])
    return PackResult(result.items[:end].copy(), result.offsets[:num_bins + 1].copy(),
                      result.used[:num_bins].copy(), result.lengths.copy(),
                      result.capacity, 0.0)


def trimmed(result: PackResult, multiple: int) -> PackResult:
    """The largest prefix of ``result`` whose bin count is a multiple of ``multiple``."""
    return prefix(result, len(result) // multiple * multiple)


def bin_lengths(result: PackResult) -> list:
    """The lengths in each bin, as Python ints."""
    lengths = result.lengths.tolist()
    return [[lengths[i] for i in ids] for ids in result.bins]


def singletons(lengths) -> PackResult:
    """A PackResult with one bin per length, in order."""
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    return PackResult(np.arange(n), np.arange(n + 1), lengths.copy(), lengths.copy(),
                      int(lengths.max(initial=1)), 0.0)


def coefficients(cost) -> tuple:
    return {"tokens": (1.0, 0.0), "attention": (0.0, 1.0)}.get(cost, cost)


def reference_schedule(bins, num_ranks, accumulation_steps, cost, seed=None):
    """docs/balance.md in plain loops: ``(packs as nested lists, pack costs)``."""
    a, b = coefficients(cost)
    costs = []
    for lengths in bins:
        total = 0.0
        for length in lengths:
            total += a * length + b * length * length
        costs.append(total)
    order = sorted(range(len(bins)), key=lambda i: (-costs[i], i))
    per_step = num_ranks * accumulation_steps
    steps = []
    for start in range(0, len(order), per_step):
        loads = [0.0] * num_ranks
        held = [[] for _ in range(num_ranks)]
        for pack in order[start:start + per_step]:
            open_ranks = [r for r in range(num_ranks) if len(held[r]) < accumulation_steps]
            rank = min(open_ranks, key=lambda r: (loads[r], r))
            held[rank].append(pack)
            loads[rank] += costs[pack]
        steps.append(held)
    if seed is not None:
        steps = [steps[i] for i in shuffled_ids(len(steps), seed)]
    return steps, costs


@st.composite
def schedule_inputs(draw):
    """``(result, num_ranks, accumulation_steps, cost)`` with a divisible bin count.

    Small capacities and the biased length lists give many equal pack costs,
    so the tie rules decide; dyadic cost coefficients keep every float sum
    exact, so any summation order gives the same costs.
    """
    capacity = draw(st.one_of(st.integers(1, 40), st.sampled_from([100, 512, 4096])))
    lengths = draw(length_lists(capacity, max_size=120))
    strategy = draw(st.sampled_from(["obfd", "nf", "ffs"]))
    result = Packer(capacity, strategy).pack(lengths)
    ranks = draw(st.integers(1, 5))
    micro = draw(st.integers(1, 4))
    cost = draw(st.one_of(
        st.sampled_from(["tokens", "attention"]),
        st.tuples(st.sampled_from([0, 0.25, 1, 3.5]), st.sampled_from([0, 0.5, 2]))
        .filter(lambda c: c != (0, 0))))
    return trimmed(result, ranks * micro), ranks, micro, cost


seeds = st.one_of(st.none(), st.integers(0, 2**64 - 1))


# ---- the algorithm -----------------------------------------------------------

@given(schedule_inputs(), seeds)
def test_matches_the_reference(case, seed):
    result, ranks, micro, cost = case
    schedule = balance(result, ranks, accumulation_steps=micro, cost=cost, seed=seed)
    steps, costs = reference_schedule(bin_lengths(result), ranks, micro, cost, seed)
    assert schedule.packs.tolist() == steps
    assert schedule.pack_cost.tolist() == costs


@given(schedule_inputs(), seeds)
def test_invariants(case, seed):
    result, ranks, micro, cost = case
    schedule = balance(result, ranks, accumulation_steps=micro, cost=cost, seed=seed)
    steps = len(result) // (ranks * micro)
    assert (schedule.num_steps, schedule.num_ranks, schedule.accumulation_steps) == (steps, ranks, micro)
    assert schedule.packs.shape == (steps, ranks, micro) and schedule.packs.dtype == np.int64
    assert schedule.rank_cost.shape == (steps, ranks) and schedule.imbalance.shape == (steps,)
    # Every pack exactly once.
    assert np.array_equal(np.sort(schedule.packs, axis=None), np.arange(len(result)))
    # Costs recomputed from the bins.
    a, b = coefficients(cost)
    expected = [sum(a * x + b * x * x for x in lengths) for lengths in bin_lengths(result)]
    assert np.allclose(schedule.pack_cost, expected, rtol=1e-12, atol=0)
    assert np.allclose(schedule.rank_cost, schedule.pack_cost[schedule.packs].sum(axis=2),
                       rtol=1e-12, atol=0)
    for step, loads in enumerate(schedule.rank_cost):
        high, low = max(loads), min(loads)
        want = 0.0 if high == 0 else (np.inf if low == 0 else high / low - 1)
        assert schedule.imbalance[step] == pytest.approx(want, rel=1e-12)
    assert schedule.mean_imbalance == (float(np.mean(schedule.imbalance)) if steps else 0.0)
    assert schedule.max_imbalance == (float(np.max(schedule.imbalance)) if steps else 0.0)
    # for_rank: that rank's column, step by step, micro-batch by micro-batch.
    for rank in range(ranks):
        own = schedule.for_rank(rank)
        assert own.dtype == np.int64 and own.ndim == 1
        assert own.tolist() == [p for step in schedule.packs.tolist() for p in step[rank]]
    # Deterministic.
    again = balance(result, ranks, accumulation_steps=micro, cost=cost, seed=seed)
    assert np.array_equal(again.packs, schedule.packs)


@given(schedule_inputs(), st.integers(0, 2**64 - 1))
def test_the_shuffle_only_permutes_steps(case, seed):
    result, ranks, micro, cost = case
    plain = balance(result, ranks, accumulation_steps=micro, cost=cost)
    shuffled = balance(result, ranks, accumulation_steps=micro, cost=cost, seed=seed)
    order = shuffled_ids(plain.num_steps, seed)
    assert np.array_equal(shuffled.packs, plain.packs[order])
    assert np.array_equal(shuffled.rank_cost, plain.rank_cost[order])
    assert np.array_equal(shuffled.imbalance, plain.imbalance[order])
    assert np.array_equal(plain.shuffled(seed).packs, shuffled.packs)
    assert np.array_equal(plain.shuffled(seed).rank_cost, shuffled.rank_cost)


def test_step_order_is_the_libraries_ffs_shuffle():
    # docs/prng.md pins seed 42 on eight ids to 4 3 2 0 7 6 1 5; one rank with
    # strictly decreasing pack costs makes step s hold pack s before the shuffle.
    result = singletons([10, 9, 8, 7, 6, 5, 4, 3])
    assert balance(result, 1, seed=42).packs.ravel().tolist() == [4, 3, 2, 0, 7, 6, 1, 5]
    # The C library's ffs shuffles ids with the same rule: a bin per id, opened in shuffled order.
    for seed in (0, 1, 2**64 - 1):
        ffs_order = [b[0] for b in Packer(1, "ffs", seed=seed).pack([1] * 300).bins]
        schedule = balance(singletons(range(300, 0, -1)), 1, seed=seed)
        assert schedule.packs.ravel().tolist() == ffs_order


def test_seed_changes_the_order_of_steps_and_keeps_their_contents():
    lengths = np.random.default_rng(5).integers(1, 512, size=20_000)
    result = trimmed(Packer(512, "obfd").pack(lengths), 8)
    plain = balance(result, 8)
    seeded = balance(result, 8, seed=7)
    assert not np.array_equal(plain.packs, seeded.packs)
    assert not np.array_equal(balance(result, 8, seed=8).packs, seeded.packs)
    assert sorted(map(tuple, plain.packs[:, :, 0].tolist())) == \
        sorted(map(tuple, seeded.packs[:, :, 0].tolist()))
    # Without a seed the steps are heaviest first.
    assert np.all(np.diff(plain.rank_cost.sum(axis=1)) <= 0)


def test_lpt_with_a_cardinality_limit():
    # Pack costs 10, 9, 3, 3, 2, 1 on 2 ranks x 3 micro-batches:
    # 10 -> r0, 9 -> r1, 3 -> r1 (12), 3 -> r0 (13), 2 -> r1 (14), 1 -> r0 (14).
    direct = singletons([10, 9, 3, 3, 2, 1])
    schedule = balance(direct, 2, accumulation_steps=3)
    assert schedule.packs.tolist() == [[[0, 3, 5], [1, 2, 4]]]
    assert schedule.rank_cost.tolist() == [[14.0, 14.0]]
    assert schedule.imbalance.tolist() == [0.0]
    # A rank that holds A packs takes no more, even when it is the lightest.
    heavy = singletons([100, 1, 1, 1])
    assert balance(heavy, 2, accumulation_steps=2).packs.tolist() == [[[0, 3], [1, 2]]]


def test_ties_go_to_the_lowest_pack_index_and_rank():
    equal = singletons([4] * 6)
    assert balance(equal, 3).packs[:, :, 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert balance(equal, 2, accumulation_steps=3).packs.tolist() == [[[0, 2, 4], [1, 3, 5]]]


def test_costs_and_empty_packs():
    # Bins [], [0, 1], [], [2] with lengths 3, 4, 5: reduceat must not read
    # an empty bin's neighbour.
    result = PackResult(np.array([0, 1, 2]), np.array([0, 0, 2, 2, 3]),
                        np.array([0, 7, 0, 5]), np.array([3, 4, 5]), 10, 0.0)
    assert balance(result, 2).pack_cost.tolist() == [0.0, 7.0, 0.0, 5.0]
    assert balance(result, 2, cost="attention").pack_cost.tolist() == [0.0, 25.0, 0.0, 25.0]
    assert balance(result, 1, cost=(2, 0.5)).pack_cost.tolist() == [0.0, 26.5, 0.0, 22.5]
    schedule = balance(result, 2)
    # Step 0 holds costs 7 and 5, step 1 two empty packs.
    assert schedule.imbalance.tolist() == [pytest.approx(0.4), 0.0]
    zero_and_one = PackResult(np.array([0]), np.array([0, 0, 1]), np.array([0, 1]),
                              np.array([1]), 1, 0.0)
    assert balance(zero_and_one, 2).imbalance.tolist() == [np.inf]
    assert balance(zero_and_one, 2).max_imbalance == np.inf


def test_no_packs_gives_an_empty_schedule():
    schedule = balance(Packer(10).pack([]), 4, accumulation_steps=2, seed=3)
    assert schedule.num_steps == 0 and schedule.packs.shape == (0, 4, 2)
    assert schedule.rank_cost.shape == (0, 4) and schedule.imbalance.shape == (0,)
    assert schedule.mean_imbalance == 0.0 and schedule.max_imbalance == 0.0
    assert schedule.for_rank(3).tolist() == []
    assert schedule.shuffled(1).num_steps == 0


def test_arrays_are_read_only_and_exported():
    schedule = balance(Packer(10).pack([5, 5, 6, 4]), 2)
    for array in (schedule.packs, schedule.pack_cost, schedule.rank_cost, schedule.imbalance):
        with pytest.raises(ValueError):
            array[...] = 0
    assert isinstance(schedule, Schedule)
    assert {"balance", "Schedule"} <= set(seqpacker.__all__)
    assert repr(schedule) == "Schedule(steps=1, ranks=2, accumulation_steps=1, mean_imbalance=0)"


# ---- real lengths ------------------------------------------------------------

@pytest.fixture(scope="module")
def wiki_packs() -> PackResult:
    return Packer(512, "obfd").pack(load_lengths(WIKI))


@pytest.mark.parametrize("micro", [1, 4])
@pytest.mark.parametrize("cost", ["tokens", "attention"])
def test_wikipedia_packs_balance_over_8_ranks(wiki_packs, cost, micro):
    schedule = balance(trimmed(wiki_packs, 8 * micro), 8, accumulation_steps=micro,
                       cost=cost, seed=0)
    assert schedule.num_steps > 10_000
    assert schedule.mean_imbalance < 0.001, schedule


# ---- errors ------------------------------------------------------------------

@pytest.fixture(scope="module")
def four_packs() -> PackResult:
    result = Packer(10).pack([10, 9, 8, 7])
    assert len(result) == 4
    return result


def test_result_must_be_a_pack_result(four_packs):
    for bad in ([[0], [1]], four_packs.bins, None):
        with pytest.raises(TypeError, match=f"PackResult, not {type(bad).__name__}"):
            balance(bad, 2)


@pytest.mark.parametrize("name", ["num_ranks", "accumulation_steps"])
def test_counts_are_ints_from_1(four_packs, name):
    def call(value):
        if name == "num_ranks":
            return balance(four_packs, value)
        return balance(four_packs, 1, accumulation_steps=value)

    for bad in (True, 2.0, "2", None, np.float64(2)):
        with pytest.raises(TypeError, match=name):
            call(bad)
    for bad in (0, -1, np.int64(-3)):
        with pytest.raises(ValueError, match=f"{name} = {int(bad)} .*>= 1"):
            call(bad)
    assert call(np.int32(2)).packs.size == 4


def test_pack_count_must_divide(four_packs):
    with pytest.raises(ValueError, match=r"^4 packs .* multiple of 3 .*packs_multiple_of=3"):
        balance(four_packs, 3)
    with pytest.raises(ValueError, match=r"^4 packs .* = 8 packs.*multiple of 8 .*packs_multiple_of=8"):
        balance(four_packs, 2, accumulation_steps=4)


@pytest.mark.parametrize("cost, error, message", [
    ("flops", ValueError, "cost = 'flops'"),
    ("Tokens", ValueError, "cost = 'Tokens'"),
    (2, TypeError, r"not int \(2\)"),
    ([1, 0], TypeError, r"not list \(\[1, 0\]\)"),
    ((1,), ValueError, r"has 1 values"),
    ((1, 0, 0), ValueError, r"has 3 values"),
    ((-1, 1), ValueError, r"cost a = -1 must be finite and >= 0"),
    ((1, -0.5), ValueError, r"cost b = -0.5"),
    ((float("nan"), 1), ValueError, r"cost a = nan"),
    ((1, float("inf")), ValueError, r"cost b = inf"),
    ((0, 0.0), ValueError, r"both be 0"),
    (("1", 0), TypeError, r"cost a must be a real number, not str"),
    ((True, 1), TypeError, r"cost a must be a real number, not bool"),
    ((1, 1j), TypeError, r"cost b must be a real number, not complex"),
])
def test_bad_costs(four_packs, cost, error, message):
    with pytest.raises(error, match=message):
        balance(four_packs, 2, cost=cost)


def test_a_cost_that_overflows_float64_is_refused():
    result = Packer(2**40).pack([2**40, 2**40])
    with pytest.raises(ValueError, match="overflows float64"):
        balance(result, 2, cost=(0, 1e300))


def test_bad_seeds(four_packs):
    for bad in (1.5, "1", True):
        with pytest.raises(TypeError, match="seed"):
            balance(four_packs, 2, seed=bad)
        with pytest.raises(TypeError, match="seed"):
            balance(four_packs, 2).shuffled(bad)
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=f"seed = {bad} is out of range"):
            balance(four_packs, 2, seed=bad)
        with pytest.raises(ValueError, match=f"seed = {bad} is out of range"):
            balance(four_packs, 2).shuffled(bad)


def test_bad_ranks_in_for_rank(four_packs):
    schedule = balance(four_packs, 2)
    for bad in (2, -1, 10):
        with pytest.raises(ValueError, match=f"rank = {bad} is out of range.*< num_ranks = 2"):
            schedule.for_rank(bad)
    for bad in (1.0, "0", None, False):
        with pytest.raises(TypeError, match="rank must be an int"):
            schedule.for_rank(bad)
