"""The benchmarks' allocator setting (asv_bench/benchmarks/allocator.py)."""

import os
import subprocess
import sys

import pytest

REPORT = ("from asv_bench.benchmarks import allocator; "
          "print(allocator.keep_freed_memory(), allocator.mode())")


def _mode_in_a_fresh_process(**environment):
    result = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True,
                            env={**os.environ, **environment}, timeout=120, check=True)
    return result.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_benchmark_processes_keep_freed_memory_unless_told_not_to():
    """Importing the suite applies the setting; SNNAX_BENCH_SYSTEM_ALLOCATOR=1
    leaves glibc's defaults, and the reported mode says which."""
    assert _mode_in_a_fresh_process() == ["keep-freed", "keep-freed"]
    assert _mode_in_a_fresh_process(SNNAX_BENCH_SYSTEM_ALLOCATOR="1") == ["system", "system"]


def test_the_environment_variables_are_reported_as_keeping_freed_memory():
    """A process started with allocator.ENVIRONMENT (as the gate starts its
    workers) reports keep-freed without calling mallopt."""
    from asv_bench.benchmarks import allocator
    code = ("import os; os.environ['SNNAX_BENCH_SYSTEM_ALLOCATOR'] = '1'; "
            "from asv_bench.benchmarks import allocator; print(allocator.mode())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **allocator.ENVIRONMENT}, timeout=120, check=True)
    assert result.stdout.split() == ["keep-freed"]
