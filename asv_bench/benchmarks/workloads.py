"""The benchmark workloads, built with snnax_ref's public API.

Each builder returns a :class:`Workload`: an ``snn.StatefulModel`` (one
sample, as SNNAX models are), its initial state, a batch of input sequences
``(B, T, *in_shape)`` and what the floor needs (the matrix products the
workload cannot avoid). ``Workload.prepare(pass_)`` compiles one pass.

The batch is ``jax.vmap`` over the input; the state is shared (``in_axes=None``).

Input scales and weight gains are chosen so that the LIF neurons really spike
(a default LIF with threshold 1 is a low-pass filter of DC gain one, so plain
``N(0, 1)`` input through a default-initialised ``Linear`` never reaches the
threshold); ``Workload.spike_rate()`` reports the mean spike rate of all
spiking layers, and the suite tracks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, List, Optional, Sequence, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from snnax_ref import snn

from . import common
from .common import GemmShape

BATCH = 16
STEPS = common.STEPS
# Linear(n, n) with equinox's default initialisation maps N(0, s^2) input to
# outputs of standard deviation ~ s/sqrt(3) whatever n is; s = 80 gives the
# LIF a spike rate of about 10 % (tracked by track_spike_rate).
INPUT_SCALE = 80.0


@dataclass
class Workload:
    """A model, its state and input, and the matrix products of one step."""

    model: snn.StatefulModel
    state: list
    inputs: jax.Array                     # (B, T, *in_shape)
    neuron_updates: int                   # spiking-neuron updates per call
    gemms_forward: List[GemmShape]
    gemms_weight_grad: List[GemmShape]
    gemms_input_grad: List[GemmShape] = field(default_factory=list)
    probe: Optional[snn.StatefulModel] = None   # same layers, every spiking layer final
    dtype: object = jnp.float32

    # -- the two passes ---------------------------------------------------
    def forward_fn(self) -> Tuple[Callable, tuple]:
        params, static = eqx.partition(self.model, eqx.is_inexact_array)

        def forward(params, state, inputs):
            model = eqx.combine(params, static)
            return jax.vmap(lambda xs: model(state, xs, key=None)[1])(inputs)

        return forward, (params, self.state, self.inputs)

    def forward_backward_fn(self) -> Tuple[Callable, tuple]:
        forward, args = self.forward_fn()

        def loss(params, state, inputs):
            return sum(jnp.sum(out) for out in forward(params, state, inputs))

        return jax.value_and_grad(loss), args

    def prepare(self, pass_: str, warmup: int = 1) -> common.Prepared:
        if pass_ == "forward":
            fn, args = self.forward_fn()
        elif pass_ == "forward_backward":
            fn, args = self.forward_backward_fn()
        else:
            raise ValueError(f"pass must be one of {common.PASSES}, got {pass_!r}")
        return common.prepare(fn, *args, warmup=warmup)

    def gemms(self, pass_: str) -> List[GemmShape]:
        """Forward: the forward products. Forward+backward: also the weight
        gradients and, for layers fed by other layers, the input gradients."""
        if pass_ == "forward":
            return list(self.gemms_forward)
        return list(self.gemms_forward) + list(self.gemms_weight_grad) + list(self.gemms_input_grad)

    def spike_rate(self) -> float:
        """Mean spike rate over every spiking layer, every step and sample."""
        probe = self if self.probe is None else replace(self, model=self.probe)
        forward, args = probe.forward_fn()

        def rate(*args):
            outs = forward(*args)
            return sum(jnp.sum(o) for o in outs) / sum(o.size for o in outs)

        return float(jax.jit(rate)(*args))


def _chain(num_layers: int, finals: Sequence[int]) -> snn.GraphStructure:
    return snn.GraphStructure(
        num_layers=num_layers,
        input_layer_ids=[[0]] + [[] for _ in range(num_layers - 1)],
        final_layer_ids=list(finals),
        input_connectivity=[[]] + [[i] for i in range(num_layers - 1)],
    )


def _scale_linear(linear: eqx.nn.Linear, gain: float) -> eqx.nn.Linear:
    return eqx.tree_at(lambda l: (l.weight, l.bias), linear,
                       (linear.weight * gain, linear.bias * gain))


# --------------------------------------------------------------------------
# (a) and (d): the Open Neuromorphic workload, Linear(n, n) then LIF. Its one
# definition: the suite, the gate (asv_bench/gate.py) and the peers
# (asv_bench/peers) all build it here.
# --------------------------------------------------------------------------

def linear_lif_inputs(n: int, batch: int = BATCH, steps: int = STEPS, seed: int = 0,
                      scale: float = INPUT_SCALE, dtype=jnp.float32) -> jax.Array:
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
    return (scale * jax.random.normal(key, (batch, steps, n))).astype(dtype)


def linear_lif_model(n: int, seed: int = 0, **options) -> snn.Sequential:
    """`options` (schedule, checkpoint, unroll, fuse_lif) go to snnax_ref's StatefulModel."""
    key = jax.random.fold_in(jax.random.PRNGKey(seed), 0)
    return snn.Sequential(eqx.nn.Linear(n, n, key=key), snn.LIF(), **options)


