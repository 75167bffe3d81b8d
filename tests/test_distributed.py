"""seqpacker.distributed over lengths: pack_shard keeps or returns every row
once, repack is blind to arrival order, and pack_shards stays within 0.1 %
of one global packing on real distributions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqpacker import Packer, distributed
from real_data import sample_lengths
from seqpacker.distributed import (DEFAULT_MIN_FILL, pack_shard, pack_shards, repack,
                                   shard_count)


def reference_pack_shard(lengths, capacity, min_fill, max_seqs=None):
    """Packer.pack, then each pack kept or not by its fill, in plain Python."""
    result = Packer(capacity, max_seqs_per_pack=max_seqs).pack(lengths)
    kept, residue = [], []
    for ids in result.bins:
        used = sum(int(lengths[i]) for i in ids)
        if used > min_fill * capacity or (max_seqs is not None and len(ids) == max_seqs):
            kept.append(ids)
        else:
            residue.extend(ids)
    return kept, sorted(residue)


def packs_of(items, offsets):
    return [items[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]


@settings(max_examples=150, deadline=None)
@given(lengths=st.lists(st.integers(1, 100), max_size=200),
       min_fill=st.sampled_from([0.0, 0.3, 0.5, 0.9, 0.999]),
       max_seqs=st.sampled_from([None, 1, 2, 3]))
def test_pack_shard_equals_the_reference(lengths, min_fill, max_seqs):
    lengths = np.array(lengths, dtype=np.int64)
    got = pack_shard(lengths, 100, min_fill=min_fill, max_seqs_per_pack=max_seqs)
    kept, residue = reference_pack_shard(lengths, 100, min_fill, max_seqs)
    assert packs_of(got.items, got.offsets) == kept
    assert got.residue.tolist() == residue
    # Every row exactly once, in a kept pack or in the residue.
    assert sorted(got.items.tolist() + got.residue.tolist()) == list(range(lengths.size))
    assert got.residue_fraction == (len(residue) / lengths.size if lengths.size else 0.0)


def test_min_fill_zero_keeps_every_pack():
    lengths = np.array([1, 2, 3, 90, 40], dtype=np.int64)
    got = pack_shard(lengths, 100, min_fill=0)
    assert got.residue.size == 0 and got.num_packs == Packer(100).pack(lengths).num_bins


@pytest.mark.parametrize("min_fill", [1.0, -0.1, 2, True, "0.5", None])
def test_min_fill_out_of_range_is_an_error(min_fill):
    with pytest.raises(ValueError, match="min_fill must be a number in \\[0, 1\\)"):
        pack_shard([1, 2], 10, min_fill=min_fill)


def test_pack_shard_checks_its_lengths_like_packer():
    with pytest.raises(ValueError, match="capacity"):
        pack_shard([5, 11], 10)


@pytest.mark.parametrize("bad, message", [(11, r"lengths\[1\] = 11 exceeds capacity 10"),
                                          (0, r"lengths\[1\] = 0 is not a valid length")])
def test_a_bad_length_is_named_by_its_shard_and_index(bad, message):
    with pytest.raises(ValueError, match=f"^shard 1: {message}"):
        distributed.pack_shards([[5, 4], [3, bad]], 10)
    with pytest.raises(ValueError, match=f"^{message}"):  # the index in the whole input
        distributed.pack_in_shards([5, bad, 3], 10, shard_rows=1)
    with pytest.raises(ValueError, match=f"^{message}"):
        distributed.repack([0, 1], [0, 0], [5, bad], 10)


def test_repack_does_not_depend_on_arrival_order():
    rng = np.random.default_rng(1)
    shard = np.repeat(np.arange(5), 40)
    row = np.tile(np.arange(0, 80, 2), 5)
    lengths = rng.integers(1, 300, shard.size)
    first = repack(shard, row, lengths, 512)
    for _ in range(5):
        p = rng.permutation(shard.size)
        again = repack(shard[p], row[p], lengths[p], 512)
        for field in ("shard", "row", "lengths", "offsets"):
            assert np.array_equal(getattr(again, field), getattr(first, field))
    # The packing is Packer.pack's on the lengths in (shard, row) order.
    assert np.array_equal(first.offsets, Packer(512).pack(lengths).offsets)
    assert sorted(zip(first.shard.tolist(), first.row.tolist())) == \
        sorted(zip(shard.tolist(), row.tolist()))


def test_repack_refuses_a_row_given_twice():
    with pytest.raises(ValueError, match="residue row 3 of shard 1 is given twice"):
        repack([0, 1, 1], [3, 3, 3], [5, 6, 7], 100)


@pytest.mark.parametrize("shard, row, error, message", [
    ([0, -1], [0, 1], ValueError, r"shard\[1\] is -1; it must be >= 0"),
    ([0, 1], [0, -4], ValueError, r"row\[1\] is -4; it must be >= 0"),
    ([0.0, 1.0], [0, 1], TypeError, "shard must hold integers"),
    ([0], [0, 1], ValueError, "shard must be a 1-D array of 2 entries"),
])
def test_repack_checks_its_row_numbers(shard, row, error, message):
    with pytest.raises(error, match=message):
        repack(shard, row, [5, 6], 100)


def test_repack_of_nothing_has_no_packs():
    assert repack([], [], [], 100).num_packs == 0


@settings(max_examples=100, deadline=None)
@given(shards=st.lists(st.lists(st.integers(1, 64), max_size=60), max_size=6))
def test_pack_shards_places_every_row_once_and_leaves_no_two_packs_mergeable(shards):
    capacity = 64
    arrays = [np.array(s, dtype=np.int64) for s in shards]
    got = pack_shards(arrays, capacity)
    pairs = sorted(zip(got.shard.tolist(), got.row.tolist()))
    assert pairs == [(s, r) for s, a in enumerate(arrays) for r in range(a.size)]
    assert np.array_equal(got.lengths, np.array([arrays[s][r] for s, r in
                                                 zip(got.shard.tolist(), got.row.tolist())],
                                                dtype=np.int64).reshape(-1))
    used = got.used
    assert (used <= capacity).all() and (np.diff(got.offsets) > 0).all()
    # At most one pack at half the capacity or less: no two packs would fit in one.
    assert (used <= DEFAULT_MIN_FILL * capacity).sum() <= 1


def test_pack_shards_keeps_each_shards_packs_in_order_then_the_repack():
    shards = [np.array([60, 30, 5], dtype=np.int64), np.array([70, 20, 8], dtype=np.int64)]
    got = pack_shards(shards, 100)
    packs = [list(zip(got.shard[a:b].tolist(), got.row[a:b].tolist()))
             for a, b in zip(got.offsets[:-1], got.offsets[1:])]
    assert packs == [[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (1, 2)]]


@pytest.mark.parametrize("name, capacity", [
    ("wikipedia_bert512_graphcore_histogram.npy", 512),
    ("gsm8k_train_llama2.npy", 2048),
    ("cpython311_stdlib_py_llama2.npy", 4096),
    ("squad11_bert384_graphcore_histogram.npy", 384),
])
def test_pack_shards_is_within_a_tenth_of_a_percent_of_one_global_packing(name, capacity):
    lengths = sample_lengths(name, capacity, 400_000, seed=7)
    shards = np.array_split(lengths, 8)
    sharded = pack_shards(shards, capacity)
    single = Packer(capacity).pack(lengths).efficiency
    assert sharded.efficiency >= single * (1 - 1e-3)
    assert sharded.lengths.sum() == lengths.sum()


def test_shard_count_rounds_up_and_is_at_least_one():
    assert [shard_count(0), shard_count(1), shard_count(10, 5), shard_count(11, 5)] == \
        [1, 1, 2, 3]


def test_pack_in_shards_is_pack_shards_over_consecutive_rows():
    from seqpacker.distributed import pack_in_shards

    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 500, 10_001)
    result = pack_in_shards(lengths, 512, 3000)
    parts = pack_shards([lengths[a:a + 3000] for a in range(0, lengths.size, 3000)], 512)
    assert np.array_equal(result.items, np.arange(0, 10_001, 3000)[parts.shard] + parts.row)
    assert np.array_equal(result.offsets, parts.offsets)
    assert np.array_equal(result.used, parts.used)
    assert sorted(result.items.tolist()) == list(range(lengths.size))
    assert np.array_equal(result.used, [lengths[b].sum() for b in result.bins])
    assert pack_in_shards([], 512, 10).num_bins == 0
    with pytest.raises(ValueError, match="shard_rows = 0 is out of range: it must be >= 1"):
        pack_in_shards(lengths, 512, 0)
