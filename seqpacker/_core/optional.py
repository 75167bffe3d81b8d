"""Imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib


def import_optional(module: str, extra: str, user: str):
    """Import ``module`` for ``user`` (a seqpacker module), or raise an
    ImportError that says which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{user} needs {module}, which is not installed: pip install 'seqpacker[{extra}]'"
        ) from error
