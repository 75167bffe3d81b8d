"""``StreamPacker``: online packing of a stream of lengths with bounded memory.

Lengths arrive one at a time (``add``) or in chunks (``add_many``); each bin
comes back as a ``Pack`` as soon as it can take nothing more. The C stream
holds only the open bins (one for NextFit, at most k for HarmonicK) and the
packs not yet handed out, so memory never grows with the stream.

All the packing is in C (``sp_stream_*``); this module validates, builds
``Pack`` objects and pickles. ``add`` is the hot path: it is the C method of
the base class ``StreamBase`` (``_stream_fast.c``), which calls the C stream
and builds the packs without a Python frame. What it does not take (other
integer types, rejected lengths) comes back to ``_add_slow`` here.
"""

from __future__ import annotations

import copyreg
import operator

import numpy as np

from . import _native, _stream_native
from ._stream_fast import StreamBase, packs_from_arrays
from ._validation import as_lengths, check_capacity, check_k, check_max_seqs
from .registry import available_strategies, get_strategy
from .result import Pack

_STREAMABLE = ("NF", "HK")
_PICKLE_VERSION = 3


def _as_int(length) -> int:
    """A length that is not a plain int, as a plain int: NumPy integers, int
    subclasses and other ``__index__`` types pass; bools and non-integers
    (floats, Decimal, Fraction, which C would truncate) do not."""
    if isinstance(length, (bool, np.bool_, np.ndarray)) or not hasattr(length, "__index__"):
        # (A NumPy array, even 0-d, is refused as Packer.pack refuses one
        # among its lengths.)
        raise TypeError(f"length must be an int, not {type(length).__name__} ({length!r})")
    value = operator.index(length)
    # add() in C takes exact ints only. Before Python 3.10, operator.index
    # returns an int subclass unchanged (and __index__ may return one):
    # int.__index__ makes a plain int of it.
    return value if value.__class__ is int else int.__index__(value)


def _packs(items: np.ndarray, lengths: np.ndarray, offsets: np.ndarray,
           used: np.ndarray) -> list[Pack]:
    """Pack objects from read arrays (``offsets`` has one entry more than ``used``)."""
    return packs_from_arrays(Pack, items, lengths, offsets, used)


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

    Give each thread its own StreamPacker. Threads that share one anyway
    take turns (the C stream answers an overlapping call with "busy", and
    the calls from Python then wait on a lock of the stream, never
    spinning), so it cannot be corrupted and every pack still comes out
    exactly once, but possibly from another thread's call than the one
    whose length completed it.
    """

    __slots__ = ("_native", "_strategy", "_k", "_capacity")

    def __init__(self, capacity: int, strategy: str = "nf", k: int | None = None, *,
                 max_seqs_per_pack: int | None = None):
        capacity = check_capacity(capacity)
        info = get_strategy(strategy)
        if info.short not in _STREAMABLE:
            raise ValueError(
                f"strategy {strategy!r} ({info.long}) cannot pack a stream: it needs "
                f"every length before it places the first. StreamPacker supports "
                f"'nf' (NextFit) and 'hk' (HarmonicK); for offline packing use "
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
        (status 0), one met while another thread's call held the stream
        (``SP_ERR_BUSY``: added under the handle's lock) or one the stream
        rejected (the C status)."""
        if length.__class__ is not int:
            return self.add(_as_int(length))
        if status == _native.lib.SP_ERR_BUSY:
            self._native.add(length)
            return self._read_slow()
        if status == 0:
            status = (_native.lib.SP_ERR_LENGTH_NOT_POSITIVE if length < 1
                      else _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY)
        if status in (_native.lib.SP_ERR_LENGTH_NOT_POSITIVE,
                      _native.lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
            raise _native.length_error(status, length, self._capacity)
        raise self._native.error(status)

    def _read_slow(self) -> list[Pack]:
        """The unread packs, read under the stream's lock (for ``add`` in C
        when another thread's call holds the handle)."""
        return _packs(*self._native.read())

    def _all_or_nothing(self, work):
        """``work()``, or, if anything interrupts it (KeyboardInterrupt,
        MemoryError, ...), the stream as it was before: the state is saved
        first (its open bins and unread packs: small) and restored, so a
        batch is never counted as added while its packs are lost."""
        saved = self._native.export_state()
        try:
            return work()
        except BaseException:
            self._attach(_stream_native.StreamHandle.from_state(saved), self._strategy)
            raise

    def add_many(self, lengths) -> list[Pack]:
        """Add a chunk of lengths (a sequence or an integer array), in order.

        Returns the packs the chunk completed. The chunk is checked whole
        first: if any length is bad, ValueError names its index and none of
        the chunk is accepted. A call that is interrupted (KeyboardInterrupt,
        MemoryError) leaves the stream as it was before it.
        """
        lengths = as_lengths(lengths)
        return self._all_or_nothing(lambda: _packs(*self._native.pack_many(lengths)))

    def add_many_flat(self, lengths) -> tuple[np.ndarray, np.ndarray]:
        """``add_many`` returning ``(items, bin_offsets)``, two int64 arrays.

        ``items`` holds the sequence ids of the completed packs, pack by
        pack, and ``bin_offsets`` the ``num_packs - 1`` split points, as
        ``Packer.pack_flat`` gives them: ``np.split(items, bin_offsets)``
        gives the packs. When no pack completed ``items`` is empty (and
        ``np.split`` gives a single empty array).
        """
        lengths = as_lengths(lengths)
        items, _lengths, offsets, _used = self._all_or_nothing(
            lambda: self._native.pack_many(lengths, ids_only=True))
        return items, offsets[1:-1]

    def finish(self) -> list[Pack]:
        """Hand out every bin still open, in the order they were opened.

        After this, every call raises ValueError. An interrupted call leaves
        the stream as it was (not finished).
        """
        def finish():
            self._native.finish()
            return _packs(*self._native.read())

        return self._all_or_nothing(finish)

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
        state = self._native.export_state()
        return {"version": _PICKLE_VERSION, "state": state.astype("<i8").tobytes()}

    def __setstate__(self, pickled) -> None:
        if not (isinstance(pickled, dict) and pickled.get("version") == _PICKLE_VERSION
                and isinstance(pickled.get("state"), bytes) and len(pickled["state"]) % 8 == 0):
            raise ValueError("not a StreamPacker pickle (or one from another version)")
        state = np.frombuffer(pickled["state"], dtype="<i8").astype(np.int64)
        native = _stream_native.StreamHandle.from_state(state)
        info = next(s for s in available_strategies() if s.c_id == native.strategy_id)
        self._attach(native, info)
