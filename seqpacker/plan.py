"""``plan()``: what a packing will give, before training.

A plan answers "how many packs, how many optimizer steps per epoch, how
close to the best possible" at the cost of the packing alone: the C
library packs into scratch arrays that are dropped, and no result, bin
list or per-pack object is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._core import native as _native
from ._core.validation import as_lengths, check_positive
from .packer import Packer


@dataclass(frozen=True)
class Plan:
    """The figures of a packing that was not kept.

    ``steps_per_epoch`` is ``ceil(num_packs / (num_ranks *
    accumulation_steps))``; ``last_step_short`` is how many packs the last
    step lacks (0 when the count divides evenly, as
    ``packs_multiple_of=num_ranks * accumulation_steps`` ensures).
    ``lower_bound`` and ``lower_bound_gap`` are those of ``PackMetrics``.
    """

    num_sequences: int
    total_tokens: int
    num_packs: int
    packs_added: int
    efficiency: float
    lower_bound: int
    lower_bound_gap: float
    steps_per_epoch: int
    last_step_short: int


def plan(lengths, capacity: int, strategy: str = "obfd", *, seed: int | None = None,
         k: int | None = None, threads: int | None = None,
         max_seqs_per_pack: int | None = None, min_packs: int | None = None,
         packs_multiple_of: int | None = None, groups=None, num_ranks: int = 1,
         accumulation_steps: int = 1) -> Plan:
    """The pack count, steps per epoch and quality of packing ``lengths``
    with ``Packer(capacity, strategy, seed, ...)`` (same options, same
    checks, same bins), without keeping the bins."""
    per_step = (check_positive("num_ranks", num_ranks)
                * check_positive("accumulation_steps", accumulation_steps))
    packer = Packer(capacity, strategy, seed, k=k, threads=threads,
                    max_seqs_per_pack=max_seqs_per_pack, min_packs=min_packs,
                    packs_multiple_of=packs_multiple_of)
    array = np.ascontiguousarray(as_lengths(lengths), dtype=np.int64)
    _items, offsets, used, _time_ms, added = packer._run(array, groups)
    num_packs = len(offsets) - 1
    total = int(used.sum())
    bound = _native.lower_bound(array, packer.capacity, max_seqs_per_pack or 0)
    steps = -(-num_packs // per_step)
    return Plan(
        num_sequences=int(array.shape[0]), total_tokens=total, num_packs=num_packs,
        packs_added=added,
        efficiency=total / (num_packs * packer.capacity) if num_packs else 0.0,
        lower_bound=bound, lower_bound_gap=num_packs / bound - 1.0 if bound else 0.0,
        steps_per_epoch=steps, last_step_short=steps * per_step - num_packs)