def linear_lif_floor(n: int, batch: int = BATCH, steps: int = STEPS) -> dict:
    """The GEMM floor of (a): forward, the (B*T x n) @ (n x n) product;
    forward+backward adds the weight gradient's (n x B*T) @ (B*T x n)."""
    rows = batch * steps
    return dict(gemms_forward=[(rows, n, n)], gemms_weight_grad=[(n, rows, n)])


def linear_lif(n: int, batch: int = BATCH, steps: int = STEPS, seed: int = 0,
               scale: float = INPUT_SCALE, **options) -> Workload:
    """``Linear(n, n)`` then ``LIF()``; random normal input times ``scale``."""
    model = linear_lif_model(n, seed, **options)
    return Workload(
        model=model, state=model.init_state((n,), key=jax.random.PRNGKey(seed)),
        inputs=linear_lif_inputs(n, batch, steps, seed, scale),
        neuron_updates=batch * steps * n,
        **linear_lif_floor(n, batch, steps),
    )


# --------------------------------------------------------------------------
# (b) a small convolutional SNN on 2 x 32 x 32 event frames
# --------------------------------------------------------------------------

CONV_EVENT_RATE = 0.2
CONV_INPUT_GAIN = 60.0   # amplitude of one input event
CONV_GAINS = (1.0, 60.0, 100.0)  # weight gains of conv1, conv2, linear (spiking inputs)


def conv_snn(batch: int = BATCH, steps: int = 100, seed: int = 0,
             channels: Tuple[int, int] = (16, 32), classes: int = 10,
             **options) -> Workload:
    """Conv2d(2, c1, 3, stride 2) + LIF, Conv2d(c1, c2, 3, stride 2) + LIF,
    Flatten, Linear(c2*8*8, classes), LIF; Bernoulli events, 2 x 32 x 32.
    `options` (schedule, checkpoint, unroll, fuse_lif) go to snnax_ref's StatefulModel."""
    c1, c2 = channels
    k1, k2, k3, kx = jax.random.split(jax.random.PRNGKey(seed), 4)
    conv1 = eqx.nn.Conv2d(2, c1, 3, stride=2, padding=1, key=k1)
    conv2 = eqx.nn.Conv2d(c1, c2, 3, stride=2, padding=1, key=k2)
    linear = eqx.nn.Linear(c2 * 8 * 8, classes, key=k3)
    g1, g2, g3 = CONV_GAINS
    conv1 = eqx.tree_at(lambda c: c.weight, conv1, conv1.weight * g1)
    conv2 = eqx.tree_at(lambda c: c.weight, conv2, conv2.weight * g2)
    linear = _scale_linear(linear, g3)
    layers = [conv1, snn.LIF(), conv2, snn.LIF(), snn.Flatten(), linear, snn.LIF()]
    model = snn.Sequential(*layers, **options)
    probe = snn.StatefulModel(_chain(len(layers), [1, 3, 6]), layers)
    state = model.init_state((2, 32, 32), key=jax.random.PRNGKey(seed))
    # Each pixel fires with its own rate (uniform in [0, 2 * CONV_EVENT_RATE]),
    # a fixed "image", so that the drive varies across positions as well.
    krate, kev = jax.random.split(kx)
    rates = 2 * CONV_EVENT_RATE * jax.random.uniform(krate, (1, 1, 2, 32, 32))
    events = jax.random.bernoulli(kev, rates, (batch, steps, 2, 32, 32))
    inputs = CONV_INPUT_GAIN * events.astype(jnp.float32)
    rows = batch * steps
    m1, m2 = rows * 16 * 16, rows * 8 * 8          # output pixels of conv1, conv2
    kk1, kk2, kk3 = 2 * 9, c1 * 9, c2 * 8 * 8       # im2col depth
    return Workload(
        model=model, state=state, inputs=inputs, probe=probe,
        neuron_updates=rows * (c1 * 16 * 16 + c2 * 8 * 8 + classes),
        gemms_forward=[(m1, kk1, c1), (m2, kk2, c2), (rows, kk3, classes)],
        gemms_weight_grad=[(kk1, m1, c1), (kk2, m2, c2), (kk3, rows, classes)],
        gemms_input_grad=[(m2, c2, kk2), (rows, classes, kk3)],
    )


