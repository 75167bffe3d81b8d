#!/usr/bin/env python3
"""Time the CPython-API hot paths of two seqpacker builds in one run.

    python asv_benchmarks/compare_limited_api.py --python BASE_PY --python NEW_PY
        [--label BASE --label NEW] [--repeat 5] [--inner 3] [--out FILE.json]
        [--page docs/limited-api-benchmarks.md]

Each ``--python`` is an interpreter with a seqpacker build installed: for
the cost of the limited C API, one venv with a version-specific build of
this checkout and one with its abi3 build::

    python3 -m venv /tmp/specific && /tmp/specific/bin/pip install . \
        -Csetup-args=-Dpython.allow_limited_api=false
    python3 -m venv /tmp/abi3 && /tmp/abi3/bin/pip install .

Rounds alternate between the interpreters, each round in a fresh process
that times every measurement ``--inner`` times, so a drift in the machine's
speed hits both alike. The table gives each side's fastest timing (the one
least disturbed by other load) and the ratios of the fastest and of the
median timings, the second interpreter's over the first's.

What it times (capacity 2048, lengths uniform in [1, 2048], seeded):

- ``add``: a Python loop of ``StreamPacker(2048, "nf").add`` over 1,000,000
  ints (``_ext``'s Stream: the method call, the C stream, Pack objects);
- ``add_many``: one ``add_many`` over 1,000,000 lengths (the Pack objects
  of every pack, ``packs_from_arrays``);
- ``add_many_256``: ``add_many`` over chunks of 256 lengths, 1,000,000 in
  all (the fixed cost per call);
- ``bins`` and ``packs``: first access to ``PackResult.bins`` and
  ``PackResult.packs`` of an obfd packing of 1,000,000 lengths
  (``bins_from_arrays``, ``packs_from_arrays``);
- ``bins_100``: ``.bins`` of 10,000 packings of 100 lengths each;
- ``tokens``: ``seqpacker._training.tokens.as_flat_tokens`` over 256 lists of ints,
  lengths uniform in [1, 4096], ten times (``_ext.flatten_int_lists``).

The garbage collector stays on, as in a user's process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CAPACITY = 2048
N = 1_000_000
SEED = 20240601


def worker(inner: int) -> dict:
    """One round in this interpreter: ``inner`` timings (seconds) of each
    measurement, and which modules were measured."""
    import numpy as np

    import seqpacker
    from seqpacker import Packer, StreamPacker
    from seqpacker._training.tokens import as_flat_tokens

    rng = np.random.default_rng(SEED)
    lengths = rng.integers(1, CAPACITY + 1, N, dtype=np.int64)
    values = lengths.tolist()
    token_lists = [rng.integers(0, 32000, n).tolist() for n in rng.integers(1, 4097, 256)]
    small = [rng.integers(1, CAPACITY + 1, 100, dtype=np.int64) for _ in range(10_000)]

    def add():
        stream = StreamPacker(CAPACITY, "nf")
        push = stream.add
        for value in values:
            push(value)

    def add_many():
        StreamPacker(CAPACITY, "nf").add_many(lengths)

    def add_many_256():
        stream = StreamPacker(CAPACITY, "nf")
        for start in range(0, N, 256):
            stream.add_many(lengths[start:start + 256])

    def tokens():
        for _ in range(10):
            as_flat_tokens(token_lists)

    packer = Packer(CAPACITY, "obfd")
    jobs = {
        "add": (None, add),
        "add_many": (None, add_many),
        "add_many_256": (None, add_many_256),
        "bins": (lambda: packer.pack(lengths), lambda r: r.bins),
        "packs": (lambda: packer.pack(lengths), lambda r: r.packs),
        "bins_100": (lambda: [packer.pack(x) for x in small],
                     lambda rs: [r.bins for r in rs]),
        "tokens": (None, tokens),
    }
    times = {name: [] for name in jobs}
    for _ in range(inner):
        for name, (prepare, run) in jobs.items():
            arg = () if prepare is None else (prepare(),)
            start = time.perf_counter()
            run(*arg)
            times[name].append(time.perf_counter() - start)
            del arg
    from importlib.machinery import EXTENSION_SUFFIXES

    modules = sorted(p.name for p in Path(seqpacker.__file__).parent.rglob("_*")
                     if any(p.name.endswith(s) for s in EXTENSION_SUFFIXES))
    return {"python": sys.version.split()[0], "modules": modules, "times": times}


def table(labels, best, medians) -> list[str]:
    lines = [f"| measurement | {labels[0]}: ms | {labels[1]}: ms | ratio (fastest) | "
             "ratio (median) |", "|---|---:|---:|---:|---:|"]
    for name in best[0]:
        a, b = best[0][name], best[1][name]
        ratio = medians[1][name] / medians[0][name]
        lines.append(f"| {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | {b / a:.2f} | {ratio:.2f} |")
    return lines


def page(labels, sides, rounds, lines, command) -> str:
    import os
    import platform

    described = [f"- {label}: Python {side['python']}, {', '.join(side['modules'])}"
                 for label, side in zip(labels, sides)]
    return "\n".join([
        "# The limited C API: what it costs",
        "",
        "This page is written by `asv_benchmarks/compare_limited_api.py --page "
        "docs/limited-api-benchmarks.md`; do not edit it by hand. Both builds run in the same "
        f"run, rounds alternating ({platform.machine()}, {os.cpu_count()} CPUs):",
        "",
        *described,
        "",
        f"{rounds}; ms is each side's fastest timing, a ratio is {labels[1]} over "
        f"{labels[0]} (below 1: {labels[1]} is faster). The script's docstring says what each "
        "measurement times.",
        "",
        "Both builds compile the same source, which calls only functions of the limited API "
        "(a tuple per `add()` call, `PyList_GetItem` and `PyList_SetItem` per list item); "
        "the version-specific build only inlines what the limited API keeps behind calls, "
        "such as `PyList_Check`.",
        "",
        *lines,
        "",
        "Reproduce:",
        "",
        "```sh",
        "python3 -m venv /tmp/specific && /tmp/specific/bin/pip install . "
        "-Csetup-args=-Dpython.allow_limited_api=false",
        "python3 -m venv /tmp/abi3 && /tmp/abi3/bin/pip install .",
        command,
        "```",
    ]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", default=[],
                        help="an interpreter with seqpacker installed (give two)")
    parser.add_argument("--label", action="append", default=[],
                        help="a name for each --python, in the same order")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (processes) per interpreter")
    parser.add_argument("--inner", type=int, default=3,
                        help="timings of each measurement per round")
    parser.add_argument("--out", help="write every timing here as JSON")
    parser.add_argument("--page", type=Path, help="write the markdown page here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.inner)))
        return 0
    if len(args.python) != 2 or len(args.label) not in (0, 2):
        parser.error("give exactly two --python interpreters (and two --label names, or none)")
    labels = args.label or ["[1]", "[2]"]
    rounds: list[list[dict]] = [[], []]
    for _ in range(args.repeat):
        for side, python in enumerate(args.python):
            out = subprocess.run([python, __file__, "--worker", "--inner", str(args.inner)],
                                 capture_output=True, text=True,
                                 cwd="/")  # not the checkout: the installed package
            if out.returncode != 0:
                sys.exit(f"{python} failed:\n{out.stderr}")
            rounds[side].append(json.loads(out.stdout))
    names = list(rounds[0][0]["times"])
    every = [{name: [t for r in side for t in r["times"][name]] for name in names}
             for side in rounds]
    best = [{name: min(times[name]) for name in names} for times in every]
    medians = [{name: statistics.median(times[name]) for name in names} for times in every]
    sides = [side[0] for side in rounds]
    lines = table(labels, best, medians)
    for label, python, side in zip(labels, args.python, sides):
        print(f"{label}: {python}, Python {side['python']}, {', '.join(side['modules'])}")
    described_rounds = (f"{args.repeat} rounds x {args.inner} timings per build")
    print(f"\n{described_rounds}, rounds alternating\n")
    print("\n".join(lines))
    if args.page:
        command = ("python asv_benchmarks/compare_limited_api.py --python /tmp/specific/bin/python "
                   "--python /tmp/abi3/bin/python --label version-specific --label abi3 "
                   f"--repeat {args.repeat} --inner {args.inner} --page {args.page}")
        args.page.write_text(page(labels, sides, described_rounds, lines, command),
                             encoding="utf-8")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"pythons": args.python, "labels": labels, "rounds": rounds,
                       "min": best, "median": medians}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
