"""The adapter for snnax_ref itself (the default implementation under test)."""

import hashlib
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..description import DELAYED, RESETTING_NEURON_KINDS, NetworkSpec

SPIKE_FUNCTIONS = {"superspike": "superspike_surrogate", "sigmoid": "sigmoid_surrogate",
                   "piecewise": "piecewise_surrogate"}


class SnnaxStyleAdapter:
    """Builds networks with any module exposing SNNAX's documented API.

    `snn` is the `snn` module and `functional` the `functional` module of the
    implementation; snnax_ref and upstream SNNAX share this adapter.
    """

    deviations_file = None

    def __init__(self, name, snn, functional, deviations_file=None, model_options=None,
                 draw_plan=False):
        self.name = name
        self.snn = snn
        self.functional = functional
        self.deviations_file = deviations_file
        # Extra keyword arguments for StatefulModel (snnax_ref: schedule, ...).
        self.model_options = dict(model_options or {})
        # Whether every run draws its execution plan (`draw_plan`) from its inputs.
        self.draws_plan = draw_plan
        self.last_plan = None

    def precision(self, dtype):
        return jax.enable_x64(dtype == "float64")

    # -- building -----------------------------------------------------------
    def spike_fn(self, hyper):
        name, beta = hyper.get("spike_fn", ("superspike", 10.0))
        return getattr(self.functional, SPIKE_FUNCTIONS[name])(beta)

    def array(self, values):
        # Traced values (the model rebuilt inside jax.jvp / jax.vjp) stay in
        # the trace; host values are put on the device as they are, which
        # compiles nothing (jnp.asarray compiles a program per shape).
        if isinstance(values, jax.core.Tracer):
            return values.astype(self.dtype)
        return jax.device_put(np.asarray(values, dtype=self.dtype))

    def build_layer(self, spec, key):
        snn, hyper, params = self.snn, spec.hyper, spec.params
        kind = spec.kind
        keys = [key] * len(spec.members)
        if kind in RESETTING_NEURON_KINDS:
            kwargs = dict(threshold=hyper.get("threshold", 1.0), spike_fn=self.spike_fn(hyper),
                          stop_reset_grad=hyper.get("stop_reset_grad", True),
                          reset_val=hyper.get("reset_val"))
            kwargs.update({name: self.array(value) for name, value in params.items()})
            return getattr(snn, kind)(**kwargs)
        if kind == "SimpleLI":
            return snn.SimpleLI(**{n: self.array(v) for n, v in params.items()})
        if kind == "SigmaDelta":
            return snn.SigmaDelta(threshold=hyper.get("threshold", 1.0),
                                  spike_fn=self.spike_fn(hyper),
                                  **{n: self.array(v) for n, v in params.items()})
        if kind == "SRM":
            inner = self.build_layer(spec.members[0], keys[0])
            kwargs = {n: self.array(v) for n, v in params.items()}
            return snn.SRM(inner, threshold=hyper.get("threshold", 1.0),
                           spike_fn=self.spike_fn(hyper), **kwargs)
        if kind == "SpikeCounter":
            return snn.SpikeCounter(shape=None)
        if kind == "BatchNormLayer":
            return snn.BatchNormLayer(eps=hyper.get("eps", 1e-5),
                                      forget_weight=hyper.get("forget_weight", 0.1),
                                      **{n: self.array(v) for n, v in params.items()})
        if kind == "Flatten":
            return snn.Flatten()
        if kind in ("SpikingMaxPool1d", "SpikingMaxPool2d"):
            return getattr(snn, kind)(hyper["kernel_size"], hyper.get("stride", 1),
                                      threshold=hyper.get("threshold", 1.0),
                                      spike_fn=self.spike_fn(hyper))
        if kind in ("CompoundLayer", "ResNetBlock"):
            members = [self.build_layer(m, k) for m, k in zip(spec.members, keys)]
            return getattr(snn, kind)(*members)
        if kind == "Parallel":
            return snn.Parallel([self.build_layer(m, k) for m, k in zip(spec.members, keys)])
        return self.build_equinox_layer(spec, key)

    def build_equinox_layer(self, spec, key):
        hyper, params = spec.hyper, spec.params
        kind = spec.kind
        # Built abstractly (eqx.filter_eval_shape), then every parameter set
        # from the description: a random initialisation would be thrown away,
        # and run eagerly it compiles one program per parameter shape.
        if kind == "Linear":
            out_features, in_features = params["weight"].shape
            layer = eqx.filter_eval_shape(eqx.nn.Linear, in_features, out_features,
                                          use_bias="bias" in params, key=key)
            return self.with_parameters(layer, params, bias_shape=(out_features,))
        if kind in ("Conv1d", "Conv2d"):
            weight = params["weight"]
            out_channels, in_channels, kernel = weight.shape[0], weight.shape[1], weight.shape[2]
            layer = eqx.filter_eval_shape(getattr(eqx.nn, kind), in_channels, out_channels,
                                          kernel, stride=hyper.get("stride", 1),
                                          padding=hyper.get("padding", 0),
                                          use_bias="bias" in params, key=key)
            spatial = weight.ndim - 2
            return self.with_parameters(layer, params, bias_shape=(out_channels,) + (1,) * spatial)
        if kind == "LayerNorm":
            layer = eqx.filter_eval_shape(eqx.nn.LayerNorm, params["weight"].shape,
                                          eps=hyper.get("eps", 1e-5))
            return self.with_parameters(layer, params, bias_shape=params["bias"].shape)
        if kind in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
            return getattr(eqx.nn, kind)(hyper["kernel_size"], stride=hyper.get("stride", 1))
        if kind == "Identity":
            return eqx.nn.Identity()
        if kind == "Dropout":  # in training mode: it draws from its key
            return eqx.nn.Dropout(hyper.get("p", 0.5), inference=False)
        raise NotImplementedError(f"{self.name} adapter: no builder for layer kind {kind!r}")

    def with_parameters(self, layer, params, bias_shape):
        layer = eqx.tree_at(lambda m: m.weight, layer, self.array(params["weight"]))
        if "bias" in params:
            bias = jnp.reshape(self.array(params["bias"]), bias_shape)
            layer = eqx.tree_at(lambda m: m.bias, layer, bias)
        return layer

    # Every generated network compiles anew; thousands of cached executables
    # in one process have crashed XLA here (a segfault in a thorough run), so
    # the caches are dropped every CLEAR_CACHES_EVERY runs.
    CLEAR_CACHES_EVERY = 100
    builds = 0

    def model_parts(self, network: NetworkSpec, forward: str, dtype: str):
        """`(layers, GraphStructure arguments but final_layer_ids, forward_fn)`."""
        self.dtype = jnp.dtype(dtype)
        # One key for every layer: it feeds only initialisations that
        # build_equinox_layer builds abstractly and overwrites.
        keys = [jax.random.PRNGKey(0)] * network.num_layers
        layers = [self.build_layer(spec, k) for spec, k in zip(network.layers, keys)]
        graph = dict(num_layers=network.num_layers,
                     input_layer_ids=[list(ids) for ids in network.input_layer_ids],
                     input_connectivity=[list(ids) for ids in network.input_connectivity])
        forward_fn = (self.snn.architecture.delayed_forward_fn if forward == DELAYED
                      else self.snn.architecture.default_forward_fn)
        return layers, graph, forward_fn

    def build(self, network: NetworkSpec, forward: str, dtype: str):
        layers, graph, forward_fn = self.model_parts(network, forward, dtype)
        if network.constructor is not None:
            return self.cast(self.composed(network, layers, forward_fn, **self.model_options))
        structure = self.snn.GraphStructure(final_layer_ids=list(network.final_layer_ids), **graph)
        model = self.snn.StatefulModel(structure, layers, forward_fn=forward_fn,
                                       **self.model_options)
        return self.cast(model)

    def graph_of(self, model):
        """The graph the model was built with (`check_constructed_graph`)."""
        structure = model.graph_structure
        return structure.input_layer_ids, structure.input_connectivity

    def composed(self, network: NetworkSpec, layers, forward_fn, **options):
        """The model built the way users build it: `snn.Sequential(*layers)` or
        `snn.SequentialLocalFeedback(*layers, feedback_layers=...)`
        (`NetworkSpec.constructor`)."""
        name, *arguments = network.constructor
        if name == "SequentialLocalFeedback":
            pairs = arguments[0]
            options["feedback_layers"] = None if pairs is None else dict(pairs)
        return getattr(self.snn, name)(*layers, forward_fn=forward_fn, **options)

    def cast(self, tree):
        def cast_leaf(leaf):
            if (isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)
                    and leaf.dtype != self.dtype):
                return leaf.astype(self.dtype)
            return leaf
        return jax.tree_util.tree_map(cast_leaf, tree)

    # -- running ------------------------------------------------------------
    def init_state(self, model, network: NetworkSpec, key_seed: int = 0):
        # Called once per run, never inside a trace: a safe place to clear.
        SnnaxStyleAdapter.builds += 1
        if SnnaxStyleAdapter.builds % self.CLEAR_CACHES_EVERY == 0:
            jax.clear_caches()
        shapes = [tuple(s) for s in network.input_shapes]
        in_shape = shapes[0] if len(shapes) == 1 else shapes
        # One compiled program, rather than one per operation and shape.
        init_state = eqx.filter_jit(model.init_state)
        return self.cast(init_state(in_shape, shapes=layer_input_shapes(network),
                                    key=jax.random.PRNGKey(key_seed)))

    def run(self, model, state, inputs, burnin, key_seed: int = 1):
        model = self.planned(model, inputs)
        batch = [jax.device_put(np.asarray(x)) for x in inputs]
        batch = batch[0] if len(batch) == 1 else batch
        final_state, outputs = eqx.filter_jit(model)(state, batch, jax.random.PRNGKey(key_seed),
                                                     burnin=burnin)
        return final_state, [np.asarray(o) for o in outputs]

    # -- execution plans (SPEC.md §4.6) ------------------------------------------
    def planned(self, model, inputs):
        """`model`, rebuilt with the execution plan drawn for these inputs
        (`draw_plan`), or unchanged; `last_plan` records the plan."""
        if not self.draws_plan:
            self.last_plan = None
            return model
        graph_allowed = model.forward_fn is self.snn.architecture.default_forward_fn
        fusable = graph_allowed and bool(self.snn.StatefulModel(
            model.graph_structure, model.layers, model.forward_fn, schedule="graph").plan.fused)
        self.last_plan = draw_plan(inputs, graph_allowed, fusable)
        return self.snn.StatefulModel(model.graph_structure, model.layers, model.forward_fn,
                                      **self.last_plan)

    def plan_note(self):
        """The latest run's drawn execution plan, as a line; None if not drawn."""
        if self.last_plan is None:
            return None
        return "execution plan: " + ", ".join(f"{k}={v!r}" for k, v in self.last_plan.items())

    def set_state(self, model, network, states, outputs):
        """The model state holding `states` (per layer, the flat list in SPEC
        order) and `outputs` (per layer): the inverse of `read_states`. Each
        layer's state is rebuilt in the structure of `init_state`'s (nested
        member states of composed layers, None for stateless members)."""
        template = self.init_state(model, network)
        if len(states) != len(template) or len(outputs) != len(template):
            raise ValueError(f"set_state: {len(states)} states and {len(outputs)} outputs "
                             f"for {len(template)} layers")
        carries = []
        for i, (carry, flat, output) in enumerate(zip(template, states, outputs)):
            leaves, treedef = jax.tree_util.tree_flatten(carry.state)
            if len(leaves) != len(flat):
                raise ValueError(f"set_state: layer {i} has {len(leaves)} state arrays, "
                                 f"given {len(flat)}")
            new_leaves = []
            for leaf, value in zip(leaves, flat):
                value = jnp.asarray(value, dtype=leaf.dtype)
                if value.shape != leaf.shape:
                    raise ValueError(f"set_state: layer {i}: shape {value.shape}, "
                                     f"expected {leaf.shape}")
                new_leaves.append(value)
            output = jnp.asarray(output, dtype=carry.output.dtype)
            if output.shape != carry.output.shape:
                raise ValueError(f"set_state: layer {i}: output shape {output.shape}, "
                                 f"expected {carry.output.shape}")
            carries.append(type(carry)(jax.tree_util.tree_unflatten(treedef, new_leaves),
                                       output))
        return carries

    def outputs_as_function(self, run, dtype):
        """`(f, params, inputs)`: `f(params, inputs)` runs `run` with the
        description's parameter arrays replaced by `params` (a flat list in
        `gradients.flat_params` order) and returns the list of outputs."""
        from ..gradients import flat_params, with_flat_params

        with self.precision(dtype):
            self.dtype = jnp.dtype(dtype)
            params = [jnp.asarray(a, dtype=self.dtype) for a in flat_params(run.network)]
            inputs = [jnp.asarray(x, dtype=self.dtype) for x in run.inputs]
            template = self.build(run.network, run.forward, dtype)
            state = self.init_state(template, run.network, key_seed=run.init_key_seed)

        def outputs(params, inputs):
            network = with_flat_params(run.network, params)
            model = self.planned(self.build(network, run.forward, dtype), run.inputs)
            batch = inputs[0] if len(inputs) == 1 else list(inputs)
            return model(state, batch, jax.random.PRNGKey(run.key_seed), burnin=run.burnin)[1]

        return outputs, params, inputs

    def jvp(self, run, param_tangents, input_tangents, dtype="float64"):
        """Outputs and their directional derivative (forward mode)."""
        f, params, inputs = self.outputs_as_function(run, dtype)
        with self.precision(dtype):
            tangents = ([jnp.asarray(t, self.dtype) for t in param_tangents],
                        [jnp.asarray(t, self.dtype) for t in input_tangents])
            values, derivative = jax.jit(lambda primals, tangents: jax.jvp(f, primals, tangents))(
                (params, inputs), tangents)
            return [np.asarray(v) for v in values], [np.asarray(d) for d in derivative]

    def vjp(self, run, output_cotangents, dtype="float64"):
        """`(param_cotangents, input_cotangents)` for the given output cotangents."""
        f, params, inputs = self.outputs_as_function(run, dtype)
        with self.precision(dtype):
            cotangents = [jnp.asarray(c, self.dtype) for c in output_cotangents]
            params_bar, inputs_bar = jax.jit(
                lambda params, inputs, cotangents: jax.vjp(f, params, inputs)[1](cotangents))(
                    params, inputs, cotangents)
            return [np.asarray(p) for p in params_bar], [np.asarray(x) for x in inputs_bar]

    def read_states(self, model, network, final_state):
        states = [[np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(carry.state)]
                  for carry in final_state]
        outputs = [np.asarray(carry.output) for carry in final_state]
        return states, outputs


