"""(c) A fixed random recurrent graph with feedback edges and self-loops.

Four populations, each CompoundLayer(Linear, LIF) of ``hidden`` neurons,
wired by ``workloads.random_graph()`` (seeded: the same graph on every
machine and commit), run with the default straight-through forward function;
batch 16, T = 500. Both schedules (``common.SCHEDULES``) are measured.
"""

from . import common
from .suite import _Workload


class RecurrentGraph(_Workload):
    axes = dict(hidden=[common.sizes()["graph_hidden"]], schedule=common.SCHEDULES)
    version = "2"

    def setup_cache(self):
        from . import workloads

        return self.measure_all(workloads.recurrent_graph)
