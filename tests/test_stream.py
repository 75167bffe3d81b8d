"""StreamPacker: online NF and HK against a pure-Python streaming reference
(which packs each call must return, and when) and against the offline
Packer (the same bins); chunkings, flat output, pickling, every error path.
"""

from __future__ import annotations

import copy
import decimal
import fractions
import pickle
import re
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

import seqpacker
from seqpacker import Packer, StreamPacker
from seqpacker._core import native as _native
from seqpacker._core import _ext

INT64_MAX = 2**63 - 1


class ReferenceStream:
    """NextFit / HarmonicK as the StreamPacker docs state them, written
    plainly: a pack is ``(ids, lengths)``; ``add`` returns the packs the
    length closed, in closing order."""

    def __init__(self, capacity: int, strategy: str, k: int = 10):
        self.capacity, self.strategy, self.k = capacity, strategy.upper(), k
        self.open: dict[int, tuple[list, list]] = {}  # slot -> (ids, lengths)
        self.next_id = 0

    def slot(self, length: int) -> int:
        if self.strategy == "NF":
            return 0
        i = self.capacity // length
        return i if i < self.k else 0

    def add(self, length: int) -> list:
        closed = []
        slot = self.slot(length)
        ids, lens = self.open.setdefault(slot, ([], []))
        next_fit = self.strategy == "NF" or slot == 0
        if next_fit and sum(lens) + length > self.capacity:
            closed.append(self.open.pop(slot))
            ids, lens = self.open.setdefault(slot, ([], []))
        ids.append(self.next_id)
        lens.append(length)
        self.next_id += 1
        if (next_fit and sum(lens) == self.capacity) or (not next_fit and len(ids) == slot):
            closed.append(self.open.pop(slot))
        return closed

    def finish(self) -> list:
        packs = sorted(self.open.values(), key=lambda pack: pack[0][0])
        self.open = {}
        return packs

    @property
    def open_bins(self) -> int:
        return sum(1 for ids, _ in self.open.values() if ids)


def as_tuples(packs) -> list:
    """Packs (objects) -> [(ids, lengths, used)], checking used on the way."""
    out = []
    for pack in packs:
        assert isinstance(pack, seqpacker.Pack)
        assert pack.used == sum(pack.lengths)
        assert len(pack) == len(pack.sequence_ids) == len(pack.lengths)
        out.append((pack.sequence_ids, pack.lengths, pack.used))
    return out


def ref_tuples(packs) -> list:
    return [(ids, lens, sum(lens)) for ids, lens in packs]


# ---- the feed: a random mix of add, add_many (list or array) and flat ----------


@st.composite
def stream_cases(draw, max_n=120):
    strategy = draw(st.sampled_from(["nf", "hk"]))
    capacity = draw(st.one_of(st.integers(1, 6), st.integers(1, 300)))
    k = draw(st.integers(2, 12))
    hi = draw(st.integers(1, capacity))
    lengths = draw(st.lists(st.integers(1, hi), max_size=max_n))
    # Cut the lengths into calls: ("add", 1) or ("many"/"array"/"flat", size).
    calls, at = [], 0
    while at < len(lengths):
        kind = draw(st.sampled_from(["add", "many", "array", "flat"]))
        size = 1 if kind == "add" else draw(st.integers(0, len(lengths) - at))
        calls.append((kind, size))
        at += size
    return strategy, capacity, k, lengths, calls


def feed(packer: StreamPacker, ref: ReferenceStream, lengths, calls, emitted):
    """Run the calls on both; each call returns exactly the reference's packs."""
    at = 0
    for kind, size in calls:
        chunk = lengths[at : at + size]
        at += size
        expected = [p for length in chunk for p in ref.add(length)]
        if kind == "add":
            got = as_tuples(packer.add(chunk[0]))
        elif kind == "many":
            got = as_tuples(packer.add_many(chunk))
        elif kind == "array":
            got = as_tuples(packer.add_many(np.array(chunk, dtype=np.int64)))
        else:
            items, splits = packer.add_many_flat(chunk)
            assert items.dtype == np.int64 and splits.dtype == np.int64
            got_ids = [part.tolist() for part in np.split(items, splits)] if len(items) else []
            assert got_ids == [ids for ids, _ in expected]
            got = ref_tuples(expected)  # ids checked; flat output has no lengths
        assert got == ref_tuples(expected)
        emitted += got
        assert packer.sequences_added == ref.next_id
        assert packer.open_bins == ref.open_bins
        assert packer.open_bins <= (1 if ref.strategy == "NF" else ref.k)
    return emitted


def offline_tuples(lengths, capacity, strategy, k) -> list:
    if not lengths:
        return []
    return as_tuples(Packer(capacity, strategy, k=k).pack(lengths).packs)


@given(stream_cases())
def test_stream_matches_reference_and_offline_packer(case):
    strategy, capacity, k, lengths, calls = case
    packer = StreamPacker(capacity, strategy, k=k)
    ref = ReferenceStream(capacity, strategy, k)
    emitted = feed(packer, ref, lengths, calls, [])
    final = as_tuples(packer.finish())
    assert final == ref_tuples(ref.finish())
    assert packer.open_bins == 0
    emitted += final
    # Every id exactly once, and sorted by first id the packs are the
    # offline Packer's bins, in its order.
    assert sorted(i for ids, _, _ in emitted for i in ids) == list(range(len(lengths)))
    by_first_id = sorted(emitted, key=lambda pack: pack[0][0])
    assert by_first_id == offline_tuples(lengths, capacity, strategy, k)
    if strategy == "nf":  # NF closes bins in the order it opens them
        assert emitted == by_first_id


@given(stream_cases(), st.data())
def test_pickle_mid_stream_resumes_exactly(case, data):
    strategy, capacity, k, lengths, calls = case
    cut = data.draw(st.integers(0, len(calls)))
    whole = StreamPacker(capacity, strategy, k=k)
    expected = feed(whole, ReferenceStream(capacity, strategy, k), lengths, calls, [])
    expected += as_tuples(whole.finish())

    first = StreamPacker(capacity, strategy, k=k)
    ref = ReferenceStream(capacity, strategy, k)
    done = sum(size for _, size in calls[:cut])
    got = feed(first, ref, lengths[:done], calls[:cut], [])
    resumed = pickle.loads(pickle.dumps(first))
    assert resumed.sequences_added == first.sequences_added == done
    assert resumed.open_bins == first.open_bins
    assert repr(resumed) == repr(first)
    twin_ref = copy.deepcopy(ref)
    rest = lengths[done:]
    resumed_packs = feed(resumed, ref, rest, calls[cut:], list(got))
    resumed_packs += as_tuples(resumed.finish())
    assert resumed_packs == expected
    # The original is untouched by the pickling and goes on the same way.
    original_packs = feed(first, twin_ref, rest, calls[cut:], list(got))
    original_packs += as_tuples(first.finish())
    assert original_packs == expected


