"""Another thread writing the lengths while the C library packs them (the
GIL is released during the call): a wrong packing or an error is allowed,
a crash is not. Each race runs in a child process, so that a crash fails
the test instead of ending the run. Also: threads sharing one Packer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from seqpacker import Packer

RACE = textwrap.dedent("""
    import sys, threading, time
    import numpy as np
    from seqpacker import Packer, StreamPacker

    kind, name = sys.argv[1], sys.argv[2]
    lengths = np.random.default_rng(0).integers(1, 2049, 200_000)
    stop = threading.Event()

    def writer():  # a few lengths flip between valid and far out of range
        spots = [int(lengths.size * f) for f in (0.0, 0.3, 0.7, 0.99)]
        bad = (10**15, -3, 0, 2049)
        i = 0
        while not stop.is_set():
            spot = spots[i % len(spots)]
            lengths[spot] = 7
            lengths[spot] = bad[i % len(bad)]
            lengths[spot] = 7
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    calls = errors = 0
    deadline = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline:
            try:
                if kind == "pack":
                    Packer(2048, name).pack_flat(lengths)
                else:
                    packer = StreamPacker(2048, name)
                    packer.add_many(lengths)
                    packer.add_many_flat(lengths)
                    packer.finish()
            except ValueError:
                errors += 1
            calls += 1
    finally:
        stop.set()
        thread.join()
    print(calls, errors)
""")


@pytest.mark.parametrize("kind, name", [("pack", pair[0]) for pair in Packer.strategies()
                                        if not pair.plugin]
                         + [("stream", "nf"), ("stream", "hk")])
def test_a_racing_writer_never_crashes(kind, name, tmp_path):
    # (run outside the checkout, so that the installed package is imported)
    done = subprocess.run([sys.executable, "-c", RACE, kind, name], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    calls, _errors = map(int, done.stdout.split())
    assert calls > 0


def test_eight_threads_sharing_a_packer_get_the_serial_results():
    """One Packer, eight threads, each packing its own inputs with every
    built-in strategy: each result equals the serial one."""
    import threading

    import numpy as np

    rng = np.random.default_rng(11)
    inputs = [rng.integers(1, 2049, 20_000 + 1000 * t) for t in range(8)]
    names = [pair[0] for pair in Packer.strategies() if not pair.plugin]
    packers = {name: Packer(2048, name, threads=2) for name in names}
    serial = {(name, t): packers[name].pack_flat(inputs[t]) for name in names for t in range(8)}
    got, failures = {}, []

    def work(t):
        try:
            for _ in range(2):
                for name in names:
                    got[(name, t)] = packers[name].pack_flat(inputs[t])
        except BaseException as error:  # reported below, in the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    for key, (items, offsets) in serial.items():
        assert np.array_equal(got[key][0], items) and np.array_equal(got[key][1], offsets), key
