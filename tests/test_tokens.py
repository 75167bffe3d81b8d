"""Token inputs of the training helpers (seqpacker._training.tokens): every accepted
form gives the same FlatTokens, every bad input a clear error, and the
three overlong rules cut exactly as documented. NumPy only."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqpacker._core._ext import flatten_int_lists
from seqpacker._training.tokens import FlatTokens, Pieces, as_flat_tokens, cut_overlong

SEQS = [[5, 6, 7], [8], [9, 10]]


def flat_of(seqs):
    tokens = [t for s in seqs for t in s]
    offsets = np.cumsum([0] + [len(s) for s in seqs])
    return tokens, offsets.tolist()


@pytest.mark.parametrize("form", [
    lambda s: s,
    lambda s: tuple(tuple(x) for x in s),
    lambda s: [np.array(x, dtype=np.int32) for x in s],
    lambda s: [np.array(x, dtype=np.uint16) for x in s],
    lambda s: [{"input_ids": x} for x in s],
    lambda s: FlatTokens(*flat_of(s)),
], ids=["lists", "tuples", "int32 arrays", "uint16 arrays", "dicts", "FlatTokens"])
def test_every_form_gives_the_same_tokens(form):
    flat = as_flat_tokens(form(SEQS))
    assert flat.tokens.tolist() == [5, 6, 7, 8, 9, 10]
    assert flat.offsets.tolist() == [0, 3, 4, 6]
    assert flat.lengths.tolist() == [3, 1, 2]
    assert flat.labels is None and not flat.has_labels
    assert flat.tokens.dtype.kind == "i"  # unsigned ones become int64
    assert len(flat) == 3


def test_dict_rows_carry_labels():
    rows = [{"input_ids": [1, 2], "labels": [-100, 2]}, {"input_ids": [3], "labels": [3]}]
    flat = as_flat_tokens(rows)
    assert flat.labels.tolist() == [-100, 2, 3]
    assert repr(flat) == "FlatTokens(sequences=2, tokens=3, with labels)"


@given(st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=6), max_size=8))
def test_c_flattener_matches_numpy(seqs):
    values, offsets = flatten_int_lists(seqs)
    assert np.frombuffer(values, np.int64).tolist() == [t for s in seqs for t in s]
    bounds = np.cumsum([0] + [len(s) for s in seqs])
    assert np.frombuffer(offsets, np.int64).tolist() == bounds.tolist()


@pytest.mark.parametrize("seqs", [[[1, 2**63]], [[1, 2.0]], [[1], "ab"], [np.array([1])], "ab",
                                  [[1, None]], [[True]], [[-(2**63) - 1]]])
def test_c_flattener_leaves_unusual_input_to_python(seqs):
    assert flatten_int_lists(seqs) is None


@pytest.mark.parametrize("sequences, error, message", [
    ([[1, 2], []], ValueError, "sequence 1 is empty"),
    ([[1, 2], [3, 2**63]], TypeError, r"sequences\[1\] must hold integer token ids that fit "
                                      r"int64: sequences\[1\]\[1\] = 9223372036854775808"),
    ([[1, 2], [3, 2.5]], TypeError, r"sequences\[1\]\[1\] = 2.5"),
    ([[1, 2], [True, 3]], TypeError, r"sequences\[1\]\[0\] = True"),
    ([[1, 2], np.array([1.5])], TypeError, r"sequences\[1\] .* got dtype float64"),
    ([[1, 2], np.array([True])], TypeError, r"sequences\[1\] .* got dtype bool"),
    ([[1], "abc"], TypeError, r"sequences\[1\] must be a list or array of token ids, not str"),
    ([[1], [[1, 2]]], TypeError, r"sequences\[1\]\[0\] = \[1, 2\]"),
    ([[1], np.ones((1, 2), int)], TypeError, r"sequences\[1\] must be 1-D, got shape \(1, 2\)"),
    ("abc", TypeError, "not str"),
    (7, TypeError, "not int"),
    ([{"input_ids": [1]}, [2]], TypeError, "sequence 1 must be a dict with 'input_ids'"),
    ([{"input_ids": [1]}, {"labels": [2]}], TypeError, "sequence 1 must be a dict"),
    ([{"input_ids": [1], "labels": [1]}, {"input_ids": [2]}], ValueError,
     "sequence 1 lacks 'labels' and sequence 0 has them"),
    ([{"input_ids": [1, 2], "labels": [1]}], ValueError, "sequence 0 has 2 input_ids but 1 labels"),
])
def test_bad_token_inputs_name_the_culprit(sequences, error, message):
    with pytest.raises(error, match=message):
        as_flat_tokens(sequences)


@pytest.mark.parametrize("args, error, message", [
    (([1, 2], [0, 1]), ValueError, r"offsets\[-1\] = 1 must equal len\(tokens\) = 2"),
    (([1, 2], [1, 2]), ValueError, "offsets must start with 0"),
    (([1, 2], []), ValueError, "offsets must start with 0"),
    (([1, 2], [0, 2, 1, 2]), ValueError, r"offsets\[2\] = 1 < offsets\[1\] = 2"),
    (([1.0, 2.0], [0, 2]), TypeError, "tokens must hold integers"),
    (([[1, 2]], [0, 2]), TypeError, "tokens must be 1-D"),
    (([1, 2], [0, 2], [1]), ValueError, "labels has 1 values, tokens 2"),
    ((np.array([1], np.uint64), [0, 1]), TypeError, "got dtype uint64"),
])
def test_flat_tokens_checks_its_arrays(args, error, message):
    with pytest.raises(error, match=message):
        FlatTokens(*args)


def test_flat_tokens_uses_signed_arrays_as_given():
    tokens = np.arange(4, dtype=np.int32)
    flat = FlatTokens(tokens, np.array([0, 4]))
    assert flat.tokens is tokens


def pieces_of(p: Pieces):
    return list(zip(p.origin.tolist(), p.skip.tolist(), p.length.tolist()))


def test_overlong_rules():
    lengths = np.array([3, 10, 4, 9])
    with pytest.raises(ValueError, match="sequence 1 has 10 tokens, more than the capacity 4: "
                                         "pass on_overlong='truncate' or 'split'"):
        cut_overlong(lengths, 4, "error")
    assert pieces_of(cut_overlong(lengths, 4, "truncate")) == [
        (0, 0, 3), (1, 0, 4), (2, 0, 4), (3, 0, 4)]
    assert pieces_of(cut_overlong(lengths, 4, "split")) == [
        (0, 0, 3), (1, 0, 4), (1, 4, 4), (1, 8, 2), (2, 0, 4), (3, 0, 4), (3, 4, 4), (3, 8, 1)]
    assert pieces_of(cut_overlong(np.array([2, 1]), 4, "error")) == [(0, 0, 2), (1, 0, 1)]
    with pytest.raises(ValueError, match="on_overlong must be one of 'error', 'truncate', "
                                         "'split', not 'drop'"):
        cut_overlong(lengths, 4, "drop")


@given(st.lists(st.integers(1, 50), max_size=30), st.integers(1, 20))
def test_split_keeps_every_token_once(lengths, capacity):
    pieces = cut_overlong(np.array(lengths, dtype=np.int64), capacity, "split")
    assert (pieces.length >= 1).all() and (pieces.length <= capacity).all()
    covered = sorted((o, s + k) for o, s, n in pieces_of(pieces) for k in range(n))
    assert covered == [(i, t) for i, n in enumerate(lengths) for t in range(n)]


def test_layout_calls_check_their_run_arrays():
    from seqpacker._core import native as _native
    dst, src = np.zeros(10, np.int64), np.arange(10, dtype=np.int64)
    one, two = np.zeros(1, np.int64), np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="the run arrays differ in length: src_start=2, "
                                         "dst_start=1, length=2"):
        _native.copy_runs(dst, src, two, one, np.array([5, 5]))
    with pytest.raises(TypeError, match="dst_start must be a 1-D contiguous int64 array"):
        _native.copy_runs(dst, src, two, two.astype(np.int32), two)
    with pytest.raises(TypeError, match="dst is int64, src int32"):
        _native.copy_runs(dst, src.astype(np.int32), two, two, two)
    with pytest.raises(ValueError, match="run 1 lies outside its buffer"):
        _native.copy_runs(dst, src, np.array([0, 8]), two, np.array([1, 3]))
    with pytest.raises(TypeError, match="lengths must be a 1-D contiguous int64 array"):
        _native.fill_positions(np.zeros(4, np.int64), np.array([2, 2, 2, 2])[::2])
    with pytest.raises(ValueError, match="segment 1 lies outside its buffer"):
        _native.fill_positions(np.zeros(4, np.int64), np.array([2, 3]))
