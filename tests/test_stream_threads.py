"""Threads sharing one StreamPacker, with failing and interrupted calls and
checkpoints taken meanwhile: every id comes out exactly once, and every
pickle loads.

Four threads mix ``add``, ``add_many`` and ``add_many_flat``; some chunks
end in a 0 length (rejected whole), and KeyboardInterrupt is injected right
after C calls that move packs out, where a Ctrl-C during a long C call
lands. Another thread pickles the stream throughout.
"""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

from seqpacker import StreamPacker
from seqpacker._core import _ext

CAPACITY = 64
SECONDS = 0.6


@pytest.fixture
def interrupts():
    """``_ext._interrupt_after(countdown, period)``: the countdown-th check
    after a C stream call, and every period-th after it, raises
    KeyboardInterrupt as a Ctrl-C during the call would (the Python steps
    after a C call are in C now); off again after the test."""
    yield _ext._interrupt_after
    _ext._interrupt_after(0)


def check_packs(packs, max_seqs) -> None:
    for ids, lengths in packs:
        assert len(ids) == len(lengths) >= 1
        assert sum(lengths) <= CAPACITY
        assert max_seqs is None or len(ids) <= max_seqs


@pytest.mark.parametrize("strategy, max_seqs", [("nf", None), ("hk", None), ("nf", 3), ("hk", 3)])
def test_shared_stream_hands_out_every_id_once_through_errors_interrupts_and_pickles(
        interrupts, strategy, max_seqs):
    packer = StreamPacker(CAPACITY, strategy, k=6, max_seqs_per_pack=max_seqs)
    stop = threading.Event()
    got = [[] for _ in range(4)]  # per worker: ids of every pack it was handed
    counts = {"rejected": 0, "interrupted": 0, "calls": 0}
    pickles, failures, count_lock = [], [], threading.Lock()

    def count(what):
        with count_lock:
            counts[what] += 1

    def enough():
        with count_lock:
            return counts["rejected"] > 0 and counts["interrupted"] > 0 and len(pickles) > 10

    def worker(t):
        rng = np.random.default_rng(t)
        ids = got[t]
        try:
            while not stop.is_set():
                size = int(rng.integers(1, 40)) if rng.random() < 0.9 else 400
                chunk = rng.integers(1, CAPACITY + 1, size)
                if rng.random() < 0.15:
                    chunk[-1] = 0  # rejected whole
                kind = rng.integers(3)
                count("calls")
                try:
                    if kind == 0:
                        for length in chunk.tolist():
                            ids += [p.sequence_ids for p in packer.add(length)]
                    elif kind == 1:
                        ids += [p.sequence_ids for p in packer.add_many(chunk)]
                    else:
                        items, splits = packer.add_many_flat(chunk)
                        ids += [part.tolist() for part in np.split(items, splits) if len(part)]
                except ValueError as error:
                    assert "is not a valid length" in str(error)
                    count("rejected")
                except KeyboardInterrupt:
                    count("interrupted")
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    def pickler():
        try:
            while not stop.is_set():
                try:
                    pickles.append(pickle.dumps(packer))
                except KeyboardInterrupt:  # injected while joining pending packs
                    pass
                time.sleep(0.002)
        except BaseException as error:
            failures.append(error)

    interrupts(20, 20)
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    threads.append(threading.Thread(target=pickler))
    for thread in threads:
        thread.start()
    # At least SECONDS, and on a loaded machine until every kind of event
    # has happened (within a generous deadline).
    time.sleep(SECONDS)
    deadline = time.monotonic() + 60
    while not enough() and not failures and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    interrupts(0)
    assert not failures, failures[0]
    assert counts["rejected"] > 0 and counts["interrupted"] > 0 and len(pickles) > 10, counts

    final = packer.finish()
    check_packs([(p.sequence_ids, p.lengths) for p in final], max_seqs)
    handed = sorted(i for ids in got for pack in ids for i in pack) + sorted(
        i for p in final for i in p.sequence_ids)
    assert sorted(handed) == list(range(packer.sequences_added))

    for data in pickles:
        loaded = pickle.loads(data)
        rest = loaded.finish()
        check_packs([(p.sequence_ids, p.lengths) for p in rest], max_seqs)
        ids = [i for p in rest for i in p.sequence_ids]
        assert len(set(ids)) == len(ids)
        assert all(0 <= i < loaded.sequences_added for i in ids)
