"""Upstream SNNAX's own example models, run on upstream and on snnax_ref, compared.

What is compared. Every model that upstream SNNAX (github PGI15/snnax at b7a55c6)
ships in `examples/` -- the benchmark models in `examples/benchmarks/model/`, the
models of the two training scripts and the model code of the two tutorial
notebooks -- is built from upstream's own source text, run forward on random
inputs (random arrays stand in for the datasets), differentiated and trained for
one optimizer step, once with real upstream `snnax` and once with `import snnax`
resolving to `snnax_ref` (`snnax_ref.as_snnax.install()`). The two never share a
process: each implementation runs in its own subprocess, which writes its
outputs and gradients to an .npz file; this parent process compares them.

Why `delayed_forward_fn` on the reference side. Upstream's `default_forward_fn`
reads every edge from the previous step (each edge is delayed one step). The
reference's `delayed_forward_fn` does exactly that, while the reference's
`default_forward_fn` is straight-through. So the reference subprocess wraps
`StatefulModel.__init__` so that the reference's `default_forward_fn` (given
explicitly or as the default, as `Sequential` passes it) becomes
`delayed_forward_fn`; nothing else of the example code changes.

Parameter shapes. Given `shape=`, reference neurons lay out their constants per
neuron (e.g. `(2, 256)`) where upstream keeps one value per layer (`(2,)`).
Gradients of equal-shaped parameters are compared directly; for such a
per-neuron reference parameter, its gradient summed over the neuron axes is
compared with upstream's per-layer gradient (marked "summed" in the table).

Where upstream's own unchanged source fails (it does for several examples at
b7a55c6), the exact exception is recorded and a variant with the smallest
source substitutions that let upstream run (applied to the text read from
upstream's file, listed in the table) is run on both implementations.

Usage: python tests/upstream_examples.py [--steps T] [--out report.md]
       (needs SNNAX_UPSTREAM_PATH, e.g. /work/upstream/src)
"""

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
IMPLEMENTATIONS = ("upstream", "reference")
DEFAULT_STEPS = 24
BATCH = 2
SEED = 0
# Gradients of parameters stored with the same shape must be bit-identical.
# A per-neuron reference constant (upstream keeps one per layer) is compared
# through its gradient summed over the neurons: a sum in another order, so
# equal only to rounding.
GRAD_RTOL = 1e-4
GRAD_ATOL = 1e-6


# --------------------------------------------------------------------------- cases

@dataclasses.dataclass(frozen=True)
class Case:
    """One model (variant) of upstream's examples and how to feed it."""
    name: str
    kind: str                 # "benchmark", "script" or "notebook"
    source: str               # path relative to upstream's examples/
    in_shape: Tuple[int, ...] = ()
    num_classes: int = 10
    factory: str = ""         # benchmark: the module's builder function
    kwargs: Tuple[Tuple[str, object], ...] = ()
    input_scale: float = 1.0
    substitutions: Tuple[Tuple[str, str], ...] = ()   # (old text, new text)
    cells: Tuple[int, ...] = ()                        # notebook: code cells run
    weight_scale: float = 1.0   # Conv2d/Linear weights scaled so deep layers spike
    steps: Optional[int] = None  # overrides --steps (slow neurons need more steps)
    notes: str = ""


GRAPH_UNPACK_6 = ("conn,inp,out = snn.composed.gen_feed_forward_struct(6)",
                  "graph = snn.composed.gen_feed_forward_struct(6)")
GRAPH_CTOR_6 = ("graph = snn.GraphStructure(6,inp,out,conn)", "")
GRAPH_UNPACK_18 = ("conn,inp,out = snn.composed.gen_feed_forward_struct(18)",
                   "graph = snn.composed.gen_feed_forward_struct(18)")
GRAPH_CTOR_18 = ("graph = snn.GraphStructure(18, inp,out,conn)", "")
GRAPH_UNPACK_19 = ("conn,inp,out = snn.composed.gen_feed_forward_struct(19)",
                   "graph = snn.composed.gen_feed_forward_struct(19)")
GRAPH_CTOR_19 = ("graph = snn.GraphStructure(19, inp,out,conn)", "")

