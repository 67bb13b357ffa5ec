"""(b) A small convolutional SNN on 2 x 32 x 32 event frames.

Conv2d(2, 16, 3, stride 2) + LIF, Conv2d(16, 32, 3, stride 2) + LIF, Flatten,
Linear(2048, 10), LIF; batch 16; each input pixel fires with its own rate.
The GEMM floor counts each convolution as its im2col product.
Both schedules (``common.SCHEDULES``) are measured.
"""

from . import common, workloads
from .suite import _Timed, _Tracked

_SIZES = common.sizes()
_PARAMS = [[common.DEVICE], [_SIZES["conv_steps"]], list(common.SCHEDULES),
           list(common.PASSES)]
_NAMES = ["device", "T", "schedule", "pass"]


class ConvSNN(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) of one batch."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, steps, schedule):
        return workloads.conv_snn(steps=steps, schedule=schedule)


class ConvSNNTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate, XLA memory."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, steps, schedule):
        return workloads.conv_snn(steps=steps, schedule=schedule)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0
