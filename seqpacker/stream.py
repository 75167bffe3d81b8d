"""``StreamPacker``: online packing of a stream of lengths with bounded memory.

Lengths arrive one at a time (``add``) or in chunks (``add_many``); each bin
comes back as a ``Pack`` as soon as it can take nothing more. The C stream
holds only the open bins (one for NextFit, at most k for HarmonicK) and the
packs not yet handed out, so memory never grows with the stream.

All the packing is in C (``sp_stream_*``), driven by the base class
``Stream`` of the extension (``_core/_stream.c``), which owns the C stream,
makes every call on it, builds the packs and keeps the packs of an
interrupted call as pending packs. ``add`` is its C method; this module
checks arguments, words the errors (``add``'s too, from ``_add_error``)
and pickles.
"""

from __future__ import annotations

import copyreg
import hashlib
import operator
import os
import weakref
from typing import NamedTuple

import numpy as np

from ._core import native as _native
from ._core._ext import Stream, StreamError, set_add_helpers
from ._core.validation import as_lengths, check_capacity, check_k, check_max_seqs
from .registry import available_strategies, get_strategy
from .result import Pack, repeated_id

_PICKLE_VERSION = 4
#: The versions read: 3 is 4 without pending packs.
_PICKLE_VERSIONS = (3, 4)


class _Info(NamedTuple):
    """``sp_stream_info`` and the number of pending packs (``Stream._info``)."""

    capacity: int
    strategy: int
    k: int
    max_items: int
    sequences_added: int
    open_bins: int
    open_items: int
    unread_packs: int
    unread_items: int
    finished: int
    pending_packs: int


