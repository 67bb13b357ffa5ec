"""The asv benchmark suite of snnax_ref (see asv_bench/README.md).

Importing it changes nothing in the process: the allocator the benchmarks run
under is set by the scripts that run asv (asv_bench/allocator.py).
"""
