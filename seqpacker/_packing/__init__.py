"""The parts that ``Packer`` composes: group expansion, pack counts, plugin
calls and entry-point discovery.

These import ``_core``, ``result`` and ``registry`` only (docs/architecture.md).
"""
