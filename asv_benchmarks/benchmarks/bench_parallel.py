"""On 10,000,000 uniform lengths obfdp beats obfd in time and uses at
most 0.1% more bins."""

from .common import CAPACITY, best_time, our_pack_flat, uniform_lengths

BIG_N = 10_000_000


class PackTenMillion:
    params = ["obfd", "obfdp"]
    param_names = ["strategy"]
    timeout = 600

    def setup(self, strategy):
        self.lengths = uniform_lengths(BIG_N)
        self.pack_flat = our_pack_flat(CAPACITY, strategy)

    def time_pack_flat(self, strategy):
        self.pack_flat(self.lengths)

    def track_bins(self, strategy):
        return len(self.pack_flat(self.lengths)[1]) + 1

    track_bins.unit = "bins"


class ObfdpVersusObfd:
    timeout = 600

    def setup(self):
        self.lengths = uniform_lengths(BIG_N)
        self.obfd = our_pack_flat(CAPACITY, "obfd")
        self.obfdp = our_pack_flat(CAPACITY, "obfdp")

    def track_obfdp_over_obfd_time(self):
        return (best_time(lambda: self.obfdp(self.lengths), repeat=3)
                / best_time(lambda: self.obfd(self.lengths), repeat=3))

    track_obfdp_over_obfd_time.unit = "time ratio (target < 1)"

    def track_obfdp_over_obfd_bins(self):
        return (len(self.obfdp(self.lengths)[1]) + 1) / (len(self.obfd(self.lengths)[1]) + 1)

    track_obfdp_over_obfd_bins.unit = "bin ratio (target <= 1.001)"
