"""`snnax-ref`: the conformance suite's command line.

    snnax-ref conform [--impl module:attr] [--profile ci|thorough] [--report-dir DIR]
    snnax-ref mutate  [--profile ci|thorough] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

SUITE_VERSION = "0.1.0"
UNPARAMETRISED_ROWS = {
    "test_float32_conforms": "float32",
    "test_surrogate_derivative_matches_its_formula": "gradient: surrogates",
    "test_burnin_gives_zero_gradient_before_burnin": "gradient: burn-in",
    "test_stop_reset_grad_changes_only_the_reset_path": "gradient: pinned semantics",
    "test_adaptive_lif_spike_term_is_stop_gradiented": "gradient: pinned semantics",
    "test_srm_refractory_input_is_stop_gradiented": "gradient: pinned semantics",
    "test_frozen_parameters_get_exactly_zero_gradient": "gradient: pinned semantics",
}


def _conform(args) -> int:
    import pytest

    from . import report as reporting
    from .adapters import DEFAULT_IMPL, ENV_VAR
    from .profiles import PROFILE_ENV

    impl = args.impl or os.environ.get(ENV_VAR) or DEFAULT_IMPL
    os.environ[ENV_VAR] = impl
    os.environ[PROFILE_ENV] = args.profile
    suite = Path(__file__).parent
    node_ids = {}

    class Collector:
        def pytest_collection_modifyitems(self, items):
            for item in items:
                callspec = getattr(item, "callspec", None)
                row = callspec.params.get("row") if callspec else None
                node_ids[item.nodeid] = (row.name if row is not None
                                         else UNPARAMETRISED_ROWS.get(item.originalname))

        def pytest_runtest_logreport(self, report):
            rep = report
            name = node_ids.get(rep.nodeid)
            if name is None:
                return
            stats = reporting.row(name)
            if rep.skipped:
                stats.outcome = "known deviation" if "known deviation" in str(
                    rep.longrepr) else "skipped"
                stats.message = str(rep.longrepr[-1]) if isinstance(rep.longrepr, tuple) else ""
            elif rep.when == "call":
                if name == "gradient: pinned semantics":  # one check per test
                    stats.tried += 1
                    stats.failed += rep.failed
                    if stats.outcome == "failed":
                        return
                stats.outcome = "passed" if rep.passed else "failed"
                if rep.failed and stats.failed == 0:
                    stats.failed = 1

    print(f"snnax-ref conform: impl = {impl}, profile = {args.profile}", flush=True)
    started = time.perf_counter()
    code = pytest.main([str(suite / "test_conformance.py"), str(suite / "test_gradients.py"),
                        "-p", "no:cacheprovider",
                        "-v", "--tb=line", "-o", "console_output_style=count",
                        f"--rootdir={suite.parent}"], plugins=[Collector()])
    elapsed = time.perf_counter() - started
    rows = list(reporting.ROWS.values())
    print("\n" + reporting.table(rows))
    for stats in rows:
        if stats.outcome == "failed":
            print(f"\n=== {stats.row}: minimal failing network ===\n{stats.message}\n")
            print(stats.repro)
    header = {"impl": impl, "suite_version": SUITE_VERSION, "profile": args.profile,
              "seconds": round(elapsed, 1)}
    json_path, md_path = reporting.write_reports(Path(args.report_dir), header, rows)
    print(f"\nreports: {json_path} {md_path} ({elapsed:.0f} s)")
    failed = any(r.outcome == "failed" for r in rows)
    return 1 if failed or code not in (0, 5) else 0


def _mutate(args) -> int:
    from .mutation import run_mutation_check
    killed, total = run_mutation_check(args.profile, args.only)
    return 0 if killed == total else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="snnax-ref", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    conform = commands.add_parser("conform", help="run the conformance suite and report")
    conform.add_argument("--impl", default=None, help="adapter as module:attr")
    conform.add_argument("--profile", default="ci", choices=["ci", "thorough"])
    conform.add_argument("--report-dir", default="reports")
    mutate = commands.add_parser("mutate", help="plant bugs in snnax_ref; are they caught?")
    mutate.add_argument("--profile", default="ci", choices=["ci", "thorough"])
    mutate.add_argument("--only", nargs="*", default=None, help="mutant names")
    args = parser.parse_args(argv)
    return {"conform": _conform, "mutate": _mutate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
