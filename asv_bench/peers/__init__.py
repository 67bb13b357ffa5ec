"""Workload (a) in snnax_ref and its peers, checked for equal spikes, then timed
side by side in one process: ``python -m asv_bench.peers`` (see harness.py)
or ``pytest asv_bench/peers/bench_peers.py --benchmark-only``."""
