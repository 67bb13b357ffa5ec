"""Realistic semantic bugs planted into snnax_ref, to measure what the suite catches.

Each mutant is written as checked source substitutions: in a module of the
reference, an exact old text (which must occur exactly once) becomes a new
text. Planting a mutant compiles the substituted module source and swaps the
code of every function whose code the substitutions changed into the live
function objects (restored afterwards), so every class, instance and import
of the reference keeps its identity and only behaviour changes. When the
reference moves on and an old text no longer occurs exactly once, the
mutant fails loudly (`StaleMutant`, naming the mutant, the module and the
text) instead of silently planting nothing;
`meta_tests/test_mutation.py::test_every_mutant_substitution_applies`
checks every mutant that way in the normal test run. Keep the old texts
short: one or two lines that say what the bug changes.

Each mutant names the conformance rows whose properties should catch it.
Nothing here is used by the reference.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import jax


@dataclass(frozen=True)
class Substitution:
    """In `module` (a dotted name), the exact text `old` becomes `new`."""

    module: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """A planted bug; `adapter` says which snnax_ref execution path it lives in
    ("step": the step-by-step scan, "default": the execution plan drawn per
    run, so the graph schedule and checkpointed scans too)."""

    name: str
    bug: str
    rows: Sequence[str]
    substitutions: Tuple[Substitution, ...]
    adapter: str = "step"


class StaleMutant(Exception):
    """A mutant's substitution no longer applies to the reference's source."""


def _sub(module: str, old: str, new: str) -> Substitution:
    return Substitution("snnax_ref." + module, old, new)


# -- neuron equations ----------------------------------------------------------

NEURON_MUTANTS = [
    Mutant("wrong-clamp-bound", "LIF's current decay and AdaptiveLIF's adaptation decay "
           "clamped to [0.4, 1] instead of [0.5, 1]", ["LIF", "AdaptiveLIF"],
           (_sub("snn.layers.lif", "clamped_decay(self.decay_constants[1])",
                 "lax.clamp(0.4, self.decay_constants[1], 1.0)"),
            _sub("snn.layers.lif", "adaptation_decay = clamped_decay(self.ada_decay_constant[0])",
                 "adaptation_decay = lax.clamp(0.4, self.ada_decay_constant[0], 1.0)"))),
    Mutant("lif-swapped-decays", "LIF uses dc[1] for the membrane and dc[0] for the current",
           ["LIF"],
           (_sub("snn.layers.lif",
                 "return clamped_decay(self.decay_constants[0]), "
                 "clamped_decay(self.decay_constants[1])",
                 "return clamped_decay(self.decay_constants[1]), "
                 "clamped_decay(self.decay_constants[0])"),)),
    Mutant("heaviside-zero-is-zero", "H(0) = 0: a membrane exactly at threshold is silent",
           ["SimpleIAF", "SpikingMaxPool1d", "SpikingMaxPool2d", "LIF"],
           (_sub("functional.surrogate", "jnp.heaviside(x, jnp.ones((), x.dtype))",
                 "jnp.heaviside(x, jnp.zeros((), x.dtype))"),)),
    Mutant("lif-reset-after-integration", "LIF resets with this step's spikes, after integrating",
           ["LIF"],
           (_sub("snn.layers.lif",
                 "        membrane = self.after_reset(membrane, previous_spikes)\n", ""),
            _sub("snn.layers.lif",
                 "        spikes = self.spike_fn(membrane - self.threshold)\n"
                 "        return [membrane, synaptic_current, spikes], spikes",
                 "        spikes = self.spike_fn(membrane - self.threshold)\n"
                 "        membrane = self.after_reset(membrane, spikes)\n"
                 "        return [membrane, synaptic_current, spikes], spikes"))),
    Mutant("lif-state-swapped", "LIF stores its state as [I, V, S]", ["LIF"],
           (_sub("snn.layers.lif", "return [membrane, synaptic_current, spikes], spikes",
                 "return [synaptic_current, membrane, spikes], spikes"),)),
    Mutant("simplelif-no-softplus", "SimpleLIF subtracts reset_val without softplus",
           ["SimpleLIF"],
           (_sub("snn.layers.lif", "reset = jax.nn.softplus(self.reset_val) * spikes",
                 "reset = self.reset_val * spikes"),)),
    Mutant("iaf-new-current", "IAF integrates this step's current instead of the previous",
           ["IAF"],
           (_sub("snn.layers.iaf",
                 "        membrane = (membrane - self.leak) + synaptic_current\n"
                 "        synaptic_current = current_decay * synaptic_current + "
                 "(1.0 - current_decay) * synaptic_input\n",
                 "        synaptic_current = current_decay * synaptic_current + "
                 "(1.0 - current_decay) * synaptic_input\n"
                 "        membrane = (membrane - self.leak) + synaptic_current\n"),)),
    Mutant("adaptive-reads-reset-membrane", "AdaptiveLIF adapts on the membrane after reset",
           ["AdaptiveLIF"],
           (_sub("snn.layers.lif", "adaptation = ((1.0 - adaptation_decay) * coupling * membrane",
                 "adaptation = ((1.0 - adaptation_decay) * coupling * (membrane - "
                 "self.apply_stop_reset_grad(membrane * spikes if self.reset_val is None "
                 "else self.reset_val * spikes))"),)),
    Mutant("sigma-delta-error-uses-spikes", "SigmaDelta's error subtracts S instead of s",
           ["SigmaDelta"],
           (_sub("snn.layers.sigma_delta", "error = sigma - feedback",
                 "error = sigma - state[-1]"),)),
    Mutant("srm-reset-unclamped", "SRM's reset_val is not clamped to [0, 2]", ["SRM"],
           (_sub("snn.layers.srm", "reset_val = clamp(0.0, self.reset_val.data[0], 2.0)",
                 "reset_val = self.reset_val.data[0]"),)),
]


# -- graph semantics -----------------------------------------------------------

GRAPH_MUTANTS = [
    Mutant("feedforward-reads-t-1", "straight-through forward reads feed-forward edges at t-1",
           ["graph: straight-through reads", "forward: straight-through"],
           (_sub("snn.forward", "    return source < target", "    return False"),)),
    Mutant("feedback-reads-t", "straight-through forward reads feedback edges at step t "
           "(a second pass over the graph)", ["graph: feedback delay", "forward: straight-through"],
           (_sub("snn.forward",
                 "    return _graph_step(layers, struct, key, carry, step_inputs, reads_this_step)",
                 "    first, _ = _graph_step(layers, struct, key, carry, step_inputs, "
                 "reads_this_step)\n"
                 "    mixed = [LayerCarry(c.state, f.output) for c, f in zip(carry, first)]\n"
                 "    return _graph_step(layers, struct, key, mixed, step_inputs, "
                 "lambda source, target: True)"),)),
    Mutant("reversed-concatenation", "several inputs concatenated in reverse order",
           ["graph: multi-input concatenation order", "graph: composed layers",
            "forward: straight-through", "forward: delayed"],
           (_sub("snn.forward", "return jnp.concatenate(inputs, axis=0)",
                 "return jnp.concatenate(inputs[::-1], axis=0)"),)),
    Mutant("final-layer-ids-ignored", "the model returns only the last layer's output",
           ["graph: final_layer_ids", "graph: several inputs and outputs",
            "forward: straight-through", "forward: delayed"],
           (_sub("snn.forward", "return new_carry, [new_carry[f].output for f in "
                 "struct.final_layer_ids]", "return new_carry, [new_carry[-1].output]"),)),
    Mutant("burnin-outputs-kept", "burnin steps are included in the outputs, and get gradient",
           ["graph: burnin", "forward: straight-through", "forward: delayed"],
           (_sub("snn.architecture", "burnin = checks.check_burnin(burnin, num_steps)",
                 "burnin = 0 * checks.check_burnin(burnin, num_steps)"),)),
    Mutant("schedule-hoists-stateful", "the graph schedule evaluates stateful layers "
           "outside the scan", ["graph: straight-through reads", "forward: straight-through"],
           (_sub("snn.schedule", "return not isinstance(layers[i], StatefulLayer) and i not in",
                 "return i not in"),),
           adapter="default"),
    Mutant("ignores-initial-state", "the model's __call__ starts from zeros, whatever state "
           "it is given", ["state: given initial state", "state: chunked run"],
           (_sub("snn.architecture", "        input_states = list(input_states)\n",
                 "        import jax  # the mutant's own\n"
                 "        input_states = jax.tree_util.tree_map(jnp.zeros_like, "
                 "list(input_states))\n"),),
           adapter="default"),
    Mutant("checkpoint-drops-last-chunk", "the checkpointed scan returns the carry from "
           "before its last partial chunk", ["state: chunked run", "state: given initial state"],
           (_sub("snn.scan", "carry, tail_ys = rematerialised(remainder)(carry, tail_xs)",
                 "_, tail_ys = rematerialised(remainder)(carry, tail_xs)"),),
           adapter="default"),
    Mutant("time-parallel-wrong-keys", "the graph schedule hands a time-parallel layer the "
           "key of the next layer", ["graph: random layers' keys", "forward: straight-through"],
           (_sub("snn.schedule", "layer_keys(key, struct.num_layers)[i]",
                 "layer_keys(key, struct.num_layers)[(i + 1) % struct.num_layers]"),),
           adapter="default"),
]


# -- gradients ----------------------------------------------------------------

GRADIENT_MUTANTS = [
    Mutant("superspike-slope-doubled", "superspike derivative uses 2*beta",
           ["gradient: jvp", "gradient: vjp"],
           (_sub("functional.surrogate", "return x_dot / (1.0 + beta * jnp.abs(x))",
                 "return x_dot / (1.0 + 2.0 * beta * jnp.abs(x))"),)),
    Mutant("piecewise-window-doubled", "piecewise surrogate window is [-2 beta, 2 beta]",
           ["gradient: surrogates", "gradient: jvp", "gradient: vjp"],
           (_sub("functional.surrogate", "(x >= -beta) & (x <= beta)",
                 "(x >= -2.0 * beta) & (x <= 2.0 * beta)"),)),
    Mutant("reset-stop-gradient-missing", "stop_reset_grad=True does not stop the reset's "
           "gradient", ["gradient: jvp", "gradient: vjp"],
           (_sub("snn.layers.spiking",
                 "return lax.stop_gradient(reset_term) if self.stop_reset_grad else reset_term",
                 "return reset_term"),)),
    Mutant("burnin-gradient-leaks", "the state after burnin is not stop-gradiented",
           ["gradient: vjp", "gradient: jvp"],
           (_sub("snn.architecture", "carry = lax.stop_gradient(carry)", "carry = carry"),)),
    Mutant("frozen-parameter-gets-gradient", "init_parameters(requires_grad=False) still "
           "passes gradient", ["gradient: frozen parameters"],
           (_sub("snn.layers.stateful",
                 "return self.value if self.requires_grad else lax.stop_gradient(self.value)",
                 "return self.value"),)),
    Mutant("adaptive-spike-term-not-stopped", "AdaptiveLIF's d*S term is not stop-gradiented",
           ["gradient: AdaptiveLIF"],
           (_sub("snn.layers.lif", "- step * lax.stop_gradient(spikes))", "- step * spikes)"),)),
    Mutant("srm-refractory-not-stopped", "SRM's refractory input rv*S_prev is not "
           "stop-gradiented", ["gradient: SRM"],
           (_sub("snn.layers.srm", "reset_val * lax.stop_gradient(previous_spikes)",
                 "reset_val * previous_spikes"),)),
    Mutant("fused-lif-drops-decay-tangent", "the fused LIF scan's tangent drops the "
           "membrane's decay term da * (after_reset - current)",
           ["gradient: jvp", "gradient: vjp"],
           (_sub("snn.fused", " + (1.0 - a) * d_current + da * membrane_coefficient",
                 " + (1.0 - a) * d_current"),),
           adapter="default"),
]

MUTANTS = NEURON_MUTANTS + GRAPH_MUTANTS + GRADIENT_MUTANTS


# -- planting ------------------------------------------------------------------

def substituted_sources(mutant: Mutant) -> Dict[str, Tuple[str, str]]:
    """Per module the mutant touches: `(original source, mutated source)`.
    Raises StaleMutant when an old text does not occur exactly once."""
    sources: Dict[str, Tuple[str, str]] = {}
    for substitution in mutant.substitutions:
        module = importlib.import_module(substitution.module)
        original, mutated = sources.get(substitution.module,
                                        (Path(module.__file__).read_text(),) * 2)
        count = mutated.count(substitution.old)
        if count != 1:
            raise StaleMutant(
                f"mutant {mutant.name!r}: {substitution.module} ({module.__file__}) contains "
                f"the text to replace {count} times, expected exactly once; update its "
                f"substitution in spec_tests/tools/mutants.py. The text:\n{substitution.old}")
        sources[substitution.module] = (original, mutated.replace(substitution.old,
                                                                  substitution.new))
    return sources


def _code_by_qualname(code: types.CodeType, found: Dict[str, types.CodeType]):
    """Every code object inside `code` (functions, methods, class bodies)."""
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found.setdefault(constant.co_qualname, constant)
            _code_by_qualname(constant, found)
    return found


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """Whether two code objects do the same (line numbers aside)."""
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars) != (
            b.co_code, b.co_names, b.co_varnames, b.co_freevars, b.co_cellvars):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _live_functions(module) -> Dict[str, types.FunctionType]:
    """The module's own functions and methods (properties' accessors
    included), by their code's qualified name."""
    functions: Dict[str, types.FunctionType] = {}

    def add(candidate):
        while hasattr(candidate, "__wrapped__"):
            candidate = candidate.__wrapped__
        if isinstance(candidate, types.FunctionType) and \
                candidate.__module__ == module.__name__:
            functions.setdefault(candidate.__code__.co_qualname, candidate)

    def visit_class(cls, seen):
        if cls in seen or cls.__module__ != module.__name__:
            return
        seen.add(cls)
        for value in vars(cls).values():
            if isinstance(value, (staticmethod, classmethod)):
                add(value.__func__)
            elif isinstance(value, property):
                for accessor in (value.fget, value.fset, value.fdel):
                    add(accessor)
            elif isinstance(value, type):
                visit_class(value, seen)
            else:
                add(value)

    seen: set = set()
    for value in vars(module).values():
        if isinstance(value, type):
            visit_class(value, seen)
        else:
            add(value)
    return functions


