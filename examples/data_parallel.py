"""Data-parallel training of the random-manifold SNN over several devices.

The model of `train_random_manifolds.py` (a recurrent `GraphStructure`:
Linear -> LIF -> Linear -> SimpleLI, the LIF's spikes fed back into the first
Linear) handles one sample; a batch is its `vmap`. Here the batch axis is
split over a `jax.sharding.Mesh` of all devices (one mesh axis, `"batch"`):
every device runs the vmapped model on its slice of the batch, the model
parameters and the optimiser state are replicated, and XLA inserts the
all-reduce that sums the gradient over the slices. Nothing in the model
changes: sharding is a placement of the inputs, and `eqx.filter_jit` compiles
the same forward pass and training step for the sharded arrays.

Several devices on one CPU
--------------------------
XLA shows a single CPU as N devices when it is told so before JAX starts:

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python examples/data_parallel.py

The flag is read once, when JAX creates its CPU backend, so it must be in the
environment before `import jax` (in a notebook: `os.environ["XLA_FLAGS"] =
...` in the first cell). This script sets it itself when given `--devices N`
and started as a script (`force_host_devices`, before its own `import jax`).
The forced devices share the machine's cores: they show that the program is
correct on N devices, not how fast N real devices are.

    python examples/data_parallel.py --devices 4 --check

prints the devices, where each slice of the batch lives, the loss over a few
training steps, and with `--check` compares the sharded forward pass,
gradients and updated parameters with the same computation on one device.

Several hosts
-------------
Every host runs this same program; JAX connects the processes when each
calls `jax.distributed.initialize` before any other JAX call:

    jax.distributed.initialize(coordinator_address="10.0.0.1:12345",
                               num_processes=2, process_id=0)   # 1 on the other host

(on Slurm, Open MPI or Cloud TPU the arguments are found automatically:
`jax.distributed.initialize()`). `jax.devices()` then lists the devices of
every process and `make_mesh()` spans all of them; `jax.local_devices()` are
this process's own. Each process loads only its own rows of the global batch
(`process_rows` says which: the block that its devices hold) and
`shard_batch` joins the parts into one global array with
`jax.make_array_from_process_local_data`. The model is built from the same
seed everywhere, so the replicated copies agree. Every process runs the same
jitted steps in the same order; a value read back to NumPy is what the
process holds (`local_value`: a replicated loss whole, a sharded output as
its own rows). With this script:

    python examples/data_parallel.py --check --coordinator 10.0.0.1:12345 \
        --num-processes 2 --process-id 0        # --process-id 1 on the other host

(`--distributed` alone: arguments detected automatically). Two processes on
one machine work too (`--coordinator 127.0.0.1:PORT --devices 2` in each: 4
devices in all; JAX's CPU backend runs the cross-process all-reduce over TCP
with gloo, so this checks the program, not the speed).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

_FORCE_FLAG = "--xla_force_host_platform_device_count"


def force_host_devices(num_devices: int) -> None:
    """Ask for `num_devices` CPU devices; call it before JAX runs anything.

    Sets XLA_FLAGS (read when JAX starts its CPU backend, and inherited by
    child processes). If JAX is already imported, it also sets JAX's
    `jax_num_cpu_devices` option, which JAX refuses once its backend has
    started.
    """
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(_FORCE_FLAG)]
    os.environ["XLA_FLAGS"] = " ".join(flags + [f"{_FORCE_FLAG}={num_devices}"])
    if "jax" in sys.modules:
        sys.modules["jax"].config.update("jax_num_cpu_devices", num_devices)


if __name__ == "__main__":
    # `--devices N` on the command line: force N host devices before JAX starts
    # (unless XLA_FLAGS already sets a count, which then wins).
    _early = argparse.ArgumentParser(add_help=False)
    _early.add_argument("--devices", type=int)
    _requested = _early.parse_known_args()[0].devices
    if _requested and _FORCE_FLAG not in os.environ.get("XLA_FLAGS", ""):
        force_host_devices(_requested)

import equinox as eqx  # noqa: E402  (after XLA_FLAGS)
import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

# The task and the model come from the training example next to this file.
_HERE = pathlib.Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))
import train_random_manifolds as task  # noqa: E402

BATCH_AXIS = "batch"


# ----------------------------------------------------------------------------
# Mesh, sharding, replication
# ----------------------------------------------------------------------------

def make_mesh(num_devices: int | None = None) -> Mesh:
    """A one-axis mesh, `"batch"`, over the first `num_devices` devices (default all)."""
    devices = jax.devices()
    if num_devices is None:
        num_devices = len(devices)
    if not 1 <= num_devices <= len(devices):
        raise ValueError(
            f"make_mesh: asked for {num_devices} devices, JAX sees {len(devices)} "
            f"({jax.default_backend()}); on a CPU set XLA_FLAGS={_FORCE_FLAG}={num_devices} "
            "before importing jax")
    return Mesh(np.array(devices[:num_devices]), (BATCH_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """The leading (batch) axis split over the mesh's `"batch"` axis, the rest whole."""
    return NamedSharding(mesh, PartitionSpec(BATCH_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def process_rows(mesh: Mesh, global_batch: int, name: str = "batch") -> slice:
    """The rows of a global batch of `global_batch` samples that this process feeds.

    Every device of the mesh gets an equal slice of the batch, so the global
    batch must be a multiple of the mesh's size. In a single process the rows
    are all of them.
    """
    if global_batch % mesh.size:
        raise ValueError(
            f"{name}: a batch of {global_batch} samples does not split evenly over the "
            f"{mesh.size} devices of the mesh's {BATCH_AXIS!r} axis; use a batch size that "
            f"is a multiple of {mesh.size}")
    index_map = batch_sharding(mesh).addressable_devices_indices_map((global_batch,))
    rows = sorted(index[0].indices(global_batch)[:2] for index in index_map.values())
    if any(a[1] != b[0] for a, b in zip(rows, rows[1:])):
        raise ValueError(f"{name}: this process's devices do not hold one contiguous block of "
                         f"the batch ({rows}); order the mesh's devices by process")
    return slice(rows[0][0], rows[-1][1])


def shard_batch(mesh: Mesh, local_batch, name: str = "batch"):
    """This process's part of the batch -> one global array split along axis 0.

    In a single process the part is the whole batch. With several processes
    each passes its own part (`process_rows` says which rows of the global
    batch), all parts of the same length; the global batch is their
    concatenation in process order. Each device gets an equal slice, so the
    part's length must be a multiple of this process's devices in the mesh.
    """
    local_batch = np.asarray(local_batch)
    local_devices = len(mesh.local_devices)
    if local_batch.ndim == 0:
        raise ValueError(f"shard_batch: {name} is a scalar; it needs a leading batch axis")
    if local_batch.shape[0] % local_devices:
        raise ValueError(
            f"shard_batch: {name} of shape {local_batch.shape} has {local_batch.shape[0]} "
            f"samples, which do not split evenly over the {local_devices} devices of the "
            f"mesh's {BATCH_AXIS!r} axis; use a batch size that is a multiple of "
            f"{local_devices}")
    return jax.make_array_from_process_local_data(batch_sharding(mesh), local_batch)


def local_value(array) -> np.ndarray:
    """What this process holds of `array`, as NumPy: all of it in a single process;
    with several, a replicated array whole and a batch-sharded one as its local rows."""
    if array.is_fully_addressable:
        return np.asarray(array)
    if array.sharding.is_fully_replicated:
        return np.asarray(array.addressable_data(0))
    blocks = {}
    for shard in array.addressable_shards:
        blocks.setdefault(shard.index[0].indices(array.shape[0])[0], shard.data)
    return np.concatenate([np.asarray(blocks[start]) for start in sorted(blocks)], axis=0)


def replicate(mesh: Mesh, tree):
    """Every array of `tree` (a model, an optimiser state) copied to every device.

    Non-array leaves (activation functions, static configuration) are kept as
    they are. The same host values must be given on every process.
    """
    arrays, static = eqx.partition(tree, eqx.is_array)
    sharding = replicated(mesh)
    arrays = jax.tree_util.tree_map(
        lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a), a.shape),
        arrays)
    return eqx.combine(arrays, static)


