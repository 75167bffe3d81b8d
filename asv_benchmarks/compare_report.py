"""Turn the figures of ``compare_peers.py`` into targets and Markdown tables.

Every target becomes one row: what was measured, and PASS or FAIL. A
target whose figure is missing on our side (a job that failed or ran over
the time limit) is a FAIL; one that cannot be judged because a peer failed
is N/A. A packing of ours that is not valid (an id lost, a bin over
capacity) fails its targets however fast it was.
"""

from __future__ import annotations

import common

#: Speed-up over seqpacker 0.1.3's pack_flat that each strategy must reach.
SPEEDUP_TARGETS = {"obfd": 10, "hk": 50}
DEFAULT_SPEEDUP = 5
#: add() is timed over this many calls (or n, if smaller).
ADD_CALLS = 200_000
#: Harmonic-K classes: seqpacker 0.1.3's default, given to both sides.
HK_K = 10


def job_id(side, kind, data, strategy=None, calls=None, flat=False) -> str:
    """The key of one measurement, shared by the job list and the report."""
    parts = [side, kind, data]
    if strategy:
        parts.append(strategy)
    if calls:
        parts.append(f"x{calls}")
    if flat:
        parts.append("flat")
    return ":".join(parts)


# -------------------------------------------------------------- formatting

def problem(entry) -> str | None:
    """Why a figure cannot be used, or None."""
    if entry is None:
        return "not run"
    if entry.get("error"):
        return entry["error"]
    if entry.get("invalid"):
        return f"invalid packing: {entry['invalid']}"
    if "seconds" not in entry:
        return "no timing"
    return None


def short(text: str, width: int = 60) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def ms(entry) -> str:
    bad = problem(entry)
    if bad is None:
        return f"{entry['seconds'] * 1e3:.2f}"
    return "over limit" if bad.startswith("over the time limit") else "n/a"


def ratio_text(value: float) -> str:
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------ report

