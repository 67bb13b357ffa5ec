"""Base classes of the asv suite (underscore names: asv does not collect them).

Every workload gets two classes with the same ``params``:

- a *timed* class (``time_sequence``, ``peakmem_sequence``): ``setup``
  builds the workload, compiles the pass and runs it once; the timed call
  blocks until the outputs are ready. ``time_`` is the wall time of one call
  (one batch of ``B`` sequences of ``T`` steps); ``peakmem_`` is the peak
  resident memory of the process (host memory; on a GPU see
  ``track_xla_memory``).
- a *tracked* class whose ``setup_cache`` measures every parameter
  combination once in one process (compile seconds, median call time, the
  GEMM floor measured in the same process, spike rate, XLA's planned memory)
  and whose ``track_`` methods report those numbers.

Parameters always start with ``device`` (``"<backend>:<device kind>"``) and
end with ``pass`` (``"forward"`` or ``"forward_backward"``).
"""

from __future__ import annotations

import itertools
import traceback
from typing import Dict, Tuple

from . import common


class _Timed:
    params: list = []
    param_names: list = []
    number = 1
    repeat = (1, 5, 20.0)    # min samples, max samples, max seconds
    rounds = 1
    warmup_time = 0.0        # warm-up happens in setup
    timeout = 900.0
    version = "1"

    def build(self, *workload_params):  # pragma: no cover - abstract
        raise NotImplementedError

    def setup(self, device, *rest):
        *workload_params, pass_ = rest
        self.prepared = self.build(*workload_params).prepare(pass_)

    def teardown(self, *params):
        self.prepared = None

    def time_sequence(self, *params):
        self.prepared.run()

    def peakmem_sequence(self, *params):
        self.prepared.run()


def _key(params) -> Tuple:
    return tuple(str(p) for p in params)


class _Tracked:
    params: list = []
    param_names: list = []
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 900.0
    version = "1"

    def build(self, *workload_params):  # pragma: no cover - abstract
        raise NotImplementedError

    def measure_all(self) -> Dict[Tuple, dict]:
        """Every parameter combination, measured once here (for setup_cache)."""
        results: Dict[Tuple, dict] = {}
        spike_rates: Dict[Tuple, float] = {}
        for params in itertools.product(*self.params):
            _, *workload_params, pass_ = params
            try:
                workload = self.build(*workload_params)
                m = common.measure(workload, pass_)
                results[_key(params)] = dict(
                    seconds=m.seconds, compile_seconds=m.compile_seconds,
                    neuron_updates_per_second=m.neuron_updates_per_second,
                    floor_seconds=m.floor_seconds, floor_ratio=m.floor_ratio,
                    spike_rate=spike_rates.setdefault(_key(workload_params), m.spike_rate),
                    xla_memory=m.xla_bytes, io_bytes=m.io_bytes, error=None)
                print(f"{type(self).__name__}{params}: {m.seconds:.4g} s, "
                      f"{m.floor_ratio:.3g} x floor, spike rate {m.spike_rate:.3f}")
            except Exception:  # noqa: BLE001 - reported by setup, per parameter
                results[_key(params)] = dict(error=traceback.format_exc())
        return results

    def setup(self, cache, *params):
        self.m = cache[_key(params)]
        if self.m.get("error"):
            raise RuntimeError(f"measuring {params} failed:\n{self.m['error']}")

    def track_compile_seconds(self, cache, *params):
        return self.m["compile_seconds"]
    track_compile_seconds.unit = "seconds"

    def track_neuron_updates_per_second(self, cache, *params):
        return self.m["neuron_updates_per_second"]
    track_neuron_updates_per_second.unit = "neuron updates/s"

    def track_floor_ratio(self, cache, *params):
        """Median call time divided by the GEMM floor (1 = at the hardware).

        The floor is the summed time of the workload's matrix products
        (``Workload.gemms``), each timed with ``jnp.dot`` in the same process.
        """
        return self.m["floor_ratio"]
    track_floor_ratio.unit = "x GEMM floor"

    def track_spike_rate(self, cache, *params):
        return self.m["spike_rate"]
    track_spike_rate.unit = "spikes/neuron/step"

    def track_xla_memory(self, cache, *params):
        """XLA's planned memory: arguments + outputs + temporaries."""
        return self.m["xla_memory"]
    track_xla_memory.unit = "bytes"

    def track_xla_memory_per_io_byte(self, cache, *params):
        """XLA's planned memory over the call's own arguments and outputs (the
        weights, state, input sequences, spikes or gradients): 1 would mean no
        temporaries at all; what the scan keeps for the backward pass shows
        here, and ``checkpoint=True`` should bring it down."""
        if not self.m.get("xla_memory") or not self.m.get("io_bytes"):
            return None
        return self.m["xla_memory"] / self.m["io_bytes"]
    track_xla_memory_per_io_byte.unit = "x argument+output bytes"
