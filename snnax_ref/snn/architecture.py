"""`StatefulModel`: a graph of layers run over a whole sequence with `lax.scan`."""

from typing import Callable, List, Optional, Sequence, Tuple, Union

import equinox as eqx
import jax.numpy as jnp
import jax.random as jrand
from jax import Array, lax

from . import checks
from .forward import (LayerCarry, debug_forward_fn, default_forward_fn,
                      delayed_forward_fn, combine_inputs)
from .graph import GraphStructure
from .layers.stateful import StatefulLayer, call_layer, layer_keys
from .scan import scan_over_time
from .schedule import ExecutionPlan, execution_plan, graph_schedule
from .shapes import infer_output_shapes, input_shapes as shape_of_inputs, layer_input_shape

Shape = Tuple[int, ...]
# Upstream's type names for a forward function and what it returns.
ForwardFnOutput = Tuple[List[LayerCarry], List[Array]]
ForwardFn = Callable[..., ForwardFnOutput]

__all__ = ["StatefulModel", "GraphStructure", "LayerCarry", "default_forward_fn",
           "delayed_forward_fn", "debug_forward_fn", "ForwardFn", "ForwardFnOutput"]


def _checked_layers(graph_structure, layers, forward_fn) -> list:
    """`layers` as a list, or an error naming the constructor argument at fault
    (the options that pick a schedule are checked by `execution_plan`)."""
    if not isinstance(graph_structure, GraphStructure):
        raise TypeError(f"StatefulModel: graph_structure must be a GraphStructure, "
                        f"got {type(graph_structure).__name__}")
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"StatefulModel: layers must be a sequence of modules, one per layer, "
                        f"got {type(layers).__name__}.")
    layers = list(layers)
    if len(layers) != graph_structure.num_layers:
        raise ValueError(f"StatefulModel: layers has {len(layers)} entries but "
                         f"graph_structure.num_layers is {graph_structure.num_layers}.")
    for i, layer in enumerate(layers):
        if not callable(layer):
            raise ValueError(f"StatefulModel: layers[{i}] ({type(layer).__name__}) is "
                             "not callable.")
    if not callable(forward_fn):
        raise TypeError(f"StatefulModel: forward_fn must be callable (default_forward_fn or "
                        f"delayed_forward_fn), got {type(forward_fn).__name__}.")
    return layers


