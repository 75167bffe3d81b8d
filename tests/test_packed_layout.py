"""The row layout shared by the training helpers (_training.layout.pack_arrays)
against the pure-Python reference, for every layout, label convention and
slot multiple, on random sequences and random packings. NumPy only."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layout_reference import reference_layout
from seqpacker import pack_sequences
from seqpacker._training.layout import pack_arrays, slot_lengths
from seqpacker._training.tokens import FlatTokens, Pieces, as_flat_tokens, cut_overlong


def rows(values, arrays):
    """Split flat token arrays into the rows of the layout."""
    starts = arrays.row_starts if arrays.layout == "padded" else [0, arrays.row_starts[-1]]
    return [values[a:b].tolist() for a, b in zip(starts, starts[1:])] if len(starts) > 1 else []


@st.composite
def packings(draw):
    sequences = draw(st.lists(st.lists(st.integers(0, 999), min_size=1, max_size=9),
                              min_size=1, max_size=12))
    with_labels = draw(st.booleans())
    labels = [[draw(st.sampled_from([-100, t])) for t in s] for s in sequences] \
        if with_labels else None
    multiple = draw(st.sampled_from([1, 1, 2, 4]))
    capacity = multiple * draw(st.integers(3, 6))
    strategy = draw(st.sampled_from(["obfd", "nf", "ffs"]))
    return sequences, labels, multiple, capacity, strategy


@given(packings(), st.sampled_from(["padded", "flat"]), st.sampled_from(["hf", "shifted"]))
def test_layout_matches_reference(packing, layout, convention):
    sequences, labels, multiple, capacity, strategy = packing
    rows_in = [{"input_ids": s, "labels": x} for s, x in zip(sequences, labels)] \
        if labels else sequences
    flat = as_flat_tokens(rows_in)
    pieces = cut_overlong(flat.lengths, capacity, "split")
    # Reference sequences: the pieces themselves.
    piece_tokens = [sequences[o][k:k + n] for o, k, n in
                    zip(pieces.origin.tolist(), pieces.skip.tolist(), pieces.length.tolist())]
    piece_labels = None if labels is None else [
        labels[o][k:k + n] for o, k, n in
        zip(pieces.origin.tolist(), pieces.skip.tolist(), pieces.length.tolist())]
    result = pack_sequences(slot_lengths(pieces.length, multiple), capacity, strategy)
    arrays = pack_arrays(flat, pieces, result.items, result.offsets, capacity, layout=layout,
                         label_convention=convention, padding_value=7, multiple=multiple)
    want = reference_layout(piece_tokens, piece_labels, result.bins, capacity, layout=layout,
                            convention=convention, pad=7, multiple=multiple)
    assert rows(arrays.input_ids, arrays) == want["input_ids"]
    assert rows(arrays.labels, arrays) == want["labels"]
    assert rows(arrays.position_ids, arrays) == want["position_ids"]
    assert rows(arrays.seq_idx(), arrays) == want["seq_idx"]
    assert arrays.cu_seqlens.tolist() == want["cu_seqlens"]
    assert arrays.seq_lengths.tolist() == [len(piece_tokens[i]) for i in result.items]
    assert arrays.max_seqlen == max(np.diff(want["cu_seqlens"]), default=0)


def test_hand_checked_padded_rows():
    # Bins [[2, 1], [0, 3]] of lengths 3, 2, 4, 1 at capacity 6.
    flat = as_flat_tokens([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]])
    result = pack_sequences([3, 2, 4, 1], capacity=6)
    assert result.bins == [[2, 1], [0, 3]]
    a = pack_arrays(flat, Pieces.whole(flat.lengths), result.items, result.offsets, 6)
    assert a.input_ids.tolist() == [6, 7, 8, 9, 4, 5, 1, 2, 3, 10, 0, 0]
    assert a.labels.tolist() == [-100, 7, 8, 9, -100, 5, -100, 2, 3, -100, -100, -100]
    assert a.position_ids.tolist() == [0, 1, 2, 3, 0, 1, 0, 1, 2, 0, 0, 1]
    assert a.cu_seqlens.tolist() == [0, 4, 6, 9, 10, 12]
    assert a.seq_idx().tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 3, -1, -1]
    s = pack_arrays(flat, Pieces.whole(flat.lengths), result.items, result.offsets, 6,
                    label_convention="shifted")
    assert s.labels.tolist() == [7, 8, 9, -100, 5, -100, 2, 3, -100, -100, -100, -100]


def test_a_packing_that_does_not_fit_is_refused():
    flat = as_flat_tokens([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="bin 0 holds 6 tokens \\(more than the capacity 4\\)"):
        pack_arrays(flat, Pieces.whole(flat.lengths), np.array([0, 1]), np.array([0, 2]), 4)
    with pytest.raises(ValueError, match="holds 8 tokens \\(rounded up to multiples of 4, more "
                                         "than the capacity 7\\)"):
        pack_arrays(flat, Pieces.whole(flat.lengths), np.array([0, 1]), np.array([0, 2]), 7,
                    multiple=4)


def test_padding_values_must_fit_the_tokens():
    flat = FlatTokens(np.array([1, 2], np.int8), np.array([0, 2]))
    with pytest.raises(ValueError, match="padding_value = 300 does not fit the tokens' dtype "
                                         "int8 \\(-128 to 127\\)"):
        pack_arrays(flat, Pieces.whole(flat.lengths), np.array([0]), np.array([0, 1]), 4,
                    padding_value=300)
    a = pack_arrays(flat, Pieces.whole(flat.lengths), np.array([0]), np.array([0, 1]), 4)
    assert a.labels.dtype == np.int8 and a.labels.tolist() == [-100, 2, -100, -100]
