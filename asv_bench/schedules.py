"""``python -m asv_bench.schedules``: snnax_ref's graph schedule against its
step-by-step scan, side by side in one process, on workloads (a), (b), (c).

The asv suite tracks both schedules across commits (the ``schedule``
parameter of ``LinearLIF``, ``ConvSNN`` and ``RecurrentGraph``), but asv runs
every benchmark in its own process, at its own moment; on a shared machine a
ratio of two such numbers is mostly noise. This command builds each workload
twice (same weights, same input; only ``StatefulModel(schedule=...)``
differs), checks that both give the same spikes, then times the two and the
workload's GEMM floor in alternating rounds (``peers.harness.alternate``) and
prints the medians and their ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List

import numpy as np

WORKLOADS = ("a", "b", "c")


def _builders(args) -> Dict[str, Callable]:
    from asv_bench.benchmarks import workloads

    builders = {}
    for n in args.n:
        builders[f"(a) LinearLIF n={n}"] = (
            lambda schedule, n=n: workloads.linear_lif(n, steps=args.steps, schedule=schedule))
    builders[f"(b) ConvSNN T={args.conv_steps}"] = (
        lambda schedule: workloads.conv_snn(steps=args.conv_steps, schedule=schedule))
    builders[f"(c) RecurrentGraph hidden={args.hidden}"] = (
        lambda schedule: workloads.recurrent_graph(args.hidden, steps=args.steps,
                                                   schedule=schedule))
    wanted = set(args.workloads)
    return {name: build for name, build in builders.items() if name[1] in wanted}


def _spikes(workload) -> List[np.ndarray]:
    import jax

    forward, call_args = workload.forward_fn()
    return [np.asarray(out) for out in jax.jit(forward)(*call_args)]


def compare(name: str, build: Callable, passes, rounds: int, echo=print) -> List[dict]:
    from asv_bench.benchmarks import common
    from asv_bench.peers.harness import alternate

    graph, step = build("graph"), build("step")
    assert graph.model.uses_graph_schedule and not step.model.uses_graph_schedule
    graph_out, step_out = _spikes(graph), _spikes(step)
    differing = sum(int(np.sum(g != s)) for g, s in zip(graph_out, step_out))
    total = sum(g.size for g in graph_out)
    echo(f"{name}: {differing} of {total} output values differ between the schedules "
         f"(float32; the same computation in another order)")
    if differing > 0.01 * total:
        raise SystemExit(f"{name}: the two schedules disagree on {differing} of {total} "
                         "outputs; run the conformance suite (snnax-ref conform) first.")
    rows = []
    for pass_ in passes:
        runners = {"graph": graph.prepare(pass_).run, "step": step.prepare(pass_).run,
                   "GEMM floor": common.gemm_runner(graph.gemms(pass_), graph.dtype)}
        times = alternate(runners, rounds)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        row = dict(workload=name, pass_=pass_, rounds=rounds,
                   graph_s=medians["graph"], step_s=medians["step"],
                   floor_s=medians["GEMM floor"],
                   step_over_graph=medians["step"] / medians["graph"],
                   graph_over_floor=medians["graph"] / medians["GEMM floor"],
                   samples=dict(times))
        rows.append(row)
        echo(f"  {pass_}: graph {row['graph_s']:.4g} s, step {row['step_s']:.4g} s "
             f"(step/graph {row['step_over_graph']:.2f}), floor {row['floor_s']:.4g} s")
    return rows


def format_table(rows: List[dict]) -> str:
    lines = ["| workload | pass | graph s | step s | step / graph | floor s | graph / floor |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['pass_']} | {r['graph_s']:.4g} | "
                     f"{r['step_s']:.4g} | {r['step_over_graph']:.2f} | {r['floor_s']:.4g} | "
                     f"{r['graph_over_floor']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asv_bench.schedules",
        description="snnax_ref's graph schedule against its step-by-step scan, timed in "
                    "alternating rounds in one process, with each workload's GEMM floor.")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS,
                        help="(a) Linear(n, n) + LIF, (b) the conv SNN, (c) the recurrent "
                             "graph (default: all three)")
    parser.add_argument("--n", type=int, nargs="+", default=[512, 2048],
                        help="widths of workload (a) (default: 512 2048)")
    parser.add_argument("--steps", type=int, default=500, help="T of (a) and (c) (default 500)")
    parser.add_argument("--conv-steps", type=int, default=100, help="T of (b) (default 100)")
    parser.add_argument("--hidden", type=int, default=256,
                        help="population size of (c) (default 256)")
    parser.add_argument("--passes", nargs="+", default=["forward", "forward_backward"],
                        choices=["forward", "forward_backward"])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from asv_bench import allocator
    from asv_bench.machine import environment

    allocator.keep_freed_memory()   # before JAX starts (SNNAX_BENCH_SYSTEM_ALLOCATOR=1: not)
    env = environment()
    print("environment: " + json.dumps(env))
    rows = []
    for name, build in _builders(args).items():
        rows += compare(name, build, args.passes, args.rounds)
    table = format_table(rows)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(environment=env, rows=rows, table=table), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
