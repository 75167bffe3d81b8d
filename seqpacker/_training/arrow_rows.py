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

from .._core import native as _native
from .layout import INT32_MAX, PackedArrays, pack_arrays
from .._core.validation import INT64_MAX
from .tokens import FlatTokens, Pieces, positions_without_seq_lengths

#: Token slots per record batch of packed rows. A batch's three token
#: columns (about 10 MB with int32 tokens) then stay in the CPU caches from
#: being laid out to being written (docs/training.md).
RANGE_TOKENS = 1 << 20
#: The packed row columns, in order.
PACKED_COLUMNS = ("input_ids", "labels", "position_ids", "seq_lengths")


class RowError(ValueError):
    """A ValueError about one row: the message is ``text`` with ``{row}``
    replaced by ``row``, so that a caller that hands a table over in parts
    (an engine's batches) can number the row in the whole (``renumbered``)."""

    def __init__(self, text: str, row: int):
        self.text, self.row = text, int(row)
        super().__init__(text.replace("{row}", str(self.row)))

    def renumbered(self, first_row: int, note: str = "") -> RowError:
        """The error of the same row in rows that start ``first_row`` earlier."""
        return RowError(self.text + note, self.row + first_row)

    def __reduce__(self):
        return type(self), (self.text, self.row)


class ArrowColumn:
    """One list column of a table: zero-copy NumPy views of each chunk.

    ``rows`` (a dataset's indices mapping, or None for all) selects and
    orders the rows shown; only they are checked, and errors number them
    as shown (row ``i`` is ``rows[i]`` of the table).
    """

    def __init__(self, name: str, chunked, rows: np.ndarray | None):
        kind = chunked.type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) \
                or not pa.types.is_integer(kind.value_type):
            raise TypeError(f"column {name!r} must hold lists of integers (list or large_list), "
                            f"got {kind}")
        self.rows = rows
        if chunked.null_count:
            nulls = chunked.is_null().to_numpy(zero_copy_only=False)
            nulls = nulls if rows is None else nulls[rows]
            if nulls.any():
                raise RowError(f"{name}[{{row}}] is null: every row needs its tokens",
                               int(np.argmax(nulls)))
        value_type = kind.value_type
        if any(chunk.values.null_count for chunk in chunked.chunks):
            bad = _first_shown_value(chunked, rows, lambda values: values.is_null()
                                     .to_numpy(zero_copy_only=False))
            if bad is not None:
                raise RowError(f"{name}[{{row}}] holds a null token id at position {bad[1]}",
                               bad[0])
        if value_type == pa.uint64():
            above = pa.scalar(INT64_MAX, pa.uint64())
            bad = _first_shown_value(chunked, rows, lambda values: np.asarray(
                pc.fill_null(pc.greater(values, above), False)))
            if bad is not None:
                raise RowError(f"{name}[{{row}}] holds a token id above {INT64_MAX} at "
                               f"position {bad[1]}", bad[0])
        if pa.types.is_unsigned_integer(value_type):  # room for -100 in labels
            # Values above INT64_MAX are outside the rows shown (checked
            # above) and are never read: they may wrap.
            chunked = chunked.cast(pa.list_(pa.int64()) if pa.types.is_list(kind)
                                   else pa.large_list(pa.int64()), safe=False)
        self.values, self.offsets = [], []
        for chunk in chunked.chunks:
            offsets = np.asarray(chunk.offsets).astype(np.int64)
            flat = chunk.values  # the whole child array; offsets index into it
            if flat.null_count:
                flat = pc.fill_null(flat, 0)  # only outside the rows shown: never read
            self.values.append(np.asarray(flat))
            self.offsets.append(offsets)
        self.dtype = np.dtype(value_type.to_pandas_dtype()) if not \
            pa.types.is_unsigned_integer(value_type) else np.dtype(np.int64)
        counts = np.array([len(chunk) for chunk in chunked.chunks], dtype=np.int64)
        self.chunk_starts = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self.chunk_starts[1:])
        lengths = np.concatenate([np.diff(o) for o in self.offsets]) if self.offsets \
            else np.empty(0, np.int64)
        self.lengths = lengths if rows is None else lengths[rows]

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


