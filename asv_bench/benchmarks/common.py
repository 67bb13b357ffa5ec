"""Shared pieces of the benchmark suite: device identity, sizes, timing, the GEMM floor.

Nothing here is a benchmark (asv only collects names starting with
``time_``/``peakmem_``/``track_`` and skips names starting with ``_``), so
every module of the suite and the peer harness (``asv_bench.peers``) can
import it.

Conventions used by every benchmark:

- ``DEVICE`` is the first parameter of every benchmark: ``"<backend>:<device
  kind>"`` as JAX reports it (``"cpu:cpu"``, ``"gpu:NVIDIA H100 80GB HBM3"``),
  so a CPU and a GPU result are never the same series on a graph.
- A *pass* is ``"forward"`` (the outputs of the whole sequence) or
  ``"forward_backward"`` (the value and the gradient of a scalar loss, the sum
  of the outputs, with respect to every trainable parameter).
- Compilation and one warm-up call happen before anything is timed, and every
  timed call ends with ``jax.block_until_ready``.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

# A smoke run (CI, SNNAX_BENCH_SMALL=1): every benchmark runs once at toy sizes,
# to prove that it works; forward+backward only (it runs the forward too).
SMOKE = os.environ.get("SNNAX_BENCH_SMALL", "") not in ("", "0")
PASSES = ("forward_backward",) if SMOKE else ("forward", "forward_backward")
# snnax_ref's two ways to run a model (SPEC.md §4.6): "graph", the default graph
# schedule (stateless layers outside cycles run for all T steps at once), and
# "step", the step-by-step scan of default_forward_fn.
SCHEDULES = ("graph", "step")

GemmShape = Tuple[int, int, int]  # (m, k, n): an (m x k) @ (k x n) product


# --------------------------------------------------------------------------
# Device identity and sizes
# --------------------------------------------------------------------------

def device_id() -> str:
    """``"<backend>:<device kind>"`` of JAX's default device."""
    import jax

    device = jax.devices()[0]
    return f"{jax.default_backend()}:{device.device_kind}"


# The scripts that run asv (ci.sh, history.sh) export DEVICE_ENV = device_id() once:
# a track_ benchmark's process only reads setup_cache's numbers, and without JAX
# to import it starts in about half the time. Unset, JAX says.
DEVICE_ENV = "SNNAX_BENCH_DEVICE"
DEVICE = os.environ.get(DEVICE_ENV) or device_id()
ACCEL = DEVICE.split(":")[0] in ("gpu", "cuda", "rocm", "tpu")
# The sequence length of the Open Neuromorphic workload (a).
STEPS = 500


def sizes() -> Dict[str, object]:
    """The problem sizes of the suite for the current backend.

    CPU sizes keep a quick run of the whole suite to a few minutes on two
    cores; accelerator sizes reach the Open Neuromorphic benchmark's n = 16384.
    ``SNNAX_BENCH_SMALL=1`` (``SMOKE``) keeps only the smallest size of each
    list and shrinks the fixed sizes (a smoke run: every benchmark still runs,
    and the ``track_`` measurements take one sample each).
    """
    if ACCEL:
        table = dict(
            linear_lif_n=[512, 2048, 4096, 8192, 16384],
            scaling_t=[50, 200, 500, 1000, 2000],
            scaling_t_n=4096,
            scaling_n=[256, 1024, 4096, 16384],
            conv_steps=500,
            graph_hidden=1024,
            floor_n=[1024, 4096, 8192],
        )
    else:
        table = dict(
            linear_lif_n=[512, 2048, 4096],
            scaling_t=[50, 200, 500, 2000],
            scaling_t_n=512,
            scaling_n=[64, 256, 1024],
            conv_steps=100,
            graph_hidden=256,
            floor_n=[512, 2048],
        )
    if SMOKE:
        table = {k: (v[:1] if isinstance(v, list) else v) for k, v in table.items()}
        table.update(conv_steps=10, graph_hidden=64, scaling_t_n=128)
    return table


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def block(tree):
    import jax

    return jax.block_until_ready(tree)


def wall_times(call: Callable[[], object], *, min_runs: int = 3, max_runs: int = 20,
               min_seconds: float = 1.0, warmup: int = 1) -> List[float]:
    """Wall-clock seconds of ``call()`` (which must block until done).

    ``warmup`` untimed calls first; then at least ``min_runs`` timed calls,
    more until ``min_seconds`` have been spent, at most ``max_runs``.
    """
    for _ in range(warmup):
        call()
    times: List[float] = []
    spent = 0.0
    while len(times) < min_runs or (spent < min_seconds and len(times) < max_runs):
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# --------------------------------------------------------------------------
# The GEMM floor
# --------------------------------------------------------------------------

