"""`snnax-ref`: the conformance suite's command line.

    snnax-ref conform [--impl module:attr] [--profile ci|thorough] [--report-dir DIR]
                      [--rows ROW ...] [--shrink-seconds S] [--seeds M] [--shard K/N]
                      [--junit-xml FILE] [--write-deviations FILE]
    snnax-ref merge   REPORT.json ... [--report-dir DIR] [--junit-xml FILE]
    snnax-ref mutate  [--profile ci|thorough] [--only NAME ...]
    snnax-ref check-nir FILE.nir [--dt DT] [--steps T] [--seed S] [--impl module:attr]

Beyond one machine: the work is a list of *units*, (row, seed slice) pairs,
numbered rows first (report order), then slices 0 .. M-1 (`--seeds M`).
Slice 0 is the profile's own seeding (the run without --seeds); slice s >= 1
seeds Hypothesis with SHA-256 of (row, s), so it tries other networks, the
same on every machine. `--shard K/N` runs the units numbered K-1 modulo N;
its JSON report lists them, and `merge` combines the N shard reports into
one, checking that they are compatible and together cover every unit once.
`conform` runs one pytest session per slice (spec_tests/conftest.py selects
the shard's tests and applies the seeds).

`conform` exits with
  0  every row tested conforms (known deviations allowed); the last line says
     on how many rows, and which were not applicable to the implementation,
  1  deviations: some row failed,
  2  the adapter cannot be imported or built (nothing was run),
  3  nothing was tested: every selected row was skipped or not applicable, no
     example ran, or fewer rows were checked than --require-rows asks,
  4  the run itself broke: a collection or usage error (e.g. an unknown
     --rows name), a test erroring outside its check, an interrupted run;
     for `merge`: unreadable, incompatible or incomplete shard reports.
`merge` exits with the same statuses (a shard's harness error 2 or 4 is
the merged report's).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import time
from pathlib import Path

from .. import compilation_cache, quick_compile
from ..adapters import DEFAULT_IMPL, ENV_VAR
from ..profiles import EXAMPLES
from . import report as reporting
from .jobs import Sessions, default_jobs, run_jobs
from .shards import parse_shard, slice_seed, units as all_units

CONFORM_HELP = """Run the conformance suite against one implementation and report.

