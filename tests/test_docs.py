"""Every Python example in README.md and docs/*.md runs, and its asserts hold.

A ```python block runs as a script in a fresh namespace (with the working
directory set to a temporary folder), or as a doctest when it holds ``>>>``
prompts. New pages under docs/ are picked up without editing this file.
"""

import doctest
import re
from pathlib import Path

import pytest

from optional import optional_import
from seqpacker import registry

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def code_blocks(page, language):
    text = page.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        if match[1] == language:
            line = text.count("\n", 0, match.start()) + 2  # first line of code
            yield line, match[2]


EXAMPLES = [
    pytest.param(page, line, code, id=f"{page.relative_to(ROOT)}:{line}")
    for page in PAGES
    for line, code in code_blocks(page, "python")
]


def test_there_are_examples_to_run():
    pages = {page.name for page, _, _ in (param.values for param in EXAMPLES)}
    assert {"README.md", "api.md", "strategies.md", "index.md"} <= pages


#: Modules an example may import only when they are installed (see optional.py).
OPTIONAL = {"torch": "torch", "seqpacker.torch_utils": "torch", "transformers": "transformers",
            "datasets": "datasets", "seqpacker.hf_utils": "datasets", "pyarrow": "pyarrow",
            "ray": "ray", "seqpacker.ray": "ray",
            "pyspark": "pyspark", "seqpacker.spark": "pyspark", "trl": "trl"}


@pytest.mark.parametrize("page, line, code", EXAMPLES)
def test_example_runs(page, line, code, tmp_path, monkeypatch):
    for module, needs in OPTIONAL.items():
        if re.search(rf"^\s*(>>> )?(from|import) {re.escape(module)}\b", code, re.MULTILINE):
            optional_import(needs)
    monkeypatch.chdir(tmp_path)
    # A strategy an example registers lasts for its run only.
    monkeypatch.setattr(registry, "_registered", list(registry._registered))
    name = f"{page.relative_to(ROOT)}:{line}"
    if re.search(r"^\s*>>> ", code, re.MULTILINE):
        test = doctest.DocTestParser().get_doctest(code, {}, name, str(page), line - 1)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0
    else:
        # Pad with blank lines so that a traceback gives the page's line number.
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), {"__name__": "__doc_example__"})


def test_readme_opens_with_the_install_and_test_commands():
    blocks = [code.strip() for _, code in code_blocks(ROOT / "README.md", "bash")]
    assert blocks[:2] == ['pip install . && seqpacker',
                          'pip install ".[test]" ./plugins/seqpacker-balanced && pytest']
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("pip install . && seqpacker") < readme.index("## ")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_point_to_existing_files(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
