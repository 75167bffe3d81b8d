"""Shared fixtures: one test body runs against every strategy.

Like markupsafe's backend fixture, ``strategy`` is parametrized over every
name that ``seqpacker.Packer.strategies()`` returns, so a strategy added to
the library is covered by every test that takes the fixture without editing
any test. ``referenced_strategy`` is the subset that has a pure-Python
reference (see reference.py).

``real_lengths`` yields the real length distributions that the tests carry
in ``tests/data`` (see real_data.py and tests/data/README.md).

Hypothesis runs 200 examples per property; ``SEQPACKER_HYPOTHESIS_PROFILE=thorough``
runs 1000 for a deeper search before a release.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

TESTS_DIR = Path(__file__).resolve().parent
# pytest runs with --import-mode=importlib, which does not put this folder on
# sys.path; the helper modules (reference, length_lists) live here.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import seqpacker  # noqa: E402  (the installed package, after the path setup)
from reference import all_references  # noqa: E402

# Property tests: enough examples to find tie-rule bugs, no per-example
# deadline (timing never decides a test), a fixed budget on 2 cores.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("SEQPACKER_HYPOTHESIS_PROFILE", "default"))

STRATEGIES = [short for short, _long in seqpacker.Packer.strategies()]
REFERENCES = all_references()
REFERENCED = [s for s in STRATEGIES if s.lower() in REFERENCES]


@pytest.fixture(scope="session", params=STRATEGIES)
def strategy(request) -> str:
    """The short name of one strategy, e.g. ``"OBFD"``."""
    return request.param


@pytest.fixture(scope="session", params=REFERENCED)
def referenced_strategy(request):
    """``(short name, reference function)`` of a strategy with a reference."""
    return request.param, REFERENCES[request.param.lower()]


# ---- real length distributions ---------------------------------------------

from real_data import load_lengths, real_length_files  # noqa: E402
# Cap per file so the 1M lengths of the Wikipedia histogram stay quick for every strategy.
MAX_REAL_LENGTHS = 200_000


def load_real_lengths(name: str) -> np.ndarray:
    """One distribution as int64 (see load_lengths), at most MAX_REAL_LENGTHS."""
    lengths = load_lengths(name)
    return lengths[lengths >= 1][:MAX_REAL_LENGTHS]


@pytest.fixture(scope="session", params=real_length_files())
def real_lengths(request) -> tuple[str, np.ndarray]:
    """``(file name, lengths)`` of one real distribution."""
    return request.param, load_real_lengths(request.param)
