"""`snnax-ref conform --jobs J`: one run split over J processes.

A run's work is a list of (row, seed slice) units (`shards.py`); shard K of N
split J ways is the shards K + N*i of N*J, i = 0 .. J-1, each run by a child
`snnax-ref conform --jobs 1` into its own report directory. The children's
unit records are combined as `merge` combines shard reports. Hypothesis draws
a row's networks from the row alone (ci profile) or from its own random seed
(thorough), never from the process it runs in, so a row tries the same
networks whatever J is.

The suite's time is nearly all compiling (SPEC.md §8 "Speed"), and one
process keeps only part of a machine busy; how much J processes gain depends
on how many cores a single one already uses (two jobs on a 2-core VM, where
one process kept about 1.3 cores busy: 1.2x).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import report as reporting

# Beyond a few processes the run is bounded by its slowest rows, and each
# process holds its own JAX and compiled programs (several hundred MB).
MAX_DEFAULT_JOBS = 8
RESULT_WORDS = (" PASSED", " FAILED", " SKIPPED", " ERROR", " XFAIL", " XPASS")


def default_jobs() -> int:
    """The cores this process may use, at most MAX_DEFAULT_JOBS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_JOBS))


@dataclass
class Sessions:
    """What the pytest sessions of a run (in this process or in children) found."""
    records: list = field(default_factory=list)      # unit records, with "row"
    row_order: list = field(default_factory=list)
    units: list = field(default_factory=list)        # the (row, slice) units run
    codes: list = field(default_factory=list)        # pytest exit statuses
    collection_errors: list = field(default_factory=list)
    shrink_seconds: float | None = None
    never_exercised: list | None = None
    harness_error: tuple | None = None               # (exit code, text) of a broken child


def child_command(args, impl: str, shard: str, report_dir: Path) -> list[str]:
    """The `snnax-ref conform` command line of one job."""
    command = [sys.executable, "-m", "spec_tests.tools.cli", "conform", "--jobs", "1",
               "--impl", impl, "--profile", args.profile, "--seeds", str(args.seeds),
               "--shard", shard, "--report-dir", str(report_dir)]
    if args.rows:
        command += ["--rows", *args.rows]
    if args.shrink_seconds is not None:
        command += ["--shrink-seconds", str(args.shrink_seconds)]
    if not args.compilation_cache:
        command.append("--no-compilation-cache")
    if not args.quick_compile:
        command.append("--no-quick-compile")
    return command


def _follow(process, label: str, log_path: Path) -> None:
    """Copy a child's output to its log; echo its per-test result lines."""
    with open(log_path, "w") as log:
        for line in process.stdout:
            log.write(line)
            if "::" in line and any(word in line for word in RESULT_WORDS):
                print(f"{label} {line.rstrip()}", flush=True)


def run_jobs(args, impl: str, jobs: int) -> Sessions:
    """Run the selected units in `jobs` child processes and combine their reports."""
    k, n = args.shard
    suite_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    # The children import this same suite, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [suite_root, env.get("PYTHONPATH")]))
    sessions = Sessions()
    with tempfile.TemporaryDirectory(prefix="snnax-ref-jobs-") as tmp:
        children = []
        for i in range(jobs):
            report_dir = Path(tmp) / f"job-{i + 1}"
            command = child_command(args, impl, f"{k + n * i}/{n * jobs}", report_dir)
            process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, env=env)
            log = Path(tmp) / f"job-{i + 1}.log"
            follower = threading.Thread(target=_follow, daemon=True,
                                        args=(process, f"[job {i + 1}/{jobs}]", log))
            follower.start()
            children.append((process, follower, report_dir, log))
        payloads = []
        for process, follower, report_dir, log in children:
            process.wait()
            follower.join()
            try:
                payload = json.loads((report_dir / "conformance-report.json").read_text())
            except (OSError, ValueError):
                payload = {"exit_code": 4, "error": f"a job wrote no report (exit "
                                                    f"{process.returncode})"}
            if payload.get("exit_code") in (2, 4) and sessions.harness_error is None:
                tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
                sessions.harness_error = (payload["exit_code"],
                                          f"{payload.get('error', '')}\n{tail}")
            payloads.append(payload)
    ran = [p for p in payloads if p.get("units")]   # a job that ran no unit exercised nothing
    for payload in payloads:
        sessions.records += reporting.rows_from_payload(payload)
        sessions.units += [tuple(u) for u in payload.get("units", ())]
        sessions.row_order = sessions.row_order or payload.get("row_order") or []
        if payload.get("shrink_seconds") is not None:
            sessions.shrink_seconds = payload["shrink_seconds"]
        if payload.get("units"):
            never = set(payload.get("never_exercised") or ())
            sessions.never_exercised = (never if sessions.never_exercised is None
                                        else sessions.never_exercised & never)
        sessions.codes.append({0: 0, 1: 1, 3: 5}.get(payload.get("exit_code"), 0))
    if sessions.never_exercised is not None:
        order = [name for p in ran for name in p.get("never_exercised") or ()]
        sessions.never_exercised = [name for name in dict.fromkeys(order)
                                    if name in sessions.never_exercised]
    return sessions
