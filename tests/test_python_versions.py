"""Every Python file parses with the grammar of the oldest supported Python.

CI runs the suite on that Python too, but modules whose tests skip there
(torch_utils and hf_utils without torch) are never imported by it; this
parses every file of the installed package and of the plugins, so syntax
of a newer Python (``match``, ``except*``, type parameters) fails here on
any version.
"""

import ast
import re
from pathlib import Path

import pytest

import seqpacker

ROOT = Path(__file__).resolve().parents[1]


def oldest_python() -> tuple[int, int]:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (major, minor), = re.findall(r'^requires-python = ">=(\d+)\.(\d+)"', pyproject, re.M)
    return int(major), int(minor)


FILES = sorted(Path(seqpacker.__file__).parent.rglob("*.py")) + sorted(
    (ROOT / "plugins").rglob("*.py"))


def test_the_oldest_python_is_3_9():
    assert oldest_python() == (3, 9)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_parses_with_the_oldest_grammar(path):
    ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=oldest_python())


def test_the_check_can_fail():
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=oldest_python())
