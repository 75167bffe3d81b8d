"""Running a plugin strategy: its input checked as C would, its output trusted never.

A plugin sees the same input the C core accepts (each length in
``[1, capacity]``, a total that fits int64) and must return the protocol's
flat form (see ``registry``). Every result is checked here, with NumPy over
whole arrays, before it reaches a ``PackResult``: a wrong packing becomes a
``PluginError`` naming the plugin, never a silently wrong result.
"""

from __future__ import annotations

import numpy as np

from .._core import native as _native
from ..registry import PluginError, StrategyInfo
from ..result import bin_sums


def run_plugin(info: StrategyInfo, lengths: np.ndarray, capacity: int, options: dict,
               max_items: int = 0):
    """``(items, offsets, used)`` of the plugin ``info`` on checked ``lengths``,
    with at most ``max_items`` ids per bin when that is not 0."""
    check_lengths(lengths, capacity)
    # A read-only copy: the plugin can neither change the caller's lengths
    # nor make the checks below judge its result against other lengths
    # (a view could be made writeable again).
    view = lengths.copy()
    view.flags.writeable = False
    try:
        returned = info.func(view, capacity, **options)
    except (ValueError, TypeError, MemoryError):
        raise  # the plugin's word on bad input or options: the user's to read
    except Exception as error:
        raise PluginError(f"{_name(info)} raised {type(error).__name__}: {error}") from error
    items, offsets, used = check_result(info, returned, lengths, capacity)
    if max_items:
        over = np.flatnonzero(np.diff(offsets) > max_items)
        if over.size:
            b = int(over[0])
            raise PluginError(f"{_name(info)} returned bin {b} with "
                              f"{int(offsets[b + 1] - offsets[b])} sequences, over "
                              f"max_seqs_per_pack={max_items}")
    return items, offsets, used


def check_lengths(lengths: np.ndarray, capacity: int) -> None:
    """The C core's check (``sp_lengths_check``), with its messages:
    ValueError on bad input."""
    _native.check_lengths(lengths, capacity)


def check_result(info: StrategyInfo, returned, lengths: np.ndarray, capacity: int):
    """``(items, offsets, used)`` from a plugin's return value, or PluginError."""
    name = _name(info)
    if not isinstance(returned, tuple) or len(returned) != 2:
        raise PluginError(f"{name} returned {_kind(returned)}; the protocol asks for a tuple "
                          f"(items, bin_offsets) of two int64 arrays")
    n = lengths.shape[0]
    items = _int64_vector(name, "items", returned[0])
    offsets = _int64_vector(name, "bin_offsets", returned[1])
    if items.shape[0] != n:
        raise PluginError(f"{name} returned {items.shape[0]} items for {n} lengths; "
                          f"each id must appear exactly once")
    _check_offsets(name, offsets, n)
    _check_each_id_once(name, items, n)
    if n == 0:
        return items, offsets, np.zeros(0, dtype=np.int64)
    used = bin_sums(lengths[items], offsets)
    over = np.flatnonzero(used > capacity)
    if over.size:
        b = int(over[0])
        raise PluginError(f"{name} returned bin {b} with {int(used[b])} tokens, over the "
                          f"capacity {capacity}")
    return items, offsets, used


def _int64_vector(name: str, what: str, value) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise PluginError(f"{name} returned {what} as {_kind(value)}, not a NumPy array")
    if value.dtype != np.int64 or value.ndim != 1:
        raise PluginError(f"{name} returned {what} of dtype {value.dtype} and shape "
                          f"{value.shape}; the protocol asks for a 1-D int64 array")
    # A copy the result owns: the plugin may keep and change its own arrays.
    return np.array(value, dtype=np.int64, order="C", copy=True)


def _check_offsets(name: str, offsets: np.ndarray, n: int) -> None:
    if offsets.size == 0 or offsets[0] != 0 or offsets[-1] != n:
        first_last = f"[{offsets[0]}, ..., {offsets[-1]}]" if offsets.size else "empty"
        raise PluginError(f"{name} returned bin_offsets {first_last}; they must start at 0 "
                          f"and end at n = {n} (num_bins + 1 entries)")
    steps = np.diff(offsets)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        b = int(bad[0])
        problem = "is empty" if steps[b] == 0 else "has a negative size"
        raise PluginError(f"{name} returned bin {b} that {problem}: bin_offsets[{b}] = "
                          f"{int(offsets[b])}, bin_offsets[{b + 1}] = {int(offsets[b + 1])}; "
                          f"offsets must strictly increase")


def _check_each_id_once(name: str, items: np.ndarray, n: int) -> None:
    if n == 0:
        return
    out_of_range = np.flatnonzero((items < 0) | (items >= n))
    if out_of_range.size:
        i = int(out_of_range[0])
        raise PluginError(f"{name} returned items[{i}] = {int(items[i])}, not a sequence id "
                          f"(ids are 0 to {n - 1})")
    counts = np.bincount(items, minlength=n)
    if np.any(counts != 1):
        duplicate = np.flatnonzero(counts > 1)
        missing = np.flatnonzero(counts == 0)
        parts = []
        if duplicate.size:
            parts.append(f"id {int(duplicate[0])} appears {int(counts[duplicate[0]])} times")
        if missing.size:
            parts.append(f"id {int(missing[0])} is missing")
        raise PluginError(f"{name} returned an invalid packing: {' and '.join(parts)}; "
                          f"each id must appear exactly once")


def _name(info: StrategyInfo) -> str:
    return f"strategy plugin {info.long!r} ({info.origin})"


def _kind(value) -> str:
    return f"a {type(value).__name__}"
