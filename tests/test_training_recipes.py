"""The documented recipes train exactly as unpacked training does.

A plain loop (``model(**batch.to_hf())`` with the config's default
``use_cache``) and a transformers ``Trainer`` with
``packed_collate_fn(..., output="hf")`` each take a few SGD steps on a tiny
Llama; the parameters must equal those of the same steps over the same
sequences run alone (training_reference.py). Needs torch, transformers
and datasets; the SFTTrainer recipe is in test_sft_trainer_recipe.py.
"""

import numpy as np
import pytest

from optional import optional_import

torch = optional_import("torch")
transformers = optional_import("transformers")
datasets = optional_import("datasets")

from seqpacker.torch_utils import packed_collate_fn, validate_batch  # noqa: E402
from training_reference import (VOCAB, Recorder, assert_same_parameters,  # noqa: E402
                                tiny_llama, unpacked_loss, unpacked_sgd)

LR = 0.5


def sequences(count: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(2, VOCAB, int(n)).tolist() for n in rng.integers(1, 20, count)]


@pytest.mark.parametrize("attention, layout, mask", [
    ("sdpa", "padded", None), ("sdpa", "flat", None), ("eager", "padded", None),
    ("eager", "flat", None), ("sdpa", "padded", "block_causal"),
    ("eager", "padded", "block_causal"), ("eager", "flat", "block_causal")])
def test_plain_loop_gradients_equal_unpacked(attention, layout, mask):
    """``model(**batch.to_hf())`` in training mode, nothing else passed: the
    config's use_cache=True and eager attention's reading of the mask must
    not make the sequences of a row attend to each other."""
    data = sequences(12)
    collate = packed_collate_fn(32, layout=layout, attention_mask=mask)
    batch = collate(data)
    validate_batch(batch)

    packed = tiny_llama(attention)
    packed.train()
    loss = packed(**batch.to_hf()).loss
    loss.backward()
    alone = tiny_llama(attention)
    want = unpacked_loss(alone, data)
    want.backward()
    assert float(loss) == pytest.approx(float(want), rel=1e-5)
    for (name, got), (_, ref) in zip(packed.named_parameters(), alone.named_parameters()):
        torch.testing.assert_close(got.grad, ref.grad, rtol=1e-4, atol=1e-7, msg=name)


def test_plain_loop_over_a_dataloader_equals_unpacked():
    """The loop of docs/training.md: a DataLoader with packed_collate_fn,
    ``model(**batch.to_hf()).loss``, three SGD steps."""
    data = sequences(24, seed=1)
    recorder = Recorder(packed_collate_fn(48))
    loader = torch.utils.data.DataLoader([{"input_ids": s} for s in data], batch_size=8,
                                         collate_fn=recorder)
    model = tiny_llama()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    for batch in loader:
        optimizer.zero_grad()
        model(**batch.to_hf()).loss.backward()
        optimizer.step()
    got = {name: value.detach().clone() for name, value in model.named_parameters()}
    batches = [[row["input_ids"] for row in rows] for rows in recorder.batches]
    assert_same_parameters(got, unpacked_sgd(tiny_llama(), batches, LR))


@pytest.mark.parametrize("layout", ["padded", "flat"])
def test_trainer_with_the_packing_collator_equals_unpacked(layout, tmp_path):
    """``Trainer(data_collator=packed_collate_fn(capacity, output="hf"))`` on
    a tokenized dataset whose rows are padded (attention_mask zeros) and
    carry a prompt mask in their labels."""
    data = sequences(24, seed=2)
    width = max(map(len, data)) + 2
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for s in data:  # right-padded tokenizer output; the first two tokens a prompt
        pad = width - len(s)
        rows["input_ids"].append(s + [0] * pad)
        rows["attention_mask"].append([1] * len(s) + [0] * pad)
        rows["labels"].append([-100] * min(2, len(s)) + s[2:] + [-100] * pad)
    dataset = datasets.Dataset.from_dict(rows)
    recorder = Recorder(packed_collate_fn(48, layout=layout, output="hf"))
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=3, optim="sgd",
        learning_rate=LR, lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=0.0,
        report_to="none", save_strategy="no", use_cpu=True, seed=0, dataloader_num_workers=0)
    model = tiny_llama()
    transformers.Trainer(model=model, args=args, train_dataset=dataset,
                         data_collator=recorder).train()
    got = {name: value.detach().clone() for name, value in model.named_parameters()}
    batches = [[(row["input_ids"][:n], row["labels"][:n])
                for row in rows for n in [sum(row["attention_mask"])]]
               for rows in recorder.batches[:3]]  # (the loader may fetch a batch ahead)
    assert_same_parameters(got, unpacked_sgd(tiny_llama(), batches, LR))
