"""Token columns read from Arrow, and packed rows written as Arrow record batches.

Every Arrow-backed path (``hf_utils`` for Hugging Face datasets, the shard
stages that Ray Data and PySpark run) reads its ``input_ids`` and
``labels`` list columns and writes its packed rows here, so that they all
accept the same columns and give the same rows:

- ``input_ids``, ``labels``: the source's integer type (unsigned ones become
  int64, which leaves room for -100);
- ``position_ids``: int16 up to a capacity of 32768, else int32;
- ``seq_lengths``: int32, the tokens of each sequence in the row.

Needs pyarrow, which every caller imports first.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _native
from ._packed_layout import INT32_MAX, PackedArrays, pack_arrays
from .tokens import FlatTokens, Pieces

#: Token slots per record batch of packed rows. A batch's three token
#: columns (about 10 MB with int32 tokens) then stay in the CPU caches from
#: being laid out to being written (docs/training.md).
RANGE_TOKENS = 1 << 20
#: The packed row columns, in order.
PACKED_COLUMNS = ("input_ids", "labels", "position_ids", "seq_lengths")


class ArrowColumn:
    """One list column of a table: zero-copy NumPy views of each chunk."""

    def __init__(self, name: str, chunked, rows: np.ndarray | None):
        kind = chunked.type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) \
                or not pa.types.is_integer(kind.value_type):
            raise TypeError(f"column {name!r} must hold lists of integers (list or large_list), "
                            f"got {kind}")
        value_type = kind.value_type
        if pa.types.is_unsigned_integer(value_type):  # room for -100 in labels
            try:
                chunked = chunked.cast(pa.list_(pa.int64()) if pa.types.is_list(kind)
                                       else pa.large_list(pa.int64()))
            except pa.ArrowInvalid as error:
                raise ValueError(f"column {name!r} holds a token id above "
                                 f"{np.iinfo(np.int64).max}: {error}") from None
        self.values, self.offsets = [], []
        first_row = 0
        for chunk in chunked.chunks:
            offsets = np.asarray(chunk.offsets).astype(np.int64)
            flat = chunk.values  # the whole child array; offsets index into it
            if flat.null_count:
                _check_no_null_token(name, flat, offsets, first_row)
                flat = pc.fill_null(flat, 0)  # only outside the rows: never read
            self.values.append(np.asarray(flat))
            self.offsets.append(offsets)
            first_row += len(chunk)
        self.dtype = np.dtype(value_type.to_pandas_dtype()) if not \
            pa.types.is_unsigned_integer(value_type) else np.dtype(np.int64)
        counts = np.array([len(chunk) for chunk in chunked.chunks], dtype=np.int64)
        self.chunk_starts = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self.chunk_starts[1:])
        self.rows = rows  # the rows shown (a dataset's indices mapping), or None for all
        lengths = np.concatenate([np.diff(o) for o in self.offsets]) if self.offsets \
            else np.empty(0, np.int64)
        self.lengths = lengths if rows is None else lengths[rows]
        if chunked.null_count:  # only the rows shown count
            nulls = chunked.is_null().to_numpy(zero_copy_only=False)
            nulls = nulls if rows is None else nulls[rows]
            if nulls.any():
                raise ValueError(f"{name}[{int(np.argmax(nulls))}] is null: every row needs "
                                 "its tokens")

    def copy_runs(self, dst, origin, skip, dst_start, count) -> None:
        rows = origin if self.rows is None else self.rows[origin]
        if len(self.values) == 1:
            _native.copy_runs(dst, self.values[0], self.offsets[0][rows] + skip, dst_start, count)
            return
        chunk = np.searchsorted(self.chunk_starts, rows, side="right") - 1
        order = np.argsort(chunk, kind="stable")
        bounds = np.searchsorted(chunk[order], np.arange(len(self.values) + 1))
        for c in np.flatnonzero(np.diff(bounds)):
            runs = order[bounds[c]:bounds[c + 1]]
            local = rows[runs] - self.chunk_starts[c]
            _native.copy_runs(dst, self.values[c], self.offsets[c][local] + skip[runs],
                              dst_start[runs], count[runs])

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All the rows' values and their ``n + 1`` offsets into them (a copy
        unless the column is one chunk and every row is shown)."""
        if self.rows is None and len(self.values) == 1:
            return self.values[0], self.offsets[0]
        offsets = np.zeros(self.lengths.size + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        values = np.empty(int(offsets[-1]), dtype=self.dtype)
        rows = np.arange(self.lengths.size, dtype=np.int64)
        self.copy_runs(values, rows, np.zeros_like(rows), offsets[:-1], self.lengths)
        return values, offsets


def _check_no_null_token(name: str, flat, offsets: np.ndarray, first_row: int) -> None:
    """Raise for the first null token id within the rows (the child array of
    a slice may hold nulls outside them, which do not count)."""
    low, high = int(offsets[0]), int(offsets[-1])
    nulls = np.flatnonzero(flat.slice(low, high - low).is_null()
                           .to_numpy(zero_copy_only=False)) + low
    if nulls.size:
        row = int(np.searchsorted(offsets, nulls[0], side="right")) - 1
        raise ValueError(f"{name}[{first_row + row}] holds a null token id at position "
                         f"{int(nulls[0] - offsets[row])}")


def _check_unpacked_and_unpadded(table, rows: np.ndarray | None, what: str) -> None:
    """Refuse rows that are not one sequence each: packed rows (a
    ``seq_lengths`` column), whose sequences packing again would merge, and
    padded tokenizer output (an ``attention_mask`` with zeros), whose padding
    would be packed and trained as tokens."""
    if "seq_lengths" in table.column_names:
        raise ValueError(f"{what} is packed already (it has a 'seq_lengths' column): its rows "
                         "hold several sequences each, which packing them again would merge; "
                         "pack the unpacked rows, or collate these with "
                         "torch_utils.packed_collate_fn, which splits them")
    if "attention_mask" not in table.column_names:
        return
    mask, offsets = ArrowColumn("attention_mask", table.column("attention_mask"), rows).flat()
    padding = np.flatnonzero(mask != 1)
    if padding.size:
        t = int(padding[0])
        row = int(np.searchsorted(offsets, t, side="right")) - 1
        raise ValueError(f"row {row} of {what} has attention_mask {int(mask[t])} at token "
                         f"{t - int(offsets[row])}: only unpadded rows (a mask of ones) are "
                         "packed, or the padding would be trained as tokens; tokenize without "
                         "padding, or collate the rows with torch_utils.packed_collate_fn, "
                         "which drops it")


class ArrowSource:
    """The ``input_ids`` (and ``labels``) columns of a table, read in place:
    a run source for ``pack_arrays``. ``rows`` selects and orders the
    table's rows (None for all); ``what`` names the table in errors."""

    def __init__(self, table, rows: np.ndarray | None = None, what: str = "the table"):
        if "input_ids" not in table.column_names:
            raise ValueError(f"{what} has no 'input_ids' column (it has "
                             f"{', '.join(table.column_names) or 'none'})")
        self.columns = {"input_ids": ArrowColumn("input_ids", table.column("input_ids"), rows)}
        if "labels" in table.column_names:
            labels = ArrowColumn("labels", table.column("labels"), rows)
            wrong = np.flatnonzero(labels.lengths != self.columns["input_ids"].lengths)
            if wrong.size:
                i = int(wrong[0])
                raise ValueError(f"row {i} has {int(self.columns['input_ids'].lengths[i])} "
                                 f"input_ids but {int(labels.lengths[i])} labels")
            self.columns["labels"] = labels
        self.lengths = self.columns["input_ids"].lengths
        _check_unpacked_and_unpadded(table, rows, what)
        empty = np.flatnonzero(self.lengths == 0)
        if empty.size:
            raise ValueError(f"row {int(empty[0])} has no input_ids: every sequence needs at "
                             "least one token")
        self.has_labels = "labels" in self.columns

    def dtype(self, column: str) -> np.dtype:
        return self.columns[column].dtype

    def copy_runs(self, column, dst, origin, skip, dst_start, count) -> None:
        self.columns[column].copy_runs(dst, origin, skip, dst_start, count)


def position_dtype(capacity: int) -> np.dtype:
    """The dtype of ``position_ids`` in packed rows of ``capacity``."""
    if capacity > INT32_MAX:
        raise ValueError(f"capacity {capacity} does not fit the int32 position_ids of packed rows")
    return np.dtype(np.int16 if capacity <= 2**15 else np.int32)


def bin_ranges(slots: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive ranges of bins of about RANGE_TOKENS token slots each,
    for bins of ``slots`` token slots."""
    ends = np.cumsum(slots)
    cuts = np.searchsorted(ends, np.arange(RANGE_TOKENS, int(ends[-1]) if ends.size else 0,
                                           RANGE_TOKENS), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [slots.size]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def list_array(values: np.ndarray, offsets: np.ndarray):
    offsets = offsets - offsets[0]
    if offsets[-1] <= INT32_MAX:
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


def record_batch(arrays: PackedArrays):
    """The rows of ``arrays`` as an Arrow record batch."""
    rows = arrays.row_starts
    per_row = np.zeros(rows.size, dtype=np.int64)  # sequences before each row
    np.cumsum(np.bincount(arrays.seq_bin, minlength=rows.size - 1), out=per_row[1:])
    return pa.RecordBatch.from_arrays(
        [list_array(arrays.input_ids, rows), list_array(arrays.labels, rows),
         list_array(arrays.position_ids, rows),
         list_array(arrays.seq_lengths.astype(np.int32), per_row)],
        names=list(PACKED_COLUMNS))


def empty_arrays(source, positions: np.dtype) -> PackedArrays:
    """The arrays of no bins, which give the schema of the rows."""
    dtypes = {column: source.dtype(column) for column in ("input_ids", "labels")
              if column == "input_ids" or source.has_labels}
    empty = FlatTokens(np.empty(0, dtypes["input_ids"]), np.zeros(1, np.int64),
                       np.empty(0, dtypes["labels"]) if "labels" in dtypes else None)
    return pack_arrays(empty, Pieces.whole(np.empty(0, np.int64)), np.empty(0, np.int64),
                       np.zeros(1, np.int64), 1, layout="flat", position_dtype=positions)


def packed_schema(source, capacity: int) -> pa.Schema:
    """The schema of packed rows of ``source``'s columns at ``capacity``."""
    return record_batch(empty_arrays(source, position_dtype(capacity))).schema