def _first_shown_value(chunked, rows: np.ndarray | None, is_bad) -> tuple[int, int] | None:
    """``(row, position)`` of the first value within the rows shown for which
    ``is_bad`` (Arrow values to a boolean NumPy array) holds, the row
    numbered as shown; None if there is none. The child array of a chunk
    may hold values outside its rows (a slice), and a row not shown (a
    filtered dataset) may hold any: neither counts."""
    table_rows, positions = [], []
    first_row = 0
    for chunk in chunked.chunks:
        offsets = np.asarray(chunk.offsets).astype(np.int64)
        low, high = int(offsets[0]), int(offsets[-1])
        bad = np.flatnonzero(is_bad(chunk.values.slice(low, high - low))) + low
        if bad.size:
            row = np.searchsorted(offsets, bad, side="right") - 1
            table_rows.append(first_row + row)
            positions.append(bad - offsets[row])
        first_row += len(chunk)
    if not table_rows:
        return None
    table_rows, positions = np.concatenate(table_rows), np.concatenate(positions)
    if rows is None:
        return int(table_rows[0]), int(positions[0])
    marked = np.zeros(first_row, dtype=bool)
    marked[table_rows] = True
    shown = np.flatnonzero(marked[rows])
    if not shown.size:
        return None
    row = int(shown[0])
    # table_rows ascends, so its first entry for the row has the first position.
    return row, int(positions[np.searchsorted(table_rows, rows[row])])


def check_one_sequence_per_row(names, what: str) -> None:
    """Refuse, by its columns, a table whose rows are packed already: a
    ``seq_lengths`` column (several sequences per row, which packing again
    would merge), or ``position_ids`` without it (which sequences a row
    holds cannot be told)."""
    if "seq_lengths" in names:
        raise ValueError(f"{what} is packed already (it has a 'seq_lengths' column): its rows "
                         "hold several sequences each, which packing them again would merge; "
                         "pack the unpacked rows, or collate these with "
                         "torch_utils.packed_collate_fn, which splits them")
    if "position_ids" in names:
        raise ValueError(positions_without_seq_lengths(f"the rows of {what}"))


def check_unpadded(table, rows: np.ndarray | None, what: str) -> None:
    """Refuse padded tokenizer output, an ``attention_mask`` column with a
    value other than 1 in the rows shown: the padding would be packed and
    trained as tokens."""
    if "attention_mask" not in table.column_names:
        return
    mask, offsets = ArrowColumn("attention_mask", table.column("attention_mask"), rows).flat()
    padding = np.flatnonzero(mask != 1)
    if padding.size:
        t = int(padding[0])
        row = int(np.searchsorted(offsets, t, side="right")) - 1
        raise RowError(f"row {{row}} of {what} has attention_mask {int(mask[t])} at token "
                       f"{t - int(offsets[row])}: only unpadded rows (a mask of ones) are "
                       "packed, or the padding would be trained as tokens; tokenize without "
                       "padding, or collate the rows with torch_utils.packed_collate_fn, "
                       "which drops it", row)


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
                raise RowError(f"row {{row}} has {int(self.columns['input_ids'].lengths[i])} "
                               f"input_ids but {int(labels.lengths[i])} labels", i)
            self.columns["labels"] = labels
        self.lengths = self.columns["input_ids"].lengths
        check_one_sequence_per_row(table.column_names, what)
        check_unpadded(table, rows, what)
        empty = np.flatnonzero(self.lengths == 0)
        if empty.size:
            raise RowError("row {row} has no input_ids: every sequence needs at least one "
                           "token", int(empty[0]))
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
