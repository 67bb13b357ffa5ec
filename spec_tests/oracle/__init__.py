"""The NumPy oracle: SPEC.md's semantics written out step by step in float64.

It imports NumPy, the standard library and `spec_tests.description` only
(no JAX, no equinox, no snnax_ref), loops over time steps and layers in
plain Python, and vectorises only inside one layer's update.

Public API:

- `run(run_spec, margin=1e-6, initial_states=None, initial_outputs=None,
  semantics=None) -> RunResult`: `semantics` an alternative of `alternatives.py`
  (None: SPEC), passed explicitly to every step.
- `init_state(network, dropout_masks=None) -> (states, outputs)`: SPEC's default
  initial state (a Dropout layer's initial output needs its `RunSpec.dropout_masks`).
- `surrogate_derivative(name, beta, x)`: the dH/dx a spike function uses.
- `run_with_tangents(run_spec, param_tangents=None, input_tangents=None,
  initial_state_tangents=None, initial_output_tangents=None, margin=1e-6,
  initial_states=None, initial_outputs=None) -> TangentRunResult`: forward-mode
  derivatives with surrogate spike derivatives and SPEC's stop-gradients.
- `random_valid_state(network, rng) -> (states, outputs)`: a random valid
  initial state (`states.py`), for runs that start from a given state.
- `heaviside(x)`: H(x) = 1 if x >= 0 else 0.
- `infer_network_shapes(network) -> (input_shapes, output_shapes)`.
"""

from spec_tests.oracle.network import init_state, run
from spec_tests.oracle.shapes import infer_network_shapes
from spec_tests.oracle.spikes import heaviside, surrogate_derivative
from spec_tests.oracle.states import random_valid_state
from spec_tests.oracle.tangents import TangentRunResult, run_with_tangents

__all__ = ["run", "init_state", "run_with_tangents", "TangentRunResult",
           "surrogate_derivative", "heaviside", "infer_network_shapes", "random_valid_state"]
