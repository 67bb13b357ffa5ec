"""(a) The Open Neuromorphic SNN benchmark workload: Linear(n, n) then LIF.

Batch 16, T = 500 steps, random normal input scaled so that about 10 % of
the neurons spike per step (``track_spike_rate``). Forward and
forward+backward (gradient of the summed output spikes with respect to every
trainable parameter: the weights, the bias and the LIF decay constants).
The GEMM floor: one (B*T x n) @ (n x n) product forward, plus the weight
gradient's (n x B*T) @ (B*T x n) product for forward+backward.
"""

from . import common, workloads
from .suite import _Timed, _Tracked

_SIZES = common.sizes()
_PARAMS = [[common.DEVICE], _SIZES["linear_lif_n"], list(common.SCHEDULES),
           list(common.PASSES)]
_NAMES = ["device", "n", "schedule", "pass"]


class LinearLIF(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) of one batch."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, n, schedule):
        return workloads.linear_lif(n, schedule=schedule)


class LinearLIFTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate, XLA memory."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, n, schedule):
        return workloads.linear_lif(n, schedule=schedule)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0


class CheckpointMemory(_Timed):
    """Forward+backward of workload (a) over long sequences, with and without
    `checkpoint=True` (the scan rematerialised in chunks of about sqrt(T)
    steps): what checkpointing saves in peak memory (peakmem_) and costs in
    time (time_)."""

    params = [[common.DEVICE], [_SIZES["scaling_t_n"]], _SIZES["scaling_t"][-2:],
              list(common.SCHEDULES), [False, True], ["forward_backward"]]
    param_names = ["device", "n", "T", "schedule", "checkpoint", "pass"]
    version = "2"   # 2: checkpoint=True rematerialises sqrt(T)-step chunks, not single steps

    def build(self, n, steps, schedule, checkpoint):
        return workloads.linear_lif(n, steps=steps, schedule=schedule, checkpoint=checkpoint)


class CheckpointMemoryTrack(_Tracked):
    """XLA's planned memory (track_xla_memory) with and without checkpointing."""

    params = CheckpointMemory.params
    param_names = CheckpointMemory.param_names
    version = CheckpointMemory.version

    def build(self, n, steps, schedule, checkpoint):
        return workloads.linear_lif(n, steps=steps, schedule=schedule, checkpoint=checkpoint)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0