class StreamPacker(Stream):
    """Packs a stream of sequence lengths online, handing out full packs.

    Args:
        capacity: tokens per bin, an int >= 1.
        strategy: ``"nf"`` (NextFit) or ``"hk"`` (HarmonicK), in any
            spelling ``Packer`` accepts. Other strategies need the whole
            input first: use ``Packer`` for them.
        k: number of size classes of ``hk``, 2 to 65536; ``None`` means 10.
            Checked and then ignored by ``nf``.
        max_seqs_per_pack: the most sequences a pack holds, an int >= 1;
            ``None`` means no limit. A bin at the limit is handed out at
            once (as by ``Packer`` with the same limit).

    Sequence ids are 0, 1, 2, ... in the order lengths are accepted; a
    rejected length raises and takes no id. NextFit hands out a bin when the
    next length does not fit it or when it is exactly full. HarmonicK puts a
    length ``l`` in class ``i = capacity // l`` when ``i < k`` and hands out
    that class's bin when it holds ``i`` sequences; shorter lengths share
    one next-fit bin. ``finish()`` hands out the bins still open, in the
    order they were opened. The packs of a stream, sorted by their first
    sequence id, are exactly the bins of ``Packer(capacity, strategy).pack``
    over the same lengths.

    Pickling keeps the open bins, so a pipeline can checkpoint and resume.

    A call interrupted after its C call (a KeyboardInterrupt that lands
    then, a MemoryError) keeps what C did: its lengths stay added, and the
    packs it moved out are handed out first by the next call that returns
    packs (``add``, ``add_many``, ``add_many_flat``, or ``finish``, which
    may be called again after an interrupted ``finish``). A pickle keeps
    them too.

    Give each thread its own StreamPacker. Threads that share one anyway
    take turns (a call that meets a long ``add_many`` of another thread
    waits for it, never spinning), so it cannot be corrupted and every
    pack still comes out exactly once, also when calls fail or are
    interrupted (but for the windows docs/streaming.md names), but
    possibly from another thread's call than the one whose length
    completed it.
    """

    __slots__ = ("_strategy", "_k", "_max_items", "__weakref__")

    def __init__(self, capacity: int, strategy: str = "nf", k: int | None = None, *,
                 max_seqs_per_pack: int | None = None):
        capacity = check_capacity(capacity)
        info = get_strategy(strategy)
        if not info.streamable:
            supported = " and ".join(f"{s.short.lower()!r} ({s.long})"
                                     for s in available_strategies() if s.streamable)
            raise ValueError(
                f"strategy {strategy!r} ({info.long}) cannot pack a stream: it needs "
                f"every length before it places the first. StreamPacker supports "
                f"{supported}; for offline packing use "
                f"Packer({capacity}, {strategy!r}).pack(lengths)"
            )
        k = check_k(k)
        max_items = check_max_seqs(max_seqs_per_pack)
        _native.options(k=k, max_items=max_items)  # words a bad setting
        try:
            self._open(capacity, info.c_id, k, max_items, Pack)
        except StreamError as error:
            raise _native.error(error.args[0], capacity=capacity) from None
        self._attach()

    def _attach(self) -> None:
        """The settings of the new C stream, and its fork guard."""
        info = self._info()
        self._strategy = next(s for s in available_strategies() if s.c_id == info.strategy)
        self._k = info.k
        self._max_items = info.max_items
        _LIVE.add(self)

    def _info(self) -> _Info:
        return _Info(*Stream._info(self))

    # ---- adding -------------------------------------------------------------

    # add(length) -> list[Pack] is Stream.add, in C: "Add one length;
    # returns the packs it completed (often none)."

    def add_many(self, lengths) -> list[Pack]:
        """Add a chunk of lengths (a sequence or an integer array), in order.

        Returns the packs the chunk completed (after any pending ones). The
        chunk is checked whole first: if any length is bad, ValueError
        names its index and none of the chunk is accepted. A call
        interrupted after its C call (KeyboardInterrupt, MemoryError) keeps
        the chunk added; the next call hands out its packs first.
        """
        lengths = as_lengths(lengths)
        try:
            return self._add_many(lengths, False)
        except StreamError as error:
            raise _batch_error(error, lengths, self.capacity) from None

    def add_many_flat(self, lengths) -> tuple[np.ndarray, np.ndarray]:
        """``add_many`` returning ``(items, bin_offsets)``, two int64 arrays.

        ``items`` holds the sequence ids of the completed packs, pack by
        pack, and ``bin_offsets`` the ``num_packs - 1`` split points, as
        ``Packer.pack_flat`` gives them: ``np.split(items, bin_offsets)``
        gives the packs. When no pack completed ``items`` is empty (and
        ``np.split`` gives a single empty array).
        """
        lengths = as_lengths(lengths)
        try:
            items, offsets = self._add_many(lengths, True)
        except StreamError as error:
            raise _batch_error(error, lengths, self.capacity) from None
        # Arrays over the memory C wrote, not copies. The packs have left C
        # here: a MemoryError of these few small objects loses them, as an
        # interrupt between a call and its return would (docs/streaming.md).
        return np.asarray(items), np.asarray(offsets)[1:-1]

    def finish(self) -> list[Pack]:
        """Hand out every bin still open, in the order they were opened.

        After this, every call raises ValueError, except ``finish()`` again
        after a ``finish()`` that was interrupted (or an ``add`` that found
        packs pending): it hands out the packs still waiting, and raises
        once none are left.
        """
        try:
            return self._finish()
        except StreamError as error:
            raise _stream_error(error.args[0]) from None

    # ---- state --------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._info().capacity

    @property
    def strategy(self) -> str:
        """The upper-case short name of the strategy: ``"NF"`` or ``"HK"``."""
        return self._strategy.short

    @property
    def k(self) -> int:
        return self._k

    @property
    def max_seqs_per_pack(self) -> int | None:
        """The most sequences a pack holds; ``None`` for no limit."""
        return self._max_items or None

    @property
    def sequences_added(self) -> int:
        """Lengths accepted so far (the next sequence id)."""
        return self._info().sequences_added

    @property
    def open_bins(self) -> int:
        """Bins holding sequences but not handed out yet (at most 1 for nf, k for hk)."""
        return self._info().open_bins

    @property
    def finished(self) -> bool:
        return bool(self._info().finished)

    def __repr__(self) -> str:
        k = f", k={self._k}" if self._strategy.short == "HK" else ""
        if self._max_items:
            k += f", max_seqs_per_pack={self._max_items}"
        done = ", finished" if self.finished else ""
        return (
            f"StreamPacker(strategy={self._strategy.short!r}{k}, capacity={self.capacity}, "
            f"added={self.sequences_added}{done})"
        )

    # ---- pickling: the C state as little-endian int64 bytes -------------------

    def __reduce__(self):
        # Pickle's default for a C base class other than object fails with
        # protocols 0 and 1; this is what protocol 2 and later do anyway.
        return copyreg.__newobj__, (type(self),), self.__getstate__()

    def __getstate__(self) -> dict:
        # The C state and the pending packs of one moment (Stream._export).
        # "pending" is there only when packs are pending.
        state, pending = self._export()
        pickled = {"version": _PICKLE_VERSION, "state": _little_endian(state)}
        if pending:
            arrays = tuple(_little_endian(a) for a in pending)
            pickled["pending"] = arrays
            pickled["pending_digest"] = _digest(arrays)
        return pickled

    def __setstate__(self, pickled) -> None:
        if not (isinstance(pickled, dict) and pickled.get("version") in _PICKLE_VERSIONS):
            raise ValueError(f"not a StreamPacker pickle of version "
                             f"{' or '.join(map(str, _PICKLE_VERSIONS))} (this seqpacker reads "
                             "only those)")
        state = _int64_array(pickled.get("state"), "state")
        pending = pickled.get("pending")
        if pending is not None and (pickled["version"] < 4 or not isinstance(pending, tuple)
                                    or len(pending) != 4
                                    or pickled.get("pending_digest") != _digest(pending)):
            raise _corrupted("digest")
        if pending is not None:
            pending = tuple(_int64_array(a, "pending") for a in pending)
            if repeated_id(pending[0]) is not None:
                raise _corrupted("ids")
        # Stream._import checks the rest of the pending packs against the
        # state, and leaves this object as it was if either is bad.
        try:
            self._import(state, pending, Pack)
        except StreamError as error:
            raise _stream_error(error.args[0]) from None
        except ValueError as error:
            raise _corrupted(error.args[0]) from None
        self._attach()