def network_output_shapes(network: NetworkSpec):
    """Output shapes recorded on the description, when the strategy gave them."""
    shapes = getattr(network, "output_shapes", None)
    return None if shapes is None else [tuple(s) for s in shapes]


def _receives_list(spec) -> bool:
    return spec.kind == "Parallel" or (spec.kind == "CompoundLayer"
                                       and spec.members[0].kind == "Parallel")


def layer_input_shapes(network: NetworkSpec):
    """`init_state`'s `shapes` (what each layer receives, SPEC.md §4.2), from the
    output shapes recorded on the description; None when it records none."""
    output_shapes = network_output_shapes(network)
    if output_shapes is None:
        return None
    shapes = []
    for i, spec in enumerate(network.layers):
        parts = [output_shapes[j] for j in network.input_connectivity[i]]
        parts += [tuple(network.input_shapes[k]) for k in network.input_layer_ids[i]]
        if _receives_list(spec):
            shapes.append(parts)
        elif len(parts) == 1:
            shapes.append(parts[0])
        else:
            shapes.append((sum(p[0] for p in parts),) + tuple(parts[0][1:]))
    return shapes


PLAN_CHOICES = {"checkpoint": (False, True), "unroll": (1, 2, 3),
                "fuse_lif": (True, False)}


def draw_plan(inputs, graph_allowed: bool, fusable: bool = False) -> dict:
    """The execution plan for a run with these input sequences: schedule in
    {step, graph} (graph only for `default_forward_fn`), checkpoint in
    {False, True}, unroll in {1, 2, 3}, fuse_lif in {True, False}, drawn
    from a stable hash of the inputs' shapes and bytes (so T too): the same
    run always gets the same plan, and a replayed failure runs it again.
    A run whose model has an LIF the fused scan can take (`fusable`) takes it
    in half of the draws (graph schedule, fused, no checkpoint, unroll
    drawn), so that the fused scan's hand-written tangents meet every row
    whose networks hold such an LIF; the other half draws as any run."""
    digest = hashlib.sha256()
    for x in inputs:
        x = np.ascontiguousarray(np.asarray(x))
        digest.update(repr((x.shape, x.dtype.str)).encode())
        digest.update(x.tobytes())
    number = int.from_bytes(digest.digest()[:8], "little")
    if fusable:
        fused, number = number % 2 == 0, number // 2
        if fused:
            return {"schedule": "graph", "checkpoint": False,
                    "unroll": PLAN_CHOICES["unroll"][number % 3], "fuse_lif": True}
    schedules = ("step", "graph") if graph_allowed else ("step",)
    plan = {"schedule": schedules[number % len(schedules)]}
    number //= len(schedules)
    for name, choices in PLAN_CHOICES.items():
        plan[name] = choices[number % len(choices)]
        number //= len(choices)
    return plan


