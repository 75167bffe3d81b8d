"""Packed Hugging Face datasets: one global packing, rows built from Arrow buffers.

    from seqpacker.hf_utils import pack_dataset
    packed = pack_dataset(tokenized, capacity=4096)   # a datasets.Dataset

The lengths of the whole dataset are packed in one call, so the packing is
``Packer.pack`` on those lengths whatever ``num_proc`` is. Rows are then
built bin range by bin range: the tokens of each sequence are copied from
the dataset's Arrow buffers as one run (no Python per token) and written to
an Arrow file that the returned dataset maps, so memory stays bounded by one
range, not the dataset (see docs/training.md).

Needs datasets (``pip install 'seqpacker[hf]'``); ``import seqpacker``
never imports this module.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _native
from ._optional import import_optional
from ._packed_layout import (INT32_MAX, LABEL_CONVENTIONS, LAYOUTS, PackedArrays, Scratch,
                             check_choice, pack_arrays)
from .packer import Packer
from .result import PackResult
from .tokens import FlatTokens, Pieces, as_flat_tokens, cut_overlong

datasets = import_optional("datasets", "hf", "seqpacker.hf_utils")
pa = import_optional("pyarrow", "hf", "seqpacker.hf_utils")
from datasets.fingerprint import (get_temporary_cache_files_directory,  # noqa: E402
                                  maybe_register_dataset_for_temp_dir_deletion)
from datasets.utils.tqdm import tqdm as hf_tqdm  # noqa: E402

__all__ = ["FlatTokens", "pack_dataset", "pack_dataset_from_result"]

#: Tokens per written range of bins: bounds the memory of one range.
RANGE_TOKENS = 1 << 23
#: The most workers ``num_proc=None`` starts (one per CPU up to this).
MAX_WORKERS = 8


def pack_dataset(
    data,
    capacity: int,
    *,
    strategy: str = "obfd",
    seed: int | None = None,
    on_overlong: str = "error",
    layout: str = "flat",
    num_proc: int | None = None,
    label_convention: str = "hf",
    padding_value: int = 0,
    label_padding_value: int = -100,
    k: int | None = None,
    threads: int | None = None,
    cache_file_name: str | None = None,
    keep_in_memory: bool = False,
):
    """Pack a tokenized dataset into rows of at most ``capacity`` tokens.

    Args:
        data: a ``datasets.Dataset`` with an ``input_ids`` column of integer
            lists and optionally ``labels`` beside it (other columns are
            dropped), or a list of token lists (0.1.3's form), arrays,
            dicts with ``input_ids``, or ``FlatTokens``.
        capacity, strategy, seed, k, threads: as in ``Packer``.
        on_overlong: ``"error"`` (ValueError naming the first sequence
            longer than ``capacity``), ``"truncate"`` (keep its first
            ``capacity`` tokens) or ``"split"`` (chunks of ``capacity``
            tokens, positions restarting in each).
        layout: ``"flat"`` (a row per bin, as long as its tokens) or
            ``"padded"`` (every row ``capacity`` long).
        num_proc: threads that build and write rows, each to its own Arrow
            file; None means one per CPU (at most 8). The packing and the
            rows are the same for any value.
        label_convention, padding_value, label_padding_value: as in
            ``torch_utils.pack_result_to_tensors``.
        cache_file_name: the Arrow file to write (with several workers,
            ``name_00000_of_00002.arrow`` and so on beside it); by default
            files in datasets' temporary directory, removed when the Python
            session ends.
        keep_in_memory: build the rows in memory and write no file: no disk
            traffic, but the rows (about 2.5 times the tokens' bytes) stay in
            memory beside the dataset.

    Returns a ``datasets.Dataset`` with one row per bin and the columns
    ``input_ids`` and ``labels`` (the dtype of the source's), ``position_ids``
    (int16 up to a capacity of 32768, else int32) and ``seq_lengths`` (int32:
    the tokens of each sequence in the row, as TRL's collator reads them).
    """
    source = _source(data)
    pieces = cut_overlong(source.lengths, capacity, on_overlong)
    result = Packer(capacity, strategy, seed, k=k, threads=threads).pack(pieces.length)
    return _write(source, pieces, result, layout=layout, num_proc=num_proc,
                  label_convention=label_convention, padding_value=padding_value,
                  label_padding_value=label_padding_value, cache_file_name=cache_file_name,
                  keep_in_memory=keep_in_memory)


def pack_dataset_from_result(
    result: PackResult,
    token_ids,
    *,
    padding_value: int = 0,
    label_padding_value: int = -100,
    layout: str = "padded",
    label_convention: str = "hf",
    num_proc: int | None = None,
    cache_file_name: str | None = None,
    keep_in_memory: bool = False,
):
    """The packed dataset of ``result`` with the tokens of ``token_ids``.

    ``token_ids`` is anything that ``pack_dataset`` takes; sequence ``i``
    must have the length that ``result`` packed. ``layout`` defaults to
    ``"padded"`` (rows of ``capacity``, as 0.1.3's); other arguments as in
    ``pack_dataset``.
    """
    if not isinstance(result, PackResult):
        raise TypeError(f"result must be a PackResult, not {type(result).__name__}")
    source = _source(token_ids)
    if source.lengths.size != result.lengths.size:
        raise ValueError(f"token_ids has {source.lengths.size} sequences; the result packed "
                         f"{result.lengths.size}")
    wrong = np.flatnonzero(source.lengths != result.lengths)
    if wrong.size:
        i = int(wrong[0])
        raise ValueError(f"sequence {i} has {int(source.lengths[i])} tokens, but the result "
                         f"packed it with length {int(result.lengths[i])}")
    return _write(source, Pieces.whole(source.lengths), result, layout=layout,
                  num_proc=num_proc, label_convention=label_convention,
                  padding_value=padding_value, label_padding_value=label_padding_value,
                  cache_file_name=cache_file_name, keep_in_memory=keep_in_memory)


# ---- sources: where the tokens come from -----------------------------------

def _source(data):
    """The run source of ``data``: an Arrow-backed Dataset, or FlatTokens."""
    if isinstance(data, datasets.Dataset):
        return _ArrowSource(data)
    if isinstance(data, (datasets.DatasetDict, datasets.IterableDataset)):
        raise TypeError(f"pack_dataset takes one datasets.Dataset, not "
                        f"{type(data).__name__} (pick a split, e.g. data['train'])")
    return as_flat_tokens(data)  # FlatTokens is a run source itself


class _ArrowColumn:
    """One list column of a dataset: zero-copy NumPy views of each chunk."""

    def __init__(self, name: str, chunked, rows: np.ndarray | None):
        kind = chunked.type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) \
                or not pa.types.is_integer(kind.value_type):
            raise TypeError(f"column {name!r} must hold lists of integers (list or large_list), "
                            f"got {kind}")
        value_type = kind.value_type
        if pa.types.is_unsigned_integer(value_type):  # room for -100 in labels
            chunked = chunked.cast(pa.list_(pa.int64()) if pa.types.is_list(kind)
                                   else pa.large_list(pa.int64()))
        self.values, self.offsets = [], []
        for chunk in chunked.chunks:
            offsets = np.asarray(chunk.offsets).astype(np.int64)
            flat = chunk.values  # the whole child array; offsets index into it
            if flat.null_count:
                raise ValueError(f"column {name!r} holds a null token id")
            self.values.append(np.asarray(flat))
            self.offsets.append(offsets)
        self.dtype = np.dtype(value_type.to_pandas_dtype()) if not \
            pa.types.is_unsigned_integer(value_type) else np.dtype(np.int64)
        counts = np.array([len(chunk) for chunk in chunked.chunks], dtype=np.int64)
        self.chunk_starts = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self.chunk_starts[1:])
        self.rows = rows  # the dataset's indices mapping (select, shuffle), or None
        lengths = np.concatenate([np.diff(o) for o in self.offsets]) if self.offsets \
            else np.empty(0, np.int64)
        self.lengths = lengths if rows is None else lengths[rows]
        if chunked.null_count:  # only the rows the dataset shows count
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


class _ArrowSource:
    """The ``input_ids`` (and ``labels``) columns of a Dataset, read in place."""

    def __init__(self, dataset):
        table = dataset.data.table if hasattr(dataset.data, "table") else dataset.data
        if "input_ids" not in table.column_names:
            raise ValueError(f"the dataset has no 'input_ids' column (it has "
                             f"{', '.join(table.column_names)})")
        indices = dataset._indices  # set by select, shuffle, filter ...
        rows = None if indices is None else \
            np.asarray(indices.column(0).to_numpy(), dtype=np.int64)
        self.columns = {"input_ids": _ArrowColumn("input_ids", table.column("input_ids"), rows)}
        if "labels" in table.column_names:
            labels = _ArrowColumn("labels", table.column("labels"), rows)
            wrong = np.flatnonzero(labels.lengths != self.columns["input_ids"].lengths)
            if wrong.size:
                i = int(wrong[0])
                raise ValueError(f"row {i} has {int(self.columns['input_ids'].lengths[i])} "
                                 f"input_ids but {int(labels.lengths[i])} labels")
            self.columns["labels"] = labels
        self.lengths = self.columns["input_ids"].lengths
        empty = np.flatnonzero(self.lengths == 0)
        if empty.size:
            raise ValueError(f"row {int(empty[0])} has no input_ids: every sequence needs at "
                             "least one token")
        self.has_labels = "labels" in self.columns

    def dtype(self, column: str) -> np.dtype:
        return self.columns[column].dtype

    def copy_runs(self, column, dst, origin, skip, dst_start, count) -> None:
        self.columns[column].copy_runs(dst, origin, skip, dst_start, count)


# ---- writing the packed rows -----------------------------------------------

def _write(source, pieces: Pieces, result: PackResult, *, layout, num_proc, label_convention,
           padding_value, label_padding_value, cache_file_name, keep_in_memory):
    check_choice("layout", layout, LAYOUTS)
    check_choice("label_convention", label_convention, LABEL_CONVENTIONS)
    if num_proc is None:
        num_proc = min(os.cpu_count() or 1, MAX_WORKERS)
    if isinstance(num_proc, bool) or not isinstance(num_proc, int) or num_proc < 1:
        raise ValueError(f"num_proc must be an int >= 1 or None, not {num_proc!r}")
    capacity = result.capacity
    if capacity > INT32_MAX:
        raise ValueError(f"capacity {capacity} does not fit the int32 position_ids of a dataset")
    position_dtype = np.int16 if capacity <= 2**15 else np.int32
    ranges = _bin_ranges(result, capacity if layout == "padded" else None)
    shards = [part for part in np.array_split(np.arange(len(ranges)), num_proc) if part.size] \
        or [np.arange(0)]
    if not isinstance(keep_in_memory, bool):
        raise TypeError(f"keep_in_memory must be True or False, not {keep_in_memory!r}")
    if keep_in_memory and cache_file_name is not None:
        raise ValueError("keep_in_memory=True writes no file: pass no cache_file_name")
    paths = None if keep_in_memory else _shard_paths(cache_file_name, len(shards))

    def build(bins: tuple[int, int], scratch: Scratch):
        first, last = bins
        offsets = result.offsets[first:last + 1]
        arrays = pack_arrays(source, pieces, result.items[offsets[0]:offsets[-1]],
                             offsets - offsets[0], capacity, layout=layout,
                             label_convention=label_convention, padding_value=padding_value,
                             label_padding_value=label_padding_value,
                             position_dtype=position_dtype, scratch=scratch)
        return _record_batch(arrays)

    schema = _record_batch(_empty_arrays(source, position_dtype)).schema

    def keep(shard: int) -> list:
        batches = []
        for r in shards[shard]:
            batches.append(build(ranges[r], Scratch(reuse=False)))
            bar.update(ranges[r][1] - ranges[r][0])
        return batches

    def write(shard: int) -> None:
        # A new file replaces the old one only when complete: a dataset
        # returned earlier may still map the old one, which truncating it
        # in place would break.
        partial = f"{paths[shard]}.{uuid.uuid4().hex}.partial"
        scratch = Scratch()  # each batch is written before the next reuses it
        try:
            with pa.ipc.new_stream(partial, schema) as writer:
                for r in shards[shard]:
                    writer.write_batch(build(ranges[r], scratch))
                    bar.update(ranges[r][1] - ranges[r][0])
            os.replace(partial, paths[shard])
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    with hf_tqdm(total=result.num_bins, unit=" bins", desc="Packing rows") as bar:
        with ThreadPoolExecutor(len(shards)) as pool:
            work = [pool.submit(keep if keep_in_memory else write, shard)
                    for shard in range(len(shards))]
            done = [future.result() for future in work]
    if keep_in_memory:
        table = pa.Table.from_batches([batch for part in done for batch in part], schema)
        # A fingerprint of our own: datasets would otherwise hash every row.
        return datasets.Dataset(table, fingerprint=uuid.uuid4().hex)
    parts = [datasets.Dataset.from_file(path) for path in paths]
    for part in parts:
        maybe_register_dataset_for_temp_dir_deletion(part)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def _shard_paths(cache_file_name: str | None, count: int) -> list[str]:
    """The file of each worker: ``cache_file_name`` itself for one, else
    numbered beside it (as datasets numbers map's shards)."""
    if cache_file_name is None:
        cache_file_name = os.path.join(get_temporary_cache_files_directory(),
                                       f"seqpacker-packed-{uuid.uuid4().hex}.arrow")
    if count == 1:
        return [cache_file_name]
    stem, suffix = os.path.splitext(cache_file_name)
    return [f"{stem}_{rank:05d}_of_{count:05d}{suffix}" for rank in range(count)]


def _bin_ranges(result: PackResult, padded_capacity: int | None) -> list[tuple[int, int]]:
    """Consecutive bin ranges of about RANGE_TOKENS output tokens each."""
    slots = np.full(result.num_bins, padded_capacity, dtype=np.int64) \
        if padded_capacity is not None else result.used
    ends = np.cumsum(slots)
    cuts = np.searchsorted(ends, np.arange(RANGE_TOKENS, int(ends[-1]) if ends.size else 0,
                                           RANGE_TOKENS), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [result.num_bins]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _list_array(values: np.ndarray, offsets: np.ndarray):
    offsets = offsets - offsets[0]
    if offsets[-1] <= INT32_MAX:
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


def _record_batch(arrays: PackedArrays):
    """The rows of ``arrays`` as an Arrow record batch."""
    rows = arrays.row_starts
    per_row = np.zeros(rows.size, dtype=np.int64)  # sequences before each row
    np.cumsum(np.bincount(arrays.seq_bin, minlength=rows.size - 1), out=per_row[1:])
    return pa.RecordBatch.from_arrays(
        [_list_array(arrays.input_ids, rows), _list_array(arrays.labels, rows),
         _list_array(arrays.position_ids, rows),
         _list_array(arrays.seq_lengths.astype(np.int32), per_row)],
        names=["input_ids", "labels", "position_ids", "seq_lengths"])


def _empty_arrays(source, position_dtype) -> PackedArrays:
    """The arrays of no bins, which give the schema of the rows."""
    dtypes = {column: source.dtype(column) for column in ("input_ids", "labels")
              if column == "input_ids" or source.has_labels}
    empty = FlatTokens(np.empty(0, dtypes["input_ids"]), np.zeros(1, np.int64),
                       np.empty(0, dtypes["labels"]) if "labels" in dtypes else None)
    return pack_arrays(empty, Pieces.whole(np.empty(0, np.int64)), np.empty(0, np.int64),
                       np.zeros(1, np.int64), 1, layout="flat", position_dtype=position_dtype)
