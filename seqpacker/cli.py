"""The ``seqpacker`` command: pack a length distribution with each strategy.

By default it packs the bundled GSM8K distribution (see data/README.md) at
capacity 2048 with all strategies and prints bins, efficiency and time.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

import numpy as np

from .packer import Packer
from .registry import available_strategies, get_strategy

DEFAULT_CAPACITY = 2048
BUNDLED_DATA = "gsm8k_train_llama2.npy"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        strategies = _strategies(args.strategy)
        lengths, source = _load(args.input)
        packers = [Packer(args.capacity, name, args.seed) for name in strategies]
    except (OSError, ValueError, TypeError) as error:
        print(f"seqpacker: error: {error}", file=sys.stderr)
        return 2

    total = int(lengths.sum())
    lower_bound = -(-total // args.capacity)  # ceil: no packing can use fewer bins
    print(f"{source}: {len(lengths)} sequences, {total} tokens, capacity {args.capacity}, "
          f"at least {lower_bound} bins")
    print(f"{'strategy':<10} {'bins':>10} {'efficiency':>11} {'time':>12}")
    failures = 0
    for packer in packers:
        try:
            result = packer.pack(lengths)
        except (ValueError, TypeError) as error:  # bad input: no strategy can pack it
            print(f"seqpacker: error: {error}", file=sys.stderr)
            return 2
        except RuntimeError as error:  # this strategy failed; the others may not
            print(f"{packer.strategy:<10} failed: {error}")
            failures += 1
            continue
        print(f"{packer.strategy:<10} {result.num_bins:>10} {result.efficiency:>11.2%} "
              f"{result.time_ms:>10.3f}ms")
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqpacker",
        description="Pack sequence lengths into bins and compare the strategies.",
    )
    parser.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY,
                        help=f"tokens per bin (default {DEFAULT_CAPACITY})")
    parser.add_argument("--strategy", action="append", metavar="NAME",
                        help="strategy to run, repeatable, or 'all' (the default)")
    parser.add_argument("--input", metavar="FILE",
                        help="lengths as a .npy array or text with one length per line "
                             "(default: the bundled GSM8K training-set lengths)")
    parser.add_argument("--seed", type=int, default=None,
                        help="shuffle seed for ffs (default 0)")
    return parser


def _strategies(names: list[str] | None) -> list[str]:
    if not names or "all" in (name.lower() for name in names):
        return [info.short for info in available_strategies()]
    return [get_strategy(name).short for name in names]


def _load(path: str | None) -> tuple[np.ndarray, str]:
    """The lengths to pack, and a name for them."""
    if path is None:
        data = resources.files(__package__).joinpath("data").joinpath(BUNDLED_DATA)
        with data.open("rb") as file:
            return np.load(file, allow_pickle=False), f"bundled {BUNDLED_DATA}"
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False), path
    return _read_text(path), path


def _read_text(path: str) -> np.ndarray:
    lengths = []
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                lengths.append(int(text))
            except ValueError:
                raise ValueError(f"{path}, line {line_number}: {text!r} is not an integer length") from None
    return np.array(lengths, dtype=np.int64)
