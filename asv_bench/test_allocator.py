"""The benchmarks' allocator setting (asv_bench/allocator.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asv_bench import allocator

HERE = Path(__file__).resolve().parent


def _python(code, **environment):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **environment}, timeout=120, check=True,
                            cwd=HERE.parent)
    return result.stdout.split()


def test_importing_the_suite_leaves_the_allocator_and_the_environment_alone():
    code = ("import os, pkgutil, importlib, sys; before = dict(os.environ); "
            "import asv_bench.benchmarks as suite; "
            "[importlib.import_module(f'asv_bench.benchmarks.{m.name}') "
            " for m in pkgutil.iter_modules(suite.__path__)]; "
            "from asv_bench import allocator; "
            "print(dict(os.environ) == before, allocator._state['mode'])")
    assert _python(code) == ["True", "system"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_keep_freed_memory_applies_unless_told_not_to():
    """SNNAX_BENCH_SYSTEM_ALLOCATOR=1 leaves glibc's defaults, and the reported mode says which."""
    code = "from asv_bench import allocator; print(allocator.keep_freed_memory(), allocator.mode())"
    assert _python(code) == ["keep-freed", "keep-freed"]
    assert _python(code, SNNAX_BENCH_SYSTEM_ALLOCATOR="1") == ["system", "system"]


def test_the_scripts_export_what_a_process_then_reports_as_keeping_freed_memory():
    """`python asv_bench/allocator.py` prints the exports the scripts eval (none
    under SNNAX_BENCH_SYSTEM_ALLOCATOR=1); a process started with them (as asv's
    benchmark processes and the gate's workers are) reports keep-freed without
    calling mallopt."""
    script = [sys.executable, str(HERE / "allocator.py")]
    exports = subprocess.run(script, capture_output=True, text=True, check=True).stdout
    assert exports.splitlines() == [f"export {k}={v}" for k, v in allocator.ENVIRONMENT.items()]
    quiet = subprocess.run(script, capture_output=True, text=True, check=True,
                           env={**os.environ, "SNNAX_BENCH_SYSTEM_ALLOCATOR": "1"}).stdout
    assert quiet == ""
    code = ("import os; os.environ['SNNAX_BENCH_SYSTEM_ALLOCATOR'] = '1'; "
            "from asv_bench import allocator; print(allocator.mode())")
    assert _python(code, **allocator.ENVIRONMENT) == ["keep-freed"]
