"""seqpacker.torch_utils: hand-checked batches for every field, both label
conventions, the masks and the adapters; validate_batch on every mistake
it names; the collator in DataLoader workers. Needs torch."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

from optional import import_error_without, optional_import

torch = optional_import("torch")

from seqpacker import pack_sequences  # noqa: E402
from seqpacker.torch_utils import (FlatTokens, PackedBatch, block_causal_mask,  # noqa: E402
                                   pack_result_to_tensors, packed_collate_fn, validate_batch)

SEQS = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
IG = -100  # an ignored label


@pytest.fixture(scope="module")
def result():
    packed = pack_sequences([3, 2, 4, 1], capacity=6)
    assert packed.bins == [[2, 1], [0, 3]]
    return packed


def values(tensor):
    return tensor.tolist()


def test_padded_batch_by_hand(result):
    b = pack_result_to_tensors(result, SEQS)
    assert isinstance(b, PackedBatch) and b.layout == "padded" and b.capacity == 6
    assert values(b.input_ids) == [[6, 7, 8, 9, 4, 5], [1, 2, 3, 10, 0, 0]]
    assert values(b.labels) == [[IG, 7, 8, 9, IG, 5], [IG, 2, 3, IG, IG, IG]]
    assert values(b.position_ids) == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 1]]
    assert values(b.cu_seqlens) == [0, 4, 6, 9, 10, 12]
    assert values(b.seq_idx) == [[0, 0, 0, 0, 1, 1], [2, 2, 2, 3, -1, -1]]
    assert values(b.seq_lengths) == [4, 2, 3, 1]
    assert (b.max_seqlen, b.num_sequences, b.num_loss_tokens) == (4, 4, 6)
    assert b.attention_mask is None and b.loss_weights is None
    for name in ("input_ids", "labels", "position_ids"):
        assert getattr(b, name).dtype == torch.int64
    assert b.cu_seqlens.dtype == b.seq_idx.dtype == b.seq_lengths.dtype == torch.int32
    assert type(b.max_seqlen) is int
    validate_batch(b)


def test_flat_batch_by_hand(result):
    b = pack_result_to_tensors(result, SEQS, layout="flat")
    assert values(b.input_ids) == [[6, 7, 8, 9, 4, 5, 1, 2, 3, 10]]
    assert values(b.labels) == [[IG, 7, 8, 9, IG, 5, IG, 2, 3, IG]]
    assert values(b.position_ids) == [[0, 1, 2, 3, 0, 1, 0, 1, 2, 0]]
    assert values(b.cu_seqlens) == [0, 4, 6, 9, 10]
    assert values(b.seq_idx) == [[0, 0, 0, 0, 1, 1, 2, 2, 2, 3]]
    validate_batch(b)


def test_shifted_labels_by_hand(result):
    b = pack_result_to_tensors(result, SEQS, label_convention="shifted")
    assert values(b.labels) == [[7, 8, 9, IG, 5, IG], [2, 3, IG, IG, IG, IG]]
    assert b.num_loss_tokens == 6
    validate_batch(b)


def test_user_labels_keep_their_mask_and_get_the_boundary_rule(result):
    rows = [{"input_ids": s, "labels": [IG] + s[1:] if len(s) > 2 else s} for s in SEQS]
    rows[2]["labels"] = [IG, IG, 8, 9]  # a masked prompt
    b = pack_result_to_tensors(result, rows)
    assert values(b.labels) == [[IG, IG, 8, 9, IG, 5], [IG, 2, 3, IG, IG, IG]]
    s = pack_result_to_tensors(result, rows, label_convention="shifted")
    assert values(s.labels) == [[IG, 8, 9, IG, 5, IG], [2, 3, IG, IG, IG, IG]]
    assert b.num_loss_tokens == 5


def test_padding_values(result):
    b = pack_result_to_tensors(result, SEQS, padding_value=99, label_padding_value=-1)
    assert values(b.input_ids)[1] == [1, 2, 3, 10, 99, 99]
    assert values(b.labels)[1] == [-1, 2, 3, -1, -1, -1]
    assert b.ignore_index == -1 and b.num_loss_tokens == 6
    validate_batch(b)


def test_indexed_mask(result):
    padded = pack_result_to_tensors(result, SEQS, attention_mask="indexed")
    assert values(padded.attention_mask) == [[1, 1, 1, 1, 2, 2], [1, 1, 1, 2, 0, 0]]
    flat = pack_result_to_tensors(result, SEQS, layout="flat", attention_mask="indexed")
    assert values(flat.attention_mask) == [[1, 1, 1, 1, 2, 2, 3, 3, 3, 4]]
    validate_batch(padded), validate_batch(flat)


def test_block_causal_mask(result):
    b = pack_result_to_tensors(result, SEQS, attention_mask="block_causal")
    mask = b.attention_mask
    assert mask.shape == (2, 1, 6, 6) and mask.dtype == torch.bool
    segments = [[0, 0, 0, 0, 1, 1], [2, 2, 2, 3, 4, 4]]
    for r in range(2):
        for i in range(6):
            for j in range(6):
                assert bool(mask[r, 0, i, j]) == (segments[r][i] == segments[r][j] and j <= i)
    additive = block_causal_mask(b, torch.float32)
    assert torch.equal(additive == 0, mask)
    assert additive.min() == torch.finfo(torch.float32).min
    validate_batch(b)


def test_sequences_with_a_loss_token_are_counted_apart(result):
    """The per-sequence mean divides by the sequences that have a loss token;
    a 1-token sequence (hf labels) or a fully masked one has none."""
    b = pack_result_to_tensors(result, SEQS)
    assert (b.num_sequences, b.num_sequences_with_loss) == (4, 3)
    masked = [{"input_ids": s, "labels": [IG] * len(s) if i == 1 else s}
              for i, s in enumerate(SEQS)]
    m = pack_result_to_tensors(result, masked, layout="flat")
    assert (m.num_sequences, m.num_sequences_with_loss) == (4, 2)
    shifted = pack_result_to_tensors(result, SEQS, label_convention="shifted")
    assert shifted.num_sequences_with_loss == 3


def test_loss_weights(result):
    b = pack_result_to_tensors(result, SEQS, loss_weights=True)
    w = b.loss_weights
    assert w.dtype == torch.float32
    third = pytest.approx(1 / 3)
    assert values(w[0]) == [0, third, third, third, 0, 1]
    assert values(w[1]) == [0, 0.5, 0.5, 0, 0, 0]  # the 1-token sequence has no loss token
    # Summed over each sequence's tokens: 1 for every sequence with a loss token.
    assert float(w.sum()) == pytest.approx(3) == b.num_sequences_with_loss


def test_adapters(result):
    b = pack_result_to_tensors(result, SEQS, layout="flat")
    hf = b.to_hf()
    assert set(hf) == {"input_ids", "labels", "position_ids", "seq_idx", "cu_seq_lens_q",
                       "cu_seq_lens_k", "max_length_q", "max_length_k", "use_cache"}
    assert hf["cu_seq_lens_q"] is b.cu_seqlens and hf["max_length_k"] == 4
    # transformers finds the sequences of a row from position_ids only without a cache.
    assert hf["use_cache"] is False
    fa = b.to_flash_attn()
    assert values(fa["cu_seqlens_q"]) == [0, 4, 6, 9, 10] and fa["max_seqlen_k"] == 4
    static = b.to_flash_attn(pad_cu_seqlens_to=8)
    assert values(static["cu_seqlens_k"]) == [0, 4, 6, 9, 10, 10, 10, 10]
    with pytest.raises(ValueError, match="pad_cu_seqlens_to must be an int >= 5 \\(the batch "
                                         "has 4 segments\\), not 3"):
        b.to_hf(pad_cu_seqlens_to=3)
    padded = pack_result_to_tensors(result, SEQS, attention_mask="indexed")
    assert "attention_mask" not in padded.to_hf()  # a stock model reads it as 0/1 padding
    causal = pack_result_to_tensors(result, SEQS, attention_mask="block_causal")
    # Additive float32, which SDPA and eager attention both read right (eager
    # adds a boolean mask to its scores as 1 and 0, masking nothing).
    additive = causal.to_hf()["attention_mask"]
    assert additive.dtype == torch.float32
    assert torch.equal(additive, block_causal_mask(causal, torch.float32))
    validate_batch(causal.to_hf())
    mg = padded.to_megatron()
    assert mg["qkv_format"] == "thd"
    assert values(mg["cu_seqlens_q"]) == [0, 4, 6, 9, 10, 10]  # the row padding holds no token
    assert values(mg["cu_seqlens_q_padded"]) == [0, 4, 6, 9, 10, 12]
    assert mg["max_seqlen_kv"] == 4


def test_pad_to_multiple_of_for_context_parallelism():
    collate = packed_collate_fn(8, pad_to_multiple_of=4, layout="flat")
    b = collate([[1, 2, 3], [4, 5, 6, 7, 8], [9]])
    # Each sequence takes a slot of a multiple of 4; positions run through it.
    assert sorted(values(b.seq_lengths)) == [1, 3, 5]
    cu = values(b.cu_seqlens)
    assert np.diff(cu).tolist() == [-(-n // 4) * 4 for n in values(b.seq_lengths)]
    mg = b.to_megatron()
    assert values(mg["cu_seqlens_q"]) == np.cumsum([0] + values(b.seq_lengths)).tolist()
    assert values(mg["cu_seqlens_q_padded"]) == cu
    validate_batch(b)
    with pytest.raises(ValueError, match="capacity 10 must be a multiple of "
                                         "pad_to_multiple_of = 4"):
        packed_collate_fn(10, pad_to_multiple_of=4)
    # The same rule for a packing made elsewhere.
    result = pack_sequences([4, 4], capacity=6)
    with pytest.raises(ValueError, match="capacity 6 must be a multiple of "
                                         "pad_to_multiple_of = 4"):
        pack_result_to_tensors(result, [[1, 2, 3, 4], [5, 6, 7, 8]], pad_to_multiple_of=4)


def test_to_device_keeps_everything(result):
    b = pack_result_to_tensors(result, SEQS, attention_mask="indexed", loss_weights=True,
                               device="cpu")
    moved = b.to("cpu")
    assert torch.equal(moved.input_ids, b.input_ids) and moved.max_seqlen == b.max_seqlen


def test_every_token_input_form_gives_the_same_batch(result):
    want = pack_result_to_tensors(result, SEQS)
    tokens = np.array([t for s in SEQS for t in s])
    for form in (tuple(SEQS), [np.array(s) for s in SEQS], [torch.tensor(s) for s in SEQS],
                 [{"input_ids": s} for s in SEQS], FlatTokens(tokens, [0, 3, 5, 9, 10])):
        got = pack_result_to_tensors(result, form)
        assert torch.equal(got.input_ids, want.input_ids)
        assert torch.equal(got.labels, want.labels)


@pytest.mark.parametrize("call, error, message", [
    (lambda r: pack_result_to_tensors(r, SEQS[:3]), ValueError,
     "token_ids has 3 sequences; the result packed 4"),
    (lambda r: pack_result_to_tensors(r, [[1, 2], [4, 5], [6, 7, 8, 9], [10]]), ValueError,
     "sequence 0 has 2 tokens, but the result packed it with length 3"),
    (lambda r: pack_result_to_tensors(r, SEQS, layout="rows"), ValueError,
     "layout must be one of 'padded', 'flat', not 'rows'"),
    (lambda r: pack_result_to_tensors(r, SEQS, label_convention="megatron"), ValueError,
     "label_convention must be one of 'hf', 'shifted'"),
    (lambda r: pack_result_to_tensors(r, SEQS, attention_mask="binary"), ValueError,
     "attention_mask must be one of None, 'indexed', 'block_causal'"),
    (lambda r: pack_result_to_tensors(r, SEQS, loss_weights=1), TypeError,
     "loss_weights must be True or False"),
    (lambda r: pack_result_to_tensors(r, SEQS, padding_value=0.5), TypeError,
     "padding_value must be an int"),
    (lambda r: pack_result_to_tensors(r, SEQS, pad_to_multiple_of=0), ValueError,
     "pad_to_multiple_of must be an int >= 1 or None, not 0"),
    (lambda r: pack_result_to_tensors(r, SEQS, pad_to_multiple_of=2), ValueError,
     "sequence 0 has 3 tokens \\(rounded up to 4\\), but the result packed it with length 3"),
    (lambda r: pack_result_to_tensors(r.bins, SEQS), TypeError,
     "result must be a PackResult, not list"),
    (lambda r: packed_collate_fn(2**33)([[1, 2]]), ValueError,
     "the batch would hold 8589934592 token slots, more than 2147483647"),
    (lambda r: packed_collate_fn(8, output="dict"), ValueError,
     "output must be one of 'batch', 'hf', not 'dict'"),
    (lambda r: block_causal_mask(pack_result_to_tensors(r, SEQS), torch.int64), TypeError,
     "dtype must be torch.bool or a floating dtype"),
    (lambda r: block_causal_mask(pack_result_to_tensors(r, SEQS), "float32"), TypeError,
     "dtype must be torch.bool or a floating dtype"),
    (lambda r: validate_batch({"input_ids": torch.tensor([1, 2]), "labels": torch.tensor([1, 2]),
                               "position_ids": torch.tensor([0, 1])}), ValueError,
     "input_ids must be 2-D \\(rows, tokens\\), got shape \\(2,\\): a single row is "
     "input_ids\\[None\\]"),
    (lambda r: validate_batch({"input_ids": [[1, 2]], "labels": torch.tensor([[1, 2]]),
                               "position_ids": torch.tensor([[0, 1]])}), TypeError,
     "input_ids must be a tensor, not list"),
    (lambda r: validate_batch({"input_ids": torch.tensor([[1, 2]]),
                               "labels": torch.tensor([[1, 2, 3]]),
                               "position_ids": torch.tensor([[0, 1]])}), ValueError,
     "labels must have the shape of input_ids \\(1, 2\\), got \\(1, 3\\)"),
])
def test_bad_arguments(result, call, error, message):
    with pytest.raises(error, match=message):
        call(result)


def test_collate_packs_each_batch_and_handles_overlong():
    collate = packed_collate_fn(4, strategy="obfd")
    b = collate([[1, 2], [3, 4, 5], [6]])
    assert values(b.input_ids) == [[3, 4, 5, 6], [1, 2, 0, 0]]
    with pytest.raises(ValueError, match="sequence 1 has 6 tokens, more than the capacity 4"):
        collate([[1], [1, 2, 3, 4, 5, 6]])
    split = packed_collate_fn(4, on_overlong="split", layout="flat")([[1, 2, 3, 4, 5, 6]])
    assert values(split.input_ids) == [[1, 2, 3, 4, 5, 6]]
    assert values(split.position_ids) == [[0, 1, 2, 3, 0, 1]]
    assert values(split.labels) == [[IG, 2, 3, 4, IG, 6]]  # each chunk is a sequence
    cut = packed_collate_fn(4, on_overlong="truncate", layout="flat")([[1, 2, 3, 4, 5, 6]])
    assert values(cut.input_ids) == [[1, 2, 3, 4]]
    with pytest.raises(ValueError, match="on_overlong must be one of"):
        packed_collate_fn(4, on_overlong="wrap")
    with pytest.raises(ValueError, match="capacity = 0 is out of range"):
        packed_collate_fn(0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'mask'"):
        packed_collate_fn(4, mask="indexed")


def test_rows_drop_their_attention_mask_padding():
    """A tokenizer's padding (attention_mask 0, on either side) is not part
    of the sequence: it is dropped, labels with it, never trained."""
    rows = [{"input_ids": [0, 0, 1, 2, 3], "attention_mask": [0, 0, 1, 1, 1]},
            {"input_ids": [4, 5, 0], "attention_mask": [1, 1, 0]}]
    plain = packed_collate_fn(8, strategy="nf", layout="flat")([[1, 2, 3], [4, 5]])
    got = packed_collate_fn(8, strategy="nf", layout="flat")(rows)
    for name in ("input_ids", "labels", "position_ids", "cu_seqlens"):
        assert torch.equal(getattr(got, name), getattr(plain, name)), name
    labelled = [dict(row, labels=row["input_ids"]) for row in rows]
    assert torch.equal(packed_collate_fn(8, strategy="nf")(labelled).labels,
                       packed_collate_fn(8, strategy="nf")([[1, 2, 3], [4, 5]]).labels)
    # A mask with all ones changes nothing; tensors are read as lists are.
    ones = [{"input_ids": torch.tensor(s), "attention_mask": torch.ones(len(s), dtype=torch.int64)} for s in SEQS]
    assert torch.equal(packed_collate_fn(6)(ones).input_ids, packed_collate_fn(6)(SEQS).input_ids)
    for bad, message in [
        ([{"input_ids": [1, 2], "attention_mask": [1, 2]}],
         "attention_mask of sequence 0 holds 2 at token 1: a row's mask must be 0"),
        ([{"input_ids": [1, 2], "attention_mask": [1]}],
         "sequence 0 has 2 input_ids but 1 attention_mask"),
        ([{"input_ids": [1, 2], "attention_mask": [1, 1]}, {"input_ids": [3]}],
         "sequence 1 lacks 'attention_mask' and sequence 0 has them"),
        ([{"input_ids": [0, 0], "attention_mask": [0, 0]}],
         "sequence 0 is empty"),
        ([{"input_ids": [1, 2], "attention_mask": [1, 1]},
          {"input_ids": [1, 0, 2, 0], "attention_mask": [1, 0, 1, 0]}],
         "attention_mask of sequence 1 holds 0 at token 1, between tokens it keeps"),
    ]:
        with pytest.raises(ValueError, match=message):
            packed_collate_fn(8)(bad)


def test_rows_with_seq_lengths_are_split_into_their_sequences():
    """A packed row (pack_dataset's flat rows carry seq_lengths) holds
    several sequences: each is packed as itself, never merged with the
    others of its row."""
    rows = [{"input_ids": [6, 7, 8, 9, 4, 5], "seq_lengths": [4, 2],
             "position_ids": [0, 1, 2, 3, 0, 1]},
            {"input_ids": [1, 2, 3, 10], "seq_lengths": [3, 1], "position_ids": [0, 1, 2, 0]}]
    got = packed_collate_fn(6, strategy="nf", layout="flat")(rows)
    want = packed_collate_fn(6, strategy="nf", layout="flat")([[6, 7, 8, 9], [4, 5], [1, 2, 3],
                                                               [10]])
    for name in ("input_ids", "labels", "position_ids", "cu_seqlens"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name
    for bad, message in [
        ([{"input_ids": [1, 2, 3], "seq_lengths": [2]}],
         "row 0 has 3 tokens, but its seq_lengths add up to 2"),
        ([{"input_ids": [1, 2, 3], "seq_lengths": [3, 0]}],
         "seq_lengths of row 0 holds 0: every sequence needs at least one token"),
        ([{"input_ids": [1, 2, 3], "position_ids": [0, 1, 0]}],
         "the rows carry position_ids but no seq_lengths"),
    ]:
        with pytest.raises(ValueError, match=message):
            packed_collate_fn(8)(bad)


def test_shifted_labels_in_rows_are_refused():
    """Rows whose labels are shifted already (pack_dataset with
    label_convention="shifted") would be shifted again."""
    rows = [{"input_ids": [1, 2, 3], "labels": [2, 3, IG]}]
    for convention in ("hf", "shifted"):
        with pytest.raises(ValueError, match="labels of sequence 0 hold 2 at token 0, neither "
                                             "that token \\(1\\) nor the ignored label -100"):
            packed_collate_fn(8, label_convention=convention)(rows)
    masked = [{"input_ids": [1, 2, 3], "labels": [IG, 2, 3]}]
    assert values(packed_collate_fn(8)(masked).labels) == [[IG, 2, 3, IG, IG, IG, IG, IG]]


def test_hf_output_is_the_to_hf_dict():
    """output="hf": the dict a transformers Trainer takes from its data_collator."""
    rows = [{"input_ids": s} for s in SEQS]
    got = packed_collate_fn(6, output="hf")(rows)
    want = packed_collate_fn(6)(rows).to_hf()
    assert set(got) == set(want) and got["use_cache"] is False
    for name, value in want.items():
        assert torch.equal(got[name], value) if isinstance(value, torch.Tensor) \
            else got[name] == value, name
    clone = pickle.loads(pickle.dumps(packed_collate_fn(6, output="hf")))
    assert isinstance(clone(rows), dict) and "output='hf'" in repr(clone)


def test_collate_pickles_by_its_settings():
    collate = packed_collate_fn(8, strategy="ffs", seed=3, layout="flat",
                                label_convention="shifted")
    clone = pickle.loads(pickle.dumps(collate))
    batch = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10]]
    a, b = collate(batch), clone(batch)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    assert repr(clone).startswith("PackedCollator(capacity=8, strategy='ffs'")


WORKER_SCRIPT = """
import sys
from torch.utils.data import DataLoader
from seqpacker.torch_utils import packed_collate_fn, validate_batch

if __name__ == "__main__":
    data = [[i] * (1 + i % 7) for i in range(40)]
    loader = DataLoader(data, batch_size=8, num_workers=2, collate_fn=packed_collate_fn(16),
                        multiprocessing_context=sys.argv[1])
    batches = list(loader)
    for b in batches:
        validate_batch(b)
    print(sum(b.num_sequences for b in batches), sum(int((b.seq_idx >= 0).sum()) for b in batches))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_collate_in_dataloader_workers(method, tmp_path):
    script = tmp_path / "loader.py"
    script.write_text(WORKER_SCRIPT)
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["40", str(sum(1 + i % 7 for i in range(40)))]


# ---- validate_batch: each mistake it names --------------------------------

def test_validate_names_a_double_shift(result):
    shifted = pack_result_to_tensors(result, SEQS, label_convention="shifted")
    with pytest.raises(ValueError, match="labels\\[0, 0\\] = 7 at the first token of a sequence"):
        validate_batch(shifted, label_convention="hf")
    # Pre-shifted labels, with -100 at each first token too.
    labels = shifted.labels.clone()
    labels[shifted.position_ids == 0] = IG
    with pytest.raises(ValueError, match="labels are shifted .* shifts them again"):
        validate_batch({"input_ids": shifted.input_ids, "labels": labels,
                        "position_ids": shifted.position_ids})
    hf = pack_result_to_tensors(result, SEQS, layout="flat")
    labels = hf.labels.clone()
    labels[0, hf.cu_seqlens[1:].long() - 1] = IG  # so that no label crosses a boundary
    with pytest.raises(ValueError, match="labels are not shifted \\(labels\\[0, 1\\] = 7 is "
                                         "the token itself\\)"):
        validate_batch({**hf.to_hf(), "labels": labels}, label_convention="shifted")


def test_validate_names_labels_across_a_boundary(result):
    b = pack_result_to_tensors(result, SEQS, label_convention="shifted")
    labels = b.labels.clone()
    labels[0, 3] = 4  # the last token of sequence 0 predicting the next sequence's first
    with pytest.raises(ValueError, match="labels\\[0, 3\\] = 4 at the last token of a sequence"):
        validate_batch({**b.to_hf(), "labels": labels}, label_convention="shifted")
    b = pack_result_to_tensors(result, SEQS)
    labels = b.labels.clone()
    labels[0, 2] = 55
    with pytest.raises(ValueError, match="labels\\[0, 2\\] = 55 is neither -100 nor the token "
                                         "there \\(8\\)"):
        validate_batch({**b.to_hf(), "labels": labels})


def test_validate_names_a_binary_mask(result):
    b = pack_result_to_tensors(result, SEQS)
    binary = (b.seq_idx >= 0).long()
    with pytest.raises(ValueError, match="a 0/1 attention_mask over a packed row"):
        validate_batch({**b.to_hf(), "attention_mask": binary})
    indexed = pack_result_to_tensors(result, SEQS, attention_mask="indexed").attention_mask
    merged = indexed.clone()
    merged[0, 4:] = 1
    with pytest.raises(ValueError, match="attention_mask\\[0, 4\\] does not number the "
                                         "sequences of its row in increasing order"):
        validate_batch({**b.to_hf(), "attention_mask": merged})
    ragged = indexed.clone()
    ragged[0, 2] = 2
    with pytest.raises(ValueError, match="attention_mask\\[0, 2\\] changes inside a sequence"):
        validate_batch({**b.to_hf(), "attention_mask": ragged})
    flat = pack_result_to_tensors(result, SEQS, layout="flat", attention_mask="indexed")
    repeated = flat.attention_mask.clone()
    repeated[0, 6:9] = 1  # the third sequence numbered like the first
    with pytest.raises(ValueError, match="attention_mask\\[0, 6\\] does not number the "
                                         "sequences of its row in increasing order"):
        validate_batch({**flat.to_hf(), "attention_mask": repeated})


def test_validate_accepts_an_indexed_mask_with_one_sequence_per_row():
    for layout in ("padded", "flat"):
        validate_batch(packed_collate_fn(8, attention_mask="indexed", layout=layout)([[1, 2, 3]]))
        validate_batch(packed_collate_fn(4, attention_mask="indexed", layout=layout,
                                         pad_to_multiple_of=2)([[1, 2, 3], [4, 5, 6]]))


def test_validate_names_a_leaky_4d_mask(result):
    b = pack_result_to_tensors(result, SEQS, attention_mask="block_causal")
    leaky = b.attention_mask.clone()
    leaky[0, 0, 4, 1] = True
    with pytest.raises(ValueError, match="lets token 4 of row 0 attend to token 1"):
        validate_batch({**b.to_hf(), "attention_mask": leaky})
    full = torch.ones_like(b.attention_mask)
    with pytest.raises(ValueError, match="another sequence or later"):
        validate_batch({**b.to_hf(), "attention_mask": full})


def test_validate_names_disagreeing_segments(result):
    b = pack_result_to_tensors(result, SEQS, layout="flat")
    cu = b.cu_seqlens.clone()
    cu[2] = 5
    with pytest.raises(ValueError, match="position_ids disagree with cu_seqlens at token 5"):
        validate_batch({**b.to_hf(), "cu_seq_lens_q": cu})
    with pytest.raises(ValueError, match="cu_seqlens must be int32"):
        validate_batch({**b.to_hf(), "cu_seq_lens_q": b.cu_seqlens.long()})
    with pytest.raises(ValueError, match="cu_seqlens ends at 9, but the batch holds 10 tokens"):
        validate_batch({**b.to_hf(), "cu_seq_lens_q": b.cu_seqlens[:-1]})
    with pytest.raises(ValueError, match="max_seqlen = 3 is less than the longest segment"):
        validate_batch({**b.to_hf(), "max_length_q": 3})
    seq_idx = b.seq_idx.clone()
    seq_idx[0, 1] = 1
    with pytest.raises(ValueError, match="seq_idx\\[0, 1\\] = 1 changes inside a segment"):
        validate_batch({**b.to_hf(), "seq_idx": seq_idx})
    validate_batch(b.to_hf(pad_cu_seqlens_to=9))  # static-shape padding is fine


def test_validate_catches_rows_a_flattening_collator_merged(result):
    """A collator that ignores seq_lengths makes each packed row one long
    sequence; given the rows' seq_lengths, validate_batch names it."""
    b = pack_result_to_tensors(result, SEQS, layout="flat")
    merged = {"input_ids": b.input_ids, "labels": b.labels,
              "position_ids": torch.arange(10)[None]}  # one sequence over the row
    validate_batch(merged)  # without seq_lengths, one long sequence is all it can see
    with pytest.raises(ValueError, match="the batch has 1 sequence segments, seq_lengths 4 "
                                         "sequences; a collator that ignores seq_lengths"):
        validate_batch(merged, seq_lengths=[4, 2, 3, 1])
    with pytest.raises(ValueError, match="sequence 0 has 4 tokens \\(seq_lengths\\), but its "
                                         "segment holds 6"):
        validate_batch({**merged, "position_ids": torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1, 2, 3]])},
                       seq_lengths=[4, 2])
    validate_batch(b.to_hf(), seq_lengths=[4, 2, 3, 1])
    validate_batch(b, seq_lengths=b.seq_lengths)
    with pytest.raises(ValueError, match="the batch has 4 sequence segments, seq_lengths 3"):
        validate_batch(b, seq_lengths=[4, 2, 3])


