"""Predicates on pytree leaves and leaf surgery by field name (upstream's `snnax.utils.tree`).

The predicates test the *leaf itself*, as upstream's do: a leaf "is a
threshold" when it has an attribute `threshold` and is a floating-point
array. An array has no such attribute, so as `eqx.partition` filters they
select nothing (`filter_grad(f, filter_spec=is_decay_constants)` gives every
gradient `None`, which upstream's own test relies on); they are kept with
upstream's behaviour for its client code (SPEC.md §11). To select a
parameter by name, build a filter tree with `apply_to_tree_leaf`.
"""

from typing import Any, Callable

import equinox as eqx
import jax

__all__ = ["NEURON_PARAMS", "is_identifier", "has_identifier", "is_threshold",
           "is_decay_constant", "is_decay_constants", "is_reset_val", "is_neuron_param",
           "apply_to_tree_leaf", "apply_to_tree_leaf_bytype"]

NEURON_PARAMS = ["threshold", "leak", "decay_constant", "decay_constants", "reset_val"]
"""The field names `is_neuron_param` looks for (upstream's list, SPEC.md §11)."""


def is_identifier(name: str, leaf: Any) -> bool:
    """Whether `leaf` has an attribute `name` (SPEC.md §11).

    **Arguments:** `name`, the attribute; `leaf`, any pytree node.

    **Returns:** `hasattr(leaf, name)`.
    """
    return hasattr(leaf, name)


def has_identifier(name: str, leaf: Any) -> bool:
    """Whether `leaf` has an attribute `name` that is not `None` (SPEC.md §11).

    **Arguments:** `name`, the attribute; `leaf`, any pytree node.

    **Returns:** `getattr(leaf, name, None) is not None`.
    """
    return getattr(leaf, name, None) is not None


def _named_array(name: str, leaf: Any) -> bool:
    return is_identifier(name, leaf) and eqx.is_inexact_array(leaf)


def _named_array_predicate(name: str) -> Callable[[Any], bool]:
    """Upstream's `is_<name>(leaf)`: one predicate per neuron field, all alike."""
    def predicate(leaf: Any) -> bool:
        return _named_array(name, leaf)

    predicate.__name__ = predicate.__qualname__ = f"is_{name}"
    predicate.__doc__ = (f"Whether `leaf` has an attribute `{name}` and is a floating-point "
                         "array (SPEC.md §11). **Returns:** a bool, `False` for any plain "
                         "array (see the module's note); the argument `leaf` is any pytree "
                         "node.")
    return predicate


is_threshold = _named_array_predicate("threshold")
"""`is_threshold(leaf)`: whether `leaf` has an attribute `threshold` and is a floating-point array."""
is_decay_constant = _named_array_predicate("decay_constant")
"""`is_decay_constant(leaf)`: the same for an attribute `decay_constant`."""
is_decay_constants = _named_array_predicate("decay_constants")
"""`is_decay_constants(leaf)`: the same for an attribute `decay_constants`."""
is_reset_val = _named_array_predicate("reset_val")
"""`is_reset_val(leaf)`: the same for an attribute `reset_val`."""


def is_neuron_param(leaf: Any) -> bool:
    """Whether `leaf` has one of the attributes in `NEURON_PARAMS` and is a
    floating-point array. (Upstream swaps `hasattr`'s arguments and raises a
    `TypeError`; this is the evident intent, SPEC.md §11.) **Returns:** a bool;
    the argument `leaf` is any pytree node."""
    return any(is_identifier(name, leaf) for name in NEURON_PARAMS) \
        and eqx.is_inexact_array(leaf)


def _replace_named(pytree: Any, identifier: str, selects: Callable[[Any], bool],
                   replace_fn: Callable) -> Any:
    def named_values(tree):
        return tuple(getattr(node, identifier)
                     for node in jax.tree_util.tree_leaves(tree, is_leaf=selects)
                     if selects(node))

    return eqx.tree_at(named_values, pytree, replace_fn=replace_fn)


def apply_to_tree_leaf(pytree: Any, identifier: str, replace_fn: Callable) -> Any:
    """`pytree` with `replace_fn(value)` in place of every non-`None` attribute
    `identifier` of its nodes (`replace_fn=lambda _: value` replaces).

    **Arguments:**

    - `pytree`: a model, or a filter tree of the same structure.
    - `identifier`: the field name, e.g. `"weight"` or `"decay_constants"`.
    - `replace_fn`: called on each old value; returns the new one.

    **Returns:** the new pytree (SPEC.md §11); `pytree` is unchanged.
    """
    return _replace_named(pytree, identifier,
                          lambda node: has_identifier(identifier, node), replace_fn)


def apply_to_tree_leaf_bytype(pytree: Any, typ: type, identifier: str,
                              replace_fn: Callable) -> Any:
    """As `apply_to_tree_leaf`, only in nodes whose type is exactly `typ`.
    (Upstream calls its one-argument predicate with two arguments and raises
    a `TypeError`; this is the evident intent, SPEC.md §11.)

    Takes `pytree`, `identifier` and `replace_fn` as `apply_to_tree_leaf`
    does; `typ` is the node type (subclasses are not matched).

    **Returns:** the new pytree.
    """
    return _replace_named(pytree, identifier,
                          lambda node: type(node) is typ and has_identifier(identifier, node),
                          replace_fn)
