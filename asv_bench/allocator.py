"""Keep freed memory in the process, so timings measure work, not page faults.

XLA on the CPU allocates every temporary buffer of an executable afresh on
each call. glibc's malloc returns large blocks to the kernel when they are
freed (`mmap`/`munmap`, and heap trimming), so the next call touches new
pages: one page fault per 4 KiB. On a virtual machine a fault is expensive:
on the 2-core AMD EPYC machines this project runs on (Firecracker VMs) it
costs about 2.6 µs, and workload (a) at n = 512 faults about 29,000 times per
forward+backward call (115 MiB of temporaries): 120 ms per call with glibc's
defaults, 86 ms with the settings below, measured side by side. That is the
machine's cost, not snnax_ref's, and it varies from machine to machine far
more than anything the suite tracks.

`keep_freed_memory()` tells glibc, through `mallopt`, to serve every block
from one heap (`M_ARENA_MAX=1`, `M_MMAP_MAX=0`) and never to give freed
memory back (`M_TRIM_THRESHOLD`, `M_TOP_PAD`): after the first call the
buffers are reused and no page faults. It must run before JAX starts its
threads. It changes no value, applies to everything timed in the process
(the GEMM floor included, so ratios stay fair), and is what
`python -m asv_bench.peers` does unless told otherwise (`--system-allocator`,
or `SNNAX_BENCH_SYSTEM_ALLOCATOR=1`).

The same settings as environment variables (`ENVIRONMENT`), which glibc reads
when a process starts, are what the gate gives its worker processes and what
asv's benchmark processes inherit from the scripts that run asv (`ci.sh`,
`gpu.sh`, `history.sh`: `eval "$(python asv_bench/allocator.py)"` prints the
exports, or nothing under `SNNAX_BENCH_SYSTEM_ALLOCATOR=1`). Importing the
suite changes nothing. Users can get the same effect for their own programs
with `MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647
MALLOC_TOP_PAD_=268435456`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# mallopt parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4
M_ARENA_MAX = -8

SETTINGS = {M_ARENA_MAX: 1, M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1, M_TOP_PAD: 256 << 20}

# The same settings as environment variables, read by glibc when a process starts.
ENVIRONMENT = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0",
               "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1), "MALLOC_TOP_PAD_": str(256 << 20)}

_state = {"mode": "system"}


def system_allocator_asked() -> bool:
    return os.environ.get("SNNAX_BENCH_SYSTEM_ALLOCATOR") == "1"


def child_environment() -> dict:
    """The variables that give a new process the settings: `ENVIRONMENT`, or
    none under `SNNAX_BENCH_SYSTEM_ALLOCATOR=1`."""
    return {} if system_allocator_asked() else dict(ENVIRONMENT)


def keep_freed_memory() -> str:
    """Apply the settings above (once); returns the allocator mode now in
    force: "keep-freed" or "system" (not glibc, or switched off by
    `SNNAX_BENCH_SYSTEM_ALLOCATOR=1`)."""
    if _state["mode"] == "keep-freed" or system_allocator_asked():
        return _state["mode"]
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _state["mode"]   # not glibc: nothing to tell
    if all(mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items()):
        _state["mode"] = "keep-freed"
    return _state["mode"]


def mode() -> str:
    """The allocator mode of this process, for reports: "keep-freed" when
    `keep_freed_memory` or the environment variables above set it up."""
    if _state["mode"] == "system" and all(os.environ.get(k) == v for k, v in ENVIRONMENT.items()):
        return "keep-freed"
    return _state["mode"]


if __name__ == "__main__":
    # For the scripts: `eval "$(python asv_bench/allocator.py)"` before asv runs.
    for name, value in child_environment().items():
        print(f"export {name}={value}")
