"""Workload (a), Linear(n, n) then a current-based LIF, in each peer library.

Every peer is built from the same numbers: the weights ``W`` (out x in) and
bias ``b`` of snnax_ref's default-initialised ``Linear(n, n)``, the same input
``x`` (B, T, n), decay constants ``a = 0.95`` (membrane) and ``b = 0.9``
(synaptic current), threshold 1. Peers whose LIF is written with other
constants get the equivalent ones (and the input scaling that makes their
linear dynamics identical); each ``Peer`` documents its mapping, the time
shift between its spikes and snnax_ref's, and whether its reset agrees.

snnax_ref's LIF (SPEC.md 3.5), per step::

    V = V - sg(V * S_prev)          reset to zero, with the previous spikes
    V = a*V + (1 - a)*I_prev
    I = b*I_prev + (1 - b)*x
    S = H(V - 1)

Passes: ``forward`` returns the output spikes of the whole sequence (torch
peers run it under ``torch.no_grad``); ``forward_backward`` computes the sum
of the output spikes and its gradient with respect to the peer's trainable
parameters (the Linear weight and bias everywhere; also the decay constants
where the library makes them trainable: snnax_ref, plain JAX, upstream SNNAX,
Spyx, snnTorch; Norse's LIF parameters are constants).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

A_MEM, B_SYN, THRESHOLD = 0.95, 0.9, 1.0
SURROGATE_BETA = 10.0


@dataclass
class Problem:
    """The numbers every peer computes with (numpy, float32 or float64), and
    the GEMM floor of each pass (workload (a)'s products)."""

    W: np.ndarray   # (n, n), out x in
    b: np.ndarray   # (n,)
    x: np.ndarray   # (B, T, n)
    floor: Dict[str, list]   # pass -> [(m, k, n), ...]

    @property
    def n(self) -> int:
        return self.W.shape[0]

    @property
    def batch(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    def astype(self, dtype) -> "Problem":
        return Problem(self.W.astype(dtype), self.b.astype(dtype), self.x.astype(dtype), self.floor)


def make_problem(n: int, batch: int = 16, steps: int = 500, seed: int = 0) -> Problem:
    """Workload (a) as the asv suite defines it (its weights, input and floor)."""
    from asv_bench.benchmarks import workloads
    workload = workloads.linear_lif(n, batch, steps, seed)
    linear = workload.model.layers[0]
    return Problem(np.asarray(linear.weight), np.asarray(linear.bias), np.asarray(workload.inputs),
                   {p: workload.gemms(p) for p in ("forward", "forward_backward")})


@dataclass
class Built:
    forward: Callable[[], object]            # blocks until done
    forward_backward: Callable[[], object]   # blocks until done
    spikes: Callable[[], np.ndarray]         # (B, T, n) spikes of the forward pass


class Peer:
    name = "peer"
    description = ""
    shift = 0          # peer_spikes[t] == snnax_ref_spikes[t + shift]
    full_match = True  # False: only the first spike of each neuron can agree
    semantics = "identical to snnax_ref"

    def unavailable(self) -> Optional[str]:
        """None when the peer can run here, else the reason it cannot."""
        return None

    def build(self, problem: Problem) -> Built:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------
# JAX peers
# --------------------------------------------------------------------------

def _jax_dtype(problem: Problem):
    import jax.numpy as jnp
    return jnp.float64 if problem.W.dtype == np.float64 else jnp.float32


def _jax_built(forward: Callable, *args, time_major: bool = False) -> Built:
    """Compile ``forward(*args)`` (the spikes) and the value and gradient, with
    respect to ``args[0]``, of their sum."""
    import jax
    import jax.numpy as jnp

    fwd = jax.jit(forward).lower(*args).compile()
    fb = jax.jit(jax.value_and_grad(lambda *a: jnp.sum(forward(*a)))).lower(*args).compile()
    order = (lambda s: np.swapaxes(s, 0, 1)) if time_major else (lambda s: s)
    return Built(lambda: jax.block_until_ready(fwd(*args)),
                 lambda: jax.block_until_ready(fb(*args)),
                 lambda: order(np.asarray(fwd(*args))))


def _eqx_built(model, state, x, call: Callable) -> Built:
    """An equinox model over a batch (vmap), its first output: ``call(model, state, xs)``."""
    import equinox as eqx
    import jax

    params, static = eqx.partition(model, eqx.is_inexact_array)

    def forward(params, state, x):
        m = eqx.combine(params, static)
        return jax.vmap(lambda xs: call(m, state, xs)[1][0])(x)

    return _jax_built(forward, params, state, x)


class SnnaxRef(Peer):
    name = "snnax_ref"
    description = "snn.Sequential(eqx.nn.Linear(n, n), snn.LIF()), vmap over the batch"
    options: dict = {}

    def build(self, problem):
        import equinox as eqx
        import jax
        import jax.numpy as jnp
        from asv_bench.benchmarks import workloads

        dtype = _jax_dtype(problem)
        model = workloads.linear_lif_model(problem.n, **self.options)
        model = eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias), model,
                            (jnp.asarray(problem.W, dtype), jnp.asarray(problem.b, dtype)))
        model = jax.tree_util.tree_map(
            lambda l: l.astype(dtype) if eqx.is_inexact_array(l) else l, model)
        state = model.init_state((problem.n,), key=jax.random.PRNGKey(0))
        return _eqx_built(model, state, jnp.asarray(problem.x, dtype),
                          lambda m, state, xs: m(state, xs, key=None))


