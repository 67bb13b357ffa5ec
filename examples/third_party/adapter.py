"""The conformance suite's adapter for tiny_snn: the one file to write when
you wrap your own library (the protocol: `spec_tests/adapters/__init__.py`,
`Adapter`).

The suite hands an adapter a network *description* (`spec_tests/description.py`:
a `NetworkSpec` of `LayerSpec`s, plain NumPy data) and asks it to build a
model, make its initial state, run input sequences through it and read the
states back as flat arrays; it compares everything with its NumPy oracle.
Run it from the repository root (the module must be importable from there):

    snnax-ref conform --impl examples.third_party.adapter:adapter

`adapter_with_bug` is the same library with one planted bug (a LIF that
spikes only strictly above its threshold) to see what a deviation looks like;
`adapter_same_step_current` and `adapter_subtract_threshold` plant the other
update orders the diagnosis names.
"""

import jax
import jax.numpy as jnp
import numpy as np

from spec_tests.adapters.support import Support
from spec_tests.description import DELAYED, STRAIGHT_THROUGH

try:                                   # a package (python -m, pytest) or a script folder
    from . import tiny_snn
except ImportError:
    import tiny_snn


class TinyAdapter:
    """What the suite calls, in this order, for every generated run:
    `build` -> `init_state` (or `set_state`) -> `run` -> `read_states`, all
    inside `precision(dtype)`."""

    # Known deviations: a file of test-id prefixes the suite skips (none here).
    deviations_file = None
    # What tiny_snn can build. The suite draws its networks at random and
    # passes over those outside this declaration; a row none of whose
    # networks fits is reported "not applicable". A network inside it that
    # then fails to build or run is a failure, so the declaration is exact:
    # layers Linear and LIF; one input sequence; each layer reads one source
    # (no concatenation), an earlier layer or the input (no feedback).
    supports = Support(kinds={"Linear", "LIF"}, forwards={STRAIGHT_THROUGH, DELAYED},
                       feedback=False, concatenation=False, several_inputs=False,
                       several_outputs=True, dtypes={"float64", "float32"})

    def __init__(self, lif=tiny_snn.LIF, name="tiny_snn"):
        self.lif, self.name = lif, name

    def precision(self, dtype):
        """A context manager every call runs in. JAX computes in float32
        unless x64 is on, so the float64 rows need it on (and float32 off)."""
        return jax.enable_x64(dtype == "float64")

    def build(self, network, forward, dtype):
        """A model for `network` (a `NetworkSpec`), parameters cast to `dtype`.
        `forward` is "straight_through" or "delayed" (SPEC.md §4.4)."""
        sources = []
        for i, (layers, inputs) in enumerate(zip(network.input_connectivity,
                                                 network.input_layer_ids)):
            one_source = len(layers) + len(inputs) == 1 and tuple(inputs) in ((), (0,))
            if not one_source or any(j >= i for j in layers):
                raise NotImplementedError(f"tiny_snn: layer {i} reads layers {layers} and "
                                          f"inputs {inputs}; it needs one earlier layer or input 0")
            sources.append(layers[0] if layers else -1)
        layers = [self.layer(spec, dtype) for spec in network.layers]
        return tiny_snn.FeedForward(layers, sources, network.final_layer_ids,
                                    delayed=forward == DELAYED), dtype

    def layer(self, spec, dtype):
        """One tiny_snn layer from a `LayerSpec`: `spec.params` holds arrays
        (Linear: `weight` (out, in), `bias` or absent; LIF: `decay_constants`),
        `spec.hyper` the constants (LIF: `threshold`, `reset_val`,
        `stop_reset_grad`, `spike_fn`; tiny_snn has no surrogates, so it
        ignores `spike_fn`, which changes gradients only)."""
        p = {name: jnp.asarray(value, dtype) for name, value in spec.params.items()}
        if spec.kind == "Linear":
            return tiny_snn.Linear(p["weight"], p.get("bias"))
        h = spec.hyper                 # SPEC.md §3's defaults where a key is absent
        return self.lif(p["decay_constants"], h.get("threshold", 1.0), h.get("reset_val"),
                        h.get("stop_reset_grad", True))

    def init_state(self, model, network, key_seed=0):
        """The default initial state (zeros; a Linear's initial output is
        itself applied to its initial input). tiny_snn has no random layers,
        so it needs no key."""
        model, dtype = model
        return model.init_state(network.input_shapes[0], dtype)

    def run(self, model, state, inputs, burnin, key_seed=1):
        """`(final_state, outputs)`: `inputs` is one NumPy array `(T, ...)` per
        input sequence (here one); outputs one array `(T - burnin, ...)` per
        final layer."""
        model, dtype = model
        final_state, outputs = model(state, jnp.asarray(inputs[0], dtype), burnin)
        return final_state, [np.asarray(o) for o in outputs]

    def read_states(self, model, network, final_state):
        """`(states, outputs)`: per layer its state as a flat list in SPEC
        order (LIF `[V, I, S]`, Linear `[]`), and its last output."""
        states, outputs = final_state
        return [[np.asarray(a) for a in s] for s in states], [np.asarray(o) for o in outputs]

    def set_state(self, model, network, states, outputs):
        """The inverse of `read_states` (optional: with it the suite also runs
        a model from a given state, and a run split in two calls)."""
        return (tuple(tuple(jnp.asarray(a) for a in s) for s in states),
                tuple(jnp.asarray(o) for o in outputs))


adapter = TinyAdapter()


class StrictThresholdLIF(tiny_snn.LIF):
    """A planted bug: spikes only where `V > threshold` (SPEC.md: `H(0) = 1`,
    a membrane exactly at its threshold spikes)."""

    def spikes(self, V):
        return (V > self.threshold).astype(V.dtype)


class SameStepCurrentLIF(tiny_snn.LIF):
    """A planted bug: the current is updated first and the membrane integrates
    this step's current (snnTorch's `Synaptic` order; SPEC.md: `I_prev`)."""

    def __call__(self, state, x):
        V, I, S = state
        a = jnp.clip(self.decay_constants[0], 0.5, 1.0)
        b = jnp.clip(self.decay_constants[1], 0.5, 1.0)
        V = V - jax.lax.stop_gradient(V * S if self.reset_val is None
                                      else (V - self.reset_val) * S)
        I = b * I + (1 - b) * x
        V = a * V + (1 - a) * I
        S = self.spikes(V)
        return (V, I, S), S


class SubtractThresholdLIF(tiny_snn.LIF):
    """A planted bug: the reset subtracts the threshold (snnTorch's default
    `reset_mechanism="subtract"`; SPEC.md: `V - V*S_prev`, a reset to zero)."""

    def __call__(self, state, x):
        V, I, S = state
        a = jnp.clip(self.decay_constants[0], 0.5, 1.0)
        b = jnp.clip(self.decay_constants[1], 0.5, 1.0)
        V = V - jax.lax.stop_gradient(self.threshold * S)
        V = a * V + (1 - a) * I
        I = b * I + (1 - b) * x
        S = self.spikes(V)
        return (V, I, S), S


adapter_with_bug = TinyAdapter(lif=StrictThresholdLIF, name="tiny_snn with a planted bug")
# One planted bug per update order other libraries use, each named by the
# diagnosis (`snnax-ref conform --impl examples.third_party.adapter:<name>`).
adapter_same_step_current = TinyAdapter(lif=SameStepCurrentLIF,
                                        name="tiny_snn, current read in the same step")
adapter_subtract_threshold = TinyAdapter(lif=SubtractThresholdLIF,
                                         name="tiny_snn, reset subtracting the threshold")
