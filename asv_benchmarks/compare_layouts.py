#!/usr/bin/env python3
"""Time one training step on each batch layout, with SDPA and eager attention.

    python asv_benchmarks/compare_layouts.py [--repeat 5] [--page docs/layout-benchmarks.md]

Run it with an interpreter that has this project, torch and transformers.
A small Llama (randomly initialised: 4 layers of width 256, 4 heads, a
vocabulary of 4096; nothing is downloaded) takes a forward and backward
pass over the same 24 sequences (lengths drawn, seeded, from the bundled
GSM8K distribution) four ways:

- **unpadded**: each sequence alone, one call per sequence (no padding, no
  packing: the work that packing must not exceed);
- **padded to the longest**: one batch, every sequence padded to the
  longest, with a 0/1 attention mask (what a padding collator does);
- **packed, padded layout** and **packed, flat layout**: one
  ``packed_collate_fn(512)`` batch, ``model(**batch.to_hf())``.

Also counts the attention score entries each computes (per layer and
head): the pairs of slots within each attention call. Rounds alternate;
each time is the median. Timing only: the tests prove the layouts train
alike.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from seqpacker.torch_utils import packed_collate_fn

CAPACITY = 512
VOCAB = 4096  # 16 times the width, about a real model's ratio: the output layer does not dominate


def sequences(count: int = 24, seed: int = 0) -> list[list[int]]:
    lengths = np.load(Path(__file__).resolve().parent.parent / "seqpacker" / "data"
                      / "gsm8k_train_llama2.npy")
    rng = np.random.default_rng(seed)
    return [rng.integers(1, VOCAB, int(n)).tolist() for n in rng.choice(lengths, count)]


def model(attention: str):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=CAPACITY)
    return transformers.LlamaForCausalLM._from_config(config, attn_implementation=attention)


def steps(data: list[list[int]]) -> dict:
    """name -> (a function running one forward and backward, score entries)."""
    lengths = [len(s) for s in data]
    longest = max(lengths)
    ids = torch.zeros(len(data), longest, dtype=torch.int64)
    mask = torch.zeros(len(data), longest, dtype=torch.int64)
    for i, s in enumerate(data):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    padded = packed_collate_fn(CAPACITY, layout="padded")(data).to_hf()
    flat = packed_collate_fn(CAPACITY, layout="flat")(data).to_hf()
    alone = [torch.tensor([s]) for s in data]

    def each_alone(m):
        for x in alone:
            m(input_ids=x, labels=x, use_cache=False).loss.backward()

    return {
        "unpadded (each sequence alone)": (each_alone, sum(n * n for n in lengths)),
        "padded to the longest": (
            lambda m: m(input_ids=ids, attention_mask=mask, labels=labels,
                        use_cache=False).loss.backward(), len(data) * longest ** 2),
        "packed, padded layout": (lambda m: m(**padded).loss.backward(),
                                  padded["input_ids"].shape[0] * CAPACITY ** 2),
        "packed, flat layout": (lambda m: m(**flat).loss.backward(),
                                flat["input_ids"].shape[1] ** 2),
    }


def measure(repeat: int) -> dict:
    torch.set_num_threads(torch.get_num_threads())
    data = sequences()
    runs = steps(data)
    figures = {}
    for attention in ("sdpa", "eager"):
        llama = model(attention)
        llama.train()
        times = {name: [] for name in runs}
        for name, (step, _) in runs.items():  # warm-up
            step(llama)
        for _ in range(repeat):
            for name, (step, _) in runs.items():
                llama.zero_grad(set_to_none=True)
                start = time.perf_counter()
                step(llama)
                times[name].append(time.perf_counter() - start)
        figures[attention] = {name: statistics.median(t) for name, t in times.items()}
    return {"sequences": len(data), "tokens": sum(map(len, data)),
            "longest": max(map(len, data)),
            "scores": {name: entries for name, (_, entries) in runs.items()},
            "seconds": figures}


def report(figures: dict, repeat: int) -> str:
    lines = [f"{figures['sequences']} GSM8K-length sequences, {figures['tokens']:,} tokens "
             f"(longest {figures['longest']}), capacity {CAPACITY}; one forward and backward "
             f"pass of a 4-layer Llama of width 256 with 4 heads (median of {repeat} rounds).", "",
             "| batch | score entries | SDPA ms | SDPA vs padded to the longest "
             "| eager ms | eager vs padded to the longest |", "|---|---|---|---|---|---|"]
    base = {a: figures["seconds"][a]["padded to the longest"] for a in ("sdpa", "eager")}
    for name, entries in figures["scores"].items():
        sdpa, eager = figures["seconds"]["sdpa"][name], figures["seconds"]["eager"][name]
        lines.append(f"| {name} | {entries / 1e6:.2f}M | {sdpa * 1e3:.0f} | "
                     f"{base['sdpa'] / sdpa:.2f}x | {eager * 1e3:.0f} | "
                     f"{base['eager'] / eager:.2f}x |")
    return "\n".join(lines) + "\n"


def page(text: str) -> str:
    return ("# Batch layouts: one training step each\n\n"
            "This page is written by `asv_benchmarks/compare_layouts.py --page "
            "docs/layout-benchmarks.md`; do not edit it by hand. All rows run in the same "
            f"run ({platform.machine()}, {torch.get_num_threads()} threads, torch "
            f"{torch.__version__}, transformers {transformers.__version__}, CPU).\n\n" + text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--page", type=Path, help="write the report as this Markdown page")
    args = parser.parse_args(argv)
    text = report(measure(args.repeat), args.repeat)
    print(text)
    if args.page:
        args.page.write_text(page(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
