"""ParallelOptimizedBestFitDecreasing: equal to OBFD where it runs on one
thread, deterministic for a thread count, valid and nearly as tight as OBFD
where it packs shares on several threads, and safe in a forked child."""

import os
import pickle

import numpy as np
import pytest

from seqpacker import Packer

# Below this many lengths per thread obfdp uses fewer threads (parallel.c).
MIN_ITEMS_PER_THREAD = 1 << 17


def bins_of(strategy, lengths, capacity, **options):
    items, offsets = Packer(capacity, strategy, **options).pack_flat(lengths)
    return [b.tolist() for b in np.split(items, offsets)]


def check_packing(lengths, capacity, items, offsets):
    assert np.array_equal(np.sort(items), np.arange(len(lengths)))
    sums = np.add.reduceat(lengths[items], np.r_[0, offsets])
    assert sums.max() <= capacity


@pytest.mark.parametrize("threads", [1, 2, 4, None])
def test_small_inputs_equal_obfd(threads):
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 2049, 2 * MIN_ITEMS_PER_THREAD - 1)
    assert bins_of("obfdp", lengths, 2048, threads=threads) == bins_of("obfd", lengths, 2048)


def test_one_thread_equals_obfd_on_a_large_input():
    lengths = np.random.default_rng(8).integers(1, 4097, 3 * MIN_ITEMS_PER_THREAD)
    assert bins_of("obfdp", lengths, 4096, threads=1) == bins_of("obfd", lengths, 4096)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("capacity,high", [(2048, 2048), (512, 400), (2**40, 2**39)])
def test_shares_give_a_valid_packing_close_to_obfd(threads, capacity, high):
    rng = np.random.default_rng(capacity + threads)
    lengths = rng.integers(1, high + 1, threads * MIN_ITEMS_PER_THREAD + 12345)
    items, offsets = Packer(capacity, "obfdp", threads=threads).pack_flat(lengths)
    check_packing(lengths, capacity, items, offsets)
    parallel_bins = len(offsets) + 1
    serial_bins = len(Packer(capacity, "obfd").pack_flat(lengths)[1]) + 1
    assert serial_bins <= parallel_bins <= serial_bins * 1.001 + 1


def test_deterministic_for_a_thread_count():
    lengths = np.random.default_rng(9).integers(1, 2049, 2 * MIN_ITEMS_PER_THREAD + 99)
    first = bins_of("obfdp", lengths, 2048, threads=2)
    for _ in range(3):
        assert bins_of("obfdp", lengths, 2048, threads=2) == first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_works_in_a_forked_child():
    lengths = np.random.default_rng(10).integers(1, 2049, 2 * MIN_ITEMS_PER_THREAD + 7)
    expected = bins_of("obfdp", lengths, 2048, threads=2)  # threads used before fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: pack on fresh threads, send the bins back
        try:
            os.close(read_end)
            data = pickle.dumps(bins_of("obfdp", lengths, 2048, threads=2))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        got = pickle.loads(pipe.read())
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert got == expected
