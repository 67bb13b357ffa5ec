"""Meta-tests of the asv suite: every benchmark is well formed, cheaply.

Nothing big is compiled here: the definitions are checked the way ``asv
check`` does (and more strictly), and the workload builders and a workload
class are exercised at toy sizes.
"""

import importlib
import inspect
import json
import os
import pickle
import pkgutil
import sys

import numpy as np
import pytest

import asv_bench.benchmarks as suite_pkg
from asv_bench.benchmarks import common, suite, workloads
from asv_bench.peers import harness, impls

PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")
BENCH_DIR = os.path.dirname(suite_pkg.__file__)


def _modules():
    return [importlib.import_module(f"asv_bench.benchmarks.{m.name}")
            for m in pkgutil.iter_modules(suite_pkg.__path__)]


def _benchmark_classes():
    found = []
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isclass(obj):
                continue
            if obj.__module__ != module.__name__:
                continue
            methods = [m for m in dir(obj) if m.startswith(PREFIXES)]
            if methods:
                found.append((f"{module.__name__.rsplit('.', 1)[-1]}.{name}", obj, methods))
    return found


CLASSES = _benchmark_classes()
IDS = [name for name, _, _ in CLASSES]
WORKLOADS = [(name, cls) for name, cls, _ in CLASSES if issubclass(cls, suite._Workload)]


def test_suite_has_every_workload():
    names = {name.split(".")[-1] for name in IDS}
    assert names == {"LinearLIF", "CheckpointMemory", "ConvSNN", "RecurrentGraph", "ScalingT",
                     "ScalingN", "GemmFloor", "DataParallel"}, sorted(names)


@pytest.mark.parametrize("name,cls", WORKLOADS, ids=[name for name, _ in WORKLOADS])
def test_one_class_per_workload_times_and_tracks_it(name, cls):
    """time_ and peakmem_ (their own setup compiles the pass) and every track_
    (the setup_cache measurement) in the class, with one setup_cache of its own."""
    methods = {m for m in dir(cls) if m.startswith(PREFIXES)}
    assert {"time_sequence", "peakmem_sequence", "track_floor_ratio", "track_spike_rate",
            "track_compile_seconds", "track_xla_memory"} <= methods, sorted(methods)
    assert "setup_cache" in vars(cls) and cls.setup_cache.timeout == 1800.0
    assert cls.time_sequence.setup is cls.peakmem_sequence.setup is suite._compile
    assert cls.param_names == ["device", *cls.axes, "pass"]


def test_a_workload_class_needs_its_own_setup_cache():
    with pytest.raises(TypeError, match="setup_cache"):
        type("Inherited", (suite._Workload,), {"axes": {"n": [8]}})


def _toy(n, steps):
    return workloads.linear_lif(n, batch=2, steps=steps)


def test_a_workload_class_runs_as_asv_runs_it(monkeypatch):
    """setup_cache (pickled, as asv stores it), then the timed benchmark's own
    setup and call, then a track_ reading the measurement, at a toy size."""
    monkeypatch.setattr(common, "SMOKE", True)

    class Toy(suite._Workload):
        axes = dict(n=[8], T=[5])

        def setup_cache(self):
            return self.measure_all(_toy)

    toy = Toy()
    stored = pickle.dumps(toy.setup_cache())
    # Plain data only: a track_ benchmark's process unpickles it without importing JAX.
    assert b"jax" not in stored and b"_toy" in stored
    cache = pickle.loads(stored)
    for params in [(common.DEVICE, 8, 5, p) for p in Toy.passes]:
        suite._compile(cache, *params)
        toy.time_sequence(cache, *params)
        assert toy.track_floor_ratio(cache, *params) > 0
        assert 0 < toy.track_spike_rate(cache, *params) < 1
    cache[suite._key(params)] = dict(error="Traceback: boom")
    with pytest.raises(RuntimeError, match="boom"):
        toy.track_compile_seconds(cache, *params)


@pytest.mark.parametrize("name,cls,methods", CLASSES, ids=IDS)
def test_params_and_param_names_agree(name, cls, methods):
    params, names = cls.params, cls.param_names
    assert isinstance(params, list) and isinstance(names, list), name
    assert len(params) == len(names), (
        f"{name}: {len(params)} parameter lists but {len(names)} param_names {names}")
    assert len(set(names)) == len(names), f"{name}: repeated param_names {names}"
    for pname, values in zip(names, params):
        assert isinstance(values, list) and values, f"{name}: parameter {pname!r} has no values"
        reprs = [repr(v) for v in values]
        assert len(set(reprs)) == len(reprs), f"{name}: {pname!r} repeats a value: {values}"
    assert names[0] == "device" and params[0] == [common.DEVICE], (
        f"{name}: the first parameter must be device = [{common.DEVICE!r}], got {names[0]!r}")
    if "pass" in names:
        assert names[-1] == "pass", f"{name}: 'pass' must be the last parameter"
        assert set(params[-1]) <= set(common.PASSES), f"{name}: unknown passes {params[-1]}"
    combinations = int(np.prod([len(v) for v in params]))
    assert combinations <= 40, f"{name}: {combinations} parameter combinations is too many"


