"""Sharded packing below ``distributed``, ``ray`` and ``spark``: the packing
of shards, the stages over Arrow tables, and the content order.

These import ``_core``, the packing modules and ``_training``; none imports
the public modules above them (docs/architecture.md).
"""
