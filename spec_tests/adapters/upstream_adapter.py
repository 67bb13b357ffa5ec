"""The adapter for upstream SNNAX (github PGI15/snnax), when it can be imported.

Put its `src/` on the path (`SNNAX_UPSTREAM_PATH=/path/to/snnax/src`, or
install it). Upstream's API differs from the documented one in places; this
adapter bridges what it can and lets the rest fail visibly:

- its `GraphStructure` has no `final_layer_ids` (the model returns the last
  layer's output only), so a network asking for other final layers fails;
- its `init_state(in_shape, key)` has no `shapes`;
- a stateless layer's state is `[output]`, so the adapter drops it when it
  reads states, and reads every layer's last output as `state[-1]`.
"""

import importlib
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import AdapterUnavailable
from .snnax_ref_adapter import SnnaxStyleAdapter


def _import_upstream():
    path = os.environ.get("SNNAX_UPSTREAM_PATH")
    if path and path not in sys.path:
        sys.path.insert(0, path)
    try:
        snn = importlib.import_module("snnax.snn")
        # Upstream's functional package does not re-export its surrogates.
        functional = importlib.import_module("snnax.functional.surrogate")
    except Exception as error:  # noqa: BLE001 - any import failure means "not here"
        missing = getattr(error, "name", None)
        if isinstance(error, ModuleNotFoundError) and missing and missing != "snnax" \
                and not missing.startswith("snnax."):
            hint = (f"SNNAX was found but its dependency {missing!r} is missing; "
                    f"pip install {missing.split('.')[0]}")
        else:
            hint = "set SNNAX_UPSTREAM_PATH to its src/ directory"
        raise AdapterUnavailable(
            f"upstream SNNAX is not importable ({type(error).__name__}: {error}); "
            f"{hint}") from error
    return snn, functional


class _Namespace:
    """Every upstream class, wherever upstream defines it."""

    def __init__(self, snn):
        self._modules = [snn]
        for name in ("composed", "architecture", "layers.srm", "layers.spike_counter",
                     "layers.residual", "layers.pooling", "layers.li", "layers.iaf"):
            try:
                self._modules.append(importlib.import_module(f"snnax.snn.{name}"))
            except Exception:  # noqa: BLE001 - a missing module: its classes fail later
                pass
        self.architecture = importlib.import_module("snnax.snn.architecture")

    def __getattr__(self, name):
        for module in self._modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"upstream SNNAX has no class {name}")


class UpstreamAdapter(SnnaxStyleAdapter):
    def __init__(self):
        snn, functional = _import_upstream()
        super().__init__("upstream SNNAX", _Namespace(snn), functional,
                         Path(__file__).with_name("upstream_deviations.txt"))

    def build(self, network, forward, dtype):
        last = network.num_layers - 1
        if tuple(network.final_layer_ids) != (last,):
            raise NotImplementedError(
                f"upstream GraphStructure has no final_layer_ids; it returns layer {last} "
                f"only, but the network asks for {network.final_layer_ids}")
        layers, graph, forward_fn = self.model_parts(network, forward, dtype)
        if network.constructor is not None:
            return self.cast(self.composed(network, layers, forward_fn))
        structure = self.snn.GraphStructure(**graph)
        return self.cast(self.snn.StatefulModel(structure, layers, forward_fn=forward_fn))

    def init_state(self, model, network, key_seed=0):
        shapes = [tuple(s) for s in network.input_shapes]
        in_shape = shapes[0] if len(shapes) == 1 else shapes
        return self.cast(model.init_state(in_shape, key=jax.random.PRNGKey(key_seed)))

    def run(self, model, state, inputs, burnin, key_seed=1):
        batch = jnp.asarray(inputs[0]) if len(inputs) == 1 else [jnp.asarray(x) for x in inputs]
        final_state, outputs = model(state, batch, jax.random.PRNGKey(key_seed), burnin=burnin)
        return final_state, [np.asarray(o) for o in outputs]

    def set_state(self, model, network, states, outputs):
        """The inverse of `read_states`: a stateful layer's leaves are its flat
        state (its output being the last of them, as upstream reads
        `state[-1]`; the given output is not stored separately), a stateless
        layer's state is `[output]`."""
        template = self.init_state(model, network)
        new_state = []
        for i, (spec, layer_state, flat, output) in enumerate(
                zip(network.layers, template, states, outputs)):
            leaves, treedef = jax.tree_util.tree_flatten(layer_state)
            given = list(flat) if spec.is_stateful else [output]
            if len(given) != len(leaves):
                raise ValueError(f"set_state: layer {i} has {len(leaves)} state arrays in "
                                 f"upstream, given {len(given)}")
            new_state.append(jax.tree_util.tree_unflatten(
                treedef, [jnp.asarray(v, dtype=leaf.dtype).reshape(leaf.shape)
                          for leaf, v in zip(leaves, given)]))
        return new_state

    def read_states(self, model, network, final_state):
        states, outputs = [], []
        for spec, layer_state in zip(network.layers, final_state):
            leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(layer_state)]
            outputs.append(leaves[-1])
            states.append(leaves if spec.is_stateful else [])
        return states, outputs


def adapter():
    return UpstreamAdapter()
