"""The public Python API: names, shapes, reprs, laziness and metrics.

Packing quality per strategy is checked against the reference
implementations elsewhere; this file checks the layer around the C call.
"""

import copy
import pickle
import re

import numpy as np
import pytest

import seqpacker
from seqpacker import Pack, Packer, PackMetrics, PackResult, pack_sequences
from seqpacker._core import native as _native

ISSUE_LENGTHS = [1000, 800, 600, 500, 400, 300, 200, 100]

ALL = ["nf", "ff", "bf", "wf", "ffd", "bfd", "ffs", "mffd", "obfd", "obfdp", "hk"]

LONG_NAMES = {
    "NF": "NextFit",
    "FF": "FirstFit",
    "BF": "BestFit",
    "WF": "WorstFit",
    "FFD": "FirstFitDecreasing",
    "BFD": "BestFitDecreasing",
    "FFS": "FirstFitShuffle",
    "MFFD": "ModifiedFirstFitDecreasing",
    "OBFD": "OptimizedBestFitDecreasing",
    "OBFDP": "ParallelOptimizedBestFitDecreasing",
    "HK": "HarmonicK",
}


def random_lengths(n, capacity, seed=0):
    return np.random.default_rng(seed).integers(1, capacity + 1, n)


# -- the issue's example -------------------------------------------------------

def test_issue_example_bins_and_efficiency():
    result = pack_sequences(ISSUE_LENGTHS, capacity=1024)
    assert result.bins == [[0], [1, 7], [2, 4], [3, 5, 6]]
    assert result.efficiency == pytest.approx(3900 / 4096)
    assert f"{result.efficiency:.4f}" == "0.9521"
    assert result.num_bins == len(result) == 4


def test_default_strategy_is_obfd():
    assert Packer(1024).strategy == "OBFD"
    default = pack_sequences(ISSUE_LENGTHS, 1024)
    explicit = pack_sequences(ISSUE_LENGTHS, 1024, "bfd")
    assert default.bins == explicit.bins


# -- strategy names -----------------------------------------------------------

def test_strategies_lists_all_eleven_in_abi_order():
    pairs = Packer.strategies()
    builtins = pairs[:11]
    assert builtins == list(LONG_NAMES.items())
    assert [_native.STRATEGY_IDS[short.lower()] for short, _ in builtins] == list(range(11))
    # Anything after the built-ins is an installed plugin.
    from seqpacker.registry import available_strategies

    assert all(info.plugin for info in available_strategies()[11:])


@pytest.mark.parametrize("short,long", list(LONG_NAMES.items()))
def test_every_spelling_resolves(short, long):
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", long).lower()
    for name in (short, short.lower(), long, long.lower(), long.upper(), snake, snake.upper()):
        assert Packer(64, name).strategy == short, name


def test_harmonic_alias():
    assert Packer(64, "Harmonic").strategy == "HK"
    assert Packer(64, "harmonic").strategy == "HK"


def test_spelling_does_not_change_the_result():
    lengths = random_lengths(300, 100)
    results = {
        name: Packer(100, name).pack(lengths).bins
        for name in ("ffd", "FFD", "FirstFitDecreasing", "first_fit_decreasing")
    }
    assert len({repr(bins) for bins in results.values()}) == 1


# -- reprs and shapes (the published API's) ---------------------------------

def test_reprs():
    assert repr(Packer(1024)) == "Packer(capacity=1024, strategy='OBFD')"
    assert repr(Packer(10, "harmonic_k")) == "Packer(capacity=10, strategy='HK')"
    result = pack_sequences(ISSUE_LENGTHS, 1024)
    assert re.fullmatch(r"PackResult\(bins=4, efficiency=95\.21%, time=\d+\.\d\dms\)", repr(result))
    assert re.fullmatch(r"PackMetrics\(bins=4, efficiency=95\.21%, time=\d+\.\d\dms\)",
                        repr(result.metrics))
    assert repr(result.packs[1]) == "Pack(sequences=2, used=900)"


def test_packs_hold_python_lists():
    result = pack_sequences(ISSUE_LENGTHS, 1024)
    pack = result.packs[3]
    assert isinstance(pack, Pack)
    assert pack.sequence_ids == [3, 5, 6]
    assert pack.lengths == [500, 300, 200]
    assert pack.used == 1000 and type(pack.used) is int
    assert len(pack) == 3
    assert all(type(v) is int for v in pack.sequence_ids + pack.lengths)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_packs_pickle_and_copy(protocol):
    pack = pack_sequences(ISSUE_LENGTHS, 1024).packs[3]
    for clone in (pickle.loads(pickle.dumps(pack, protocol=protocol)), copy.copy(pack),
                  copy.deepcopy(pack)):
        assert type(clone) is Pack and clone is not pack
        assert (clone.sequence_ids, clone.lengths, clone.used) == ([3, 5, 6], [500, 300, 200], 1000)


