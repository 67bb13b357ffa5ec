"""Hostile input, fuzzed (SPEC.md §7.1).

Each strategy below generates one kind of invalid configuration, named after
it: a `GraphStructure` with bad connectivity, a neuron with the wrong number
of decay constants, an input of the wrong shape or dtype, a malformed key, a
pooling window larger than its input, a composed layer with a bad member,
... Every generated `Refusal` knows what the error message must name (the
field, the layer and the shapes), and the one property checks that building
or calling the model raises a plain `ValueError` or `TypeError` whose message
starts with the field or the layer and names the rest, never an error of
JAX's own.

Run with `--hypothesis-show-statistics` to see how many examples of each
class one run drew (`hypothesis.event`).
"""

import functools
from dataclasses import dataclass
from typing import Callable, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from snnax_ref import snn

KEY = jax.random.PRNGKey(0)


@dataclass(frozen=True)
class Refusal:
    """An invalid configuration and what its error message must say.

    `attempt()` builds and/or calls a model and must raise; the message must
    start with `names[0]` (the field, or the layer class that owns it) and
    contain every other entry of `names` (indices, shapes, counts).
    """

    kind: str
    description: str
    attempt: Callable[[], object]
    names: Tuple[str, ...]

    def __repr__(self) -> str:
        return f"Refusal({self.kind}: {self.description}; must name {self.names})"


# Exceptions that only JAX raises: none may reach the user.
JAX_ERRORS = tuple(error for error in (
    getattr(jax.errors, name, None) for name in (
        "JAXTypeError", "JAXIndexError", "ConcretizationTypeError",
        "TracerBoolConversionError", "TracerIntegerConversionError",
        "TracerArrayConversionError", "UnexpectedTracerError", "KeyReuseError",
        "JaxRuntimeError")) if isinstance(error, type))


def refusal_error(refusal: Refusal) -> Exception:
    try:
        result = refusal.attempt()
    except Exception as error:  # noqa: BLE001 - the property inspects it
        return error
    pytest.fail(f"{refusal!r} was accepted, returning {type(result).__name__}")


# -- tiny models, built once ------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def linear_lif(width_in: int, width_out: int):
    """`Sequential(Linear(width_in, width_out), LIF())` and its initial state."""
    model = snn.Sequential(eqx.nn.Linear(width_in, width_out, key=KEY), snn.LIF())
    return model, model.init_state((width_in,))


@functools.lru_cache(maxsize=None)
def lone_neuron(neuron_class, width: int):
    """One neuron layer fed directly by the input, and its initial state."""
    model = snn.Sequential(neuron_class())
    return model, model.init_state((width,))


@functools.lru_cache(maxsize=None)
def two_input_counter():
    """One `SpikeCounter` reading external inputs 0 and 1 (concatenated)."""
    structure = snn.GraphStructure(num_layers=1, input_layer_ids=[[0, 1]], final_layer_ids=[0],
                                   input_connectivity=[[]])
    model = snn.StatefulModel(structure, [snn.SpikeCounter()])
    return model, model.init_state([(2,), (3,)])


widths = st.integers(1, 4)
steps = st.integers(1, 5)
NEURONS = {  # class -> the decay constants it reads
    snn.SimpleLIF: 1, snn.LIF: 2, snn.LIFSoftReset: 2, snn.IAF: 1, snn.SimpleLI: 1,
    snn.AdaptiveLIF: 1, snn.SigmaDelta: 3,
}
SPIKING = (snn.SimpleIAF, snn.IAF, snn.SimpleLIF, snn.LIF, snn.LIFSoftReset, snn.AdaptiveLIF)
neuron_classes = st.sampled_from(sorted(NEURONS, key=lambda c: c.__name__))
not_numbers = st.sampled_from(["0.9", None, {"decay": 0.9}, True, object(), [0.9, "x"],
                               jnp.array([1 + 1j]), np.array(["a"])])
not_callables = st.sampled_from([3, "superspike", 0.5, [snn.LIF()]])


# -- GraphStructure (SPEC.md §4) --------------------------------------------------------

def chain_fields(num_layers: int) -> dict:
    return dict(num_layers=num_layers,
                input_layer_ids=[[0]] + [[] for _ in range(num_layers - 1)],
                final_layer_ids=[num_layers - 1],
                input_connectivity=[[]] + [[i] for i in range(num_layers - 1)])