@given(stream_cases(max_n=60), st.data())
def test_rejected_lengths_change_nothing(case, data):
    strategy, capacity, k, lengths, calls = case
    packer = StreamPacker(capacity, strategy, k=k)
    ref = ReferenceStream(capacity, strategy, k)
    emitted, at = [], 0
    for kind, size in calls:
        # Before each call, a rejected single length or a rejected chunk.
        bad = data.draw(st.sampled_from([0, -1, -(2**63), capacity + 1, INT64_MAX]))
        before = (packer.sequences_added, packer.open_bins)
        with pytest.raises(ValueError):
            packer.add(bad)
        chunk = lengths[at : at + size] + [bad]
        where = data.draw(st.integers(0, len(chunk) - 1))
        chunk[where], chunk[-1] = chunk[-1], chunk[where]
        with pytest.raises(ValueError, match=rf"lengths\[{where}\] = {bad}"):
            packer.add_many(chunk)
        assert (packer.sequences_added, packer.open_bins) == before
        emitted = feed(packer, ref, lengths[at : at + size], [(kind, size)], emitted)
        at += size
    emitted += as_tuples(packer.finish())
    by_first_id = sorted(emitted, key=lambda pack: pack[0][0])
    assert by_first_id == offline_tuples(lengths, capacity, strategy, k)


# ---- worked examples ----------------------------------------------------------


def test_nf_emits_a_bin_when_exactly_full_or_when_the_next_does_not_fit():
    packer = StreamPacker(10, "nf")
    assert packer.add(5) == []
    assert as_tuples(packer.add(5)) == [([0, 1], [5, 5], 10)]  # exactly full
    assert packer.add(3) == []
    assert as_tuples(packer.add(8)) == [([2], [3], 3)]  # 8 does not fit
    assert as_tuples(packer.add(10)) == [([3], [8], 8), ([4], [10], 10)]
    assert packer.finish() == []


def test_hk_emits_a_class_bin_when_it_holds_its_items():
    # capacity 12, k 4: 5 and 6 are class 2, 4 class 3, 12 class 1, 3 and 2
    # the last class (next fit).
    packer = StreamPacker(12, "hk", k=4)
    assert packer.add_many([5, 3]) == []
    assert as_tuples(packer.add(12)) == [([2], [12], 12)]
    assert packer.add(4) == []
    assert as_tuples(packer.add(6)) == [([0, 4], [5, 6], 11)]
    assert packer.add_many([3, 4, 3, 2]) == []
    assert as_tuples(packer.add(4)) == [([3, 6, 9], [4, 4, 4], 12)]
    assert as_tuples(packer.add(3)) == [([1, 5, 7, 8], [3, 3, 3, 2], 11)]
    assert packer.add(5) == []
    assert packer.open_bins == 2
    assert as_tuples(packer.finish()) == [([10], [3], 3), ([11], [5], 5)]  # opening order


def test_flat_output_uses_pack_flat_split_points():
    packer = StreamPacker(10, "nf")
    items, splits = packer.add_many_flat([6, 6, 6, 4, 1])
    assert items.tolist() == [0, 1, 2, 3]
    assert splits.tolist() == [1, 2]
    items, splits = packer.add_many_flat([2])
    assert items.tolist() == [] and splits.tolist() == []
    assert as_tuples(packer.finish()) == [([4, 5], [1, 2], 3)]


def test_ids_past_int32_continue_from_a_resumed_state():
    packer = StreamPacker(100, "nf")
    packer.add(1)
    state = packer.__getstate__()
    words = np.frombuffer(state["state"], dtype="<i8").copy()
    # The open bin holds id 0; move the whole stream far past 2**31.
    offset = 2**40
    words[6] += offset  # next id (after magic, version, capacity, strategy, k, max_items)
    words[-3] += offset  # the open bin's id (before its length and the checksum)
    resumed = StreamPacker.__new__(StreamPacker)
    resumed.__setstate__({"version": state["version"], "state": seal(words).tobytes()})
    assert resumed.sequences_added == offset + 1
    assert as_tuples(resumed.add(99)) == [([offset, offset + 1], [1, 99], 100)]


def test_the_last_id_then_overflow():
    packer = StreamPacker(10, "nf")
    state = packer.__getstate__()
    words = np.frombuffer(state["state"], dtype="<i8").copy()
    words[6] = INT64_MAX - 1  # next id
    packer = StreamPacker.__new__(StreamPacker)
    packer.__setstate__({"version": state["version"], "state": seal(words).tobytes()})
    assert packer.add(10)[0].sequence_ids == [INT64_MAX - 1]
    with pytest.raises(OverflowError):
        packer.add(1)
    with pytest.raises(OverflowError):
        packer.add_many([1])
    assert packer.sequences_added == INT64_MAX


# ---- construction, properties, repr --------------------------------------------


@pytest.mark.parametrize("name", ["nf", "NF", "NextFit", "next_fit", "hk", "HarmonicK", "harmonic"])
def test_strategy_names_as_in_packer(name):
    packer = StreamPacker(100, name)
    assert packer.strategy in ("NF", "HK")
    assert packer.capacity == 100 and packer.k == 10 and packer.sequences_added == 0


def test_repr():
    packer = StreamPacker(2048, "hk", k=4)
    assert repr(packer) == "StreamPacker(strategy='HK', k=4, capacity=2048, added=0)"
    packer.add_many([1, 2, 3])
    packer.finish()
    assert repr(packer) == "StreamPacker(strategy='HK', k=4, capacity=2048, added=3, finished)"
    assert repr(StreamPacker(8)) == "StreamPacker(strategy='NF', capacity=8, added=0)"