@pytest.mark.parametrize("name,cls,methods", CLASSES, ids=IDS)
def test_classes_have_versions(name, cls, methods):
    assert isinstance(getattr(cls, "version", None), str), (
        f"{name}: set a version string, so that a cosmetic edit keeps the history")
    assert getattr(cls, "number", None) == 1, f"{name}: JAX calls are timed one at a time"


def test_asv_runner_accepts_every_benchmark():
    """asv's own discovery and argument check (what ``asv check`` runs: the
    arguments of setup_cache, of every setup, a method's own included, and of
    the benchmark), and a unit for every track_."""
    from asv_runner.discovery import disc_benchmarks
    parent = os.path.dirname(BENCH_DIR)
    sys.path.insert(0, parent)
    try:
        benchmarks = list(disc_benchmarks(BENCH_DIR))
        assert benchmarks, "asv discovered no benchmark"
        for bench in benchmarks:
            assert bench.check(BENCH_DIR), f"asv check fails for {bench.name}"
            if bench.type == "track":
                assert bench.unit != "unit", f"{bench.name} has no unit"
        names = {b.name.split(".")[0] for b in benchmarks}
        assert names == {m.__name__.rsplit(".", 1)[-1] for m in _modules()
                         if any(obj.__module__ == m.__name__ for _, obj, _ in CLASSES)}
    finally:
        sys.path.remove(parent)
        for key in [k for k in sys.modules if k == "benchmarks" or k.startswith("benchmarks.")]:
            del sys.modules[key]


# --------------------------------------------------------------------------
# The workloads at toy sizes: they build, both passes compile, the floor is a
# lower bound of XLA's own flop count, and neurons spike.
# --------------------------------------------------------------------------

TOYS = {
    "linear_lif": lambda: workloads.linear_lif(32, batch=2, steps=20),
    "conv_snn": lambda: workloads.conv_snn(batch=1, steps=15),
    "recurrent_graph": lambda: workloads.recurrent_graph(hidden=16, batch=2, steps=20),
}


@pytest.mark.parametrize("toy", sorted(TOYS))
def test_workload_passes_compile_and_spike(toy):
    workload = TOYS[toy]()
    # Both passes for one workload; the others compile forward+backward only
    # (it traces the forward too) to keep this test quick.
    for pass_ in common.PASSES if toy == "linear_lif" else ["forward_backward"]:
        prepared = workload.prepare(pass_, warmup=1)
        assert prepared.compile_seconds > 0
        assert workload.gemms(pass_), f"{toy} {pass_}: no products in the floor"
    assert len(workload.gemms("forward_backward")) > len(workload.gemms("forward"))
    assert 0.0 < workload.spike_rate() < 0.6


def test_linear_lif_floor_is_the_issue_definition():
    """Forward: one (B*T x n) @ (n x n) product; forward+backward: two."""
    w = workloads.linear_lif(8, batch=3, steps=5)
    assert w.gemms("forward") == [(15, 8, 8)]
    assert w.gemms("forward_backward") == [(15, 8, 8), (8, 15, 8)]
    assert w.neuron_updates == 3 * 5 * 8


def test_the_peers_run_the_suites_workload_a():
    w = workloads.linear_lif(8, batch=3, steps=5)
    problem = impls.make_problem(8, batch=3, steps=5)
    assert problem.floor == {p: w.gemms(p) for p in ("forward", "forward_backward")}
    np.testing.assert_array_equal(problem.W, w.model.layers[0].weight)
    np.testing.assert_array_equal(problem.x, w.inputs)


def test_random_graph_has_feedback_and_self_loops():
    connectivity, external = workloads.random_graph()
    assert any(j > i for i, src in enumerate(connectivity) for j in src), connectivity
    assert any(i in src for i, src in enumerate(connectivity)), connectivity
    assert external[0] == [0]
    assert workloads.random_graph() == (connectivity, external)   # fixed


