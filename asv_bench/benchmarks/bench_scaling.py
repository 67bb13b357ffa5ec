"""(d) Scaling of the Linear(n, n) + LIF workload in T and in n (batch 16).

``ScalingT``: T from 50 to 2000 at a fixed n; ``ScalingN``: n over a range
at T = 500. Their compile seconds show how compilation grows (it should not
grow with T: the steps are a ``lax.scan``).
"""

from . import common
from .suite import _Workload

_SIZES = common.sizes()


class ScalingT(_Workload):
    axes = dict(n=[_SIZES["scaling_t_n"]], T=_SIZES["scaling_t"])

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.linear_lif)


class ScalingN(_Workload):
    axes = dict(n=_SIZES["scaling_n"], T=[common.STEPS])

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.linear_lif)
