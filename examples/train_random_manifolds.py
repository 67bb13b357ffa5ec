"""Train a small recurrent spiking network on the random-manifold task.

A self-contained training example for `snnax_ref` (no download): surrogate-
gradient backpropagation through time with `optax.adam`, on a procedurally
generated spiking data set after the "random manifolds" task of Zenke & Vogels
(2021, Neural Computation 33(4)).

The task (defaults; every value is a CLI flag)
-----------------------------------------------
- 10 classes, `N = 20` input neurons, `T = 50` time steps.
- Each class is a random smooth 1-D manifold in "firing-time space": for class
  `c` and input neuron `i`, a smooth function `f_ci : [0, 1] -> [0, 1]` (a sum
  of `K = 4` sinusoids of `u` with random phases, amplitudes falling as
  `1 / k**alpha`, `alpha = 2`, rescaled to [0, 1] over u), built from the seed.
- A sample of class `c` draws `u ~ U[0, 1]`; input neuron `i` fires exactly
  once, at step `round(margin + f_ci(u) * (T - 2*margin - 1) + jitter)` with
  `margin = 5` and Gaussian jitter of `sigma = 1.0` steps (clipped to [0, T-1]);
  then each spike is dropped with probability 0.1 (class-independent noise).
- Inputs are binary rasters of shape `(T, N)`; 500 training and 100 held-out
  samples per class.

Every input neuron fires once (or not, at random) in every class, so the
spike COUNTS per neuron carry no class information: the linear baseline, a
logistic regression (trained with optax) on the counts, sits near chance
(0.1). Only the spike TIMES tell the classes apart.

The network
-----------
A `snn.GraphStructure` with a feedback edge:

    layer 0  eqx.nn.Linear(H + N, H)   reads [hidden spikes at t-1, input at t]
    layer 1  snn.LIF                   the recurrent hidden layer (H = 64)
    layer 2  eqx.nn.Linear(H, 10)      readout weights
    layer 3  snn.SimpleLI              leaky-integrator readout

The class logits are the mean over time of the readout membranes (the max over
time learns more slowly here); the loss is the softmax cross-entropy plus a
penalty keeping each hidden neuron between 1 (batch mean) and 10 (per sample)
spikes. Gradients flow through the spikes with the SuperSpike surrogate
(`snnax_ref.functional.superspike_surrogate`, beta 10). Training: 3000 steps of
`optax.adam(3e-3)` after global-norm clipping at 1, batches of 64; the decay
constants stay fixed (trained, they can reach 1 and silence a layer).

Measured (seed 0, 2 CPU cores, JAX on CPU): see docs/guides/training-and-devices.md, "Training example".

Run
---
    pip install -e ".[examples]"
    python examples/train_random_manifolds.py                  # full run
    python examples/train_random_manifolds.py --steps 100 --plot --out-dir runs

It prints a progress bar over training steps, the loss, the train and held-out
accuracy of the SNN and of the linear baseline and the wall time, saves the
trained model with `eqx.tree_serialise_leaves`, reloads it and checks that the
reloaded model makes the same predictions. `--plot` (needs matplotlib) saves
a spike raster of one sample's hidden layer and the loss curve as PNGs.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnax_ref import snn
from snnax_ref.functional import superspike_surrogate

NUM_CLASSES = 10


# ----------------------------------------------------------------------------
# The data: random smooth manifolds in firing-time space
# ----------------------------------------------------------------------------

def make_manifolds(rng: np.random.Generator, num_classes: int, n_in: int,
                   n_components: int, alpha: float):
    """Per class and input neuron, the parameters of a smooth f: [0,1] -> [0,1]."""
    k = np.arange(1, n_components + 1)
    amplitudes = rng.uniform(0.0, 1.0, (num_classes, n_in, n_components)) / k**alpha
    phases = rng.uniform(0.0, 1.0, (num_classes, n_in, n_components))
    # rescale each function to [0, 1] over a dense grid of u
    grid = np.linspace(0.0, 1.0, 1001)
    values = _evaluate(amplitudes, phases, grid)                  # (C, N, G)
    low, high = values.min(-1), values.max(-1)
    return amplitudes, phases, low, np.maximum(high - low, 1e-9)


def _evaluate(amplitudes, phases, u):
    """sum_k A_k sin(2 pi (k u + phase_k)); u broadcast over the last axis."""
    k = np.arange(1, amplitudes.shape[-1] + 1)
    angle = 2 * np.pi * (k[:, None] * u[..., None, :] + phases[..., :, None])
    return np.einsum("...k,...kg->...g", amplitudes, np.sin(angle))


def make_dataset(manifolds, rng: np.random.Generator, per_class: int, T: int,
                 margin: int, jitter: float, drop: float):
    """Spike rasters `(C*per_class, T, N)` (float32) and labels."""
    amplitudes, phases, low, scale = manifolds
    num_classes, n_in, _ = amplitudes.shape
    labels = np.repeat(np.arange(num_classes), per_class)
    u = rng.uniform(0.0, 1.0, labels.size)
    # f_ci(u) for each sample's class, every neuron: (S, N)
    f = np.empty((labels.size, n_in))
    for c in range(num_classes):
        rows = labels == c
        f[rows] = ((_evaluate(amplitudes[c], phases[c], u[rows]) - low[c][:, None])
                   / scale[c][:, None]).T
    times = margin + f * (T - 2 * margin - 1) + jitter * rng.standard_normal(f.shape)
    times = np.clip(np.round(times), 0, T - 1).astype(int)
    keep = rng.uniform(size=f.shape) >= drop
    x = np.zeros((labels.size, T, n_in), np.float32)
    sample, neuron = np.nonzero(keep)
    x[sample, times[sample, neuron], neuron] = 1.0
    order = rng.permutation(labels.size)
    return x[order], labels[order]


# ----------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------

def build_model(n_in: int, hidden: int, key, input_gain: float = 200.0,
                recurrent_gain: float = 10.0, readout_gain: float = 10.0):
    """Linear(feedback + input) -> LIF -> Linear -> SimpleLI, with LIF -> layer 0 feedback."""
    k0, k2 = jax.random.split(key)
    graph = snn.GraphStructure(
        num_layers=4,
        input_layer_ids=[[0], [], [], []],      # the external input enters layer 0
        final_layer_ids=[1, 3],                 # hidden spikes (for plots) and readout
        input_connectivity=[[1], [0], [1], [2]],  # layer 0 also reads layer 1: feedback
    )
    w_in = eqx.nn.Linear(hidden + n_in, hidden, key=k0)
    # Binary input spikes are sparse (one per neuron per sample): scale up the
    # default fan-in initialisation so that the hidden layer spikes at the start.
    # The first `hidden` columns read the fed-back spikes, the last `n_in` the input
    # (the receiving layer concatenates its sources in input_connectivity order,
    # then the external input; SPEC.md §4.2).
    gain = jnp.concatenate([jnp.full((hidden,), recurrent_gain), jnp.full((n_in,), input_gain)])
    w_in = eqx.tree_at(lambda m: m.weight, w_in, w_in.weight * gain[None, :])
    # (The LIF and LI membranes are normalised low-pass filters, V = a*V + (1-a)*x,
    # so a single input spike moves them little: hence the large gains.)
    w_out = eqx.nn.Linear(hidden, NUM_CLASSES, key=k2)
    w_out = eqx.tree_at(lambda m: m.weight, w_out, w_out.weight * readout_gain)
    layers = [
        w_in,
        snn.LIF([0.9, 0.8], spike_fn=superspike_surrogate(10.0)),
        w_out,
        snn.SimpleLI([0.9]),
    ]
    return snn.StatefulModel(graph, layers)


def init_states(model, n_in: int, hidden: int):
    # shapes[i] is what layer i RECEIVES: layer 0 gets the (hidden,) feedback
    # concatenated with the (n_in,) external input.
    return model.init_state((n_in,), shapes=[(hidden + n_in,), None, None, None],
                            key=jax.random.PRNGKey(0))


def forward(model, states, x):
    """One sample `(T, N)` -> (logits `(10,)`, hidden spikes `(T, H)`)."""
    _, (hidden_spikes, readout) = model(states, x, None)
    return readout.mean(axis=0), hidden_spikes


def batch_logits(model, states, x):
    return eqx.filter_vmap(lambda xi: forward(model, states, xi)[0])(x)


def loss_fn(model, states, x, y, min_spikes: float = 1.0, max_spikes: float = 10.0,
            activity_weight: float = 1.0):
    """Cross-entropy plus lower and upper bounds on hidden activity.

    The activity terms penalise hidden neurons that fire fewer than `min_spikes`
    spikes per sample on average over the batch, and (per sample) more than
    `max_spikes`: a silent hidden layer passes no gradient to the readout, and a
    saturated one (every neuron firing at every step) carries no information;
    training would stall in either.
    """
    logits, hidden_spikes = eqx.filter_vmap(lambda xi: forward(model, states, xi))(x)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    counts = hidden_spikes.sum(axis=1).mean(axis=0)                 # (H,)
    activity = (jnp.mean(jax.nn.relu(min_spikes - counts) ** 2)
                + jnp.mean(jax.nn.relu(hidden_spikes.sum(axis=1) - max_spikes) ** 2) / max_spikes)
    return ce + activity_weight * activity


def freeze_decay_constants(grads):
    """Zero the gradients of the LIF and LI decay constants: they stay fixed.

    (Trained freely, a decay constant can reach 1, where `V = a*V + (1-a)*x`
    stops listening to its input and the readout falls silent for good.)
    """
    return eqx.tree_at(lambda g: (g.layers[1].decay_constants, g.layers[3].decay_constants),
                       grads, replace_fn=jnp.zeros_like)


@eqx.filter_jit
def predict(model, states, x):
    return jnp.argmax(batch_logits(model, states, x), axis=-1)


def accuracy(model, states, x, y, chunk: int = 500):
    preds = np.concatenate([np.asarray(predict(model, states, x[i:i + chunk]))
                            for i in range(0, len(x), chunk)])
    return float((preds == y).mean()), preds


# ----------------------------------------------------------------------------
# The linear baseline: logistic regression on spike counts
# ----------------------------------------------------------------------------

def linear_baseline(x_train, y_train, x_test, y_test, seed: int, steps: int = 500):
    counts_train, counts_test = x_train.sum(1), x_test.sum(1)          # (S, N)
    mean, std = counts_train.mean(0), counts_train.std(0) + 1e-6
    a, b = (counts_train - mean) / std, (counts_test - mean) / std
    params = {"w": 0.01 * jax.random.normal(jax.random.PRNGKey(seed), (a.shape[1], NUM_CLASSES)),
              "b": jnp.zeros(NUM_CLASSES)}
    opt = optax.adam(1e-2)
    opt_state = opt.init(params)

    def loss(p):
        logits = a @ p["w"] + p["b"][None, :]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y_train).mean()

    @jax.jit
    def step(p, s):
        value, grads = jax.value_and_grad(loss)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    for _ in range(steps):
        params, opt_state, _ = step(params, opt_state)
    w, bias = np.asarray(params["w"]), np.asarray(params["b"])

    def acc(features, y):
        return float((np.argmax(features @ w + bias, -1) == y).mean())

    return acc(a, y_train), acc(b, y_test)


# ----------------------------------------------------------------------------
# Progress bar
# ----------------------------------------------------------------------------

class _TextBar:
    """A minimal stand-in for tqdm: `[#####.....] 50/100 loss=...`."""

    def __init__(self, total, width=30, stream=sys.stdout):
        self.total, self.width, self.stream, self.n, self.postfix = total, width, stream, 0, ""

    def update(self, n=1):
        self.n += n
        filled = int(self.width * self.n / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{self.n}/{self.total} {self.postfix}")
        self.stream.flush()

    def set_postfix_str(self, s):
        self.postfix = s

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def progress_bar(total, enabled=True):
    if not enabled:
        return _TextBar(total, stream=_Null())
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(total)
    return tqdm(total=total, desc="training", unit="step")


class _Null:
    def write(self, s):
        pass

    def flush(self):
        pass


# ----------------------------------------------------------------------------
# Plots (optional; matplotlib imported only here)
# ----------------------------------------------------------------------------

def save_plots(out_dir: pathlib.Path, x_sample, hidden_spikes, losses):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for ax, raster, title in ((axes[0], x_sample, "input spikes"),
                              (axes[1], hidden_spikes, "hidden LIF spikes")):
        t, n = np.nonzero(np.asarray(raster))
        ax.scatter(t, n, s=4, c="k", marker="|")
        ax.set_ylabel("neuron")
        ax.set_title(title)
    axes[1].set_xlabel("time step")
    fig.tight_layout()
    raster_path = out_dir / "raster.png"
    fig.savefig(raster_path, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses)
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy loss")
    fig.tight_layout()
    loss_path = out_dir / "loss.png"
    fig.savefig(loss_path, dpi=120)
    plt.close(fig)
    return [str(raster_path), str(loss_path)]


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=3000, help="training steps")
    p.add_argument("--seed", type=int, default=0, help="seed of the task and the network")
    p.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("runs/random_manifolds"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--n-in", type=int, default=20, help="input neurons")
    p.add_argument("--time-steps", type=int, default=50, help="T")
    p.add_argument("--jitter", type=float, default=1.0, help="spike-time jitter (steps)")
    p.add_argument("--drop", type=float, default=0.1, help="probability a spike is dropped")
    p.add_argument("--components", type=int, default=4, help="sinusoids per manifold")
    p.add_argument("--alpha", type=float, default=2.0, help="smoothness exponent")
    p.add_argument("--train-per-class", type=int, default=500)
    p.add_argument("--test-per-class", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=500, help="held-out check every n steps")
    p.add_argument("--plot", action="store_true", help="save raster.png and loss.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    verbose = not args.no_progress
    log = print if verbose else (lambda *a, **k: None)

    rng = np.random.default_rng(args.seed)
    manifolds = make_manifolds(rng, NUM_CLASSES, args.n_in, args.components, args.alpha)
    margin = 5
    x_train, y_train = make_dataset(manifolds, rng, args.train_per_class, args.time_steps,
                                    margin, args.jitter, args.drop)
    x_test, y_test = make_dataset(manifolds, rng, args.test_per_class, args.time_steps,
                                  margin, args.jitter, args.drop)
    log(f"task: {NUM_CLASSES} classes, N={args.n_in}, T={args.time_steps}, "
        f"jitter={args.jitter}, drop={args.drop}; {len(x_train)} train / {len(x_test)} held-out")

    base_train, base_test = linear_baseline(x_train, y_train, x_test, y_test, args.seed)
    log(f"linear baseline (logistic regression on spike counts): "
        f"train {base_train:.3f}, held-out {base_test:.3f}")

    key = jax.random.PRNGKey(args.seed)
    model_key, data_key = jax.random.split(key)
    model = build_model(args.n_in, args.hidden, model_key)
    states = init_states(model, args.n_in, args.hidden)

    optimiser = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(args.lr))
    opt_state = optimiser.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def train_step(model, opt_state, x, y):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, states, x, y)
        grads = freeze_decay_constants(grads)
        updates, opt_state = optimiser.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    batch_rng = np.random.default_rng(args.seed + 1)
    losses, evals = [], []
    bar = progress_bar(args.steps, enabled=verbose)
    train_start = time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = batch_rng.choice(len(x_train), args.batch_size, replace=False)
        model, opt_state, loss = train_step(model, opt_state, x_train[idx], y_train[idx])
        losses.append(float(loss))
        if step % args.eval_every == 0 or step == args.steps:
            acc, _ = accuracy(model, states, x_test, y_test)
            evals.append((step, acc))
            bar.set_postfix_str(f"loss={np.mean(losses[-20:]):.3f} held-out={acc:.3f}")
        elif step % 10 == 0:
            bar.set_postfix_str(f"loss={np.mean(losses[-10:]):.3f}")
        bar.update(1)
    bar.close()
    train_time = time.perf_counter() - train_start

    train_acc, _ = accuracy(model, states, x_train, y_train)
    test_acc, preds = accuracy(model, states, x_test, y_test)

    # Save, reload into a freshly built model of the same structure, compare.
    path = out_dir / "model.eqx"
    eqx.tree_serialise_leaves(path, model)
    skeleton = build_model(args.n_in, args.hidden, jax.random.PRNGKey(args.seed + 12345))
    reloaded = eqx.tree_deserialise_leaves(path, skeleton)
    reload_acc, reload_preds = accuracy(reloaded, states, x_test, y_test)
    same = bool(np.array_equal(preds, reload_preds))

    plots = []
    if args.plot:
        _, hidden_spikes = eqx.filter_jit(forward)(model, states, x_test[0])
        plots = save_plots(out_dir, x_test[0], hidden_spikes, losses)

    wall = time.perf_counter() - start
    results = {
        "snn_train_accuracy": train_acc,
        "snn_test_accuracy": test_acc,
        "baseline_train_accuracy": base_train,
        "baseline_test_accuracy": base_test,
        "reloaded_test_accuracy": reload_acc,
        "reload_identical_predictions": same,
        "first_loss": float(np.mean(losses[:10])),
        "final_loss": float(np.mean(losses[-10:])),
        "losses": losses,
        "evals": evals,
        "train_seconds": train_time,
        "wall_seconds": wall,
        "model_path": str(path),
        "plots": plots,
        "devices": [str(d) for d in jax.devices()],
    }
    log(f"SNN: train {train_acc:.3f}, held-out {test_acc:.3f} | linear baseline on counts: "
        f"held-out {base_test:.3f} | chance 0.100")
    log(f"loss {results['first_loss']:.3f} -> {results['final_loss']:.3f}; "
        f"training {train_time:.1f} s, wall {wall:.1f} s on {results['devices']}")
    log(f"saved {path}; reloaded held-out accuracy {reload_acc:.3f}, "
        f"identical predictions: {same}")
    for p in plots:
        log(f"plot: {p}")
    summary = {k: v for k, v in results.items() if k not in ("losses",)}
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2))
    if not same or reload_acc != test_acc:
        raise RuntimeError("the reloaded model does not reproduce the trained model's predictions")
    return results


if __name__ == "__main__":
    main()
