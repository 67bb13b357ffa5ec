"""Check, then time, workload (a) in every available peer, alternating.

1. **Check** (before anything is timed): every peer runs a small problem in
   float64 (n = 96, B = 4, T = 200, the same input scale) and its spikes are
   compared with snnax_ref's after the peer's documented time shift: all
   spikes must be equal where the semantics agree completely
   (``Peer.full_match``), else the first spike of every neuron must come at
   the same step (the dynamics agree until the first reset). In float64 no
   rounding difference can move a spike, so the comparison is exact. A peer
   that fails is not timed.
2. **Time** (float32, the benchmark size): every peer is compiled and warmed
   up, then ``rounds`` rounds run each peer once, the order rotating from
   round to round, so that the machine's drift touches every peer alike. The
   GEMM floor (``jnp.dot``, and ``torch.mm`` when torch is there) is timed in
   the same rounds.
3. **Report**: median seconds per call (one batch of B sequences of T steps),
   the ratio to snnax_ref, the ratio to the JAX GEMM floor, neuron updates per
   second, and the spike rate each peer produced on the timed problem.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import machine
from . import impls

CHECK_N, CHECK_BATCH, CHECK_STEPS = 96, 4, 200
FLOOR_JAX = "GEMM floor (jnp.dot)"
FLOOR_TORCH = "GEMM floor (torch.mm)"

# Filled by bench_peers.py (pytest-benchmark): (n, pass) -> {peer: (median s,
# spike rate)}; printed by conftest.py.
PYTEST_RESULTS: dict = {}


# --------------------------------------------------------------------------
# 1. the spike check
# --------------------------------------------------------------------------

@dataclass
class Check:
    peer: str
    ok: bool
    detail: str


def _align(ref: np.ndarray, peer: np.ndarray, shift: int):
    """Pairs (ref, peer) restricted to the steps where peer[t] == ref[t + shift]."""
    steps = ref.shape[1]
    if shift >= 0:
        return ref[:, shift:], peer[:, :steps - shift]
    return ref[:, :steps + shift], peer[:, -shift:]


def _first_spike(spikes: np.ndarray) -> np.ndarray:
    steps = spikes.shape[1]
    fired = spikes.any(axis=1)
    return np.where(fired, spikes.argmax(axis=1), steps)


def compare_spikes(ref: np.ndarray, peer: np.ndarray, shift: int, full: bool) -> Check:
    if ref.shape != peer.shape:
        return Check("", False, f"spike shape {peer.shape} != snnax_ref's {ref.shape}")
    r, p = _align(ref, peer, shift)
    if shift < 0 and np.any(peer[:, :-shift]):
        return Check("", False, f"spikes in the first {-shift} step(s), where none can be")
    if full:
        bad = int(np.sum(r != p))
        detail = (f"{bad} of {r.size} spikes differ" if bad else
                  f"all {r.size} spike values equal ({int(r.sum())} spikes)")
        return Check("", bad == 0, detail + (f", shift {shift:+d}" if shift else ""))
    fr, fp = _first_spike(r), _first_spike(p)
    bad = int(np.sum(fr != fp))
    neurons = fr.size
    fired = int(np.sum(fr < r.shape[1]))
    detail = (f"first-spike times differ for {bad} of {neurons} neurons" if bad else
              f"first-spike times equal for all {neurons} neurons ({fired} fire)")
    return Check("", bad == 0, detail + (f", shift {shift:+d}" if shift else ""))


def check_peers(peers: Sequence[impls.Peer]) -> Dict[str, Check]:
    """Run every peer on the small float64 problem and compare with snnax_ref."""
    import jax

    problem = impls.make_problem(CHECK_N, CHECK_BATCH, CHECK_STEPS).astype(np.float64)
    results: Dict[str, Check] = {}
    with jax.enable_x64(True):
        ref = impls.SnnaxRef().build(problem).spikes()
        if ref.mean() < 0.01:
            raise RuntimeError(f"snnax_ref spike rate {ref.mean():.4f}: the check is vacuous")
        for peer in peers:
            try:
                spikes = peer.build(problem).spikes()
                check = compare_spikes(ref, spikes, peer.shift, peer.full_match)
            except Exception as error:  # noqa: BLE001 - a broken peer is reported
                check = Check("", False, f"{type(error).__name__}: {error}")
            check.peer = peer.name
            results[peer.name] = check
    return results


# --------------------------------------------------------------------------
# 2. alternating timing
# --------------------------------------------------------------------------

def alternate(runners: Dict[str, callable], rounds: int, warmup: int = 1,
              slow_limit: float = 30.0) -> Dict[str, List[float]]:
    """Seconds of each runner; round r runs every runner once, starting at the r-th.

    A runner whose warm-up call alone takes more than ``slow_limit`` seconds
    is not run again: that call is its only sample (the table shows the
    number of samples), so one pathological peer cannot hold the run for
    hours.
    """
    names = list(runners)
    times: Dict[str, List[float]] = {name: [] for name in names}
    slow = set()
    for name in names:
        for _ in range(warmup):
            t0 = time.perf_counter()
            runners[name]()
            dt = time.perf_counter() - t0
        if warmup and dt > slow_limit:
            slow.add(name)
            times[name].append(dt)
    active = [name for name in names if name not in slow]
    for r in range(rounds):
        k = r % len(active) if active else 0
        for name in active[k:] + active[:k]:
            t0 = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def _floor_runners(problem: impls.Problem, pass_: str) -> Dict[str, callable]:
    """The workload's products (``problem.floor``, workload (a)'s): ``jnp.dot``,
    and ``torch.mm`` when torch is there, on operands of the same shapes."""
    from asv_bench.benchmarks import common

    shapes = problem.floor[pass_]
    runners = {FLOOR_JAX: common.gemm_runner(shapes)}
    if impls._torch_unavailable("torch") is None:
        import torch
        device = impls._torch_device()
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        pairs = [(torch.randn(m, k, device=device), torch.randn(k, n, device=device))
                 for m, k, n in shapes]
        runners[FLOOR_TORCH] = lambda: ([torch.mm(a, b) for a, b in pairs], sync())
    for runner in runners.values():   # compile / allocate before any timing
        runner()
    return runners


@dataclass
class Row:
    peer: str
    n: int
    pass_: str
    median_s: float
    samples: List[float]
    ratio_to_snnax_ref: Optional[float] = None
    ratio_to_floor: Optional[float] = None
    neuron_updates_per_s: Optional[float] = None
    spike_rate: Optional[float] = None


def ratio_rows(n: int, pass_: str, medians: Dict[str, float], spike_rates: Dict[str, float],
               updates: int, samples: Optional[Dict[str, List[float]]] = None) -> List[Row]:
    """One row per peer (and floor): its median, and ratios to snnax_ref and to the JAX floor."""
    ref, floor = medians.get("snnax_ref"), medians.get(FLOOR_JAX)
    return [Row(peer=name, n=n, pass_=pass_, median_s=med, samples=(samples or {}).get(name, []),
                ratio_to_snnax_ref=med / ref if ref else None,
                ratio_to_floor=med / floor if floor else None,
                neuron_updates_per_s=None if name in (FLOOR_JAX, FLOOR_TORCH) else updates / med,
                spike_rate=spike_rates.get(name))
            for name, med in medians.items()]


def time_peers(peers: Sequence[impls.Peer], n: int, passes: Sequence[str], rounds: int,
               batch: int = 16, steps: int = 500, slow_limit: float = 30.0) -> List[Row]:
    problem = impls.make_problem(n, batch, steps)
    built = {peer.name: peer.build(problem) for peer in peers}
    spike_rates = {name: float(b.spikes().mean()) for name, b in built.items()}
    rows: List[Row] = []
    for pass_ in passes:
        runners = {name: getattr(b, pass_) for name, b in built.items()}
        runners.update(_floor_runners(problem, pass_))
        times = alternate(runners, rounds, slow_limit=slow_limit)
        medians = {name: float(np.median(t)) for name, t in times.items()}
        rows += ratio_rows(n, pass_, medians, spike_rates, batch * steps * n, times)
    del built
    gc.collect()
    return rows


# --------------------------------------------------------------------------
# 3. the report
# --------------------------------------------------------------------------

def format_table(rows: Sequence[Row]) -> str:
    header = ("| n | pass | peer | median s | runs | x snnax_ref | x GEMM floor | "
              "neuron updates/s | spike rate |")
    lines = [header, "|---|---|---|---:|---:|---:|---:|---:|---:|"]

    def fmt(value, spec):
        return "" if value is None else format(value, spec)

    for r in rows:
        lines.append(f"| {r.n} | {r.pass_} | {r.peer} | {r.median_s:.4g} | {len(r.samples) or ''} | "
                     f"{fmt(r.ratio_to_snnax_ref, '.3g')} | {fmt(r.ratio_to_floor, '.3g')} | "
                     f"{fmt(r.neuron_updates_per_s, '.3g')} | {fmt(r.spike_rate, '.3f')} |")
    return "\n".join(lines)


def available(names: Optional[Sequence[str]] = None, echo=print):
    """The peers asked for (default: all) that can run here, and why the others cannot."""
    ready, skipped = [], {}
    for peer in impls.PEERS:
        if names is None or peer.name in names:
            reason = peer.unavailable()
            if reason:
                skipped[peer.name] = reason
            else:
                ready.append(peer)
    for name, reason in skipped.items():
        echo(f"skipped {name}: {reason}")
    if impls.SnnaxUpstream.note:
        echo(f"note: {impls.SnnaxUpstream.note}")
    return ready, skipped


def report_checks(peers: Sequence[impls.Peer], echo=print, indent: str = "",
                  details: bool = False) -> Dict[str, Check]:
    """The spike check of every peer, one line each (with what it runs: `details`)."""
    checks = check_peers(peers)
    for peer in peers:
        c = checks[peer.name]
        echo(f"{indent}{'ok  ' if c.ok else 'FAIL'} {peer.name}: {c.detail}")
        if details:
            echo(f"       runs: {peer.description}")
            if peer.semantics != impls.Peer.semantics:
                echo(f"       semantics: {peer.semantics}")
    return checks


def run(ns: Sequence[int], passes: Sequence[str], rounds: int, names: Optional[Sequence[str]] = None,
        batch: int = 16, steps: int = 500, json_path: Optional[str] = None,
        slow_limit: float = 30.0, echo=print) -> dict:
    echo("environment: " + json.dumps(machine.environment()))
    peers, skipped = available(names, echo)
    if not any(p.name == "snnax_ref" for p in peers):
        peers.insert(0, impls.SnnaxRef())

    echo(f"spike check (float64, n={CHECK_N}, B={CHECK_BATCH}, T={CHECK_STEPS}) before timing:")
    checks = report_checks(peers, echo, indent="  ", details=True)
    skipped.update({p.name: f"spike check failed: {checks[p.name].detail}"
                    for p in peers if not checks[p.name].ok})

    rows: List[Row] = []
    for n in ns:
        echo(f"timing n={n} (B={batch}, T={steps}, {rounds} alternating rounds) ...")
        rows += time_peers([p for p in peers if checks[p.name].ok], n, passes, rounds, batch,
                           steps, slow_limit)
    table = format_table(rows)
    echo(table)
    result = dict(environment=machine.environment(), rounds=rounds, batch=batch, steps=steps,
                  checks={k: asdict(v) for k, v in checks.items()}, skipped=skipped,
                  upstream_note=impls.SnnaxUpstream.note,
                  semantics={p.name: p.semantics for p in peers},
                  descriptions={p.name: p.description for p in peers},
                  rows=[asdict(r) for r in rows], table=table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1)
    return result
