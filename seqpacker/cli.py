"""The ``seqpacker`` command: pack a length distribution with each strategy.

By default it packs the bundled GSM8K distribution (see data/README.md) at
capacity 2048 with all strategies and prints bins, efficiency and time.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

import numpy as np

from ._core import native as _native
from ._core.validation import INT64_MAX, INT64_MIN, as_lengths, check_capacity
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
        _check_plugin_options_used(plugin_options, strategies)
        check_capacity(args.capacity)
        lengths, source = _load(args.input)
        # Checked whole before anything is printed: the total below is then
        # exact, and no strategy sees bad input.
        lengths = as_lengths(lengths)
        _native.check_lengths(lengths, args.capacity)
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
        except (RuntimeError, ValueError, TypeError, MemoryError) as error:
            # The input is checked already: this strategy failed (a plugin's
            # own error, or memory); the others may not.
            print(f"{packer.strategy:<10} failed: {type(error).__name__}: {error}")
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


def _check_plugin_options_used(options: dict, strategies: list[str]) -> None:
    """Plugin options with only built-in strategies to run would be ignored:
    an error naming them instead."""
    if not options:
        return
    for name in strategies:
        try:
            if get_strategy(name).plugin:
                return
        except PluginError:
            return  # a plugin that fails to load: it would have taken them
    raise ValueError(f"--plugin-option {', '.join(options)}: only built-in strategies run "
                     f"({', '.join(strategies)}), and they take no plugin options")


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
                             "in the digits 0-9 (default: the bundled GSM8K training-set "
                             "lengths)")
    parser.add_argument("--seed", type=int, default=None,
                        help="shuffle seed for ffs (default 0)")
    parser.add_argument("--plugin-option", action="append", metavar="KEY=VALUE",
                        help="an option for plugin strategies, repeatable (e.g. ranks=8); "
                             "an error when no plugin strategy runs")
    parser.add_argument("--list", action="store_true",
                        help="list the strategies, plugins marked as such, and exit")
    return parser


def _strategies(names: list[str] | None) -> list[str]:
    """The strategies to run: every one for none or ``all``; a name given
    beside ``all`` must still be a strategy (a typo is not ignored)."""
    names = names or ["all"]
    named = [name for name in names if name.lower() != "all"]
    for name in named:
        try:
            get_strategy(name)
        except PluginError:
            pass  # a plugin that fails to load fails alone (_packer_or_error)
    if len(named) < len(names):
        return [info.short for info in available_strategies()]
    return named  # resolved (and a plugin loaded) by _packer_or_error


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
            # int() also reads "+7", "1_000" and non-ASCII digits such as
            # "\u0665"; a length here is ASCII digits only (a minus sign
            # passes, for the length check to name the negative length).
            digits = text[1:] if text.startswith("-") else text
            if not (digits.isascii() and digits.isdigit()):
                raise ValueError(f"{path}, line {line_number}: {text!r} is not an integer length "
                                 "(a length is written in the digits 0-9 only)")
            value = int(text)
            if not INT64_MIN <= value <= INT64_MAX:
                raise ValueError(f"{path}, line {line_number}: {text} does not fit int64 "
                                 f"(max {INT64_MAX})")
            lengths.append(value)
    return np.array(lengths, dtype=np.int64)