class StatefulModel(eqx.Module):
    """A spiking network: layers wired by a `GraphStructure`, scanned over time.

    **Arguments:**

    - `graph_structure`: who reads whom (SPEC.md §4).
    - `layers`: one module per layer; `StatefulLayer`s carry state, any other
      equinox module is called as `layer(x, key=key)`.
    - `forward_fn`: one step of the whole graph; `default_forward_fn`
      (straight-through) or `delayed_forward_fn`.
    - `loop_fn`: the loop over time, called as `lax.scan(f, init, xs)`
      (upstream's parameter: say a Python loop while debugging). Anything
      but `lax.scan` runs the step schedule with it.
    - `schedule`: `"step"` scans `forward_fn` once per time step;
      `"graph"` (straight-through only) evaluates stateless layers outside
      cycles for all steps at once and scans only the rest (SPEC.md §4.6);
      `"auto"` (default) picks `"graph"` for `default_forward_fn` when at
      least one layer can run for all steps at once, `"step"` otherwise.
    - `checkpoint`: rematerialise the scans in chunks of about `sqrt(T)`
      steps in the backward pass (memory ~ `sqrt(T)` instead of `T` for the
      scanned values, about one more forward pass of compute).
    - `unroll`: `lax.scan`'s unroll factor.
    - `fuse_lif`: in the graph schedule, an `LIF` layer scanned on its
      own runs the fused LIF scan (`snn/fused.py`): the same values,
      derivatives equal to rounding, a faster backward pass. `False` keeps
      the readable scan everywhere.

    `model.plan` (an `ExecutionPlan`, printable) is the execution plan these
    options give, fixed when the model is built.
    """

    graph_structure: GraphStructure = eqx.field(static=True)
    layers: list
    forward_fn: Callable = eqx.field(static=True)
    plan: ExecutionPlan = eqx.field(static=True)   # the options, resolved: one home

    def __init__(self, graph_structure: GraphStructure, layers: Sequence[eqx.Module],
                 forward_fn: Callable = default_forward_fn, loop_fn: Callable = lax.scan, *,
                 schedule: str = "auto", checkpoint: bool = False, unroll: int = 1,
                 fuse_lif: bool = True) -> None:
        layers = _checked_layers(graph_structure, layers, forward_fn)
        self.graph_structure = graph_structure
        self.layers = layers
        self.forward_fn = forward_fn
        # Decided once, here: `print(model.plan)` says what __call__ will do.
        self.plan = execution_plan(layers, graph_structure, forward_fn, schedule,
                                   checkpoint, unroll, loop_fn, fuse_lif)

    @property
    def uses_graph_schedule(self) -> bool:
        """Whether `__call__` runs the graph schedule (SPEC.md §4.6)."""
        return self.plan.schedule == "graph"

    def init_state(self, in_shape: Union[Shape, Sequence[Shape]],
                   shapes: Optional[Sequence] = None,
                   key: Optional[Array] = None) -> List[LayerCarry]:
        """The state before the first step: one `LayerCarry(state, output)` per
        layer (SPEC.md §4.1, §4.2).

        **Arguments:**

        - `in_shape`: the shape of one sample of the external input (a tuple),
          or a sequence of shapes, one per external input.
        - `shapes`: optional, per layer, the shape of what it receives (its
          input; `None` entries are inferred). A PRNG key given here, as in
          upstream's `init_state(in_shape, key)`, is taken as `key`.
        - `key`: split over layers; `None` means `jax.random.PRNGKey(0)`.

        **Returns:** a list with one `LayerCarry(state, output)` per layer:
        the layer's `init_state` (`None` for a stateless layer) and the output
        feedback edges read at `t = 0`.
        """
        if key is None and checks.is_prng_key(shapes):
            shapes, key = None, shapes
        checks.check_key(key, "init_state")
        struct = self.graph_structure
        input_shapes = shape_of_inputs(in_shape, struct.num_inputs)
        dtype = jnp.zeros(()).dtype
        output_shapes = infer_output_shapes(self.layers, struct, input_shapes, shapes, dtype)
        keys = layer_keys(jrand.PRNGKey(0) if key is None else key, struct.num_layers)
        carries = [None] * struct.num_layers
        for i, layer in enumerate(self.layers):
            if isinstance(layer, StatefulLayer):
                input_shape = layer_input_shape(self.layers, struct, i, output_shapes,
                                                input_shapes)
                carries[i] = LayerCarry(layer.init_state(input_shape, key=keys[i]),
                                        layer.initial_output(input_shape, output_shapes[i],
                                                             key=keys[i]))
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, StatefulLayer):
                # As upstream: the layer applied to its initial input (SPEC.md §4.2).
                parts = struct.layer_inputs(
                    i, lambda j: (carries[j].output if carries[j] is not None
                                  else jnp.zeros(output_shapes[j], dtype)),
                    lambda k: jnp.zeros(input_shapes[k], dtype))
                output = call_layer(layer, None, combine_inputs(layer, parts), keys[i])[1]
                carries[i] = LayerCarry(None, output)
        return carries

    def __call__(self, input_states: Sequence[LayerCarry], input_batch, key: Optional[Array],
                 burnin: int = 0) -> Tuple[List[LayerCarry], List[Array]]:
        """Run the whole sequence (SPEC.md §4.5).

        **Arguments:**

        - `input_states`: from `init_state` (or a previous call).
        - `input_batch`: an array `(T, *in_shape)`, or one per external input.
        - `key`: one key for the whole sequence, split into one key per layer
          the same way at every step (SPEC.md §4.4); may be `None`.
        - `burnin`: the first `burnin` steps run without gradient and without
          outputs.

        **Returns:** `(final_states, outputs)`: the state after all `T` steps,
        and one array `(T - burnin, *out_shape)` per entry of `final_layer_ids`.
        """
        struct = self.graph_structure
        checks.check_states(struct, input_states)
        checks.check_key(key, "StatefulModel.__call__")
        sequences = checks.as_sequences(struct, input_batch)
        num_steps = int(sequences[0].shape[0])
        burnin = checks.check_burnin(burnin, num_steps)
        sequences = checks.in_state_dtype(sequences, input_states)
        input_states = list(input_states)

        def step(carry, step_inputs_and_key):
            step_inputs, step_key = step_inputs_and_key
            return self.forward_fn(self.layers, struct, step_key, carry, step_inputs)

        checks.check_one_step(lambda c, x: step(c, (x, key)), input_states,
                              [sequence[0] for sequence in sequences], self.layers, struct)

        # One key for the whole sequence, the same at every step, as upstream
        # SNNAX scans a forward function bound to `key` (SPEC.md §4.4).
        step_keys = None if key is None else jnp.broadcast_to(key, (num_steps, *key.shape))

        def run(carry, inputs, keys):
            if self.plan.loop_fn is not None:
                return self.plan.loop_fn(step, carry, (inputs, keys))
            if self.plan.schedule == "graph":
                return graph_schedule(self.layers, struct, self.plan.stages, carry, inputs, keys,
                                      self.plan.checkpoint, self.plan.unroll, self.plan.fused)
            return scan_over_time(step, carry, (inputs, keys), int(inputs[0].shape[0]),
                                  checkpoint=self.plan.checkpoint, unroll=self.plan.unroll)

        carry = input_states
        if burnin > 0:
            carry, _ = run(carry, [sequence[:burnin] for sequence in sequences],
                           None if step_keys is None else step_keys[:burnin])
            carry = lax.stop_gradient(carry)
        final_states, outputs = run(carry, [sequence[burnin:] for sequence in sequences],
                                    None if step_keys is None else step_keys[burnin:])
        return final_states, outputs
