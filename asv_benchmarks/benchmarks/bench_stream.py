"""StreamPacker: per-call cost and throughput."""

import numpy as np

from .common import CAPACITY, flat_add_many, our_stream_packer, uniform_lengths

ADD_CALLS = 100_000


class StreamAdd:
    """One ``add()`` per length, as a Python loop over ints."""

    params = ["nf", "hk"]
    param_names = ["strategy"]

    def setup(self, strategy):
        self.values = uniform_lengths(ADD_CALLS).tolist()
        our_stream_packer(CAPACITY, strategy)  # skips when not built yet

    def time_add_100k(self, strategy):
        stream = our_stream_packer(CAPACITY, strategy)
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
        self.lengths = uniform_lengths()
        our_stream_packer(CAPACITY, strategy)

    def time_add_many(self, strategy):
        stream = our_stream_packer(CAPACITY, strategy)
        stream.add_many(self.lengths)
        stream.finish()

    def peakmem_add_many(self, strategy):
        stream = our_stream_packer(CAPACITY, strategy)
        stream.add_many(self.lengths)
        stream.finish()


class StreamAddManyFlat:
    """The flat (array-returning) variant of ``add_many`` over 1M lengths."""

    params = ["nf", "hk"]
    param_names = ["strategy"]
    timeout = 300

    def setup(self, strategy):
        self.lengths = uniform_lengths()
        if flat_add_many(our_stream_packer(CAPACITY, strategy)) is None:
            raise NotImplementedError("no flat add_many variant yet")

    def time_add_many_flat(self, strategy):
        stream = our_stream_packer(CAPACITY, strategy)
        flat_add_many(stream)(self.lengths)
        stream.finish()


class StreamAddManyWithOpenIds:
    """One ``add_many`` of a single length on a stream that holds ``open_ids``
    ids in its open bin: the cost must follow the input, not the state."""

    params = [0, 100_000, 1_000_000, 4_000_000]
    param_names = ["open_ids"]
    timeout = 300

    def setup(self, open_ids):
        self.stream = our_stream_packer(10_000_000, "nf")
        if open_ids:
            self.stream.add_many(np.ones(open_ids, dtype=np.int64))
        self.one = np.ones(1, dtype=np.int64)

    def time_add_many_one_length(self, open_ids):
        self.stream.add_many(self.one)
