"""``StreamPacker``: online packing of a stream of lengths with bounded memory.

Lengths arrive one at a time (``add``) or in chunks (``add_many``); each bin
comes back as a ``Pack`` as soon as it can take nothing more. The C stream
holds only the open bins (one for NextFit, at most k for HarmonicK) and the
packs not yet handed out, so memory never grows with the stream.

All the packing is in C (``sp_stream_*``); this module validates, builds
``Pack`` objects and pickles. ``add`` is the hot path: it is the C method of
the base class ``StreamBase`` (``_stream_fast.c``), which calls the C stream
and builds the packs without a Python frame. What it does not take (other
integer types, rejected lengths, a busy handle, packs waiting from an
interrupted call) comes back to ``_add_slow`` here.

Every other call that moves packs out of C does so under the handle's lock
through ``_move_out``: packs that C has moved out are, from the moment the
C call returns, either handed to the caller or kept as *pending* packs
(``StreamBase._pending``), which the next call hands out first and a
pickle keeps. Nothing is ever put back into C or rolled back, so no other
thread's work is undone.
"""

from __future__ import annotations

import copyreg
import hashlib

import numpy as np

from ._core import native as _native
from ._core import stream_native as _stream_native
from ._core._stream_fast import StreamBase, packs_from_arrays
from ._core.validation import (INT64_MAX, INT64_MIN, as_length, as_lengths, check_capacity, check_k,
                          check_max_seqs)
from .registry import available_strategies, get_strategy
from .result import Pack, bin_sums

_PICKLE_VERSION = 4
#: The versions read: 3 is 4 without pending packs.
_PICKLE_VERSIONS = (3, 4)


def _packs(items: np.ndarray, lengths: np.ndarray, offsets: np.ndarray,
           used: np.ndarray) -> list[Pack]:
    """Pack objects from read arrays (``offsets`` has one entry more than ``used``)."""
    return packs_from_arrays(Pack, items, lengths, offsets, used)


def _pack_list(chunks) -> list[Pack]:
    """The packs of ``PackBuffers`` chunks, in order, as Pack objects."""
    return [pack for chunk in chunks for pack in _packs(*chunk.written())]


def _flat(chunks) -> tuple[np.ndarray, np.ndarray]:
    """The packs of ``PackBuffers`` chunks as ``(items, offsets)``, offsets
    from 0 to ``len(items)`` (one chunk's arrays themselves, not copied)."""
    written = [chunk.written() for chunk in chunks]
    if len(written) == 1:
        items, _lengths, offsets, _used = written[0]
        return items, offsets
    items = [w[0] for w in written]
    starts = np.cumsum([0] + [len(i) for i in items])
    ends = [w[2][1:] + start for w, start in zip(written, starts)]
    return (np.concatenate(items or [np.empty(0, np.int64)]),
            np.concatenate([np.zeros(1, np.int64)] + ends))


def _joined(chunks):
    """The packs of ``PackBuffers`` chunks as one ``(items, lengths,
    offsets, used)`` (for a pickle)."""
    items, offsets = _flat(chunks)
    written = [chunk.written() for chunk in chunks]
    lengths = np.concatenate([np.empty(0, np.int64)] + [w[1] for w in written])
    used = np.concatenate([np.empty(0, np.int64)] + [w[3] for w in written])
    return items, lengths, offsets, used


