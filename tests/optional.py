"""Optional dependencies of the tests: skip without them, unless required.

``optional_import("torch")`` returns the module, or skips the calling test
module with the reason; ``require_distribution`` does the same for an
installed distribution (the example plugin). CI sets
``SEQPACKER_REQUIRE_OPTIONAL`` to a comma-separated list
(``torch,transformers,datasets,...``); a listed one that is missing then
fails the run instead of skipping.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

REQUIRED = {name.strip() for name in os.environ.get("SEQPACKER_REQUIRE_OPTIONAL", "").split(",")
            if name.strip()}
EXTRA = {"torch": "torch", "transformers": "hf", "datasets": "hf", "pyarrow": "hf", "ray": "ray",
         "pyspark": "spark"}


def optional_import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        if name in REQUIRED:
            pytest.fail(f"{name} is required by SEQPACKER_REQUIRE_OPTIONAL but cannot be "
                        f"imported: {error}", pytrace=False)
        install = f"'seqpacker[{EXTRA[name]}]'" if name in EXTRA else name
        pytest.skip(f"{name} is not installed (pip install {install})", allow_module_level=True)


def require_distribution(dist: str) -> str:
    """The installed version of the distribution ``dist``; skips the calling
    test module without it, or fails when ``SEQPACKER_REQUIRE_OPTIONAL``
    lists it."""
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        hint = f"pip install ./plugins/{dist}"
        if dist in REQUIRED:
            pytest.fail(f"{dist} is required by SEQPACKER_REQUIRE_OPTIONAL but not installed "
                        f"({hint})", pytrace=False)
        pytest.skip(f"{dist} is not installed ({hint})", allow_module_level=True)


def import_error_without(missing: str, module: str, cwd) -> str:
    """What importing ``module`` says when ``missing`` cannot be imported
    (run in a fresh interpreter, in ``cwd``, so the installed package loads)."""
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=cwd, check=True)
    return out.stdout
