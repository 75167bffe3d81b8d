"""PyTorch tensors of packed batches, in the conventions trainers expect.

    from seqpacker.torch_utils import packed_collate_fn
    loader = DataLoader(dataset, batch_size=64, collate_fn=packed_collate_fn(4096))

The conventions are those trainers expect (see docs/training.md, which
also lists the changes for code written against older releases):

- ``labels`` are unshifted by default, with -100 at the first token of every
  sequence: Hugging Face models shift labels themselves, so pre-shifted
  labels would teach them the token after next.
  ``label_convention="shifted"`` gives pre-shifted labels for losses that
  do not shift.
- No 0/1 attention mask over a packed row (FlashAttention would unpad by it
  and let sequences attend to each other): sequences are told apart by
  ``position_ids`` and ``cu_seqlens``, or by an indexed or block-diagonal
  mask on request.
- ``cu_seqlens`` is one int32 tensor over the whole batch.

Needs PyTorch (``pip install 'seqpacker[torch]'``); ``import seqpacker``
never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ._training import batch_checks as _batch_checks
from ._core.optional import import_optional
from ._training.layout import (INT32_MAX, LABEL_CONVENTIONS, LAYOUTS, PackedArrays,
                             check_choice, check_fill_value, check_multiple, pack_arrays,
                             slot_lengths)
from .packer import Packer
from .result import PackResult
from ._training.tokens import FlatTokens, Pieces, as_flat_tokens, check_on_overlong, cut_overlong

torch = import_optional("torch", "torch", "seqpacker.torch_utils")

__all__ = ["FlatTokens", "PackedBatch", "PackedCollator", "block_causal_mask",
           "pack_result_to_tensors", "packed_collate_fn", "validate_batch"]

ATTENTION_MASKS = (None, "indexed", "block_causal")
COLLATE_OUTPUTS = ("batch", "hf")


@dataclass
class PackedBatch:
    """The tensors of one packed batch.

    Token tensors, ``(num_packs, capacity)`` in the padded layout and
    ``(1, total_tokens)`` in the flat one: ``input_ids``, ``labels`` and
    ``position_ids`` (int64), ``seq_idx`` (int32: each token's sequence in
    packing order, -1 for row padding) and ``loss_weights`` (float32, when
    asked for).

    ``cu_seqlens`` (int32) holds the segment boundaries over the flattened
    token tensors: one segment per sequence and, in the padded layout, one
    per row's padding. ``max_seqlen`` is the longest segment (a Python int).
    ``seq_lengths`` (int32) holds the tokens of each sequence in packing
    order. ``num_sequences`` counts the sequences and
    ``num_sequences_with_loss`` those with at least one label that is not
    ignored (the divisor of a per-sequence mean loss); ``num_loss_tokens``
    counts the labels that are not ignored. ``attention_mask`` is None
    unless asked for.
    """

    input_ids: torch.Tensor
    cu_seqlens: torch.Tensor
    max_seqlen: int
    position_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None
    seq_idx: torch.Tensor
    seq_lengths: torch.Tensor
    num_sequences: int
    num_loss_tokens: int
    loss_weights: torch.Tensor | None
    layout: str
    label_convention: str
    capacity: int
    ignore_index: int = -100
    num_sequences_with_loss: int = 0

    def to(self, device) -> PackedBatch:
        """The batch with every tensor on ``device``."""
        moved = {name: value.to(device) for name, value in vars(self).items()
                 if isinstance(value, torch.Tensor)}
        return replace(self, **moved)

    def to_hf(self, *, pad_cu_seqlens_to: int | None = None) -> dict:
        """Keyword arguments for a transformers model: ``model(**batch.to_hf())``.

        The fields and dtypes of ``DataCollatorWithFlattening(
        return_flash_attn_kwargs=True, return_seq_idx=True)``: ``input_ids``,
        ``labels``, ``position_ids`` (int64), ``seq_idx`` and
        ``cu_seq_lens_q/k`` (int32), ``max_length_q/k`` (ints), and
        ``use_cache=False``: transformers tells the sequences of a row apart
        by ``position_ids`` only when it runs without a cache, and a model's
        config usually asks for one. A block-causal ``attention_mask`` comes
        as the additive float32 mask (0 where a token may attend, the
        minimum elsewhere), which SDPA and eager attention both read right
        (eager attention adds a boolean mask to its scores as 1 and 0, which
        masks nothing). An indexed mask is left out: a stock model reads a
        2-D mask as 0/1 padding and would let the sequences of a row attend
        to each other. The dict goes to a ``Trainer`` as it is (see
        ``packed_collate_fn(..., output="hf")``).
        """
        cu = _pad_cu(self.cu_seqlens, pad_cu_seqlens_to)
        kwargs = {"input_ids": self.input_ids, "labels": self.labels,
                  "position_ids": self.position_ids, "seq_idx": self.seq_idx,
                  "cu_seq_lens_q": cu, "cu_seq_lens_k": cu,
                  "max_length_q": self.max_seqlen, "max_length_k": self.max_seqlen,
                  "use_cache": False}
        if self.attention_mask is not None and self.attention_mask.dim() == 4:
            kwargs["attention_mask"] = _additive(self.attention_mask, torch.float32)
        return kwargs

    def to_flash_attn(self, *, pad_cu_seqlens_to: int | None = None) -> dict:
        """``cu_seqlens_q/k`` and ``max_seqlen_q/k`` for ``flash_attn_varlen_func``
        over the flattened token tensors."""
        cu = _pad_cu(self.cu_seqlens, pad_cu_seqlens_to)
        return {"cu_seqlens_q": cu, "cu_seqlens_k": cu,
                "max_seqlen_q": self.max_seqlen, "max_seqlen_k": self.max_seqlen}

    def to_megatron(self, *, pad_cu_seqlens_to: int | None = None) -> dict:
        """The fields of Megatron-Core's ``PackedSeqParams`` (``qkv_format="thd"``).

        ``cu_seqlens_q/kv`` count the real tokens of each segment and
        ``cu_seqlens_q/kv_padded`` the slots they take, which differ when
        the batch was built with ``pad_to_multiple_of`` (context parallelism
        needs each sequence padded to a multiple of twice its size) or has
        row padding.
        """
        padded = _pad_cu(self.cu_seqlens, pad_cu_seqlens_to)
        real = _pad_cu(self._real_cu_seqlens(), pad_cu_seqlens_to)
        return {"qkv_format": "thd", "cu_seqlens_q": real, "cu_seqlens_kv": real,
                "cu_seqlens_q_padded": padded, "cu_seqlens_kv_padded": padded,
                "max_seqlen_q": self.max_seqlen, "max_seqlen_kv": self.max_seqlen}

    def _real_cu_seqlens(self) -> torch.Tensor:
        starts = self.cu_seqlens[:-1].long()
        is_sequence = self.seq_idx.reshape(-1)[starts] >= 0 if starts.numel() else starts.bool()
        real = torch.zeros(starts.numel(), dtype=torch.int64, device=self.cu_seqlens.device)
        real[is_sequence] = self.seq_lengths.to(torch.int64)
        cu = torch.zeros(starts.numel() + 1, dtype=torch.int32, device=real.device)
        cu[1:] = torch.cumsum(real, 0)
        return cu


def _pad_cu(cu: torch.Tensor, length: int | None) -> torch.Tensor:
    """``cu`` repeated at its last value up to ``length`` entries (static shapes)."""
    if length is None:
        return cu
    if isinstance(length, bool) or not isinstance(length, int) or length < cu.numel():
        raise ValueError(f"pad_cu_seqlens_to must be an int >= {cu.numel()} (the batch has "
                         f"{cu.numel() - 1} segments), not {length!r}")
    return torch.cat([cu, cu[-1:].expand(length - cu.numel())])


def pack_result_to_tensors(
    result: PackResult,
    token_ids,
    *,
    padding_value: int = 0,
    label_padding_value: int = -100,
    device=None,
    layout: str = "padded",
    label_convention: str = "hf",
    attention_mask: str | None = None,
    loss_weights: bool = False,
    pad_to_multiple_of: int | None = None,
) -> PackedBatch:
    """The ``PackedBatch`` of ``result`` with the tokens of ``token_ids``.

    ``token_ids[i]`` holds the tokens of sequence ``i`` of the result: a
    list of token lists or arrays, a list of dicts with ``input_ids`` and
    optional ``labels``, or ``FlatTokens``. Their lengths must be the packed
    ones (rounded up to ``pad_to_multiple_of`` when given).

    Args:
        padding_value: ``input_ids`` of padding.
        label_padding_value: the ignored label (padding, boundaries).
        device: where the tensors go (default: the CPU).
        layout: ``"padded"`` (one row of ``capacity`` per pack)
            or ``"flat"`` (one row of every token, no padding).
        label_convention: ``"hf"`` (unshifted, for models that shift) or
            ``"shifted"`` (pre-shifted, for losses that do not).
        attention_mask: None (the default), ``"indexed"`` (1, 1, 2, 2, ... per
            row, 0 on padding) or ``"block_causal"`` (boolean
            ``(rows, 1, T, T)``, True where a token may attend).
        loss_weights: add per-token ``1 / N_i`` weights (N_i: loss tokens of
            the token's sequence) for a per-sequence mean loss.
        pad_to_multiple_of: pad every sequence to a multiple of this many
            slots (Megatron context parallelism).
    """
    if not isinstance(result, PackResult):
        raise TypeError(f"result must be a PackResult, not {type(result).__name__}")
    options = _Options(result.capacity, padding_value, label_padding_value, layout,
                       label_convention, attention_mask, loss_weights, pad_to_multiple_of,
                       device)
    flat = as_flat_tokens(token_ids)
    lengths = flat.lengths
    if len(flat) != result.lengths.size:
        raise ValueError(f"token_ids has {len(flat)} sequences; the result packed "
                         f"{result.lengths.size}")
    slots = slot_lengths(lengths, options.multiple)
    wrong = np.flatnonzero(slots != result.lengths)
    if wrong.size:
        index = int(wrong[0])
        rounded = f" (rounded up to {int(slots[index])})" if options.multiple > 1 else ""
        raise ValueError(f"sequence {index} has {int(lengths[index])} tokens{rounded}, but the "
                         f"result packed it with length {int(result.lengths[index])}")
    arrays = options.arrays(flat, Pieces.whole(lengths), result.items, result.offsets,
                            result.capacity)
    return options.batch(arrays)


class _Options:
    """The checked layout options that a batch is built with."""

    def __init__(self, capacity, padding_value, label_padding_value, layout,
                 label_convention, attention_mask, loss_weights, pad_to_multiple_of, device):
        self.padding_value = check_fill_value("padding_value", padding_value)
        self.ignore = check_fill_value("label_padding_value", label_padding_value)
        self.layout = check_choice("layout", layout, LAYOUTS)
        self.label_convention = check_choice("label_convention", label_convention,
                                             LABEL_CONVENTIONS)
        self.attention_mask = check_choice("attention_mask", attention_mask, ATTENTION_MASKS)
        if not isinstance(loss_weights, bool):
            raise TypeError(f"loss_weights must be True or False, not {loss_weights!r}")
        self.loss_weights = loss_weights
        self.multiple = check_multiple(pad_to_multiple_of)
        if capacity % self.multiple:
            raise ValueError(f"capacity {capacity} must be a multiple of "
                             f"pad_to_multiple_of = {self.multiple}")
        self.device = device

    def arrays(self, flat, pieces, order, bin_offsets, capacity) -> PackedArrays:
        _check_unshifted(flat, self.ignore)
        return pack_arrays(flat, pieces, order, bin_offsets, capacity, layout=self.layout,
                           label_convention=self.label_convention,
                           padding_value=self.padding_value, label_padding_value=self.ignore,
                           multiple=self.multiple, max_slots=INT32_MAX)

    def batch(self, arrays: PackedArrays) -> PackedBatch:
        total = int(arrays.cu_seqlens[-1])
        rows = arrays.row_starts.size - 1 if self.layout == "padded" else 1
        shape = (rows, arrays.capacity if self.layout == "padded" else total)

        def tokens(values: np.ndarray, dtype=np.int64) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(values, dtype=dtype)).view(shape)

        labels = tokens(arrays.labels)
        valid = arrays.labels != self.ignore
        loss_counts = _loss_counts(arrays, valid)
        batch = PackedBatch(
            input_ids=tokens(arrays.input_ids),
            cu_seqlens=torch.from_numpy(arrays.cu_seqlens.astype(np.int32)),
            max_seqlen=arrays.max_seqlen,
            position_ids=tokens(arrays.position_ids),
            labels=labels,
            attention_mask=self._mask(arrays, shape),
            seq_idx=tokens(arrays.seq_idx(), np.int32),
            seq_lengths=torch.from_numpy(arrays.seq_lengths.astype(np.int32)),
            num_sequences=arrays.num_sequences,
            num_sequences_with_loss=int(np.count_nonzero(loss_counts)),
            num_loss_tokens=int(np.count_nonzero(valid)),
            loss_weights=tokens(_loss_weights(arrays, valid, loss_counts), np.float32)
            if self.loss_weights else None,
            layout=self.layout,
            label_convention=self.label_convention,
            capacity=arrays.capacity,
            ignore_index=self.ignore,
        )
        return batch if self.device is None else batch.to(self.device)

    def _mask(self, arrays: PackedArrays, shape) -> torch.Tensor | None:
        if self.attention_mask is None:
            return None
        if self.attention_mask == "indexed":
            # The sequence's number within its row, from 1; 0 on row padding.
            # (The flat layout is one row: every sequence counts from its first.)
            bins = arrays.seq_bin
            row_first = np.searchsorted(bins, bins) if self.layout == "padded" \
                else np.zeros_like(bins)
            number = np.zeros(arrays.segment_sequence.size, dtype=np.int64)
            is_sequence = arrays.segment_sequence >= 0
            sequence = arrays.segment_sequence[is_sequence]
            number[is_sequence] = sequence - row_first[sequence] + 1
            return torch.from_numpy(np.repeat(number, np.diff(arrays.cu_seqlens))).view(shape)
        return _block_causal(torch.from_numpy(arrays.segment_ids()).view(shape), torch.bool)


def _check_unshifted(flat: FlatTokens, ignore: int) -> None:
    """Given labels name each token's own target: the token itself, or
    ``ignore``. Anything else (labels shifted already, as
    ``pack_dataset(label_convention="shifted")`` writes them) would be
    shifted again by the layout or by the model."""
    if flat.labels is None:
        return
    wrong = np.flatnonzero((flat.labels != ignore) & (flat.labels != flat.tokens))
    if wrong.size:
        t = int(wrong[0])
        s = int(np.searchsorted(flat.offsets, t, side="right")) - 1
        raise ValueError(f"labels of sequence {s} hold {int(flat.labels[t])} at token "
                         f"{t - int(flat.offsets[s])}, neither that token "
                         f"({int(flat.tokens[t])}) nor the ignored label {ignore}: give "
                         "unshifted labels (the tokens, with the positions not to train set "
                         f"to {ignore}); the layout shifts them as label_convention says")


def _loss_counts(arrays: PackedArrays, valid: np.ndarray) -> np.ndarray:
    """The loss tokens (labels not ignored) of each segment; padding has none."""
    return np.bincount(arrays.segment_ids()[valid], minlength=arrays.cu_seqlens.size - 1)


def _loss_weights(arrays: PackedArrays, valid: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """1 / (loss tokens of the token's segment) on loss tokens, 0 elsewhere."""
    segments = arrays.segment_ids()
    weights = np.zeros(valid.size, dtype=np.float32)
    weights[valid] = 1.0 / counts[segments[valid]]
    return weights


def _block_causal(segments: torch.Tensor, dtype) -> torch.Tensor:
    """``(rows, 1, T, T)``: may token i attend to token j (same segment, j <= i)."""
    same = segments[:, :, None] == segments[:, None, :]
    length = segments.shape[1]
    allowed = (same & torch.ones(length, length, dtype=torch.bool,
                                 device=segments.device).tril())[:, None]
    return allowed if dtype == torch.bool else _additive(allowed, dtype)


def _additive(allowed: torch.Tensor, dtype) -> torch.Tensor:
    """A boolean mask (True: may attend) as the additive one that attention
    adds to its scores: 0 where allowed, the dtype's minimum elsewhere."""
    blocked = torch.full(allowed.shape, torch.finfo(dtype).min, dtype=dtype,
                         device=allowed.device)
    return blocked.masked_fill(allowed, 0.0)


def block_causal_mask(batch: PackedBatch, dtype=torch.bool) -> torch.Tensor:
    """The 4-D block-diagonal causal mask of ``batch``, ``(rows, 1, T, T)``.

    Boolean (True: may attend) for SDPA attention; with a floating dtype,
    additive (0 where a token may attend, the dtype's minimum elsewhere), as
    eager attention adds it to the scores.
    """
    if not isinstance(dtype, torch.dtype) or not (dtype == torch.bool or dtype.is_floating_point):
        raise TypeError(f"dtype must be torch.bool or a floating dtype (an additive mask), "
                        f"not {dtype!r}")
    cu = batch.cu_seqlens.long()
    segments = torch.repeat_interleave(torch.arange(cu.numel() - 1, device=cu.device),
                                       cu.diff())
    return _block_causal(segments.view(batch.input_ids.shape), dtype)


class PackedCollator:
    """A ``collate_fn`` that packs each batch (see ``packed_collate_fn``).

    It pickles by its settings, so DataLoader workers can use it under
    both the fork and the spawn start methods.
    """

    def __init__(self, capacity: int, *, strategy: str = "obfd", seed: int | None = None,
                 padding_value: int = 0, label_padding_value: int = -100,
                 layout: str = "padded", label_convention: str = "hf",
                 on_overlong: str = "error", attention_mask: str | None = None,
                 loss_weights: bool = False, pad_to_multiple_of: int | None = None,
                 device=None, k: int | None = None, threads: int | None = 1,
                 output: str = "batch"):
        self._settings = dict(locals())
        del self._settings["self"]
        self._setup()

    def _setup(self) -> None:
        s = self._settings
        self._packer = Packer(s["capacity"], s["strategy"], s["seed"], k=s["k"],
                              threads=s["threads"])
        self._options = _Options(self._packer.capacity, s["padding_value"],
                                 s["label_padding_value"], s["layout"], s["label_convention"],
                                 s["attention_mask"], s["loss_weights"],
                                 s["pad_to_multiple_of"], s["device"])
        self._on_overlong = check_on_overlong(s["on_overlong"])
        self._output = check_choice("output", s["output"], COLLATE_OUTPUTS)

    def __getstate__(self) -> dict:
        return self._settings

    def __setstate__(self, settings: dict) -> None:
        self._settings = settings
        self._setup()

    def __call__(self, batch) -> PackedBatch | dict:
        flat = as_flat_tokens(batch)
        capacity = self._packer.capacity
        pieces = cut_overlong(flat.lengths, capacity, self._on_overlong)
        result = self._packer.pack(slot_lengths(pieces.length, self._options.multiple))
        arrays = self._options.arrays(flat, pieces, result.items, result.offsets, capacity)
        packed = self._options.batch(arrays)
        return packed.to_hf() if self._output == "hf" else packed

    def __repr__(self) -> str:
        s = self._settings
        return (f"PackedCollator(capacity={s['capacity']}, strategy={s['strategy']!r}, "
                f"layout={s['layout']!r}, label_convention={s['label_convention']!r}, "
                f"output={s['output']!r})")


def packed_collate_fn(capacity: int, *, strategy: str = "obfd", seed: int | None = None,
                      padding_value: int = 0, label_padding_value: int = -100,
                      **options) -> Callable[[list], PackedBatch | dict]:
    """A ``collate_fn`` for ``torch.utils.data.DataLoader`` that packs each batch.

    The batch is a list of token lists or arrays, or of dicts with
    ``input_ids`` and optional ``labels``, ``attention_mask`` (its zeros
    mark padding, which is dropped) and ``seq_lengths`` (a row holding
    several sequences, as ``pack_dataset`` writes them, is split into them).
    Other keyword arguments: ``layout``, ``label_convention``,
    ``attention_mask``, ``loss_weights``, ``pad_to_multiple_of`` and
    ``device`` as in ``pack_result_to_tensors``; ``on_overlong``
    (``"error"``, ``"truncate"`` or ``"split"``); ``k`` and ``threads`` as in
    ``Packer`` (``threads`` defaults to 1: DataLoader workers are the
    parallelism); ``output``: ``"batch"`` (a ``PackedBatch``) or ``"hf"``
    (its ``to_hf()`` dict, the ``data_collator`` of a transformers
    ``Trainer``).
    """
    return PackedCollator(capacity, strategy=strategy, seed=seed, padding_value=padding_value,
                          label_padding_value=label_padding_value, **options)


def validate_batch(batch, *, label_convention: str | None = None,
                   capacity: int | None = None, ignore_index: int | None = None,
                   seq_lengths=None) -> None:
    """Raise ValueError if ``batch`` would train differently from its sequences alone.

    ``batch`` is a ``PackedBatch`` or a dict of tensors (``to_hf()``'s, or
    a collator's). It checks that ``cu_seqlens`` (``cu_seq_lens_q``)
    agrees with ``position_ids``, that no segment or row is longer than
    ``capacity``, that labels follow the label convention (no double
    shift, ignored at sequence boundaries), that padding is not trained,
    that an attention mask keeps every sequence to itself, and that
    ``seq_idx`` and ``max_seqlen`` agree with the segments.
    ``label_convention``, ``capacity`` and ``ignore_index`` default to the
    batch's own (``"hf"``, unchecked and -100 for a dict).

    ``seq_lengths`` (a dict's own ``seq_lengths`` by default) gives the
    tokens of each sequence in the batch, in order, e.g. the concatenated
    ``seq_lengths`` of the ``pack_dataset`` rows it was collated from: each
    sequence must then have a segment of its own, which catches a collator
    that merged the sequences of a packed row. Without it, such a merge
    cannot be told from one long sequence.
    """
    if isinstance(batch, PackedBatch):
        fields = {"input_ids": batch.input_ids, "labels": batch.labels,
                  "position_ids": batch.position_ids, "cu_seqlens": batch.cu_seqlens,
                  "max_seqlen": batch.max_seqlen, "seq_idx": batch.seq_idx,
                  "seq_lengths": batch.seq_lengths, "attention_mask": batch.attention_mask}
        label_convention = label_convention or batch.label_convention
        capacity = capacity if capacity is not None else batch.capacity
        ignore = batch.ignore_index if ignore_index is None else ignore_index
    elif isinstance(batch, dict):
        fields = {"input_ids": batch.get("input_ids"), "labels": batch.get("labels"),
                  "position_ids": batch.get("position_ids"),
                  "cu_seqlens": batch.get("cu_seq_lens_q", batch.get("cu_seqlens")),
                  "max_seqlen": batch.get("max_length_q", batch.get("max_seqlen")),
                  "seq_idx": batch.get("seq_idx"), "seq_lengths": batch.get("seq_lengths"),
                  "attention_mask": batch.get("attention_mask")}
        label_convention = label_convention or "hf"
        ignore = -100 if ignore_index is None else ignore_index
    else:
        raise TypeError(f"batch must be a PackedBatch or a dict of tensors, "
                        f"not {type(batch).__name__}")
    check_choice("label_convention", label_convention, LABEL_CONVENTIONS)
    if seq_lengths is not None:
        fields["seq_lengths"] = seq_lengths
    arrays = {name: value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
              for name, value in fields.items()}
    if arrays.get("seq_lengths") is not None:
        arrays["seq_lengths"] = np.asarray(arrays["seq_lengths"])
    _batch_checks.check_batch(arrays, label_convention=label_convention, capacity=capacity,
                              ignore=ignore)