# --------------------------------------------------------------------------
# (c) a fixed random recurrent graph with feedback edges and self-loops
# --------------------------------------------------------------------------

GRAPH_POPULATIONS = 4
GRAPH_SEED = 7
GRAPH_INPUT_SCALE = 80.0
GRAPH_RECURRENT_GAIN = 60.0


def random_graph(populations: int = GRAPH_POPULATIONS, seed: int = GRAPH_SEED):
    """Who reads whom: population ``i`` reads ``i - 1`` (feed-forward), itself
    with probability 1/2 (a self-loop), and each later population with
    probability 1/3 (feedback); population 0 and the middle one read the
    external input. Fixed by ``seed``; always at least one self-loop and one
    feedback edge."""
    rng = np.random.default_rng(seed)
    connectivity = []
    for i in range(populations):
        sources = [i - 1] if i > 0 else []
        if rng.random() < 0.5 or i == populations - 1:
            sources.append(i)
        sources += [j for j in range(i + 1, populations) if rng.random() < 1 / 3]
        connectivity.append(sorted(sources))
    if not any(j > i for i, src in enumerate(connectivity) for j in src):
        connectivity[0].append(populations - 1)
    external = [[0] if i in (0, populations // 2) else [] for i in range(populations)]
    return connectivity, external


def recurrent_graph(hidden: int = 256, batch: int = BATCH, steps: int = STEPS,
                    seed: int = 0, **options) -> Workload:
    """``GRAPH_POPULATIONS`` populations, each ``CompoundLayer(Linear, LIF)``
    of ``hidden`` neurons, wired by :func:`random_graph`; run with the
    default (straight-through) forward function. `options` (schedule,
    checkpoint, unroll) go to snnax_ref's StatefulModel."""
    connectivity, external = random_graph()
    populations = len(connectivity)
    keys = jax.random.split(jax.random.PRNGKey(seed), populations + 1)
    layers, fan_ins = [], []
    for i in range(populations):
        n_rec, n_ext = len(connectivity[i]), len(external[i])
        fan_in = hidden * (n_rec + n_ext)
        linear = eqx.nn.Linear(fan_in, hidden, key=keys[i])
        # Spiking inputs are sparse and non-negative: amplify the recurrent
        # part so that populations fed only by spikes fire too.
        gains = jnp.concatenate([jnp.full((hidden * n_rec,), GRAPH_RECURRENT_GAIN),
                                 jnp.ones((hidden * n_ext,))])
        linear = eqx.tree_at(lambda l: l.weight, linear, linear.weight * gains[None, :])
        layers.append(snn.CompoundLayer(linear, snn.LIF()))
        fan_ins.append((fan_in, n_rec > 0))
    struct = snn.GraphStructure(num_layers=populations, input_layer_ids=external,
                                final_layer_ids=[populations - 1],
                                input_connectivity=connectivity)
    probe_struct = snn.GraphStructure(num_layers=populations, input_layer_ids=external,
                                      final_layer_ids=list(range(populations)),
                                      input_connectivity=connectivity)
    model = snn.StatefulModel(struct, layers, **options)
    probe = snn.StatefulModel(probe_struct, layers)
    # What each population receives (SPEC.md §4.2): its fan-in.
    shapes = [(fan_in,) for fan_in, _ in fan_ins]
    state = model.init_state((hidden,), shapes=shapes, key=jax.random.PRNGKey(seed))
    inputs = GRAPH_INPUT_SCALE * jax.random.normal(keys[-1], (batch, steps, hidden))
    rows = batch * steps
    return Workload(
        model=model, state=state, inputs=inputs, probe=probe,
        neuron_updates=rows * hidden * populations,
        gemms_forward=[(rows, f, hidden) for f, _ in fan_ins],
        gemms_weight_grad=[(f, rows, hidden) for f, _ in fan_ins],
        gemms_input_grad=[(rows, hidden, f) for f, fed in fan_ins if fed],
    )
