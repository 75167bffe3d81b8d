"""On 10,000,000 uniform lengths obfdp beats obfd in time and uses at
most 0.1% more bins."""

from .common import CAPACITY, best_time, uniform_lengths

BIG_N = 10_000_000


class PackTenMillion:
    params = ["obfd", "obfdp"]
    param_names = ["strategy"]
    timeout = 600

    def setup(self, strategy):
        import seqpacker

        self.lengths = uniform_lengths(BIG_N)
        self.pack_flat = seqpacker.Packer(CAPACITY, strategy).pack_flat

    def time_pack_flat(self, strategy):
        self.pack_flat(self.lengths)

    def track_bins(self, strategy):
        return len(self.pack_flat(self.lengths)[1]) + 1

    track_bins.unit = "bins"


class ObfdpVersusObfd:
    timeout = 600

    def setup(self):
        import seqpacker

        self.lengths = uniform_lengths(BIG_N)
        self.obfd = seqpacker.Packer(CAPACITY, "obfd").pack_flat
        self.obfdp = seqpacker.Packer(CAPACITY, "obfdp").pack_flat

    def track_obfdp_over_obfd_time(self):
        return (best_time(lambda: self.obfdp(self.lengths), repeat=3)
                / best_time(lambda: self.obfd(self.lengths), repeat=3))

    track_obfdp_over_obfd_time.unit = "time ratio (target < 1)"

    def track_obfdp_over_obfd_bins(self):
        return (len(self.obfdp(self.lengths)[1]) + 1) / (len(self.obfd(self.lengths)[1]) + 1)

    track_obfdp_over_obfd_bins.unit = "bin ratio (target <= 1.001)"
