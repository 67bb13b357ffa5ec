"""The gradient properties: forward mode against the oracle's tangents, and
reverse mode through `<v, J u> = <J^T v, u>`.

An implementation opts in by giving its adapter two methods (see
`spec_tests.adapters.Adapter`):

- `jvp(run, param_tangents, input_tangents, dtype) -> (outputs, output_tangents)`
- `vjp(run, output_cotangents, dtype) -> (param_cotangents, input_cotangents)`

with parameters as the flat list `flat_params(run.network)` below (layer by
layer, each layer's parameters by sorted name, then its members) and the
initial state fixed at the default one (no initial-state tangents).
Static hyperparameters (threshold, reset_val given as a hyper, eps,
forget_weight, kernel sizes) are not parameters and get no tangent.

Tolerance policy (float64 only): tangents must satisfy
`|actual - expected| <= 1e-8 + 1e-8 |expected|` (looser than the forward
suite's 1e-10: a tangent sums many products of surrogate slopes); the two
sides of the adjoint identity agree to `1e-8` relative to the sum of the
magnitudes of their terms. The near-threshold rule is the forward suite's
horizon rule (`compare.comparison_horizon`): outputs and tangents are
compared only on the steps before the oracle's first near-threshold spike
decision, and the reverse-mode cotangent is zero from that step on, so an
ambiguous spike never enters either side.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import oracle
from .compare import TOLERANCES, Mismatch, Tolerance, _check_array, comparison_horizon
from .description import LayerSpec, NetworkSpec, RunSpec
from .keys import with_dropout_masks

# -- parameters as a flat list ----------------------------------------------

def _layer_param_names(layer: LayerSpec):
    return sorted(layer.params)


def flat_params(network: NetworkSpec) -> list:
    """Every parameter array of `network`, depth-first (layer, its sorted
    parameter names, then its members): the order gradient checks use."""
    arrays = []

    def visit(layer):
        arrays.extend(layer.params[name] for name in _layer_param_names(layer))
        for member in layer.members:
            visit(member)
    for layer in network.layers:
        visit(layer)
    return arrays


def with_flat_params(network: NetworkSpec, arrays) -> NetworkSpec:
    """`network` with its parameter arrays replaced, in `flat_params` order."""
    arrays = list(arrays)[::-1]

    def rebuild(layer):
        params = {name: arrays.pop() for name in _layer_param_names(layer)}
        members = tuple(rebuild(member) for member in layer.members)
        return replace(layer, params=params, members=members)
    layers = tuple(rebuild(layer) for layer in network.layers)
    return replace(network, layers=layers)


def nested_param_tangents(network: NetworkSpec, arrays) -> list:
    """Flat tangents (in `flat_params` order) in the oracle's nested format:
    per layer a dict name -> array, members under "members"."""
    arrays = list(arrays)[::-1]

    def nest(layer):
        entry = {name: arrays.pop() for name in _layer_param_names(layer)}
        if layer.members:
            entry["members"] = [nest(member) for member in layer.members]
        return entry
    return [nest(layer) for layer in network.layers]


GRADIENT_TOLERANCE = Tolerance(rtol=1e-8, atol=1e-8, margin=TOLERANCES["float64"].margin)


class GradientsUnsupported(Exception):
    """The adapter has no `jvp` / `vjp` methods."""


def _require(adapter, method):
    if not hasattr(adapter, method):
        raise GradientsUnsupported(f"adapter {getattr(adapter, 'name', adapter)!r} has no "
                                   f"{method}(); gradient properties need it")


def random_direction(run: RunSpec, seed: int):
    """A random tangent for every parameter array and every input sequence."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=np.shape(a)) for a in flat_params(run.network)]
    inputs = [rng.normal(size=x.shape) for x in run.inputs]
    return params, inputs


def _oracle_tangents(adapter, method: str, run: RunSpec, seed: int):
    """The run with its dropout masks, the (param, input) direction of
    `seed`, the oracle's TangentRunResult along it and the number of output
    rows compared, once `adapter` is seen to have `method`."""
    run = with_dropout_masks(run, "float64")
    _require(adapter, method)
    direction = random_direction(run, seed)
    expected = oracle.run_with_tangents(
        run, nested_param_tangents(run.network, direction[0]), direction[1],
        margin=GRADIENT_TOLERANCE.margin)
    return run, direction, expected, max(0, comparison_horizon(run, expected) - run.burnin)