@pytest.mark.parametrize("name", ["ffd", "obfd", "bf", "FirstFit", "ffs", "mffd", "obfdp", "wf"])
def test_offline_strategies_point_to_packer(name):
    with pytest.raises(ValueError, match=r"cannot pack a stream.*use Packer"):
        StreamPacker(100, name)


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy 'nff'"):
        StreamPacker(100, "nff")
    with pytest.raises(TypeError):
        StreamPacker(100, 3)


@pytest.mark.parametrize("k, error", [(1, ValueError), (0, ValueError), (-5, ValueError),
                                      (65537, ValueError), (2**70, ValueError),
                                      (2.0, TypeError), (True, TypeError), ("3", TypeError)])
@pytest.mark.parametrize("strategy", ["hk", "nf"])
def test_bad_k_raises_and_the_process_lives(strategy, k, error):
    with pytest.raises(error, match="k"):
        StreamPacker(100, strategy, k=k)


def test_k_limits_are_accepted():
    assert StreamPacker(100, "hk", k=2).k == 2
    packer = StreamPacker(INT64_MAX, "hk", k=65536)
    assert packer.add_many([1, INT64_MAX, 2**40]) != []


@pytest.mark.parametrize("capacity, error", [(0, ValueError), (-1, ValueError), (2**63, ValueError),
                                             (1.5, TypeError), (None, TypeError), (True, TypeError)])
def test_bad_capacity(capacity, error):
    with pytest.raises(error, match="capacity"):
        StreamPacker(capacity)


# ---- bad lengths -------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["nf", "hk"])
def test_bad_single_lengths(strategy):
    packer = StreamPacker(10, strategy)
    packer.add(3)
    with pytest.raises(ValueError, match=r"length = 0 is not a valid length"):
        packer.add(0)
    with pytest.raises(ValueError, match=r"length = -4 is not a valid length"):
        packer.add(-4)
    with pytest.raises(ValueError, match=r"length = 11 exceeds capacity 10"):
        packer.add(11)
    with pytest.raises(ValueError, match=r"exceeds capacity 10"):
        packer.add(2**64)
    with pytest.raises(ValueError, match=r"is not a valid length"):
        packer.add(-(2**64))
    for value in (1.0, "1", None, True, np.True_, np.float64(1), np.float32(2),
                  decimal.Decimal(2), fractions.Fraction(7, 2), [1]):
        with pytest.raises(TypeError, match="length must be an int"):
            packer.add(value)
    # Nothing was taken: the next length gets id 1, and NumPy ints work.
    assert packer.sequences_added == 1
    ref = ReferenceStream(10, strategy)
    ref.add(3)
    assert as_tuples(packer.add(np.int32(7))) == ref_tuples(ref.add(7))
    assert as_tuples(packer.add(np.uint64(2))) == ref_tuples(ref.add(2))
    assert packer.sequences_added == 3


def test_bad_chunks():
    packer = StreamPacker(10, "hk")
    with pytest.raises(ValueError, match=r"lengths\[2\] = 11 exceeds capacity 10"):
        packer.add_many([1, 2, 11, 0])
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0 is not a valid length"):
        packer.add_many_flat(np.array([1, 0], dtype=np.int32))
    with pytest.raises(TypeError):
        packer.add_many([1, 2.5])
    with pytest.raises(TypeError):
        packer.add_many(np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        packer.add_many(np.ones((2, 2), dtype=np.int64))
    with pytest.raises(TypeError):
        packer.add_many([True, 2])
    with pytest.raises(TypeError):
        packer.add_many("12")
    with pytest.raises(ValueError):
        packer.add_many([1, 2**64])
    assert packer.sequences_added == 0
    assert packer.add_many([]) == []
    assert packer.add_many(range(1, 4)) == []
    assert packer.sequences_added == 3


# ---- finish --------------------------------------------------------------------------


def test_every_call_after_finish_raises():
    packer = StreamPacker(10, "hk", k=3)
    packer.add_many([4, 3])  # class 2 and the last class: both stay open
    assert as_tuples(packer.finish()) == [([0], [4], 4), ([1], [3], 3)]
    assert packer.finished
    for call in (lambda: packer.add(1), lambda: packer.add_many([1]),
                 lambda: packer.add_many_flat([1]), lambda: packer.add_many([]),
                 packer.finish):
        with pytest.raises(ValueError, match="finished"):
            call()
    # A bad length after finish also reports the finish.
    with pytest.raises(ValueError, match="finished"):
        packer.add(0)
    assert packer.sequences_added == 2
    # A finished stream stays finished through pickling.
    again = pickle.loads(pickle.dumps(packer))
    assert again.finished
    with pytest.raises(ValueError, match="finished"):
        again.add(1)


def seal(words: np.ndarray) -> np.ndarray:
    """The state ``words`` with its last value set to the checksum of the
    others, as csrc/src/stream/stream_state.c computes it: the sum of
    SplitMix64's finaliser over value_i + (i + 1) * 0x9E3779B97F4A7C15.
    Tests forge damaged states with it to test the checks behind it."""
    z = words[:-1].astype(np.uint64) + np.arange(1, len(words), dtype=np.uint64) * np.uint64(
        0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    sealed = words.copy()
    sealed[-1] = np.array([z.sum(dtype=np.uint64)], dtype=np.uint64).view(np.int64)[0]
    return sealed


# ---- pickling: corrupted states -------------------------------------------------------


def test_corrupted_pickles_are_refused():
    packer = StreamPacker(100, "hk", k=4)
    packer.add_many([40, 30, 5, 6])
    good = packer.__getstate__()
    target = StreamPacker(1)
    for bad in ({}, None, {"version": 99, "state": good["state"]},
                {"version": good["version"], "state": good["state"][:-3]},
                {"version": good["version"], "state": good["state"][:-8]},
                {"version": good["version"], "state": good["state"] + bytes(8)},
                {"version": good["version"], "state": "text"}):
        with pytest.raises(ValueError):
            target.__setstate__(bad)
    words = np.frombuffer(good["state"], dtype="<i8")
    for at, value in [(0, 1), (2, 0), (3, 4), (4, 1), (5, -1), (6, 1), (7, 7), (9, 9), (-2, 0),
                      (-3, 5)]:
        damaged = words.copy()
        damaged[at] = value
        for state in (damaged, seal(damaged)):  # the checksum, then the checks behind it
            with pytest.raises(ValueError, match="corrupted"):
                target.__setstate__({"version": good["version"], "state": state.tobytes()})
    # The target was never half-restored.
    assert target.capacity == 1 and target.add(1) != []


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(-3, 2**63 - 1)), max_size=4))
def test_random_damage_never_crashes(changes):
    packer = StreamPacker(50, "hk", k=5)
    packer.add_many([7, 20, 3, 3, 11, 30])
    good = packer.__getstate__()
    words = np.frombuffer(good["state"], dtype="<i8").copy()
    for at, value in changes:
        words[at % (len(words) - 1)] = value
    target = StreamPacker.__new__(StreamPacker)
    try:  # sealed: past the checksum, the consistency checks
        target.__setstate__({"version": good["version"], "state": seal(words).tobytes()})
    except ValueError:
        return
    # Whatever imports is a working stream.
    try:
        target.add_many([1, 2, 3])
    except OverflowError:  # the damage moved the next id near the int64 end
        assert target.sequences_added > INT64_MAX - 3
    target.finish()


