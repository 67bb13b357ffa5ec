"""(a) The Open Neuromorphic SNN benchmark workload: Linear(n, n) then LIF.

Batch 16, T = 500 steps, random normal input scaled so that about 10 % of
the neurons spike per step (``track_spike_rate``). Forward and
forward+backward (gradient of the summed output spikes with respect to every
trainable parameter: the weights, the bias and the LIF decay constants).
The GEMM floor (``workloads.linear_lif_floor``): one (B*T x n) @ (n x n)
product forward, plus the weight gradient's (n x B*T) @ (B*T x n) product for
forward+backward.
"""

from . import common
from .suite import _Workload

_SIZES = common.sizes()


class LinearLIF(_Workload):
    axes = dict(n=_SIZES["linear_lif_n"], schedule=common.SCHEDULES)
    version = "2"

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.linear_lif)


class CheckpointMemory(_Workload):
    """Forward+backward of workload (a) over long sequences, with and without
    `checkpoint=True` (the scan rematerialised in chunks of about sqrt(T)
    steps): what checkpointing saves in peak memory (peakmem_, and XLA's plan:
    track_xla_memory) and costs in time (time_)."""

    axes = dict(n=[_SIZES["scaling_t_n"]], T=_SIZES["scaling_t"][-2:],
                schedule=common.SCHEDULES, checkpoint=[False, True])
    passes = ["forward_backward"]
    version = "2"   # 2: checkpoint=True rematerialises sqrt(T)-step chunks, not single steps

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.linear_lif)
