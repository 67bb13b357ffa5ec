"""`ResNetBlock`: a compound layer with a skip connection."""

from typing import Optional

from jax import Array

from .compound import CompoundLayer
from .stateful import abstract_output_shape


class ResNetBlock(CompoundLayer):
    """A `CompoundLayer` whose output is the last member's output plus the input.

    State: as `CompoundLayer`. The members must preserve the input's shape.
    """

    def init_state(self, shape, key=None, *args, **kwargs):
        shape = tuple(shape)
        block_output_shape = abstract_output_shape(CompoundLayer(*self.layers), shape)
        if block_output_shape != shape:
            raise ValueError(
                f"ResNetBlock: its layers map an input of shape {shape} to {block_output_shape}; "
                "the skip connection needs the same shape.")
        return super().init_state(shape, key)

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        new_states, block_output = super().__call__(state, synaptic_input, key=key)
        return new_states, block_output + synaptic_input
