"""Offline packing of 1,000,000 uniform lengths in [1, 2048] at capacity 2048,
per strategy."""

import numpy as np

from .common import CAPACITY, STRATEGIES, best_time, efficiency, uniform_lengths


class PackFlatUniform:
    """``Packer(2048, strategy).pack_flat`` on 1M uniform lengths."""

    params = list(STRATEGIES)
    param_names = ["strategy"]
    timeout = 300

    def setup(self, strategy):
        import seqpacker

        self.lengths = uniform_lengths()
        self.pack_flat = seqpacker.Packer(CAPACITY, strategy).pack_flat

    def time_pack_flat(self, strategy):
        self.pack_flat(self.lengths)

    def peakmem_pack_flat(self, strategy):
        self.pack_flat(self.lengths)

    def track_bins(self, strategy):
        _items, split_points = self.pack_flat(self.lengths)
        return len(split_points) + 1

    track_bins.unit = "bins"

    def track_efficiency(self, strategy):
        _items, split_points = self.pack_flat(self.lengths)
        return efficiency(self.lengths, len(split_points) + 1, CAPACITY)

    track_efficiency.unit = "packed tokens / bin space"


class ObfdVersusArgsort:
    """obfd ``pack_flat`` against ``np.argsort`` on the same array (target: less time)."""

    timeout = 300

    def setup(self):
        import seqpacker

        self.lengths = uniform_lengths()
        self.pack_flat = seqpacker.Packer(CAPACITY, "obfd").pack_flat

    def time_argsort(self):
        np.argsort(self.lengths)

    def track_obfd_over_argsort(self):
        # Both timed here, in one process, so machine noise cancels out.
        return (best_time(lambda: self.pack_flat(self.lengths))
                / best_time(lambda: np.argsort(self.lengths)))

    track_obfd_over_argsort.unit = "time ratio (target < 1)"


class PackVersusPackFlat:
    """``Packer.pack`` against ``pack_flat`` (target: within 2x, as results build objects lazily)."""

    timeout = 300

    def setup(self):
        import seqpacker

        self.lengths = uniform_lengths()
        self.packer = seqpacker.Packer(CAPACITY, "obfd")

    def time_pack(self):
        self.packer.pack(self.lengths)

    def peakmem_pack(self):
        self.packer.pack(self.lengths)

    def track_pack_over_pack_flat(self):
        return (best_time(lambda: self.packer.pack(self.lengths))
                / best_time(lambda: self.packer.pack_flat(self.lengths)))

    track_pack_over_pack_flat.unit = "time ratio (target <= 2)"
