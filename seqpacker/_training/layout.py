"""The token-level arrays of packed rows, built with NumPy (no per-token Python).

Both training helpers (``torch_utils`` and ``hf_utils``) lay packed
sequences out here, so each rule below is written once:

- **Segments.** The output is a run of segments, each a contiguous stretch
  of token slots: one per packed sequence (its tokens, then, with
  ``pad_to_multiple_of``, padding up to the multiple) and, in the padded
  layout, one per row for the padding at its end. ``cu_seqlens`` holds the
  segment boundaries over the whole output, so it indexes the flattened
  token arrays directly, as FlashAttention's varlen functions expect.
- **Positions** restart at 0 at every segment and count up through it
  (row padding too, so that positions and ``cu_seqlens`` always agree).
- **Labels.** ``"hf"``: the label of a token is the token itself (or the
  given label), and the first token of every sequence is ignored, because
  Hugging Face models shift labels themselves; the last token of one
  sequence then never learns to predict the first of the next. ``"shifted"``:
  the label of a token is the next token of its sequence, and the last
  token of every sequence is ignored. Padding is always ignored.
- **Layouts.** ``"padded"``: one row per bin, each ``capacity`` long.
  ``"flat"``: the bins one after another with no padding between them.
"""

from __future__ import annotations

import numpy as np

from .._core import native as _native
from .._core.validation import INT64_MAX, INT64_MIN, _check_int
from ..result import bin_sums
from .tokens import Pieces

LAYOUTS = ("padded", "flat")
LABEL_CONVENTIONS = ("hf", "shifted")
INT32_MAX = 2**31 - 1


def check_choice(name: str, value, choices: tuple) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


def check_fill_value(name: str, value) -> int:
    """A value that fills token slots (``padding_value``, ``label_padding_value``):
    an int (or NumPy integer) that fits int64. A float or bool would be
    written as an int (1.5 and True as the token id 1), so they are refused,
    not converted."""
    value = _check_int(name, value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} = {value} does not fit int64")
    return value


def check_multiple(pad_to_multiple_of) -> int:
    if pad_to_multiple_of is None:
        return 1
    if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int) \
            or pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be an int >= 1 or None, "
                         f"not {pad_to_multiple_of!r}")
    return pad_to_multiple_of


