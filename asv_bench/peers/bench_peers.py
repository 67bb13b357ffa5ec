"""pytest-benchmark view of the peer comparison (workload (a)).

    pytest asv_bench/peers/bench_peers.py --benchmark-only
    SNNAX_PEERS_N=512,2048 SNNAX_PEERS_ROUNDS=5 pytest asv_bench/peers/bench_peers.py --benchmark-only

The file name does not match ``test_*.py`` so the ordinary test run does not
collect it. Tests run grouped by (n, pass) with the peers one after the other
inside each group (so every group's numbers come from the same stretch of
machine time); the float64 spike check runs once, before the first timing,
and a peer that fails it fails instead of being timed. The summary at the end
(conftest.py) prints medians, the ratio to snnax_ref and to the GEMM floor.
For round-by-round alternation use ``python -m asv_bench.peers``.
"""

import os

import pytest

from asv_bench.peers import harness, impls

NS = [int(v) for v in os.environ.get("SNNAX_PEERS_N", "512").split(",") if v]
ROUNDS = int(os.environ.get("SNNAX_PEERS_ROUNDS", "5"))
PASSES = ["forward", "forward_backward"]
FLOOR = "gemm-floor"
CASES = [(n, pass_, name) for n in NS for pass_ in PASSES
         for name in [p.name for p in impls.PEERS] + [FLOOR]]

_built = {}


@pytest.fixture(scope="session")
def spike_checks():
    peers = [p for p in impls.PEERS if p.unavailable() is None]
    return harness.check_peers(peers)


def _get(name, n):
    if (name, n) not in _built:
        for key in [k for k in _built if k[1] != n]:   # one width in memory at a time
            del _built[key]
        problem = impls.make_problem(n)
        if name == FLOOR:
            _built[(name, n)] = {p: harness._floor_runners(problem, p)[harness.FLOOR_JAX]
                                 for p in PASSES}
        else:
            built = impls.peer_by_name()[name].build(problem)
            _built[(name, n)] = dict(forward=built.forward,
                                     forward_backward=built.forward_backward,
                                     spike_rate=float(built.spikes().mean()))
    return _built[(name, n)]


@pytest.mark.parametrize("n,pass_,peer", CASES, ids=[f"n{n}-{p}-{name}" for n, p, name in CASES])
def test_peer(benchmark, spike_checks, n, pass_, peer):
    if peer != FLOOR:
        reason = impls.peer_by_name()[peer].unavailable()
        if reason:
            pytest.skip(reason)
        check = spike_checks[peer]
        assert check.ok, f"{peer} does not compute snnax_ref's spikes: {check.detail}"
    runners = _get(peer, n)
    benchmark.group = f"n={n} {pass_}"
    benchmark.extra_info.update(peer=peer, n=n, pass_=pass_,
                                spike_rate=runners.get("spike_rate"))
    benchmark.pedantic(runners[pass_], rounds=ROUNDS, iterations=1, warmup_rounds=1)
    name = harness.FLOOR_JAX if peer == FLOOR else peer
    harness.PYTEST_RESULTS.setdefault((n, pass_), {})[name] = (benchmark.stats.stats.median,
                                                               runners.get("spike_rate"))
