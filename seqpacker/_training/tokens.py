"""Token sequences for the training helpers: one flat array plus boundaries.

``FlatTokens`` is the one form that the layout code reads: every token of
every sequence in one integer array, ``offsets`` the ``n + 1`` boundaries
(sequence ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``), and optional
labels beside the tokens. ``as_flat_tokens`` turns the other accepted
inputs into it: a list of token lists, a list of NumPy arrays (or CPU
tensors), or a list of dicts with ``input_ids`` and optional ``labels``,
``attention_mask`` and ``seq_lengths`` (rows of a tokenized or a packed
dataset). No Python loop runs over tokens: a list of
int lists is read in C (``_sequences.c``), arrays are concatenated by
NumPy.

``cut_overlong`` applies the ``on_overlong`` rule and returns the pieces
to pack. This module imports only NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._core import native as _native
from .._core._ext import flatten_int_lists

ON_OVERLONG = ("error", "truncate", "split")


class FlatTokens:
    """Token sequences as one flat array plus boundaries (the fastest input).

    Args:
        tokens: a 1-D integer array of every token, sequence after sequence.
        offsets: a 1-D integer array of ``n + 1`` non-decreasing boundaries,
            from 0 to ``len(tokens)``; sequence ``i`` is
            ``tokens[offsets[i]:offsets[i + 1]]``.
        labels: optional, a 1-D integer array beside ``tokens`` (same length),
            e.g. the tokens with a prompt masked as -100.

    The arrays are used as given (not copied) when they already are
    contiguous signed integer arrays; unsigned ones become int64.
    """

    __slots__ = ("tokens", "offsets", "labels")

    def __init__(self, tokens, offsets, labels=None):
        self.tokens = _integer_array(tokens, "tokens")
        self.offsets = np.ascontiguousarray(_integer_array(offsets, "offsets"), dtype=np.int64)
        self.labels = None if labels is None else _integer_array(labels, "labels")
        offsets = self.offsets
        if offsets.size == 0 or offsets[0] != 0:
            raise ValueError("offsets must start with 0 (it has one boundary more than "
                             "there are sequences)")
        if offsets[-1] != self.tokens.size:
            raise ValueError(f"offsets[-1] = {int(offsets[-1])} must equal len(tokens) = "
                             f"{self.tokens.size}")
        steps = np.diff(offsets)
        if steps.size and steps.min() < 0:
            index = int(np.flatnonzero(steps < 0)[0])
            raise ValueError(f"offsets must not decrease: offsets[{index + 1}] = "
                             f"{int(offsets[index + 1])} < offsets[{index}] = "
                             f"{int(offsets[index])}")
        if self.labels is not None and self.labels.shape != self.tokens.shape:
            raise ValueError(f"labels has {self.labels.size} values, tokens {self.tokens.size}")

    def __len__(self) -> int:
        return self.offsets.size - 1

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per sequence, int64."""
        return np.diff(self.offsets)

    # The run source of the layout code (see _training.layout.pack_arrays).

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    def dtype(self, column: str) -> np.dtype:
        """The dtype of ``"input_ids"`` or ``"labels"``."""
        return (self.tokens if column == "input_ids" else self.labels).dtype

    def copy_runs(self, column: str, dst: np.ndarray, origin: np.ndarray, skip: np.ndarray,
                  dst_start: np.ndarray, count: np.ndarray) -> None:
        """Copy ``count[r]`` values of ``column`` from ``skip[r]`` into sequence
        ``origin[r]`` to ``dst[dst_start[r]:]``, for every run r."""
        values = self.tokens if column == "input_ids" else self.labels
        _native.copy_runs(dst, values, self.offsets[origin] + skip, dst_start, count)

    def __repr__(self) -> str:
        labels = ", with labels" if self.labels is not None else ""
        return f"FlatTokens(sequences={len(self)}, tokens={self.tokens.size}{labels})"


