"""Pure-Python reference implementations of the deterministic strategies.

Written to be obviously right, not fast: every placement scans all bins.
Each function takes ``(lengths, capacity)`` and returns the bins as lists of
ids, bins in the order they were opened, ids in the order they were placed.

The tie rules are the documented ones:

- decreasing strategies sort by length descending, equal lengths by
  ascending id;
- first fit takes the lowest-numbered bin that fits;
- best fit takes the bin with the least remaining space that fits, worst fit
  the bin with the most remaining space (a new bin if even that does not
  fit); among bins with equal remaining space both take the bin that most
  recently received an item.

Other strategies get their reference in a file of their own,
``tests/reference_<name>.py``, with a ``REFERENCES`` dict of the same shape
(short name in lower case -> function of ``(lengths, capacity)``, using the
strategy's default options); ``all_references()`` merges them all.
Such a file may reuse ``place_in_order`` and the ``*_choice`` rules here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

Bins = List[List[int]]
Reference = Callable[[Sequence[int], int], Bins]


class OpenBin:
    """An open bin: its ids, its load and when it last received an item."""

    def __init__(self) -> None:
        self.ids: List[int] = []
        self.load = 0
        self.last_step = -1

    def add(self, item: int, length: int, step: int) -> None:
        self.ids.append(item)
        self.load += length
        self.last_step = step


def decreasing_order(lengths: Sequence[int]) -> List[int]:
    """Ids by length descending; Python's sort is stable, so equal lengths
    keep ascending id order."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def place_in_order(
    lengths: Sequence[int],
    capacity: int,
    order: Sequence[int],
    choose: Callable[[List[OpenBin], int], Optional[OpenBin]],
) -> Bins:
    """Place ids in ``order``; ``choose(bins, length)`` picks an open bin
    that fits, or None to open a new one."""
    bins: List[OpenBin] = []
    for step, item in enumerate(order):
        length = lengths[item]
        target = choose(bins, length)
        if target is None:
            target = OpenBin()
            bins.append(target)
        assert target.load + length <= capacity
        target.add(item, length, step)
    return [b.ids for b in bins]


def first_fit_choice(capacity: int):
    def choose(bins: List[OpenBin], length: int) -> Optional[OpenBin]:
        for b in bins:
            if b.load + length <= capacity:
                return b
        return None

    return choose


def best_fit_choice(capacity: int):
    def choose(bins: List[OpenBin], length: int) -> Optional[OpenBin]:
        fitting = [b for b in bins if b.load + length <= capacity]
        if not fitting:
            return None
        # Least remaining space; on a tie, the most recently filled bin.
        return min(fitting, key=lambda b: (capacity - b.load, -b.last_step))

    return choose


def worst_fit_choice(capacity: int):
    def choose(bins: List[OpenBin], length: int) -> Optional[OpenBin]:
        if not bins:
            return None
        # Most remaining space; on a tie, the most recently filled bin.
        emptiest = max(bins, key=lambda b: (capacity - b.load, b.last_step))
        return emptiest if emptiest.load + length <= capacity else None

    return choose


def next_fit(lengths: Sequence[int], capacity: int) -> Bins:
    """Only the newest bin is open; close it when the next item does not fit."""
    bins: Bins = []
    load = 0
    for item, length in enumerate(lengths):
        if not bins or load + length > capacity:
            bins.append([])
            load = 0
        bins[-1].append(item)
        load += length
    return bins


def first_fit(lengths: Sequence[int], capacity: int) -> Bins:
    order = range(len(lengths))
    return place_in_order(lengths, capacity, order, first_fit_choice(capacity))


def best_fit(lengths: Sequence[int], capacity: int) -> Bins:
    order = range(len(lengths))
    return place_in_order(lengths, capacity, order, best_fit_choice(capacity))


def worst_fit(lengths: Sequence[int], capacity: int) -> Bins:
    order = range(len(lengths))
    return place_in_order(lengths, capacity, order, worst_fit_choice(capacity))


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> Bins:
    order = decreasing_order(lengths)
    return place_in_order(lengths, capacity, order, first_fit_choice(capacity))


def best_fit_decreasing(lengths: Sequence[int], capacity: int) -> Bins:
    order = decreasing_order(lengths)
    return place_in_order(lengths, capacity, order, best_fit_choice(capacity))


#: Strategy short name -> reference. OBFD is BFD made fast: same bins.
REFERENCES: Dict[str, Reference] = {
    "nf": next_fit,
    "ff": first_fit,
    "bf": best_fit,
    "wf": worst_fit,
    "ffd": first_fit_decreasing,
    "bfd": best_fit_decreasing,
    "obfd": best_fit_decreasing,
}


def all_references() -> Dict[str, Reference]:
    """``REFERENCES`` of this file and of every ``reference_*.py`` beside it."""
    merged = dict(REFERENCES)
    for path in sorted(Path(__file__).resolve().parent.glob("reference_*.py")):
        spec = importlib.util.spec_from_file_location(f"_seqpacker_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        merged.update(module.REFERENCES)
    return merged