def check_jvp_conforms(adapter, run: RunSpec, seed: int = 0) -> None:
    """The implementation's `jax.jvp` of the outputs along a random direction in
    parameters and inputs equals the oracle's forward-mode tangents."""
    run, (param_direction, input_direction), expected, rows = _oracle_tangents(
        adapter, "jvp", run, seed)
    outputs, tangents = adapter.jvp(run, param_direction, input_direction, "float64")
    network = run.network
    for position, layer_id in enumerate(network.final_layer_ids):
        what = f"outputs[{position}] (layer {layer_id}, {network.layers[layer_id].kind})"
        _check_array(what, expected.outputs[position][:rows], outputs[position][:rows],
                     GRADIENT_TOLERANCE)
        _check_array(f"tangent of {what}", expected.output_tangents[position][:rows],
                     tangents[position][:rows], GRADIENT_TOLERANCE)


def check_vjp_conforms(adapter, run: RunSpec, seed: int = 0) -> None:
    """Reverse mode agrees with the oracle: `<v, J u>` (oracle, forward mode)
    equals `<J^T v, u>` (implementation, `jax.vjp`) for random `u`, `v`."""
    run, (param_direction, input_direction), expected, rows = _oracle_tangents(
        adapter, "vjp", run, seed)
    rng = np.random.default_rng(seed + 1)
    cotangents = []
    for output in expected.outputs:
        cotangent = rng.normal(size=output.shape)
        cotangent[rows:] = 0.0  # steps after an ambiguous spike are not compared
        cotangents.append(cotangent)
    forward_terms = [float(np.sum(v * t)) for v, t in zip(cotangents, expected.output_tangents)]
    params_bar, inputs_bar = adapter.vjp(run, cotangents, "float64")
    reverse_terms = ([float(np.sum(np.asarray(b) * u)) for b, u in zip(params_bar, param_direction)]
                     + [float(np.sum(np.asarray(b) * u)) for b, u in zip(inputs_bar, input_direction)])
    forward, reverse = sum(forward_terms), sum(reverse_terms)
    scale = sum(abs(t) for t in forward_terms + reverse_terms) + 1.0
    if abs(forward - reverse) > GRADIENT_TOLERANCE.rtol * scale:
        raise Mismatch(f"<v, J u> = {forward!r} (oracle, forward mode) but <J^T v, u> = "
                       f"{reverse!r} (implementation, reverse mode); |diff| "
                       f"{abs(forward - reverse):.3g} > {GRADIENT_TOLERANCE.rtol} * {scale:.3g}")


def check_frozen_parameters_get_no_gradient(adapter, values: np.ndarray) -> None:
    """`init_parameters(p, shape, requires_grad=False).data` passes no gradient;
    with `requires_grad=True` the gradient of `sum(data * w)` is `w`."""
    snn = getattr(adapter, "snn", None)
    if snn is None or not hasattr(snn, "StatefulLayer"):
        raise GradientsUnsupported("adapter exposes no snn.StatefulLayer")
    import jax
    import jax.numpy as jnp

    weights = np.arange(1.0, values.size + 1.0).reshape(values.shape)
    with adapter.precision("float64"):
        for requires_grad in (False, True):
            parameter = snn.StatefulLayer.init_parameters(jnp.asarray(values), values.shape,
                                                          requires_grad=requires_grad)
            leaves, treedef = jax.tree_util.tree_flatten(parameter)

            def loss(leaves):
                rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
                return jnp.sum(rebuilt.data * weights)
            gradient = np.asarray(jax.grad(loss)(leaves)[0])
            expected = weights if requires_grad else np.zeros_like(weights)
            if not np.array_equal(gradient, expected):
                raise Mismatch(f"gradient through init_parameters(..., requires_grad="
                               f"{requires_grad}).data: expected {expected}, got {gradient}")
