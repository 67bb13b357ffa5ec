"""Prints the ratio table after ``pytest asv_bench/peers/bench_peers.py``."""

from asv_bench.peers import harness


def pytest_terminal_summary(terminalreporter):
    results = harness.PYTEST_RESULTS
    if not results:
        return
    rows = []
    for (n, pass_, peer), value in results.items():
        ref = results.get((n, pass_, "snnax_ref"), {}).get("median")
        floor = results.get((n, pass_, "gemm-floor"), {}).get("median")
        med = value["median"]
        rows.append(harness.Row(
            peer=peer, n=n, pass_=pass_, median_s=med, samples=[],
            ratio_to_snnax_ref=med / ref if ref else None,
            ratio_to_floor=med / floor if floor else None,
            neuron_updates_per_s=None if peer == "gemm-floor" else 16 * 500 * n / med,
            spike_rate=value.get("spike_rate")))
    terminalreporter.write_sep("=", "peers: medians and ratios (workload (a), B=16, T=500)")
    terminalreporter.write_line(harness.format_table(rows))