def test_schedule_comparison_checks_times_and_reports(tmp_path, capsys):
    from asv_bench import schedules

    out = tmp_path / "schedules.json"
    schedules.main(["--n", "16", "--steps", "6", "--conv-steps", "3", "--hidden", "8",
                    "--rounds", "2", "--passes", "forward", "--json", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [r["workload"][:3] for r in rows] == ["(a)", "(b)", "(c)"]
    for r in rows:
        assert all(len(r["samples"][k]) == 2 for k in ("graph", "step", "GEMM floor"))
        assert r["step_over_graph"] == pytest.approx(r["step_s"] / r["graph_s"])
    assert "| (b) ConvSNN T=3 | forward |" in capsys.readouterr().out


def test_schedule_comparison_refuses_schedules_that_disagree():
    from asv_bench import schedules

    def build(schedule):   # the "step" model gets other weights: not the same network
        return workloads.linear_lif(8, batch=2, steps=20, seed=0 if schedule == "graph" else 1,
                                    schedule=schedule)

    with pytest.raises(SystemExit, match="disagree"):
        schedules.compare("toy", build, ["forward"], rounds=1, echo=lambda *_: None)


def test_sizes_depend_on_backend_only_through_sizes():
    table = common.sizes()
    assert table["linear_lif_n"] == sorted(table["linear_lif_n"])
    if not common.ACCEL:
        assert max(table["linear_lif_n"]) <= 4096


# --------------------------------------------------------------------------
# The peer spike comparison (pure numpy)
# --------------------------------------------------------------------------

def _spikes(seed=0, shape=(2, 30, 5)):
    return (np.random.default_rng(seed).random(shape) < 0.2).astype(np.float32)


@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_compare_spikes_accepts_a_documented_shift(shift):
    ref = _spikes()
    ref[:, 0] = 0                      # snnax_ref never spikes at step 0
    peer = np.zeros_like(ref)
    if shift >= 0:
        peer[:, :ref.shape[1] - shift] = ref[:, shift:]
    else:
        peer[:, -shift:] = ref[:, :shift]
    assert harness.compare_spikes(ref, peer, shift, full=True).ok
    assert harness.compare_spikes(ref, peer, shift, full=False).ok


def test_compare_spikes_rejects_a_different_computation():
    ref = _spikes(0)
    assert not harness.compare_spikes(ref, _spikes(1), 0, full=True).ok
    assert not harness.compare_spikes(ref, _spikes(1), 0, full=False).ok
    shifted = np.roll(ref, 1, axis=1)
    assert not harness.compare_spikes(ref, shifted, 0, full=True).ok


def test_compare_spikes_first_spike_ignores_later_differences():
    ref = np.zeros((1, 10, 1), np.float32)
    ref[0, [3, 6], 0] = 1
    peer = ref.copy()
    peer[0, 6, 0], peer[0, 8, 0] = 0, 1          # a different reset, same first spike
    assert harness.compare_spikes(ref, peer, 0, full=False).ok
    assert not harness.compare_spikes(ref, peer, 0, full=True).ok


def test_with_the_device_given_the_suite_imports_without_jax():
    """ci.sh and history.sh export SNNAX_BENCH_DEVICE, so a track_ benchmark's
    process (which only reads setup_cache's numbers) does not import JAX."""
    import subprocess

    # The modules asv imports to run a benchmark: its own (workloads.py is imported
    # by the setups that build and compile).
    names = [f"asv_bench.benchmarks.{m.name}" for m in pkgutil.iter_modules(suite_pkg.__path__)
             if m.name.startswith("bench_")]
    probe = f"import sys, {', '.join(names)}; print(sorted(m for m in sys.modules if m == 'jax'))"
    env = dict(os.environ, SNNAX_BENCH_DEVICE=common.DEVICE)
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    env.pop("SNNAX_BENCH_DEVICE")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['jax']"   # unset, JAX names the device


def test_the_data_parallel_child_measures_the_snnax_ref_the_suite_imports(tmp_path):
    """Under history.sh asv puts the commit's tree on the suite's sys.path (not in
    the environment): the child that times DataParallel must import snnax_ref
    from there, not the checkout's or an installed one, and still run this
    checkout's benchmark code, even where the commit's tree has its own."""
    import subprocess
    from pathlib import Path

    from asv_bench.benchmarks import bench_devices

    commit_tree = tmp_path / "commit"
    (commit_tree / "snnax_ref").mkdir(parents=True)
    (commit_tree / "snnax_ref" / "__init__.py").write_text("")
    (commit_tree / "asv_bench").mkdir()
    (commit_tree / "asv_bench" / "__init__.py").write_text(
        "raise ImportError('the commit tree\'s asv_bench, not the checkout\'s')\n")
    origin = commit_tree / "snnax_ref" / "__init__.py"
    command = bench_devices.child_command("where", snnax_ref_origin=str(origin))
    child = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-3000:]
    where = json.loads(child.stdout.strip().splitlines()[-1])
    assert where["snnax_ref"] == str(origin.resolve())
    assert where["asv_bench"] == str(Path(bench_devices.__file__).resolve())
    # By default, the package this process would import.
    assert bench_devices.child_command("where")[4] == str(
        Path(bench_devices._snnax_ref_origin()).parent.parent)
