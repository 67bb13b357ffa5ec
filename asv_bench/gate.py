"""``python -m asv_bench.gate BASE HEAD``: a regression gate on the floor ratio.

asv tracks every commit, but each number comes from its own process at its
own moment; on a shared machine two such numbers differ by more than a real
regression. The gate instead measures both commits side by side, in one run:

1. each of BASE and HEAD (git revisions, or folders holding a source tree) is
   exported into a scratch folder; snnax_ref is pure Python, so the folder on
   ``sys.path`` is the install;
2. one worker process per commit builds workload (a), ``Linear(n, n)`` + LIF,
   batch 16, T = 500, float32, as the asv suite defines it
   (``benchmarks/workloads.py``, documented API only, so any commit can be
   measured) with that commit's snnax_ref, compiles the forward+backward
   pass (gradient of the summed spikes with respect to every parameter),
   checks its spikes against the other commit's, and waits;
3. in every round each worker in turn (the order alternating) times a few
   calls of the pass and of its two GEMMs (the floor,
   ``workloads.linear_lif_floor``: ``(B·T × n) @ (n × n)`` and the weight
   gradient's ``(n × B·T) @ (B·T × n)``), interleaved, and
   reports the round's *floor ratio*, median pass time / median floor time.
   The idle worker blocks on its input, so the two never run at once;
4. the slowdown is the median over rounds of HEAD's ratio / BASE's ratio. The gate
   fails (exit 1) when it exceeds ``--factor`` (default 1.15).

Dividing by the floor measured in the same process, seconds apart, takes out
most of what a shared machine does to absolute times. ``--repeat R`` runs
the whole comparison R times (fresh workers) and fails if any repeat does:
what ``asv_bench/README.md`` reports as the false-alarm rate is BASE = HEAD
repeated.

Exit status: 0 within the factor, 1 slower, 2 a commit that cannot be
exported or measured (the message says which and why), 3 the two commits
compute different spikes (then timing them against each other means nothing;
``--allow-different-spikes`` times them anyway).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_FACTOR = 1.15


class GateError(Exception):
    """A commit that cannot be exported, imported or measured."""


# ---------------------------------------------------------------------------
# The worker: one commit's snnax_ref, workload (a), timed on request.
# ---------------------------------------------------------------------------

def _worker(tree: str, n: int, batch: int, steps: int, schedule: Optional[str],
            calls: int) -> None:
    # The tree under test provides snnax_ref; this checkout's suite (asv_bench/
    # benchmarks, imported as asv imports it) provides workload (a) and its floor.
    sys.path[:0] = [tree, str(HERE)]
    import jax
    import numpy as np
    from benchmarks import common, workloads

    import snnax_ref

    if not Path(snnax_ref.__file__).resolve().is_relative_to(Path(tree).resolve()):
        raise GateError(f"snnax_ref imported from {snnax_ref.__file__}, not from {tree}")

    workload = workloads.linear_lif(n, batch, steps,
                                    **({} if schedule is None else {"schedule": schedule}))
    forward_backward = workload.prepare("forward_backward").run   # compiled, warmed up
    floor = common.gemm_runner(workload.gemms("forward_backward"))
    floor()
    forward, forward_args = workload.forward_fn()
    out = np.asarray(jax.jit(forward)(*forward_args)[0])

    def timed(fn):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    digest = {"spikes_sum": float(out.sum()), "spikes_first": out.reshape(-1)[:64].tolist(),
              "spike_rate": float(out.mean())}
    print(json.dumps({"ready": True, "snnax_ref": snnax_ref.__file__, **digest}), flush=True)
    for line in sys.stdin:
        if line.strip() != "measure":
            break
        model_times, floor_times = [], []
        for _ in range(calls):
            model_times.append(timed(forward_backward))
            floor_times.append(timed(floor))
        print(json.dumps({"model": model_times, "floor": floor_times}), flush=True)


# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------

def export_tree(revision: str, into: Path) -> Path:
    """A folder holding `revision`'s source: the folder itself, or `git archive`."""
    candidate = Path(revision)
    if candidate.is_dir():
        if not (candidate / "snnax_ref" / "__init__.py").is_file():
            raise GateError(f"{revision}: a folder without snnax_ref/__init__.py")
        return candidate.resolve()
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                             capture_output=True)
    if archive.returncode != 0:
        raise GateError(f"{revision}: not a git revision of {REPO}: "
                        f"{archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    if not (into / "snnax_ref" / "__init__.py").is_file():
        raise GateError(f"{revision}: its tree has no snnax_ref package")
    return into


@dataclass
class Worker:
    label: str
    process: subprocess.Popen
    ready: dict
    ratios: List[float] = field(default_factory=list)

    def measure(self) -> None:
        self.process.stdin.write("measure\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise GateError(f"{self.label}: worker stopped: {self.process.stderr.read()[-2000:]}")
        times = json.loads(line)
        # The fastest call of each: on a shared machine, interference only ever
        # adds time, so the minimum is the least disturbed measurement.
        self.ratios.append(min(times["model"]) / min(times["floor"]))

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_worker(label: str, tree: Path, args) -> Worker:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(tree),
               "--n", str(args.n), "--batch", str(args.batch), "--steps", str(args.steps),
               "--calls", str(args.calls)]
    if args.schedule:
        command += ["--schedule", args.schedule]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not args.system_allocator:
        from asv_bench import allocator
        environment.update(allocator.ENVIRONMENT)   # both workers alike: allocator.py
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir(),
                               env=environment)
    line = process.stdout.readline()
    if not line:
        raise GateError(f"{label}: the worker failed to start:\n{process.stderr.read()[-3000:]}")
    return Worker(label, process, json.loads(line))


