"""The proof: a packed batch trains a model exactly as its sequences alone.

A tiny randomly initialised Llama (built here from a LlamaConfig; nothing
is downloaded) runs every sequence alone and then the packed batch, in
both layouts and with each attention implementation and mask. The logits
of every sequence must agree, and the packed loss must be the
token-weighted mean of the per-sequence losses. The flat batch must also
equal transformers' DataCollatorWithFlattening field for field. Needs
torch and transformers.
"""

import numpy as np
import pytest

from optional import optional_import

torch = optional_import("torch")
transformers = optional_import("transformers")

from seqpacker import pack_sequences  # noqa: E402
from seqpacker.torch_utils import (block_causal_mask, pack_result_to_tensors,  # noqa: E402
                                   packed_collate_fn, validate_batch)

VOCAB = 97
LENGTHS = [5, 17, 9, 30, 2, 12, 25, 1, 8]
CAPACITY = 32


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    return [rng.integers(0, VOCAB, n).tolist() for n in LENGTHS]


def tiny_llama(attention: str):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM._from_config(
        config, attn_implementation=attention).eval()


@pytest.fixture(scope="module", params=["sdpa", "eager"])
def model(request):
    return request.param, tiny_llama(request.param)


@pytest.fixture(scope="module")
def alone(model, sequences):
    _, llama = model
    with torch.no_grad():
        return [llama(torch.tensor([s]), labels=torch.tensor([s]), use_cache=False)
                for s in sequences]


def token_weighted_loss(alone) -> float:
    """The mean loss over every predicted token of the sequences run alone
    (a 1-token sequence predicts none, and its NaN loss weighs nothing)."""
    counts = np.array([n - 1 for n in LENGTHS], dtype=np.float64)
    losses = np.array([0.0 if n == 0 else float(a.loss) for a, n in zip(alone, counts)])
    return float((losses * counts).sum() / counts.sum())


def sequence_slices(batch, result, sequences):
    """(sequence id, slice of the flattened tokens) for each packed sequence."""
    starts = batch.cu_seqlens[:-1].long()
    numbered = batch.seq_idx.reshape(-1)[starts]
    for sid, start in zip(result.items.tolist(), starts[numbered >= 0].tolist()):
        yield sid, slice(start, start + len(sequences[sid]))


@pytest.mark.parametrize("layout, mask", [("flat", None), ("padded", None),
                                          ("padded", "block_causal"), ("flat", "block_causal")])
def test_packed_logits_and_loss_equal_unpacked(model, alone, sequences, layout, mask):
    attention, llama = model
    result = pack_sequences(LENGTHS, CAPACITY)
    batch = pack_result_to_tensors(result, sequences, layout=layout, attention_mask=mask)
    validate_batch(batch)
    kwargs = {name: batch.to_hf()[name] for name in ("input_ids", "labels", "position_ids")}
    if mask:
        # SDPA takes the boolean mask; eager attention adds a float one to its scores.
        kwargs["attention_mask"] = batch.attention_mask if attention == "sdpa" \
            else block_causal_mask(batch, torch.float32)
    with torch.no_grad():
        out = llama(**kwargs, use_cache=False)
    logits = out.logits.reshape(-1, VOCAB)
    for sid, where in sequence_slices(batch, result, sequences):
        torch.testing.assert_close(logits[where], alone[sid].logits[0], atol=1e-4, rtol=0)
    assert float(out.loss) == pytest.approx(token_weighted_loss(alone), abs=1e-5)
    assert batch.num_loss_tokens == sum(n - 1 for n in LENGTHS)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("layout", ["flat", "padded"])
