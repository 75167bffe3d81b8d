"""HarmonicK: the rules of docs/mffd-and-harmonic.md for every k, at most k
bins open at once, and the k option's validation.

The C tests also count the open bins of a stream after every length
(csrc/tests/test_ffs_mffd_hk.c); here the bound is checked on the output alone.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from length_lists import packing_inputs
from reference_ffs_mffd_hk import harmonic_k, max_open_bins
from seqpacker import Packer, pack_sequences

ks = st.one_of(st.integers(min_value=2, max_value=12), st.sampled_from([64, 65535, 65536]))


@given(packing_inputs(), ks)
def test_matches_reference_for_any_k(case, k):
    lengths, capacity = case
    assert Packer(capacity, "hk", k=k).pack(lengths).bins == harmonic_k(lengths, capacity, k)


@given(packing_inputs(max_size=200), ks)
def test_at_most_k_bins_open(case, k):
    # A bin is open from its first item to its last, in input order; at no
    # position may more than k of those spans overlap.
    lengths, capacity = case
    bins = Packer(capacity, "hk", k=k).pack(lengths).bins
    assert max_open_bins(bins, len(lengths)) <= k


@given(packing_inputs(max_size=200), ks)
def test_class_bins_hold_exactly_their_class_count(case, k):
    # Every bin of class i < k holds i items of that class, except that the
    # last bin of a class may be left partly filled at the end. Ids in a bin
    # come in input order.
    lengths, capacity = case
    bins = Packer(capacity, "hk", k=k).pack(lengths).bins
    last_of_class = {}
    for b, ids in enumerate(bins):
        assert ids == sorted(ids)
        classes = {min(capacity // lengths[i], k) for i in ids}
        assert len(classes) == 1
        (c,) = classes
        if c < k:
            assert len(ids) <= c
        last_of_class[c] = b
    for b, ids in enumerate(bins):
        c = min(capacity // lengths[ids[0]], k)
        if c < k and b != last_of_class[c]:
            assert len(ids) == c


@pytest.mark.parametrize("k", [2, 3, 10, 100])
def test_bound_is_reached_when_every_class_is_busy(k):
    # A tiny item opens the last class's bin and one item of each class from
    # k - 1 down to 2 opens a bin there; a class-1 item comes while all of
    # those are open (each gets another item afterwards): k at once.
    capacity = 10 * k * k
    busy = [1] + [capacity // c for c in range(k - 1, 1, -1)]
    lengths = busy + [capacity] + busy
    bins = Packer(capacity, "hk", k=k).pack(lengths).bins
    assert len(bins) == k
    assert max_open_bins(bins, len(lengths)) == k


def test_last_class_is_next_fit():
    # k = 2: everything up to half the capacity is next fit.
    lengths = [3, 4, 2, 5, 1, 6, 5]
    assert pack_sequences(lengths, 10, "hk", k=2).bins == [[0, 1, 2], [3, 4], [5], [6]]
    assert pack_sequences(lengths, 10, "nf").bins == [[0, 1, 2], [3, 4], [5], [6]]


def test_default_k_is_10():
    lengths = np.random.default_rng(3).integers(1, 1000, 3000)
    default = Packer(1000, "hk").pack(lengths).bins
    assert Packer(1000, "hk").k == 10
    assert Packer(1000, "hk", k=None).pack(lengths).bins == default
    assert Packer(1000, "hk", k=10).pack(lengths).bins == default
    assert Packer(1000, "hk", k=11).pack(lengths).bins != default


@pytest.mark.parametrize("k", [-1, 0, 1, 65537])
def test_k_out_of_range_is_a_clear_error(k):
    with pytest.raises(ValueError, match="k"):
        Packer(100, "hk", k=k)


def test_huge_k_with_few_items_and_a_huge_capacity():
    capacity = 2**62
    # 1, 3 and 2**46 (= capacity / 65536) share the last class's bin.
    lengths = [1, capacity, 3, capacity // 65536, capacity // 3]
    bins = Packer(capacity, "hk", k=65536).pack(lengths).bins
    assert bins == harmonic_k(lengths, capacity, 65536)
    assert bins == [[0, 2, 3], [1], [4]]


def test_a_million_lengths_agree_with_the_reference_on_a_prefix():
    # A million items (the class table path): the packing is valid and the
    # first 2000 items' bins equal the reference's, since later items never
    # change how earlier ones were placed in an online strategy.
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 2048, 1_000_000, endpoint=True)
    items, splits = Packer(2048, "hk").pack_flat(lengths)
    assert np.array_equal(np.sort(items), np.arange(lengths.size))
    used = np.add.reduceat(lengths[items], np.concatenate(([0], splits)))
    assert used.max() <= 2048
    prefix = lengths[:2000].tolist()
    got = [[i for i in b.tolist() if i < 2000] for b in np.split(items, splits)]
    assert [b for b in got if b] == harmonic_k(prefix, 2048, 10)