# ----------------------------------------------------------------------------
# The computations (the same functions run on one device and sharded)
# ----------------------------------------------------------------------------

@eqx.filter_jit
def batch_forward(model, states, x):
    """A batch `(B, T, N)` -> (logits `(B, 10)`, hidden spikes `(B, T, H)`)."""
    return eqx.filter_vmap(lambda xi: task.forward(model, states, xi))(x)


@eqx.filter_jit
def loss_and_grads(model, states, x, y):
    """The training loss of `train_random_manifolds` over the batch, and its gradient."""
    return eqx.filter_value_and_grad(task.loss_fn)(model, states, x, y)


def make_optimiser(lr: float = 3e-3):
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))


@eqx.filter_jit
def train_step(model, opt_state, states, x, y, optimiser):
    """One step of `train_random_manifolds`' training: loss, gradient, optax update.

    (`optimiser` is static: pass the same object every step, or it recompiles.)
    """
    loss, grads = eqx.filter_value_and_grad(task.loss_fn)(model, states, x, y)
    grads = task.freeze_decay_constants(grads)
    params = eqx.filter(model, eqx.is_inexact_array)
    updates, opt_state = optimiser.update(grads, opt_state, params)
    return eqx.apply_updates(model, updates), opt_state, loss


def build(n_in: int = 20, hidden: int = 64, time_steps: int = 50, per_class: int = 4,
          seed: int = 0):
    """The random-manifold data, the model and its initial state, as in the training example."""
    rng = np.random.default_rng(seed)
    manifolds = task.make_manifolds(rng, task.NUM_CLASSES, n_in, 4, 2.0)
    x, y = task.make_dataset(manifolds, rng, per_class, time_steps, 5, 1.0, 0.1)
    model = task.build_model(n_in, hidden, jax.random.PRNGKey(seed))
    states = task.init_states(model, n_in, hidden)
    return model, states, x, y.astype(np.int32)


