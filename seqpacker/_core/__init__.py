"""The native layer: the bindings to the C library and the input rules.

Nothing here imports from the rest of the package (docs/architecture.md).
"""
