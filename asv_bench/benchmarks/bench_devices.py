"""(e) Data-parallel throughput against the number of devices.

The training loss of ``examples/data_parallel.py`` (the random-manifold SNN of
``examples/train_random_manifolds.py``: Linear -> LIF -> Linear -> SimpleLI
with a feedback edge, T = 50, 20 inputs, 64 hidden), forward and backward
(``loss_and_grads``: value and gradient with respect to every parameter),
with a fixed global batch split over a ``"batch"`` mesh of 1, 2 and 4 devices
(the parameters replicated). ``track_samples_per_second`` is the batch over
the median call time; ``track_speedup`` divides it by the 1-device figure of
the same ``setup_cache`` run.

JAX fixes its device count when it starts, so every device count is measured
in its own child process: on a CPU backend the child gets
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (N forced host devices
sharing the machine's cores: on a machine with fewer cores than devices this
measures the cost of splitting the batch, not the gain of real devices); on
an accelerator it uses the first N real devices and skips a count the
machine does not have. A smoke run (``SNNAX_BENCH_SMALL=1``) measures 1 and 2
devices (the smallest counts that still split the batch) at a smaller batch,
one timed call each.

``python -m asv_bench.benchmarks.bench_devices`` prints the table without asv.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

from . import common

_ROOT = pathlib.Path(__file__).resolve().parents[2]
_EXAMPLE = _ROOT / "examples" / "data_parallel.py"
_FORCE_FLAG = "--xla_force_host_platform_device_count"
# A smoke run keeps 1 and 2: the smallest counts that still split the batch.
_DEVICE_COUNTS = [1, 2] if common.SMOKE else [1, 2, 4]
_CHILD_TIMEOUT = 300.0


def _sizes():
    if common.SMOKE:
        return dict(batch=16, hidden=32)
    return dict(batch=256 if common.ACCEL else 64, hidden=64)


# --------------------------------------------------------------------------
# The child: one device count, measured in a fresh JAX
# --------------------------------------------------------------------------

def _measure_here(devices: int, batch: int, hidden: int) -> dict:
    """Compile and time the sharded loss+gradient in this process (the child)."""
    import jax

    if jax.device_count() < devices:
        return dict(skip=f"{devices} devices asked, {jax.device_count()} "
                         f"{jax.default_backend()} devices here")
    spec = importlib.util.spec_from_file_location("data_parallel", _EXAMPLE)
    dp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dp)

    mesh = dp.make_mesh(devices)
    model, states, x, y = dp.build(hidden=hidden, per_class=-(-batch // 10), seed=0)
    rows = dp.process_rows(mesh, batch, "x")
    sx, sy = dp.shard_batch(mesh, x[:batch][rows], "x"), dp.shard_batch(mesh, y[:batch][rows], "y")
    m, s = dp.replicate(mesh, model), dp.replicate(mesh, states)

    def call():
        return common.block(dp.loss_and_grads(m, s, sx, sy))

    compile_start = time.perf_counter()
    call()                                   # compiles
    compile_seconds = time.perf_counter() - compile_start
    if common.SMOKE:
        times = common.wall_times(call, min_runs=1, min_seconds=0.0, warmup=1)
    else:
        times = common.wall_times(call, min_runs=5, max_runs=50, min_seconds=2.0, warmup=2)
    seconds = common.median(times)
    return dict(device=common.device_id(), devices=devices, batch=batch, hidden=hidden,
                seconds=seconds, samples_per_second=batch / seconds,
                compile_seconds=compile_seconds, samples=times)


def _snnax_ref_origin() -> str | None:
    """Where `import snnax_ref` finds the package in this process, without importing it."""
    spec = importlib.util.find_spec("snnax_ref")
    return None if spec is None else str(pathlib.Path(spec.origin).resolve())


def _child_main(argv) -> None:
    if argv == ["where"]:
        print(json.dumps(dict(asv_bench=str(pathlib.Path(__file__).resolve()),
                              snnax_ref=_snnax_ref_origin())))
        return
    devices, batch, hidden = (int(a) for a in argv)
    print(json.dumps(dict(_measure_here(devices, batch, hidden), snnax_ref=_snnax_ref_origin())))


# The child loads this checkout's asv_bench by its path, then imports snnax_ref
# from where the suite's process finds it: under history.sh that is the
# commit's tree, which asv puts on the suite's sys.path (not in the
# environment a child inherits); the checkout's, or an installed one, would be
# another commit's code.
_CHILD_CODE = (
    "import importlib.util, sys; root, package_root = sys.argv[1:3]; "
    "spec = importlib.util.spec_from_file_location('asv_bench', root + '/asv_bench/__init__.py', "
    "submodule_search_locations=[root + '/asv_bench']); "
    "package = importlib.util.module_from_spec(spec); sys.modules['asv_bench'] = package; "
    "spec.loader.exec_module(package); "
    "sys.path[:0] = [package_root] if package_root else []; "
    "from asv_bench.benchmarks import bench_devices; bench_devices._child_main(sys.argv[3:])"
)


def child_command(*args, snnax_ref_origin: str | None = None) -> list:
    """The child process's command line: `args` go to `_child_main`; the child
    imports the snnax_ref package whose `__init__.py` is `snnax_ref_origin`
    (default: the one this process would import)."""
    origin = snnax_ref_origin or _snnax_ref_origin()
    package_root = str(pathlib.Path(origin).parent.parent) if origin else ""
    return [sys.executable, "-c", _CHILD_CODE, str(_ROOT), package_root, *map(str, args)]


def measure(devices: int, batch: int, hidden: int) -> dict:
    """Measure one device count in a child process (its last stdout line is the result)."""
    env = dict(os.environ)
    if not common.ACCEL:
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(_FORCE_FLAG)]
        env["XLA_FLAGS"] = " ".join(flags + [f"{_FORCE_FLAG}={devices}"])
    proc = subprocess.run(child_command(devices, batch, hidden), env=env, capture_output=True,
                          text=True, timeout=_CHILD_TIMEOUT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return dict(error=f"child for {devices} devices exited {proc.returncode}:\n"
                          f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    result = json.loads(lines[-1])
    if "skip" not in result and result["device"] != common.DEVICE:
        return dict(error=f"the child ran on {result['device']!r}, the suite on {common.DEVICE!r}")
    if result["snnax_ref"] != _snnax_ref_origin():
        return dict(error=f"the child imported snnax_ref from {result['snnax_ref']}, the suite "
                          f"from {_snnax_ref_origin()}")
    return result


def measure_all(device_counts=None, batch=None, hidden=None) -> dict:
    """Every device count (default: the suite's), one child process each."""
    sizes = _sizes()
    batch, hidden = batch or sizes["batch"], hidden or sizes["hidden"]
    results = {}
    for devices in device_counts or _DEVICE_COUNTS:
        results[str(devices)] = r = measure(devices, batch, hidden)
        if "samples_per_second" in r:
            print(f"DataParallel devices={devices}: {r['samples_per_second']:.1f} samples/s "
                  f"({1e3 * r['seconds']:.2f} ms per batch of {r['batch']}), "
                  f"compile {r['compile_seconds']:.1f} s", flush=True)
    return results


# --------------------------------------------------------------------------
# The asv class
# --------------------------------------------------------------------------

class DataParallel:
    """Samples/s of the training loss's forward+backward against the device count."""

    params = [[common.DEVICE], list(_DEVICE_COUNTS), ["forward_backward"]]
    param_names = ["device", "devices", "pass"]
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 600.0
    version = "1"

    def setup_cache(self):
        return measure_all()
    setup_cache.timeout = 3 * _CHILD_TIMEOUT + 60.0

    def setup(self, cache, device, devices, pass_):
        self.m = cache[str(devices)]
        if "skip" in self.m:
            raise NotImplementedError(self.m["skip"])     # asv: skipped, not failed
        if "error" in self.m:
            raise RuntimeError(self.m["error"])
        self.one = cache[str(_DEVICE_COUNTS[0])]

    def track_samples_per_second(self, cache, device, devices, pass_):
        return self.m["samples_per_second"]
    track_samples_per_second.unit = "samples/s"

    def track_speedup(self, cache, device, devices, pass_):
        """Samples/s over the 1-device samples/s (both from the same setup_cache run)."""
        return self.m["samples_per_second"] / self.one["samples_per_second"]
    track_speedup.unit = "x one device"

    def track_compile_seconds(self, cache, device, devices, pass_):
        return self.m["compile_seconds"]
    track_compile_seconds.unit = "seconds"


def _print_table(table) -> None:
    first = next(iter(table.values())).get("samples_per_second")
    print("| devices | ms per batch | samples/s | x first row | compile s |")
    print("|---|---|---|---|---|")
    for n, r in table.items():
        if "samples_per_second" not in r:
            print(f"| {n} | {r.get('skip') or r.get('error', '').splitlines()[0]} | | | |")
            continue
        print(f"| {n} | {1e3 * r['seconds']:.2f} | {r['samples_per_second']:.1f} | "
              f"{r['samples_per_second'] / first:.2f} | {r['compile_seconds']:.1f} |")


if __name__ == "__main__":
    # python -m asv_bench.benchmarks.bench_devices [--devices 1 2 4] [--batch B]: the table
    import argparse

    parser = argparse.ArgumentParser(description="data-parallel throughput, without asv")
    parser.add_argument("--devices", type=int, nargs="+", default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=None)
    args = parser.parse_args()
    from asv_bench import allocator   # the children keep freed memory, as under asv_bench's scripts
    os.environ.update(allocator.child_environment())
    _print_table(measure_all(args.devices, args.batch, args.hidden))