def test_a_pack_built_in_python_is_one_built_in_c():
    built = Pack([3, 5, 6], [500, 300, 200], 1000)
    by_name = Pack(sequence_ids=[3, 5, 6], lengths=[500, 300, 200], used=1000)
    from_c = pack_sequences(ISSUE_LENGTHS, 1024).packs[3]
    for pack in (built, by_name):
        assert (pack.sequence_ids, pack.lengths, pack.used, len(pack), repr(pack)) == (
            from_c.sequence_ids, from_c.lengths, from_c.used, len(from_c), repr(from_c))
    with pytest.raises(TypeError, match="Pack"):
        Pack([1], [2])
    with pytest.raises(AttributeError):
        built._used = 5  # the fields are set once
    with pytest.raises(AttributeError):
        built.extra = 1  # no __dict__


def test_a_cycle_through_a_pack_built_in_python_is_collected():
    import gc
    import weakref

    class Ids(list):
        pass

    ids = Ids([0])
    pack = Pack(ids, [1], 1)
    ids.append(pack)  # pack -> ids -> pack
    gone = weakref.ref(ids)
    del ids, pack
    gc.collect()
    assert gone() is None


def test_pack_members_cannot_be_corrupted_through_returned_lists():
    result = pack_sequences(ISSUE_LENGTHS, 1024)
    result.packs[1].sequence_ids.append(99)
    result.packs[1].lengths.clear()
    assert result.packs[1].sequence_ids == [1, 7]
    assert result.packs[1].lengths == [800, 100]


def test_result_types_and_exports():
    result = pack_sequences(ISSUE_LENGTHS, 1024)
    assert isinstance(result, PackResult)
    assert isinstance(result.metrics, PackMetrics)
    assert isinstance(result.time_ms, float) and result.time_ms >= 0
    assert result.time_ms == result.metrics.packing_time_ms
    assert set(seqpacker.__all__) >= {"Pack", "PackMetrics", "PackResult", "Packer", "pack_sequences"}
    assert seqpacker.__version__ == _native.library_version()


def test_packer_properties():
    packer = Packer(4096, "ffs", seed=7)
    assert packer.capacity == 4096 and packer.strategy == "FFS" and packer.seed == 7
    assert Packer(10).seed == _native.DEFAULT_SEED
    assert Packer(10, "hk").k == _native.DEFAULT_K
    assert Packer(10, "hk", k=3).k == 3
    assert isinstance(Packer.__dict__["strategies"], staticmethod)


# -- flat arrays and pack_flat ------------------------------------------------

@pytest.mark.parametrize("strategy", ALL)
def test_pack_flat_split_points_rebuild_the_bins(strategy):
    lengths = random_lengths(500, 256, seed=1)
    packer = Packer(256, strategy)
    items, bin_offsets = packer.pack_flat(lengths)
    result = packer.pack(lengths)
    assert items.dtype == np.int64 and bin_offsets.dtype == np.int64
    assert len(bin_offsets) == result.num_bins - 1
    assert [part.tolist() for part in np.split(items, bin_offsets)] == result.bins


def test_pack_flat_of_a_single_bin_has_no_split_points():
    items, bin_offsets = Packer(100).pack_flat([10, 20, 30])
    assert bin_offsets.tolist() == []
    assert [b.tolist() for b in np.split(items, bin_offsets)] == [[2, 1, 0]]


def test_flat_arrays_of_the_result_are_consistent_and_read_only():
    lengths = random_lengths(400, 128, seed=2)
    result = Packer(128, "ff").pack(lengths)
    assert result.offsets[0] == 0 and result.offsets[-1] == len(lengths)
    assert len(result.offsets) == result.num_bins + 1
    assert sorted(result.items.tolist()) == list(range(len(lengths)))
    sums = np.add.reduceat(lengths[result.items], result.offsets[:-1])
    assert result.used.tolist() == sums.tolist()
    for array in (result.items, result.offsets, result.used):
        with pytest.raises(ValueError):
            array[0] = 1