@st.composite
def graph_with_bad_connectivity(draw) -> Refusal:
    n = draw(st.integers(1, 4))
    fields = chain_fields(n)
    flaw = draw(st.sampled_from([
        "num_layers", "length", "source out of range", "id not an int", "negative input id",
        "final out of range", "final empty", "layer without input", "no external input",
        "field not a list"]))
    if flaw == "num_layers":
        fields["num_layers"] = draw(st.sampled_from([0, -1, -7, 2.0, "2", None, True]))
        names = ("GraphStructure.num_layers",)
    elif flaw == "length":
        field = draw(st.sampled_from(["input_layer_ids", "input_connectivity"]))
        length = draw(st.integers(0, 6).filter(lambda k: k != n))
        fields[field] = (fields[field] + [[] for _ in range(length)])[:length]
        names = (f"GraphStructure.{field}", f"has {length} entries", f"num_layers is {n}")
    elif flaw == "source out of range":
        layer = draw(st.integers(0, n - 1))
        source = draw(st.one_of(st.integers(n, n + 10), st.integers(-10, -1)))
        fields["input_connectivity"][layer] = fields["input_connectivity"][layer] + [source]
        names = (f"GraphStructure.input_connectivity[{layer}]", str(source))
    elif flaw == "id not an int":
        field = draw(st.sampled_from(["input_layer_ids", "input_connectivity"]))
        layer = draw(st.integers(0, n - 1))
        fields[field][layer] = fields[field][layer] + [draw(st.sampled_from([0.0, "0", None]))]
        names = (f"GraphStructure.{field}[{layer}]", "not an int")
    elif flaw == "negative input id":
        layer = draw(st.integers(0, n - 1))
        input_id = draw(st.integers(-9, -1))
        fields["input_layer_ids"][layer] = fields["input_layer_ids"][layer] + [input_id]
        names = (f"GraphStructure.input_layer_ids[{layer}]", str(input_id))
    elif flaw == "final out of range":
        position = draw(st.integers(0, 2))
        bad = draw(st.one_of(st.integers(n, n + 10), st.integers(-10, -1)))
        fields["final_layer_ids"] = [n - 1] * position + [bad]
        names = (f"GraphStructure.final_layer_ids[{position}]", str(bad))
    elif flaw == "final empty":
        fields["final_layer_ids"] = []
        names = ("GraphStructure.final_layer_ids", "empty")
    elif flaw == "layer without input":
        n = max(n, 2)
        fields = chain_fields(n)
        fields["input_layer_ids"] = [[0] for _ in range(n)]
        layer = draw(st.integers(0, n - 1))
        fields["input_layer_ids"][layer] = []
        fields["input_connectivity"] = [[] for _ in range(n)]
        names = ("GraphStructure", f"layer {layer}", f"input_connectivity[{layer}]",
                 f"input_layer_ids[{layer}]")
    elif flaw == "no external input":
        fields["input_layer_ids"] = [[] for _ in range(n)]
        fields["input_connectivity"] = [[(i - 1) % n] for i in range(n)]
        names = ("GraphStructure.input_layer_ids", "external input")
    else:
        field = draw(st.sampled_from(["input_layer_ids", "final_layer_ids",
                                      "input_connectivity"]))
        # final_layer_ids=None is the last layer, as upstream returns it (SPEC.md §11).
        fields[field] = draw(st.sampled_from([3] if field == "final_layer_ids" else [None, 3]))
        names = (f"GraphStructure.{field}",)
    return Refusal("graph with bad connectivity", f"{flaw}: {fields}",
                   lambda: snn.GraphStructure(**fields), names)


@st.composite
def model_with_bad_arguments(draw) -> Refusal:
    n = draw(st.integers(1, 3))
    structure = snn.GraphStructure(**chain_fields(n))
    layers = [snn.SimpleLIF() for _ in range(n)]
    flaw = draw(st.sampled_from(["layer count", "layer not callable", "forward_fn",
                                 "schedule", "unroll", "graph schedule with delays"]))
    options, forward_fn = {}, snn.default_forward_fn
    if flaw == "layer count":
        count = draw(st.integers(0, 5).filter(lambda k: k != n))
        layers = [snn.SimpleLIF() for _ in range(count)]
        names = ("StatefulModel: layers", f"has {count} entries", f"num_layers is {n}")
    elif flaw == "layer not callable":
        index = draw(st.integers(0, n - 1))
        layers[index] = draw(not_callables)
        names = (f"StatefulModel: layers[{index}]", type(layers[index]).__name__)
    elif flaw == "forward_fn":
        forward_fn = draw(not_callables)
        names = ("StatefulModel: forward_fn", type(forward_fn).__name__)
    elif flaw == "schedule":
        options["schedule"] = draw(st.sampled_from(["scan", "", None, "GRAPH"]))
        names = ("StatefulModel: schedule", repr(options["schedule"]))
    elif flaw == "unroll":
        options["unroll"] = draw(st.sampled_from([0, -1, 1.5, True, "2", None]))
        names = ("StatefulModel: unroll", repr(options["unroll"]))
    else:
        forward_fn, options["schedule"] = snn.delayed_forward_fn, "graph"
        names = ("StatefulModel: schedule='graph'", "delayed_forward_fn")
    return Refusal("model with bad arguments", f"{flaw}: layers={layers!r:.80} {options}",
                   lambda: snn.StatefulModel(structure, layers, forward_fn, **options), names)


