"""The random draws of a run, derived from its keys (SPEC.md §4.4, §4.6).

SNNAX's keys are JAX keys, so which entries a Dropout layer drops is decided
by JAX's PRNG; what SPEC.md fixes is which key each layer receives: one key
per sequence, split at every step into one key per layer,
`jax.random.split(key, num_layers)[i]` for layer `i`, the same split at
every step (and in `init_state`, `split(init_key, num_layers)[i]`). The
oracle imports NumPy only and cannot run that PRNG, so this module (part of
the harness) derives, from a run's key seeds, the key each Dropout layer
receives and the mask `eqx.nn.Dropout` draws from it,
`jax.random.bernoulli(key, 1 - p, input_shape)`, and hands the masks to the
oracle as data (`RunSpec.dropout_masks`).

The draws depend on the precision: `bernoulli` draws float32 uniforms
without `jax_enable_x64` and float64 uniforms with it, and the adapters run
float64 runs with x64 enabled (`Adapter.precision`), so the masks are derived
for the dtype the run is checked in.
"""

from __future__ import annotations

from dataclasses import replace

import jax
import numpy as np

from . import oracle
from .description import RANDOM_KINDS, DropoutMasks, RunSpec


def layer_key(seed: int, num_layers: int, layer: int) -> jax.Array:
    """The key layer `layer` receives from the key `PRNGKey(seed)` at every
    step: `jax.random.split(PRNGKey(seed), num_layers)[layer]`."""
    return jax.random.split(jax.random.PRNGKey(seed), num_layers)[layer]


def dropout_mask(key: jax.Array, p: float, shape: tuple) -> np.ndarray:
    """The entries `eqx.nn.Dropout(p)` keeps when called with `key` on an
    input of `shape` (equinox: `bernoulli(key, 1 - p, shape)`; p = 0 keeps all)."""
    if p == 0:
        return np.ones(shape, dtype=bool)
    return np.asarray(jax.random.bernoulli(key, 1.0 - p, tuple(shape)), dtype=bool)


def has_random_layers(run: RunSpec) -> bool:
    return any(layer.kind in RANDOM_KINDS for layer in run.network.layers)


def with_dropout_masks(run: RunSpec, dtype: str = "float64") -> RunSpec:
    """`run` with `dropout_masks` derived from its key seeds for `dtype`
    (drawn under `jax.enable_x64(dtype == "float64")`); `run` itself when it
    has no Dropout layer."""
    if not has_random_layers(run):
        return run
    network = run.network
    input_shapes, _ = oracle.infer_network_shapes(network)
    masks = {}
    with jax.enable_x64(dtype == "float64"):
        for i, layer in enumerate(network.layers):
            if layer.kind == "Dropout":
                p = float(layer.hyper.get("p", 0.5))
                shape = tuple(input_shapes[i])
                masks[i] = DropoutMasks(
                    step=dropout_mask(layer_key(run.key_seed, network.num_layers, i), p, shape),
                    initial=dropout_mask(layer_key(run.init_key_seed, network.num_layers, i),
                                         p, shape))
    return replace(run, dropout_masks=masks)