def _integer_array(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise TypeError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind not in "iu" or array.dtype == np.uint64:
        if array.size == 0 and array.dtype.kind == "f":
            return np.empty(0, dtype=np.int64)  # np.asarray([]) is float64
        raise TypeError(f"{name} must hold integers (int8 to int64, uint8 to uint32), "
                        f"got dtype {array.dtype}")
    if array.dtype.kind == "u":  # labels beside them need room for -100
        return array.astype(np.int64)
    return np.ascontiguousarray(array)


def as_flat_tokens(sequences) -> FlatTokens:
    """``sequences`` in any accepted form as ``FlatTokens`` (itself if it is one).

    Every sequence needs at least one token: an empty one raises a
    ValueError naming it (nothing is dropped silently).
    """
    if isinstance(sequences, FlatTokens):
        flat = sequences
    elif isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
        raise TypeError("token sequences must be a list of token lists or arrays, a list of "
                        "dicts with 'input_ids', or FlatTokens, not "
                        f"{type(sequences).__name__}")
    elif len(sequences) and isinstance(sequences[0], Mapping):
        flat = _from_rows(sequences)
    else:
        flat = FlatTokens(*_flatten(sequences, "sequences"))
    lengths = flat.lengths
    if lengths.size and lengths.min() == 0:
        index = int(np.argmin(lengths))
        raise ValueError(f"sequence {index} is empty: every sequence needs at least one token")
    return flat


def _from_rows(rows: Sequence) -> FlatTokens:
    """Dict rows as FlatTokens: ``input_ids`` and optional ``labels``,
    ``attention_mask`` (its zeros mark padding, which is dropped) and
    ``seq_lengths`` (a row that holds several sequences, as ``pack_dataset``
    writes them, is split into them)."""
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping) or "input_ids" not in row:
            raise TypeError(f"sequence {index} must be a dict with 'input_ids' like the "
                            f"others, not {type(row).__name__}")
    tokens, offsets = _flatten([row["input_ids"] for row in rows], "input_ids")
    labels = _column_beside(rows, "labels", offsets)
    mask = _column_beside(rows, "attention_mask", offsets)
    if mask is not None:
        tokens, labels, offsets = _drop_padding(tokens, labels, offsets, mask)
    if _all_or_none(rows, "seq_lengths"):
        offsets = _split_rows(rows, offsets)
    elif _all_or_none(rows, "position_ids"):
        raise ValueError(positions_without_seq_lengths("the rows"))
    return FlatTokens(tokens, offsets, labels)


def positions_without_seq_lengths(rows: str) -> str:
    """The error for packed rows that lost their ``seq_lengths``."""
    return (f"{rows} carry position_ids but no seq_lengths, so the sequences a row may hold "
            "cannot be told apart: give each row's seq_lengths (as pack_dataset writes them; "
            "a transformers Trainer drops that column unless remove_unused_columns=False), or "
            "rows of one sequence without position_ids")


def _all_or_none(rows: Sequence, name: str) -> bool:
    """Whether the rows have ``name``; ValueError if only some do."""
    has = [name in row for row in rows]
    if any(has) and not all(has):
        index = has.index(not has[0])
        raise ValueError(f"sequence {index} {'has' if has[index] else 'lacks'} '{name}' "
                         f"and sequence 0 {'has' if has[0] else 'lacks'} them: give "
                         f"{name} for all sequences or none")
    return bool(has) and has[0]


def _column_beside(rows: Sequence, name: str, offsets: np.ndarray) -> np.ndarray | None:
    """The rows' ``name`` lists as one flat array beside the tokens (the
    same length per row), or None if the rows have none."""
    if not _all_or_none(rows, name):
        return None
    values, value_offsets = _flatten([row[name] for row in rows], name)
    if not np.array_equal(value_offsets, offsets):
        index = int(np.flatnonzero(np.diff(value_offsets) != np.diff(offsets))[0])
        raise ValueError(f"sequence {index} has {int(offsets[index + 1] - offsets[index])} "
                         f"input_ids but {int(value_offsets[index + 1] - value_offsets[index])}"
                         f" {name}")
    return values


def _drop_padding(tokens, labels, offsets, mask):
    """The tokens (and labels) whose ``attention_mask`` is 1, with their new
    offsets: a tokenizer's padding (mask 0) is not part of the sequence."""
    wrong = np.flatnonzero((mask != 0) & (mask != 1))
    if wrong.size:
        t = int(wrong[0])
        row = int(np.searchsorted(offsets, t, side="right")) - 1
        raise ValueError(f"attention_mask of sequence {row} holds {int(mask[t])} at token "
                         f"{t - int(offsets[row])}: a row's mask must be 0 (padding, dropped) "
                         "or 1 (a token of the sequence)")
    keep = mask.astype(bool)
    if keep.all():
        return tokens, labels, offsets
    kept_before = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    # Padding is on the sides: the kept tokens of a row are one run, from
    # its first 1 to its last.
    rows = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))[keep]
    positions = np.flatnonzero(keep)
    kept = np.bincount(rows, minlength=offsets.size - 1)
    first = np.full(offsets.size - 1, keep.size, dtype=np.int64)
    last = np.full(offsets.size - 1, -1, dtype=np.int64)
    np.minimum.at(first, rows, positions)
    np.maximum.at(last, rows, positions)
    gap = np.flatnonzero((kept > 0) & (last - first + 1 != kept))
    if gap.size:
        row = int(gap[0])
        hole = int(first[row] + np.argmin(keep[first[row]:last[row] + 1]))
        raise ValueError(f"attention_mask of sequence {row} holds 0 at token "
                         f"{hole - int(offsets[row])}, between tokens it keeps: padding is only "
                         "at the start or the end of a row")
    return tokens[keep], None if labels is None else labels[keep], kept_before[offsets]