# -- layer constructors (SPEC.md §3, §3.11, §5) -----------------------------------------

@st.composite
def neuron_with_wrong_decay_count(draw) -> Refusal:
    neuron_class = draw(neuron_classes)
    needed = NEURONS[neuron_class]
    # Fewer entries than the layer reads (more are ignored with a warning, SPEC.md §3).
    count = draw(st.integers(0, needed - 1))
    constants = [round(0.5 + 0.1 * k, 2) for k in range(count)]
    if count == 1 and draw(st.booleans()):
        constants = constants[0]  # a scalar is one constant
    shape = draw(st.one_of(st.none(), st.tuples(widths)))
    name = neuron_class.__name__
    return Refusal("neuron with wrong decay count", f"{name}({constants}, shape={shape})",
                   lambda: neuron_class(constants, shape=shape),
                   (f"{name}: decay_constants needs {needed} entr", f"got {count}"))


@st.composite
def constants_with_wrong_count(draw) -> Refusal:
    """The other per-layer constants: AdaptiveLIF's ada_*, SRM's three fields."""
    owner, field, needed = draw(st.sampled_from([
        ("AdaptiveLIF", "ada_decay_constant", 1), ("AdaptiveLIF", "ada_step_val", 1),
        ("AdaptiveLIF", "ada_coupling_var", 1), ("SRM", "decay_constants", 2),
        ("SRM", "r_decay_constants", 1), ("SRM", "reset_val", 1)]))
    count = draw(st.integers(0, needed - 1))
    values = [0.5] * count
    if owner == "SRM":
        def attempt():
            return snn.SRM(eqx.nn.Identity(), **{field: values})
    else:
        def attempt():
            return snn.AdaptiveLIF(**{field: values})
    return Refusal("constants with wrong count", f"{owner}({field}={values})", attempt,
                   (f"{owner}: {field} needs {needed} entr", f"got {count}"))


@st.composite
def neuron_with_malformed_parameter(draw) -> Refusal:
    neuron_class = draw(st.sampled_from(SPIKING + (snn.SimpleLI, snn.SigmaDelta)))
    fields = ["shape", "init_fn"]
    if neuron_class is not snn.SimpleIAF:
        fields.append("decay_constants")
    if neuron_class is not snn.SimpleLI:
        fields += ["threshold", "spike_fn"]
    if neuron_class in SPIKING:
        fields.append("reset_val")
    if neuron_class in (snn.SimpleIAF, snn.IAF):
        fields.append("leak")
    field = draw(st.sampled_from(fields))
    if field == "shape":
        value = draw(st.sampled_from([-1, (2, -1), (2.5,), "ab", (None,), (True,), 1.0]))
    elif field in ("init_fn", "spike_fn"):
        value = draw(not_callables)
    else:  # reset_val=None is the documented default, every other field needs numbers
        value = draw(not_numbers.filter(lambda v: not (field == "reset_val" and v is None)))
    name = neuron_class.__name__
    return Refusal("neuron with malformed parameter", f"{name}({field}={value!r})",
                   lambda: neuron_class(**{field: value}), (f"{name}: {field}",))


@st.composite
def batchnorm_with_bad_statistics(draw) -> Refusal:
    field = draw(st.sampled_from(["forget_weight", "eps"]))
    if field == "forget_weight":
        value = draw(st.one_of(st.floats(1.0, 1e6, exclude_min=True),
                               st.floats(-1e6, 0.0, exclude_max=True),
                               st.just(float("nan")), st.sampled_from(["0.1", None, [0.1]])))
    else:
        value = draw(st.one_of(st.floats(-1e6, 0.0, exclude_max=True),
                               st.just(float("nan")), st.sampled_from(["1e-5", None, [1e-5]])))
    return Refusal("batchnorm with bad statistics", f"BatchNormLayer({field}={value!r})",
                   lambda: snn.BatchNormLayer(**{field: value}), (f"BatchNormLayer: {field}",))


