"""The example plugin plugins/seqpacker-balanced, installed for real: found
through its entry point, selected by name like a built-in, results checked.

Skipped without it; CI installs it (.ci/stages/python.sh) and requires it
(SEQPACKER_REQUIRE_OPTIONAL). To run: pip install ./plugins/seqpacker-balanced
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import numpy as np
import pytest

from optional import require_distribution
from seqpacker import Packer, pack_sequences
from seqpacker.registry import ENTRY_POINT_GROUP, available_strategies

DIST = "seqpacker-balanced"


VERSION = require_distribution(DIST)  # skips this module without the plugin


@pytest.fixture(scope="module")
def version() -> str:
    """The installed plugin's version."""
    return VERSION


def run_cli(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, "-m", "seqpacker", *args], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, env=env)


def test_entry_point_is_registered(version):
    # Through the distribution: Python 3.9 has no entry_points(group=...).
    found = [ep for ep in importlib.metadata.distribution(DIST).entry_points
             if ep.group == ENTRY_POINT_GROUP and ep.name == "balanced"]
    assert len(found) == 1
    assert found[0].value == "seqpacker_balanced:balanced"


def test_discovered_and_marked_as_a_plugin(version):
    info = next(i for i in available_strategies() if i.short == "BALANCED")
    assert info.plugin and info.origin == f"{DIST} {version}"
    pairs = Packer.strategies()
    assert pairs.index(("BALANCED", "balanced")) >= 11  # after the built-ins


def test_listing_does_not_import_it_but_selecting_does(version, tmp_path):
    code = ("import sys, seqpacker; seqpacker.Packer.strategies(); "
            "print('seqpacker_balanced' in sys.modules); "
            "seqpacker.Packer(64, 'Balanced'); print('seqpacker_balanced' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("limit", [None, 2048, 512])
def test_selected_by_name_and_valid(version, limit):
    lengths = np.random.default_rng(limit or 0).integers(1, 4097, size=5000)
    packer = Packer(4096, "balanced", options={"max_attention": limit})
    assert packer.strategy == "BALANCED"
    result = packer.pack(lengths)
    # Each id once, no bin empty or over capacity, used matches the lengths.
    assert np.array_equal(np.sort(result.items), np.arange(len(lengths)))
    assert np.all(np.diff(result.offsets) > 0)
    assert np.array_equal(result.used, np.add.reduceat(lengths[result.items], result.offsets[:-1]))
    assert result.used.max() <= 4096
    # Its promise: a pack of several sequences keeps within the attention budget.
    work = np.add.reduceat(lengths[result.items] ** 2, result.offsets[:-1])
    several = np.diff(result.offsets) > 1
    assert work[several].max() <= (limit or 4096) ** 2
    metrics = result.metrics
    assert metrics.num_packs == result.num_bins and metrics.total_tokens == lengths.sum()
    assert metrics.attention_cost_max == work.max()
    if limit is None:  # no attention bound: FFD's packs
        assert result.bins == Packer(4096, "ffd").pack(lengths).bins
    again = pack_sequences(lengths, 4096, "balanced", options={"max_attention": limit})
    assert again.bins == result.bins  # deterministic


def test_cli_runs_it_and_marks_it(version, tmp_path):
    out = run_cli(tmp_path, "--strategy", "ffd", "--strategy", "balanced",
                  "--plugin-option", "max_attention=512")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2].split()[0] == "FFD" and lines[3].split()[0] == "BALANCED"
    assert int(lines[3].split()[1]) > int(lines[2].split()[1])  # the bound costs packs
    assert lines[4] == f"BALANCED (plugin: {DIST} {version})"
    listing = run_cli(tmp_path, "--list").stdout.splitlines()
    assert listing[-1].split()[:2] == ["balanced", "balanced"]
    assert listing[-1].endswith(f"(plugin: {DIST} {version})")


def test_disable_variable_hides_it(version, tmp_path):
    env = dict(os.environ, SEQPACKER_DISABLE_PLUGINS="1")
    out = run_cli(tmp_path, "--strategy", "balanced", env=env)
    assert out.returncode == 2 and "unknown strategy 'balanced'" in out.stderr
    listing = run_cli(tmp_path, "--list", env=env).stdout
    assert "balanced" not in listing and "obfd" in listing