class StreamPacker(StreamBase):
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
    take turns (the C stream answers an overlapping call with "busy", and
    the calls from Python then wait on a lock of the stream, never
    spinning), so it cannot be corrupted and every pack still comes out
    exactly once, also when calls fail or are interrupted (but for the
    windows docs/streaming.md names), but possibly from another thread's
    call than the one whose length completed it.
    """

    __slots__ = ("_native", "_strategy", "_k", "_capacity")

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
        self._attach(_stream_native.StreamHandle.create(capacity, info.c_id, k, max_items), info)

    def _attach(self, native: _stream_native.StreamHandle, info) -> None:
        self._native = native
        self._strategy = info
        self._k = native.k
        self._capacity = native.capacity
        self._bind_stream(native.address, native, Pack)  # for add() (C)

    # ---- adding -------------------------------------------------------------

    # add(length) -> list[Pack] is StreamBase.add, in C: "Add one length;
    # returns the packs it completed (often none)."

    def _add_slow(self, length, status: int) -> list[Pack]:
        """What ``add`` does not take in C: a length that is not a plain
        int (status 0; converted, then added in C), one outside int64
        (status 0), one met while another thread's call held the stream or
        while packs are pending (``SP_ERR_BUSY``: added under the handle's
        lock) or one the stream rejected (the C status)."""
        if length.__class__ is not int:
            return self.add(as_length(length))
        if not INT64_MIN <= length <= INT64_MAX:
            status = 0  # never reaches C (while busy or pending, C was not asked)
        if status == _native.lib.SP_ERR_BUSY:
            def add(out):
                self._native.add(length)
                self._native.read(out)

            return self._move_out(add, _pack_list)
        if status == 0:
            status = (_native.lib.SP_ERR_LENGTH_NOT_POSITIVE if length < 1
                      else _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY)
        if status in (_native.lib.SP_ERR_LENGTH_NOT_POSITIVE,
                      _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
            raise _native.length_error(status, length, self._capacity)
        raise self._native.error(status)

    def _read_slow(self) -> list[Pack]:
        """The pending and unread packs, read under the stream's lock (for
        ``add`` in C when another thread's call holds the handle)."""
        return self._move_out(self._native.read, _pack_list)

    def _move_out(self, call, build):
        """``build(chunks)`` of the pending packs and then those that
        ``call(out)`` moves out of C into ``out`` (a ``PackBuffers``), all
        under the handle's lock.

        Once the C call has run, its packs join the pending ones before
        anything else happens, also when ``call`` raises afterwards (a bad
        length: C wrote nothing; an interrupt: C did its work). Only when
        ``build`` has made the result are the pending packs cleared, so an
        exception up to there hands nothing out and loses nothing.
        """
        out = _stream_native.PackBuffers()
        with self._native.lock:
            try:
                call(out)
                self._keep(out)
            except BaseException:
                self._keep(out)  # does nothing when the line above ran
                raise
            result = build(self._pending or ())
            self._pending = None
        return result

    def _keep(self, out) -> None:
        """Add ``out`` to the pending packs if C wrote any there and it is
        not there yet; the one assignment makes it atomic."""
        pending = self._pending or ()
        if out.num_packs > 0 and not any(chunk is out for chunk in pending):
            self._pending = pending + (out,)

    def add_many(self, lengths) -> list[Pack]:
        """Add a chunk of lengths (a sequence or an integer array), in order.

        Returns the packs the chunk completed (after any pending ones). The
        chunk is checked whole first: if any length is bad, ValueError
        names its index and none of the chunk is accepted. A call
        interrupted after its C call (KeyboardInterrupt, MemoryError) keeps
        the chunk added; the next call hands out its packs first.
        """
        lengths = as_lengths(lengths)
        return self._move_out(lambda out: self._native.pack_many(lengths, out), _pack_list)

    def add_many_flat(self, lengths) -> tuple[np.ndarray, np.ndarray]:
        """``add_many`` returning ``(items, bin_offsets)``, two int64 arrays.

        ``items`` holds the sequence ids of the completed packs, pack by
        pack, and ``bin_offsets`` the ``num_packs - 1`` split points, as
        ``Packer.pack_flat`` gives them: ``np.split(items, bin_offsets)``
        gives the packs. When no pack completed ``items`` is empty (and
        ``np.split`` gives a single empty array).
        """
        lengths = as_lengths(lengths)
        items, offsets = self._move_out(lambda out: self._native.pack_many(lengths, out), _flat)
        return items, offsets[1:-1]

    def finish(self) -> list[Pack]:
        """Hand out every bin still open, in the order they were opened.

        After this, every call raises ValueError, except ``finish()`` again
        after a ``finish()`` that was interrupted (or an ``add`` that found
        packs pending): it hands out the packs still waiting, and raises
        once none are left.
        """
        def finish(out):
            status = self._native.finish()
            self._native.read(out)
            if status != _native.lib.SP_OK and out.num_packs <= 0 and not self._pending:
                raise self._native.error(status)

        return self._move_out(finish, _pack_list)

    # ---- state --------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self._capacity

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
        return self._native.max_items or None

    @property
    def sequences_added(self) -> int:
        """Lengths accepted so far (the next sequence id)."""
        return self._native.info().sequences_added

    @property
    def open_bins(self) -> int:
        """Bins holding sequences but not handed out yet (at most 1 for nf, k for hk)."""
        return self._native.info().open_bins

    @property
    def finished(self) -> bool:
        return bool(self._native.info().finished)

    def __repr__(self) -> str:
        k = f", k={self._k}" if self._strategy.short == "HK" else ""
        if self._native.max_items:
            k += f", max_seqs_per_pack={self._native.max_items}"
        done = ", finished" if self.finished else ""
        return (
            f"StreamPacker(strategy={self._strategy.short!r}{k}, capacity={self._capacity}, "
            f"added={self.sequences_added}{done})"
        )

    # ---- pickling: the C state as little-endian int64 bytes -------------------

    def __reduce__(self):
        # Pickle's default for a C base class other than object fails with
        # protocols 0 and 1; this is what protocol 2 and later do anyway.
        return copyreg.__newobj__, (type(self),), self.__getstate__()

    def __getstate__(self) -> dict:
        # The C state and the pending packs of one moment: both under the
        # lock, which every call that moves packs out of C holds.
        # "pending" is there only when packs are pending.
        with self._native.lock:
            state = self._native.export_state()
            pending = self._pending and _joined(self._pending)
        pickled = {"version": _PICKLE_VERSION, "state": state.astype("<i8").tobytes()}
        if pending:
            arrays = tuple(a.astype("<i8").tobytes() for a in pending)
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
            raise ValueError("StreamPacker pickle: the pending packs are corrupted (digest)")
        native = _stream_native.StreamHandle.from_state(state)
        if pending is not None:
            pending = [_int64_array(a, "pending") for a in pending]
            _check_pending(*pending, native)
        info = next(s for s in available_strategies() if s.c_id == native.strategy_id)
        self._attach(native, info)
        self._pending = pending and (_stream_native.PackBuffers.holding(*pending),)


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


def _check_pending(items, lengths, offsets, used, native) -> None:
    """ValueError unless these are packs a stream like ``native`` can hand
    out: at least one; offsets that split the items into non-empty packs;
    each length in [1, capacity]; each pack's used their sum and at most
    capacity; distinct ids below the next id."""
    bad = None
    if (len(offsets) != len(used) + 1 or len(lengths) != len(items) or offsets[0] != 0
            or not len(used)):
        bad = "array sizes"
    elif offsets[-1] != len(items) or np.any(np.diff(offsets) < 1):
        bad = "offsets"
    elif lengths.min() < 1 or lengths.max() > native.capacity:
        bad = "lengths"
    elif (np.any(bin_sums(lengths, offsets) != used)
          or used.max() > native.capacity):
        bad = "used"
    elif (items.min() < 0 or items.max() >= native.info().sequences_added
          or len(np.unique(items)) != len(items)):
        bad = "ids"
    if bad is not None:
        raise ValueError(f"StreamPacker pickle: the pending packs are corrupted ({bad})")