POOLS = {snn.SpikingMaxPool1d: 1, snn.SpikingMaxPool2d: 2}
pool_classes = st.sampled_from([snn.SpikingMaxPool1d, snn.SpikingMaxPool2d])


@st.composite
def pool_with_bad_window(draw) -> Refusal:
    pool_class = draw(pool_classes)
    dims = POOLS[pool_class]
    field = draw(st.sampled_from(["kernel_size", "stride", "padding", "threshold", "spike_fn"]))
    arguments = {"kernel_size": 3}
    if field == "kernel_size":
        value = draw(st.sampled_from([0, -2, 2.5, "3", None, (3,) * (dims + 1)]))
    elif field == "stride":
        value = draw(st.sampled_from([0, -1, 1.0, (1,) * (dims + 1)]))
    elif field == "padding":
        value = draw(st.sampled_from([-1, 3, 4, "1", ((0, 3),) * dims]))
    elif field == "threshold":
        value = draw(st.sampled_from(["1", None, [1.0, 2.0]]))
    else:
        value = draw(not_callables)
    arguments[field] = value
    name = pool_class.__name__
    return Refusal("pool with bad window", f"{name}(**{arguments})",
                   lambda: pool_class(**arguments), (f"{name}: {field}",))


@st.composite
def pool_window_larger_than_input(draw) -> Refusal:
    pool_class = draw(pool_classes)
    dims = POOLS[pool_class]
    kernel = draw(st.integers(2, 6))
    padding = draw(st.integers(0, kernel - 1))
    short_axis = draw(st.integers(0, dims - 1))
    spatial = [draw(st.integers(kernel, kernel + 3)) for _ in range(dims)]
    spatial[short_axis] = draw(st.integers(1, max(1, kernel - 2 * padding - 1)))
    if spatial[short_axis] + 2 * padding >= kernel:  # the padding alone fills the window
        padding = 0
        spatial[short_axis] = kernel - 1
    in_shape = (draw(st.integers(1, 3)), *spatial)
    leading = draw(st.integers(0, 1))  # the pool as layer 0 or after an Identity
    layers = [eqx.nn.Identity()] * leading + [pool_class(kernel, padding=padding)]
    name = pool_class.__name__
    return Refusal("pool window larger than input",
                   f"{name}({kernel}, padding={padding}) as layer {leading}, in_shape {in_shape}",
                   lambda: snn.Sequential(*layers).init_state(in_shape),
                   ("init_state", f"layer {leading} ({name})", str(in_shape), "pooling window"))