class SnnaxRefStep(SnnaxRef):
    name = "snnax_ref-step"
    description = "snnax_ref with schedule='step': the Linear stepped inside the scan"
    options = {"schedule": "step"}


class SnnaxRefReadable(SnnaxRef):
    name = "snnax_ref-readable"
    description = ("snnax_ref with fuse_lif=False: the graph schedule, the LIF scanned "
                   "by its readable __call__ and differentiated by JAX")
    options = {"fuse_lif": False}


def _jax_spike():
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def spike(v):
        return (v >= 0).astype(v.dtype)

    @spike.defjvp
    def _spike_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return spike(v), dv / (1.0 + SURROGATE_BETA * jnp.abs(v))

    return spike


class _PlainJax(Peer):
    hoisted = False

    def build(self, problem):
        import jax.numpy as jnp
        from jax import lax

        dtype = _jax_dtype(problem)
        spike = _jax_spike()
        params = dict(W=jnp.asarray(problem.W, dtype), b=jnp.asarray(problem.b, dtype),
                      dc=jnp.asarray([A_MEM, B_SYN], dtype))
        x = jnp.asarray(np.swapaxes(problem.x, 0, 1), dtype)   # (T, B, n)
        hoisted = self.hoisted

        def forward(params, x):
            a = jnp.clip(params["dc"][0], 0.5, 1.0)
            bb = jnp.clip(params["dc"][1], 0.5, 1.0)

            def step(carry, drive):
                v, i, s = carry
                if not hoisted:
                    drive = drive @ params["W"].T + params["b"]
                v = v - lax.stop_gradient(v * s)
                v = a * v + (1 - a) * i
                i = bb * i + (1 - bb) * drive
                s = spike(v - THRESHOLD)
                return (v, i, s), s

            drive = x @ params["W"].T + params["b"] if hoisted else x
            zeros = jnp.zeros(x.shape[1:], x.dtype)
            _, spikes = lax.scan(step, (zeros, zeros, zeros), drive)
            return spikes                                       # (T, B, n)

        return _jax_built(forward, params, x, time_major=True)


class JaxScan(_PlainJax):
    name = "jax-scan"
    description = "hand-written JAX: lax.scan, the Linear inside each step"


class JaxHoisted(_PlainJax):
    name = "jax-hoisted"
    description = "hand-written JAX: one (B*T x n) GEMM, then lax.scan of the LIF"
    hoisted = True


def _import_upstream():
    path = os.environ.get("SNNAX_UPSTREAM_PATH")
    if path and path not in sys.path:
        sys.path.insert(0, path)
    if importlib.util.find_spec("snnax") is None:
        return None
    return importlib.import_module("snnax")


class SnnaxUpstream(Peer):
    name = "snnax-upstream"
    description = "upstream SNNAX Sequential(Linear, LIF) with its default_forward_fn"
    shift = -1
    semantics = ("upstream default_forward_fn reads every connected layer's output from the "
                 "incoming carry, i.e. the previous step (a one-step delay per edge, not the "
                 "documented straight-through): spikes[t] == snnax_ref[t-1]; the Linear's "
                 "initial output is set to zeros (upstream init_state stores Linear(0) = bias)")
    note: Optional[str] = None

    def unavailable(self):
        try:
            snnax = _import_upstream()
        except Exception as error:  # noqa: BLE001
            return f"import snnax failed: {error!r}"
        if snnax is None:
            return ("upstream SNNAX is not importable (set SNNAX_UPSTREAM_PATH to its src/ "
                    "directory; it needs chex)")
        SnnaxUpstream.note = self._default_forward_fn_status()
        return None

    @staticmethod
    def _default_forward_fn_status() -> str:
        """Does upstream's default forward function run, with one input and with a list?"""
        import equinox as eqx
        import jax
        import jax.numpy as jnp
        from snnax import snn as up
        model = up.Sequential(eqx.nn.Linear(4, 4, key=jax.random.PRNGKey(0)),
                              up.LIF([A_MEM, B_SYN]))
        state = model.init_state((4,), key=jax.random.PRNGKey(0))
        status = []
        for label, inputs in (("one input array", jnp.ones((3, 4))),
                              ("a list of inputs", [jnp.ones((3, 4))])):
            try:
                model(state, inputs, key=jax.random.PRNGKey(0))
                status.append(f"runs with {label}")
            except Exception as error:  # noqa: BLE001
                status.append(f"fails with {label} ({type(error).__name__}: {error})")
        return "upstream default_forward_fn " + "; ".join(status)

    def build(self, problem):
        import equinox as eqx
        import jax
        import jax.numpy as jnp
        _import_upstream()
        from snnax import snn as up

        dtype = _jax_dtype(problem)
        linear = eqx.nn.Linear(problem.n, problem.n, key=jax.random.PRNGKey(0))
        linear = eqx.tree_at(lambda l: (l.weight, l.bias), linear,
                             (jnp.asarray(problem.W, dtype), jnp.asarray(problem.b, dtype)))
        model = up.Sequential(linear, up.LIF(jnp.asarray([A_MEM, B_SYN], dtype)))
        states = model.init_state((problem.n,), key=jax.random.PRNGKey(0))
        states = jax.tree_util.tree_map(lambda l: jnp.zeros_like(l, dtype), states)
        key = jax.random.PRNGKey(0)
        return _eqx_built(model, states, jnp.asarray(problem.x, dtype),
                          lambda m, states, xs: m(states, xs, key))


