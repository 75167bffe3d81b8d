"""One table turns every C status into a Python exception (``_native``),
and the C library is the authority on which settings and lengths are valid."""

from __future__ import annotations

import numpy as np
import pytest

from seqpacker import Packer, StreamPacker
from seqpacker._core import native as _native
from seqpacker._core._seqpacker_ffi import lib

ERROR_STATUSES = [getattr(lib, name) for name in dir(lib) if name.startswith("SP_ERR_")]


@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_every_status_becomes_one_exception(status):
    fields = dict(name="lengths[3]", value=0, capacity=10, subject="the total", limits="x",
                  index=2, count=5)
    error = _native.error(status, **fields)
    assert isinstance(error, Exception) and str(error)
    if status in (lib.SP_ERR_NULL_POINTER, lib.SP_ERR_NEGATIVE_COUNT, lib.SP_ERR_BUSY,
                  lib.SP_ERR_UNKNOWN_STRATEGY, lib.SP_ERR_BUFFER_TOO_SMALL,
                  lib.SP_ERR_NOT_STREAMABLE, lib.SP_ERR_INVALID_ELEMENT_SIZE):
        # The package never lets these reach the user: if one does, it says so.
        assert type(error) is RuntimeError and "bug in seqpacker" in str(error)
    else:
        assert not isinstance(error, RuntimeError)


def test_overflow_is_both_a_value_error_and_an_overflow_error():
    error = _native.error(lib.SP_ERR_OVERFLOW, subject="the total of the lengths")
    assert isinstance(error, ValueError) and isinstance(error, OverflowError)
    assert str(error) == f"the total of the lengths does not fit int64 (max {2**63 - 1})"


@pytest.mark.parametrize("setting, value", [("k", 1), ("k", 65537), ("threads", 1025),
                                            ("threads", -1), ("k", 2**70)])
def test_packer_refuses_every_bad_setting_at_construction(setting, value):
    with pytest.raises(ValueError, match=rf"{setting} = {value} is out of range"):
        Packer(2048, "hk", **{setting: value})


def test_the_c_limits_are_the_python_limits():
    Packer(10, "hk", k=lib.SP_MAX_K, threads=lib.SP_MAX_THREADS)
    with pytest.raises(ValueError, match=f"<= {lib.SP_MAX_K}"):
        StreamPacker(10, "hk", k=lib.SP_MAX_K + 1)


def test_an_add_that_meets_another_threads_call_waits_for_it():
    """A stream shared by threads: an add() that meets a long add_many of
    another thread (which runs its C call without the GIL) waits for it
    and then adds, as a plain add does: no error, every id once."""
    import threading

    packer = StreamPacker(10, "nf")
    big = np.full(1 << 20, 3, dtype=np.int64)
    handed, started = [], threading.Event()

    def many():
        started.set()
        handed.extend(packer.add_many(big))

    thread = threading.Thread(target=many)
    thread.start()
    started.wait()
    mine = [pack for _ in range(2000) for pack in packer.add(4)]
    thread.join()
    handed += mine + packer.finish()
    ids = sorted(i for pack in handed for i in pack.sequence_ids)
    assert ids == list(range(len(big) + 2000))
    assert all(pack.used == sum(pack.lengths) <= 10 for pack in handed)


def test_stream_info_is_read_by_name():
    packer = StreamPacker(10, "hk", k=4)
    # 2s are of the last class (10 // 2 >= k), 3 of class 3, 9 of class 1 (closes at once)
    packer.add_many(np.array([2, 2, 3, 9], dtype=np.int64))
    info = packer._info()
    assert (info.capacity, info.strategy, info.k) == (10, lib.SP_HK, 4)
    assert (info.sequences_added, info.open_bins, info.open_items) == (4, 2, 3)
    assert packer.open_bins == 2 and not packer.finished
