"""The ``balanced`` plugin, through seqpacker's public API, against a
pure-Python reference of its rule and against the bounds it promises."""

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


def reference(lengths: list[int], capacity: int, limit: int | None) -> list[list[int]]:
    """The documented rule, one sequence and one pack at a time."""
    budget = None if limit is None else limit * limit
    packs, tokens, work = [], [], []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        length = lengths[i]
        for b in range(len(packs)):
            if tokens[b] + length <= capacity and (
                    budget is None or work[b] + length * length <= budget):
                break
        else:  # a new pack (one over the budget at once when its sequence is)
            b = len(packs)
            packs.append([])
            tokens.append(0)
            work.append(0)
        packs[b].append(i)
        tokens[b] += length
        work[b] += length * length
    return packs


def attention(lengths, bins) -> list[int]:
    return [sum(lengths[i] ** 2 for i in b) for b in bins]


cases = st.integers(1, 60).flatmap(
    lambda capacity: st.tuples(
        st.lists(st.integers(1, capacity), max_size=80), st.just(capacity),
        st.one_of(st.none(), st.integers(1, capacity)),
    )
)


def run(lengths, capacity, limit):
    return Packer(capacity, "balanced", options={"max_attention": limit}).pack(lengths)


def test_it_is_discovered_as_a_plugin():
    info = next(i for i in available_strategies() if i.short == "BALANCED")
    assert info.plugin and info.origin.startswith("seqpacker-balanced ")
    assert ("BALANCED", "balanced") in Packer.strategies()


@settings(deadline=None, max_examples=200)
@given(cases)
def test_matches_reference(case):
    lengths, capacity, limit = case
    assert run(lengths, capacity, limit).bins == reference(lengths, capacity, limit)


@settings(deadline=None, max_examples=200)
@given(cases)
def test_every_pack_keeps_both_budgets(case):
    lengths, capacity, limit = case
    result = run(lengths, capacity, limit)
    assert sorted(i for b in result.bins for i in b) == list(range(len(lengths)))
    assert all(used <= capacity for used in result.used)
    if limit is not None:
        for pack, work in zip(result.bins, attention(lengths, result.bins)):
            # Over the budget only a sequence that alone exceeds it, alone.
            assert work <= limit ** 2 or (len(pack) == 1 and lengths[pack[0]] > limit)


@settings(deadline=None, max_examples=100)
@given(cases)
def test_without_a_binding_limit_it_is_ffd(case):
    lengths, capacity, _ = case
    ffd = Packer(capacity, "ffd").pack(lengths).bins
    assert run(lengths, capacity, None).bins == ffd
    assert run(lengths, capacity, capacity).bins == ffd


def test_the_limit_spreads_the_attention_work():
    # Four sequences of 30: as tokens they fill one pack of 128, but their
    # attention work (3600) is over a budget of 60 ** 2 for three of them.
    lengths = [30, 30, 30, 30, 5, 5]
    assert run(lengths, 128, None).bins == [[0, 1, 2, 3, 4], [5]]
    assert run(lengths, 128, 60).bins == [[0, 1, 2, 3], [4, 5]]
    assert run(lengths, 128, 50).bins == [[0, 1, 4, 5], [2, 3]]
    assert attention(lengths, run(lengths, 128, 50).bins) == [1850, 1800]
    # A sequence longer than the limit gets a pack of its own.
    assert run([100, 10, 10], 128, 50).bins == [[0], [1, 2]]


def test_a_realistic_run_bounds_every_pack_and_is_deterministic():
    lengths = np.random.default_rng(0).integers(1, 4097, size=20_000)
    packer = Packer(4096, "balanced", options={"max_attention": 2048})
    result = packer.pack(lengths)
    work = np.add.reduceat(lengths[result.items] ** 2, result.offsets[:-1])
    alone = np.diff(result.offsets) == 1
    assert np.all((work <= 2048 ** 2) | (alone & (result.used > 2048)))
    again = packer.pack_flat(lengths)
    assert np.array_equal(again[0], result.items)
    assert np.array_equal(again[1], result.offsets[1:-1])


@pytest.mark.parametrize("limit, error", [(0, ValueError), (11, ValueError), (-2, ValueError),
                                          (2.0, TypeError), (True, TypeError)])
def test_bad_max_attention(limit, error):
    with pytest.raises(error, match="max_attention"):
        Packer(10, "balanced", options={"max_attention": limit}).pack([1, 2, 3])


def test_unknown_option_is_an_error():
    with pytest.raises(TypeError, match="ranks"):
        Packer(10, "balanced", options={"ranks": 2}).pack([1, 2, 3])


def test_input_errors_are_seqpackers():
    with pytest.raises(ValueError, match=r"lengths\[1\] = 11 exceeds capacity 10"):
        Packer(10, "balanced").pack([1, 11])


def test_huge_lengths_do_not_overflow():
    big = 2**61  # squares far beyond int64
    assert Packer(big, "balanced").pack([big, big - 1, 1]).bins == [[0], [1, 2]]
    result = Packer(big, "balanced", options={"max_attention": 2**31}).pack([big - 1, 2**31, 1])
    assert result.bins == [[0], [1], [2]]  # 2**31 alone uses the whole budget of 2**62
    with pytest.raises(ValueError, match="max_attention"):
        Packer(big, "balanced", options={"max_attention": 2**32}).pack([1])  # square over int64


def test_seqpacker_version_is_new_enough():
    major, minor = (int(part) for part in seqpacker.__version__.split(".")[:2])
    assert (major, minor) >= (0, 2)