@st.composite
def composed_layer_with_bad_member(draw) -> Refusal:
    flaw = draw(st.sampled_from(["compound member", "compound empty", "parallel stateful",
                                 "parallel member", "parallel not a list", "parallel empty",
                                 "srm layer", "members do not chain", "resnet changes shape",
                                 "parallel input count"]))
    a, b = draw(widths), draw(widths)
    linear = eqx.nn.Linear(a, b, key=KEY)
    if flaw == "compound member":
        members = [snn.LIF(), linear]
        index = draw(st.integers(0, 2))
        members.insert(index, draw(not_callables))
        return Refusal("composed layer with bad member", f"CompoundLayer with {members!r:.60}",
                       lambda: snn.CompoundLayer(*members),
                       (f"CompoundLayer: layers[{index}]", type(members[index]).__name__))
    if flaw == "compound empty":
        layer_class = draw(st.sampled_from([snn.CompoundLayer, snn.ResNetBlock]))
        return Refusal("composed layer with bad member", f"{layer_class.__name__}()",
                       layer_class, (layer_class.__name__, "at least one layer"))
    if flaw == "parallel stateful":
        stateful = draw(st.sampled_from([snn.LIF, snn.SimpleLI, snn.SpikeCounter]))()
        index = draw(st.integers(0, 2))
        members = [linear, eqx.nn.Identity()]
        members.insert(index, stateful)
        return Refusal("composed layer with bad member", f"Parallel with {stateful!r:.40}",
                       lambda: snn.Parallel(members),
                       (f"Parallel: layers[{index}]", type(stateful).__name__, "stateful"))
    if flaw == "parallel member":
        members = [linear, eqx.nn.Identity()]
        index = draw(st.integers(0, 2))
        members.insert(index, draw(not_callables))
        return Refusal("composed layer with bad member", f"Parallel with {members!r:.60}",
                       lambda: snn.Parallel(members),
                       (f"Parallel: layers[{index}]", type(members[index]).__name__))
    if flaw == "parallel not a list":
        given = draw(st.sampled_from([linear, 3, None, "ab"]))
        return Refusal("composed layer with bad member", f"Parallel({given!r:.40})",
                       lambda: snn.Parallel(given), ("Parallel: layers", type(given).__name__))
    if flaw == "parallel empty":
        return Refusal("composed layer with bad member", "Parallel([])",
                       lambda: snn.Parallel([]), ("Parallel: layers", "empty"))
    if flaw == "srm layer":
        inner = draw(st.one_of(not_callables, st.sampled_from([snn.LIF(), snn.SimpleIAF()])))
        return Refusal("composed layer with bad member", f"SRM({inner!r:.40})",
                       lambda: snn.SRM(inner), ("SRM: layer", type(inner).__name__))
    if flaw == "members do not chain":
        c = draw(widths.filter(lambda c: c != b))
        layer_class = draw(st.sampled_from([snn.CompoundLayer, snn.ResNetBlock]))
        second = eqx.nn.Linear(c, a, key=KEY)
        model = snn.Sequential(layer_class(linear, snn.SimpleLI(), second))
        name = layer_class.__name__
        return Refusal("composed layer with bad member",
                       f"{name}(Linear({a}, {b}), SimpleLI, Linear({c}, {a})), in_shape ({a},)",
                       lambda: model.init_state((a,)),
                       ("init_state", f"layer 0 ({name})", f"({a},)", "layers[2] (Linear)",
                        f"({b},)"))
    if flaw == "resnet changes shape":
        b = draw(widths.filter(lambda b: b != a))
        model = snn.Sequential(snn.ResNetBlock(eqx.nn.Linear(a, b, key=KEY), snn.SimpleLIF()))
        return Refusal("composed layer with bad member", f"ResNetBlock(Linear({a}, {b}), ...)",
                       lambda: model.init_state((a,)),
                       ("init_state", "layer 0 (ResNetBlock)", f"({a},)", f"({b},)"))
    members = draw(st.integers(2, 3))
    parallel = snn.Parallel([eqx.nn.Identity()] * members)
    structure = snn.GraphStructure(1, [[0]], [0], [[]])
    model = snn.StatefulModel(structure, [parallel])
    return Refusal("composed layer with bad member", f"Parallel of {members} on one input",
                   lambda: model.init_state((a,)),
                   ("init_state", "layer 0 (Parallel)", f"{members} layers", "1 inputs"))


# -- init_state (SPEC.md §4.2) ----------------------------------------------------------

@st.composite
def in_shape_that_is_not_a_shape(draw) -> Refusal:
    width = draw(widths)
    # An int n is the shape (n,) and a list holds one entry per external input,
    # as upstream reads them (SPEC.md §4.2): so -n and [n, 2] (two inputs) are wrong.
    in_shape = draw(st.sampled_from([(-width,), (width, -1), (float(width),), "abc", None,
                                     -width, [width, 2], [(width,), (width,)], ((width,), "a"),
                                     (True,)]))
    return Refusal("in_shape that is not a shape", f"init_state({in_shape!r})",
                   lambda: linear_lif(width, 2)[0].init_state(in_shape),
                   ("init_state", "in_shape"))


# -- __call__ (SPEC.md §4.5) ------------------------------------------------------------

@st.composite
def input_with_wrong_shape(draw) -> Refusal:
    if draw(st.booleans()):
        width, out = draw(widths), draw(widths)
        model, states = linear_lif(width, out)
        step_shape = draw(st.one_of(
            widths.filter(lambda w: w != width).map(lambda w: (w,)),
            st.just((width, 2)), st.just((2, width))))
        layer = "layer 0 (Linear)"
    else:
        neuron_class = draw(st.sampled_from([snn.SimpleLIF, snn.LIF, snn.SigmaDelta,
                                             snn.SimpleIAF]))
        width = draw(widths)
        model, states = lone_neuron(neuron_class, width)
        step_shape = draw(widths.filter(lambda w: w != width).map(lambda w: (w,)))
        layer = f"layer 0 ({neuron_class.__name__})"
    xs = jnp.ones((draw(steps), *step_shape))
    return Refusal("input with wrong shape", f"{layer} initialised for ({width},), "
                   f"input {xs.shape}", lambda: model(states, xs, None),
                   ("input_batch", layer, str(step_shape)))