@pytest.mark.parametrize("mask", [None, "indexed", "block_causal"])
def test_to_hf_goes_straight_into_the_model(attention, layout, mask, sequences):
    """``model(**batch.to_hf())`` as the docs show, with SDPA and eager
    attention and the config's default use_cache: every mask the batch may
    carry is either passed in a form the model reads right, or left out."""
    llama = tiny_llama(attention)
    result = pack_sequences(LENGTHS, CAPACITY)
    batch = pack_result_to_tensors(result, sequences, layout=layout, attention_mask=mask)
    with torch.no_grad():
        out = llama(**batch.to_hf())
        alone = [llama(torch.tensor([s]), use_cache=False).logits[0] for s in sequences]
    logits = out.logits.reshape(-1, VOCAB)
    for sid, where in sequence_slices(batch, result, sequences):
        torch.testing.assert_close(logits[where], alone[sid], atol=1e-4, rtol=0)


def test_loss_weights_give_the_per_sequence_mean(model, alone, sequences):
    _, llama = model
    result = pack_sequences(LENGTHS, CAPACITY)
    batch = pack_result_to_tensors(result, sequences, layout="flat", loss_weights=True)
    with torch.no_grad():
        logits = llama(input_ids=batch.input_ids, position_ids=batch.position_ids,
                       use_cache=False).logits[0]
    # Labels are unshifted: the logits at t predict the label at t + 1.
    losses = torch.nn.functional.cross_entropy(logits[:-1], batch.labels[0, 1:],
                                               ignore_index=-100, reduction="none")
    per_sequence_mean = float((losses * batch.loss_weights[0, 1:]).sum()) / sum(
        1 for n in LENGTHS if n > 1)
    want = np.mean([float(a.loss) for a, n in zip(alone, LENGTHS) if n > 1])
    assert per_sequence_mean == pytest.approx(want, abs=1e-5)


def test_labels_shifted_twice_train_something_else(model, alone, sequences):
    """Pre-shifted labels (label_convention="shifted"), under a model that shifts them
    again: the loss differs, and validate_batch refuses the batch."""
    _, llama = model
    result = pack_sequences(LENGTHS, CAPACITY)
    batch = pack_result_to_tensors(result, sequences, layout="flat", label_convention="shifted")
    with torch.no_grad():
        loss = float(llama(input_ids=batch.input_ids, position_ids=batch.position_ids,
                           labels=batch.labels, use_cache=False).loss)
    assert abs(loss - token_weighted_loss(alone)) > 1e-2
    with pytest.raises(ValueError, match="first token of a sequence"):
        validate_batch(batch, label_convention="hf")


def test_flat_batch_equals_data_collator_with_flattening(sequences):
    collator = transformers.DataCollatorWithFlattening(return_flash_attn_kwargs=True,
                                                       return_seq_idx=True)
    result = pack_sequences(LENGTHS, CAPACITY)
    ours = pack_result_to_tensors(result, sequences, layout="flat").to_hf()
    # The collator concatenates in the order given: give it the packed order.
    theirs = collator([{"input_ids": sequences[i]} for i in result.items.tolist()])
    assert ours.pop("use_cache") is False  # (the one key the collator leaves to the caller)
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        if isinstance(value, torch.Tensor):
            assert ours[name].dtype == value.dtype, name
            assert torch.equal(ours[name], value), name
        else:
            assert type(ours[name]) is type(value) and ours[name] == value, name


def test_collate_equals_data_collator_with_user_labels(sequences):
    rows = [{"input_ids": s, "labels": [-100] * (len(s) // 2) + s[len(s) // 2:]}
            for s in sequences]
    collator = transformers.DataCollatorWithFlattening(return_flash_attn_kwargs=True,
                                                       return_seq_idx=True)
    # NextFit with room for everything keeps the input order in one bin.
    ours = packed_collate_fn(sum(LENGTHS), strategy="nf", layout="flat")(rows).to_hf()
    theirs = collator(rows)
    for name, value in theirs.items():
        if isinstance(value, torch.Tensor):
            assert ours[name].dtype == value.dtype and torch.equal(ours[name], value), name
        else:
            assert ours[name] == value, name
