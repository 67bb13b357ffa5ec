"""(b) A small convolutional SNN on 2 x 32 x 32 event frames.

Conv2d(2, 16, 3, stride 2) + LIF, Conv2d(16, 32, 3, stride 2) + LIF, Flatten,
Linear(2048, 10), LIF; batch 16; each input pixel fires with its own rate.
The GEMM floor counts each convolution as its im2col product.
Both schedules (``common.SCHEDULES``) are measured.
"""

from . import common
from .suite import _Workload


class ConvSNN(_Workload):
    axes = dict(T=[common.sizes()["conv_steps"]], schedule=common.SCHEDULES)
    version = "2"

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.conv_snn)
