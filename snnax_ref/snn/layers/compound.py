"""`CompoundLayer`: several layers run in sequence inside one time step."""

from typing import Callable, Optional

import equinox as eqx
from jax import Array

from .parallel import Parallel
from .stateful import StatefulLayer, abstract_output_shape, call_layer, layer_keys


def receives_input_list(layer) -> bool:
    """Whether `layer` takes its several inputs as a list, one per input, rather
    than concatenated (SPEC.md §4.3): a `Parallel`, or a `CompoundLayer`
    headed by one (upstream's recurrent idiom
    `CompoundLayer(Parallel([feed_forward, recurrent]), ...)`)."""
    if isinstance(layer, Parallel):
        return True
    return type(layer) is CompoundLayer and isinstance(layer.layers[0], Parallel)


class CompoundLayer(StatefulLayer):
    """A stateful layer made of `layers` applied one after the other each step
    (SPEC.md §5).

    State: a list with one entry per member, the member's state (`None` for a
    stateless member). Output: the last member's output. With a key, member
    `k` gets `split(key, len(layers))[k]`.

    **Arguments:**

    - `layers`: the members, in order (at least one): stateful layers and
      stateless equinox modules alike.
    - `init_fn`: kept for `StatefulLayer`'s signature; each member
      initialises its own state.
    """

    layers: list

    def __init__(self, *layers: eqx.Module, init_fn: Optional[Callable] = None) -> None:
        super().__init__(init_fn)
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer.")
        for k, member in enumerate(layers):
            if not callable(member):
                raise TypeError(f"{type(self).__name__}: layers[{k}] ({type(member).__name__}) "
                                "is not callable; members are layers (equinox modules).")
        self.layers = list(layers)

    def init_state(self, shape, key=None, *args, **kwargs):
        """The members' states, in order (SPEC.md §5).

        **Arguments:**

        - `shape`: the input's shape (a list of shapes when headed by a
          `Parallel`); each member gets the shape the members before it give.
        - `key`: split into one key per member.

        **Returns:** one entry per member: its `init_state`, or `None` for a
        stateless member.
        """
        states = []
        for k, (member, member_key) in enumerate(zip(self.layers, layer_keys(key, len(self.layers)))):
            if isinstance(member, StatefulLayer):
                states.append(member.init_state(shape, key=member_key))
            else:
                states.append(None)
            try:
                shape = abstract_output_shape(member, shape)
            except Exception as error:  # noqa: BLE001 - re-raised naming the member
                raise ValueError(
                    f"{type(self).__name__}: layers[{k}] ({type(member).__name__}) cannot take "
                    f"an input of shape {shape}: {type(error).__name__}: {error}") from error
        return states

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §5): each member on the previous member's output;
        returns `(new member states, last member's output)`.
        """
        new_states = []
        hidden = synaptic_input
        for member, member_state, member_key in zip(
                self.layers, state, layer_keys(key, len(self.layers))):
            member_state, hidden = call_layer(member, member_state, hidden, member_key)
            new_states.append(member_state)
        return new_states, hidden
