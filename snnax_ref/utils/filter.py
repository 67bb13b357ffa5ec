"""`filter_grad` and `filter_value_and_grad` with a `filter_spec` (upstream's `snnax.utils.filter`).

Equinox's `eqx.filter_grad` differentiates every inexact array of the first
argument; upstream's versions take a `filter_spec` choosing which leaves
are differentiated. Both are equinox's own `eqx.partition` / `eqx.combine`
around `jax.value_and_grad` (SPEC.md §11).
"""

import functools
from typing import Any, Callable

import equinox as eqx
import jax

__all__ = ["filter_value_and_grad", "filter_grad"]


def filter_value_and_grad(fun: Callable = None, *, has_aux: bool = False,
                          filter_spec: Any = eqx.is_inexact_array) -> Callable:
    """`fun`'s value and its gradient with respect to the leaves of its first
    argument that `filter_spec` selects; every other leaf's gradient is `None`
    (upstream's `snnax.utils.filter`, SPEC.md §11).

    **Arguments:**

    - `fun`: the function; its first positional argument is differentiated.
    - `has_aux`: `fun` returns `(value, aux)`.
    - `filter_spec`: a predicate called on every leaf, or a pytree of bools
      (or predicates) with the structure of the first argument, as
      `eqx.partition` takes it. Default: every floating-point array.

    **Returns:** a function returning `(value, gradient)`, or
    `((value, aux), gradient)` with `has_aux`. Used as a decorator without
    `fun`, it returns the decorator.
    """
    if fun is None:
        return functools.partial(filter_value_and_grad, has_aux=has_aux,
                                 filter_spec=filter_spec)

    @functools.wraps(fun)
    def value_and_grad(differentiated, *args, **kwargs):
        trainable, frozen = eqx.partition(differentiated, filter_spec)

        def of_trainable(trainable):
            return fun(eqx.combine(trainable, frozen), *args, **kwargs)

        return jax.value_and_grad(of_trainable, has_aux=has_aux)(trainable)

    return value_and_grad


def filter_grad(fun: Callable = None, *, has_aux: bool = False,
                filter_spec: Any = eqx.is_inexact_array) -> Callable:
    """The gradient of `fun` with respect to the leaves of its first argument
    that `filter_spec` selects (`None` for the others) (upstream's
    `snnax.utils.filter`, SPEC.md §11).

    Takes `fun`, `has_aux` and `filter_spec` as `filter_value_and_grad`
    does, and is a decorator the same way.

    **Returns:** a function returning the gradient, or `(gradient, aux)` with
    `has_aux`.
    """
    if fun is None:
        return functools.partial(filter_grad, has_aux=has_aux, filter_spec=filter_spec)
    value_and_grad = filter_value_and_grad(fun, has_aux=has_aux, filter_spec=filter_spec)

    @functools.wraps(fun)
    def grad(*args, **kwargs):
        value, gradient = value_and_grad(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return grad