@st.composite
def wrong_dtype_input(draw) -> Refusal:
    width = draw(widths)
    model, states = linear_lif(width, 2)
    shape = (draw(steps), width)
    # Integer, boolean and narrower float inputs are cast to the state's dtype,
    # as upstream's arithmetic promotes them (SPEC.md §4.5): complex inputs and
    # a float wider than the state are refused.
    dtype = draw(st.sampled_from([jnp.complex64, "float64"]))
    if dtype == "float64":
        def attempt():
            with jax.enable_x64(True):
                return model(states, jnp.ones(shape, jnp.float64), None)
        return Refusal("wrong dtype input", "input of dtype float64, state float32", attempt,
                       ("input_batch[0]", "float64", "float32"))
    xs = jnp.ones(shape, dtype)
    return Refusal("wrong dtype input", f"input of dtype {xs.dtype}",
                   lambda: model(states, xs, None), ("input_batch[0]", str(xs.dtype)))


@st.composite
def input_that_is_not_an_array(draw) -> Refusal:
    width = draw(widths)
    model, states = linear_lif(width, 2)
    given = draw(st.sampled_from(["abc", None, {"x": 1}, object(), [["a"]]]))
    return Refusal("input that is not an array", f"input_batch={given!r}",
                   lambda: model(states, given, None), ("input_batch",))


@st.composite
def sequence_lengths_that_cannot_run(draw) -> Refusal:
    flaw = draw(st.sampled_from(["T = 0", "scalar", "count", "different T"]))
    if flaw == "different T":
        model, states = two_input_counter()
        t_a, t_b = draw(steps), draw(steps.filter(lambda t: True))
        if t_a == t_b:
            t_b += 1
        xs = [jnp.ones((t_a, 2)), jnp.ones((t_b, 3))]
        return Refusal("sequence lengths that cannot run", f"T = {t_a} and {t_b}",
                       lambda: model(states, xs, None), ("input_batch", f"[{t_a}, {t_b}]"))
    width = draw(widths)
    model, states = linear_lif(width, 2)
    if flaw == "T = 0":
        xs, names = jnp.ones((0, width)), ("input_batch", "T = 0")
    elif flaw == "scalar":
        xs, names = jnp.float32(1.0), ("input_batch[0]", "scalar")
    else:
        count = draw(st.integers(2, 3))
        xs = [jnp.ones((2, width))] * count
        names = ("input_batch", "1 external input", f"{count} sequence")
    return Refusal("sequence lengths that cannot run", flaw, lambda: model(states, xs, None),
                   names)


@st.composite
def burnin_out_of_range(draw) -> Refusal:
    width, num_steps = draw(widths), draw(steps)
    model, states = linear_lif(width, 2)
    xs = jnp.ones((num_steps, width))
    burnin = draw(st.one_of(st.integers(num_steps, num_steps + 5), st.integers(-5, -1)))
    return Refusal("burnin out of range", f"burnin={burnin}, T={num_steps}",
                   lambda: model(states, xs, None, burnin=burnin),
                   ("burnin", str(burnin), f"T = {num_steps}"))


@st.composite
def burnin_that_is_not_an_int(draw) -> Refusal:
    width = draw(widths)
    model, states = linear_lif(width, 2)
    burnin = draw(st.sampled_from([1.0, "1", None, True, jnp.array(1), [1]]))
    return Refusal("burnin that is not an int", f"burnin={burnin!r}",
                   lambda: model(states, jnp.ones((3, width)), None, burnin=burnin),
                   ("burnin", type(burnin).__name__))


def describe_given_key(key) -> str:
    """How `checks.check_key` names what it was given."""
    if hasattr(key, "dtype") and hasattr(key, "shape"):
        return f"of shape {tuple(key.shape)}"
    return repr(key)


@st.composite
def malformed_key(draw) -> Refusal:
    batch = draw(st.integers(1, 4))
    key = draw(st.sampled_from([
        jnp.ones(2), jnp.array([0, 1], jnp.int32), jnp.zeros(3, jnp.uint32),
        jnp.zeros((1, 2), jnp.uint32), jax.random.split(KEY, batch),
        jax.random.split(jax.random.key(0), batch), jax.random.key_data(KEY).astype(jnp.float32),
        7, 7.0, "key", True, [0, 1], np.zeros(2, np.int64)]))
    width = draw(widths)
    model, states = linear_lif(width, 2)
    if draw(st.booleans()):
        context = "StatefulModel.__call__"

        def attempt():
            return model(states, jnp.ones((2, width)), key)
    else:
        context = "init_state"

        def attempt():
            return model.init_state((width,), key=key)
    return Refusal("malformed key", f"{context} with key {key!r:.60}", attempt,
                   (context, "key must be", describe_given_key(key), "PRNGKey"))