def test_result_does_not_share_the_callers_array():
    lengths = np.array(ISSUE_LENGTHS, dtype=np.int64)
    result = Packer(1024).pack(lengths)
    lengths[:] = 1  # the caller reuses its buffer
    assert result.packs[1].lengths == [800, 100]
    assert lengths.flags.writeable


# -- a PackResult built by hand ------------------------------------------------

# Bins [0, 2] and [1] of lengths 3, 4, 5 at capacity 8.
HAND = dict(items=[0, 2, 1], offsets=[0, 2, 3], used=[8, 4], lengths=[3, 4, 5], capacity=8,
            time_ms=0.0)


def hand_built(**changes):
    args = {**HAND, **changes}
    positional = [args.pop(name) for name in ("items", "offsets", "used", "lengths",
                                              "capacity", "time_ms")]
    return PackResult(*positional, **args)


@pytest.mark.parametrize("changes, error, message", [
    ({"items": [0, 0, 1], "used": [6, 4]}, ValueError,
     "sequence 0 is in items twice (items[0] and items[1]): a sequence goes in at most one bin"),
    ({"items": [0, 3, 1]}, ValueError,
     "items[1] = 3 is not a sequence id: ids run from 0 to len(lengths) - 1 = 2"),
    ({"items": [0, -1, 1]}, ValueError, "items[1] = -1 is not a sequence id"),
    ({"offsets": [0, 2, 5]}, ValueError, "offsets[-1] = 5 must equal len(items) = 3"),
    ({"offsets": [1, 2, 3]}, ValueError, "offsets must start with 0"),
    ({"offsets": [0, 3, 2, 3], "used": [12, 0, 4]}, ValueError,
     "offsets must not decrease: offsets[2] = 2 < offsets[1] = 3"),
    ({"used": [100, 4]}, ValueError,
     "used[0] = 100, but the lengths of bin 0 sum to 8 (or pass used=None to compute it)"),
    ({"used": [8]}, ValueError, "used has 1 values; offsets bound 2 bins"),
    ({"capacity": 4}, ValueError, "exceeds capacity 4"),
    ({"capacity": 7}, ValueError, "bin 0 holds 8 tokens, more than the capacity 7"),
    ({"items": [0, 2, 1], "offsets": [0, 3], "used": [12], "lengths": [3, 4, 5],
      "capacity": 10}, ValueError, "bin 0 holds 12 tokens, more than the capacity 10"),
    ({"lengths": [3, 0, 5]}, ValueError, "lengths[1] = 0 is not a valid length"),
    ({"capacity": 8.0}, TypeError, "capacity must be an int, not float (8.0)"),
    ({"items": [0.0, 2.0, 1.0]}, TypeError, "items must hold integers, got dtype float64"),
    ({"items": [[0, 2, 1]]}, TypeError, "items must be 1-D, got shape (1, 3)"),
    ({"time_ms": None}, TypeError, "time_ms must be a number, not None"),
    ({"time_ms": -1.0}, ValueError, "time_ms must be >= 0, not -1.0"),
    ({"time_ms": float("nan")}, ValueError, "time_ms must be >= 0, not nan"),
    ({"used": None, "capacity": 7}, ValueError, "bin 0 holds 8 tokens, more than the capacity 7"),
    ({"items": [2, 1, 2, 1], "offsets": [0, 2, 4], "used": None, "lengths": [1, 1, 1]},
     ValueError, "sequence 2 is in items twice (items[0] and items[2])"),
    ({"packs_added": 3}, ValueError, "packs_added = 3 is more than the 2 bins"),
    ({"max_items": 1}, ValueError, "bin 0 holds 2 sequences, more than max_items = 1"),
])
def test_a_hand_built_result_is_checked(changes, error, message):
    with pytest.raises(error, match=re.escape(message)):
        hand_built(**changes)


def test_a_hand_built_result_copies_the_arrays_and_can_compute_used():
    arrays = {name: np.array(HAND[name]) for name in ("items", "offsets", "used", "lengths")}
    result = hand_built(**arrays)
    for name, array in arrays.items():
        assert array.flags.writeable  # the caller's arrays stay as they were
        array[0] = 1
        assert getattr(result, name).dtype == np.int64 and not getattr(result, name).flags.writeable
    assert result.bins == [[0, 2], [1]] and result.used.tolist() == [8, 4]
    assert result.efficiency == 12 / 16
    computed = hand_built(used=None)
    assert computed.used.tolist() == [8, 4] and computed.efficiency == 12 / 16
    # An empty bin and a sequence left out (the first bins of a packing) are allowed.
    part = hand_built(items=[1], offsets=[0, 0, 1], used=[0, 4])
    assert part.bins == [[], [1]] and part.metrics.num_sequences == 1


