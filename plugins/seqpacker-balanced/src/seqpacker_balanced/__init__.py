"""``balanced``: packs whose attention work is bounded, not only their tokens.

A pack's tokens cost time in proportion to their number, but its attention
costs the sum of the squared sequence lengths: one 4096-token sequence does
as much attention work as sixteen of 1024 tokens. seqpacker's built-ins
bound only the tokens, so the packs of one step can take very different
times. ``balanced`` bounds both: every pack holds at most ``capacity``
tokens, and its attention work ``sum(length ** 2)`` stays within that of one
sequence of ``max_attention`` tokens (``max_attention ** 2``). A sequence
longer than ``max_attention`` cannot meet that bound and gets a pack of its
own.

The rule is first fit decreasing over the two budgets: sequences longest
first (ties: the lower index), each into the first pack with room for both
its tokens and its attention work, or a new pack. Without ``max_attention``
(or with it at ``capacity``, as ``sum(length ** 2) <= sum(length) ** 2``)
the attention bound never binds and the packs are those of seqpacker's FFD.
"""

from __future__ import annotations

import numpy as np

__all__ = ["balanced"]
__version__ = "0.2.0"


def balanced(lengths: np.ndarray, capacity: int, *, max_attention: int | None = None,
             seed=None, k=None, threads=None) -> tuple[np.ndarray, np.ndarray]:
    """The seqpacker strategy (protocol 1): ``(items, bin_offsets)``.

    ``max_attention`` (an option: ``Packer(..., options={"max_attention":
    2048})``), an int in ``[1, capacity]``, bounds each pack's attention work
    to ``max_attention ** 2``; ``None`` bounds the tokens alone. ``seed``, ``k``
    and ``threads`` are seqpacker's options, which this strategy does not use.
    """
    limit = _check_max_attention(max_attention, capacity)  # None: tokens alone
    order = np.argsort(-lengths, kind="stable")  # longest first, ties by index
    n = len(order)
    token_room = np.empty(n, dtype=np.int64)  # per open pack; at most n packs
    work_room = np.empty(n, dtype=np.int64)
    pack_of = np.empty(n, dtype=np.int64)  # the pack of each sequence, in `order`
    packs = 0
    for position, i in enumerate(order):
        length = int(lengths[i])
        fits = token_room[:packs] >= length
        if limit is not None:  # a sequence over the limit fits no pack
            fits &= work_room[:packs] >= length * length if length <= limit else False
        b = int(np.argmax(fits)) if fits.any() else packs
        if b == packs:  # a new pack
            token_room[b] = capacity
            work_room[b] = 0 if limit is None else limit * limit
            packs += 1
        token_room[b] -= length
        if limit is not None:
            # A sequence longer than the limit fills its pack alone.
            work_room[b] = work_room[b] - length * length if length <= limit else -1
        pack_of[position] = b
    # Items pack by pack, each pack's in the order placed (a stable sort).
    by_pack = np.argsort(pack_of, kind="stable")
    offsets = np.zeros(packs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pack_of, minlength=packs), out=offsets[1:])
    return order[by_pack].astype(np.int64), offsets


balanced.seqpacker_protocol = 1  # the strategy protocol this function follows


def _check_max_attention(max_attention, capacity: int) -> int | None:
    if max_attention is None:
        return None
    if isinstance(max_attention, bool) or not isinstance(max_attention, (int, np.integer)):
        raise TypeError(f"balanced: max_attention must be an int, not "
                        f"{type(max_attention).__name__}")
    if not 1 <= max_attention <= min(capacity, _MAX_LIMIT):
        raise ValueError(f"balanced: max_attention = {max_attention} must be >= 1 and "
                         f"<= {min(capacity, _MAX_LIMIT)} (the capacity, and its square "
                         f"must fit int64)")
    return int(max_attention)


_MAX_LIMIT = 3_037_000_499  # the largest int whose square fits int64
