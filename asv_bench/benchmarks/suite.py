"""The base class of the suite's workloads (underscore name: asv does not collect it).

One class per workload: its ``params`` are ``device``, the workload's own axes
(``axes``) and ``pass``. Its ``setup_cache``, ``measure_all(builder)`` with a
builder of ``workloads.py`` (which gets the axes by name), measures every
parameter set once, in one process (compile seconds, median call time, the
GEMM floor measured in the same process, spike rate, XLA's planned memory),
and its methods report:

- ``time_sequence``: wall time of one call (one batch of ``B`` sequences of
  ``T`` steps); ``peakmem_sequence``: peak resident memory of the process
  (host memory; on a GPU see ``track_xla_memory``). Both compile the pass and
  run it once first, in their own asv ``setup`` (``_compile``), untimed.
- ``track_*``: the ``setup_cache`` measurement of their parameter set (no
  setup: nothing is compiled in their processes).
"""

from __future__ import annotations

import importlib
import itertools
import traceback
from typing import Callable, Dict, Tuple

from . import common

_KEYWORDS = {"T": "steps"}   # a parameter name -> its builder's keyword
_BUILD, _PASS = "builder", "compiled pass"   # cache keys that are not parameter sets


def _key(params) -> Tuple:
    return tuple(str(p) for p in params)


def _workload(build: Callable, names, params):
    """The workload of one parameter set: the parameters between device and pass, by name."""
    return build(**{_KEYWORDS.get(k, k): v for k, v in zip(names[1:-1], params[1:-1])})


def _compile(cache, *params):
    """The time_ and peakmem_ benchmarks' own setup (asv runs a method's `setup`
    attribute before it, with the benchmark's arguments but no `self`; the
    track_ benchmarks have none): build the workload, compile the pass and call
    it once. The pass goes into this process's copy of the cache, where the
    benchmark finds it."""
    cache.pop(_PASS, None)   # one compiled pass in memory at a time
    (module, name), names = cache[_BUILD]
    build = getattr(importlib.import_module(module), name)
    cache[_PASS] = _workload(build, names, params).prepare(params[-1])


def _track(name: str, unit: str, doc: str = "") -> Callable:
    def track(self, cache, *params):
        measured = cache[_key(params)]
        if measured.get("error"):
            raise RuntimeError(f"measuring {params} failed:\n{measured['error']}")
        return measured[name]

    track.unit, track.__doc__ = unit, doc
    return track


class _Workload:
    axes: Dict[str, list] = {}    # the parameters between device and pass
    passes = common.PASSES
    number = 1
    repeat = (1, 5, 20.0)    # min samples, max samples, max seconds
    rounds = 1
    warmup_time = 0.0        # warm-up happens in setup
    timeout = 900.0
    version = "1"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "setup_cache" not in vars(cls):
            raise TypeError(f"{cls.__name__}: define setup_cache in the class itself: asv keys "
                            "its cache by where it is defined, an inherited one is shared")
        cls.setup_cache.timeout = 1800.0
        cls.params = [[common.DEVICE], *map(list, cls.axes.values()), list(cls.passes)]
        cls.param_names = ["device", *cls.axes, "pass"]

    def measure_all(self, build: Callable) -> dict:
        """Every parameter set of the workloads `build` makes, measured once here
        (what setup_cache returns)."""
        # The builder by name: unpickling the cache in a track_ benchmark's process
        # then imports neither the workloads nor JAX.
        results = {_BUILD: ((build.__module__, build.__name__), self.param_names)}
        for params in itertools.product(*self.params):
            try:
                workload = _workload(build, self.param_names, params)
                m = results[_key(params)] = common.measure(workload, params[-1])
                print(f"{type(self).__name__}{params}: {m['seconds']:.4g} s, "
                      f"{m['floor_ratio']:.3g} x floor, spike rate {m['spike_rate']:.3f}")
            except Exception:  # noqa: BLE001 - reported by the track_ methods, per parameter set
                results[_key(params)] = dict(error=traceback.format_exc())
        return results

    def time_sequence(self, cache, *params):
        cache[_PASS].run()

    def peakmem_sequence(self, cache, *params):
        cache[_PASS].run()

    time_sequence.setup = peakmem_sequence.setup = _compile

    track_compile_seconds = _track("compile_seconds", "seconds")
    track_neuron_updates_per_second = _track("neuron_updates_per_second", "neuron updates/s")
    track_floor_ratio = _track("floor_ratio", "x GEMM floor", """\
        Median call time divided by the GEMM floor (1 = at the hardware).

        The floor is the summed time of the workload's matrix products
        (``Workload.gemms``), each timed with ``jnp.dot`` in the same process.
        """)
    track_spike_rate = _track("spike_rate", "spikes/neuron/step")
    track_xla_memory = _track("xla_memory", "bytes",
                              "XLA's planned memory: arguments + outputs + temporaries.")
    track_xla_memory_per_io_byte = _track("xla_memory_per_io_byte", "x argument+output bytes", """\
        XLA's planned memory over the call's own arguments and outputs (the
        weights, state, input sequences, spikes or gradients): 1 would mean no
        temporaries at all; what the scan keeps for the backward pass shows
        here, and ``checkpoint=True`` should bring it down.""")