@dataclass
class Comparison:
    base: List[float]
    head: List[float]
    spike_rate: float

    @property
    def slowdown(self) -> float:
        """Median over rounds of HEAD's ratio / BASE's ratio in the same round:
        paired, so that what the machine does over the run cancels."""
        return statistics.median(h / b for h, b in zip(self.head, self.base))


def compare(base_tree: Path, head_tree: Path, args, echo=print) -> Comparison:
    workers = []
    try:
        # Start both before timing either: their compilations overlap.
        workers = [start_worker("BASE", base_tree, args), start_worker("HEAD", head_tree, args)]
        base, head = workers
        if (base.ready["spikes_first"] != head.ready["spikes_first"]
                or base.ready["spikes_sum"] != head.ready["spikes_sum"]):
            message = (f"BASE and HEAD compute different spikes (sum {base.ready['spikes_sum']} "
                       f"vs {head.ready['spikes_sum']})")
            if not args.allow_different_spikes:
                raise SpikesDiffer(message)
            echo(f"warning: {message}; timed anyway")
        for round_ in range(args.rounds):
            for worker in (workers if round_ % 2 == 0 else workers[::-1]):
                worker.measure()
        return Comparison(base.ratios, head.ratios, base.ready["spike_rate"])
    finally:
        for worker in workers:
            worker.close()


class SpikesDiffer(Exception):
    pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asv_bench.gate",
        description="Fail when HEAD's forward+backward floor ratio on workload (a) is more "
                    "than FACTOR times BASE's, both measured side by side in this run.")
    parser.add_argument("base", nargs="?", help="git revision or source folder of the baseline")
    parser.add_argument("head", nargs="?", help="git revision or source folder to check")
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                        help=f"largest accepted slowdown (default {DEFAULT_FACTOR})")
    parser.add_argument("--n", type=int, default=512, help="layer width (default 512)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--schedule", default=None,
                        help="StatefulModel schedule (default: the model's default)")
    parser.add_argument("--rounds", type=int, default=9,
                        help="alternating rounds per comparison (default 9)")
    parser.add_argument("--calls", type=int, default=3,
                        help="timed calls of the pass and of the floor per round (default 3)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the whole comparison this many times; fail if any fails")
    parser.add_argument("--allow-different-spikes", action="store_true")
    parser.add_argument("--json", default=None, help="write every repeat's ratios here")
    parser.add_argument("--system-allocator", action="store_true",
                        help="leave the workers' malloc as it is (by default it keeps freed "
                             "memory, so page faults are not timed: "
                             "asv_bench/allocator.py)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.n, args.batch, args.steps, args.schedule, args.calls)
        return 0
    if args.base is None or args.head is None:
        parser.error("BASE and HEAD are required")
    from asv_bench import machine   # the driver's import; workers have no repo
    print(f"gate: workload (a) n={args.n} B={args.batch} T={args.steps} forward+backward, "
          f"float32; factor {args.factor}; {args.rounds} rounds x {args.calls} calls; "
          f"processor: {machine.processor()}, {os.cpu_count()} cpus; allocator: "
          f"{'system' if args.system_allocator else 'keep-freed'}")
    scratch = Path(tempfile.mkdtemp(prefix="snnax-gate-"))
    results = []
    try:
        try:
            base_tree = export_tree(args.base, scratch / "base")
            head_tree = export_tree(args.head, scratch / "head")
        except GateError as error:
            print(f"gate: error: {error}", file=sys.stderr)
            return 2
        alarms = 0
        for repeat in range(args.repeat):
            try:
                comparison = compare(base_tree, head_tree, args)
            except SpikesDiffer as error:
                print(f"gate: {error}", file=sys.stderr)
                return 3
            except GateError as error:
                print(f"gate: error: {error}", file=sys.stderr)
                return 2
            slower = comparison.slowdown > args.factor
            alarms += slower
            results.append({"base_ratios": comparison.base, "head_ratios": comparison.head,
                            "slowdown": comparison.slowdown, "alarm": slower})
            print(f"gate: repeat {repeat + 1}/{args.repeat}: floor ratio BASE "
                  f"{statistics.median(comparison.base):.3f}, HEAD "
                  f"{statistics.median(comparison.head):.3f}: HEAD/BASE "
                  f"{comparison.slowdown:.3f} -> {'SLOWER' if slower else 'ok'} "
                  f"(spike rate {comparison.spike_rate:.3f})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"base": args.base, "head": args.head, "factor": args.factor, "n": args.n,
                 "processor": machine.processor(), "repeats": results}, indent=2))
    print(f"gate: {alarms} of {args.repeat} repeat(s) over the factor {args.factor}")
    return 1 if alarms else 0


if __name__ == "__main__":
    if "--worker" in sys.argv:
        # Run as a script by the driver: keep this checkout off sys.path, so
        # that only the tree under test provides snnax_ref.
        sys.path = [p for p in sys.path if Path(p or ".").resolve() not in (HERE, REPO)]
    sys.exit(main())