# ---- threads ---------------------------------------------------------------------------


def test_threads_sharing_a_packer_get_every_id_once():
    packer = StreamPacker(64, "hk", k=6)
    packs, lock = [], threading.Lock()
    rng = np.random.default_rng(5)
    chunks = [rng.integers(1, 65, size=2000) for _ in range(4)]

    def work(chunk):
        got = []
        for i, length in enumerate(chunk.tolist()):
            got += packer.add(length) if i % 2 else packer.add_many(chunk[i : i + 1])
        with lock:
            packs.extend(got)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    packs += packer.finish()
    ids = sorted(i for p in packs for i in p.sequence_ids)
    assert ids == list(range(8000))
    assert all(p.used <= 64 for p in packs)


@pytest.mark.parametrize("k", [2, 9, 10, 11, 18, 19])
@pytest.mark.parametrize("flat", [False, True])
def test_hk_long_chunks_match_the_reference(k, flat):
    """Chunks of thousands of lengths take the C stream's block loop
    (k <= 18), single adds between them the plain one."""
    rng = np.random.default_rng(k)
    lengths = rng.integers(1, 257, 8000)  # capacity <= chunk / 4: a class table
    packer, ref = StreamPacker(256, "hk", k=k), ReferenceStream(256, "hk", k)
    got, expected = [], []
    for start in range(0, 8000, 2000):
        for length in lengths[start:start + 3].tolist():
            got += [p.sequence_ids for p in packer.add(length)]
            expected += [ids for ids, _ in ref.add(length)]
        chunk = lengths[start + 3:start + 2000]
        if flat:
            items, offsets = packer.add_many_flat(chunk)
            got += [part.tolist() for part in np.split(items, offsets) if len(part)]
        else:
            packs = packer.add_many(chunk)
            assert [p.lengths for p in packs] == [lengths[p.sequence_ids].tolist() for p in packs]
            got += [p.sequence_ids for p in packs]
        for length in chunk.tolist():
            expected += [ids for ids, _ in ref.add(length)]
        assert got == expected
    assert as_tuples(packer.finish()) == ref_tuples(ref.finish())


# ---- add() in C (_stream.c) -----------------------------------------------------


def test_add_reads_a_pack_larger_than_its_stack_buffers():
    """More ids than add()'s fixed buffers (256) take its allocated path."""
    packer = StreamPacker(1000, "nf")
    assert all(packer.add(1) == [] for _ in range(700))
    first, second = packer.add(1000)  # does not fit, then is exactly full
    assert first.sequence_ids == list(range(700)) and first.lengths == [1] * 700
    assert first.used == 700
    assert second.sequence_ids == [700] and second.used == 1000


@pytest.mark.parametrize("strategy", ["nf", "hk"])
def test_add_and_add_many_word_their_errors_from_natives_table(monkeypatch, strategy):
    """add() (in C) and add_many take their messages from one table,
    native._ERRORS: a changed entry changes both."""
    lib = _native.lib
    for status, template in [(lib.SP_ERR_LENGTH_NOT_POSITIVE, "bad {name} {value}"),
                             (lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY, "big {name} {value} {capacity}"),
                             (lib.SP_ERR_FINISHED, "done")]:
        monkeypatch.setitem(_native._ERRORS, status, (ValueError, template))
    packer = StreamPacker(10, strategy)
    for length, single, batch in [(0, "bad length 0", "bad lengths[1] 0"),
                                  (2**64, "big length 18446744073709551616 10", None),
                                  (np.int64(11), "big length 11 10", "big lengths[1] 11 10")]:
        with pytest.raises(ValueError) as error:
            packer.add(length)
        assert str(error.value) == single
        if batch is not None:
            with pytest.raises(ValueError) as error:
                packer.add_many([1, length])
            assert str(error.value) == batch
    packer.finish()
    for call in (lambda: packer.add(1), lambda: packer.add_many([1])):
        with pytest.raises(ValueError, match="^done$"):
            call()


def state_with_unread_packs(lengths: np.ndarray) -> bytes:
    """The exported state (little-endian bytes) of a C stream (NF, capacity
    10) that added ``lengths`` through the C API and read none of its packs."""
    ffi, lib = _native.ffi, _native.lib
    out = ffi.new("sp_stream **")
    assert lib.sp_stream_create(10, lib.SP_NF, ffi.NULL, out) == 0
    stream = ffi.gc(out[0], lib.sp_stream_free)
    assert lib.sp_stream_add_many(stream, ffi.from_buffer("int64_t[]", lengths), len(lengths),
                                  ffi.NULL) == 0
    size = ffi.new("int64_t *")
    assert lib.sp_stream_state_size(stream, size) == 0
    state = np.empty(size[0], dtype=np.int64)
    assert lib.sp_stream_export(stream, ffi.from_buffer("int64_t[]", state, require_writable=True),
                                size[0], size) == 0
    return state[: size[0]].astype("<i8").tobytes()


