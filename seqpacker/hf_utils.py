"""Packed Hugging Face datasets: one global packing, rows built from Arrow buffers.

    from seqpacker.hf_utils import pack_dataset
    packed = pack_dataset(tokenized, capacity=4096)   # a datasets.Dataset

The lengths of the whole dataset are packed in one call, so the packing is
``Packer.pack`` on those lengths whatever ``num_proc`` is (beyond
``GLOBAL_PACK_MAX_ROWS`` pieces, or with ``shard_rows``, it is the sharded
packing of ``seqpacker.distributed``). Rows are then
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

from ._training.chunked_file import ChunkedFile
from ._core.optional import import_optional
from ._training.layout import (LABEL_CONVENTIONS, LAYOUTS, Scratch, check_choice,
                             check_fill_value, pack_arrays)
from ._core.validation import check_capacity
from .distributed import DEFAULT_SHARD_ROWS, pack_in_shards
from .packer import Packer
from .result import PackResult
from ._training.tokens import FlatTokens, Pieces, as_flat_tokens, cut_overlong

datasets = import_optional("datasets", "hf", "seqpacker.hf_utils")
pa = import_optional("pyarrow", "hf", "seqpacker.hf_utils")
from ._training.arrow_rows import (ArrowSource, bin_ranges, packed_schema, position_dtype,  # noqa: E402
                          record_batch)
from datasets.fingerprint import (get_temporary_cache_files_directory,  # noqa: E402
                                  maybe_register_dataset_for_temp_dir_deletion)
from datasets.utils.tqdm import tqdm as hf_tqdm  # noqa: E402

__all__ = ["FlatTokens", "pack_dataset", "pack_dataset_from_result"]

#: The most workers ``num_proc=None`` starts (one per CPU up to this).
MAX_WORKERS = 8
#: The most sequences ``pack_dataset`` packs at once before it packs in
#: shards (several GiB of packing state; docs/distributed.md).
GLOBAL_PACK_MAX_ROWS = 50_000_000


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
    shard_rows: int | None = None,
):
    """Pack a tokenized dataset into rows of at most ``capacity`` tokens.

    Args:
        data: a ``datasets.Dataset`` with an ``input_ids`` column of integer
            lists and optionally ``labels`` beside it (other columns are
            dropped), or a list of token lists, arrays,
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
            ``torch_utils.pack_result_to_tensors`` (the two values: ints
            that fit int64, TypeError otherwise).
        cache_file_name: the Arrow file to write (with several workers,
            ``name_00000_of_00002.arrow`` and so on beside it); by default
            files in datasets' temporary directory, removed when the Python
            session ends.
        keep_in_memory: build the rows in memory and write no file: no disk
            traffic, but the rows (about 2.5 times the tokens' bytes) stay in
            memory beside the dataset.
        shard_rows: pack in shards of this many consecutive pieces (the
            sequences after ``on_overlong``) with the sharded core of
            ``seqpacker.distributed`` (each shard's packs that are more than
            half full kept, the rest packed together once), so that the
            packing state is one shard's. None packs all pieces at once up
            to ``GLOBAL_PACK_MAX_ROWS`` of them, and in shards of
            ``distributed.DEFAULT_SHARD_ROWS`` beyond (docs/distributed.md).

    Returns a ``datasets.Dataset`` with one row per bin and the columns
    ``input_ids`` and ``labels`` (the dtype of the source's), ``position_ids``
    (int16 up to a capacity of 32768, else int32) and ``seq_lengths`` (int32:
    the tokens of each sequence in the row, as TRL's collator reads them).
    """
    capacity = check_capacity(capacity)
    position_dtype(capacity)
    options = _write_options(layout=layout, num_proc=num_proc, label_convention=label_convention,
                             padding_value=padding_value, label_padding_value=label_padding_value,
                             cache_file_name=cache_file_name, keep_in_memory=keep_in_memory)
    source = _source(data)
    pieces = cut_overlong(source.lengths, capacity, on_overlong)
    if shard_rows is None and len(pieces) > GLOBAL_PACK_MAX_ROWS:
        shard_rows = DEFAULT_SHARD_ROWS
    if shard_rows is None:
        result = Packer(capacity, strategy, seed, k=k, threads=threads).pack(pieces.length)
    else:
        result = pack_in_shards(pieces.length, capacity, shard_rows, strategy=strategy,
                                seed=seed, k=k, threads=threads)
    return _write(source, pieces, result, **options)


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
    ``"padded"`` (rows of ``capacity``); other arguments as in
    ``pack_dataset``.
    """
    if not isinstance(result, PackResult):
        raise TypeError(f"result must be a PackResult, not {type(result).__name__}")
    options = _write_options(layout=layout, num_proc=num_proc, label_convention=label_convention,
                             padding_value=padding_value, label_padding_value=label_padding_value,
                             cache_file_name=cache_file_name, keep_in_memory=keep_in_memory)
    source = _source(token_ids)
    if source.lengths.size != result.lengths.size:
        raise ValueError(f"token_ids has {source.lengths.size} sequences; the result packed "
                         f"{result.lengths.size}")
    wrong = np.flatnonzero(source.lengths != result.lengths)
    if wrong.size:
        i = int(wrong[0])
        raise ValueError(f"sequence {i} has {int(source.lengths[i])} tokens, but the result "
                         f"packed it with length {int(result.lengths[i])}")
    return _write(source, Pieces.whole(source.lengths), result, **options)


# ---- sources: where the tokens come from -----------------------------------

def _source(data):
    """The run source of ``data``: an Arrow-backed Dataset, or FlatTokens."""
    if isinstance(data, datasets.Dataset):
        table = data.data.table if hasattr(data.data, "table") else data.data
        indices = data._indices  # set by select, shuffle, filter ...
        rows = None if indices is None else \
            np.asarray(indices.column(0).to_numpy(), dtype=np.int64)
        return ArrowSource(table, rows, what="the dataset")
    if isinstance(data, (datasets.DatasetDict, datasets.IterableDataset)):
        raise TypeError(f"pack_dataset takes one datasets.Dataset, not "
                        f"{type(data).__name__} (pick a split, e.g. data['train'])")
    return as_flat_tokens(data)  # FlatTokens is a run source itself


# ---- writing the packed rows -----------------------------------------------

def _write_options(*, layout, num_proc, label_convention, padding_value, label_padding_value,
                   cache_file_name, keep_in_memory) -> dict:
    """The options of ``_write``, checked before any packing is done."""
    check_choice("layout", layout, LAYOUTS)
    check_choice("label_convention", label_convention, LABEL_CONVENTIONS)
    check_fill_value("padding_value", padding_value)
    check_fill_value("label_padding_value", label_padding_value)
    if num_proc is None:
        num_proc = min(os.cpu_count() or 1, MAX_WORKERS)
    if isinstance(num_proc, bool) or not isinstance(num_proc, int) or num_proc < 1:
        raise ValueError(f"num_proc must be an int >= 1 or None, not {num_proc!r}")
    if not isinstance(keep_in_memory, bool):
        raise TypeError(f"keep_in_memory must be True or False, not {keep_in_memory!r}")
    if keep_in_memory and cache_file_name is not None:
        raise ValueError("keep_in_memory=True writes no file: pass no cache_file_name")
    return {"layout": layout, "num_proc": num_proc, "label_convention": label_convention,
            "padding_value": padding_value, "label_padding_value": label_padding_value,
            "cache_file_name": cache_file_name, "keep_in_memory": keep_in_memory}


def _write(source, pieces: Pieces, result: PackResult, *, layout, num_proc, label_convention,
           padding_value, label_padding_value, cache_file_name, keep_in_memory):
    """The packed dataset of ``result``, with options from ``_write_options``."""
    capacity = result.capacity
    positions = position_dtype(capacity)
    ranges = bin_ranges(np.full(result.num_bins, capacity, dtype=np.int64)
                        if layout == "padded" else result.used)
    shards = [part for part in np.array_split(np.arange(len(ranges)), num_proc) if part.size] \
        or [np.arange(0)]
    paths = None if keep_in_memory else _shard_paths(cache_file_name, len(shards))

    def build(bins: tuple[int, int], scratch: Scratch):
        first, last = bins
        offsets = result.offsets[first:last + 1]
        arrays = pack_arrays(source, pieces, result.items[offsets[0]:offsets[-1]],
                             offsets - offsets[0], capacity, layout=layout,
                             label_convention=label_convention, padding_value=padding_value,
                             label_padding_value=label_padding_value,
                             position_dtype=positions, scratch=scratch)
        return record_batch(arrays)

    schema = packed_schema(source, capacity)

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
            with ChunkedFile(partial) as sink, pa.ipc.new_stream(sink, schema) as writer:
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


