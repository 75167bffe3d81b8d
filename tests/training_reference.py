"""Unpacked training, the reference that packed training must equal.

A tiny randomly initialised Llama (built from a LlamaConfig: nothing is
downloaded) and plain SGD steps in which every sequence runs alone; the
loss of a step is the mean over every predicted token of its sequences,
which is what a Hugging Face causal LM computes over a packed batch.
"""

from __future__ import annotations

import torch
import transformers

VOCAB = 97


def tiny_llama(attention: str = "sdpa"):
    """The same weights every call; left in training mode (Llama has no
    dropout, so training and evaluation compute the same)."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    assert config.use_cache  # the default that a packed row must override
    return transformers.LlamaForCausalLM._from_config(config, attn_implementation=attention)


def unpacked_loss(model, sequences) -> torch.Tensor:
    """The mean loss over every predicted token of ``sequences`` (token
    lists, each with optional labels as ``(tokens, labels)``), each run alone."""
    total, count = 0.0, 0
    for sequence in sequences:
        tokens, labels = sequence if isinstance(sequence, tuple) else (sequence, sequence)
        logits = model(torch.tensor([tokens]), use_cache=False).logits[0]
        targets = torch.tensor(labels[1:], dtype=torch.int64)
        total = total + torch.nn.functional.cross_entropy(
            logits[:-1], targets, ignore_index=-100, reduction="sum")
        count += int((targets != -100).sum())
    return total / count


def unpacked_sgd(model, batches, lr: float) -> dict:
    """The parameters after one SGD step per batch of sequences, unpacked."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for sequences in batches:
        optimizer.zero_grad()
        unpacked_loss(model, sequences).backward()
        optimizer.step()
    return {name: value.detach().clone() for name, value in model.named_parameters()}


def assert_same_parameters(got: dict, want: dict) -> None:
    moved = max(float((want[name] - tiny).abs().max())
                for name, tiny in tiny_llama().named_parameters())
    assert moved > 1e-4, "the reference did not train"
    for name, value in want.items():
        torch.testing.assert_close(got[name], value, rtol=1e-4, atol=1e-6, msg=name)


class Recorder:
    """A collator that remembers the rows of every batch it collated."""

    def __init__(self, collate):
        self.collate = collate
        self.batches = []

    def __call__(self, rows):
        self.batches.append([dict(row) for row in rows])
        return self.collate(rows)