def mutated_code(mutant: Mutant) -> List[Tuple[types.FunctionType, types.CodeType]]:
    """`(live function, its mutated code)` for every function of the
    reference that the mutant's substitutions change. Raises StaleMutant
    when a substitution does not apply or changes no function."""
    swaps = []
    for module_name, (original, mutated) in substituted_sources(mutant).items():
        module = importlib.import_module(module_name)
        label = f"<mutant {mutant.name}: {module.__file__}>"
        try:
            before = _code_by_qualname(compile(original, module.__file__, "exec"), {})
            after = _code_by_qualname(compile(mutated, label, "exec"), {})
        except SyntaxError as error:
            raise StaleMutant(f"mutant {mutant.name!r}: {module_name} does not compile after "
                              f"its substitutions: {error}") from error
        changed = [name for name, code in after.items()
                   if name not in before or not _same_code(before[name], code)]
        live = _live_functions(module)
        planted = [(live[name], after[name]) for name in changed if name in live]
        if not planted:
            raise StaleMutant(f"mutant {mutant.name!r}: its substitutions change no function "
                              f"or method of {module_name} (changed code: {changed or 'none'})")
        for function, code in planted:
            if len(code.co_freevars) != len(function.__code__.co_freevars):
                raise StaleMutant(f"mutant {mutant.name!r}: {function.__qualname__} would need "
                                  "other closure variables")
        swaps += planted
    return swaps


@contextlib.contextmanager
def planted(mutant: Mutant):
    """The reference with `mutant`'s bug, for the duration of the block."""
    swaps = mutated_code(mutant)
    originals = [(function, function.__code__) for function, _ in swaps]
    jax.clear_caches()
    try:
        for function, code in swaps:
            function.__code__ = code
        yield
    finally:
        for function, code in originals:
            function.__code__ = code
        jax.clear_caches()
