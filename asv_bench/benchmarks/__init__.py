"""The asv benchmark suite of snnax_ref (see asv_bench/README.md)."""
