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
_PARAMS = [[common.DEVICE], _SIZES["linear_lif_n"], list(common.PASSES)]
_NAMES = ["device", "n", "pass"]


class LinearLIF(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) of one batch."""

    params = _PARAMS
    param_names = _NAMES

    def build(self, n):
        return workloads.linear_lif(n)


class LinearLIFTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate, XLA memory."""

    params = _PARAMS
    param_names = _NAMES

    def build(self, n):
        return workloads.linear_lif(n)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0