def test_add_hands_out_every_unread_pack_of_a_resumed_state():
    """A state may carry unread packs (the C API lets them wait): the next
    add() hands them all out, more than its fixed buffers (8 packs) hold."""
    state = {"version": StreamPacker(1).__getstate__()["version"],
             "state": state_with_unread_packs(np.full(20, 6, dtype=np.int64))}
    packer = StreamPacker.__new__(StreamPacker)
    packer.__setstate__(state)
    packs = packer.add(5)  # 19 unread packs, then 6 + 5 > 10 closes id 19's bin
    assert [p.sequence_ids for p in packs] == [[i] for i in range(20)]
    assert [p.used for p in packs] == [6] * 20


def test_add_takes_integer_types_through_c():
    class Length(int):
        pass

    packer = StreamPacker(10, "nf")
    assert packer.add(Length(4)) == [] and packer.add(np.int8(5)) == []
    (pack,) = packer.add(Length(2))
    assert pack.sequence_ids == [0, 1] and pack.lengths == [4, 5] and pack.used == 9
    assert all(type(v) is int for v in pack.lengths + pack.sequence_ids + [pack.used])


class Index:
    """Not an int, but an integer through ``__index__``."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


class IntSubclass(int):
    pass


@pytest.mark.parametrize("make", [IntSubclass, np.int8, np.uint16, np.int64],
                         ids=["int subclass", "int8", "uint16", "int64"])
def test_add_takes_every_integer_type_once(make):
    """A length that is an integer but not an exact int becomes one and is
    added once; before Python 3.10 operator.index keeps int subclasses, and
    add() must not hand one back to itself for ever."""
    packer = StreamPacker(10, "nf")
    assert packer.add(make(6)) == []
    (pack,) = packer.add(make(5))
    assert pack.sequence_ids == [0] and pack.lengths == [6] and type(pack.lengths[0]) is int
    assert packer.sequences_added == 2


def test_add_add_many_and_pack_take_the_same_integer_types():
    """One type rule (``_core.validation``): an object with ``__index__`` that is
    not an int or NumPy integer is refused by all three, and takes no id."""
    packer = StreamPacker(10, "nf")
    with pytest.raises(TypeError, match="length must be an int, not Index"):
        packer.add(Index(3))
    with pytest.raises(TypeError, match=r"lengths\[0\] = .* is a Index"):
        packer.add_many([Index(3)])
    with pytest.raises(TypeError, match=r"lengths\[0\] = .* is a Index"):
        Packer(10, "nf").pack([Index(3)])
    assert packer.sequences_added == 0


def test_a_stream_builds_only_pack_objects():
    packer = StreamPacker(10, "nf")
    with pytest.raises(TypeError, match="pack_type must be a subclass of PackBase"):
        packer._open(10, _native.STRATEGY_IDS["nf"], 10, 0, tuple)
    assert packer.add(6) == [] and [p.used for p in packer.add(5)] == [6]


def test_add_on_a_packer_that_was_never_initialised():
    packer = StreamPacker.__new__(StreamPacker)
    with pytest.raises(RuntimeError, match="__init__ was not called"):
        packer.add(1)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol(protocol):
    packer = StreamPacker(100, "hk", k=4)
    packer.add_many([30, 30, 60, 10])
    resumed = pickle.loads(pickle.dumps(packer, protocol=protocol))
    assert repr(resumed) == repr(packer)
    assert as_tuples(resumed.finish()) == as_tuples(packer.finish())


def test_add_takes_length_by_keyword_as_in_0_1_3():
    packer = StreamPacker(10, "nf")
    assert packer.add(length=6) == []
    (pack,) = packer.add(length=5)
    assert pack.sequence_ids == [0]
    for bad_call in (lambda: packer.add(), lambda: packer.add(1, 2),
                     lambda: packer.add(size=1), lambda: packer.add(1, length=2)):
        with pytest.raises(TypeError, match="exactly one argument, length"):
            bad_call()
    assert packer.sequences_added == 2


# ---- interrupted calls ----------------------------------------------------------------


def pack_set(packs) -> list:
    """Packs as a sorted list of (ids, lengths): a partition to compare."""
    return sorted((tuple(p.sequence_ids), tuple(p.lengths)) for p in packs)


def flat_ids(items, splits) -> list:
    return [part.tolist() for part in np.split(items, splits)] if len(items) else []


@pytest.fixture
def interrupt_once():
    """Makes the next check after a C stream call that moves packs out
    raise KeyboardInterrupt, as a Ctrl-C during that call would (the steps
    after the C call run in C, ``_ext``); off again after the test."""
    yield lambda: _ext._interrupt_after(1)
    _ext._interrupt_after(0)


@pytest.mark.parametrize("strategy", ["nf", "hk"])
@pytest.mark.parametrize("call", ["add_many", "add_many_flat"])
def test_an_interrupted_call_keeps_its_chunk_and_hands_its_packs_out_next(
        interrupt_once, strategy, call):
    """A KeyboardInterrupt that lands after the C call has taken the chunk:
    the chunk stays added, and the packs the C call moved out come first
    out of the next call; the stream's packs are a never-interrupted twin's."""
    rng = np.random.default_rng(3)
    first, second, third = (rng.integers(1, 101, n) for n in (500, 700, 300))
    packer, twin = StreamPacker(100, strategy), StreamPacker(100, strategy)
    got = packer.add_many(first)
    expected = twin.add_many(first)
    assert as_tuples(got) == as_tuples(expected)
    twin_second = twin.add_many(second)
    expected += twin_second + twin.add_many(third) + twin.finish()

    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        getattr(packer, call)(second)
    assert packer.sequences_added == 1200  # the chunk stays added
    assert packer._info().pending_packs  # its packs wait
    nxt = packer.add_many(third)
    assert as_tuples(nxt[: len(twin_second)]) == as_tuples(twin_second)  # pending first
    got += nxt + packer.finish()
    assert pack_set(got) == pack_set(expected)


@pytest.mark.parametrize("strategy", ["nf", "hk"])
def test_packs_pending_from_an_interrupted_flat_call_come_out_of_the_next_flat_call_and_add(
        interrupt_once, strategy):
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 101, 900)
    packer, twin = StreamPacker(100, strategy), StreamPacker(100, strategy)
    expected = flat_ids(*twin.add_many_flat(lengths[:400]))
    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        packer.add_many_flat(lengths[:400])
    # Both the pending packs and the new ones, in one flat answer.
    expected += flat_ids(*twin.add_many_flat(lengths[400:800]))
    got = flat_ids(*packer.add_many_flat(lengths[400:800]))
    assert got == expected
    # add() hands out the pending packs first.
    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        packer.add_many_flat(lengths[800:899])
    twin_packs = twin.add_many(lengths[800:899])
    assert as_tuples(packer.add(int(lengths[899]))[: len(twin_packs)]) == as_tuples(twin_packs)
    assert packer._info().pending_packs == 0


@pytest.mark.parametrize("strategy", ["nf", "hk"])
def test_finish_may_be_called_again_after_an_interrupted_finish(interrupt_once, strategy):
    lengths = np.random.default_rng(5).integers(1, 101, 500)
    packer, twin = StreamPacker(100, strategy), StreamPacker(100, strategy)
    packer.add_many(lengths), twin.add_many(lengths)
    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        packer.finish()
    assert packer.finished and packer.open_bins == 0
    with pytest.raises(ValueError, match="finished"):
        packer.add(1)  # pending packs do not make add() take a length
    assert as_tuples(packer.finish()) == as_tuples(twin.finish())
    with pytest.raises(ValueError, match="finished"):
        packer.finish()


@pytest.mark.parametrize("strategy", ["nf", "hk"])
def test_a_pickle_keeps_the_pending_packs(interrupt_once, strategy):
    lengths = np.random.default_rng(6).integers(1, 101, 800)
    packer, twin = StreamPacker(100, strategy), StreamPacker(100, strategy)
    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        packer.add_many(lengths[:500])
    loaded = pickle.loads(pickle.dumps(packer))
    assert loaded.sequences_added == 500 and loaded._info().pending_packs
    got = loaded.add_many(lengths[500:]) + loaded.finish()
    assert as_tuples(got) == as_tuples(twin.add_many(lengths[:500]) + twin.add_many(lengths[500:])
                                       + twin.finish())
    # Damaged pending packs are refused.
    good = packer.__getstate__()
    arrays = [np.frombuffer(a, "<i8") for a in good["pending"]]
    for which, at, value in [(0, 0, arrays[0][1]), (0, 0, 10**6), (1, 0, 101), (3, 0, 1),
                             (2, 1, 0)]:
        damaged = [a.copy() for a in arrays]
        damaged[which][at] = value
        pending = tuple(a.tobytes() for a in damaged)
        # With the digest of the damaged bytes, the packs themselves are checked.
        bad = dict(good, pending=pending, pending_digest=seqpacker.stream._digest(pending))
        with pytest.raises(ValueError, match="pending packs are corrupted \\((?!digest)"):
            StreamPacker(1).__setstate__(bad)
    # Every single-bit flip of the pending bytes fails the digest, also one
    # that turns an id into another that is valid but open in the state.
    raw = b"".join(good["pending"])
    for bit in range(0, 8 * len(raw), 7):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        parts, at = [], 0
        for part in good["pending"]:
            parts.append(bytes(flipped[at:at + len(part)]))
            at += len(part)
        with pytest.raises(ValueError, match="pending packs are corrupted \\(digest\\)"):
            StreamPacker(1).__setstate__(dict(good, pending=tuple(parts)))


@pytest.mark.parametrize("part", ["array sizes", "offsets", "lengths", "used", "ids"])
def test_import_checks_the_pending_packs_it_reads(part):
    """Stream._import, called directly (no __setstate__ checks before it),
    refuses damaged pending packs with ValueError, never reading outside
    them, and leaves the stream as it was."""
    source = StreamPacker(10, "nf")
    source.add_many([4, 4, 4, 4])  # ids 0..3 added; the state's next id is 4
    state = np.frombuffer(source._export()[0], np.int64)
    good = [np.array(a, dtype=np.int64) for a in ([0, 1, 2], [4, 4, 4], [0, 2, 3], [8, 4])]
    packer = StreamPacker.__new__(StreamPacker)  # _import sets up a new object only
    packer._import(state, tuple(good), seqpacker.result.Pack)  # accepted
    assert packer._info().pending_packs == 2
    damages = {
        "array sizes": [(2, [0]), (3, [8, 4, 1]), (1, [4, 4]), (2, [])],
        "offsets": [(2, [1, 2, 3]), (2, [0, 0, 3]), (2, [0, 5, 3]), (2, [0, 2, 1000]),
                    (2, [0, -5, 3]), (2, [0, 2, 2**62])],
        "lengths": [(1, [4, 0, 4]), (1, [4, 11, 4]), (1, [-(2**63), 4, 4])],
        "used": [(3, [8, 5]), (3, [8, -1]), (1, [10, 10, 4])],
        "ids": [(0, [0, 1, 4]), (0, [-1, 1, 2]), (0, [0, 1, 2**63 - 1])],
    }[part]
    for which, values in damages:
        damaged = list(good)
        damaged[which] = np.array(values, dtype=np.int64)
        with pytest.raises(ValueError, match=f"^{part}$"):
            packer._import(state, tuple(damaged), seqpacker.result.Pack)
        assert packer._info().pending_packs == 2


def test_version_3_pickles_load():
    """Version 3 is version 4 without pending packs."""
    packer = StreamPacker(100, "hk", k=4)
    packer.add_many([30, 30, 60, 10])
    old = dict(packer.__getstate__(), version=3)
    resumed = StreamPacker.__new__(StreamPacker)
    resumed.__setstate__(old)
    assert as_tuples(resumed.finish()) == as_tuples(packer.finish())
    with pytest.raises(ValueError, match="version 3 or 4"):
        StreamPacker(1).__setstate__(dict(old, version=2))


def test_a_rejected_chunk_keeps_what_another_thread_added_meanwhile(monkeypatch):
    """An add() of another thread while add_many is in progress (here: run
    just before its C call, as its lengths are checked), then a bad length
    in the chunk: C changed nothing for the chunk, and the other add stays
    added (its id is not handed out again)."""
    packer = StreamPacker(10, "nf")
    original = seqpacker.stream.as_lengths
    others = []

    def with_another_add(*args, **kwargs):
        others.append(packer.add(6))
        return original(*args, **kwargs)

    monkeypatch.setattr(seqpacker.stream, "as_lengths", with_another_add)
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0"):
        packer.add_many([3, 0])
    monkeypatch.undo()
    assert packer.sequences_added == 1
    (pack,) = packer.add(5)  # 6 + 5 > 10: id 0's bin comes out
    assert pack.sequence_ids == [0] and packer.add(5)[0].sequence_ids == [1, 2]


def test_a_state_exported_while_other_threads_add_still_pickles():
    """Pickles taken while another thread adds (also in long calls that run
    without the GIL) each load and go on as the stream they copied."""
    packer = StreamPacker(100, "hk", k=4)
    chunk = np.random.default_rng(8).integers(1, 101, 1 << 15)
    stop = threading.Event()

    def adding():
        while not stop.is_set():
            packer.add_many(chunk)

    thread = threading.Thread(target=adding)
    thread.start()
    try:
        pickles = [pickle.dumps(packer) for _ in range(50)]
    finally:
        stop.set()
        thread.join()
    for data in pickles:
        loaded = pickle.loads(data)
        ids = [i for p in loaded.add_many([40, 30, 5, 6]) + loaded.finish()
               for i in p.sequence_ids]
        assert len(set(ids)) == len(ids) and max(ids) == loaded.sequences_added - 1


def test_calls_do_not_export_the_state(monkeypatch):
    """add_many costs O(its input): no export of the open bins per call."""
    def export_state(self):
        raise AssertionError("export_state called")

    monkeypatch.setattr(StreamPacker, "_export", export_state)
    packer = StreamPacker(100, "hk")
    packer.add_many([50, 60]), packer.add_many_flat([70, 20]), packer.add(5)
    assert sum(len(p) for p in packer.finish()) > 0


def test_every_call_hands_out_what_c_left_unread():
    """Packs left unread in a C stream's state come out first from
    add_many, add_many_flat and finish as from add (the same C read)."""
    state = {"version": 4, "state": state_with_unread_packs(np.array([6, 6, 6], np.int64))}
    for call in (lambda p: p.add_many([6]), lambda p: p.add_many_flat(np.array([6])),
                 lambda p: p.finish()):
        packer = StreamPacker.__new__(StreamPacker)
        packer.__setstate__(state)
        got = call(packer)
        if isinstance(got, tuple):
            assert flat_ids(*got) == [[0], [1], [2]]
        else:
            assert [(p.sequence_ids, p.used) for p in got][:2] == [([0], 6), ([1], 6)]


def bit_flip_matrix(packer: StreamPacker, continuation) -> dict:
    """Flip every bit of ``pickle.dumps(packer)`` in turn and sort the
    results: ``rejected`` (loading raises), ``equal`` (it loads and packs
    the continuation exactly as the original does) or ``different``."""
    import pickle

    def outcome(stream):
        return as_tuples(stream.add_many(continuation)) + as_tuples(stream.finish())

    data = pickle.dumps(packer)
    expected = outcome(pickle.loads(data))
    counts = {"bits": 8 * len(data), "rejected": 0, "equal": 0, "different": 0}
    for bit in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            loaded = pickle.loads(bytes(flipped))
            got = outcome(loaded)
        except Exception:
            counts["rejected"] += 1
            continue
        counts["equal" if got == expected else "different"] += 1
    return counts


@pytest.mark.parametrize("strategy, lengths", [("nf", [60, 30, 50]), ("hk", [40, 30, 5, 6, 90])])
def test_every_bit_flip_of_a_pickle_is_rejected_or_harmless(strategy, lengths):
    packer = StreamPacker(100, strategy, k=4)
    packer.add_many(lengths)
    counts = bit_flip_matrix(packer, [70, 20, 20, 45])
    assert counts["different"] == 0, counts
    assert counts["rejected"] + counts["equal"] == counts["bits"]


# ---- fork -------------------------------------------------------------------------------


def _wait_child(pid: int, seconds: float = 20.0) -> int:
    """The exit code of a forked child; a child still running after
    ``seconds`` has hung: it is killed and the test fails."""
    import os
    import signal
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads running
def test_streams_survive_fork_while_another_thread_uses_them():
    """Fork while another thread is inside stream calls on the same packer:
    the child's copy is whole and free (no hang, no damage), every time."""
    import os

    packer = StreamPacker(100, "hk", k=6)
    stop = threading.Event()
    rng = np.random.default_rng(9)
    batch = rng.integers(1, 101, 20000)

    def busy():
        while not stop.is_set():
            packer.add_many(batch)
            packer.add(7)

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(20):
            pid = os.fork()
            if pid == 0:  # the child: use the copy, report through the exit code
                code = 1
                try:
                    added = packer.sequences_added
                    packs = packer.add_many([50, 50, 3]) + packer.finish()
                    ids = sorted(i for p in packs for i in p.sequence_ids)
                    code = 0 if ids[-1] == added + 2 and len(set(ids)) == len(ids) else 2
                finally:
                    os._exit(code)
            assert _wait_child(pid) == 0
    finally:
        stop.set()
        worker.join()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_parallel_packing_works_in_a_forked_child():
    import os

    lengths = np.random.default_rng(2).integers(1, 2049, 600_000)
    expected = Packer(2048, "obfdp", threads=2).pack_flat(lengths)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            got = Packer(2048, "obfdp", threads=2).pack_flat(lengths)
            code = 0 if all(np.array_equal(a, b) for a, b in zip(got, expected)) else 2
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0