class Spyx(Peer):
    name = "spyx"
    description = "spyx.nn.Sequential(nnx.Linear, spyx.nn.CuBaLIF) run by spyx.nn.run"
    full_match = False
    semantics = ("CuBaLIF(alpha=b, beta=a) with weights scaled by (1-a)(1-b) has the same "
                 "linear dynamics and the same spike times up to each neuron's first spike; "
                 "it then resets by subtracting the threshold (snnax_ref resets to zero)")

    def unavailable(self):
        if importlib.util.find_spec("spyx") is None:
            return "spyx is not installed (pip install spyx)"
        return None

    def build(self, problem):
        import jax
        import jax.numpy as jnp
        import spyx
        from flax import nnx

        dtype = _jax_dtype(problem)
        scale = (1 - A_MEM) * (1 - B_SYN)
        linear = nnx.Linear(problem.n, problem.n, rngs=nnx.Rngs(0), dtype=dtype,
                            param_dtype=dtype)
        linear.kernel.value = jnp.asarray(problem.W.T * scale, dtype)
        linear.bias.value = jnp.asarray(problem.b * scale, dtype)
        lif = spyx.nn.CuBaLIF((problem.n,), alpha=B_SYN, beta=A_MEM, threshold=THRESHOLD,
                              activation=spyx.axn.superspike(SURROGATE_BETA),
                              rngs=nnx.Rngs(0))
        model = spyx.nn.Sequential(linear, lif)
        graphdef, state = nnx.split(model)
        state = jax.tree_util.tree_map(lambda l: jnp.asarray(l, dtype), state)
        x = jnp.asarray(np.swapaxes(problem.x, 0, 1), dtype)     # (T, B, n)

        def forward(state, x):
            out, _ = spyx.nn.run(nnx.merge(graphdef, state), x)
            return out

        return _jax_built(forward, state, x, time_major=True)


# --------------------------------------------------------------------------
# torch peers (CPU torch)
# --------------------------------------------------------------------------

def _torch_unavailable(module: str) -> Optional[str]:
    if importlib.util.find_spec("torch") is None:
        return ("torch is not installed (on a CPU machine: pip install torch "
                "--index-url https://download.pytorch.org/whl/cpu)")
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install {module}, after a CPU torch)"
    import jax
    import torch
    if jax.default_backend() != "cpu" and not torch.cuda.is_available():
        return (f"JAX runs on {jax.default_backend()} but this torch has no CUDA: a CPU "
                "torch against a GPU JAX is not a comparison")
    return None


def _torch_device():
    import jax
    import torch
    use_cuda = jax.default_backend() != "cpu" and torch.cuda.is_available()
    return torch.device("cuda" if use_cuda else "cpu")


def _torch_linear(problem: Problem, scale: float):
    import torch
    dtype = torch.float64 if problem.W.dtype == np.float64 else torch.float32
    device = _torch_device()
    linear = torch.nn.Linear(problem.n, problem.n).to(device=device, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(problem.W * scale, dtype=dtype))
        linear.bias.copy_(torch.as_tensor(problem.b * scale, dtype=dtype))
    x = torch.as_tensor(np.ascontiguousarray(np.swapaxes(problem.x, 0, 1)), dtype=dtype,
                        device=device)
    return linear, x, dtype


def _torch_built(run, parameters, x) -> Built:
    import torch
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)

    def forward():
        with torch.no_grad():
            out = run(x)
        sync()
        return out

    def forward_backward():
        for p in parameters:
            p.grad = None
        loss = run(x).sum()
        loss.backward()
        sync()
        return loss

    return Built(forward, forward_backward,
                 lambda: np.swapaxes(forward().cpu().numpy(), 0, 1))


