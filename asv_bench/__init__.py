"""Benchmarks of snnax_ref: the asv suite (benchmarks/) and the peer comparison (peers/)."""