# ----------------------------------------------------------------------------
# Sharded against one device
# ----------------------------------------------------------------------------

def _put_arrays(tree, device):
    """The arrays of `tree` on `device`; other leaves (Python floats, functions) untouched."""
    arrays, static = eqx.partition(tree, eqx.is_array)
    return eqx.combine(jax.device_put(arrays, device), static)


def _leaves(tree):
    return [local_value(leaf) for leaf in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def _shards(array):
    """(device id, slice of the batch axis, shard shape) of every addressable shard."""
    return [(shard.device.id, (shard.index[0].start, shard.index[0].stop), tuple(shard.data.shape))
            for shard in array.addressable_shards]


def run_both(mesh: Mesh, model, states, x, y, train_steps: int = 1, optimiser=None):
    """The forward pass, the loss gradient and `train_steps` training steps, twice.

    `x`, `y` are the whole (global) batch. Once with every array on this
    process's first device alone, once with the batch sharded over `mesh`
    (this process feeding its rows) and the model, state and optimiser state
    replicated. Returns the values of both runs as NumPy arrays (the
    per-sample outputs: this process's rows) and where the sharded arrays live.
    """
    optimiser = make_optimiser() if optimiser is None else optimiser

    def run(model, states, x, y, opt_state):
        logits, spikes = batch_forward(model, states, x)
        loss, grads = loss_and_grads(model, states, x, y)
        losses = []
        for _ in range(train_steps):
            model, opt_state, step_loss = train_step(model, opt_state, states, x, y, optimiser)
            losses.append(step_loss)
        return dict(logits=logits, spikes=spikes, loss=loss, grads=grads, model=model,
                    step_losses=losses)

    opt_state = optimiser.init(eqx.filter(model, eqx.is_inexact_array))
    first = jax.local_devices()[0]
    on_one = run(*(_put_arrays(tree, first) for tree in (model, states, x, y, opt_state)))

    rows = process_rows(mesh, len(x), "x")
    sx, sy = shard_batch(mesh, x[rows], "x"), shard_batch(mesh, y[rows], "y")
    on_mesh = run(replicate(mesh, model), replicate(mesh, states), sx, sy,
                  replicate(mesh, opt_state))

    out = {"rows": (rows.start, rows.stop)}
    for tag, r, keep in (("single", on_one, rows), ("sharded", on_mesh, slice(None))):
        out[tag] = dict(
            logits=local_value(r["logits"])[keep], spikes=local_value(r["spikes"])[keep],
            loss=float(local_value(r["loss"])), grads=_leaves(r["grads"]),
            params=_leaves(r["model"]),
            step_losses=[float(local_value(v)) for v in r["step_losses"]])
    batch = batch_sharding(mesh)
    out["placement"] = dict(
        mesh_devices=[d.id for d in mesh.devices.flat],
        process_rows=(rows.start, rows.stop),
        x_shards=_shards(sx),
        logits_shards=_shards(on_mesh["logits"]),
        spikes_shards=_shards(on_mesh["spikes"]),
        logits_batch_sharded=on_mesh["logits"].sharding.is_equivalent_to(batch, 2),
        spikes_batch_sharded=on_mesh["spikes"].sharding.is_equivalent_to(batch, 3),
        params_replicated=all(leaf.sharding.is_fully_replicated for leaf in
                              jax.tree_util.tree_leaves(eqx.filter(on_mesh["model"], eqx.is_array))),
        grads_replicated=all(leaf.sharding.is_fully_replicated for leaf in
                             jax.tree_util.tree_leaves(eqx.filter(on_mesh["grads"], eqx.is_array))),
    )
    return out


# The tolerance of the check: the sharded run sums the loss and the gradient
# over the batch slices first and then across devices (an all-reduce), the
# single-device run in one pass, so float32 sums are reassociated; per-sample
# values may also differ in the last bits when XLA tiles a smaller batch
# differently. Spikes are compared exactly (a threshold crossing only moves if
# a membrane lies within rounding of the threshold).
RTOL, ATOL = 1e-5, 1e-6


def max_differences(results) -> dict:
    """Largest |sharded - single| per quantity, and whether all spikes agree."""
    a, b = results["single"], results["sharded"]

    def worst(xs, ys):
        return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)), initial=0.0))
                   for u, v in zip(xs, ys))

    return dict(
        spikes_equal=bool(np.array_equal(a["spikes"], b["spikes"])),
        logits=worst([a["logits"]], [b["logits"]]),
        loss=abs(a["loss"] - b["loss"]),
        grads=worst(a["grads"], b["grads"]),
        params=worst(a["params"], b["params"]),
    )


