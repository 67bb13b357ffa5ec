"""Make the NIR interop fixtures: small snnTorch and Norse networks exported by
their own exporters, snnax_ref networks imported by their importers, and the
spike trains the other library computed, on one fixed input.

Not run by CI (it needs torch); run it by hand when a library version changes:

    python -m venv /tmp/interop && . /tmp/interop/bin/activate
    pip install torch snntorch==1.0.0 norse==1.1.0 nirtorch nir
    pip install -e ".[nir]"
    python tests/data/nir_interop/make_fixtures.py

It writes, beside itself, one `.nir` file per network, `spikes.npz` (what the
other library computed, one array per case) and `manifest.json` (the library
versions, each case's direction, time step and how the reference's output
relates to the other library's, measured with the reference of this checkout).
`tests/test_nir_interop.py` reads them without torch. The exporters write no
time step; this script records the one each library ran at in the file's
`metadata["dt"]` (snnTorch: 1e-4, fixed in its code; Norse: its dt squared,
see SPEC.md §10); the only other change is the input shape of Norse's
convolution, which its exporter leaves None and `nir.write` cannot store.
"""

import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/: the shared helpers

import nir_interop  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import nir  # noqa: E402
import norse.torch as norse  # noqa: E402
import snntorch  # noqa: E402
import snntorch.utils  # noqa: E402
import torch  # noqa: E402
from norse.torch.utils.export_nir import to_nir as norse_to_nir  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from snnax_ref import nir as snnax_nir  # noqa: E402
from snnax_ref import snn  # noqa: E402

SNNTORCH_DT = 1e-4         # fixed in snnTorch's exporter and importer
NORSE_DT = 1e-3            # Norse's default step
NORSE_FILE_DT = NORSE_DT ** 2  # Norse 1.1 writes tau = dt / tau_mem_inv


def weights(seed: int, shape, scale: float) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def torch_linear(seed: int, scale: float) -> torch.nn.Linear:
    layer = torch.nn.Linear(nir_interop.INPUTS, nir_interop.NEURONS)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weights(seed, layer.weight.shape, scale)))
        layer.bias.zero_()
    return layer


def per_neuron(seed: int, low: float, high: float) -> torch.Tensor:
    values = np.random.default_rng(seed).uniform(low, high, nir_interop.NEURONS)
    return torch.from_numpy(values.astype(np.float32))


# -- other libraries' networks, exported by them --------------------------------------

def snntorch_net(neuron):
    return torch.nn.Sequential(torch_linear(1, 1.0), neuron)


def run_snntorch(net, x) -> np.ndarray:
    snntorch.utils.reset(net)
    outputs = []
    with torch.no_grad():
        for step in x:
            out = net(torch.from_numpy(step[None]))
            outputs.append((out[0] if isinstance(out, tuple) else out).numpy()[0])
    return np.array(outputs)


def run_norse(module, x) -> np.ndarray:
    state, outputs = None, []
    with torch.no_grad():
        for step in x:
            out, state = module(torch.from_numpy(step[None]), state)
            outputs.append(out.numpy()[0])
    return np.array(outputs)


def snntorch_exports():
    ones = torch.ones(nir_interop.NEURONS)
    beta = per_neuron(2, 0.6, 0.95)
    alpha = per_neuron(3, 0.5, 0.9)
    cases = {
        "snntorch_leaky_zero": snntorch.Leaky(beta=beta, threshold=ones, reset_mechanism="zero",
                                              init_hidden=True, output=True),
        "snntorch_leaky_subtract": snntorch.Leaky(beta=beta, threshold=ones, init_hidden=True,
                                                  output=True),
        "snntorch_synaptic": snntorch.Synaptic(alpha=alpha, beta=beta, threshold=ones,
                                               reset_mechanism="zero", init_hidden=True,
                                               output=True),
        "snntorch_rleaky": snntorch.RLeaky(beta=beta, threshold=1.0, reset_mechanism="zero",
                                           all_to_all=True, linear_features=nir_interop.NEURONS,
                                           init_hidden=True, output=True),
    }
    with torch.no_grad():  # fixed recurrent weights, no bias
        recurrent = cases["snntorch_rleaky"].recurrent
        recurrent.weight.copy_(torch.from_numpy(weights(8, recurrent.weight.shape, 0.3)))
        recurrent.bias.zero_()
    for name, neuron in cases.items():
        net = snntorch_net(neuron)
        graph = export_to_nir(net, torch.zeros(1, nir_interop.INPUTS), ignore_dims=[0])
        yield name, graph, SNNTORCH_DT, lambda x, net=net: run_snntorch(net, x)