class SnnTorch(Peer):
    name = "snntorch"
    description = ("torch.nn.Linear over the sequence, then snntorch.Synaptic stepped over "
                   "drive.unbind(0)")
    full_match = False
    shift = 1
    semantics = ("Synaptic(alpha=b, beta=a) with weights scaled by (1-a)(1-b) integrates the "
                 "current of the same step, so its membrane runs one step ahead: "
                 "spikes[t] == snnax_ref[t+1] up to each neuron's first spike; its zero reset "
                 "then also drops that step's input (snnax_ref keeps it)")

    def unavailable(self):
        return _torch_unavailable("snntorch")

    def build(self, problem):
        import snntorch
        import torch
        from snntorch import surrogate

        linear, x, dtype = _torch_linear(problem, (1 - A_MEM) * (1 - B_SYN))
        lif = snntorch.Synaptic(alpha=torch.as_tensor(B_SYN, dtype=dtype),
                                beta=torch.as_tensor(A_MEM, dtype=dtype), threshold=THRESHOLD,
                                spike_grad=surrogate.fast_sigmoid(slope=SURROGATE_BETA),
                                reset_mechanism="zero", learn_alpha=True,
                                learn_beta=True).to(device=x.device, dtype=dtype)

        def run(x):
            drive = linear(x)
            syn = torch.zeros(x.shape[1:], dtype=dtype, device=x.device)
            mem = torch.zeros(x.shape[1:], dtype=dtype, device=x.device)
            spikes = []
            # unbind, not drive[t]: the backward of T separate index operations
            # would write T full-size gradient buffers (quadratic in T).
            for drive_t in drive.unbind(0):
                spk, syn, mem = lif(drive_t, syn, mem)
                spikes.append(spk)
            return torch.stack(spikes)

        return _torch_built(run, list(linear.parameters()) + list(lif.parameters()), x)


class Norse(Peer):
    name = "norse"
    description = ("torch.nn.Linear over the sequence, then the norse.torch.LIF module (its "
                   "time loop indexes input[ts]; the backward of those T index operations "
                   "writes T full-size gradient buffers, quadratic in T)")
    shift = 1
    semantics = ("LIF with dt*tau_mem_inv = 1-a, dt*tau_syn_inv = 1-b and weights scaled by "
                 "(1-b) adds the input to the current before integrating, so it runs one "
                 "step ahead: spikes[t] == snnax_ref[t+1], resets included")
    use_cell = False

    def unavailable(self):
        return _torch_unavailable("norse")

    def build(self, problem):
        import torch
        from norse.torch import LIF, LIFCell, LIFParameters
        from norse.torch.functional.lif import LIFFeedForwardState

        dt = 1e-3
        linear, x, dtype = _torch_linear(problem, 1 - B_SYN)
        p = LIFParameters(tau_syn_inv=torch.as_tensor((1 - B_SYN) / dt, dtype=dtype),
                          tau_mem_inv=torch.as_tensor((1 - A_MEM) / dt, dtype=dtype),
                          v_leak=torch.as_tensor(0.0, dtype=dtype),
                          v_th=torch.as_tensor(THRESHOLD, dtype=dtype),
                          v_reset=torch.as_tensor(0.0, dtype=dtype), method="super",
                          alpha=torch.as_tensor(SURROGATE_BETA, dtype=dtype))

        if self.use_cell:
            cell = LIFCell(p=p, dt=dt)

            def run(x):
                zeros = torch.zeros(x.shape[1:], dtype=dtype, device=x.device)
                state = LIFFeedForwardState(v=zeros, i=zeros)
                spikes = []
                for drive_t in linear(x).unbind(0):
                    z, state = cell(drive_t, state)
                    spikes.append(z)
                return torch.stack(spikes)
        else:
            lif = LIF(p=p, dt=dt)

            def run(x):
                zeros = torch.zeros(x.shape[1:], dtype=dtype, device=x.device)
                spikes, _ = lif(linear(x), LIFFeedForwardState(v=zeros, i=zeros))
                return spikes

        return _torch_built(run, list(linear.parameters()), x)


class NorseCell(Norse):
    name = "norse-cell"
    description = ("torch.nn.Linear over the sequence, then norse.torch.LIFCell stepped over "
                   "drive.unbind(0)")
    use_cell = True


PEERS: List[Peer] = [SnnaxRef(), SnnaxRefStep(), SnnaxRefReadable(), JaxScan(), JaxHoisted(),
                     SnnaxUpstream(), Spyx(), SnnTorch(), Norse(), NorseCell()]


def peer_by_name() -> Dict[str, Peer]:
    return {peer.name: peer for peer in PEERS}
