"""Packing results: flat arrays inside, Python objects only when asked for.

A ``PackResult`` holds what the C library wrote (the ids bin by bin, the bin
boundaries and the used space of each bin) plus the lengths and capacity.
Python objects per bin are the slowest part of any result, so ``bins`` and
``packs`` are built on first access and then cached; ``efficiency`` and
``metrics`` are computed from the arrays with NumPy, without them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ._core import native as _native
from ._core._ext import PackBase, bins_from_arrays, packs_from_arrays
from ._core.validation import INT64_MAX, check_capacity, check_count


class Pack(PackBase):
    """One bin: the ids of its sequences, their lengths and the space used.

    ``Pack(sequence_ids, lengths, used)``. The three values are held by the
    C base class, which builds the packs of a result or a stream without a
    Python call per pack (``_packs.c``); this class adds the properties.
    """

    __slots__ = ()

    @property
    def sequence_ids(self) -> list[int]:
        """Input positions of the sequences in this bin, in placement order."""
        return list(self._sequence_ids)

    @property
    def lengths(self) -> list[int]:
        """Lengths of the sequences in this bin, matching ``sequence_ids``."""
        return list(self._lengths)

    @property
    def used(self) -> int:
        """Total length of the sequences in this bin."""
        return self._used

    def __len__(self) -> int:
        return len(self._sequence_ids)

    def __repr__(self) -> str:
        return f"Pack(sequences={len(self)}, used={self._used})"

    def __reduce__(self):
        return type(self), (self._sequence_ids, self._lengths, self._used)


@dataclass(frozen=True, repr=False)
class PackMetrics:
    """Quality and speed figures of one packing (read-only).

    Utilisations are fractions of the capacity (0.0 to 1.0);
    ``utilisation_std`` is the population standard deviation;
    ``throughput`` is in sequences per second. With no bins, every ratio
    is 0.0.

    The quality report (docs/constraints.md): ``lower_bound`` is a bin
    count no packing of these lengths can beat (Martello and Toth's L2, and
    ``ceil(n / max_seqs_per_pack)`` under a limit), ``lower_bound_gap`` is
    ``num_packs / lower_bound - 1`` (0.0 proves the packing optimal),
    ``sequences_per_pack[c]`` counts the packs of ``c`` sequences, and the
    attention cost of a pack (the sum of its squared lengths) spreads from
    ``attention_cost_min`` to ``attention_cost_max`` with coefficient of
    variation ``attention_cost_cv`` (std / mean).
    """

    num_sequences: int
    total_tokens: int
    num_packs: int
    padding_tokens: int
    efficiency: float
    padding_ratio: float
    avg_utilisation: float
    min_utilisation: float
    max_utilisation: float
    utilisation_std: float
    avg_sequences_per_pack: float
    packing_time_ms: float
    throughput: float
    #: Packs added by splitting to meet ``min_packs``/``packs_multiple_of``,
    #: and the efficiency that cost (efficiency before the splits minus after).
    packs_added: int = 0
    split_cost: float = 0.0
    lower_bound: int = 0
    lower_bound_gap: float = 0.0
    sequences_per_pack: tuple = ()
    attention_cost_min: float = 0.0
    attention_cost_max: float = 0.0
    attention_cost_cv: float = 0.0

    @classmethod
    def from_arrays(cls, num_sequences: int, used: np.ndarray, capacity: int,
                    time_ms: float, packs_added: int = 0) -> PackMetrics:
        """The figures that need only the used space of each bin, with NumPy
        (no loop over bins); the quality report stays at its defaults."""
        num_packs = len(used)
        total = int(used.sum())
        slots = num_packs * capacity  # a Python int: cannot overflow
        if num_packs:
            utilisation = used / capacity
            ratios = (total / slots, (slots - total) / slots, float(utilisation.mean()),
                      float(utilisation.min()), float(utilisation.max()),
                      float(utilisation.std()), num_sequences / num_packs)
        else:
            ratios = (0.0,) * 7
        seconds = time_ms / 1000.0
        if num_sequences == 0:
            throughput = 0.0
        else:
            throughput = num_sequences / seconds if seconds > 0 else float("inf")
        before = num_packs - packs_added
        split_cost = total / (before * capacity) - ratios[0] if packs_added else 0.0
        return cls(num_sequences, total, num_packs, slots - total, *ratios, time_ms, throughput,
                   packs_added, split_cost)

    @classmethod
    def of_packing(cls, items: np.ndarray, offsets: np.ndarray, used: np.ndarray,
                   lengths: np.ndarray, capacity: int, time_ms: float, packs_added: int = 0,
                   max_items: int = 0) -> PackMetrics:
        """Every figure, the quality report included (one pass of the C
        library for the bound, NumPy for the rest)."""
        basic = cls.from_arrays(len(items), used, capacity, time_ms, packs_added)
        bound = _native.lower_bound(np.ascontiguousarray(lengths, dtype=np.int64), capacity,
                                    max_items)
        per_pack = np.diff(offsets)
        cost = _attention_costs(items, offsets, lengths)
        spread = (float(cost.min()), float(cost.max()),
                  float(cost.std() / cost.mean())) if cost.size else (0.0, 0.0, 0.0)
        return dataclasses.replace(
            basic, lower_bound=bound,
            lower_bound_gap=basic.num_packs / bound - 1.0 if bound else 0.0,
            sequences_per_pack=tuple(int(c) for c in np.bincount(per_pack)) if per_pack.size else (),
            attention_cost_min=spread[0], attention_cost_max=spread[1],
            attention_cost_cv=spread[2])

    def __repr__(self) -> str:
        return (
            f"PackMetrics(bins={self.num_packs}, efficiency={self.efficiency:.2%}, "
            f"time={self.packing_time_ms:.2f}ms)"
        )


def bin_sums(item_values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The sum of ``item_values`` (one per entry of ``items``) over each bin,
    in their dtype (exact for integers that cannot overflow); 0 for an empty
    bin (a PackResult built by hand may hold one)."""
    sums = np.zeros(len(offsets) - 1, dtype=item_values.dtype)
    # reduceat needs strictly increasing starts to sum whole bins (it returns
    # one element for an empty one), so it runs on the non-empty bins only.
    filled = np.diff(offsets) > 0
    if filled.any():
        starts = np.asarray(offsets[:-1][filled], dtype=np.intp)
        sums[filled] = np.add.reduceat(item_values, starts)
    return sums