def test_a_length_outside_int64_is_a_value_error_while_packs_are_pending(interrupt_once):
    """A length that never fits int64 is named as one while packs are
    pending, and takes no id; the pending packs still come out next."""
    packer = StreamPacker(100, "nf")
    interrupt_once()
    with pytest.raises(KeyboardInterrupt):
        packer.add_many([60, 60, 60])
    assert packer._info().pending_packs
    for huge in (2**70, -(2**70)):
        with pytest.raises(ValueError, match="is not a valid length|exceeds capacity"):
            packer.add(huge)
    assert [p.sequence_ids for p in packer.add(60)] == [[0], [1], [2]]


def test_a_length_changed_during_the_call_says_what_was_added():
    """A bad length that C finds after taking a prefix (another thread
    wrote the array while the C call ran without the GIL): the error says
    how many stay added (StreamError(status, index, taken))."""
    status = _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY
    lengths = np.array([10, 20, 30, 400, 50])
    worded = seqpacker.stream._batch_error(_ext.StreamError(status, 3, 3), lengths, 100)
    assert isinstance(worded, ValueError)
    assert str(worded) == (
        "lengths[3] = 400 exceeds capacity 100 (another thread changed the array during the "
        "call): the first 3 of the chunk's 5 lengths stay added (their packs come out first "
        "from the next call), and the rest, lengths[3:], was not")
    # Found by the check before anything was taken: none added, as before.
    worded = seqpacker.stream._batch_error(_ext.StreamError(status, 3, 0), lengths, 100)
    assert str(worded) == "lengths[3] = 400 exceeds capacity 100"


