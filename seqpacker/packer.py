"""``Packer`` and ``pack_sequences``: the main entry points.

A ``Packer`` checks its settings once, at construction. Each call converts
the lengths once (not at all for a contiguous int64 array), runs the C
library (or a plugin strategy, whose result is checked) and wraps its flat
output without building any per-bin object.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from ._core import native as _native
from ._packing.groups import expand, group_limit, group_units
from ._packing.pack_count import split_bins, target_count
from ._packing.plugin_call import run_plugin
from ._core.validation import (as_lengths, check_capacity, check_k, check_max_seqs,
                          check_optional_count, check_seed, check_threads)
from .registry import available_strategies, get_strategy
from .result import PackResult, bin_sums


class StrategyName(tuple):
    """A ``(short, long)`` pair from ``Packer.strategies()``.

    It compares, unpacks and prints as the plain pair, and also says where the strategy comes from: ``plugin`` is True
    for a strategy that is not built in, and ``origin`` says where a plugin
    comes from (``"seqpacker-balanced 0.1.0"``; None for the built-ins).
    """

    def __new__(cls, short: str, long: str, plugin: bool = False,
                origin: str | None = None):
        pair = super().__new__(cls, (short, long))
        pair.plugin = plugin
        pair.origin = origin
        return pair

    def __reduce__(self):
        # Copies and pickles carry the marks too (tuple's own reduce would
        # call __new__ with the pair alone).
        return type(self), (self[0], self[1], self.plugin, self.origin)


class Packer:
    """Packs sequence lengths into bins of a fixed capacity.

    Args:
        capacity: tokens per bin, an int >= 1.
        strategy: a strategy name in any accepted spelling (see
            ``Packer.strategies()``); default ``"obfd"``.
        seed: shuffle seed of ``ffs``, an int in [0, 2**64 - 1]; ``None``
            means the fixed default seed 0.
        k: number of size classes of ``hk``, 2 to 65536; ``None`` means 10.
        threads: threads a call may use, an int >= 1; ``None`` means one
            per online CPU. ``obfdp`` packs on that many; with two or more,
            a call with large outputs maps their pages on a helper thread
            while it packs (docs/api.md). ``1`` keeps each call on its thread.
        max_seqs_per_pack: the most sequences a pack holds, an int >= 1;
            ``None`` means no limit (see docs/constraints.md).
        min_packs: the fewest packs, an int >= 1 or ``None``.
        packs_multiple_of: make the pack count a multiple of this int >= 1
            (ranks times accumulation steps), or ``None``. Packs are split
            to meet both (docs/constraints.md); ``metrics.packs_added`` and
            ``metrics.split_cost`` say what it cost.
        options: keyword arguments for a plugin strategy (see
            docs/plugins.md), e.g. ``{"max_attention": 2048}``; built-ins take none.

    Options that a strategy does not use are checked and then ignored.
    """

    def __init__(self, capacity: int, strategy: str = "obfd", seed: int | None = None,
                 *, k: int | None = None, threads: int | None = None,
                 max_seqs_per_pack: int | None = None, min_packs: int | None = None,
                 packs_multiple_of: int | None = None, options: dict | None = None):
        self._capacity = check_capacity(capacity)
        self._strategy = get_strategy(strategy)
        self._seed = check_seed(seed)
        self._k = check_k(k)
        self._threads = check_threads(threads)
        self._max_items = check_max_seqs(max_seqs_per_pack)
        self._min_packs = check_optional_count("min_packs", min_packs)
        self._multiple = check_optional_count("packs_multiple_of", packs_multiple_of)
        self._options = _native.options(self._seed, self._k, self._threads, self._max_items)
        self._plugin_options = self._check_plugin_options(options)
        self._given_options = options

    def __reduce__(self):
        # Pickles and copies (spawn-based DataLoader workers, process pools)
        # rebuild the Packer from its arguments, which checks them again.
        return _rebuild_packer, (self._capacity, self._strategy.short, self._seed, self._k,
                                 self._threads or None, self._given_options,
                                 self.max_seqs_per_pack, self._min_packs, self._multiple)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def strategy(self) -> str:
        """The upper-case short name of the strategy, e.g. ``"OBFD"``."""
        return self._strategy.short

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def k(self) -> int:
        return self._k

    @property
    def max_seqs_per_pack(self) -> int | None:
        return self._max_items or None

    @property
    def min_packs(self) -> int | None:
        return self._min_packs

    @property
    def packs_multiple_of(self) -> int | None:
        return self._multiple

    @staticmethod
    def strategies() -> list[StrategyName]:
        """``(short, long)`` name pairs of every strategy, e.g. ``("OBFD", "OptimizedBestFitDecreasing")``.

        The eleven built-ins come first, then the plugins (which
        ``seqpacker.registry.available_strategies()`` marks as such).
        """
        return [StrategyName(info.short, info.long, info.plugin, info.origin)
                for info in available_strategies()]

    def pack(self, lengths, groups=None) -> PackResult:
        """Pack ``lengths``; the result builds per-bin objects only when asked.

        ``groups``, one int per length, keeps the sequences of equal id in
        one pack, together and in id order (docs/constraints.md); a group
        longer than the capacity is a ValueError.
        """
        array = as_lengths(lengths)
        if array is lengths or array.base is not None:
            # The result keeps the lengths: never share the caller's buffer.
            array = array.copy()
        items, offsets, used, time_ms, added = self._run(array, groups)
        return PackResult._of_packing(items, offsets, used, array, self._capacity, time_ms,
                                      packs_added=added, max_items=self._max_items)

    def pack_flat(self, lengths, groups=None) -> tuple[np.ndarray, np.ndarray]:
        """Pack ``lengths`` into ``(items, bin_offsets)``, two int64 arrays.

        ``items`` holds the sequence ids bin by bin and ``bin_offsets`` the
        ``num_bins - 1`` split points, so ``np.split(items, bin_offsets)``
        gives the bins. ``groups`` as for ``pack``.
        """
        items, offsets, _used, _time_ms, _added = self._run(as_lengths(lengths), groups)
        return items, offsets[1:-1]

    def _check_plugin_options(self, options) -> dict:
        """The keyword arguments of a plugin call (built-ins take no ``options``)."""
        if options is None:
            options = {}
        if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
            raise TypeError(f"options must be a dict with str keys, not {options!r}")
        if not self._strategy.plugin:
            if options:
                raise TypeError(f"options= is for plugin strategies; {self._strategy.short} "
                                f"takes only seed, k and threads")
            return {}
        repeated = sorted({"seed", "k", "threads", "max_seqs_per_pack"} & options.keys())
        if repeated:
            raise TypeError(f"options may not hold {', '.join(repeated)}: pass them as "
                            f"Packer arguments")
        return {"seed": self._seed, "k": self._k, "threads": self._threads or None, **options}

    def _run(self, array: np.ndarray, groups):
        """``(items, offsets, used, time_ms, packs_added)``: the strategy's
        bins over the units (sequences, or whole groups), split to meet the
        pack-count constraints, then as sequences."""
        start = time.perf_counter()
        units, unit_lengths, limit = None, array, self._max_items
        if groups is not None:
            _native.check_lengths(array, self._capacity)  # group sums then fit int64
            units = group_units(groups, array, self._capacity)
            unit_lengths, limit = units.lengths, group_limit(units, self._max_items)
        items, offsets, used = self._pack_units(unit_lengths, limit)
        bins = len(offsets) - 1
        target = target_count(bins, len(unit_lengths), self._min_packs, self._multiple)
        if target > bins:
            offsets = split_bins(items, offsets, unit_lengths, target)
            used = bin_sums(unit_lengths[items], offsets).astype(np.int64)
        if units is not None:
            items, offsets = expand(units, items, offsets)
        time_ms = (time.perf_counter() - start) * 1000.0
        return items, offsets, used, time_ms, target - bins

    def _pack_units(self, lengths: np.ndarray, limit: int):
        """The strategy's ``(items, offsets, used)`` with at most ``limit``
        units per bin (0: none)."""
        if self._strategy.plugin:
            options = dict(self._plugin_options)
            if limit:
                if not _takes_keyword(self._strategy.func, "max_seqs_per_pack"):
                    raise TypeError(f"strategy plugin {self._strategy.long!r} does not take "
                                    f"max_seqs_per_pack (see docs/plugins.md)")
                options["max_seqs_per_pack"] = limit
            return run_plugin(self._strategy, lengths, self._capacity, options, limit)
        opts = self._options
        if limit != self._max_items:
            opts = _native.options(self._seed, self._k, self._threads, limit)
        return _native.pack(lengths, self._capacity, self._strategy.c_id, opts)

    def __repr__(self) -> str:
        return f"Packer(capacity={self._capacity}, strategy={self.strategy!r})"


def _takes_keyword(func, name: str) -> bool:
    """Whether ``func`` accepts the keyword argument ``name``."""
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True  # no signature to read: let the call decide
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _rebuild_packer(capacity, strategy, seed, k, threads, options, max_seqs_per_pack=None,
                    min_packs=None, packs_multiple_of=None) -> Packer:
    """A pickled Packer (see ``Packer.__reduce__``)."""
    return Packer(capacity, strategy, seed, k=k, threads=threads, options=options,
                  max_seqs_per_pack=max_seqs_per_pack, min_packs=min_packs,
                  packs_multiple_of=packs_multiple_of)


def pack_sequences(lengths, capacity: int, strategy: str = "obfd", seed: int | None = None,
                   *, k: int | None = None, threads: int | None = None,
                   max_seqs_per_pack: int | None = None, min_packs: int | None = None,
                   packs_multiple_of: int | None = None, options: dict | None = None,
                   groups=None) -> PackResult:
    """One-shot packing: ``Packer(capacity, strategy, seed, ...).pack(lengths, groups)``,
    with the Packer's keyword arguments."""
    return Packer(capacity, strategy, seed, k=k, threads=threads,
                  max_seqs_per_pack=max_seqs_per_pack, min_packs=min_packs,
                  packs_multiple_of=packs_multiple_of, options=options).pack(lengths, groups)
