"""Rank balance of ``seqpacker.balance`` against LightBinPack's grouped packers.

Both sides see the same lengths in the same run. We pack with obfd, keep
the largest prefix of packs that is a multiple of the rank count, and
balance it (``balance(result, ranks, cost=...)``). LightBinPack 0.1.1 has no
step over existing packs; its balancing lives in the packers themselves,
which return groups of ``ranks`` bins, one group per step:

- ``ogbfd(lengths, capacity, bins_per_group=ranks)`` (and its OpenMP twin
  ``ogbfdp``): best fit decreasing over groups, each item to the group's
  bin with the most room left, so it balances tokens.
- ``ohgbfd(lengths, [capacity] * ranks, weights=...)``: the same over
  groups, each item to the bin with the smallest weight sum / capacity;
  weights ``l`` balance tokens, ``l**2`` (its default) attention.

``oshgbfd`` (bins of different capacities per pipeline stage) and
``load_balance`` (reorders the sequences of one pack across context-parallel
chunks) do not assign packs to data-parallel ranks, so they are left out.

Imbalance is one definition for all: per step (per group for the peer),
``max / min - 1`` of the ranks' costs, 0.0 for an all-zero step, ``inf``
when one rank has nothing. A peer's last group can hold empty bins or, by
its fallback, copies of items from its first group; the table counts such
duplicated and missing items.

Run from the repository root (our package installed, the peers' venv at
/tmp/peers as built by ../shared/tools/install-peers.sh)::

    python asv_benchmarks/compare_balance.py --page docs/balance-benchmarks.md
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from itertools import chain
from pathlib import Path

import numpy as np

LENGTHS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "lengths"
PEERS = "/tmp/peers/lib/python3.11/site-packages"
#: (file stem, capacity): the 1M wikipedia sample at its own 512, and three
#: distributions of longer sequences at 2048 or 4096.
DATASETS = [
    ("wikipedia_bert512_graphcore_sample1m", 512),
    ("squad11_bert384_graphcore", 2048),
    ("sharegpt_v3_prefix_llama2", 4096),
    ("arxiv_summarization_llama2_etalon", 4096),
]
RANKS = (8, 64)
COSTS = ("tokens", "attention")
REPEAT = 3


def best_time(fn, repeat: int = REPEAT):
    """``(smallest wall time in seconds, last return value)`` of ``repeat`` calls."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def load(stem: str, capacity: int) -> tuple[np.ndarray, str]:
    """Lengths in [1, capacity] and a note on what was dropped."""
    raw = np.load(LENGTHS_DIR / f"{stem}.npy").astype(np.int64)
    keep = (raw >= 1) & (raw <= capacity)
    dropped = int(len(raw) - keep.sum())
    note = f"{len(raw):,} lengths" + (f", {dropped:,} > {capacity} dropped" if dropped else "")
    return raw[keep], note


def step_imbalance(rank_cost: np.ndarray) -> np.ndarray:
    """``max / min - 1`` per row, with the 0 and inf rules of the docstring."""
    high, low = rank_cost.max(axis=1), rank_cost.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = high / low - 1.0
    ratio[high == 0] = 0.0
    ratio[(low == 0) & (high > 0)] = np.inf
    return ratio


def sequence_cost(lengths: np.ndarray, cost: str) -> np.ndarray:
    as_float = lengths.astype(np.float64)
    return as_float if cost == "tokens" else as_float * as_float


def peer_groups_cost(groups, lengths: np.ndarray, ranks: int, cost: str):
    """Per-group rank costs of a peer's groups, and (duplicated, missing) items."""
    bins = list(chain.from_iterable(groups))
    sizes = np.fromiter(map(len, bins), dtype=np.int64, count=len(bins))
    items = np.fromiter(chain.from_iterable(bins), dtype=np.int64, count=int(sizes.sum()))
    per_bin = np.zeros(len(bins))
    np.add.at(per_bin, np.repeat(np.arange(len(bins)), sizes), sequence_cost(lengths[items], cost))
    counts = np.bincount(items, minlength=len(lengths))
    duplicated, missing = int((counts > 1).sum()), int((counts == 0).sum())
    return per_bin.reshape(len(groups), ranks), duplicated, missing


def ours(result, ranks: int, cost: str, pack_seconds: float) -> dict:
    import seqpacker

    num = len(result) // ranks * ranks
    trimmed = prefix(result, num)
    seconds, schedule = best_time(lambda: seqpacker.balance(trimmed, ranks, cost=cost))
    return {"method": "seqpacker obfd + balance", "steps": schedule.num_steps,
            "packs": len(result), "mean": schedule.mean_imbalance, "max": schedule.max_imbalance,
            "ms": seconds * 1e3, "total_ms": (seconds + pack_seconds) * 1e3,
            "note": f"{len(result) - num} packs trimmed"}


def prefix(result, num_bins: int):
    from seqpacker import PackResult

    end = int(result.offsets[num_bins])
    return PackResult(result.items[:end].copy(), result.offsets[:num_bins + 1].copy(),
                      result.used[:num_bins].copy(), result.lengths.copy(), result.capacity, 0.0)