# -- laziness and caching -----------------------------------------------------

def test_bins_and_packs_are_built_once_and_only_when_asked():
    result = Packer(128).pack(random_lengths(200, 128))
    assert result._bins is None and result._packs is None and result._metrics is None
    _ = result.efficiency, result.num_bins, len(result), result.time_ms, repr(result)
    assert result._bins is None and result._packs is None and result._metrics is None
    bins = result.bins
    assert result.bins is bins
    assert result._packs is None
    packs = result.packs
    assert result.packs is packs
    assert result.metrics is result.metrics


def test_packs_agree_with_bins_and_lengths():
    lengths = random_lengths(300, 64, seed=3)
    result = Packer(64, "wf").pack(lengths.tolist())
    assert [p.sequence_ids for p in result.packs] == result.bins
    for pack in result.packs:
        assert pack.lengths == [int(lengths[i]) for i in pack.sequence_ids]
        assert pack.used == sum(pack.lengths) <= 64


def test_many_bins_and_packs_leave_the_garbage_collector_as_it_was():
    """Large results build their lists in C, untracked until all exist (and
    packs untracked for good), without touching the collector's state."""
    import gc

    lengths = random_lengths(20_000, 64, seed=5)
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            result = Packer(64, "nf").pack(lengths)
            assert result.num_bins >= 1000
            assert [p.sequence_ids for p in result.packs] == result.bins
            assert gc.isenabled() is enabled
            pack = result.packs[0]
            assert not gc.is_tracked(pack) and not gc.is_tracked(pack._sequence_ids)
            assert gc.is_tracked(result.bins[0])  # handed out: may hold anything
        finally:
            gc.enable()


def test_bins_from_arrays_refuses_arrays_that_do_not_fit():
    import gc

    from seqpacker._core._ext import bins_from_arrays

    items = np.array([4, 5, 6], dtype=np.int64)
    bins = bins_from_arrays(items, np.array([0, 1, 3]))
    assert bins == [[4], [5, 6]] and all(gc.is_tracked(b) for b in bins)
    assert bins_from_arrays(items[:0], np.array([0])) == []
    for offsets in ([0, 2, 1], [1, 1, 3], [0, 1, 4], [], [0, 4]):
        with pytest.raises(ValueError, match="offsets do not split items"):
            bins_from_arrays(items, np.array(offsets, dtype=np.int64))
    with pytest.raises(TypeError, match="offsets must be a 1-d int64 array"):
        bins_from_arrays(items, np.array([0, 3], dtype=np.int32))
    with pytest.raises(TypeError, match="takes 2 arguments"):
        bins_from_arrays(items)


def test_packs_from_arrays_refuses_arrays_that_do_not_fit():
    from seqpacker._core._ext import packs_from_arrays

    items = np.array([4, 5, 6], dtype=np.int64)
    good = (items, items * 2, np.array([0, 1, 3]), np.array([8, 22]))
    packs = packs_from_arrays(Pack, *good)
    assert [(p.sequence_ids, p.lengths, p.used) for p in packs] == [([4], [8], 8), ([5, 6], [10, 12], 22)]
    bad_offsets = ([0, 2, 1], [1, 1, 3], [0, 1, 4], [1, 3], [0, 1, 2, 3])
    for offsets in bad_offsets:
        with pytest.raises(ValueError, match="offsets do not split items"):
            packs_from_arrays(Pack, items, items, np.array(offsets), np.array([1, 2]))
    with pytest.raises(ValueError, match="offsets do not split items"):
        packs_from_arrays(Pack, items, items[:2], *good[2:])
    with pytest.raises(TypeError, match="items must be a 1-d int64 array"):
        packs_from_arrays(Pack, items.astype(np.float64), *good[1:])
    with pytest.raises(TypeError, match="used must be a 1-d int64 array"):
        packs_from_arrays(Pack, *good[:3], np.array([[8, 22]]))
    with pytest.raises(ValueError, match="not C-contiguous"):
        packs_from_arrays(Pack, np.arange(6)[::2], *good[1:])
    misaligned = np.zeros(25, dtype=np.uint8)[1:].view(np.int64)  # 3 items at an odd address
    with pytest.raises(ValueError, match="items is not C-contiguous and aligned"):
        packs_from_arrays(Pack, misaligned, *good[1:])
    for bad in ([4, 5, 6], items.astype(">i8"), items.astype(np.uint64), np.int64(3), None):
        with pytest.raises(TypeError, match="items must be a 1-d int64 array"):
            packs_from_arrays(Pack, bad, *good[1:])
    for not_a_pack_type in (tuple, object(), "Pack"):
        with pytest.raises(TypeError, match="pack_type must be a subclass of PackBase"):
            packs_from_arrays(not_a_pack_type, *good)
    with pytest.raises(TypeError, match="takes 5 arguments"):
        packs_from_arrays(Pack, *good[:3])


