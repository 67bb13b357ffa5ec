"""What the NIR interop fixtures (`tests/data/nir_interop/`) and their test share:
the input every network is driven by, how the reference runs a file, and how
two spike trains relate (SPEC.md §10, "Other libraries").

No torch here: the fixtures were made by `tests/data/nir_interop/make_fixtures.py`
with snnTorch and Norse installed; the test reads what they recorded.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "nir_interop"
STEPS, INPUTS, NEURONS = 50, 8, 10


CONV_INPUT = (1, 6, 6)   # the convolutional fixtures' sample: channels, height, width


def drive(seed: int = 0, shape=(INPUTS,)) -> np.ndarray:
    """The input every fixture network gets: `(STEPS, *shape)` float32 spikes,
    each input firing with probability 0.3 at each step."""
    return (np.random.default_rng(seed).random((STEPS, *shape)) < 0.3).astype(np.float32)


def drive_for(graph) -> np.ndarray:
    """The fixture input that fits `graph`: the convolutional one when it
    has a convolution."""
    import nir

    convolutional = any(isinstance(node, (nir.Conv1d, nir.Conv2d))
                        for node in graph.nodes.values())
    return drive(shape=CONV_INPUT) if convolutional else drive()


def reference_output(graph, x: np.ndarray, dt=None) -> np.ndarray:
    """The first final layer's output of `snnax_ref.nir.from_nir(graph)` on
    `x`, in float32 as the other libraries computed, from the default state."""
    from snnax_ref.nir import from_nir

    imported = from_nir(graph, dt=dt)
    _, outputs = imported.model(imported.init_state(), jnp.asarray(x), jax.random.PRNGKey(0))
    return np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)


def relation(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """How the reference's output `ours` relates to another library's `theirs`
    (both `(steps, neurons)`): `equal`; `shifted` (ours one step later:
    ours[t + 1] == theirs[t], and nothing at step 0); else `different`. Spike
    trains (0/1) compare exactly, with the count of differing entries and
    whether every neuron's first spike falls on the same step; membranes (a
    leaky integrator's output) to float32 rounding (rtol 1e-4)."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    spikes = bool(np.all(np.isin(ours, (0, 1))) and np.all(np.isin(theirs, (0, 1))))

    def same(a, b):
        return np.array_equal(a, b) if spikes else np.allclose(a, b, rtol=1e-4, atol=1e-6)

    if same(ours, theirs):
        kind = "equal"
    elif same(ours[0], 0 * ours[0]) and same(ours[1:], theirs[:-1]):
        kind = "shifted"
    else:
        kind = "different"
    if not spikes:
        return {"relation": kind}

    both = ours.any(axis=0) & theirs.any(axis=0)
    delays = np.argmax(ours, axis=0)[both] - np.argmax(theirs, axis=0)[both]
    return {"relation": kind, "differing": int(np.sum(ours != theirs)),
            "spikes": [int(ours.sum()), int(theirs.sum())],
            "first_spike_delays": sorted({int(d) for d in delays})}


def manifest() -> dict:
    return json.loads((DATA / "manifest.json").read_text())