def agree(results) -> bool:
    a, b = results["single"], results["sharded"]
    return (np.array_equal(a["spikes"], b["spikes"])
            and np.allclose(a["logits"], b["logits"], rtol=RTOL, atol=ATOL)
            and np.allclose(a["loss"], b["loss"], rtol=RTOL, atol=ATOL)
            and all(np.allclose(u, v, rtol=RTOL, atol=ATOL) for u, v in zip(a["grads"], b["grads"]))
            and all(np.allclose(u, v, rtol=RTOL, atol=ATOL)
                    for u, v in zip(a["params"], b["params"])))


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", type=int, default=None,
                   help="run as a script on a CPU: force this many host devices in this "
                        "process (unless XLA_FLAGS already sets a count); the mesh is the "
                        "first N devices (default all), or with several processes all "
                        "devices of all of them")
    p.add_argument("--batch-size", type=int, default=64, help="global batch")
    p.add_argument("--steps", type=int, default=20, help="training steps on the mesh (>= 1)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true",
                   help="compare forward, gradient and one training step with one device")
    dist = p.add_argument_group("several processes (jax.distributed)")
    dist.add_argument("--distributed", action="store_true",
                      help="call jax.distributed.initialize first (arguments found "
                           "automatically on Slurm, Open MPI, Cloud TPU)")
    dist.add_argument("--coordinator", default=None, help="HOST:PORT of process 0")
    dist.add_argument("--num-processes", type=int, default=None)
    dist.add_argument("--process-id", type=int, default=None)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.distributed or args.coordinator is not None:
        # before any other JAX call
        jax.distributed.initialize(coordinator_address=args.coordinator,
                                   num_processes=args.num_processes,
                                   process_id=args.process_id)
    mesh = make_mesh(args.devices if jax.process_count() == 1 else None)
    tag = f"[process {jax.process_index()}/{jax.process_count()}] " if jax.process_count() > 1 else ""
    print(f"{tag}JAX {jax.__version__}, backend {jax.default_backend()}, "
          f"{jax.device_count()} devices ({jax.local_device_count()} local)")
    print(f"{tag}mesh {dict(mesh.shape)}: {[str(d) for d in mesh.devices.flat]}")

    # Every process generates the same data and model from the seed and feeds
    # its own rows of the global batch.
    per_class = -(-args.batch_size // task.NUM_CLASSES)
    model, states, x, y = build(hidden=args.hidden, per_class=per_class, seed=args.seed)
    x, y = x[:args.batch_size], y[:args.batch_size]
    rows = process_rows(mesh, len(x), "x")
    sx, sy = shard_batch(mesh, x[rows], "x"), shard_batch(mesh, y[rows], "y")
    for device_id, (start, stop), shape in _shards(sx):
        print(f"{tag}  device {device_id}: samples [{start}, {stop}) of x, shard {shape}")

    optimiser = make_optimiser()
    opt_state = optimiser.init(eqx.filter(model, eqx.is_inexact_array))
    m, s, o = replicate(mesh, model), replicate(mesh, states), replicate(mesh, opt_state)
    logits, spikes = batch_forward(m, s, sx)
    print(f"{tag}forward: logits {logits.shape} sharded as {logits.sharding.spec}, "
          f"hidden spike rate {local_value(spikes).mean():.3f} (this process's samples)")
    t0 = time.perf_counter()
    m, o, loss = train_step(m, o, s, sx, sy, optimiser)
    first_loss = float(local_value(loss))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps - 1):
        m, o, loss = train_step(m, o, s, sx, sy, optimiser)
    final_loss = float(local_value(loss))
    step_s = (time.perf_counter() - t0) / max(args.steps - 1, 1)
    print(f"{tag}training: loss {first_loss:.4f} -> {final_loss:.4f} over {args.steps} steps on "
          f"the same batch; first step {compile_s:.2f} s (compiles), then {1e3 * step_s:.1f} ms/step")
    result = dict(devices=[str(d) for d in mesh.devices.flat], first_loss=first_loss,
                  final_loss=final_loss, ms_per_step=1e3 * step_s)

    if args.check:
        results = run_both(mesh, model, states, x, y, optimiser=optimiser)
        diffs = max_differences(results)
        ok = agree(results)
        print(f"{tag}check against one device (rtol {RTOL:g}, atol {ATOL:g}): "
              f"spikes identical {diffs['spikes_equal']}; max |difference| logits "
              f"{diffs['logits']:.2e}, loss {diffs['loss']:.2e}, gradients {diffs['grads']:.2e}, "
              f"parameters after one step {diffs['params']:.2e} -> {'agree' if ok else 'DIFFER'}")
        result.update(check=diffs, agree=ok)
        if not ok:
            raise SystemExit("the sharded run differs from the single-device run")
    return result


if __name__ == "__main__":
    main()
