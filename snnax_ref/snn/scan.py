"""`lax.scan` over time, optionally rematerialised in chunks (SPEC.md §4.6).

Reverse-mode differentiation of a scan keeps every step's intermediate values
until the backward pass: memory linear in `T`. With `checkpoint=True` the `T`
steps are scanned as about `sqrt(T)` chunks of about `sqrt(T)` steps; only
the carry at each chunk boundary is kept, and the backward pass recomputes
one chunk at a time. Memory for the scanned values then grows like
`sqrt(T)`, for about one more forward pass of compute. No value changes.
"""

import math
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax


def chunk_length(num_steps: int) -> int:
    """Steps per rematerialised chunk: the integer nearest to sqrt(num_steps)."""
    return max(1, round(math.sqrt(num_steps)))


def scan_over_time(body: Callable, carry, xs, num_steps: int, *, checkpoint: bool = False,
                   unroll: int = 1):
    """`lax.scan(body, carry, xs)` over `num_steps` steps; `xs` may hold `None`s.
    Runs shorter than 4 steps are scanned plainly: there is nothing to save."""
    if not checkpoint or num_steps < 4:
        return lax.scan(body, carry, xs, length=num_steps, unroll=unroll)
    chunk = chunk_length(num_steps)
    num_chunks, remainder = divmod(num_steps, chunk)
    bulk = num_chunks * chunk

    def rematerialised(length: int):
        """`length` steps whose intermediate values are recomputed, not kept."""
        return jax.checkpoint(lambda c, x: lax.scan(body, c, x, length=length, unroll=unroll))

    def as_chunks(leaf):
        return leaf[:bulk].reshape(num_chunks, chunk, *leaf.shape[1:])

    carry, ys = lax.scan(rematerialised(chunk), carry, jax.tree_util.tree_map(as_chunks, xs),
                         length=num_chunks)
    ys = jax.tree_util.tree_map(lambda leaf: leaf.reshape(bulk, *leaf.shape[2:]), ys)
    if remainder:
        tail_xs = jax.tree_util.tree_map(lambda leaf: leaf[bulk:], xs)
        carry, tail_ys = rematerialised(remainder)(carry, tail_xs)
        ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, tail_ys)
    return carry, ys