@st.composite
def states_that_do_not_fit(draw) -> Refusal:
    width = draw(widths)
    model, states = linear_lif(width, 2)
    xs = jnp.ones((2, width))
    flaw = draw(st.sampled_from(["length", "not a carry", "from another model",
                                 "truncated neuron state"]))
    if flaw == "length":
        given = list(states) + list(states[:draw(st.integers(1, 2))])
        given = given[:draw(st.sampled_from([0, 1, 3, 4]))]
        names = ("input_states", f"({len(states)})")
    elif flaw == "not a carry":
        index = draw(st.integers(0, 1))
        given = list(states)
        given[index] = draw(st.sampled_from([None, given[index].state, (1, 2)]))
        names = (f"input_states[{index}]", "LayerCarry")
    elif flaw == "from another model":
        other = draw(widths.filter(lambda w: w != 2))
        given = linear_lif(width, other)[1]
        names = ("input_batch", "input_states[", f"({other},)")
    else:
        given = list(states)
        lif_state = given[1].state
        given[1] = snn.LayerCarry(lif_state[:draw(st.integers(0, 2))], given[1].output)
        names = ("input_batch", "input_states[1]", "layer 1 (LIF)")
    return Refusal("states that do not fit", f"{flaw}", lambda: model(given, xs, None), names)


# One test id per kind of invalid input, so a failure names its kind.
INVALID_CONFIGURATIONS = [
    graph_with_bad_connectivity, model_with_bad_arguments,
    neuron_with_wrong_decay_count, constants_with_wrong_count,
    neuron_with_malformed_parameter, batchnorm_with_bad_statistics,
    pool_with_bad_window, pool_window_larger_than_input,
    composed_layer_with_bad_member, in_shape_that_is_not_a_shape,
    input_with_wrong_shape, wrong_dtype_input, input_that_is_not_an_array,
    sequence_lengths_that_cannot_run, burnin_out_of_range, burnin_that_is_not_an_int,
    malformed_key, states_that_do_not_fit]


@pytest.mark.parametrize("invalid_configuration", INVALID_CONFIGURATIONS,
                         ids=[strategy.__name__ for strategy in INVALID_CONFIGURATIONS])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_invalid_configuration_is_refused_with_a_clear_error(invalid_configuration, data):
    refusal = data.draw(invalid_configuration(), label=invalid_configuration.__name__)
    event(refusal.kind)
    error = refusal_error(refusal)
    message = str(error)
    assert type(error) in (ValueError, TypeError), (
        f"{refusal!r} raised {type(error).__module__}.{type(error).__name__}: {message}")
    assert not isinstance(error, JAX_ERRORS)
    event(f"{refusal.kind} -> {type(error).__name__}")
    assert message.startswith(refusal.names[0]), (
        f"{refusal!r}: the message does not start with {refusal.names[0]!r}: {message}")
    for name in refusal.names[1:]:
        assert name in message, f"{refusal!r}: {name!r} is missing from: {message}"


# -- the key is checked before anything is traced (SPEC.md §7.1) -----------------------

def test_a_malformed_key_is_refused_before_anything_is_traced():
    traced = []

    def counting_forward_fn(layers, struct, key, carry, step_inputs):
        traced.append(key)
        return snn.default_forward_fn(layers, struct, key, carry, step_inputs)

    model = snn.Sequential(snn.LIF(), forward_fn=counting_forward_fn)
    states = model.init_state((2,))
    xs = jnp.ones((3, 2))
    expected = {
        "a float32 array of shape (2,)": jnp.ones(2),
        "a int32 array of shape (2,)": jnp.array([0, 1], jnp.int32),
        "a uint32 array of shape (3, 2) (a batch of keys": jax.random.split(KEY, 3),
        "a typed key of shape (3,) (a batch of keys": jax.random.split(jax.random.key(0), 3),
        "got 7 (int) (a seed is not a key": 7,
    }
    for given, key in expected.items():
        with pytest.raises(TypeError) as info:
            model(states, xs, key)
        message = str(info.value)
        assert message.startswith("StatefulModel.__call__: key must be one PRNG key")
        assert given in message and "jax.random.PRNGKey(seed)" in message
        with pytest.raises(TypeError, match=r"^init_state: key must be one PRNG key"):
            model.init_state((2,), key=key)
    assert traced == []
    # Both kinds of key, and None, run.
    for key in (KEY, jax.random.key(0), None):
        _, (out,) = model(states, xs, key)
        assert out.shape == (3, 2)
    assert traced


