"""(d) Scaling of the Linear(n, n) + LIF workload in T and in n (batch 16).

``ScalingT``: T from 50 to 2000 at a fixed n; ``ScalingN``: n over a range
at T = 500. Compile seconds in the Track classes show how compilation grows
(it should not grow with T: the steps are a ``lax.scan``).
"""

from . import common, workloads
from .suite import _Timed, _Tracked

_SIZES = common.sizes()
_T_PARAMS = [[common.DEVICE], [_SIZES["scaling_t_n"]], _SIZES["scaling_t"], list(common.PASSES)]
_T_NAMES = ["device", "n", "T", "pass"]
_N_PARAMS = [[common.DEVICE], _SIZES["scaling_n"], [workloads.STEPS], list(common.PASSES)]
_N_NAMES = ["device", "n", "T", "pass"]


class ScalingT(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) against T."""

    params = _T_PARAMS
    param_names = _T_NAMES

    def build(self, n, steps):
        return workloads.linear_lif(n, steps=steps)


class ScalingTTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate against T."""

    params = _T_PARAMS
    param_names = _T_NAMES

    def build(self, n, steps):
        return workloads.linear_lif(n, steps=steps)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0


class ScalingN(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) against n."""

    params = _N_PARAMS
    param_names = _N_NAMES

    def build(self, n, steps):
        return workloads.linear_lif(n, steps=steps)


class ScalingNTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate against n."""

    params = _N_PARAMS
    param_names = _N_NAMES

    def build(self, n, steps):
        return workloads.linear_lif(n, steps=steps)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0
