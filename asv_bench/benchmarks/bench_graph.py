"""(c) A fixed random recurrent graph with feedback edges and self-loops.

Four populations, each CompoundLayer(Linear, LIF) of ``hidden`` neurons,
wired by ``workloads.random_graph()`` (seeded: the same graph on every
machine and commit), run with the default straight-through forward function;
batch 16, T = 500.
Both schedules (``common.SCHEDULES``) are measured.
"""

from . import common, workloads
from .suite import _Timed, _Tracked

_SIZES = common.sizes()
_PARAMS = [[common.DEVICE], [_SIZES["graph_hidden"]], list(common.SCHEDULES),
           list(common.PASSES)]
_NAMES = ["device", "hidden", "schedule", "pass"]


class RecurrentGraph(_Timed):
    """Wall time (time_) and peak host memory (peakmem_) of one batch."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, hidden, schedule):
        return workloads.recurrent_graph(hidden, schedule=schedule)


class RecurrentGraphTrack(_Tracked):
    """Compile seconds, neuron updates/s, GEMM floor ratio, spike rate, XLA memory."""

    params = _PARAMS
    param_names = _NAMES
    version = "2"

    def build(self, hidden, schedule):
        return workloads.recurrent_graph(hidden, schedule=schedule)

    def setup_cache(self):
        return self.measure_all()
    setup_cache.timeout = 1800.0
