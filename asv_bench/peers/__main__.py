"""``python -m asv_bench.peers``: the peer comparison table of workload (a)."""

import argparse
import os
import sys

from .. import allocator
from . import harness, impls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asv_bench.peers",
        description="Workload (a), Linear(n, n) + LIF, batch 16: snnax_ref and its peers, "
                    "spike-checked, then timed in alternating rounds in this process.")
    parser.add_argument("--n", type=int, nargs="+", default=[512, 2048],
                        help="layer widths (default: 512 2048; the issue's CPU table adds 4096)")
    parser.add_argument("--passes", nargs="+", default=["forward", "forward_backward"],
                        choices=["forward", "forward_backward"])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--steps", type=int, default=500, help="T (default 500)")
    parser.add_argument("--batch", type=int, default=16, help="B (default 16)")
    parser.add_argument("--peers", nargs="+", default=None,
                        choices=[p.name for p in impls.PEERS],
                        help="peers to run (default: every one that is installed)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--slow-limit", type=float, default=30.0,
                        help="a peer whose warm-up call takes longer (seconds) is timed by "
                             "that one call only (default 30)")
    parser.add_argument("--check-only", action="store_true",
                        help="only run the float64 spike check")
    parser.add_argument("--system-allocator", action="store_true",
                        help="leave glibc's malloc as it is (by default freed memory is kept, "
                             "so page faults are not timed: asv_bench/allocator.py)")
    args = parser.parse_args(argv)
    if args.system_allocator:
        os.environ["SNNAX_BENCH_SYSTEM_ALLOCATOR"] = "1"
    allocator.keep_freed_memory()   # before JAX starts
    if args.check_only:
        peers, _ = harness.available(args.peers)
        return 0 if all(c.ok for c in harness.report_checks(peers).values()) else 1
    harness.run(args.n, args.passes, args.rounds, args.peers, args.batch, args.steps,
                args.json, args.slow_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