Every row of the report is one property (one documented class alone, one
graph rule, one forward function, float32, the state as an input, the
gradients: `snnax-ref rows` lists them) checked on the networks Hypothesis
generates: the implementation's outputs at every step and its final states
must equal the NumPy oracle's. A row whose networks the implementation
declares it cannot build (its adapter's `supports`) is *not applicable*.

Prints a table (networks tried, passed, failed per row), each minimal failing
network as a replayable script, and writes reports/conformance-report.json and
.md. On a 2-core machine the ci profile takes about 2 minutes for snnax_ref
the first time, 30 seconds once JAX's compilation cache holds its networks.

exit status: 0 every row tested conforms (the last line says on how many
rows), 1 deviations, 2 the adapter cannot be loaded, 3 nothing (or less than
--require-rows) was tested, 4 the run broke (`snnax-ref --help` has more).
"""

# What shard reports must agree on to be merged.
SHARD_KEYS = ("impl", "suite_version", "profile", "selected_rows", "seeds", "shard_count",
              "row_order")

# The suite ships in the snnax_ref distribution and shares its version.
try:
    SUITE_VERSION = importlib.metadata.version("snnax_ref")
except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
    SUITE_VERSION = "unknown (not installed)"
EXIT_CONFORMS, EXIT_DEVIATIONS, EXIT_NO_ADAPTER, EXIT_NOTHING_TESTED, EXIT_BROKEN = range(5)
EXIT_MEANINGS = {
    EXIT_CONFORMS: "every row tested conforms",
    EXIT_DEVIATIONS: "deviations found",
    EXIT_NO_ADAPTER: "harness error: the adapter cannot be loaded",
    EXIT_NOTHING_TESTED: "harness error: nothing was tested",
    EXIT_BROKEN: "harness error: the run broke",
}


def _exit_code(pytest_code: int, rows, collection_errors,
               require_rows: int = 0) -> tuple[int, str]:
    """The exit status and, for a harness error, why."""
    if collection_errors:
        return EXIT_BROKEN, "collection errors:\n" + "\n".join(collection_errors)
    errored = [r.row for r in rows if r.outcome == reporting.ERROR]
    if errored:
        return EXIT_BROKEN, f"tests errored outside their checks in rows: {', '.join(errored)}"
    if pytest_code not in (0, 1, 5):
        return EXIT_BROKEN, f"pytest stopped with exit status {int(pytest_code)}"
    if any(r.outcome == reporting.FAILED for r in rows):
        return EXIT_DEVIATIONS, ""
    if pytest_code == 1:
        return EXIT_BROKEN, "pytest reported a failure outside the report's rows"
    ran = [r for r in rows if r.outcome == reporting.PASSED]
    if not rows:
        return EXIT_NOTHING_TESTED, "no row was collected"
    if not ran:
        return EXIT_NOTHING_TESTED, "every row was skipped: nothing was tested"
    if sum(r.tried for r in ran) == 0:
        return EXIT_NOTHING_TESTED, "no example was executed"
    if len(ran) < require_rows:
        return EXIT_NOTHING_TESTED, (f"{len(ran)} rows were checked, fewer than "
                                     f"--require-rows {require_rows}")
    return EXIT_CONFORMS, ""


def _write_reports(args, header, rows) -> list[Path]:
    written = list(reporting.write_reports(Path(args.report_dir), header, rows))
    if args.junit_xml:
        written.append(reporting.write_junit(Path(args.junit_xml), header, rows))
    if args.write_deviations:
        written.append(reporting.write_deviations(Path(args.write_deviations), header, rows))
    return written


def _conform(args) -> int:
    from ..adapters import ENV_VAR, chosen_impl, describe_load_error, load_adapter
    from ..profiles import PROFILE_ENV

    impl = chosen_impl(args.impl)
    os.environ[ENV_VAR] = impl
    # The adapter's module is found from where the command runs, as with
    # `python -m` and pytest (the console script alone would not look there).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    os.environ[PROFILE_ENV] = args.profile
    if not args.compilation_cache:
        compilation_cache.disable()
    cache = compilation_cache.enable()
    if not args.quick_compile:
        quick_compile.disable()
    quick = quick_compile.enable()
    header = {"impl": impl, "suite_version": SUITE_VERSION, "profile": args.profile,
              "selected_rows": args.rows or "all", "seeds": args.seeds,
              "shard": f"{args.shard[0]}/{args.shard[1]}", "shard_index": args.shard[0],
              "shard_count": args.shard[1], "quick_compile": list(quick)}
    if args.shrink_seconds is not None:
        header["shrink_seconds"] = args.shrink_seconds
    print(f"snnax-ref conform: impl = {impl}, profile = {args.profile}, compilation cache = "
          f"{cache or 'off'}, quick compile = {'on' if quick else 'off'}", flush=True)
    started = time.perf_counter()

    # Load the adapter once, up front: an adapter that cannot be imported or
    # built is a harness error, not a run of skips.
    try:
        adapter = load_adapter(impl)
    except Exception as error:  # noqa: BLE001 - any failure to load is reported
        return _harness_error(args, header, started, EXIT_NO_ADAPTER,
                              describe_load_error(impl, error))

    jobs = min(args.jobs, len(args.rows) * args.seeds) if args.rows else args.jobs
    if jobs > 1:
        print(f"{jobs} jobs (--jobs), each running one (row, slice) unit in {jobs}", flush=True)
        sessions = run_jobs(args, impl, jobs)
    else:
        sessions = _run_sessions(args, impl, adapter)
    if sessions.harness_error is not None:
        return _harness_error(args, header, started, *sessions.harness_error)
    k, n = args.shard
    units = {"row_order": sessions.row_order, "mine": sessions.units}
    elapsed = time.perf_counter() - started
    rows = reporting.combine_units(sessions.records, units["row_order"])
    codes, collection_errors = sessions.codes, sessions.collection_errors
    broken = [c for c in codes if c not in (0, 1, 5)]
    code = broken[0] if broken else 1 if 1 in codes else 5 if all(c == 5 for c in codes) else 0
    exit_code, problem = _exit_code(code, rows, collection_errors, args.require_rows)
    if exit_code == EXIT_NOTHING_TESTED and not units["mine"] and units["row_order"]:
        problem = (f"shard {k}/{n} has no units: there are only "
                   f"{len(units['row_order']) * args.seeds} (rows x seeds)")
    if sessions.shrink_seconds is not None:  # what conftest applied
        header["shrink_seconds"] = sessions.shrink_seconds
    never = sessions.never_exercised or []
    header.update(seconds=round(elapsed, 1), exit_code=exit_code,
                  status=EXIT_MEANINGS[exit_code], verdict=reporting.verdict(rows),
                  never_exercised=never)
    if problem:
        header["error"] = problem
    header.update(units=[list(u) for u in units["mine"]],
                  units_total=len(units["row_order"]) * args.seeds,
                  row_order=units["row_order"])

    print("\n" + reporting.table(rows))
    for stats in rows:
        if stats.outcome in (reporting.FAILED, reporting.ERROR):
            cut = " (shrinking cut short by the shrink budget)" if stats.shrink_cut_short else ""
            print(f"\n=== {stats.row}: minimal failing network{cut} ===\n{stats.message}\n")
            print(stats.repro)
            for title, other in reporting.distinct_failures(stats):
                print(f"\n=== {title} ===\n{other['message']}\n")
                print(other["repro"])
    if never and any(r.outcome == reporting.PASSED for r in rows):
        print(f"\nnever exercised by a checked run: {', '.join(never)}")
    written = _write_reports(args, header, rows)
    print(f"\nreports: {' '.join(map(str, written))} ({elapsed:.0f} s)")
    status = header["verdict"] if exit_code in (EXIT_CONFORMS, EXIT_DEVIATIONS) \
        else EXIT_MEANINGS[exit_code]
    print(f"snnax-ref conform: exit {exit_code}: {status}"
          + (f": {problem}" if problem else ""), file=sys.stderr if exit_code >= 2 else sys.stdout)
    return exit_code


def _run_sessions(args, impl, adapter) -> Sessions:
    """The run in this process: one pytest session per seed slice."""
    import pytest

    from ..adapters.support import never_exercised

    suite = Path(__file__).parents[1]
    k, n = args.shard
    sessions = Sessions()
    for slice_ in range(args.seeds):     # one session per seed slice
        replay = f" --seeds {args.seeds} --seed-slice {slice_}" if slice_ else ""
        recorder = reporting.RowRecorder(impl, adapter, replay)
        options = [f"--rows={name}" for name in args.rows or ()]
        if args.shrink_seconds is not None:
            options.append(f"--shrink-seconds={args.shrink_seconds}")
        code = pytest.main([str(suite / "test_conformance.py"), str(suite / "test_gradients.py"),
                            "-p", "no:cacheprovider", f"--impl={impl}", f"--profile={args.profile}",
                            f"--seeds={args.seeds}", f"--seed-slice={slice_}", f"--shard={k}/{n}",
                            "-v", "--tb=line", "-o", "console_output_style=count",
                            f"--rootdir={suite.parent}", *options], plugins=[recorder])
        session_rows = recorder.finish(suite.parent)
        sessions.codes.append(int(code))
        sessions.collection_errors += recorder.collection_errors
        config = recorder.config
        units = getattr(config, "snnax_units", None)
        if units:
            sessions.row_order, sessions.units = units["row_order"], units["mine"]
        if getattr(config, "snnax_shrink_seconds", None) is not None:
            sessions.shrink_seconds = config.snnax_shrink_seconds
        for stats in session_rows:
            seed = slice_seed(stats.row, slice_) if slice_ else None
            sessions.records.append(dict(reporting.unit_record(stats, slice_, seed),
                                         row=stats.row))
        if code not in (0, 1, 5) or sessions.collection_errors:
            break                           # a usage error, an interrupt: it would repeat
    sessions.never_exercised = never_exercised()
    return sessions


def _harness_error(args, header, started, exit_code, text) -> int:
    """Report a run that broke (adapter not loadable, a job that broke)."""
    print(f"snnax-ref conform: error: {text}", file=sys.stderr, flush=True)
    header.update(seconds=round(time.perf_counter() - started, 1), exit_code=exit_code,
                  status=EXIT_MEANINGS[exit_code], error=text)
    written = _write_reports(args, header, [])
    print(f"reports: {' '.join(map(str, written))}")
    return exit_code


def _merge(args) -> int:
    """Combine shard reports (see the module docstring and `report.combine_units`)."""
    import json

    started = time.perf_counter()
    payloads, problems = [], []
    for path in args.reports:
        try:
            payloads.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as error:
            problems.append(f"cannot read {path}: {error}")
    header = {"impl": None, "merged_from": [str(p) for p in args.reports]}
    rows, exit_code, problem = [], EXIT_BROKEN, ""
    if payloads:
        first = payloads[0]
        header = {key: first.get(key) for key in ("impl", "suite_version", "profile",
                                                  "selected_rows", "seeds", "shard_count")}
        header["merged_from"] = [str(p) for p in args.reports]
        # The quick-compile flags change no verdict (SPEC §8), so shards built with
        # and without them merge; the header says which shard compiled how.
        quick = [p.get("quick_compile") for p in payloads]
        header["quick_compile"] = (quick[0] if all(q == quick[0] for q in quick)
                                   else dict(zip(map(str, args.reports), quick)))
        harness = [(p.get("exit_code"), path, p.get("error", ""))
                   for path, p in zip(args.reports, payloads)
                   if p.get("exit_code") in (EXIT_NO_ADAPTER, EXIT_BROKEN)]
        for path, payload in zip(args.reports, payloads):
            if harness:       # a shard that broke has no row order: its error is the news
                break
            differing = [f"{key} {payload.get(key)!r} (vs {first.get(key)!r} in "
                         f"{args.reports[0]})" for key in SHARD_KEYS
                         if payload.get(key) != first.get(key)]
            if differing:
                problems.append(f"{path} is not a shard of the same run: "
                                + "; ".join(differing))
    if payloads and not problems:
        if harness:
            exit_code = min(code for code, _, _ in harness)
            problem = "\n".join(f"{path}: exit {code}: {error}" for code, path, error in harness)
        records = [record for p in payloads for record in reporting.rows_from_payload(p)]
        row_order = first.get("row_order") or []
        expected = all_units(row_order, first.get("seeds") or 1)
        ran = [(r, u) for p in payloads for r, u in (tuple(x) for x in p.get("units", ()))]
        seen = {}
        for unit in ran:
            seen[unit] = seen.get(unit, 0) + 1
        missing = [u for u in expected if u not in seen]
        doubled = [u for u in expected if seen.get(u, 0) > 1]
        unknown = [u for u in seen if u not in set(expected)]
        shards = sorted(p.get("shard_index") or 0 for p in payloads)
        if not harness and (missing or doubled or unknown):
            exit_code = EXIT_BROKEN
            text = lambda us: ", ".join(f"{r!r} slice {s}" for r, s in us)  # noqa: E731
            problem = "incomplete shards: " + "; ".join(filter(None, [
                f"shards given: {shards} of {first.get('shard_count')}",
                f"missing units: {text(missing)}" if missing else "",
                f"units run more than once: {text(doubled)}" if doubled else "",
                f"units not in the row order: {text(unknown)}" if unknown else ""]))
        rows = reporting.combine_units(records, row_order)
        if not problem:
            exit_code, problem = _exit_code(0, rows, [])
        header.update(units_total=len(expected), units_run=len(ran), row_order=row_order,
                      seconds=round(sum(p.get("seconds") or 0 for p in payloads), 1))
    else:
        problem = "\n".join(problems) or "no reports to merge"
    header.update(exit_code=exit_code, status=EXIT_MEANINGS[exit_code])
    if problem:
        header["error"] = problem
    print(reporting.table(rows))
    args.write_deviations = None
    written = _write_reports(args, header, rows)
    print(f"\nreports: {' '.join(map(str, written))} "
          f"({time.perf_counter() - started:.1f} s)")
    status = reporting.verdict(rows) if exit_code in (EXIT_CONFORMS, EXIT_DEVIATIONS) \
        else EXIT_MEANINGS[exit_code]
    print(f"snnax-ref merge: exit {exit_code}: {status}"
          + (f": {problem}" if problem else ""), file=sys.stderr if exit_code >= 2 else sys.stdout)
    return exit_code


def _shard(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _mutate(args) -> int:
    from .mutation import run_mutation_check
    compilation_cache.enable()
    quick_compile.enable()
    killed, total = run_mutation_check(args.profile, args.only)
    return 0 if killed == total else 1


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="snnax-ref", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    conform = commands.add_parser(
        "conform", help="run the conformance suite against an implementation and report",
        description=CONFORM_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    conform.add_argument(
        "--impl", default=None, metavar="MODULE:ATTR",
        help=f"the adapter of the implementation under test (default: ${ENV_VAR} if set, "
             f"else {DEFAULT_IMPL}, the reference itself). The module must be importable "
             "(on sys.path); the protocol is spec_tests.adapters.Adapter, the network "
             "description spec_tests.description.NetworkSpec, partial support "
             "spec_tests.adapters.support.Support")
    conform.add_argument(
        "--profile", default="ci", choices=["ci", "thorough"],
        help=f"Hypothesis profile: ci ({EXAMPLES['ci']} networks per row, derandomized: the "
             f"same networks every run; the default) or thorough ({EXAMPLES['thorough']} "
             "per row, random: new networks each run)")
    conform.add_argument(
        "--require-rows", type=int, default=0, metavar="N",
        help="a coverage floor: exit 3 unless at least N rows were checked (passed); "
             "default 0: any row checked is enough, and the last line says how many")
    conform.add_argument("--report-dir", default="reports",
                         help="where conformance-report.json and .md go (default reports)")
    conform.add_argument("--rows", nargs="+", action="extend", default=None, metavar="ROW",
                         help="run only these report rows, by name as in the table (repeatable) "
                              "(e.g. --rows LIF 'gradient: jvp')")
    conform.add_argument("--shrink-seconds", type=_positive, default=None, metavar="S",
                         help="stop shrinking a row's failure after about S seconds "
                              "(default per profile: ci 20, thorough 120)")
    conform.add_argument("--junit-xml", default=None, metavar="FILE",
                         help="also write a JUnit XML report, one testcase per row")
    conform.add_argument("--write-deviations", default=None, metavar="FILE",
                         help="write a known-deviations file listing the failed rows, "
                              "with TODO reasons to fill in")
    conform.add_argument("--seeds", type=_at_least_one, default=1, metavar="M",
                         help="run each row M times: slice 0 as without --seeds, slices "
                              "1 .. M-1 with seeds derived from (row, slice) (default 1)")
    conform.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                         help="run only shard K of N: the (row, slice) units numbered "
                              "K-1 modulo N (default 1/1); combine with `snnax-ref merge`")
    conform.add_argument("--jobs", type=_at_least_one, default=default_jobs(), metavar="J",
                         help="run in J processes, each taking every Jth (row, slice) unit; "
                              "the same networks, about 1/J of the time on J cores "
                              f"(default: the cores available, at most 8: {default_jobs()} "
                              "here)")
    conform.add_argument("--no-compilation-cache", dest="compilation_cache",
                         action="store_false",
                         help="compile every network anew instead of reusing JAX's persistent "
                              "compilation cache (default: on, in "
                              f"${compilation_cache.ENV_VAR} or ~/.cache/snnax_ref/jax; "
                              f"${compilation_cache.ENV_VAR}=off also turns it off)")
    conform.add_argument("--no-quick-compile", dest="quick_compile", action="store_false",
                         help="compile with XLA's default settings instead of the quicker "
                              "ones the suite adds to $XLA_FLAGS (spec_tests/quick_compile.py; "
                              f"${quick_compile.ENV_VAR}=off also turns them off)")
    merge = commands.add_parser(
        "merge", help="combine the JSON reports of `conform --shard K/N` runs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    merge.add_argument("reports", nargs="+", metavar="REPORT.json")
    merge.add_argument("--report-dir", default="reports",
                       help="where the merged conformance-report.json and .md go "
                            "(default reports)")
    merge.add_argument("--junit-xml", default=None, metavar="FILE",
                       help="also write a JUnit XML report, one testcase per row")
    commands.add_parser("rows", help="list the conformance rows, one line each, and exit",
                        description="The rows of `snnax-ref conform`'s report: what each "
                                    "generates and checks (run one with --rows NAME).")
    mutate = commands.add_parser("mutate", help="plant bugs in snnax_ref; are they caught?")
    mutate.add_argument("--profile", default="ci", choices=["ci", "thorough"])
    mutate.add_argument("--only", nargs="*", default=None, help="mutant names")
    check_nir = commands.add_parser(
        "check-nir", add_help=False,
        help="run a NIR file through the oracle, an adapter and snnax_ref.nir (SPEC.md §10); "
             "`snnax-ref check-nir --help` for its options")
    check_nir.add_argument("arguments", nargs=argparse.REMAINDER)
    # argparse leaves a REMAINDER's leading options (`check-nir --help`) unparsed.
    args, unparsed = parser.parse_known_args(argv)
    if unparsed and args.command != "check-nir":
        parser.error(f"unrecognized arguments: {' '.join(unparsed)}")
    if args.command == "check-nir":
        args.arguments = unparsed + args.arguments
    return {"conform": _conform, "merge": _merge, "mutate": _mutate, "rows": _rows,
            "check-nir": _check_nir}[args.command](args)


def _rows(args) -> int:
    from ..rows import ALL_ROWS, UNPARAMETRISED_ROWS
    names = list(ALL_ROWS) + [r for r in dict.fromkeys(UNPARAMETRISED_ROWS.values())
                              if r not in ALL_ROWS]
    width = max(map(len, names))
    for name in names:
        row = ALL_ROWS.get(name)
        described = row.describe() if row else "pinned gradient semantics (test_gradients.py)"
        print(f"{name:<{width}}  {described}")
    return 0


def _check_nir(args) -> int:
    from .nir_check import main as check_nir_main
    return check_nir_main(args.arguments)


if __name__ == "__main__":
    sys.exit(main())