_GEMM_CACHE: Dict[Tuple[GemmShape, str], float] = {}


def gemm_runner(gemms: Sequence[GemmShape], dtype="float32") -> Callable[[], object]:
    """One call that computes every product of ``gemms`` (compiled once), to be
    timed side by side with the workload it is the floor of."""
    import jax
    import jax.numpy as jnp

    operands = []
    for index, (m, k, n) in enumerate(gemms):
        ka, kb = jax.random.split(jax.random.PRNGKey(1234 + index))
        operands.append((jax.random.normal(ka, (m, k), dtype), jax.random.normal(kb, (k, n), dtype)))
    products = jax.jit(lambda pairs: [jnp.dot(a, b) for a, b in pairs]).lower(operands).compile()
    return lambda: block(products(operands))


def gemm_seconds(shape: GemmShape, dtype="float32") -> float:
    """Median seconds of one ``(m x k) @ (k x n)`` product with ``jnp.dot`` here.

    Measured once per shape and process (and cached): the machine's own
    matmul rate, at the exact shape a workload needs.
    """
    cache_key = (tuple(shape), np.dtype(dtype).name)
    if cache_key not in _GEMM_CACHE:
        times = wall_times(gemm_runner([shape], dtype), min_runs=1 if SMOKE else 3,
                           min_seconds=0.0 if SMOKE else 0.5)
        _GEMM_CACHE[cache_key] = median(times)
    return _GEMM_CACHE[cache_key]


def floor_seconds(gemms: Sequence[GemmShape], dtype="float32") -> float:
    """The matmul floor of a workload: the summed time of its products."""
    return float(sum(gemm_seconds(shape, dtype) for shape in gemms))


def gemm_flops(gemms: Sequence[GemmShape]) -> float:
    return float(sum(2.0 * m * k * n for m, k, n in gemms))


# --------------------------------------------------------------------------
# A compiled workload, ready to time
# --------------------------------------------------------------------------

@dataclass
class Prepared:
    """One pass of one workload, compiled and warmed up."""

    run: Callable[[], object]          # one call, blocks until done
    compile_seconds: float
    xla_bytes: Optional[int]           # XLA's planned memory (args + outputs + temps)
    io_bytes: Optional[int] = None     # of which arguments + outputs


def _memory_bytes(compiled) -> Tuple[Optional[int], Optional[int]]:
    """XLA's planned bytes of one call (arguments + outputs + temporaries, less
    what outputs alias), and of its arguments and outputs alone."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - some backends have none
        return None, None
    if stats is None:
        return None, None

    def size(name):
        return int(getattr(stats, name, 0) or 0)

    io = size("argument_size_in_bytes") + size("output_size_in_bytes") - size("alias_size_in_bytes")
    return io + size("temp_size_in_bytes"), io


def prepare(fn: Callable, *args, warmup: int = 1) -> Prepared:
    """Compile ``jax.jit(fn)`` for ``args`` (timed), then warm it up."""
    import jax

    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0

    def run():
        return block(compiled(*args))

    for _ in range(warmup):
        run()
    xla_bytes, io_bytes = _memory_bytes(compiled)
    return Prepared(run=run, compile_seconds=compile_s, xla_bytes=xla_bytes, io_bytes=io_bytes)


def measure(workload, pass_: str, *, min_runs: int = 3, min_seconds: float = 1.0) -> dict:
    """Compile, warm up and time one pass of a workload; compare with its floor.
    What the ``track_`` benchmarks report, as a plain (picklable) dict."""
    if SMOKE:
        min_runs, min_seconds = 1, 0.0
    prepared = workload.prepare(pass_)
    times = wall_times(prepared.run, warmup=0, min_runs=min_runs, min_seconds=min_seconds)
    seconds = median(times)
    floor = floor_seconds(workload.gemms(pass_), workload.dtype)
    xla, io = prepared.xla_bytes, prepared.io_bytes
    return dict(
        seconds=seconds,
        compile_seconds=prepared.compile_seconds,
        neuron_updates_per_second=workload.neuron_updates / seconds,
        floor_seconds=floor,
        floor_ratio=seconds / floor if floor > 0 else float("nan"),
        spike_rate=float(workload.spike_rate()),
        xla_memory=xla,
        # XLA's planned bytes over the call's own arguments and outputs.
        xla_memory_per_io_byte=xla / io if xla and io else None,
    )