#: Every live StreamPacker, for the fork handlers below.
_LIVE: weakref.WeakSet = weakref.WeakSet()
_HELD_AT_FORK: list = []


def _before_fork() -> None:
    """Wait for the calls of other threads that run on a stream without the
    GIL (a large ``add_many``) and hold each stream, so that the child
    copies whole streams and finds their locks free."""
    for packer in list(_LIVE):
        # Listed first: an interrupt between the two then leaves a listed
        # stream that _fork_release finds not held, never a held one unlisted.
        _HELD_AT_FORK.append(packer)
        packer._fork_hold()


def _after_fork() -> None:
    held, _HELD_AT_FORK[:] = list(_HELD_AT_FORK), []
    for packer in held:
        packer._fork_release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                        after_in_child=_after_fork)


def _stream_error(status: int) -> Exception:
    """The exception for a stream call's status (other than a length's)."""
    return _native.error(status, subject="the number of sequences of a stream")


def _add_error(status: int, length, capacity: int) -> Exception:
    """The exception of ``add`` (in C, which calls this once its C call has
    returned) for a status."""
    if status in _native.LENGTH_STATUSES:
        return _native.length_error(status, operator.index(length), capacity)
    return _stream_error(status)


# add() in C takes NumPy integers as validation.as_length does, and words
# its errors here.
set_add_helpers(np.integer, _add_error)


def _corrupted(part: str) -> ValueError:
    return ValueError(f"StreamPacker pickle: the pending packs are corrupted ({part})")


def _batch_error(error: StreamError, lengths: np.ndarray, capacity: int) -> Exception:
    """The exception for a StreamError of ``_add_many``: its status, the
    index of the first bad length or, out of memory, of the first length
    not taken, and the number of lengths taken (out of memory, the index)."""
    status, index = error.args[:2]
    out_of_memory = status == _native.lib.SP_ERR_OUT_OF_MEMORY
    taken = error.args[2] if len(error.args) > 2 else (index if out_of_memory else 0)
    if status in _native.LENGTH_STATUSES and taken > 0:
        # The C stream checks the chunk first; a bad length after that is
        # one another thread wrote while the C call ran without the GIL.
        bad = _native.length_error(status, int(lengths[index]), capacity, index)
        return type(bad)(f"{bad} (another thread changed the array during the call): the "
                         f"first {taken} of the chunk's {len(lengths)} lengths stay added "
                         f"(their packs come out first from the next call), and the rest, "
                         f"lengths[{taken}:], was not")
    if out_of_memory and index > 0:
        return MemoryError(f"seqpacker: the stream ran out of memory after it took the first "
                           f"{index} of the chunk's {len(lengths)} lengths: those stay added "
                           f"(their packs come out first from the next call), and the rest, "
                           f"lengths[{index}:], was not")
    if status in _native.LENGTH_STATUSES:
        return _native.length_error(status, int(lengths[index]), capacity, index)
    return _stream_error(status)


def _little_endian(data: bytes) -> bytes:
    """Native int64 bytes of ``Stream._export`` as little-endian int64 bytes."""
    return np.frombuffer(data, np.int64).astype("<i8").tobytes()


def _digest(arrays: tuple) -> bytes | None:
    """A digest of the pending packs' byte strings: the C state carries a
    checksum of its own, and this one makes every change of theirs fail to
    load as well. None if they are not byte strings."""
    if not all(isinstance(a, bytes) for a in arrays):
        return None
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        digest.update(len(a).to_bytes(8, "little"))
        digest.update(a)
    return digest.digest()


def _int64_array(data, name: str) -> np.ndarray:
    """Little-endian int64 bytes of a pickle as an int64 array."""
    if not (isinstance(data, bytes) and len(data) % 8 == 0):
        raise ValueError(f"StreamPacker pickle: {name!r} is not int64 values")
    return np.frombuffer(data, dtype="<i8").astype(np.int64)
