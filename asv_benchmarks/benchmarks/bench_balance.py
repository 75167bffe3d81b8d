"""``seqpacker.balance`` on the obfd packs of the 1M-length Wikipedia sample
at capacity 512 (a log-normal stand-in when shared/ is absent), trimmed to a
multiple of ranks * accumulation steps: time and the mean imbalance."""

from .common import LENGTHS_DIR, lognormal_lengths, load_lengths_file

WIKI = LENGTHS_DIR / "wikipedia_bert512_graphcore_sample1m.npy"
CAPACITY = 512


def wiki_lengths():
    if WIKI.exists():
        lengths, _note = load_lengths_file(WIKI, CAPACITY)
        return lengths
    return lognormal_lengths(n=1_000_000, capacity=CAPACITY)


class BalanceWiki:
    params = [[8, 64], [1, 4], ["tokens", "attention"]]
    param_names = ["ranks", "accumulation_steps", "cost"]
    timeout = 300

    def setup_cache(self):
        import seqpacker

        return seqpacker.Packer(CAPACITY, "obfd").pack(wiki_lengths())

    def setup(self, packs, ranks, accumulation_steps, cost):
        import seqpacker

        multiple = ranks * accumulation_steps
        keep = len(packs) // multiple * multiple
        end = int(packs.offsets[keep])
        self.packs = seqpacker.PackResult(
            packs.items[:end].copy(), packs.offsets[:keep + 1].copy(), packs.used[:keep].copy(),
            packs.lengths.copy(), packs.capacity, 0.0)
        self.balance = seqpacker.balance

    def time_balance(self, packs, ranks, accumulation_steps, cost):
        self.balance(self.packs, ranks, accumulation_steps=accumulation_steps, cost=cost)

    def track_mean_imbalance(self, packs, ranks, accumulation_steps, cost):
        return self.balance(self.packs, ranks, accumulation_steps=accumulation_steps,
                            cost=cost).mean_imbalance

    track_mean_imbalance.unit = "max/min - 1 per step"