# -- NaN and inf inputs propagate (SPEC.md §7.1) ----------------------------------------

def run_one_neuron(neuron, first_input):
    """One step of `neuron` (one neuron) at a time on the inputs [first_input, 0, 2, 2],
    eagerly, as a model's scan steps it: its outputs and final state."""
    state = neuron.init_state((1,))
    outputs = []
    for x in (first_input, 0.0, 2.0, 2.0):
        state, output = neuron(state, jnp.array([x]))
        outputs.append(float(output[0]))
    return outputs, [float(np.asarray(a).ravel()[0]) for a in state]


def test_nan_and_inf_inputs_are_not_rejected_and_propagate_as_ieee_arithmetic():
    nan, inf = float("nan"), float("inf")

    def is_nan(values):
        return all(np.isnan(v) for v in values)

    # NaN: H(NaN) = NaN (upstream's jnp.heaviside), so from the step a NaN reaches
    # the membrane every spike and state is NaN (LIF's and IAF's one step later,
    # through the synaptic current).
    for neuron_class, first_nan in ((snn.SimpleIAF, 0), (snn.SimpleLIF, 0), (snn.AdaptiveLIF, 0),
                                    (snn.SigmaDelta, 0), (snn.IAF, 1), (snn.LIF, 1),
                                    (snn.LIFSoftReset, 1)):
        spikes, state = run_one_neuron(neuron_class(), nan)
        assert spikes[:first_nan] == [0.0] * first_nan and is_nan(spikes[first_nan:]), \
            neuron_class
        assert is_nan(state), neuron_class
    # Outputs that are not spikes carry the NaN.
    for neuron_class in (snn.SimpleLI, snn.SpikeCounter):
        outputs, _ = run_one_neuron(neuron_class(), nan)
        assert np.isnan(outputs[0]), neuron_class
    # +inf spikes; the multiplicative reset V - V*S then computes inf - inf = NaN,
    # and NaN spikes follow.
    for neuron_class, first_spike in ((snn.SimpleIAF, 0), (snn.SimpleLIF, 0),
                                      (snn.AdaptiveLIF, 0), (snn.IAF, 1), (snn.LIF, 1)):
        spikes, state = run_one_neuron(neuron_class(), inf)
        assert spikes[:first_spike + 1] == [0.0] * first_spike + [1.0], neuron_class
        assert is_nan(spikes[first_spike + 1:]) and np.isnan(state[0]), neuron_class
    # LIFSoftReset subtracts one and SigmaDelta never resets: the membrane stays
    # infinite and spikes at every later step.
    spikes, state = run_one_neuron(snn.LIFSoftReset(), inf)
    assert spikes == [0.0, 1.0, 1.0, 1.0] and state[0] == inf
    spikes, state = run_one_neuron(snn.SigmaDelta(), inf)
    assert spikes == [1.0] * 4 and state[2] == inf
    # -inf does not spike; the reset V - V*0 gives -inf - NaN = NaN, then NaN spikes.
    for neuron_class, first_nan in ((snn.SimpleIAF, 1), (snn.SimpleLIF, 1),
                                    (snn.AdaptiveLIF, 1), (snn.IAF, 2), (snn.LIF, 2)):
        spikes, state = run_one_neuron(neuron_class(), -inf)
        assert spikes[:first_nan] == [0.0] * first_nan and is_nan(spikes[first_nan:]), \
            neuron_class
        assert np.isnan(state[0]), neuron_class
    for neuron_class, membrane_index in ((snn.LIFSoftReset, 0), (snn.SigmaDelta, 2)):
        spikes, state = run_one_neuron(neuron_class(), -inf)
        assert spikes == [0.0] * 4 and state[membrane_index] == -inf, neuron_class


def test_jax_debug_flags_reject_nan_and_inf_inputs():
    """The opt-in check is JAX's own: `jax_debug_nans` / `jax_debug_infs`."""
    model = snn.Sequential(snn.LIF())
    states = model.init_state((2,))
    with jax.debug_nans(True):
        with pytest.raises(FloatingPointError, match="nan"):
            model(states, jnp.array([[jnp.nan, 0.0], [0.0, 0.0]]), None)
        model(states, jnp.ones((2, 2)), None)  # finite inputs run
    with jax.debug_infs(True):
        with pytest.raises(FloatingPointError, match="inf"):
            model(states, jnp.array([[jnp.inf, 0.0], [0.0, 0.0]]), None)