def _int64_copy(name: str, values) -> np.ndarray:
    """``values`` as a new 1-D int64 array; TypeError for other kinds."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise TypeError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.dtype == np.uint64 and array.size and array.max() > np.uint64(INT64_MAX):
        index = int(np.argmax(array > np.uint64(INT64_MAX)))
        raise ValueError(f"{name}[{index}] = {int(array[index])} does not fit int64")
    return np.array(array, dtype=np.int64)  # a copy, always


def _check_offsets(offsets: np.ndarray, num_items: int) -> None:
    if offsets.size == 0 or offsets[0] != 0:
        raise ValueError("offsets must start with 0 (it holds num_bins + 1 boundaries)")
    steps = np.diff(offsets)
    if steps.size and steps.min() < 0:
        b = int(np.argmax(steps < 0))
        raise ValueError(f"offsets must not decrease: offsets[{b + 1}] = {int(offsets[b + 1])} "
                         f"< offsets[{b}] = {int(offsets[b])}")
    if offsets[-1] != num_items:
        raise ValueError(f"offsets[-1] = {int(offsets[-1])} must equal len(items) = {num_items}")


def _check_ids(items: np.ndarray, num_sequences: int) -> None:
    outside = np.flatnonzero((items < 0) | (items >= num_sequences))
    if outside.size:
        j = int(outside[0])
        raise ValueError(f"items[{j}] = {int(items[j])} is not a sequence id: ids run from 0 to "
                         f"len(lengths) - 1 = {num_sequences - 1}")
    repeat = repeated_id(items)
    if repeat is not None:
        earlier, j = repeat
        raise ValueError(f"sequence {int(items[j])} is in items twice (items[{earlier}] and "
                         f"items[{j}]): a sequence goes in at most one bin")


def repeated_id(items: np.ndarray) -> tuple[int, int] | None:
    """``(earlier, j)`` for the first entry ``items[j]`` that repeats an
    earlier one, ``items[earlier]``; None when each id is there once (the
    rule of a PackResult and of a stream's pending packs)."""
    _ids, first = np.unique(items, return_index=True)
    if first.size == items.size:
        return None
    repeat = np.ones(items.size, dtype=bool)
    repeat[first] = False
    j = int(np.argmax(repeat))
    return int(np.argmax(items == items[j])), j


def _check_used(used: np.ndarray, sums: np.ndarray) -> None:
    if used.size != sums.size:
        raise ValueError(f"used has {used.size} values; offsets bound {sums.size} bins")
    wrong = np.flatnonzero(used != sums)
    if wrong.size:
        b = int(wrong[0])
        raise ValueError(f"used[{b}] = {int(used[b])}, but the lengths of bin {b} sum to "
                         f"{int(sums[b])} (or pass used=None to compute it)")


def _attention_costs(items: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sum of squared lengths of each bin, in float64 (a square of an
    int64 length may not fit int64)."""
    return bin_sums(np.square(lengths[items].astype(np.float64)), offsets)


class PackResult:
    """The bins of one packing.

    Arrays (read-only int64): ``items`` holds the sequence ids bin by bin,
    ``offsets`` the ``num_bins + 1`` boundaries (bin ``b`` is
    ``items[offsets[b]:offsets[b + 1]]``), ``used`` the total length of
    each bin and ``lengths`` the packed lengths by sequence id.

    ``PackResult(items, offsets, used, lengths, capacity, time_ms)`` builds
    one by hand (e.g. the first bins of another, docs/balance.md). It
    checks the packing and holds read-only copies of the arrays (the
    caller's stay as they are): every id in ``items`` is a sequence id
    (``0 <= id < len(lengths)``) and in at most one bin (a sequence in no
    bin is left out of the result); ``offsets`` runs from 0 to
    ``len(items)`` without decreasing (a bin may be empty); each length is
    in ``[1, capacity]``; ``used[b]`` is the sum of bin ``b``'s lengths, at
    most ``capacity`` (``used=None`` computes it). A ValueError or
    TypeError names the first entry that breaks a rule.
    """

    __slots__ = ("_items", "_offsets", "_used", "_lengths", "_capacity", "_time_ms",
                 "_packs_added", "_max_items", "_bins", "_packs", "_metrics")

    def __init__(
        self,
        items,
        offsets,
        used,
        lengths,
        capacity: int,
        time_ms: float,
        packs_added: int = 0,
        max_items: int = 0,
    ):
        capacity = check_capacity(capacity)
        lengths = _int64_copy("lengths", lengths)
        _native.check_lengths(lengths, capacity)
        items = _int64_copy("items", items)
        offsets = _int64_copy("offsets", offsets)
        _check_offsets(offsets, items.size)
        _check_ids(items, lengths.size)
        sums = bin_sums(lengths[items], offsets)  # exact: each id once, total fits int64
        if sums.size and sums.max() > capacity:
            b = int(np.argmax(sums))
            raise ValueError(f"bin {b} holds {int(sums[b])} tokens, more than the capacity "
                             f"{capacity}")
        if used is None:
            used = sums
        else:
            used = _int64_copy("used", used)
            _check_used(used, sums)
        if isinstance(time_ms, (bool, np.bool_)) or \
                not isinstance(time_ms, (int, float, np.integer, np.floating)):
            raise TypeError(f"time_ms must be a number, not {time_ms!r}")
        if not time_ms >= 0:
            raise ValueError(f"time_ms must be >= 0, not {time_ms!r}")
        packs_added = check_count("packs_added", packs_added)
        max_items = check_count("max_items", max_items)
        if packs_added > used.size:
            raise ValueError(f"packs_added = {packs_added} is more than the {used.size} bins")
        counts = np.diff(offsets)
        if max_items and counts.size and counts.max() > max_items:
            b = int(np.argmax(counts))
            raise ValueError(f"bin {b} holds {int(counts[b])} sequences, more than "
                             f"max_items = {max_items}")
        self._set(items, offsets, used, lengths, capacity, float(time_ms), packs_added,
                  max_items)

    @classmethod
    def _of_packing(cls, items: np.ndarray, offsets: np.ndarray, used: np.ndarray,
                    lengths: np.ndarray, capacity: int, time_ms: float, packs_added: int = 0,
                    max_items: int = 0) -> PackResult:
        """A result of the library's own packing (the C core's output, or a
        plugin's after ``_packing.plugin_call`` checked it): the arrays are its own
        and already obey the rules above, so they are not checked or copied
        again (that would cost about as much as packing)."""
        self = cls.__new__(cls)
        self._set(items, offsets, used, lengths, capacity, time_ms, packs_added, max_items)
        return self

    def _set(self, items, offsets, used, lengths, capacity, time_ms, packs_added, max_items):
        for array in (items, offsets, used, lengths):
            array.flags.writeable = False
        self._items = items
        self._offsets = offsets
        self._used = used
        self._lengths = lengths
        self._capacity = capacity
        self._time_ms = time_ms
        self._packs_added = packs_added
        self._max_items = max_items
        self._bins: list[list[int]] | None = None
        self._packs: list[Pack] | None = None
        self._metrics: PackMetrics | None = None

    @property
    def items(self) -> np.ndarray:
        return self._items

    @property
    def offsets(self) -> np.ndarray:
        return self._offsets

    @property
    def used(self) -> np.ndarray:
        return self._used

    @property
    def lengths(self) -> np.ndarray:
        """The packed lengths, by sequence id (read-only int64)."""
        return self._lengths

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def num_bins(self) -> int:
        return len(self._used)

    def __len__(self) -> int:
        return len(self._used)

    @property
    def efficiency(self) -> float:
        """Total length over ``num_bins * capacity``; 0.0 when there are no bins."""
        slots = self.num_bins * self._capacity
        return int(self._used.sum()) / slots if slots else 0.0

    @property
    def packs_added(self) -> int:
        """Packs added by splitting bins to meet ``min_packs`` or
        ``packs_multiple_of`` (0 without those constraints)."""
        return self._packs_added

    @property
    def time_ms(self) -> float:
        """Time spent packing, in milliseconds: in the C library, or for a
        plugin strategy in the plugin and the checks of its result."""
        return self._time_ms

    @property
    def bins(self) -> list[list[int]]:
        """The sequence ids of each bin (built on first access, then cached)."""
        if self._bins is None:
            self._bins = bins_from_arrays(np.ascontiguousarray(self._items, dtype=np.int64),
                                          np.ascontiguousarray(self._offsets, dtype=np.int64))
        return self._bins

    @property
    def packs(self) -> list[Pack]:
        """One ``Pack`` per bin (built on first access, then cached, in C)."""
        if self._packs is None:
            items, offsets, used, item_lengths = (
                np.ascontiguousarray(a, dtype=np.int64)
                for a in (self._items, self._offsets, self._used, self._lengths[self._items]))
            self._packs = packs_from_arrays(Pack, items, item_lengths, offsets, used)
        return self._packs

    @property
    def metrics(self) -> PackMetrics:
        """Packing metrics (computed on first access, then cached)."""
        if self._metrics is None:
            self._metrics = PackMetrics.of_packing(
                self._items, self._offsets, self._used, self._lengths, self._capacity,
                self._time_ms, self._packs_added, self._max_items)
        return self._metrics

    def __repr__(self) -> str:
        return (
            f"PackResult(bins={self.num_bins}, efficiency={self.efficiency:.2%}, "
            f"time={self._time_ms:.2f}ms)"
        )