def slot_lengths(lengths: np.ndarray, multiple: int) -> np.ndarray:
    """The slots that sequences of ``lengths`` take, each rounded up to ``multiple``."""
    return lengths if multiple == 1 else -(-lengths // multiple) * multiple


class PackedArrays:
    """The packed rows of some bins as flat token arrays plus segment facts.

    Token arrays (1-D, every row one after another): ``input_ids``,
    ``labels``, ``position_ids``. Per segment: ``cu_seqlens`` (``num_segments
    + 1`` boundaries, int64) and ``segment_sequence`` (the sequence number of
    the segment in packing order, or -1 for row padding). Per sequence, in
    packing order: ``seq_lengths`` (tokens, without slot padding) and
    ``seq_bin``. ``row_starts`` holds the ``num_bins + 1`` token offsets of
    the bins' rows.
    """

    __slots__ = ("input_ids", "labels", "position_ids", "cu_seqlens", "segment_sequence",
                 "seq_lengths", "seq_bin", "row_starts", "layout", "capacity")

    @property
    def num_sequences(self) -> int:
        return self.seq_lengths.size

    @property
    def max_seqlen(self) -> int:
        return int(np.diff(self.cu_seqlens).max()) if self.cu_seqlens.size > 1 else 0

    def segment_ids(self) -> np.ndarray:
        """The segment number of every token (int64)."""
        return np.repeat(np.arange(self.cu_seqlens.size - 1, dtype=np.int64),
                         np.diff(self.cu_seqlens))

    def seq_idx(self) -> np.ndarray:
        """The sequence number of every token in packing order, -1 for row padding (int32)."""
        return np.repeat(self.segment_sequence.astype(np.int32), np.diff(self.cu_seqlens))


def pack_arrays(
    source,
    pieces: Pieces,
    order: np.ndarray,
    bin_offsets: np.ndarray,
    capacity: int,
    *,
    layout: str = "padded",
    label_convention: str = "hf",
    padding_value: int = 0,
    label_padding_value: int = -100,
    multiple: int = 1,
    position_dtype=np.int64,
    max_slots: int | None = None,
    scratch: Scratch | None = None,
) -> PackedArrays:
    """Lay the ``pieces`` of ``source`` out as packed rows.

    ``source`` holds the sequences: ``FlatTokens``, or any object with its
    run-source methods (``has_labels``, ``dtype(column)``, ``copy_runs``).

    ``order`` lists piece numbers bin by bin and ``bin_offsets`` holds the
    ``num_bins + 1`` boundaries of the bins in it (a ``PackResult``'s
    ``items`` and ``offsets``, or a part of them). Each bin's slots must fit
    ``capacity``, and all of them ``max_slots`` when given (checked before
    anything is allocated). With ``scratch``, the token arrays are views of
    its arrays, valid until the next call with the same scratch.
    """
    scratch = scratch or Scratch(reuse=False)
    lengths = pieces.length[order]
    slots = slot_lengths(lengths, multiple)
    num_bins = bin_offsets.size - 1
    counts = np.diff(bin_offsets)
    seq_bin = np.repeat(np.arange(num_bins, dtype=np.int64), counts)
    used = bin_sums(slots, bin_offsets).astype(np.int64, copy=False) if num_bins > 0 \
        else np.zeros(0, dtype=np.int64)  # an empty layout passes no offsets at all
    if used.size and used.max() > capacity:
        b = int(np.argmax(used))
        what = f"rounded up to multiples of {multiple}, " if multiple > 1 else ""
        raise ValueError(f"bin {b} holds {int(used[b])} tokens ({what}more than the capacity "
                         f"{capacity}): the packing does not fit these sequences")

    # Segments in output order: each sequence's slot, and in the padded
    # layout each row's padding after its sequences.
    if layout == "flat":
        segment_slots = slots
        segment_sequence = np.arange(lengths.size, dtype=np.int64)
        seq_segment = segment_sequence
        row_starts = np.zeros(num_bins + 1, dtype=np.int64)
        np.cumsum(used, out=row_starts[1:])
    else:
        padding = capacity - used
        has_padding = (padding > 0).astype(np.int64)
        pads_before = np.zeros(num_bins + 1, dtype=np.int64)
        np.cumsum(has_padding, out=pads_before[1:])
        seq_segment = np.arange(lengths.size, dtype=np.int64) + pads_before[seq_bin]
        pad_segment = (bin_offsets[1:] + pads_before[:-1])[padding > 0]
        num_segments = lengths.size + int(pads_before[-1])
        segment_slots = np.empty(num_segments, dtype=np.int64)
        segment_slots[seq_segment] = slots
        segment_slots[pad_segment] = padding[padding > 0]
        segment_sequence = np.full(num_segments, -1, dtype=np.int64)
        segment_sequence[seq_segment] = np.arange(lengths.size, dtype=np.int64)
        row_starts = np.arange(num_bins + 1, dtype=np.int64) * capacity
    cu_seqlens = np.zeros(segment_slots.size + 1, dtype=np.int64)
    np.cumsum(segment_slots, out=cu_seqlens[1:])
    total = int(cu_seqlens[-1])
    if max_slots is not None and total > max_slots:
        raise ValueError(f"the batch would hold {total} token slots, more than {max_slots} "
                         "(cu_seqlens is int32)")

    # Each sequence is one run: from its place in the source to its segment.
    origin, skip = pieces.origin[order], pieces.skip[order]
    dest_starts = cu_seqlens[seq_segment]
    dense = total == int(lengths.sum())  # no padding: every slot gets a token

    out = PackedArrays()
    out.input_ids = scratch.filled("input_ids", total, dense, padding_value,
                                   source.dtype("input_ids"), "padding_value")
    source.copy_runs("input_ids", out.input_ids, origin, skip, dest_starts, lengths)
    # Labels: each sequence's from its second token on, one slot later
    # ("hf") or from its start ("shifted"); the slot left over is ignored.
    # Without labels of their own they are the tokens just laid out, which
    # are read back in order rather than gathered from the source again.
    shift = 1 if label_convention == "hf" else 0
    if source.has_labels:
        out.labels = scratch.filled("labels", total, dense, label_padding_value,
                                    source.dtype("labels"), "label_padding_value")
        source.copy_runs("labels", out.labels, origin, skip + 1, dest_starts + shift,
                         lengths - 1)
    else:
        out.labels = scratch.filled("labels", total, dense, label_padding_value,
                                    out.input_ids.dtype, "label_padding_value")
        _native.copy_runs(out.labels, out.input_ids, dest_starts + 1, dest_starts + shift,
                          lengths - 1)
    if lengths.size:
        boundary = dest_starts if label_convention == "hf" else dest_starts + lengths - 1
        out.labels[boundary] = label_padding_value
    out.position_ids = scratch.filled("position_ids", total, True, 0,
                                      np.dtype(position_dtype), "")
    _native.fill_positions(out.position_ids, segment_slots)
    out.cu_seqlens = cu_seqlens
    out.segment_sequence = segment_sequence
    out.seq_lengths = lengths
    out.seq_bin = seq_bin
    out.row_starts = row_starts
    out.layout = layout
    out.capacity = capacity
    return out


class Scratch:
    """The token arrays of one worker that lays out range after range.

    Fresh arrays of tens of megabytes cost a page fault and a zeroed page
    per 4 KiB on first touch, as much as the copying itself; a worker that
    writes each range out before building the next reuses its arrays
    instead. ``Scratch(reuse=False)`` hands out fresh arrays (a batch whose
    tensors the caller keeps).
    """

    def __init__(self, reuse: bool = True):
        self._reuse = reuse
        self._arrays: dict[str, np.ndarray] = {}

    def filled(self, name: str, total: int, dense: bool, fill: int, dtype: np.dtype,
               fill_name: str) -> np.ndarray:
        """``total`` slots of ``dtype`` holding ``fill``, unless every slot is
        about to be written (``dense``)."""
        if not dense:
            info = np.iinfo(dtype)
            if not info.min <= fill <= info.max:
                raise ValueError(f"{fill_name} = {fill} does not fit the tokens' dtype {dtype} "
                                 f"({info.min} to {info.max})")
        array = self._arrays.get(name)
        if not self._reuse or array is None or array.dtype != dtype or array.size < total:
            array = np.empty(total, dtype)
            if self._reuse:
                self._arrays[name] = array
        view = array[:total]
        if not dense:
            view.fill(fill)
        return view
