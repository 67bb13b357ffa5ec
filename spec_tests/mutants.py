"""Realistic semantic bugs planted into snnax_ref, to measure what the suite catches.

Each mutant patches the reference in place (inside a context manager) the way
a plausible implementation mistake would, and names the conformance rows
whose properties should catch it. Nothing here is used by the reference.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax


@dataclass(frozen=True)
class Mutant:
    """A planted bug; `adapter` says which snnax_ref execution path it lives in
    ("step": the step-by-step scan, "default": the graph schedule)."""

    name: str
    bug: str
    rows: Sequence[str]
    patch: Callable[[contextlib.ExitStack], None]
    adapter: str = "step"


def _set(stack: contextlib.ExitStack, target, attribute: str, value) -> None:
    original = getattr(target, attribute)
    setattr(target, attribute, value)
    stack.callback(setattr, target, attribute, original)


def _modules():
    from snnax_ref.functional import surrogate
    from snnax_ref.snn import architecture, forward
    from snnax_ref.snn import schedule
    from snnax_ref.snn.layers import iaf, lif, sigma_delta, srm
    return surrogate, architecture, forward, iaf, lif, sigma_delta, srm, schedule


# -- neuron equations ----------------------------------------------------------

def _wrong_clamp_bound(stack):
    lif = _modules()[4]
    _set(stack, lif, "clamp", lambda low, value, high: jnp.clip(
        value, 0.4 if low == 0.5 else low, high))


def _lif_swapped_decays(stack):
    lif = _modules()[4]

    def call(self, state, synaptic_input, *, key=None):
        membrane, current, previous_spikes = state
        membrane_decay = lif.clamp(0.5, self.decay_constants[1], 1.0)
        current_decay = lif.clamp(0.5, self.decay_constants[0], 1.0)
        membrane = membrane - self.refractory(self.reset_term(membrane, previous_spikes))
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * current
        current = current_decay * current + (1.0 - current_decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        return [membrane, current, spikes], spikes
    _set(stack, lif.LIF, "__call__", call)


def _heaviside_zero_is_zero(stack):
    surrogate = _modules()[0]
    _set(stack, surrogate, "heaviside", lambda x: jnp.where(x > 0, 1.0, 0.0).astype(x.dtype))


def _lif_reset_after_integration(stack):
    lif = _modules()[4]

    def call(self, state, synaptic_input, *, key=None):
        membrane, current, _ = state
        membrane_decay = lif.clamp(0.5, self.decay_constants[0], 1.0)
        current_decay = lif.clamp(0.5, self.decay_constants[1], 1.0)
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * current
        current = current_decay * current + (1.0 - current_decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        membrane = membrane - self.refractory(self.reset_term(membrane, spikes))
        return [membrane, current, spikes], spikes
    _set(stack, lif.LIF, "__call__", call)


def _lif_state_components_swapped(stack):
    lif = _modules()[4]
    original = lif.LIF.__call__

    def call(self, state, synaptic_input, *, key=None):
        (membrane, current, spikes), out = original(self, state, synaptic_input, key=key)
        return [current, membrane, spikes], out
    _set(stack, lif.LIF, "__call__", call)


def _simple_lif_reset_without_softplus(stack):
    lif = _modules()[4]

    def call(self, state, synaptic_input, *, key=None):
        membrane, _ = state
        decay = lif.clamp(0.5, self.decay_constants[0], 1.0)
        membrane = decay * membrane + (1.0 - decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        return [membrane - self.refractory(reset), spikes], spikes
    _set(stack, lif.SimpleLIF, "__call__", call)


def _iaf_integrates_new_current(stack):
    iaf = _modules()[3]

    def call(self, state, synaptic_input, *, key=None):
        membrane, current, _ = state
        decay = iaf.clamp(0.5, self.decay_constants[0], 1.0)
        current = decay * current + (1.0 - decay) * synaptic_input
        membrane = (membrane - self.leak) + current
        spikes = self.spike_fn(membrane - self.threshold)
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        return [membrane - self.refractory(reset), current, spikes], spikes
    _set(stack, iaf.IAF, "__call__", call)


def _adaptive_reads_reset_membrane(stack):
    lif = _modules()[4]

    def call(self, state, synaptic_input, *, key=None):
        membrane, adaptation, _ = state
        a = lif.clamp(0.5, self.decay_constants[0], 1.0)
        b = lif.clamp(0.5, self.ada_decay_constant[0], 1.0)
        c = lif.clamp(-1.0, self.ada_coupling_var[0], 1.0)
        d = lif.clamp(0.0, self.ada_step_val[0], 2.0)
        membrane = a * membrane + (1.0 - a) * (synaptic_input + adaptation)
        spikes = self.spike_fn(membrane - self.threshold)
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        membrane = membrane - self.refractory(reset)
        adaptation = (1.0 - b) * c * membrane + b * adaptation - d * lax.stop_gradient(spikes)
        return [membrane, adaptation, spikes], spikes
    _set(stack, lif.AdaptiveLIF, "__call__", call)


def _sigma_delta_error_uses_spikes(stack):
    sigma_delta = _modules()[5]

    def call(self, state, synaptic_input, *, key=None):
        sigma, _, membrane, feedback, previous_spikes = state
        input_decay, membrane_decay, feedback_decay = self.decay_constants
        sigma = sigma * input_decay + synaptic_input
        error = sigma - previous_spikes
        membrane = membrane * membrane_decay + error
        spikes = self.spike_fn(membrane - self.threshold)
        feedback = feedback * feedback_decay + spikes
        return [sigma, error, membrane, feedback, spikes], spikes
    _set(stack, sigma_delta.SigmaDelta, "__call__", call)


def _srm_reset_val_unclamped(stack):
    srm = _modules()[6]

    def call(self, state, synaptic_input, *, key=None):
        p, q, refractory, previous_spikes = state
        a = srm.clamp(0.5, self.decay_constants[0], 1.0)
        b = srm.clamp(0.5, self.decay_constants[1], 1.0)
        g = srm.clamp(0.5, self.r_decay_constants[0], 1.0)
        reset_val = self.reset_val.data[0]
        p = a * p + (1.0 - a) * synaptic_input
        q = b * q + (1.0 - b) * p
        refractory = g * refractory + reset_val * lax.stop_gradient(previous_spikes)
        spikes = self.spike_fn(self.layer(q) - reset_val * refractory - self.threshold)
        return [p, q, refractory, spikes], spikes
    _set(stack, srm.SRM, "__call__", call)


# -- graph semantics -----------------------------------------------------------

def _feedforward_reads_previous_step(stack):
    architecture, forward = _modules()[1:3]
    _set(stack, architecture, "default_forward_fn", forward.delayed_forward_fn)


def _feedback_reads_same_step(stack):
    architecture, forward = _modules()[1:3]

    def forward_fn(layers, struct, key, carry, step_inputs):
        # A fixed point attempt: a second pass lets feedback edges see step t.
        first_pass, _ = forward.default_forward_fn(layers, struct, key, carry, step_inputs)
        mixed = [forward.LayerCarry(c.state, f.output) for c, f in zip(carry, first_pass)]
        return forward._graph_step(layers, struct, key, mixed, step_inputs,
                                   reads_this_step=lambda source, target: True)
    _set(stack, architecture, "default_forward_fn", forward_fn)


def _reversed_concatenation(stack):
    forward = _modules()[2]
    original = forward.combine_inputs
    _set(stack, forward, "combine_inputs",
         lambda layer, inputs: original(layer, list(reversed(inputs))))


def _final_layer_ids_ignored(stack):
    forward = _modules()[2]
    original = forward._graph_step

    def graph_step(layers, struct, key, carry, step_inputs, reads_this_step):
        new_carry, outputs = original(layers, struct, key, carry, step_inputs, reads_this_step)
        return new_carry, [new_carry[-1].output]
    _set(stack, forward, "_graph_step", graph_step)


def _schedule_hoists_stateful_layers(stack):
    schedule = _modules()[7]
    _set(stack, schedule, "is_time_parallel",
         lambda layers, struct, component: len(component) == 1
         and component[0] not in struct.input_connectivity[component[0]])


def _burnin_outputs_kept(stack):
    architecture = _modules()[1]
    original = architecture.StatefulModel.__call__

    def call(self, input_states, input_batch, key, burnin=0):
        return original(self, input_states, input_batch, key, burnin=0)
    _set(stack, architecture.StatefulModel, "__call__", call)


def _ignores_initial_state(stack):
    architecture = _modules()[1]
    original = architecture.StatefulModel.__call__

    def call(self, input_states, input_batch, key, burnin=0):
        # Starts every call from a fresh init_state, whatever state it is given
        # (zeros where init_state cannot settle the shapes alone).
        sequences = input_batch if isinstance(input_batch, (list, tuple)) else [input_batch]
        shapes = [tuple(x.shape[1:]) for x in sequences]
        try:
            fresh = self.init_state(shapes[0] if len(shapes) == 1 else shapes,
                                    key=jax.random.PRNGKey(0))
            fresh = jax.tree_util.tree_map(lambda new, old: new.astype(old.dtype),
                                           fresh, list(input_states))
        except ValueError:
            fresh = jax.tree_util.tree_map(jnp.zeros_like, list(input_states))
        return original(self, fresh, input_batch, key, burnin=burnin)
    _set(stack, architecture.StatefulModel, "__call__", call)


def _checkpoint_drops_last_chunk(stack):
    architecture, schedule = _modules()[1], _modules()[7]
    from snnax_ref.snn import scan

    def scan_over_time(body, carry, xs, num_steps, *, checkpoint=False, unroll=1):
        if not checkpoint or num_steps < 4:
            return lax.scan(body, carry, xs, length=num_steps, unroll=unroll)
        chunk = scan.chunk_length(num_steps)
        num_chunks, remainder = divmod(num_steps, chunk)
        bulk = num_chunks * chunk

        def rematerialised(length):
            return jax.checkpoint(lambda c, x: lax.scan(body, c, x, length=length,
                                                        unroll=unroll))

        carry, ys = lax.scan(rematerialised(chunk), carry, jax.tree_util.tree_map(
            lambda leaf: leaf[:bulk].reshape(num_chunks, chunk, *leaf.shape[1:]), xs),
            length=num_chunks)
        ys = jax.tree_util.tree_map(lambda leaf: leaf.reshape(bulk, *leaf.shape[2:]), ys)
        if remainder:
            tail_xs = jax.tree_util.tree_map(lambda leaf: leaf[bulk:], xs)
            _, tail_ys = rematerialised(remainder)(carry, tail_xs)  # its carry is dropped
            ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, tail_ys)
        return carry, ys
    _set(stack, architecture, "scan_over_time", scan_over_time)
    _set(stack, schedule, "scan_over_time", scan_over_time)


# -- gradients ----------------------------------------------------------------

def _superspike_slope_doubled(stack):
    surrogate = _modules()[0]
    _set(stack, surrogate, "_superspike_derivative",
         lambda x, beta: 1.0 / (1.0 + 2.0 * beta * jnp.abs(x)))


def _piecewise_window_doubled(stack):
    surrogate = _modules()[0]
    _set(stack, surrogate, "_piecewise_derivative",
         lambda x, beta: jnp.where(jnp.abs(x) <= 2.0 * beta, 1.0, 0.0).astype(x.dtype))


def _reset_stop_gradient_missing(stack):
    from snnax_ref.snn.layers import spiking
    _set(stack, spiking.SpikingLayer, "refractory", lambda self, reset_term: reset_term)


def _burnin_gradient_leaks(stack):
    import types
    architecture = _modules()[1]
    _set(stack, architecture, "lax", types.SimpleNamespace(
        scan=lax.scan, stop_gradient=lambda tree: tree))


def _frozen_parameter_gets_gradient(stack):
    from snnax_ref.snn.layers import stateful
    _set(stack, stateful.TrainableArray, "data", property(lambda self: self.value))


def _adaptive_spike_term_not_stopped(stack):
    lif = _modules()[4]

    def call(self, state, synaptic_input, *, key=None):
        membrane, adaptation, _ = state
        a = lif.clamp(0.5, self.decay_constants[0], 1.0)
        b = lif.clamp(0.5, self.ada_decay_constant[0], 1.0)
        c = lif.clamp(-1.0, self.ada_coupling_var[0], 1.0)
        d = lif.clamp(0.0, self.ada_step_val[0], 2.0)
        membrane = a * membrane + (1.0 - a) * (synaptic_input + adaptation)
        spikes = self.spike_fn(membrane - self.threshold)
        adaptation = (1.0 - b) * c * membrane + b * adaptation - d * spikes
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        return [membrane - self.refractory(reset), adaptation, spikes], spikes
    _set(stack, lif.AdaptiveLIF, "__call__", call)



def _srm_refractory_input_not_stopped(stack):
    import types
    from snnax_ref.snn.layers import srm
    _set(stack, srm, "lax", types.SimpleNamespace(stop_gradient=lambda tree: tree))


GRADIENT_MUTANTS = [
    Mutant("superspike-slope-doubled", "superspike derivative uses 2*beta",
           ["gradient: jvp", "gradient: vjp"], _superspike_slope_doubled),
    Mutant("piecewise-window-doubled", "piecewise surrogate window is [-2 beta, 2 beta]",
           ["gradient: surrogates", "gradient: jvp", "gradient: vjp"],
           _piecewise_window_doubled),
    Mutant("reset-stop-gradient-missing", "stop_reset_grad=True does not stop the reset's "
           "gradient", ["gradient: jvp", "gradient: vjp"], _reset_stop_gradient_missing),
    Mutant("burnin-gradient-leaks", "the state after burnin is not stop-gradiented",
           ["gradient: vjp", "gradient: jvp"], _burnin_gradient_leaks),
    Mutant("frozen-parameter-gets-gradient", "init_parameters(requires_grad=False) still "
           "passes gradient", ["gradient: frozen parameters"], _frozen_parameter_gets_gradient),
    Mutant("adaptive-spike-term-not-stopped", "AdaptiveLIF's d*S term is not stop-gradiented",
           ["gradient: AdaptiveLIF"], _adaptive_spike_term_not_stopped),
    Mutant("srm-refractory-not-stopped", "SRM's refractory input rv*S_prev is not "
           "stop-gradiented", ["gradient: SRM"], _srm_refractory_input_not_stopped),
]

MUTANTS = [
    Mutant("wrong-clamp-bound", "decay constants clamped to [0.4, 1] instead of [0.5, 1]",
           ["SimpleLIF", "LIF", "AdaptiveLIF"], _wrong_clamp_bound),
    Mutant("lif-swapped-decays", "LIF uses dc[1] for the membrane and dc[0] for the current",
           ["LIF"], _lif_swapped_decays),
    Mutant("heaviside-zero-is-zero", "H(0) = 0: a membrane exactly at threshold is silent",
           ["SimpleIAF", "SpikingMaxPool1d", "SpikingMaxPool2d", "LIF"], _heaviside_zero_is_zero),
    Mutant("lif-reset-after-integration", "LIF resets with this step's spikes, after integrating",
           ["LIF"], _lif_reset_after_integration),
    Mutant("lif-state-swapped", "LIF stores its state as [I, V, S]", ["LIF"],
           _lif_state_components_swapped),
    Mutant("simplelif-no-softplus", "SimpleLIF subtracts reset_val without softplus",
           ["SimpleLIF"], _simple_lif_reset_without_softplus),
    Mutant("iaf-new-current", "IAF integrates this step's current instead of the previous",
           ["IAF"], _iaf_integrates_new_current),
    Mutant("adaptive-reads-reset-membrane", "AdaptiveLIF adapts on the membrane after reset",
           ["AdaptiveLIF"], _adaptive_reads_reset_membrane),
    Mutant("sigma-delta-error-uses-spikes", "SigmaDelta's error subtracts S instead of s",
           ["SigmaDelta"], _sigma_delta_error_uses_spikes),
    Mutant("srm-reset-unclamped", "SRM's reset_val is not clamped to [0, 2]", ["SRM"],
           _srm_reset_val_unclamped),
    Mutant("feedforward-reads-t-1", "straight-through forward reads feed-forward edges at t-1",
           ["graph: straight-through reads", "forward: straight-through"],
           _feedforward_reads_previous_step),
    Mutant("feedback-reads-t", "straight-through forward reads feedback edges at step t",
           ["graph: feedback delay", "forward: straight-through"], _feedback_reads_same_step),
    Mutant("reversed-concatenation", "several inputs concatenated in reverse order",
           ["graph: multi-input concatenation order", "graph: composed layers",
            "forward: straight-through", "forward: delayed"], _reversed_concatenation),
    Mutant("final-layer-ids-ignored", "the model returns only the last layer's output",
           ["graph: final_layer_ids", "graph: several inputs and outputs",
            "forward: straight-through", "forward: delayed"], _final_layer_ids_ignored),
    Mutant("burnin-outputs-kept", "burnin steps are included in the outputs",
           ["graph: burnin", "forward: straight-through", "forward: delayed"],
           _burnin_outputs_kept),
    Mutant("schedule-hoists-stateful", "the graph schedule evaluates stateful layers "
           "outside the scan", ["graph: straight-through reads", "forward: straight-through"],
           _schedule_hoists_stateful_layers,
           adapter="default"),
    Mutant("ignores-initial-state", "the model's __call__ replaces the given state with a "
           "fresh init_state", ["state: given initial state", "state: chunked run"],
           _ignores_initial_state, adapter="default"),
    Mutant("checkpoint-drops-last-chunk", "the checkpointed scan returns the carry from "
           "before its last partial chunk", ["state: chunked run", "state: given initial state"],
           _checkpoint_drops_last_chunk, adapter="default"),
] + GRADIENT_MUTANTS


@contextlib.contextmanager
def planted(mutant: Mutant):
    """The reference with `mutant`'s bug, for the duration of the block."""
    with contextlib.ExitStack() as stack:
        jax.clear_caches()
        stack.callback(jax.clear_caches)
        mutant.patch(stack)
        yield