# Fast neurons (alpha = beta = exp(-1/2)), through the constructors' own arguments,
# so that every layer spikes within a few steps and no weight gradient is zero.
FAST = (("tau_m", 0.002), ("tau_s", 0.002))
FAST_SCRIPT = (("alpha", 0.6), ("beta", 0.6))
MLP_KWARGS = (("hid_channels", 16), ("size_factor", 2), ("num_hid_layers", 3),
              ("burnin", 4), ("key", "PRNGKey(0)")) + FAST
NOTEBOOK_NOTE = ("dataset cell replaced by BATCHSIZE=2, TIMESTEPS=48, SENSOR_SIZE=(2,32,32); "
                 "inputs x50 and Conv2d/Linear weights x100 so that the slow LIFs "
                 "(decays .975/.95) of all four layers spike within 48 steps")
BENCH = "benchmarks/model/"


def all_cases(steps: int) -> List[Case]:
    burnin = min(4, steps // 4)
    mlp = tuple((k, burnin if k == "burnin" else v) for k, v in MLP_KWARGS)
    flat_mlp = mlp + (("input_size", [128]),)
    decolle = (("size_factor", 1), ("num_classes", 10), ("burnin", burnin),
               ("key", "PRNGKey(0)")) + FAST
    deep = dict(weight_scale=5.0, notes="Conv2d/Linear weights x5 so that deep layers spike")
    # 18-19 layers with every edge delayed one step (and each LIF's current one
    # more): a weight's effect needs about 30 steps to reach the read-out.
    long_chain = dict(deep, steps=48, notes=deep["notes"] + "; 48 steps, so that every "
                      "layer's effect reaches the read-out through the delayed edges")
    script = (("size_factor", 1), ("burnin", burnin), ("key", "PRNGKey(0)")) + FAST_SCRIPT
    nmnist = "snnax_train_nmnist_mlp_multiloss.py"
    dvs = "snnax_train_dvsgesture_multiloss.py"
    dvs_fixes = (GRAPH_UNPACK_18, GRAPH_CTOR_18,
                 ("snn.MaxPool2D(", "snn.SpikingMaxPool2d("),
                 ("eqx.nn.LayerNorm(8*size_factor,", "eqx.nn.LayerNorm((8*size_factor,16,16),"))
    notebook = dict(kind="notebook", in_shape=(2, 32, 32), num_classes=11,
                    cells=(1, 3, 9, 11, 13, 15), input_scale=50.0, weight_scale=100.0,
                    steps=48, notes=NOTEBOOK_NOTE)
    recurrence_fixes = (
        ("from tqdm import tqdm\n", "from tqdm import tqdm\nfrom functools import partial\n"),
        ("@jax.vmap(in_axes=", "@partial(jax.vmap, in_axes="),
        ("return jnp.sum(loss_fn(model, init_states, data, target, key))",
         "return jnp.sum(loss_fn(model, init_states, data, target, jrand.split(key, BATCHSIZE)))"),
        ("loss_fn, \n", ""))
    return [
        Case("snn_mlp (LIFSoftReset)", "benchmark", BENCH + "snn_mlp.py", (128,),
             factory="snn_mlp", kwargs=flat_mlp, input_scale=4.0),
        Case("snn_mlp (AdaptiveLIF, config_snnmlp_shd.yaml)", "benchmark",
             BENCH + "snn_mlp.py", (128,), factory="snn_mlp",
             kwargs=flat_mlp + (("neuron_model", "snnax.snn.AdaptiveLIF"),), input_scale=4.0),
        Case("snn_recmlp", "benchmark", BENCH + "snn_recmlp.py", (128,),
             factory="snn_mlp", kwargs=flat_mlp, input_scale=4.0),
        Case("snn_recmlp (patched)", "benchmark", BENCH + "snn_recmlp.py", (128,),
             factory="snn_mlp", kwargs=flat_mlp, input_scale=4.0,
             substitutions=(("init_state([ x[0,:].shape ], shapes=self.shapes, key = key)",
                             "init_state(x[0,:].shape, key)"),)),
        Case("snn_vgg", "benchmark", BENCH + "snn_vgg.py", (2, 16, 16), factory="snn_vgg",
             kwargs=(("input_size", [2, 16, 16]), ("cfg", [8, "M", 8, "M", "A2"]),
                     ("out_channels", 10), ("burnin", burnin), ("key", "PRNGKey(0)")) + FAST,
             input_scale=4.0),
        Case("snn_decolle", "benchmark", BENCH + "snn_decolle.py", (2, 32, 32),
             factory="snn_decolle", kwargs=decolle, input_scale=4.0),
        Case("snn_decolle (patched)", "benchmark", BENCH + "snn_decolle.py", (2, 32, 32),
             factory="snn_decolle", kwargs=decolle, input_scale=4.0,
             substitutions=(GRAPH_UNPACK_19, GRAPH_CTOR_19), **long_chain),
        Case("srm_mlp", "benchmark", BENCH + "srm_mlp.py", (128,),
             factory="snn_mlp", kwargs=flat_mlp, input_scale=4.0),
        Case("srm_mlp (patched)", "benchmark", BENCH + "srm_mlp.py", (128,),
             factory="snn_mlp", kwargs=flat_mlp, input_scale=4.0,
             substitutions=(GRAPH_UNPACK_6, GRAPH_CTOR_6)),
        Case("snnax_train_nmnist_mlp_multiloss SNN", "script", nmnist, (2, 32, 32),
             kwargs=script + (("num_classes", 10),), input_scale=4.0),
        Case("snnax_train_nmnist_mlp_multiloss SNN (patched)", "script", nmnist, (2, 32, 32),
             kwargs=script + (("num_classes", 10),), input_scale=4.0,
             substitutions=(GRAPH_UNPACK_6, GRAPH_CTOR_6), **deep),
        Case("snnax_train_dvsgesture_multiloss SNN", "script", dvs, (2, 32, 32),
             num_classes=11, kwargs=script + (("num_classes", 11),), input_scale=4.0),
        Case("snnax_train_dvsgesture_multiloss SNN (patched)", "script", dvs, (2, 32, 32),
             num_classes=11, kwargs=script + (("num_classes", 11),), input_scale=4.0,
             substitutions=dvs_fixes, **long_chain),
        Case("tutorial_Introduction", source="tutorial_Introduction.ipynb", **notebook),
        Case("tutorial_Recurrence", source="tutorial_Recurrence.ipynb", **notebook),
        Case("tutorial_Recurrence (patched)", source="tutorial_Recurrence.ipynb",
             substitutions=recurrence_fixes, **notebook),
    ]


# --------------------------------------------------------------------------- worker

def upstream_examples_dir() -> Path:
    return Path(os.environ["SNNAX_UPSTREAM_PATH"]).resolve().parent / "examples"


def substituted(text: str, case: Case) -> str:
    """Upstream's source with the case's substitutions; each must apply."""
    for old, new in case.substitutions:
        if old not in text:
            raise ValueError(f"substitution target not found in {case.source}: {old!r}")
        text = text.replace(old, new)
    return text


def substituted_cells(sources: Dict[int, str], case: Case) -> Dict[int, str]:
    """Notebook cells with the case's substitutions (each must apply to some cell)."""
    for old, new in case.substitutions:
        if not any(old in text for text in sources.values()):
            raise ValueError(f"substitution target not found in {case.source}: {old!r}")
        sources = {index: text.replace(old, new) for index, text in sources.items()}
    return sources


def stub_einops_if_missing() -> None:
    """benchmarks/model/common.py imports einops, which only the non-spiking mlp.py uses."""
    try:
        import einops  # noqa: F401
    except ModuleNotFoundError:
        sys.modules["einops"] = types.ModuleType("einops")


def setup_implementation(implementation: str) -> None:
    """Make `import snnax` give the implementation (first thing in the worker)."""
    if implementation == "upstream":
        sys.path.insert(0, os.environ["SNNAX_UPSTREAM_PATH"])
        return
    sys.path.insert(0, str(REPO_ROOT))
    import snnax_ref.as_snnax
    snnax_ref.as_snnax.install()
    use_delayed_forward_fn_by_default()


def use_delayed_forward_fn_by_default() -> None:
    """Reference side: upstream's default_forward_fn semantics is delayed_forward_fn."""
    from snnax_ref.snn import architecture
    original_init = architecture.StatefulModel.__init__
    straight_through = architecture.default_forward_fn

    def init(self, graph_structure, layers, forward_fn=straight_through, *args, **kwargs):
        if forward_fn is straight_through:
            forward_fn = architecture.delayed_forward_fn
        original_init(self, graph_structure, layers, forward_fn, *args, **kwargs)

    architecture.StatefulModel.__init__ = init


def load_source_module(path: Path, text: str, module_name: str, package: str = ""):
    """Execute upstream's source text as a module (relative imports work via package)."""
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    module.__package__ = package
    sys.modules[module_name] = module
    exec(compile(text, str(path), "exec"), module.__dict__)
    return module


def resolve_kwargs(case: Case) -> dict:
    import jax
    return {k: (jax.random.PRNGKey(0) if v == "PRNGKey(0)" else v) for k, v in case.kwargs}


def build_benchmark(case: Case):
    """A model from examples/benchmarks/model/, as train_dataset_model.py builds it."""
    bench = upstream_examples_dir() / "benchmarks"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    stub_einops_if_missing()
    path = upstream_examples_dir() / case.source
    module = load_source_module(path, substituted(path.read_text(), case),
                                "model." + path.stem, package="model")
    built = getattr(module, case.factory)(**resolve_kwargs(case))
    return built[0] if isinstance(built, tuple) else built


def build_script_model(case: Case):
    """The `SNN` class of a training script (its __main__ part is not run)."""
    path = upstream_examples_dir() / case.source
    saved_argv = sys.argv
    sys.argv = [str(path), "-c", "unused.yaml"]     # the scripts parse -c at import
    try:
        module = load_source_module(path, substituted(path.read_text(), case),
                                    "upstream_script_" + path.stem)
    finally:
        sys.argv = saved_argv
    return module.SNN(**resolve_kwargs(case))


def notebook_namespace(case: Case, steps: int) -> dict:
    """Run the notebook's model/loss/update cells; constants replace the dataset cell."""
    path = upstream_examples_dir() / case.source
    cells = [c for c in json.loads(path.read_text())["cells"]]
    namespace = {"__name__": "notebook"}
    constants = (f"EPOCHS = 1\nBATCHSIZE = {BATCH}\nTIMESTEPS = {steps}\n"
                 f"SENSOR_SIZE = {tuple(case.in_shape)}\nSEED = 42\n"
                 f"NUM_LABELS = {case.num_classes}\n")
    sources = {index: "".join(cells[index]["source"]) for index in case.cells}
    sources = substituted_cells(sources, case)
    for index in case.cells:
        if index == 9:  # the model cell comes right after the (skipped) dataset cell 7
            exec(constants, namespace)
        exec(compile(sources[index], f"{case.source}[cell {index}]", "exec"), namespace)
    return namespace


def random_batch(case: Case, steps: int):
    rng = np.random.default_rng(SEED)
    x = rng.uniform(0.0, 1.0, (BATCH, steps, *case.in_shape)).astype(np.float32)
    labels = rng.integers(0, case.num_classes, BATCH)
    return x * case.input_scale, labels


def grads_by_path(grads) -> Dict[str, np.ndarray]:
    """Gradient leaves by path, `.data` of a parameter wrapper dropped."""
    import jax
    flat, _ = jax.tree_util.tree_flatten_with_path(grads)
    named = {}
    for path, leaf in flat:
        name = jax.tree_util.keystr(path)
        name = re.sub(r"\.data$", "", name)
        named[name] = np.asarray(leaf)
    return named


def classifier_loss(model, x, labels, keys):
    """Mean softmax cross-entropy of every readout the model returns."""
    import jax
    import optax
    pred = jax.vmap(model)(x, keys)
    logits = pred.reshape(pred.shape[0], -1, pred.shape[-1])
    targets = jax.numpy.broadcast_to(labels[:, None], logits.shape[:2])
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean(), pred


def train_classifier(model, x, labels):
    """Forward, gradient and one adam step on all inexact arrays of the model."""
    import equinox as eqx
    import jax
    import optax
    keys = jax.random.split(jax.random.PRNGKey(1), x.shape[0])
    grad_fn = eqx.filter_jit(eqx.filter_value_and_grad(classifier_loss, has_aux=True))
    (loss, pred), grads = grad_fn(model, x, labels, keys)
    yield "runs", {"pred": pred, "loss": loss}, grads
    optim = optax.adam(1e-3)
    opt_state = optim.init(eqx.filter(model, eqx.is_inexact_array))
    updates, _ = optim.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
    model = eqx.apply_updates(model, updates)
    yield "trains", {}, None


def scaled_weights(model, factor: float):
    """The model with every Conv2d/Linear weight multiplied by factor."""
    import equinox as eqx
    if factor == 1.0:
        return model
    is_weighted = lambda node: isinstance(node, (eqx.nn.Conv2d, eqx.nn.Linear))
    weighted = [n for n in jax_leaves(model, is_weighted) if is_weighted(n)]
    return eqx.tree_at(lambda m: [n.weight for n in jax_leaves(m, is_weighted)
                                  if is_weighted(n)], model,
                       [n.weight * factor for n in weighted])


def jax_leaves(tree, is_leaf):
    import jax
    return jax.tree_util.tree_leaves(tree, is_leaf=is_leaf)


def train_notebook(namespace: dict, x, labels, weight_scale: float):
    """The notebook's own loss_and_grads and update (its training loop's body)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax
    jrand = jax.random
    model = namespace["model"] = scaled_weights(namespace["model"], weight_scale)
    one_hot = jax.nn.one_hot(jnp.asarray(labels), namespace["NUM_LABELS"])
    model_key = jrand.PRNGKey(7)
    init_key, grad_key = jrand.split(model_key)
    states = model.init_state(namespace["SENSOR_SIZE"], init_key)
    keys = jrand.split(grad_key, x.shape[0])
    forward = eqx.filter_jit(lambda m, d, k: jax.vmap(lambda d1, k1: m(states, d1, key=k1)[1][-1])(d, k))
    outs = forward(model, jnp.asarray(x), keys)
    loss_and_grads = eqx.filter_jit(namespace["loss_and_grads"])
    loss, grads = loss_and_grads(model, states, jnp.asarray(x), one_hot, grad_key)
    yield "runs", {"pred": outs, "loss": loss}, grads
    optim = optax.adam(1e-3)
    opt_state = optim.init(eqx.filter(model, eqx.is_inexact_array))
    _, _, loss_in_update = namespace["update"](model, optim, opt_state, jnp.asarray(x),
                                               one_hot, model_key)
    yield "trains", {"loss_in_update": loss_in_update}, None


def run_case(case: Case, steps: int, out_file: Path) -> dict:
    """Build, run, train one case; save arrays to out_file; return the status."""
    status = {"builds": False, "runs": False, "trains": False, "error": None,
              "error_stage": None}
    arrays = {}
    stage = "builds"
    try:
        steps = case.steps or steps
        x, labels = random_batch(case, steps)
        if case.kind == "notebook":
            namespace = notebook_namespace(case, steps)
            status["builds"] = True
            stages = train_notebook(namespace, x, labels, case.weight_scale)
        else:
            model = build_benchmark(case) if case.kind == "benchmark" else \
                build_script_model(case)
            status["builds"] = True
            stages = train_classifier(scaled_weights(model, case.weight_scale), x, labels)
        stage = "runs"
        for stage_name, values, grads in stages:
            status[stage_name] = True
            stage = "trains"
            for key, value in values.items():
                arrays["out::" + key] = np.asarray(value)
            if grads is not None:
                for name, grad in grads_by_path(grads).items():
                    arrays["grad::" + name] = grad
    except Exception as error:  # recorded, not raised: the table reports it
        status["error"] = f"{type(error).__name__}: {error}"
        status["error_stage"] = stage
        status["traceback"] = traceback.format_exc(limit=-4)
    np.savez(out_file, **arrays)
    return status


def worker_main(implementation: str, steps: int, out_dir: Path, names: List[str]) -> None:
    setup_implementation(implementation)
    import jax
    jax.config.update("jax_platforms", "cpu")
    statuses = {}
    for index, case in enumerate(all_cases(steps)):
        if names and case.name not in names:
            continue
        started = time.time()
        statuses[case.name] = run_case(case, steps, out_dir / f"{implementation}_{index}.npz")
        statuses[case.name]["seconds"] = round(time.time() - started, 1)
        statuses[case.name]["file"] = f"{implementation}_{index}.npz"
    (out_dir / f"{implementation}.json").write_text(json.dumps(statuses, indent=1))


# --------------------------------------------------------------------------- parent

def run_workers(steps: int, out_dir: Path, names: Optional[List[str]] = None) -> dict:
    """One subprocess per implementation (in parallel); returns their statuses."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # upstream is put on sys.path by the worker only
    env.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    processes = {}
    for implementation in IMPLEMENTATIONS:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", implementation,
                   "--steps", str(steps), "--dir", str(out_dir)]
        for name in names or []:
            command += ["--case", name]
        processes[implementation] = subprocess.Popen(
            command, env=env, cwd=str(out_dir), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
    for implementation, process in processes.items():
        log, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{implementation} worker failed:\n{log[-3000:]}")
    return {impl: json.loads((out_dir / f"{impl}.json").read_text())
            for impl in IMPLEMENTATIONS}


@dataclasses.dataclass
class Comparison:
    case: Case
    upstream: dict
    reference: dict
    outputs_max_diff: Optional[float] = None
    outputs_identical: Optional[bool] = None
    grads_max_diff: Optional[float] = None
    grads_identical: Optional[bool] = None
    grads_close: Optional[bool] = None
    direct_grads_identical: Optional[bool] = None   # every gradient of the same shape
    compared: List[str] = dataclasses.field(default_factory=list)
    summed: List[str] = dataclasses.field(default_factory=list)
    unmatched: List[str] = dataclasses.field(default_factory=list)
    min_weight_grad_norm: Optional[float] = None   # upstream's, over weight matrices
    nonzero_weight_grads: Optional[Tuple[int, int]] = None   # upstream's (nonzero, all)

    @property
    def upstream_ok(self) -> bool:
        return bool(self.upstream.get("trains"))

    @property
    def reference_ok(self) -> bool:
        return bool(self.reference.get("trains"))


def is_weight(name: str) -> bool:
    return bool(re.search(r"\.(weight|bias)$", name))


def matched_gradient(up: np.ndarray, ref: np.ndarray) -> Tuple[Optional[np.ndarray], bool]:
    """The reference gradient in upstream's shape (summed over neuron axes), if possible."""
    if up.shape == ref.shape:
        return ref, False
    if ref.ndim > up.ndim and ref.shape[:up.ndim] == up.shape:
        return ref.sum(axis=tuple(range(up.ndim, ref.ndim))), True
    return None, False


def compare(case: Case, statuses: dict, out_dir: Path) -> Comparison:
    result = Comparison(case, statuses["upstream"][case.name], statuses["reference"][case.name])
    if not (result.upstream_ok and result.reference_ok):
        return result
    up = dict(np.load(out_dir / result.upstream["file"]))
    ref = dict(np.load(out_dir / result.reference["file"]))
    output_diffs = [float(np.max(np.abs(up[k] - ref[k]))) if up[k].size else 0.0
                    for k in up if k.startswith("out::pred")]
    result.outputs_max_diff = max(output_diffs)
    result.outputs_identical = all(np.array_equal(up[k], ref[k])
                                   for k in up if k.startswith("out::pred"))
    grad_diffs, identical, close, direct_identical = [], True, True, True
    for name in sorted(k for k in up if k.startswith("grad::")):
        if name not in ref:
            result.unmatched.append(name[6:] + " (upstream only)")
            continue
        ref_grad, was_summed = matched_gradient(up[name], ref[name])
        if ref_grad is None:
            result.unmatched.append(f"{name[6:]} {up[name].shape} vs {ref[name].shape}")
            continue
        (result.summed if was_summed else result.compared).append(name[6:])
        if up[name].size:
            grad_diffs.append(float(np.max(np.abs(up[name] - ref_grad))))
        identical &= bool(np.array_equal(up[name], ref_grad))
        if not was_summed:
            direct_identical &= bool(np.array_equal(up[name], ref_grad))
        close &= bool(np.allclose(ref_grad, up[name], rtol=GRAD_RTOL,
                                  atol=GRAD_ATOL * max(1.0, float(np.abs(up[name]).max(
                                      initial=0.0)))))
    result.unmatched += [k[6:] + " (reference only)" for k in ref
                         if k.startswith("grad::") and k not in up]
    result.grads_max_diff = max(grad_diffs) if grad_diffs else None
    result.grads_identical, result.grads_close = identical, close
    result.direct_grads_identical = direct_identical
    weights = [k for k in up if k.startswith("grad::") and k.endswith(".weight")]
    if weights:
        result.min_weight_grad_norm = min(float(np.linalg.norm(up[k])) for k in weights)
        result.nonzero_weight_grads = (sum(bool(np.any(up[k])) for k in weights), len(weights))
    return result


def describe_status(status: dict) -> str:
    if status.get("trains"):
        return "builds, runs, trains"
    done = [s for s in ("builds", "runs") if status.get(s)]
    failed = status.get("error_stage")
    prefix = ", ".join(done) + "; " if done else ""
    return f"{prefix}fails to {failed.rstrip('s') if failed else '?'}: `{status['error']}`"


def table_row(result: Comparison) -> str:
    case = result.case
    upstream = describe_status(result.upstream)
    reference = describe_status(result.reference)
    if result.outputs_max_diff is None:
        outputs = grads = "n/a"
    else:
        outputs = (("yes" if result.outputs_identical else "NO")
                   + f" ({result.outputs_max_diff:.3g})")
        grads_verdict = ("bit-identical" if result.grads_identical else
                         "same-shape ones bit-identical, summed ones within tolerance"
                         if result.direct_grads_identical and result.grads_close else
                         "within tolerance" if result.grads_close else "NO")
        diff = "-" if result.grads_max_diff is None else f"{result.grads_max_diff:.3g}"
        grads = (f"{grads_verdict} ({diff}); {len(result.compared)} compared directly"
                 + (f", summed over neurons: {', '.join(result.summed)}" if result.summed else "")
                 + (f"; unmatched: {', '.join(result.unmatched)}" if result.unmatched else ""))
    notes = []
    if case.substitutions:
        notes.append("substitutions (every occurrence): " + "; ".join(
            f"`{old.strip()}` -> `{new.strip() or '(deleted)'}`"
            for old, new in case.substitutions))
    if result.min_weight_grad_norm is not None:
        nonzero, total = result.nonzero_weight_grads
        notes.append(f"upstream weight grads nonzero: {nonzero}/{total} "
                     f"(smallest norm {result.min_weight_grad_norm:.3g})")
    notes.append("seconds upstream/reference: "
                 f"{result.upstream.get('seconds')}/{result.reference.get('seconds')}")
    if case.notes:
        notes.append(case.notes)
    cells = [case.name, upstream, reference, outputs, grads, "; ".join(notes)]
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def markdown_table(results: List[Comparison], steps: int) -> str:
    header = ("| model | upstream unchanged | reference builds/runs/trains | "
              "outputs equal (max \\|diff\\|) | gradients equal (max \\|diff\\|, which "
              "parameters) | notes |\n|---|---|---|---|---|---|")
    intro = (f"Upstream examples, T={steps} steps, batch {BATCH}, random inputs; "
             f"reference with delayed_forward_fn. Gradient tolerance: rtol {GRAD_RTOL}, "
             f"atol {GRAD_ATOL} x max|grad|.\n\n")
    return intro + header + "\n" + "\n".join(table_row(r) for r in results) + "\n"


def compare_all(steps: int = DEFAULT_STEPS, names: Optional[List[str]] = None
                ) -> List[Comparison]:
    """Run both workers and compare every case (the test's entry point)."""
    with tempfile.TemporaryDirectory(prefix="snnax_upstream_examples_") as tmp:
        out_dir = Path(tmp)
        statuses = run_workers(steps, out_dir, names)
        return [compare(case, statuses, out_dir) for case in all_cases(steps)
                if case.name in statuses["upstream"]]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--case", action="append", default=[], help="only this case (repeatable)")
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tracebacks", action="store_true", help="print failures' tracebacks")
    args = parser.parse_args(argv)
    if "SNNAX_UPSTREAM_PATH" not in os.environ:
        raise SystemExit("SNNAX_UPSTREAM_PATH must point at upstream SNNAX's src directory")
    if args.worker:
        worker_main(args.worker, args.steps, args.dir, args.case)
        return
    results = compare_all(args.steps, args.case or None)
    table = markdown_table(results, args.steps)
    print(table)
    if args.tracebacks:
        for result in results:
            for impl in IMPLEMENTATIONS:
                status = getattr(result, impl)
                if status.get("error"):
                    print(f"--- {result.case.name} on {impl}:\n{status['traceback']}")
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
