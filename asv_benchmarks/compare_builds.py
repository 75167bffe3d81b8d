#!/usr/bin/env python3
"""Time every asv ``time_*`` benchmark under two builds of seqpacker, in turns.

    python asv_benchmarks/compare_builds.py --base PY --new PY
        [--rounds 2] [--calls 3] [--bench SUBSTRING] [--out results.json]

``--base`` and ``--new`` are interpreters with one build each installed
(``pip install --no-build-isolation .`` from two checkouts). Each benchmark
runs in a fresh process per build and round, the builds taking turns
(base, new, base, new, ...), so that drift in the machine's speed hits both
alike. A process calls ``setup`` before every timed call and keeps the
fastest call; a build's figure is its fastest over the rounds. Prints a
Markdown table with new / base per benchmark, marking ratios above 1.05.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "benchmarks"


def cases():
    """``(module, class, method, params)`` for every time_ benchmark."""
    sys.path.insert(0, str(HERE.parent))
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            params = getattr(cls, "params", None)
            if params is None:
                combos = [()]
            elif params and isinstance(params[0], list):
                combos = list(itertools.product(*params))
            else:
                combos = [(value,) for value in params]
            for method in sorted(m for m in vars(cls) if m.startswith("time_")):
                for combo in combos:
                    yield path.stem, name, method, list(combo)


def run_case(module_name, class_name, method, params, calls):
    """The fastest of ``calls`` timed calls, in seconds (worker side)."""
    sys.path.insert(0, str(HERE.parent))
    cls = getattr(importlib.import_module(f"benchmarks.{module_name}"), class_name)
    instance = cls()
    first = [instance.setup_cache()] if hasattr(cls, "setup_cache") else []
    best = float("inf")
    for _ in range(calls):
        if hasattr(instance, "setup"):
            instance.setup(*first, *params)
        start = time.perf_counter()
        getattr(instance, method)(*first, *params)
        best = min(best, time.perf_counter() - start)
        if hasattr(instance, "teardown"):
            instance.teardown(*first, *params)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="interpreter with the base build")
    parser.add_argument("--new", required=True, help="interpreter with the new build")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=3, help="timed calls per process")
    parser.add_argument("--bench", default="", help="only benchmarks whose name holds this")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        module_name, class_name, method, params = args.worker
        print(run_case(module_name, class_name, method, json.loads(params), args.calls))
        return 0
    rows = []
    for module_name, class_name, method, params in cases():
        label = f"{module_name}.{class_name}.{method}({', '.join(map(repr, params))})"
        if args.bench not in label:
            continue
        best = {"base": float("inf"), "new": float("inf")}
        for _ in range(args.rounds):
            for side in ("base", "new"):
                out = subprocess.run(
                    [getattr(args, side), __file__, "--base", "-", "--new", "-",
                     "--calls", str(args.calls), "--worker", module_name, class_name, method,
                     json.dumps(params)],
                    capture_output=True, text=True, cwd="/")
                if out.returncode:
                    raise SystemExit(f"{label} failed under {side}:\n{out.stderr}")
                best[side] = min(best[side], float(out.stdout.split()[-1]))
        ratio = best["new"] / best["base"]
        rows.append((label, best["base"] * 1e3, best["new"] * 1e3, ratio))
        print(f"{label}: {best['base'] * 1e3:.2f} ms -> {best['new'] * 1e3:.2f} ms "
              f"({ratio:.3f})", file=sys.stderr, flush=True)
    print("| benchmark | base ms | new ms | new / base |\n|---|---|---|---|")
    for label, base, new, ratio in rows:
        mark = " (over 1.05)" if ratio > 1.05 else ""
        print(f"| `{label}` | {base:.2f} | {new:.2f} | {ratio:.3f}{mark} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
