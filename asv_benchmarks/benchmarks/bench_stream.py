"""StreamPacker: per-call cost and throughput."""

import numpy as np

from .common import CAPACITY, uniform_lengths

ADD_CALLS = 100_000


class StreamAdd:
    """One ``add()`` per length, as a Python loop over ints."""

    params = ["nf", "hk"]
    param_names = ["strategy"]

    def setup(self, strategy):
        import seqpacker

        self.values = uniform_lengths(ADD_CALLS).tolist()
        self.StreamPacker = seqpacker.StreamPacker

    def time_add_100k(self, strategy):
        stream = self.StreamPacker(CAPACITY, strategy)
        add = stream.add
        for length in self.values:
            add(length)
        stream.finish()


class StreamAddMany:
    """``add_many`` over 1M uniform lengths in one call."""

    params = ["nf", "hk"]
    param_names = ["strategy"]
    timeout = 300

    def setup(self, strategy):
        import seqpacker

        self.lengths = uniform_lengths()
        self.StreamPacker = seqpacker.StreamPacker

    def time_add_many(self, strategy):
        stream = self.StreamPacker(CAPACITY, strategy)
        stream.add_many(self.lengths)
        stream.finish()

    def peakmem_add_many(self, strategy):
        stream = self.StreamPacker(CAPACITY, strategy)
        stream.add_many(self.lengths)
        stream.finish()


class StreamAddManyFlat:
    """``add_many_flat`` (``add_many`` returning arrays) over 1M lengths."""

    params = ["nf", "hk"]
    param_names = ["strategy"]
    timeout = 300

    def setup(self, strategy):
        import seqpacker

        self.lengths = uniform_lengths()
        self.StreamPacker = seqpacker.StreamPacker

    def time_add_many_flat(self, strategy):
        stream = self.StreamPacker(CAPACITY, strategy)
        stream.add_many_flat(self.lengths)
        stream.finish()


class StreamAddManyWithOpenIds:
    """One ``add_many`` of a single length on a stream that holds ``open_ids``
    ids in its open bin: the cost must follow the input, not the state."""

    params = [0, 100_000, 1_000_000, 4_000_000]
    param_names = ["open_ids"]
    timeout = 300

    def setup(self, open_ids):
        import seqpacker

        self.stream = seqpacker.StreamPacker(10_000_000, "nf")
        if open_ids:
            self.stream.add_many(np.ones(open_ids, dtype=np.int64))
        self.one = np.ones(1, dtype=np.int64)

    def time_add_many_one_length(self, open_ids):
        self.stream.add_many(self.one)
