"""A canonical order of token sequences that depends on their content alone.

An engine hands a worker a shard's rows in whatever order its shuffle left
them. Packing them in that order would make the packs depend on scheduling,
so a shard's rows are first put in content order: by a 64-bit key of their
tokens (and labels), and where two keys are equal, by the tokens themselves.
Rows with equal content are interchangeable, so any order among them gives
the same packed rows.

The key (also what assigns a row to a shard when no shard column is given)
is computed with NumPy's wrapping uint64 arithmetic, bit for bit the same on
every platform:

    mix(x)  = the SplitMix64 finalizer (docs/prng.md, _core.mix.mix)
    token_key = mix(value + mix(position + 0x9E3779B97F4A7C15))
    key(seq)  = mix(sum of its token keys (mod 2**64) ^ mix(length))
    with labels: mix(key(input_ids) ^ rotl(key(labels), 32))
"""

from __future__ import annotations

import numpy as np

from .._core.mix import GOLDEN_GAMMA, mix

_GOLDEN = np.uint64(GOLDEN_GAMMA)
#: Tokens hashed per step: bounds the temporaries to a few times 32 MiB.
_CHUNK_TOKENS = 1 << 22


def _sequence_keys(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The key of each sequence ``values[offsets[i]:offsets[i + 1]]``."""
    count = offsets.size - 1
    lengths = np.diff(offsets)
    sums = np.zeros(count, dtype=np.uint64)
    first = 0
    with np.errstate(over="ignore"):
        while first < count:
            # Whole sequences per step, at least one.
            last = int(np.searchsorted(offsets, offsets[first] + _CHUNK_TOKENS, side="right")) - 1
            last = min(max(last, first + 1), count)
            start, stop = int(offsets[first]), int(offsets[last])
            part = values[start:stop].astype(np.int64, copy=False).view(np.uint64)
            position = np.arange(stop - start, dtype=np.uint64)
            position -= np.repeat((offsets[first:last] - start).astype(np.uint64),
                                  lengths[first:last])
            token_keys = mix(part + mix(position + _GOLDEN))
            running = np.zeros(stop - start + 1, dtype=np.uint64)
            np.cumsum(token_keys, out=running[1:])
            bounds = offsets[first:last + 1] - start
            sums[first:last] = running[bounds[1:]] - running[bounds[:-1]]
            first = last
        return mix(sums ^ mix(lengths.astype(np.uint64)))


def content_keys(columns: list) -> np.ndarray:
    """The uint64 content key of each sequence (see the module's docstring).

    ``columns`` holds ``(values, offsets)`` of ``input_ids`` and, where
    there are labels, of ``labels``: row ``i`` of a column is
    ``values[offsets[i]:offsets[i + 1]]``.
    """
    keys = _sequence_keys(*columns[0])
    if len(columns) > 1:
        label_keys = _sequence_keys(*columns[1])
        with np.errstate(over="ignore"):
            rotated = (label_keys << np.uint64(32)) | (label_keys >> np.uint64(32))
            keys = mix(keys ^ rotated)
    return keys


def content_order(columns: list, keys: np.ndarray) -> np.ndarray:
    """The permutation that puts the sequences of ``columns`` (as in
    ``content_keys``) in content order: by their ``keys``, then, where keys
    are equal but contents differ, by their tokens and labels as lists of
    integers."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1])
    if same.size == 0:
        return order
    # Runs of equal keys: their members are nearly always equal copies,
    # which may stay as they are (checked with NumPy, no Python per token);
    # otherwise the run is sorted by content.
    starts = same[np.r_[True, np.diff(same) > 1]]
    ends = same[np.r_[np.diff(same) > 1, True]] + 2
    for start, end in zip(starts.tolist(), ends.tolist()):
        members = order[start:end]
        if not _all_equal(columns, members):
            contents = [_content(columns, int(i)) for i in members]
            ranked = sorted(range(len(members)), key=contents.__getitem__)
            order[start:end] = members[ranked]
    return order


def _all_equal(columns: list, members: np.ndarray) -> bool:
    """Whether the sequences ``members`` hold the same values in every column."""
    for values, offsets in columns:
        starts, stops = offsets[members], offsets[members + 1]
        length = int(stops[0] - starts[0])
        if (stops - starts != length).any():
            return False
        first = values[int(starts[0]):int(stops[0])]
        # A block of members at a time, as one 2-D comparison.
        block = max(1, _CHUNK_TOKENS // max(length, 1))
        for a in range(1, members.size, block):
            index = starts[a:a + block, None] + np.arange(length)
            if not (values[index] == first).all():
                return False
    return True


def _content(columns: list, i: int) -> tuple:
    return tuple(values[int(offsets[i]):int(offsets[i + 1])].tolist()
                 for values, offsets in columns)


def shard_of_keys(keys: np.ndarray, num_shards: int) -> np.ndarray:
    """The shard (0 to num_shards - 1) of each content key, as int64."""
    return (keys % np.uint64(num_shards)).astype(np.int64)
