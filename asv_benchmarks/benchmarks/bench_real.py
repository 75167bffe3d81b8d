"""Every strategy on every real distribution of ``shared/data/lengths`` at
capacity 4096 (longer examples dropped), or on a synthetic log-normal stand-in
when that folder is absent."""

from .common import (
    LENGTHS_DIR,
    REAL_CAPACITY,
    STRATEGIES,
    efficiency,
    load_lengths_file,
    lognormal_lengths,
    real_distribution_files,
)

DATASETS = [f.stem for f in real_distribution_files()] or ["synthetic_lognormal"]


def load(dataset):
    if dataset == "synthetic_lognormal":
        return lognormal_lengths()
    lengths, _note = load_lengths_file(LENGTHS_DIR / f"{dataset}.npy")
    return lengths


class PackReal:
    params = [DATASETS, list(STRATEGIES)]
    param_names = ["dataset", "strategy"]
    timeout = 300

    def setup(self, dataset, strategy):
        import seqpacker

        self.lengths = load(dataset)
        self.pack_flat = seqpacker.Packer(REAL_CAPACITY, strategy).pack_flat

    def time_pack_flat(self, dataset, strategy):
        self.pack_flat(self.lengths)

    def track_efficiency(self, dataset, strategy):
        _items, split_points = self.pack_flat(self.lengths)
        num_bins = len(split_points) + 1 if len(self.lengths) else 0
        return efficiency(self.lengths, num_bins, REAL_CAPACITY)

    track_efficiency.unit = "packed tokens / bin space"
