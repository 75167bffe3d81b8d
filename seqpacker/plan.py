"""``plan()``: what a packing will give, before training.

A plan answers "how many packs, how many optimizer steps per epoch, how
close to the best possible" at the cost of the packing alone: the
packing's flat arrays are read and dropped, and no bin list, per-pack
object or metrics are built.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._core import native as _native
from ._core.validation import check_positive
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
    result = packer.pack(lengths, groups)  # bins, packs and metrics stay unbuilt
    num_packs, total = result.num_bins, int(result.used.sum())
    bound = _native.lower_bound(result.lengths, packer.capacity, max_seqs_per_pack or 0)
    steps = -(-num_packs // per_step)
    return Plan(
        num_sequences=int(result.lengths.shape[0]), total_tokens=total, num_packs=num_packs,
        packs_added=result.packs_added, efficiency=result.efficiency,
        lower_bound=bound, lower_bound_gap=num_packs / bound - 1.0 if bound else 0.0,
        steps_per_epoch=steps, last_step_short=steps * per_step - num_packs)