def norse_exports():
    cells = {"norse_lif_box": (norse.LIFBoxCell(), 3.0, NORSE_FILE_DT),
             "norse_lif": (norse.LIFCell(), 3.0, NORSE_FILE_DT),
             "norse_li_box": (norse.LIBoxCell(), 3.0, NORSE_FILE_DT),
             # IF has no time constant; Norse's IAFCell adds its input unscaled,
             # NIR's IF adds r*dt*I: dt = 1 is the step at which they agree.
             "norse_iaf": (norse.IAFCell(), 1.0, 1.0)}
    for name, (cell, scale, dt) in cells.items():
        module = norse.SequentialState(torch_linear(4, scale), cell)
        graph = norse_to_nir(module, torch.zeros(1, nir_interop.INPUTS))
        yield name, graph, dt, lambda x, module=module: run_norse(module, x)
    # A convolution then one LIF per (channel, row, column): 0-d parameters on a 3-d layer.
    conv = torch.nn.Conv2d(1, 2, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weights(9, conv.weight.shape, 2.0)))
        conv.bias.zero_()
    module = norse.SequentialState(conv, norse.LIFBoxCell())
    graph = norse_to_nir(module, torch.zeros(1, *nir_interop.CONV_INPUT))
    # Norse leaves Conv2d.input_shape None, which nir.write cannot store: the one repair.
    graph.nodes["0"].input_shape = np.asarray(nir_interop.CONV_INPUT[1:])
    yield "norse_conv_lif_box", graph, NORSE_FILE_DT, lambda x: run_norse(module, x)


# -- snnax_ref's networks, imported by the others ------------------------------------

def ref_linear(seed: int, scale: float):
    layer = eqx.nn.Linear(nir_interop.INPUTS, nir_interop.NEURONS, key=jax.random.PRNGKey(0))
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(weights(seed, (10, 8), scale)))
    return eqx.tree_at(lambda m: m.bias, layer, jnp.zeros(nir_interop.NEURONS))


def ref_models():
    decays = np.random.default_rng(5).uniform(0.6, 0.95, (1, nir_interop.NEURONS))
    chain = lambda neuron, scale=1.0: snn.Sequential(ref_linear(6, scale), neuron)  # noqa: E731
    recurrent = eqx.tree_at(lambda m: m.weight, eqx.nn.Linear(10, 10, use_bias=False,
                                                              key=jax.random.PRNGKey(1)),
                            jnp.asarray(weights(7, (10, 10), 0.3)))
    summing_lif = snn.CompoundLayer(snn.Parallel([eqx.nn.Identity(), eqx.nn.Identity()]),
                                    snn.SimpleLIF([0.9]))
    feedback = snn.StatefulModel(
        snn.GraphStructure(num_layers=3, input_layer_ids=[[0], [], []], final_layer_ids=[1],
                           input_connectivity=[[], [0, 2], [1]]),
        [ref_linear(6, 1.0), summing_lif, recurrent])
    # what each layer receives: the cycle's shapes cannot be inferred
    feedback_shapes = [(8,), [(10,), (10,)], (10,)]
    return {
        "snnax_simple_lif": (chain(snn.SimpleLIF([0.9])), SNNTORCH_DT),
        "snnax_simple_lif_per_neuron": (chain(snn.SimpleLIF(jnp.asarray(decays))), SNNTORCH_DT),
        "snnax_lif": (chain(snn.LIF([0.8, 0.7]), 4.0), SNNTORCH_DT),
        "snnax_simple_iaf": (chain(snn.SimpleIAF(threshold=2.0)), 1.0),
        "snnax_simple_li": (chain(snn.SimpleLI([0.9])), SNNTORCH_DT),
        "snnax_feedback": (feedback, SNNTORCH_DT, feedback_shapes),
    }