# -- metrics ------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ALL)
def test_metrics_match_a_numpy_recomputation(strategy):
    capacity = 300
    lengths = random_lengths(1000, capacity, seed=4)
    result = Packer(capacity, strategy).pack(lengths)
    m = result.metrics
    used = np.array([sum(int(lengths[i]) for i in b) for b in result.bins])
    counts = np.array([len(b) for b in result.bins])
    util = used / capacity
    total = int(lengths.sum())
    slots = len(used) * capacity
    assert m.num_sequences == 1000
    assert m.total_tokens == total
    assert m.num_packs == len(result.bins) == result.num_bins
    assert m.padding_tokens == slots - total
    assert m.efficiency == pytest.approx(total / slots) == result.efficiency
    assert m.padding_ratio == pytest.approx(1 - total / slots)
    assert m.avg_utilisation == pytest.approx(util.mean())
    assert m.min_utilisation == pytest.approx(util.min())
    assert m.max_utilisation == pytest.approx(util.max())
    assert m.utilisation_std == pytest.approx(np.sqrt(((util - util.mean()) ** 2).mean()))
    assert m.avg_sequences_per_pack == pytest.approx(counts.mean())
    assert m.packing_time_ms == result.time_ms
    assert m.throughput == pytest.approx(1000 / (result.time_ms / 1000))


def test_results_are_read_only():
    result = pack_sequences(ISSUE_LENGTHS, 1024)
    with pytest.raises(AttributeError):
        result.metrics.efficiency = 1.0
    with pytest.raises(AttributeError):
        result.packs[0].used = 0
    with pytest.raises(AttributeError):
        result.efficiency = 1.0


def test_metrics_of_the_issue_example():
    m = pack_sequences(ISSUE_LENGTHS, 1024).metrics
    assert (m.num_sequences, m.total_tokens, m.num_packs, m.padding_tokens) == (8, 3900, 4, 196)
    assert m.min_utilisation == 900 / 1024 and m.max_utilisation == 1000 / 1024
    assert m.avg_sequences_per_pack == 2.0


# -- empty input and extreme capacities ---------------------------------------

@pytest.mark.parametrize("empty", [[], (), range(0), np.array([], dtype=np.int32)])
def test_empty_input_gives_an_empty_result(empty):
    result = pack_sequences(empty, capacity=100)
    assert result.num_bins == len(result) == 0
    assert result.efficiency == 0.0
    assert result.bins == [] and result.packs == []
    m = result.metrics
    assert (m.num_sequences, m.num_packs, m.total_tokens, m.padding_tokens) == (0, 0, 0, 0)
    assert m.efficiency == m.avg_utilisation == m.throughput == 0.0
    items, bin_offsets = Packer(100).pack_flat(empty)
    assert items.dtype == bin_offsets.dtype == np.int64
    assert items.size == 0 and bin_offsets.size == 0


def test_capacity_far_larger_than_n():
    result = pack_sequences([3, 2**39, 5], capacity=2**40)
    assert result.bins == [[1, 2, 0]]  # decreasing order: 2**39, 5, 3
    assert result.efficiency == pytest.approx((2**39 + 8) / 2**40)
    for strategy in ALL:
        assert Packer(2**40, strategy).pack(range(1, 1001)).num_bins == 1


def test_capacity_at_the_int64_limit():
    result = pack_sequences([2**62, 2**62 - 1], capacity=2**63 - 1)
    assert result.num_bins == 1
    assert result.metrics.padding_tokens == 0


# -- accepted input forms -----------------------------------------------------

@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64", ">i8", "<u4"])
def test_every_integer_dtype_gives_the_same_bins(dtype):
    lengths = random_lengths(200, 100, seed=5)
    expected = pack_sequences(lengths.tolist(), 100).bins
    assert pack_sequences(lengths.astype(dtype), 100).bins == expected


