"""tiny_snn: a spiking-network library in a page of plain JAX.

It stands for "someone else's implementation": written from SPEC.md alone
(§3.5 LIF, §4 graphs), sharing no code with snnax_ref, and partial on
purpose: two layer kinds, one input sequence, each layer reading exactly one
source, no feedback. `adapter.py` beside it connects it to the conformance
suite.

    layers = [Linear(w, b), LIF(jnp.array([0.9, 0.8]))]
    model = FeedForward(layers, sources=[-1, 0], finals=[1])
    state = model.init_state(in_shape=(3,))
    final_state, (spikes,) = model(state, inputs)        # inputs: (T, 3)

A model is one sample (vmap it for batches). Arrays keep the dtype they are
given: for float64, build and run inside `jax.enable_x64(True)`.
"""

import jax
import jax.numpy as jnp


def heaviside(u):
    """H(u) = 1 where u >= 0, else 0 (so H(0) = 1; SPEC.md §1). Forward values
    only: tiny_snn defines no surrogate derivative, so it is not for training."""
    return jnp.heaviside(u, jnp.ones((), u.dtype))


class Linear:
    """`y = W x + b`, weight `(out, in)`, bias `(out,)` or None. Stateless:
    its state is `()`, and its initial output is itself applied to its initial
    input (SPEC.md §4.2: a Linear after a neuron starts at its bias)."""

    def __init__(self, weight, bias=None):
        self.weight, self.bias = weight, bias

    def init_state(self, x0):
        return ()

    def initial_output(self, x0):
        return self((), x0)[1]

    def __call__(self, state, x):
        y = self.weight @ x
        return (), y if self.bias is None else y + self.bias


class LIF:
    """SPEC.md §3.5. State `(V, I, S)`, zeros at first; per step, with
    `a = clamp(0.5, dc[0], 1)`, `b = clamp(0.5, dc[1], 1)` and `R = stop_gradient`
    when `stop_reset_grad` (else the identity):

        V = V - R(V*S_prev)                  if reset_val is None
        V = V - R((V - reset_val)*S_prev)    otherwise
        V = a*V + (1 - a)*I_prev             (the previous step's current)
        I = b*I_prev + (1 - b)*x
        S = H(V - threshold)                 the output

    `decay_constants` has shape `(2,)` or `(2, *neuron_shape)`."""

    def __init__(self, decay_constants, threshold=1.0, reset_val=None, stop_reset_grad=True):
        self.decay_constants, self.threshold = decay_constants, threshold
        self.reset_val, self.stop_reset_grad = reset_val, stop_reset_grad

    def init_state(self, x0):
        return (jnp.zeros_like(x0),) * 3

    def initial_output(self, x0):
        return jnp.zeros_like(x0)

    def spikes(self, V):
        return heaviside(V - self.threshold)

    def __call__(self, state, x):
        V, I, S = state
        a = jnp.clip(self.decay_constants[0], 0.5, 1.0)
        b = jnp.clip(self.decay_constants[1], 0.5, 1.0)
        reset = jax.lax.stop_gradient if self.stop_reset_grad else (lambda v: v)
        V = V - reset(V * S if self.reset_val is None else (V - self.reset_val) * S)
        V = a * V + (1 - a) * I
        I = b * I + (1 - b) * x
        S = self.spikes(V)
        return (V, I, S), S


class FeedForward:
    """Layers evaluated in index order at every step; layer `i` reads
    `sources[i]`: an earlier layer `j < i`, or `-1` for the input sequence.
    The model returns the outputs of the layers `finals`, in that order.

    `delayed=False` is SPEC.md §4.4's straight-through rule (an edge reads
    its source's output of this step); `delayed=True` reads the previous
    step's, the initial output at step 0. The model state is `(layer states,
    last outputs)`; `burnin` steps run first and produce no outputs (§4.5)."""

    def __init__(self, layers, sources, finals, delayed=False):
        if any(not -1 <= j < i for i, j in enumerate(sources)):
            raise ValueError(f"FeedForward: sources {sources}: layer i reads -1 or j < i")
        self.layers, self.sources, self.finals = list(layers), list(sources), list(finals)
        self.delayed = delayed

    def init_state(self, in_shape, dtype=None):
        x0, states, outputs = jnp.zeros(in_shape, dtype), [], []
        for layer, j in zip(self.layers, self.sources):
            read = x0 if j < 0 else outputs[j]
            states.append(layer.init_state(read))
            outputs.append(layer.initial_output(read))
        return tuple(states), tuple(outputs)

    def step(self, carry, x):
        states, previous = carry
        new_states, outputs = [], []
        for layer, j, state in zip(self.layers, self.sources, states):
            read = x if j < 0 else previous[j] if self.delayed else outputs[j]
            state, y = layer(state, read)
            new_states.append(state)
            outputs.append(y)
        return (tuple(new_states), tuple(outputs)), tuple(outputs[f] for f in self.finals)

    def __call__(self, state, inputs, burnin=0):
        """`(final_state, outputs)` for `inputs` of shape `(T, *in_shape)`:
        one array `(T - burnin, ...)` per final layer."""
        if burnin:
            state, _ = jax.lax.scan(self.step, state, inputs[:burnin])
            state = jax.lax.stop_gradient(state)
        return jax.lax.scan(self.step, state, inputs[burnin:])
