"""Checks that a packed batch trains as its sequences would alone (NumPy).

``check_batch`` raises a ValueError naming the first offending position
for each mistake that makes packed training differ from unpacked
training: segment boundaries that disagree with the positions, labels
shifted twice (or not at all), labels that cross a sequence boundary, an
attention mask that lets sequences see each other, and rows or
sequences longer than the capacity. ``torch_utils.validate_batch`` is
its public face.
"""

from __future__ import annotations

import numpy as np


def check_batch(fields: dict, *, label_convention: str, capacity: int | None,
                ignore: int) -> None:
    """Raise ValueError for the first mistake in ``fields`` (NumPy arrays:
    ``input_ids``, ``labels``, ``position_ids`` and optionally
    ``cu_seqlens``, ``max_seqlen``, ``seq_idx``, ``seq_lengths`` (real tokens
    per sequence, to find slot padding) and ``attention_mask``)."""
    input_ids, labels, positions = (fields[name] for name in ("input_ids", "labels",
                                                              "position_ids"))
    for name, value in (("input_ids", input_ids), ("labels", labels),
                        ("position_ids", positions)):
        if value is None:
            raise ValueError(f"the batch has no {name}")
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name} must be a tensor, not {type(value).__name__}")
        if value.ndim != 2:
            raise ValueError(f"{name} must be 2-D (rows, tokens), got shape "
                             f"{tuple(value.shape)}: a single row is {name}[None]")
        if value.shape != input_ids.shape:
            raise ValueError(f"{name} must have the shape of input_ids "
                             f"{tuple(input_ids.shape)}, got {tuple(value.shape)}")
    rows, row_length = input_ids.shape
    cu = _check_cu_seqlens(fields.get("cu_seqlens"), positions)
    segment_lengths = np.diff(cu)
    _check_rows(cu, rows, row_length)
    if capacity is not None:
        if rows > 1 and row_length > capacity:
            raise ValueError(f"rows hold {row_length} tokens, more than the capacity {capacity}")
        if segment_lengths.size and segment_lengths.max() > capacity:
            s = int(np.argmax(segment_lengths))
            raise ValueError(f"segment {s} holds {int(segment_lengths[s])} tokens, more than "
                             f"the capacity {capacity}")
    max_seqlen = fields.get("max_seqlen")
    longest = int(segment_lengths.max()) if segment_lengths.size else 0
    if max_seqlen is not None and int(max_seqlen) < longest:
        raise ValueError(f"max_seqlen = {int(max_seqlen)} is less than the longest segment "
                         f"({longest} tokens)")
    segments = np.repeat(np.arange(segment_lengths.size), segment_lengths)
    seq_idx = fields.get("seq_idx")
    if seq_idx is not None:
        seq_idx = seq_idx.reshape(-1)
        _check_seq_idx(seq_idx, cu, row_length)
    if fields.get("seq_lengths") is not None:
        _check_seq_lengths(np.asarray(fields["seq_lengths"]), seq_idx, cu)
    if seq_idx is not None:
        _check_padding_labels(labels.reshape(-1), seq_idx, cu, fields.get("seq_lengths"),
                              row_length, ignore)
    _check_labels(input_ids.reshape(-1), labels.reshape(-1), cu, segments, row_length,
                  label_convention, ignore)
    if fields.get("attention_mask") is not None:
        _check_mask(fields["attention_mask"], segments.reshape(rows, row_length), cu, row_length)


def _where(flat_index: int, row_length: int) -> str:
    return f"[{flat_index // row_length}, {flat_index % row_length}]" if row_length else "[0, 0]"


def _check_cu_seqlens(cu, positions: np.ndarray) -> np.ndarray:
    """The segment boundaries, checked against the positions.

    Without ``cu_seqlens`` they come from the positions (a new segment
    wherever a position is not its predecessor + 1), as transformers finds
    packed sequences. Trailing repeats of the last boundary (static-shape
    padding) are dropped.
    """
    flat_positions = positions.reshape(-1).astype(np.int64)
    total = flat_positions.size
    if cu is None:
        starts = np.flatnonzero(np.diff(flat_positions, prepend=-2) != 1)
        return np.append(starts, total).astype(np.int64)
    cu = np.asarray(cu)
    if cu.ndim != 1 or cu.size == 0 or cu[0] != 0:
        raise ValueError("cu_seqlens must be 1-D and start at 0")
    if cu.dtype != np.int32:
        raise ValueError(f"cu_seqlens must be int32 (FlashAttention's dtype), got {cu.dtype}")
    cu = cu.astype(np.int64)
    steps = np.diff(cu)
    if steps.size and steps.min() < 0:
        raise ValueError(f"cu_seqlens decreases at index {int(np.argmin(steps)) + 1}")
    end = int(np.searchsorted(cu, cu[-1])) + 1  # drop the static-shape repeats
    cu = cu[:end]
    if cu[-1] != total:
        raise ValueError(f"cu_seqlens ends at {int(cu[-1])}, but the batch holds {total} tokens")
    lengths = np.diff(cu)
    expected = np.arange(total, dtype=np.int64) - np.repeat(cu[:-1], lengths)
    wrong = np.flatnonzero(flat_positions != expected)
    if wrong.size:
        t = int(wrong[0])
        raise ValueError(f"position_ids disagree with cu_seqlens at token {t}: "
                         f"{int(flat_positions[t])}, where the segments give {int(expected[t])}")
    return cu


