"""The training layer below ``torch_utils`` and ``hf_utils``: token buffers,
the packed layout, batch checks, Arrow rows and chunked files.

These import ``_core`` and the packing modules, never an optional dependency
at import time (docs/architecture.md).
"""