def snntorch_import(graph, x):
    module = import_from_nir(graph)
    for child in module.modules():
        if hasattr(child, "reset_mem"):
            child.reset_mem()
    # The module nirtorch builds returns (output, state): a cycle's previous
    # output lives in that state, so it is handed back at every step.
    state, outputs = None, []
    with torch.no_grad():
        for step in x:
            out, state = module(torch.from_numpy(step[None]), state)
            outputs.append((out[0] if isinstance(out, tuple) else out).numpy()[0])
    return np.array(outputs)


def norse_import(graph, x, dt):
    return run_norse(norse.from_nir(graph, dt=dt), x)


# -- recording -----------------------------------------------------------------------

def one_line(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]


def record(cases, spikes, name, file, direction, dt, run, x):
    case = {"name": name, "file": file, "direction": direction, "dt": dt}
    graph = nir.read(HERE / file, type_check=False)  # a fresh copy: importers edit theirs
    try:
        theirs = run()
    except Exception as error:  # the other library refuses or fails: that is the finding
        case["theirs"] = {"refused": one_line(error)}
    else:
        spikes[name] = theirs.astype(np.float32)
        try:
            case["measured"] = nir_interop.relation(nir_interop.reference_output(graph, x), theirs)
        except ValueError as error:
            case["measured"] = {"relation": "refused by snnax_ref", "message": one_line(error)}
    cases.append(case)
    print(f"{name:32s} {direction:24s} {case.get('measured', case.get('theirs'))}")


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)  # every weight is set below; this fixes what the libraries draw anyway
    x = nir_interop.drive()
    cases, spikes = [], {}
    for name, graph, dt, run in [*snntorch_exports(), *norse_exports()]:
        graph.metadata = {"dt": dt}
        path = HERE / f"{name}.nir"
        nir.write(path, graph, compression=None)  # h5py cannot compress Norse's 0-d values
        library = name.split("_")[0]
        x_case = nir_interop.drive_for(graph)
        record(cases, spikes, name, path.name, f"{library} -> snnax_ref", dt,
               lambda run=run: run(x_case), x_case)
    for name, (model, dt, *shapes) in ref_models().items():
        graph = snnax_nir.to_nir(model, (nir_interop.INPUTS,), dt=dt,
                                 shapes=shapes[0] if shapes else None)
        path = HERE / f"{name}.nir"
        nir.write(path, graph, compression=None)  # h5py cannot compress Norse's 0-d values
        read = lambda path=path: nir.read(path, type_check=False)  # noqa: E731
        record(cases, spikes, f"{name}__snntorch", path.name, "snnax_ref -> snntorch", dt,
               lambda: snntorch_import(read(), x), x)
        record(cases, spikes, f"{name}__norse", path.name, "snnax_ref -> norse", dt,
               lambda dt=dt: norse_import(read(), x, dt), x)
    np.savez_compressed(HERE / "spikes.npz", **spikes)
    versions = {package: version(package) for package in
                ("snntorch", "norse", "nirtorch", "nir", "torch", "jax", "snnax_ref")}
    (HERE / "manifest.json").write_text(json.dumps(
        {"made_by": "tests/data/nir_interop/make_fixtures.py", "versions": versions,
         "steps": nir_interop.STEPS, "input": "nir_interop.drive(seed=0)", "cases": cases},
        indent=1) + "\n")


if __name__ == "__main__":
    main()
