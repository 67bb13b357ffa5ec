"""`ResNetBlock`: a compound layer with a skip connection."""

from typing import Optional

from jax import Array

from .compound import CompoundLayer
from .stateful import abstract_output_shape


class ResNetBlock(CompoundLayer):
    """A `CompoundLayer` whose output is the last member's output plus the input
    (SPEC.md §3.13).

    State: as `CompoundLayer`. The members must preserve the input's shape
    (else `init_state` raises a `ValueError`).

    **Arguments:**

    - `layers`: the members, in order, as `CompoundLayer`'s.
    - `init_fn`: as `CompoundLayer`'s.
    """

    def init_state(self, shape, key=None, *args, **kwargs):
        """As `CompoundLayer.init_state`, after checking that the members keep the
        input's `shape` (SPEC.md §3.13).
        """
        shape = tuple(shape)
        block_output_shape = abstract_output_shape(CompoundLayer(*self.layers), shape)
        if block_output_shape != shape:
            raise ValueError(
                f"ResNetBlock: its layers map an input of shape {shape} to {block_output_shape}; "
                "the skip connection needs the same shape.")
        return super().init_state(shape, key)

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.13): `CompoundLayer`'s, its output plus the input."""
        new_states, block_output = super().__call__(state, synaptic_input, key=key)
        return new_states, block_output + synaptic_input