def _check_rows(cu: np.ndarray, rows: int, row_length: int) -> None:
    """No segment may run from one row into the next."""
    row_starts = np.arange(rows, dtype=np.int64) * row_length
    missing = np.setdiff1d(row_starts, cu)
    if missing.size:
        raise ValueError(f"a segment crosses into row {int(missing[0]) // row_length}: "
                         "every row must start a segment")


def _check_labels(tokens, labels, cu, segments, row_length, convention, ignore) -> None:
    if not cu.size > 1:
        return
    total = tokens.size
    active = labels != ignore
    if convention == "hf":
        first, _lengths = _nonempty(cu)
        leaked = first[active[first]]
        if leaked.size:
            t = int(leaked[0])
            raise ValueError(f"labels{_where(t, row_length)} = {int(labels[t])} at the first "
                             "token of a sequence: a model that shifts labels would train the "
                             "previous sequence's last token to predict it (use "
                             f"{ignore} there)")
        wrong = np.flatnonzero(active & (labels != tokens))
        if wrong.size:
            t = int(wrong[0])
            nxt = t + 1
            if nxt < total and segments[nxt] == segments[t] and labels[t] == tokens[nxt]:
                raise ValueError(f"labels are shifted (labels{_where(t, row_length)} = "
                                 f"{int(labels[t])} is the next token): a model that shifts "
                                 "labels shifts them again and learns the token after next; "
                                 "use unshifted labels, or label_convention='shifted' for a "
                                 "loss that does not shift")
            raise ValueError(f"labels{_where(t, row_length)} = {int(labels[t])} is neither "
                             f"{ignore} nor the token there ({int(tokens[t])})")
        return
    nxt = np.minimum(np.arange(total) + 1, total - 1)
    crosses = active & ((np.arange(total) + 1 >= total) | (segments[nxt] != segments))
    if crosses.any():
        t = int(np.flatnonzero(crosses)[0])
        raise ValueError(f"labels{_where(t, row_length)} = {int(labels[t])} at the last token "
                         "of a sequence: shifted labels must be ignored there "
                         f"({ignore}), or it learns the next sequence's first token")
    wrong = np.flatnonzero(active & (labels != tokens[nxt]))
    if wrong.size:
        t = int(wrong[0])
        if labels[t] == tokens[t]:
            raise ValueError(f"labels are not shifted (labels{_where(t, row_length)} = "
                             f"{int(labels[t])} is the token itself), but label_convention is "
                             "'shifted'")
        raise ValueError(f"labels{_where(t, row_length)} = {int(labels[t])} is neither "
                         f"{ignore} nor the next token ({int(tokens[nxt[t]])})")