class Report:
    def __init__(self, args, data, results):
        self.args, self.data, self.results = args, data, results
        self.targets: list[dict] = []

    def get(self, *key, **kw):
        return self.results.get(job_id(*key, **kw))

    def efficiency(self, entry, name) -> str:
        if problem(entry) or "bins" not in entry:
            return "n/a"
        eff = common.efficiency_of(self.data[name]["tokens"], entry["bins"],
                                   self.data[name]["capacity"])
        return f"{eff * 100:.2f}%"

    def target(self, text, measured, status):
        self.targets.append({"target": text, "measured": measured, "status": status})

    def speedup_target(self, text, ours, peer, factor, bins_no_more=False):
        """ours at least ``factor`` times faster than peer (and no more bins)."""
        if problem(ours):
            return self.target(text, f"ours: {short(problem(ours))}", "FAIL")
        if problem(peer):
            return self.target(text, f"peer: {short(problem(peer))}", "N/A")
        speedup = peer["seconds"] / ours["seconds"]
        measured = (f"{ours['seconds'] * 1e3:.2f} ms vs {peer['seconds'] * 1e3:.2f} ms "
                    f"= {ratio_text(speedup)}")
        ok = speedup >= factor
        if bins_no_more:
            measured += f"; bins {ours['bins']:,} vs {peer['bins']:,}"
            ok = ok and ours["bins"] <= peer["bins"]
        self.target(text, measured, verdict(ok))

    def ratio_target(self, text, top, bottom, limit, strict=False):
        """``top / bottom`` time ratio below ``limit``, both ours."""
        for entry in (top, bottom):
            if problem(entry):
                return self.target(text, short(problem(entry)), "FAIL")
        value = top["seconds"] / bottom["seconds"]
        ok = value < limit if strict else value <= limit
        self.target(text, f"{top['seconds'] * 1e3:.2f} ms / "
                    f"{bottom['seconds'] * 1e3:.2f} ms = {value:.2f}", verdict(ok))

    # ------------------------------------------------------------ sections

    def uniform_section(self) -> str:
        cap = self.data["uniform"]["capacity"]
        rows = []
        for strategy in common.STRATEGIES:
            ours = self.get("ours", "pack_flat", "uniform", strategy)
            peer = self.get("peer", "pack_flat", "uniform", strategy)
            speedup = ("n/a" if problem(ours) or problem(peer)
                       else ratio_text(peer["seconds"] / ours["seconds"]))
            factor = SPEEDUP_TARGETS.get(strategy, DEFAULT_SPEEDUP)
            rows.append([strategy, ms(ours), ms(peer), speedup, f">= {factor}x",
                         f"{ours['bins']:,}" if not problem(ours) else short(problem(ours), 40),
                         f"{peer['bins']:,}" if not problem(peer) else short(problem(peer), 40),
                         self.efficiency(ours, "uniform"), self.efficiency(peer, "uniform")])
            self.speedup_target(f"{strategy} pack_flat >= {factor}x faster than seqpacker 0.1.3"
                                + (", bins <=" if strategy == "obfd" else ""),
                                ours, peer, factor, bins_no_more=(strategy == "obfd"))
        lbp = self.get("peer", "lightbinpack_obfd", "uniform")
        rows.append(["obfd vs LightBinPack obfd", ms(self.get("ours", "pack_flat", "uniform", "obfd")),
                     ms(lbp), "", ">= 10x", "", f"{lbp['bins']:,}" if not problem(lbp)
                     else short(problem(lbp), 40), "", self.efficiency(lbp, "uniform")])
        self.speedup_target("obfd pack_flat >= 10x faster than LightBinPack obfd, bins <=",
                            self.get("ours", "pack_flat", "uniform", "obfd"), lbp, 10,
                            bins_no_more=True)
        n = self.data["uniform"]["n"]
        return (f"### {n:,} lengths uniform in [1, {cap}], capacity {cap} "
                "(median ms of the rounds)\n\n"
                + table(["strategy", "ours ms", "peer ms", "speed-up", "target",
                         "ours bins", "peer bins", "ours eff", "peer eff"], rows))

    def baseline_targets(self):
        flat = self.get("ours", "pack_flat", "uniform", "obfd")
        self.ratio_target("obfd pack_flat takes less time than np.argsort (ratio < 1)",
                          flat, self.get("ours", "argsort", "uniform"), 1.0, strict=True)
        self.ratio_target("Packer.pack within 2x of pack_flat (ratio <= 2)",
                          self.get("ours", "pack", "uniform", "obfd"), flat, 2.0)

    def big_section(self) -> str:
        if "uniform_big" not in self.data:
            return ""
        obfd = self.get("ours", "pack_flat", "uniform_big", "obfd")
        obfdp = self.get("ours", "pack_flat", "uniform_big", "obfdp")
        text = "obfdp faster than obfd on 10M uniform, at most 0.1% more bins"
        if problem(obfd) or problem(obfdp):
            bad = problem(obfdp) or problem(obfd)
            self.target(text, short(bad), "FAIL")
        else:
            extra = obfdp["bins"] / obfd["bins"] - 1
            self.target(text, f"{obfdp['seconds'] * 1e3:.1f} ms vs {obfd['seconds'] * 1e3:.1f}"
                        f" ms; bins {obfdp['bins']:,} vs {obfd['bins']:,} ({extra * 100:+.3f}%)",
                        verdict(obfdp["seconds"] < obfd["seconds"] and extra <= 0.001))
        rows = [[s, ms(e), f"{e['bins']:,}" if not problem(e) else short(problem(e), 50),
                 self.efficiency(e, "uniform_big")]
                for s, e in (("obfd", obfd), ("obfdp", obfdp))]
        return ("### 10,000,000 uniform lengths, ours only\n\n"
                + table(["strategy", "ms", "bins", "efficiency"], rows))

    def real_names(self) -> list[str]:
        return [name for name in self.data if name.startswith("real_")]

    def mffd_target(self):
        worst, worst_name, missing = 0.0, "", None
        for name in ["uniform"] + self.real_names():
            mffd = self.get("ours", "pack_flat", name, "mffd")
            ffd = self.get("ours", "pack_flat", name, "ffd")
            if problem(mffd) or problem(ffd):
                missing = problem(mffd) or problem(ffd)
                break
            excess = mffd["bins"] / ffd["bins"] - 1 if ffd["bins"] else 0.0
            if excess >= worst or not worst_name:
                worst, worst_name = excess, name
        text = "mffd uses <= ffd bins + 0.5% on uniform and every real distribution"
        if missing:
            return self.target(text, short(missing), "FAIL")
        self.target(text, f"worst {worst * 100:+.3f}% ({worst_name})", verdict(worst <= 0.005))

    def real_section(self) -> str:
        names = self.real_names()
        if not names:
            return ""
        eff_rows, time_rows = [], []
        for name in names:
            info = self.data[name]
            eff_cells, time_cells = [], []
            for strategy in common.STRATEGIES:
                ours = self.get("ours", "pack_flat", name, strategy)
                peer = self.get("peer", "pack_flat", name, strategy)
                eff_cells.append(f"{self.efficiency(ours, name)} / {self.efficiency(peer, name)}")
                time_cells.append(f"{ms(ours)} / {ms(peer)}")
            label = name[len("real_"):]
            eff_rows.append([label, f"{info['n']:,}", short(info["note"], 50) or "-"] + eff_cells)
            time_rows.append([label] + time_cells)
        cap = common.REAL_CAPACITY
        return (f"### Real distributions, capacity {cap}: efficiency, ours / seqpacker 0.1.3\n\n"
                f"Lengths > {cap} are dropped for both sides (see note).\n\n"
                + table(["dataset", "n", "note"] + list(common.STRATEGIES), eff_rows)
                + f"\n\n### Real distributions, capacity {cap}: pack_flat ms, ours / seqpacker 0.1.3\n\n"
                + table(["dataset"] + list(common.STRATEGIES), time_rows))

    def stream_section(self) -> str:
        n = self.data["uniform"]["n"]
        add_calls = min(ADD_CALLS, n)
        rows = []
        for strategy in ("nf", "hk"):
            for side in ("ours", "peer"):
                entry = self.get(side, "stream_add", "uniform", strategy, calls=add_calls)
                rows.append([f"{side} add() {strategy}", "n/a" if problem(entry)
                             else f"{entry['per_call'] * 1e9:.0f} ns/call",
                             short(problem(entry), 50) if problem(entry) else ""])
            for flat in (False, True):
                entry = self.get("ours", "stream_add_many", "uniform", strategy, flat=flat)
                label = f"ours add_many{' (flat variant)' if flat else ''} {strategy}"
                rows.append([label, "n/a" if problem(entry)
                             else f"{entry['per_second'] / 1e6:.1f} M lengths/s",
                             short(problem(entry), 50) if problem(entry) else ""])
        for side in ("ours", "peer"):
            entry = self.get(side, "stream_add", "uniform", "hk", calls=n)
            rows.append([f"{side} hk, {n:,} x add()", ms(entry) + " ms",
                         short(problem(entry), 50) if problem(entry) else f"{entry['bins']:,} packs"])

        # Targets.
        best = [e for e in (self.get("ours", "stream_add_many", "uniform", "nf", flat=f)
                            for f in (False, True)) if not problem(e)]
        text = "add_many >= 50M lengths/s (nf, best of add_many and its flat variant)"
        if best:
            top = max(e["per_second"] for e in best)
            self.target(text, f"{top / 1e6:.1f} M/s", verdict(top >= 50e6))
        else:
            self.target(text, "no add_many figure of ours", "FAIL")
        ours_add = self.get("ours", "stream_add", "uniform", "nf", calls=add_calls)
        peer_add = self.get("peer", "stream_add", "uniform", "nf", calls=add_calls)
        text = "add() costs <= 2x seqpacker 0.1.3's add() (nf)"
        if problem(ours_add):
            self.target(text, short(problem(ours_add)), "FAIL")
        elif problem(peer_add):
            self.target(text, f"peer: {short(problem(peer_add))}", "N/A")
        else:
            ratio = ours_add["per_call"] / peer_add["per_call"]
            self.target(text, f"{ours_add['per_call'] * 1e9:.0f} ns vs "
                        f"{peer_add['per_call'] * 1e9:.0f} ns = {ratio:.2f}", verdict(ratio <= 2))
        ours_hk = [e for e in (self.get("ours", "stream_add_many", "uniform", "hk", flat=f)
                               for f in (False, True)) if not problem(e)]
        self.speedup_target(f"streaming hk over {n:,} items >= 50x faster than seqpacker "
                            "0.1.3's (ours: fastest add_many; peer: add() loop)",
                            min(ours_hk, key=lambda e: e["seconds"]) if ours_hk
                            else self.get("ours", "stream_add_many", "uniform", "hk"),
                            self.get("peer", "stream_add", "uniform", "hk", calls=n), 50)
        return (f"### Streaming (capacity {self.data['uniform']['capacity']}, k = {HK_K}; "
                f"add() timed over {add_calls:,} calls)\n\n"
                + table(["measure", "figure", "note"], rows))

    def environment(self) -> str:
        lines = []
        for side in ("ours", "peer"):
            info = (self.results.get(f"{side}:info") or {}).get("info")
            lines.append(f"- {side}: " + (", ".join(f"{k} {v}" for k, v in info.items())
                                          if info else "no info"))
        return "\n".join(lines)


def build(args, data, results) -> dict:
    """``{"targets": [...], "markdown": all tables, "targets_markdown": ...}``."""
    report = Report(args, data, results)
    # The targets table lists the targets in the order they are judged:
    # offline packing first, then streaming.
    uniform = report.uniform_section()
    report.baseline_targets()
    big = report.big_section()
    report.mffd_target()
    stream = report.stream_section()
    real = report.real_section()
    targets = ("### Targets\n\n" + table(
        ["target", "measured", "result"],
        [[t["target"], t["measured"], t["status"]] for t in report.targets]))
    header = (f"Command: `python asv_benchmarks/compare_peers.py --n {args.n} --repeat {args.repeat}"
              f"{' --markdown' if args.markdown else ''}`; {args.repeat} alternating rounds, "
              f"median shown.\n\n" + report.environment())
    parts = [header, targets, uniform, big, stream, real]
    return {"targets": report.targets,
            "targets_markdown": "\n\n".join([header, targets, uniform]),
            "markdown": "\n\n".join(p for p in parts if p)}
