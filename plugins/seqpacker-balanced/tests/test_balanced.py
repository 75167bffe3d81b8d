"""The ``balanced`` plugin, through seqpacker's public API, against a
pure-Python reference of its rules and against the invariants it promises."""

from __future__ import annotations

import importlib.metadata
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqpacker
from seqpacker import Packer
from seqpacker.registry import available_strategies

try:
    importlib.metadata.version("seqpacker-balanced")
except importlib.metadata.PackageNotFoundError:
    # seqpacker's own test run collects these tests too; without the plugin
    # they skip, unless CI requires it (SEQPACKER_REQUIRE_OPTIONAL).
    if "seqpacker-balanced" in os.environ.get("SEQPACKER_REQUIRE_OPTIONAL", "").split(","):
        pytest.fail("seqpacker-balanced is required but not installed", pytrace=False)
    pytest.skip("seqpacker-balanced is not installed (pip install ./plugins/seqpacker-balanced)",
                allow_module_level=True)


def reference(lengths: list[int], capacity: int, ranks: int) -> list[list[int]]:
    """The documented rules, one bin at a time, from seqpacker's OBFD bins."""
    bins = Packer(capacity, "obfd").pack(lengths).bins
    target = -(-len(bins) // ranks) * ranks
    while len(bins) < target:  # split the first bin with the most sequences
        b = max(range(len(bins)), key=lambda i: (len(bins[i]), -i))
        half = (len(bins[b]) + 1) // 2
        bins[b:b + 1] = [bins[b][:half], bins[b][half:]]
    used = [sum(lengths[i] for i in b) for b in bins]
    largest_first = sorted(range(len(bins)), key=lambda b: (-used[b], b))
    totals = [0] * ranks
    out = []
    for start in range(0, len(bins), ranks):
        step = largest_first[start:start + ranks]
        lightest_first = sorted(range(ranks), key=lambda r: (totals[r], r))
        row = [None] * ranks
        for b, r in zip(step, lightest_first):
            row[r] = bins[b]
            totals[r] += used[b]
        out += row
    return out


def feasible(case) -> bool:
    """Whether every rank can get the same number of non-empty packs."""
    lengths, capacity, ranks = case
    bins = Packer(capacity, "obfd").pack(lengths).num_bins
    return -(-bins // ranks) * ranks <= len(lengths)


cases = st.integers(1, 60).flatmap(
    lambda capacity: st.tuples(
        st.lists(st.integers(1, capacity), max_size=80), st.just(capacity), st.integers(1, 9)
    )
).filter(feasible)


def test_it_is_discovered_as_a_plugin():
    info = next(i for i in available_strategies() if i.short == "BALANCED")
    assert info.plugin and info.origin.startswith("seqpacker-balanced ")
    assert ("BALANCED", "balanced") in Packer.strategies()


@settings(deadline=None, max_examples=150)
@given(cases)
def test_matches_reference(case):
    lengths, capacity, ranks = case
    result = Packer(capacity, "balanced", options={"ranks": ranks}).pack(lengths)
    if lengths:
        assert result.bins == reference(lengths, capacity, ranks)
    else:
        assert result.bins == []


@settings(deadline=None, max_examples=150)
@given(cases)
def test_ranks_get_equal_counts_and_near_equal_tokens(case):
    lengths, capacity, ranks = case
    result = Packer(capacity, "balanced", options={"ranks": ranks}).pack(lengths)
    assert sorted(i for b in result.bins for i in b) == list(range(len(lengths)))
    assert result.num_bins % ranks == 0
    if not lengths:
        return
    used = result.used.reshape(-1, ranks)  # one row per step
    assert result.used.max() <= capacity
    totals = used.sum(axis=0)
    assert totals.max() - totals.min() <= result.used.max()
    # Steps are taken largest first: no pack of a step is smaller than one of the next.
    assert np.all(used.min(axis=1)[:-1] >= used.max(axis=1)[1:])
    # No more packs than needed to give each rank the same number.
    obfd_bins = Packer(capacity, "obfd").pack(lengths).num_bins
    assert result.num_bins == -(-obfd_bins // ranks) * ranks


def test_a_realistic_run_is_balanced_and_deterministic():
    lengths = np.random.default_rng(0).integers(1, 4097, size=20_000)
    packer = Packer(4096, "balanced", options={"ranks": 8})
    result = packer.pack(lengths)
    totals = result.used.reshape(-1, 8).sum(axis=0)
    assert totals.max() - totals.min() <= 4096
    assert result.metrics.efficiency > 0.98
    again = packer.pack_flat(lengths)
    assert np.array_equal(again[0], result.items)
    assert np.array_equal(again[1], result.offsets[1:-1])


def test_too_few_sequences_for_the_ranks():
    with pytest.raises(ValueError, match="each of 4 ranks"):
        Packer(10, "balanced", options={"ranks": 4}).pack([1, 2, 3])
    # Three full bins of one sequence each cannot be split for 2 ranks.
    with pytest.raises(ValueError, match="3 sequences make at most 3 packs, 4 are needed"):
        Packer(1, "balanced", options={"ranks": 2}).pack([1, 1, 1])


@pytest.mark.parametrize("ranks, error", [(0, ValueError), (-2, ValueError),
                                          (2.0, TypeError), (True, TypeError)])
def test_bad_ranks(ranks, error):
    with pytest.raises(error, match="ranks"):
        Packer(10, "balanced", options={"ranks": ranks}).pack([1, 2, 3])


def test_unknown_option_is_an_error():
    with pytest.raises(TypeError, match="rank"):
        Packer(10, "balanced", options={"rank": 2}).pack([1, 2, 3])


def test_input_errors_are_seqpackers():
    with pytest.raises(ValueError, match=r"lengths\[1\] = 11 exceeds capacity 10"):
        Packer(10, "balanced").pack([1, 11])


def test_seqpacker_version_is_new_enough():
    major, minor = (int(part) for part in seqpacker.__version__.split(".")[:2])
    assert (major, minor) >= (0, 2)