@pytest.fixture
def fail_allocations():
    """``_ext._fail_after(countdown, period)``: the countdown-th next
    allocation of packs (a chunk, or a result built of them) raises
    MemoryError; off again after the test."""
    yield _ext._fail_after
    _ext._fail_after(0)


def all_ids(packs) -> list:
    return sorted(i for p in packs for i in p.sequence_ids)


@pytest.mark.parametrize("call", ["add_many", "add_many_flat", "finish"])
def test_a_signal_handler_that_checkpoints_during_the_check_sees_the_packs(
        interrupt_once, call):
    """A handler that runs at the signal check after the C call (a SIGTERM
    handler that pickles the packer and exits) finds the call's packs still
    pending: the ids handed out and those in its pickle cover every id."""
    lengths = np.random.default_rng(8).integers(1, 101, 600)
    packer = StreamPacker(100, "hk")
    out = all_ids(packer.add_many(lengths[:300]))
    saved = []

    def handler():
        saved.append(pickle.dumps(packer))
        raise SystemExit(1)

    if call == "finish":
        out += all_ids(packer.add_many(lengths[300:]))
    _ext._interrupt_after(1, 0, handler)
    with pytest.raises(SystemExit):
        packer.finish() if call == "finish" else getattr(packer, call)(lengths[300:])
    resumed = pickle.loads(saved[0])
    assert resumed._info().pending_packs
    assert sorted(out + all_ids(resumed.finish())) == list(range(600))
    # The packer itself kept them too, as after any interrupt.
    assert sorted(out + all_ids(packer.finish())) == list(range(600))


