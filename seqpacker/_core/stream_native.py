"""The cffi binding of the C streams (``sp_stream_*``), for ``stream.py``.

Each call's status becomes an exception through ``_native.error``, the one
table of statuses. The thread contract is here: a lock per stream around
every cffi call, and locks taken around a fork (see ``StreamHandle``).
Calls that move packs out of C write into a ``PackBuffers`` that the
caller made first, so that it still sees what C wrote when an exception
follows the call.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

import numpy as np

from .native import error, ffi, length_error, lib, options, raise_for_lengths


class StreamHandle:
    """One C stream (``sp_stream``), freed with this object.

    A handle belongs to one thread at a time: the C library answers a call
    that overlaps another on the same handle with ``SP_ERR_BUSY``. So that
    threads may share a StreamPacker, every call made here holds ``lock``:
    ``info`` takes it; the caller of every other method holds it already
    (``StreamPacker`` holds it across a C call and what it does with the
    result).
    ``StreamPacker.add`` calls the stream from C (``_stream_fast.c``, at
    ``address``) without the lock but with the GIL, which it never
    releases: when it meets a call of this class in progress it gets
    ``SP_ERR_BUSY`` and comes back through ``add``, which takes the lock.
    A locked call that meets such an ``add`` tries again: the ``add`` holds
    the GIL, so it has ended by the time the call has the GIL back.
    """

    __slots__ = ("_handle", "lock", "capacity", "strategy_id", "k", "max_items", "__weakref__")

    def __init__(self, handle):
        self._handle = ffi.gc(handle, lib.sp_stream_free)
        self.lock = threading.Lock()
        _LIVE_HANDLES.add(self)
        info = self.info()
        self.capacity = info.capacity
        self.strategy_id = info.strategy
        self.k = info.k
        self.max_items = info.max_items

    @property
    def address(self) -> int:
        """The ``sp_stream *`` as an int, for ``_stream_fast``."""
        return int(ffi.cast("uintptr_t", self._handle))

    @classmethod
    def create(cls, capacity: int, strategy_id: int, k: int, max_items: int = 0) -> StreamHandle:
        out = ffi.new("sp_stream **")
        status = lib.sp_stream_create(capacity, strategy_id,
                                      options(k=k, max_items=max_items), out)
        if status != lib.SP_OK:
            raise error(status, capacity=capacity)
        return cls(out[0])

    @classmethod
    def from_state(cls, state: np.ndarray) -> StreamHandle:
        """A stream restored from ``export_state()``; ValueError if corrupted."""
        out = ffi.new("sp_stream **")
        status = lib.sp_stream_import(ffi.from_buffer("int64_t[]", state), len(state), out)
        if status != lib.SP_OK:
            raise error(status)
        return cls(out[0])

    def _call(self, function, *args) -> int:
        """``function(handle, *args)`` under the lock; its status."""
        with self.lock:
            return self._status(function, *args)

    def info(self):
        """The stream's ``sp_stream_info`` (counts and settings)."""
        info = ffi.new("sp_stream_info *")
        status = self._call(lib.sp_stream_get_info, info)
        if status != lib.SP_OK:
            raise error(status)
        return info

    def add(self, length: int) -> None:
        """Add one plain int (the path of ``add`` after ``SP_ERR_BUSY``)."""
        status = self._status(lib.sp_stream_add, length, ffi.NULL)
        if status in (lib.SP_ERR_LENGTH_NOT_POSITIVE, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY):
            raise length_error(status, length, self.capacity)
        if status != lib.SP_OK:
            raise self.error(status)

    @staticmethod
    def error(status: int) -> Exception:
        """The exception for a stream call's status (other than a length's)."""
        return error(status, subject="the number of sequences of a stream")

    def _sized_call(self, size, call) -> int:
        """``call(size())``, again while it finds the handle busy or, because
        an ``add`` slipped in between, the buffers that ``size()`` allowed
        for too small."""
        while True:
            views = size()
            status = _until_free(lambda: call(views))
            if status != lib.SP_ERR_BUFFER_TOO_SMALL:
                return status

    def _status(self, function, *args) -> int:
        """One C call's status, retried while the handle is busy (under
        the lock already)."""
        return _until_free(lambda: function(self._handle, *args))

    def pack_many(self, lengths: np.ndarray, out: PackBuffers) -> None:
        """Add a contiguous int64 array (all of it or, on a bad length, none)
        and move the unread packs and every pack it closes into ``out``, in
        one C pass (``sp_stream_pack_many``); raises for a bad length or
        another error after C has written ``out``."""
        n = len(lengths)
        source = ffi.from_buffer("int64_t[]", lengths)
        error_index = ffi.new("int64_t *")

        def size():
            sizes = ffi.new("int64_t[2]")
            status = self._status(lib.sp_stream_pack_many_bound, n, sizes, sizes + 1)
            if status != lib.SP_OK:
                raise self.error(status)
            return out.allocate(sizes[0], sizes[1])

        status = self._sized_call(
            size, lambda _views: lib.sp_stream_pack_many(self._handle, source, n, out.struct,
                                                         error_index))
        if status == lib.SP_ERR_OUT_OF_MEMORY and error_index[0] > 0:
            raise MemoryError(f"seqpacker: the stream ran out of memory after it took the first "
                              f"{error_index[0]} of the chunk's {n} lengths: those stay added "
                              f"(their packs come out first from the next call), and the rest, "
                              f"lengths[{error_index[0]}:], was not")
        raise_for_lengths(status, lengths, self.capacity, error_index[0],
                          subject="the number of sequences of a stream")

    def finish(self) -> int:
        """Close the open bins; the status (``SP_OK``, or ``SP_ERR_FINISHED``
        for a stream finished before), raising for any other."""
        status = self._status(lib.sp_stream_finish)
        if status not in (lib.SP_OK, lib.SP_ERR_FINISHED):
            raise self.error(status)
        return status

    def read(self, out: PackBuffers) -> None:
        """Move the unread packs into ``out``."""
        info = ffi.new("sp_stream_info *")

        def size():
            self._status(lib.sp_stream_get_info, info)
            return out.allocate(info.unread_items, info.unread_packs)

        status = self._sized_call(size, lambda _views: lib.sp_stream_read(self._handle,
                                                                          out.struct))
        if status != lib.SP_OK:
            raise self.error(status)

    def export_state(self) -> np.ndarray:
        """The whole state as an int64 array (see ``sp_stream_export``),
        as many values as C wrote: an ``add`` in C between sizing and
        writing may leave the state shorter than the buffer."""
        size = ffi.new("int64_t *")
        state = []

        def sized():
            self._status(lib.sp_stream_state_size, size)
            state[:] = [np.empty(size[0], dtype=np.int64)]
            return ffi.from_buffer("int64_t[]", state[0], require_writable=True)

        status = self._sized_call(
            sized, lambda view: lib.sp_stream_export(self._handle, view, len(state[0]), size))
        if status != lib.SP_OK:
            raise self.error(status)
        return state[0][: size[0]]