def _make_adapter(draw_plan=False, **model_options):
    import snnax_ref
    label = "".join(f" {k}={v}" for k, v in model_options.items())
    label += " (execution plan drawn per run)" if draw_plan else ""
    return SnnaxStyleAdapter("snnax_ref " + snnax_ref.__version__ + label, snnax_ref.snn,
                             snnax_ref.functional,
                             Path(__file__).with_name("snnax_ref_deviations.txt"),
                             model_options, draw_plan=draw_plan)


# The default: every run draws its execution plan (`draw_plan`: step or graph
# schedule, checkpoint or not, unroll 1-3), so the conformance rows check them all.
adapter = _make_adapter(draw_plan=True)
# The readable step-by-step scan, for every forward function.
step_adapter = _make_adapter(schedule="step")
# The graph schedule on every straight-through network, hoistable or not
# (an LIF scanned alone runs the fused LIF scan, snn/fused.py).
graph_adapter = _make_adapter(schedule="graph")
# The same, every LIF scanned by its readable __call__.
graph_readable_adapter = _make_adapter(schedule="graph", fuse_lif=False)
# Both schedules with a rematerialised, unrolled scan body.
checkpointed_graph_adapter = _make_adapter(schedule="graph", checkpoint=True, unroll=2)
checkpointed_step_adapter = _make_adapter(schedule="step", checkpoint=True, unroll=2)
