"""The C library's layers (docs/architecture.md, "The C library"): every
``#include "..."`` in csrc/src names its layer's folder, ``common/``
includes only ``common/`` (and the public header), ``offline/`` and
``stream/`` include ``common/`` and their own folder, the entry points at
the top of csrc/src include any of them, and no include circle exists
among the headers. Reads the sources; builds nothing.
"""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "csrc" / "src"

#: The folders of csrc/src and the folders each may include from ("" is
#: the top of csrc/src: the entry points, which have no headers of their
#: own). The public header (seqpacker.h, from csrc/include) is allowed
#: everywhere.
ALLOWED = {
    "": {"common", "offline", "stream"},
    "common": {"common"},
    "offline": {"common", "offline"},
    "stream": {"common", "stream"},
}
PUBLIC_HEADER = "seqpacker.h"

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes_of(text: str) -> list[str]:
    """The quoted includes of a C source, in order."""
    return INCLUDE.findall(text)


def sources(root: Path = SRC) -> dict[str, str]:
    """Every .c and .h under root, by path relative to it (POSIX form)."""
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(root.rglob("*")) if path.suffix in {".c", ".h"}}


def violations(files: dict[str, str]) -> list[str]:
    """What breaks the rule in ``files`` (relative path -> text)."""
    found = []
    for path, text in files.items():
        folder = path.rpartition("/")[0]
        if folder not in ALLOWED:
            found.append(f"{path}: in no layer (csrc/src/{folder}/)")
            continue
        for name in includes_of(text):
            if name == PUBLIC_HEADER:
                continue
            target = name.rpartition("/")[0]
            if target not in ALLOWED or target == "":
                found.append(f'{path}: #include "{name}" names no layer folder')
            elif target not in ALLOWED[folder]:
                found.append(f'{path}: #include "{name}" ({folder or "top"} may not include {target}/)')
            elif name not in files:
                found.append(f'{path}: #include "{name}" does not exist')
    return found


def circles(files: dict[str, str]) -> list[list[str]]:
    """Include circles among the headers of ``files``, each as a path list."""
    graph = {path: [name for name in includes_of(text) if name in files]
             for path, text in files.items() if path.endswith(".h")}
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_the_tree_has_the_layers():
    files = sources()
    folders = {path.rpartition("/")[0] for path in files}
    assert folders == set(ALLOWED)
    assert "common/internal.h" in files and "offline/offline.h" in files


def test_every_include_keeps_to_its_layer():
    assert violations(sources()) == []


def test_no_include_circle():
    assert circles(sources()) == []


@pytest.mark.parametrize(
    ("path", "include"),
    [
        ("stream/stream.c", "offline/offline.h"),  # stream may not include offline
        ("offline/fit.c", "stream/stream_internal.h"),  # nor offline the stream
        ("common/memory.c", "offline/offline.h"),  # common includes only common
        ("offline/fit.c", "internal.h"),  # an include must name its layer
    ],
)
def test_the_checker_catches_a_violation(path, include):
    files = sources()
    files[path] = files[path] + f'\n#include "{include}"\n'
    assert any(path in v and include in v for v in violations(files))


def test_the_checker_catches_a_circle():
    files = sources()
    files["common/mix.h"] += '\n#include "common/internal.h"\n'
    files["common/internal.h"] += '\n#include "common/mix.h"\n'
    assert circles(files)


def test_docs_list_every_file():
    """docs/architecture.md's C tree names every file of csrc/src (a
    ``name.[ch]`` entry counts for both) and nothing that is not there."""
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## The C library", 1)[1]
    tree = section.split("```", 2)[1]
    named = set()
    for word in re.findall(r"[a-z0-9_]+\.(?:\[ch\]|[ch])(?![a-z0-9_])", tree):
        if word.endswith(".[ch]"):
            named.update({word[:-5] + ".c", word[:-5] + ".h"})
        else:
            named.add(word)
    named.discard("seqpacker.h")
    actual = {path.rpartition("/")[2] for path in sources()}
    assert named == actual