def test_validate_names_trained_padding(result):
    b = pack_result_to_tensors(result, SEQS)
    labels = b.labels.clone()
    labels[1, 4:] = 0  # row padding with the pad token as its label
    with pytest.raises(ValueError, match="labels\\[1, 4\\] = 0 on padding"):
        validate_batch({**b.to_hf(), "labels": labels})
    slot = packed_collate_fn(8, layout="flat", pad_to_multiple_of=4)([[1, 2, 3]])
    slot.labels[0, 3] = 0  # the slot padding after the sequence
    with pytest.raises(ValueError, match="labels\\[0, 3\\] = 0 on padding"):
        validate_batch(slot)
    own = pack_result_to_tensors(result, SEQS, label_padding_value=-1)
    validate_batch(own.to_hf(), ignore_index=-1)
    with pytest.raises(ValueError, match="labels\\[1, 4\\] = -1 on padding: padding must be "
                                         "ignored \\(-100\\)"):
        validate_batch(own.to_hf())  # read with -100 as the ignored label


def test_validate_names_overlong_rows(result):
    b = pack_result_to_tensors(result, SEQS)
    with pytest.raises(ValueError, match="rows hold 6 tokens, more than the capacity 5"):
        validate_batch(b, capacity=5)
    flat = pack_result_to_tensors(result, SEQS, layout="flat")
    with pytest.raises(ValueError, match="segment 0 holds 4 tokens, more than the capacity 3"):
        validate_batch(flat, capacity=3)
    with pytest.raises(ValueError, match="a segment crosses into row 1"):
        validate_batch({"input_ids": b.input_ids, "labels": b.labels,
                        "position_ids": torch.arange(12).reshape(2, 6)})
    with pytest.raises(TypeError, match="batch must be a PackedBatch or a dict"):
        validate_batch([b])


def test_importing_without_torch_names_the_extra(tmp_path):
    message = import_error_without("torch", "seqpacker.torch_utils", tmp_path)
    assert "pip install 'seqpacker[torch]'" in message
