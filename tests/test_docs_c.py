"""docs/c-api.md shows the C example that meson builds and CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_c_api_page_shows_the_built_example_verbatim():
    page = (ROOT / "docs" / "c-api.md").read_text(encoding="utf-8")
    example = (ROOT / "csrc" / "examples" / "pack_lengths.c").read_text(encoding="utf-8")
    blocks = re.findall(r"```c\n(.*?)```", page, flags=re.S)
    assert blocks == [example]


def test_c_api_page_output_is_what_ci_compares():
    page = (ROOT / "docs" / "c-api.md").read_text(encoding="utf-8")
    (output,) = re.findall(r"```text\n(.*?)```", page, flags=re.S)
    assert output.splitlines()[0].startswith("seqpacker ")
    assert "bin 1 (used 900): 1 7" in output