def _nonempty(cu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The starts and lengths of the non-empty segments."""
    lengths = np.diff(cu)
    return cu[:-1][lengths > 0], lengths[lengths > 0]


def _check_seq_idx(seq_idx, cu, row_length) -> None:
    starts, lengths = _nonempty(cu)
    wrong = np.flatnonzero(seq_idx != np.repeat(seq_idx[starts], lengths))
    if wrong.size:
        t = int(wrong[0])
        raise ValueError(f"seq_idx{_where(t, row_length)} = {int(seq_idx[t])} changes inside "
                         "a segment")
    numbered = seq_idx[starts]
    numbered = numbered[numbered >= 0]
    if numbered.size > 1 and np.diff(numbered).min() <= 0:
        raise ValueError("seq_idx must number the sequences in increasing order")


def _check_seq_lengths(seq_lengths: np.ndarray, seq_idx, cu: np.ndarray) -> None:
    """Each sequence of ``seq_lengths`` (in order) must have a segment of its
    own, as long as it or longer (slot padding). A collator that merges the
    sequences of a packed row into one (transformers'
    ``DataCollatorWithFlattening`` reads neither ``seq_lengths`` nor
    ``position_ids``) leaves fewer, longer segments."""
    if seq_lengths.ndim != 1 or seq_lengths.dtype.kind not in "iu":
        raise TypeError(f"seq_lengths must be a 1-D integer array, got shape "
                         f"{seq_lengths.shape} of {seq_lengths.dtype}")
    starts, lengths = _nonempty(cu)
    if seq_idx is not None:
        lengths = lengths[seq_idx[starts] >= 0]  # not row padding
    merged = ("; a collator that ignores seq_lengths and position_ids (transformers' "
              "DataCollatorWithFlattening on packed rows) merges the sequences of a row, "
              "which then attend to each other")
    if lengths.size != seq_lengths.size:
        raise ValueError(f"the batch has {lengths.size} sequence segments, seq_lengths "
                         f"{seq_lengths.size} sequences{merged}")
    short = np.flatnonzero(lengths < seq_lengths)
    if short.size:
        s = int(short[0])
        raise ValueError(f"sequence {s} has {int(seq_lengths[s])} tokens (seq_lengths), but "
                         f"its segment only {int(lengths[s])}")
    if seq_idx is None:
        long = np.flatnonzero(lengths != seq_lengths)
        if long.size:
            s = int(long[0])
            raise ValueError(f"sequence {s} has {int(seq_lengths[s])} tokens (seq_lengths), "
                             f"but its segment holds {int(lengths[s])}{merged}")


def _check_padding_labels(labels, seq_idx, cu, seq_lengths, row_length, ignore) -> None:
    """Padding (row padding: seq_idx -1; slot padding: past a sequence's
    ``seq_lengths`` within its segment) must have ignored labels."""
    padding = seq_idx < 0
    if seq_lengths is not None:  # (its count is checked by _check_seq_lengths)
        starts, lengths = _nonempty(cu)
        is_sequence = seq_idx[starts] >= 0
        real = np.zeros(starts.size, dtype=np.int64)
        real[is_sequence] = seq_lengths
        offset = np.arange(labels.size) - np.repeat(starts, lengths)
        padding |= offset >= np.repeat(real, lengths)
    trained = np.flatnonzero(padding & (labels != ignore))
    if trained.size:
        t = int(trained[0])
        raise ValueError(f"labels{_where(t, row_length)} = {int(labels[t])} on padding: "
                         f"padding must be ignored ({ignore})")


def _check_mask(mask: np.ndarray, segments: np.ndarray, cu: np.ndarray, row_length: int) -> None:
    rows = segments.shape[0]
    if mask.ndim == 2:
        if mask.shape != segments.shape:
            raise ValueError(f"attention_mask has shape {mask.shape}, the tokens "
                             f"{segments.shape}")
        flat_mask = mask.reshape(-1)
        starts, lengths = _nonempty(cu)
        constant = flat_mask == np.repeat(flat_mask[starts], lengths)
        if not constant.all():
            t = int(np.flatnonzero(~constant)[0])
            raise ValueError(f"attention_mask{_where(t, row_length)} changes inside a sequence")
        # Per row, the values of its attended (non-zero) segments, in order.
        rows_of = starts // row_length if row_length else np.zeros(starts.size, np.int64)
        values = flat_mask[starts]
        attended = values != 0
        binary = np.isin(np.unique(flat_mask), (0, 1)).all()
        for r in range(rows):
            row_values = values[(rows_of == r) & attended]
            if binary and row_values.size > 1:
                raise ValueError("a 0/1 attention_mask over a packed row lets sequences attend "
                                 "to each other (FlashAttention unpads by it as one sequence): "
                                 "pass no mask, or a 4-D block-causal one")
            if row_values.size > 1 and np.diff(row_values).min() <= 0:
                t = int(starts[(rows_of == r) & attended][1:][np.diff(row_values) <= 0][0])
                raise ValueError(f"attention_mask{_where(t, row_length)} does not number the "
                                 "sequences of its row in increasing order, so two of them "
                                 "share an index and attend to each other")
        return
    if mask.ndim != 4 or mask.shape[0] != rows or mask.shape[-2:] != (row_length, row_length):
        raise ValueError(f"a 4-D attention_mask must have shape (rows, 1, T, T) = "
                         f"({rows}, 1, {row_length}, {row_length}), got {mask.shape}")
    allowed = mask if mask.dtype == bool else mask == 0
    for r in range(rows):
        same = segments[r][:, None] == segments[r][None, :]
        legal = np.tril(same)
        leak = allowed[r] & ~legal
        if leak.any():
            _head, i, j = (int(v) for v in np.argwhere(leak)[0])
            raise ValueError(f"attention_mask lets token {i} of row {r} attend to token {j}, "
                             "which is in another sequence or later")