def test_non_contiguous_arrays_and_other_sequences():
    lengths = random_lengths(200, 100, seed=6)
    expected = pack_sequences(lengths[::2].tolist(), 100).bins
    assert pack_sequences(lengths[::2], 100).bins == expected
    assert pack_sequences(np.asfortranarray(lengths)[::2], 100).bins == expected
    assert pack_sequences(tuple(lengths[::2].tolist()), 100).bins == expected
    assert pack_sequences([np.int32(v) for v in lengths[::2]], 100).bins == expected
    assert pack_sequences(np.array(lengths[::2].tolist(), dtype=object), 100).bins == expected


def test_ranges():
    assert pack_sequences(range(1, 11), 10).bins == pack_sequences(list(range(1, 11)), 10).bins
    assert pack_sequences(range(10, 0, -3), 10).bins == pack_sequences([10, 7, 4, 1], 10).bins


def test_contiguous_int64_input_is_not_converted():
    from seqpacker._core.validation import as_lengths

    lengths = np.arange(1, 10, dtype=np.int64)
    assert as_lengths(lengths) is lengths
    converted = as_lengths(lengths.astype(np.int32))
    assert converted.dtype == np.int64 and converted.flags.c_contiguous


# -- determinism and options --------------------------------------------------

@pytest.mark.parametrize("strategy", ALL)
def test_same_input_same_bins(strategy):
    lengths = random_lengths(500, 200, seed=7)
    assert Packer(200, strategy).pack(lengths).bins == Packer(200, strategy).pack(lengths).bins


def test_options_reach_the_c_library():
    lengths = random_lengths(300, 1000, seed=8)
    by_seed = {seed: Packer(1000, "ffs", seed=seed).pack(lengths).bins for seed in (None, 0, 1)}
    assert by_seed[None] == by_seed[0] != by_seed[1]
    by_k = {k: Packer(1000, "hk", k=k).pack(lengths).bins for k in (None, 10, 2)}
    assert by_k[None] == by_k[10] != by_k[2]
    for threads in (None, 1, 2, 3):
        result = Packer(1000, "obfdp", threads=threads).pack(lengths)
        assert sorted(result.items.tolist()) == list(range(300))
        assert result.used.max() <= 1000


@pytest.mark.parametrize("strategy", ["nf", "hk", "obfd"])
def test_page_helper_thread_leaves_the_bins_unchanged(strategy):
    # 600,000 lengths: outputs over 4 MiB, where a call with threads allowed
    # maps the output pages on a helper thread (docs/api.md, `threads`).
    lengths = random_lengths(600_000, 2048, seed=9)
    alone = Packer(2048, strategy, threads=1).pack(lengths)
    helped = Packer(2048, strategy, threads=2).pack(lengths)
    assert np.array_equal(alone.items, helped.items)
    assert np.array_equal(alone.offsets, helped.offsets)
    assert np.array_equal(alone.used, helped.used)


def test_seed_and_options_are_validated_at_construction():
    with pytest.raises(ValueError, match="k = 1"):
        Packer(100, "hk", k=1)
    with pytest.raises(ValueError, match="threads = 0"):
        Packer(100, "obfdp", threads=0)
    with pytest.raises(ValueError, match="seed = -1"):
        Packer(100, "ffs", seed=-1)
    assert Packer(100, "ffs", seed=2**64 - 1).seed == 2**64 - 1


def test_import_is_light(tmp_path):
    import subprocess
    import sys

    # No torch, datasets or engine, and no entry-point scanning (which needs
    # importlib.metadata).
    code = ("import sys, seqpacker; print([m for m in ('torch', 'datasets', 'pyarrow', "
            "'transformers', 'ray', 'pyspark', 'importlib.metadata') if m in sys.modules])")
    # Run outside the repository, so that the installed package is imported.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "[]"


def test_packers_and_strategy_names_pickle_and_copy():
    """Spawn-based DataLoader workers and process pools carry a Packer."""
    packer = Packer(100, "hk", k=5, threads=2)
    for clone in (pickle.loads(pickle.dumps(packer)), copy.copy(packer), copy.deepcopy(packer)):
        assert (clone.capacity, clone.strategy, clone.k, clone.seed) == (100, "HK", 5, 0)
        assert clone.pack_flat([60, 50, 40])[0].tolist() == packer.pack_flat([60, 50, 40])[0].tolist()
    for pair in Packer.strategies():
        for clone in (pickle.loads(pickle.dumps(pair)), copy.copy(pair)):
            assert clone == pair and (clone.plugin, clone.origin) == (pair.plugin, pair.origin)
