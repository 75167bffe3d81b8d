"""asv benchmarks of seqpacker (see ../README.md)."""
