"""The asv benchmark suite of snnax_ref (see asv_bench/README.md)."""

from . import allocator

# Before JAX starts: timings measure work, not page faults (allocator.py).
allocator.keep_freed_memory()
