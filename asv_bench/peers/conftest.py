"""Prints the ratio table after ``pytest asv_bench/peers/bench_peers.py``."""

from asv_bench.peers import harness


def pytest_terminal_summary(terminalreporter):
    rows = []
    for (n, pass_), results in harness.PYTEST_RESULTS.items():
        medians = {peer: median for peer, (median, _) in results.items()}
        spike_rates = {peer: rate for peer, (_, rate) in results.items() if rate is not None}
        rows += harness.ratio_rows(n, pass_, medians, spike_rates, updates=16 * 500 * n)
    if rows:
        terminalreporter.write_sep("=", "peers: medians and ratios (workload (a), B=16, T=500)")
        terminalreporter.write_line(harness.format_table(rows))