class PackBuffers:
    """The arrays that one C call moves packs into (ids, lengths, offsets
    and used: what a ``Pack`` needs), and the ``sp_pack_buffers`` that
    points C at them. ``num_packs`` is -1 until a C call sets it, so that
    what C wrote is known even when an exception follows the call."""

    __slots__ = ("struct", "arrays", "_views")

    def __init__(self):
        self.struct = ffi.new("sp_pack_buffers *")
        self.struct.num_packs = -1
        self.arrays = self._views = None

    @classmethod
    def holding(cls, items, lengths, offsets, used) -> PackBuffers:
        """Buffers that hold these packs already (``offsets`` from 0)."""
        buffers = cls()
        buffers.arrays = (items, lengths, offsets, used)
        buffers.struct.num_packs = len(used)
        return buffers

    def allocate(self, num_items: int, num_packs: int) -> list:
        """Fresh arrays for so many ids and packs; the cffi views, to keep
        alive during the call."""
        self.arrays = (np.empty(num_items, dtype=np.int64), np.empty(num_items, dtype=np.int64),
                       np.empty(num_packs + 1, dtype=np.int64), np.empty(num_packs, dtype=np.int64))
        self._views = _fill_buffers(self.struct, *self.arrays)
        return self._views

    @property
    def num_packs(self) -> int:
        """The packs a C call wrote here; -1 before one ran, 0 for none."""
        return self.struct.num_packs

    def written(self):
        """``(items, lengths, offsets, used)``, trimmed to what C wrote."""
        return _packs_written(max(self.num_packs, 0), *self.arrays)


#: How long a call waits for a handle that stays busy before it gives up.
BUSY_TIMEOUT_S = 1.0


def _until_free(call) -> int:
    """``call()``'s status, called again while the handle is busy. Under
    the stream's lock only an ``add`` in C of another thread can hold the
    handle, and it ends before this thread has the GIL back, so one more
    try does it. A handle that stays busy (held by C code outside this
    package that never lets go) raises after ``BUSY_TIMEOUT_S`` rather than
    waiting for ever; meanwhile each try hands the GIL over."""
    deadline = None
    while True:
        status = call()
        if status != lib.SP_ERR_BUSY:
            return status
        now = time.monotonic()
        if deadline is None:
            deadline = now + BUSY_TIMEOUT_S
        elif now > deadline:
            raise RuntimeError(f"seqpacker: the stream stayed in use by another call for "
                               f"{BUSY_TIMEOUT_S} s (shared with C code that does not let go?)")
        time.sleep(0)


#: Every live stream handle, for the fork handlers below.
_LIVE_HANDLES: weakref.WeakSet = weakref.WeakSet()


def _locks_before_fork() -> list:
    """Take every stream's lock before a fork, so that no call is inside the
    C library when the process is copied: the child's streams are then
    whole and free. (add() in C holds the GIL, which the forking thread
    has, so none runs either.)"""
    locks = [handle.lock for handle in list(_LIVE_HANDLES)]
    for lock in locks:
        lock.acquire()
    return locks


_HELD_AT_FORK: list = []


def _before_fork() -> None:
    _HELD_AT_FORK[:] = _locks_before_fork()


def _after_fork() -> None:
    held, _HELD_AT_FORK[:] = list(_HELD_AT_FORK), []
    for lock in held:
        lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                        after_in_child=_after_fork)


def _packs_written(got: int, items, lengths, offsets, used):
    """The first ``got`` packs of the arrays, trimmed."""
    end = offsets[got] if got else 0
    return items[:end], lengths[:end], offsets[: got + 1], used[:got]


def _fill_buffers(out, items, lengths, offsets, used) -> list:
    """Point an ``sp_pack_buffers`` at NumPy arrays; returns the cffi
    views, to keep alive meanwhile."""
    views = [ffi.from_buffer("int64_t[]", a, require_writable=True)
             for a in (items, lengths, offsets, used)]
    out.items, out.lengths, out.bin_offsets, out.bin_used = views
    out.items_size = items.size
    out.packs_size = offsets.size - 1
    return views