def test_a_failed_join_keeps_every_pending_pack_in_order(interrupt_once, fail_allocations):
    """Packs pending from two interrupted calls, then an add_many_flat whose
    joining of them with its own fails: all three calls' packs stay pending,
    in the order of the calls, also through a pickle."""
    rng = np.random.default_rng(9)
    chunks = [rng.integers(1, 101, n) for n in (300, 200, 250)]
    packer, twin = StreamPacker(100, "nf"), StreamPacker(100, "nf")
    expected = []
    for chunk in chunks[:2]:
        interrupt_once()
        with pytest.raises(KeyboardInterrupt):
            packer.add_many(chunk)
        expected += twin.add_many(chunk)
    fail_allocations(2)  # the chunk for C, then the joined arrays
    with pytest.raises(MemoryError):
        packer.add_many_flat(chunks[2])
    expected += twin.add_many(chunks[2]) + twin.finish()
    assert packer.sequences_added == 750
    resumed = pickle.loads(pickle.dumps(packer))
    assert as_tuples(resumed.finish()) == as_tuples(expected)
    assert as_tuples(packer.finish()) == as_tuples(expected)


def test_add_keeps_its_packs_when_building_them_fails_without_allocating(fail_allocations):
    """add() reads its few packs into a chunk allocated before: when their
    Pack objects cannot be built (and every allocation fails), they stay
    pending and come out of the next call, with no MemoryError of its own
    in place of the first."""
    packer = StreamPacker(10, "nf")
    assert packer.add(6) == [] and all_ids(packer.add(5)) == [0]
    fail_allocations(1, 1)  # every allocation of packs from here on
    with pytest.raises(MemoryError):
        packer.add(5)  # exactly full: closes [1, 2]
    assert packer._info().pending_packs == 1
    with pytest.raises(MemoryError):
        packer.add(3)  # packs pending: the general path, whose chunk fails
    fail_allocations(0)
    assert [p.sequence_ids for p in packer.add(10)] == [[1, 2], [3], [4]]


def test_init_and_setstate_refuse_a_packer_that_has_a_stream():
    """A second __init__ or __setstate__ would drop the open bins and the
    pending packs (and undo other threads' adds): only a new object (as
    pickle and copy make) is set up."""
    packer = StreamPacker(10, "nf")
    packer.add(6)
    with pytest.raises(RuntimeError, match="has a stream already"):
        packer.__init__(20)
    with pytest.raises(RuntimeError, match="has a stream already"):
        packer.__setstate__(StreamPacker(5).__getstate__())
    assert packer.capacity == 10 and packer.sequences_added == 1
    for twin in (copy.copy(packer), copy.deepcopy(packer), pickle.loads(pickle.dumps(packer))):
        assert all_ids(twin.add(5)) == [0]
    assert all_ids(packer.add(5)) == [0]


def test_an_interrupt_inside_the_fork_handler_leaves_no_stream_held():
    """An interrupt that lands right after a stream is held before a fork:
    the stream is listed already, so the handler after the fork lets it go
    (and lets go of no stream it did not hold)."""

    class Interrupted(StreamPacker):
        __slots__ = ()

        def _fork_hold(self):
            super()._fork_hold()
            raise KeyboardInterrupt

    packer = Interrupted(10, "nf")
    packer._fork_release()  # not held: nothing to let go
    try:
        with pytest.raises(KeyboardInterrupt):
            seqpacker.stream._before_fork()
        assert packer in seqpacker.stream._HELD_AT_FORK
    finally:
        seqpacker.stream._after_fork()
    assert packer.add(6) == [] and all_ids(packer.add(5)) == [0]


def test_running_out_of_memory_partway_says_what_was_added():
    """The wording of C's out-of-memory status after the first 3 lengths of
    a chunk of 5 (StreamError(status, lengths taken) from ``_add_many``)."""
    error = _ext.StreamError(_native.lib.SP_ERR_OUT_OF_MEMORY, 3)
    worded = seqpacker.stream._batch_error(error, np.arange(10, 60, 10), 100)
    assert isinstance(worded, MemoryError)
    assert str(worded) == (
        "seqpacker: the stream ran out of memory after it took the first 3 of the chunk's 5 "
        "lengths: those stay added (their packs come out first from the next call), and the "
        "rest, lengths[3:], was not")
