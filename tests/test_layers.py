"""The package's layers (docs/architecture.md): a module imports only
modules of its own layer or of the layers below it, anywhere in its code
(at module level or inside a function), and no import circle exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seqpacker"

#: The layers from the bottom up, each a list of module names or folders
#: (``_core/``: every module in it). docs/architecture.md draws the same.
LAYERS = [
    ("native", ["_core/"]),
    ("packing", ["result", "registry", "_packing/", "packer", "stream", "plan", "schedule"]),
    ("training", ["_training/"]),
    ("sharded", ["_sharded/"]),
    ("adapters", ["torch_utils", "hf_utils", "distributed", "ray", "spark"]),
    ("front", ["config", "cli", "__init__", "__main__"]),
]


def module_name(path: Path) -> str:
    """``seqpacker._core.native`` for ``seqpacker/_core/native.py``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
            if "build" not in path.relative_to(PACKAGE).parts}


def layer_of(module: str) -> int:
    """The index in LAYERS of a module's layer (KeyError if it has none)."""
    local = module.removeprefix("seqpacker").removeprefix(".") or "__init__"
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            if local == member or (member.endswith("/") and
                                   (local + ".").startswith(member.replace("/", "."))):
                return index
    raise KeyError(module)


def imported_modules(source: str, module: str) -> set[str]:
    """The seqpacker modules that ``source`` (the code of ``module``)
    imports anywhere, as dotted names; a ``from X import name`` counts
    ``X.name`` when that is a module. The bare packages (``seqpacker``,
    ``seqpacker._core``) are left out: their ``__init__`` imports nothing
    but what the rule checks for their own modules."""
    modules = all_modules()
    package = module if module in {"seqpacker", *(m for m in modules if modules[m].name == "__init__.py")} \
        else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name in modules and modules[name].name != "__init__.py"}


def import_graph() -> dict[str, set[str]]:
    return {module: imported_modules(path.read_text(), module)
            for module, path in all_modules().items()}


def test_every_import_form_is_seen():
    cases = {
        "from . import distributed": "seqpacker.distributed",
        "from .distributed import pack_shard": "seqpacker.distributed",
        "import seqpacker.distributed": "seqpacker.distributed",
        "from seqpacker import distributed": "seqpacker.distributed",
        "def f():\n    from . import distributed as d\n": "seqpacker.distributed",
        "from ._core import native": "seqpacker._core.native",
        "from ._core.validation import as_lengths": "seqpacker._core.validation",
    }
    for source, expected in cases.items():
        assert expected in imported_modules(source, "seqpacker.packer"), source
    assert imported_modules("from ..result import bin_sums", "seqpacker._sharded.sharding") \
        == {"seqpacker.result"}
    assert imported_modules("from .sharding import pack_shard", "seqpacker._sharded.shard_stage") \
        == {"seqpacker._sharded.sharding"}


def test_every_module_has_a_layer():
    for module in all_modules():
        layer_of(module)  # raises KeyError naming a module that has none
    with pytest.raises(KeyError):
        layer_of("seqpacker.somewhere_new")


def test_layer_of_reads_folders_and_names():
    assert LAYERS[layer_of("seqpacker._core.native")][0] == "native"
    assert LAYERS[layer_of("seqpacker._packing.groups")][0] == "packing"
    assert LAYERS[layer_of("seqpacker.distributed")][0] == "adapters"
    assert LAYERS[layer_of("seqpacker")][0] == "front"


@pytest.mark.parametrize("module", sorted(all_modules()))
def test_a_module_imports_no_layer_above_its_own(module):
    own = layer_of(module)
    above = {name: LAYERS[layer_of(name)][0]
             for name in import_graph()[module] if layer_of(name) > own}
    assert not above, f"{module} ({LAYERS[own][0]}) imports layers above it: {above}"


def test_a_layer_violation_is_caught():
    """The check reads a wrong import as one: ``_core`` importing the packer."""
    wrong = imported_modules("from ..packer import Packer", "seqpacker._core.native")
    assert any(layer_of(name) > layer_of("seqpacker._core.native") for name in wrong)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_sharding_imports_numpy_and_the_core_only():
    """``distributed`` imports NumPy only: its core, ``_sharded.sharding``,
    imports the standard library, NumPy and the packing core."""
    path = PACKAGE / "_sharded" / "sharding.py"
    tree = ast.parse(path.read_text())
    outside = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    outside |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and not node.level}
    assert outside <= {"__future__", "dataclasses", "math", "numpy"}
    allowed = {"seqpacker._core.native", "seqpacker._core.validation", "seqpacker.packer",
               "seqpacker.result"}
    assert imported_modules(path.read_text(), "seqpacker._sharded.sharding") <= allowed


def test_distributed_re_exports_the_core():
    from seqpacker import distributed
    from seqpacker._sharded import sharding

    for name in ["DEFAULT_MIN_FILL", "DEFAULT_SHARD_ROWS", "ShardPacking", "ShardedPacking",
                 "pack_shard", "repack_order", "shard_count", "check_lengths",
                 "check_min_fill"]:
        assert getattr(distributed, name) is getattr(sharding, name), name
    for name in distributed.__all__:
        assert hasattr(distributed, name), name
