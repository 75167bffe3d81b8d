"""Atomic groups: sequences that must share a pack.

``Packer.pack(lengths, groups=ids)`` packs each group as one unit whose
length is the sum of its sequences' lengths, then puts the sequences back:
a group's sequences sit together in its pack, in id order. Groups are
numbered by first appearance, so the packing depends on the order of the
sequences, never on the values of the group ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..result import bin_sums


@dataclass(frozen=True)
class Groups:
    """The units of a grouped packing.

    ``members`` holds the sequence ids group by group (group ``g`` is
    ``members[starts[g]:starts[g + 1]]``), ``lengths`` the tokens of each
    group and ``sizes`` its number of sequences.
    """

    members: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    sizes: np.ndarray
    ids: np.ndarray  # the caller's id of each group, for messages


def group_units(groups, lengths: np.ndarray, capacity: int) -> Groups:
    """The groups of ``lengths`` (already checked: their total fits int64).

    ``groups`` is a sequence of ints, one per length. ValueError for a
    group whose tokens exceed the capacity; TypeError for ids that are not
    integers.
    """
    ids = np.asarray(groups)
    if ids.ndim != 1 or ids.shape[0] != lengths.shape[0]:
        raise ValueError(f"groups must hold one id per length: {lengths.shape[0]} lengths, "
                         f"groups of shape {ids.shape}")
    if ids.size and (ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"groups must be integer ids, not {ids.dtype} values")
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    # Group numbers by first appearance.
    by_appearance = np.argsort(first, kind="stable")
    number = np.empty(len(unique), dtype=np.int64)
    number[by_appearance] = np.arange(len(unique))
    group_of = number[inverse.reshape(-1)]
    members = np.argsort(group_of, kind="stable").astype(np.int64)
    sizes = np.bincount(group_of, minlength=len(unique)).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    group_lengths = bin_sums(lengths[members], starts).astype(np.int64)
    over = np.flatnonzero(group_lengths > capacity)
    if over.size:
        g = int(over[0])
        shown = members[starts[g]:starts[g + 1]]
        listed = ", ".join(str(int(i)) for i in shown[:8]) + (", ..." if len(shown) > 8 else "")
        raise ValueError(f"group {ids[shown[0]].item()!r} (sequences {listed}) holds "
                         f"{int(group_lengths[g])} tokens, more than the capacity {capacity}: "
                         f"a group must fit one pack")
    return Groups(members, starts, group_lengths, sizes, unique[by_appearance])


def group_limit(units: Groups, max_items: int) -> int:
    """The limit in groups that gives ``max_items`` sequences per pack: 0
    (none) without a limit; with one, every group must have the same size
    g <= max_items, and the limit is max_items // g."""
    if max_items == 0 or len(units.sizes) == 0:
        return max_items
    g = int(units.sizes[0])
    odd = np.flatnonzero(units.sizes != g)
    if odd.size:
        other = int(odd[0])
        raise ValueError(f"max_seqs_per_pack with groups needs groups of one size: group "
                         f"{units.ids[0].item()!r} has {g} sequences and group {units.ids[other].item()!r} "
                         f"has {int(units.sizes[other])}")
    if g > max_items:
        raise ValueError(f"group {units.ids[0].item()!r} has {g} sequences, more than "
                         f"max_seqs_per_pack={max_items}")
    return max_items // g


def expand(units: Groups, items: np.ndarray, offsets: np.ndarray):
    """Sequence-level ``(items, offsets)`` from a packing of the groups."""
    sizes = units.sizes[items]
    total = int(sizes.sum())
    # Each placed group's members, one after another.
    first = np.repeat(units.starts[items], sizes)
    step = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    sequence_items = units.members[first + step]
    placed = np.concatenate(([0], np.cumsum(sizes)))
    return sequence_items, placed[offsets]
