"""The training helpers: collating token lists into tensors, and packing a
tokenized dataset, each against its peer measured in the same run.

The peers (transformers' DataCollatorWithFlattening, TRL's pack_dataset)
come from the venv of shared/tools/install-training-peers.sh; without
them these benchmarks are skipped. compare_training.py measures the same
at full size, with peak memory, and writes docs/training-benchmarks.md.
"""

import numpy as np

from .common import SEED, best_time

COLLATE_SIZE = 256
COLLATE_CAPACITY = 4096


def _need(module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise NotImplementedError(f"{module} is not installed: {exc}") from exc


def _collate_inputs() -> list:
    # A long-tailed chat distribution capped at the capacity (ShareGPT-like).
    rng = np.random.default_rng(SEED)
    lengths = np.minimum(rng.lognormal(6.8, 1.2, COLLATE_SIZE).astype(np.int64) + 1,
                         COLLATE_CAPACITY)
    return [rng.integers(0, 32000, n).tolist() for n in lengths]


class Collate:
    """256 token lists into flat tensors."""

    def setup(self):
        torch_utils = _need("seqpacker.torch_utils")
        self.sequences = _collate_inputs()
        self.collate = torch_utils.packed_collate_fn(COLLATE_CAPACITY, layout="flat")

    def time_packed_collate_fn(self):
        self.collate(self.sequences)

    def peakmem_packed_collate_fn(self):
        self.collate(self.sequences)


class CollateVersusFlattening:
    """``track_``: DataCollatorWithFlattening's time / ours, in the same run (target >= 10)."""

    def setup(self):
        torch_utils = _need("seqpacker.torch_utils")
        transformers = _need("transformers")
        self.sequences = _collate_inputs()
        self.rows = [{"input_ids": s} for s in self.sequences]
        self.ours = torch_utils.packed_collate_fn(COLLATE_CAPACITY, layout="flat")
        self.peer = transformers.DataCollatorWithFlattening(return_flash_attn_kwargs=True,
                                                            return_seq_idx=True)

    def track_speedup_over_flattening(self):
        return (best_time(lambda: self.peer(self.rows))
                / best_time(lambda: self.ours(self.sequences)))

    track_speedup_over_flattening.unit = "x"


class PackDataset:
    """pack_dataset over 100,000 rows of random tokens (log-normal lengths, capacity 512)."""

    timeout = 300

    def setup(self):
        hf_utils = _need("seqpacker.hf_utils")
        datasets = _need("datasets")
        pa = _need("pyarrow")
        datasets.disable_progress_bars()
        rng = np.random.default_rng(SEED)
        lengths = np.minimum(rng.lognormal(5.2, 0.8, 100_000).astype(np.int64) + 1, 512)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        tokens = rng.integers(0, 2**31 - 1, int(offsets[-1]), dtype=np.int32)
        column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(tokens))
        self.data = datasets.Dataset(pa.table({"input_ids": column}))
        self.pack = hf_utils.pack_dataset

    def time_pack_dataset(self):
        self.pack(self.data, 512)

    def track_speedup_over_trl(self):
        trl = _need("trl.data_utils")
        peer = best_time(lambda: trl.pack_dataset(self.data, 512, strategy="bfd"), repeat=1)
        return peer / best_time(lambda: self.pack(self.data, 512), repeat=3)

    track_speedup_over_trl.unit = "x"
