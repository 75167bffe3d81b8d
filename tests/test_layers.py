"""The package's layers: a module imports only modules below it.

``distributed`` is the top of sharded packing (``pack_tables`` imports the
stage modules when called); the stage modules and the core they share,
``_sharding``, are below it and never import it, at module level or inside
a function, so that the import circle cannot come back.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seqpacker"

BELOW_DISTRIBUTED = ["_sharding", "_shard_stage", "_plan_stage", "_engine_stages",
                     "_content_order"]


def imported_modules(source: str) -> set[str]:
    """The seqpacker modules that ``source`` (a module of the package)
    imports anywhere, as dotted names (``seqpacker.distributed``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the package (its modules are top level)
                base = "seqpacker" + (f".{base}" if base else "")
            names.add(base)
            # ``from . import distributed`` and ``from seqpacker import distributed``
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "seqpacker" or name.startswith("seqpacker.")}


def test_every_import_form_is_seen():
    for source in ["from . import distributed", "from .distributed import pack_shard",
                   "import seqpacker.distributed", "from seqpacker import distributed",
                   "from seqpacker.distributed import repack",
                   "def f():\n    from . import distributed as d\n"]:
        assert "seqpacker.distributed" in imported_modules(source), source
    assert "seqpacker.distributed" not in imported_modules("from ._sharding import pack_shard")


@pytest.mark.parametrize("module", BELOW_DISTRIBUTED)
def test_modules_below_distributed_do_not_import_it(module):
    imports = imported_modules((PACKAGE / f"{module}.py").read_text())
    assert "seqpacker.distributed" not in imports, module


def test_sharding_imports_numpy_and_the_core_only():
    tree = ast.parse((PACKAGE / "_sharding.py").read_text())
    outside = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    outside |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and not node.level}
    assert outside <= {"__future__", "dataclasses", "math", "numpy"}
    core = {"seqpacker._native", "seqpacker._validation", "seqpacker.packer", "seqpacker.result"}
    for name in imported_modules((PACKAGE / "_sharding.py").read_text()) - {"seqpacker"}:
        assert any(name == module or name.startswith(f"{module}.") for module in core), name


def test_distributed_re_exports_the_core():
    from seqpacker import _sharding, distributed

    for name in ["DEFAULT_MIN_FILL", "DEFAULT_SHARD_ROWS", "ShardPacking", "ShardedPacking",
                 "pack_shard", "repack_order", "shard_count", "check_lengths",
                 "check_min_fill"]:
        assert getattr(distributed, name) is getattr(_sharding, name), name
    for name in distributed.__all__:
        assert hasattr(distributed, name), name
