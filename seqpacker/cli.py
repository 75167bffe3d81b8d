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
from .registry import PluginError, available_strategies, get_strategy

DEFAULT_CAPACITY = 2048
BUNDLED_DATA = "gsm8k_train_llama2.npy"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        _print_strategies()
        return 0
    try:
        plugin_options = _plugin_options(args.plugin_option or [])
        strategies = _strategies(args.strategy)
        lengths, source = _load(args.input)
        # A plugin that fails to load fails alone; the others still run.
        packers = [_packer_or_error(args, name, plugin_options) for name in strategies]
    except (OSError, ValueError, TypeError) as error:
        print(f"seqpacker: error: {error}", file=sys.stderr)
        return 2

    total = int(lengths.sum())
    lower_bound = -(-total // args.capacity)  # ceil: no packing can use fewer bins
    print(f"{source}: {len(lengths)} sequences, {total} tokens, capacity {args.capacity}, "
          f"at least {lower_bound} bins")
    print(f"{'strategy':<10} {'bins':>10} {'efficiency':>11} {'time':>12}")
    failures = 0
    plugins_run = []
    for info, packer in packers:
        if isinstance(packer, PluginError):  # it failed to load
            print(f"{info.upper():<10} failed: {packer}")
            failures += 1
            continue
        if info.plugin:
            plugins_run.append(info)
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
    for info in plugins_run:  # below the table, whose rows stay one format
        print(f"{info.short} (plugin: {info.origin})")
    return 1 if failures else 0


def _packer_or_error(args, name: str, plugin_options: dict):
    """``(info, Packer)``, or ``(name, error)`` for a plugin that failed to load."""
    try:
        info = get_strategy(name)
    except PluginError as error:
        return name, error
    options = plugin_options if info.plugin else None
    return info, Packer(args.capacity, name, args.seed, options=options)


def _print_strategies() -> None:
    for info in available_strategies():
        mark = f"  (plugin: {info.origin})" if info.plugin else ""
        print(f"{info.short.lower():<10} {info.long}{mark}")


def _plugin_options(pairs: list[str]) -> dict:
    """``["ranks=8"]`` -> ``{"ranks": 8}``; values that look like ints become ints."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--plugin-option {pair!r}: expected KEY=VALUE")
        try:
            options[key] = int(value)
        except ValueError:
            options[key] = value
    return options


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
    parser.add_argument("--plugin-option", action="append", metavar="KEY=VALUE",
                        help="an option for plugin strategies, repeatable (e.g. ranks=8)")
    parser.add_argument("--list", action="store_true",
                        help="list the strategies, plugins marked as such, and exit")
    return parser


def _strategies(names: list[str] | None) -> list[str]:
    if not names or "all" in (name.lower() for name in names):
        return [info.short for info in available_strategies()]
    return names  # resolved (and a plugin loaded) by _packer_or_error


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