def _split_rows(rows: Sequence, offsets: np.ndarray) -> np.ndarray:
    """The sequence boundaries of rows that each hold the sequences of
    their ``seq_lengths``, one after another, filling the row."""
    lengths, row_offsets = _flatten([row["seq_lengths"] for row in rows], "seq_lengths")
    if lengths.size and lengths.min() < 1:
        s = int(np.argmin(lengths))
        row = int(np.searchsorted(row_offsets, s, side="right")) - 1
        raise ValueError(f"seq_lengths of row {row} holds {int(lengths[s])}: every sequence "
                         "needs at least one token")
    bounds = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    sums = bounds[row_offsets[1:]] - bounds[row_offsets[:-1]]
    wrong = np.flatnonzero(sums != np.diff(offsets))
    if wrong.size:
        row = int(wrong[0])
        raise ValueError(f"row {row} has {int(offsets[row + 1] - offsets[row])} tokens, but "
                         f"its seq_lengths add up to {int(sums[row])}: a row must hold "
                         "exactly its sequences (pack_dataset's layout='flat' rows do; padded "
                         "rows end in padding)")
    return bounds


def _flatten(sequences: Sequence, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens, offsets)`` of a list of token sequences."""
    fast = flatten_int_lists(sequences) if isinstance(sequences, (list, tuple)) else None
    if fast is not None:
        return np.frombuffer(fast[0], dtype=np.int64), np.frombuffer(fast[1], dtype=np.int64)
    parts = []
    for index, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes, Mapping)) or sequence is None:
            raise TypeError(f"{name}[{index}] must be a list or array of token ids, "
                            f"not {type(sequence).__name__}")
        if isinstance(sequence, (list, tuple)):
            bad = next((j for j, v in enumerate(sequence) if not _is_token_id(v)), None)
            if bad is not None:
                raise TypeError(f"{name}[{index}] must hold integer token ids that fit int64: "
                                f"{name}[{index}][{bad}] = {sequence[bad]!r}")
        try:
            array = np.asarray(sequence)
        except (TypeError, ValueError, OverflowError) as error:
            raise TypeError(f"{name}[{index}] is not a sequence of token ids: {error}") from None
        if array.ndim != 1:
            raise TypeError(f"{name}[{index}] must be 1-D, got shape {array.shape}")
        if array.size and (array.dtype.kind not in "iu" or array.dtype == np.uint64):
            raise TypeError(f"{name}[{index}] must hold integer token ids that fit int64, "
                            f"got dtype {array.dtype}")
        parts.append(array.astype(np.int64, copy=False))
    lengths = np.fromiter((part.size for part in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    return tokens, offsets


def _is_token_id(value) -> bool:
    """An int (or NumPy integer) that fits int64; bools are not token ids."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        return False
    return -(2**63) <= int(value) < 2**63


class Pieces:
    """What gets packed: each piece is ``length`` tokens of sequence
    ``origin``, starting ``skip`` tokens into it (int64 arrays)."""

    __slots__ = ("origin", "skip", "length")

    def __init__(self, origin: np.ndarray, skip: np.ndarray, length: np.ndarray):
        self.origin = origin
        self.skip = skip
        self.length = length

    @classmethod
    def whole(cls, lengths: np.ndarray) -> Pieces:
        """One piece per sequence, the whole of it."""
        return cls(np.arange(lengths.size, dtype=np.int64), np.zeros(lengths.size, np.int64),
                   lengths.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return self.length.size


def check_on_overlong(on_overlong) -> str:
    if on_overlong not in ON_OVERLONG:
        raise ValueError(f"on_overlong must be one of {', '.join(map(repr, ON_OVERLONG))}, "
                         f"not {on_overlong!r}")
    return on_overlong


def cut_overlong(lengths: np.ndarray, capacity: int, on_overlong: str) -> Pieces:
    """The pieces to pack from sequences of ``lengths`` under ``on_overlong``.

    ``"error"`` raises a ValueError naming the first sequence longer than
    ``capacity``; ``"truncate"`` keeps the first ``capacity`` tokens of it;
    ``"split"`` cuts it into chunks of ``capacity`` tokens (the last one
    shorter), in order, so that no token is lost.
    """
    check_on_overlong(on_overlong)
    lengths = np.asarray(lengths, dtype=np.int64)
    over = np.flatnonzero(lengths > capacity)
    if over.size == 0:
        return Pieces.whole(lengths)
    if on_overlong == "error":
        index = int(over[0])
        raise ValueError(f"sequence {index} has {int(lengths[index])} tokens, more than the "
                         f"capacity {capacity}: pass on_overlong='truncate' or 'split'")
    if on_overlong == "truncate":
        return Pieces.whole(np.minimum(lengths, capacity))
    counts = -(-lengths // capacity)  # ceil: chunks per sequence
    origin = np.repeat(np.arange(lengths.size, dtype=np.int64), counts)
    first = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    chunk = np.arange(origin.size, dtype=np.int64) - first[origin]  # 0, 1, ... per sequence
    skip = chunk * capacity
    return Pieces(origin, skip, np.minimum(lengths[origin] - skip, capacity))