def peer(name: str, call, lengths: np.ndarray, ranks: int, costs) -> list[dict]:
    """One peer packer, timed once per call, measured under each cost."""
    seconds, groups = best_time(call)
    rows = []
    for cost in costs:
        rank_cost, duplicated, missing = peer_groups_cost(groups, lengths, ranks, cost)
        imbalance = step_imbalance(rank_cost)
        notes = [f"{duplicated} items twice" if duplicated else "",
                 f"{missing} missing" if missing else ""]
        rows.append({"method": f"LightBinPack {name}", "cost": cost, "steps": len(groups),
                     "packs": len(groups) * ranks, "mean": float(imbalance.mean()),
                     "max": float(imbalance.max()),
                     "mean_full": float(imbalance[:-1].mean()) if len(groups) > 1 else float("nan"),
                     "ms": seconds * 1e3, "total_ms": seconds * 1e3,
                     "note": ", ".join(n for n in notes if n)})
    return rows


def run(peers_path: str) -> tuple[list, list]:
    import seqpacker

    sys.path.append(peers_path)  # after our package and NumPy: the peers' venv also holds a seqpacker
    import lightbinpack

    tables = []
    for stem, capacity in DATASETS:
        lengths, note = load(stem, capacity)
        as_list = lengths.tolist()
        pack_seconds, result = best_time(lambda: seqpacker.Packer(capacity, "obfd").pack(lengths))
        rows = []
        for ranks in RANKS:
            for cost in COSTS:
                rows.append({"ranks": ranks, "cost": cost, **ours(result, ranks, cost, pack_seconds)})
            found = []
            found += peer("ogbfd", lambda: lightbinpack.ogbfd(as_list, capacity, ranks),
                          lengths, ranks, COSTS)
            found += peer("ogbfdp", lambda: lightbinpack.ogbfdp(as_list, capacity, ranks),
                          lengths, ranks, COSTS)
            for cost in COSTS:
                weights = [x if cost == "tokens" else x * x for x in as_list]
                found += peer(f"ohgbfd (weights {'l' if cost == 'tokens' else 'l**2'})",
                              lambda: lightbinpack.ohgbfd(as_list, [capacity] * ranks, -1, weights),
                              lengths, ranks, [cost])
            rows += [{"ranks": ranks, **row} for row in found]
        tables.append((stem, capacity, note, len(result), result.efficiency, rows))
        print(f"{stem}: done", file=sys.stderr)
    return tables, [f"seqpacker {seqpacker.__version__}", f"LightBinPack {lightbinpack.__version__}"]


def fmt(value: float) -> str:
    if value != value:
        return "-"
    if value == float("inf"):
        return "inf"
    return f"{value:.2e}" if value else "0"


def page(tables, versions, command: str) -> str:
    out = ["# Rank balance: seqpacker.balance and LightBinPack",
           "",
           "Generated by `asv_benchmarks/compare_balance.py` (see its docstring for what each",
           "peer function does); reproduce with:",
           "",
           "```bash",
           command,
           "```",
           "",
           f"{', '.join(versions)}; Python {platform.python_version()}, NumPy {np.__version__}, "
           f"{platform.machine()}, best of {REPEAT} runs.",
           "",
           "Imbalance is per step (per group of bins for LightBinPack): `max / min - 1`",
           "of the ranks' costs under the cost named, `inf` when a rank has nothing.",
           "`mean` and `max` run over all steps; for LightBinPack `mean w/o last` leaves",
           "out its last group, which can be short of items. seqpacker packs with obfd first",
           "(time in `pack+balance`); LightBinPack packs and groups in one call, so its two",
           "times are the same. seqpacker trims its packs to a multiple of the rank count",
           "(in a training run, `Packer(..., packs_multiple_of=R)`).",
           ""]
    for stem, capacity, note, num_packs, efficiency, rows in tables:
        out += [f"## {stem}, capacity {capacity}",
                "",
                f"{note}; obfd: {num_packs:,} packs, efficiency {efficiency:.4%}.",
                "",
                "| ranks | cost | method | steps | mean | mean w/o last | max | balance ms | pack+balance ms | note |",
                "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for row in sorted(rows, key=lambda r: (r["ranks"], COSTS.index(r["cost"]))):
            ours_row = row["method"].startswith("seqpacker")
            out.append(
                f"| {row['ranks']} | {row['cost']} | {row['method']} | {row['steps']:,} | "
                f"{fmt(row['mean'])} | {'-' if ours_row else fmt(row['mean_full'])} | "
                f"{fmt(row['max'])} | {format(row['ms'], '.1f') if ours_row else '-'} | "
                f"{row['total_ms']:.1f} | {row['note']} |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default=PEERS, help="site-packages holding lightbinpack")
    parser.add_argument("--page", type=Path, help="write the markdown page here")
    args = parser.parse_args(argv)
    if not LENGTHS_DIR.is_dir():
        sys.exit(f"{LENGTHS_DIR} does not exist: these figures need the real lengths")
    tables, versions = run(args.peers)
    command = "python asv_benchmarks/compare_balance.py" + (f" --page {args.page}" if args.page else "")
    text = page(tables, versions, command)
    if args.page:
        args.page.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
