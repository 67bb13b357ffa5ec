"""NIR interchange (SPEC.md §10): `snnax_ref.nir.to_nir` / `from_nir`, and the
oracle running imported graphs (`spec_tests.tools.nir_check`).

The discretisation rows are checked against NIR's own equations integrated
here by forward Euler in NumPy, straight from the nodes' fields."""

from __future__ import annotations

import re
from dataclasses import replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

nir = pytest.importorskip("nir")

from snnax_ref import nir as snnax_nir  # noqa: E402
from snnax_ref import snn  # noqa: E402
from spec_tests import oracle, strategies  # noqa: E402
from spec_tests.tools import nir_check  # noqa: E402
from spec_tests.adapters.snnax_ref_adapter import layer_input_shapes, step_adapter  # noqa: E402
from spec_tests.compare import TOLERANCES, assert_run_matches  # noqa: E402
from spec_tests.description import LayerSpec, NetworkSpec, RunSpec  # noqa: E402

RNG = np.random.default_rng(0)


def run_graph(graph, inputs, dt=1.0):
    """`(outputs, final state, imported)` of `from_nir(graph, dt)` in float64."""
    with jax.enable_x64(True):
        imported = snnax_nir.from_nir(graph, dt=dt)
        state = imported.init_state(jax.random.PRNGKey(0))
        batch = [jnp.asarray(x) for x in inputs]
        final, outputs = imported.model(state, batch[0] if len(batch) == 1 else batch,
                                        jax.random.PRNGKey(1))
        return [np.asarray(o) for o in outputs], final, imported


def chain(*nodes, in_shape):
    """Input -> nodes... -> Output, named n0, n1, ..."""
    names = [f"n{i}" for i in range(len(nodes))]
    graph_nodes = {"input": nir.Input(input_type={"input": np.asarray(in_shape)}),
                   **dict(zip(names, nodes))}
    edges = list(zip(["input"] + names, names))
    last = nodes[-1]
    out_type = last.output_type["output"] if last.output_type["output"] is not None else None
    graph_nodes["output"] = nir.Output(output_type={"output": np.asarray(out_type)})
    return nir.NIRGraph(nodes=graph_nodes, edges=edges + [(names[-1], "output")],
                        type_check=False)


# -- §10 rows: the primitives and their discretisation --------------------------------

def test_affine_and_linear_are_equinox_linear():
    weight, bias = RNG.normal(size=(4, 3)), RNG.normal(size=4)
    x = RNG.normal(size=(5, 3))
    (affine,), _, imported = run_graph(chain(nir.Affine(weight=weight, bias=bias),
                                             in_shape=(3,)), [x])
    layer = imported.model.layers[0]
    assert type(layer) is eqx.nn.Linear and layer.use_bias
    np.testing.assert_allclose(affine, x @ weight.T + bias, rtol=1e-13)
    (linear,), _, imported = run_graph(chain(nir.Linear(weight=weight), in_shape=(3,)), [x])
    assert not imported.model.layers[0].use_bias
    np.testing.assert_allclose(linear, x @ weight.T, rtol=1e-13)
    with jax.enable_x64(True):
        back = snnax_nir.to_nir(imported.model, (3,), dt=1.0)
    assert isinstance(back.nodes["layer0_Linear"], nir.Linear)


def _cross_correlation_2d(x, weight, bias, stride, padding):
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    out_c, _, kh, kw = weight.shape
    rows = (x.shape[1] - kh) // stride + 1
    cols = (x.shape[2] - kw) // stride + 1
    out = np.empty((out_c, rows, cols))
    for r in range(rows):
        for c in range(cols):
            patch = x[:, r * stride:r * stride + kh, c * stride:c * stride + kw]
            out[:, r, c] = np.tensordot(weight, patch, axes=3) + bias
    return out


def test_convolutions_are_equinox_convolutions():
    weight, bias = RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    conv = nir.Conv2d(input_shape=(6, 5), weight=weight, stride=2, padding=1, dilation=1,
                      groups=1, bias=bias)
    x = RNG.normal(size=(2, 2, 6, 5))
    (out,), _, imported = run_graph(chain(conv, in_shape=(2, 6, 5)), [x])
    for t in range(2):
        np.testing.assert_allclose(out[t], _cross_correlation_2d(x[t], weight, bias, 2, 1),
                                   rtol=1e-12)
    layer = imported.model.layers[0]
    assert type(layer) is eqx.nn.Conv2d and layer.stride == (2, 2)
    # 'same', dilation and groups map to equinox's fields; a zero bias is no bias
    same = nir.Conv1d(input_shape=7, weight=RNG.normal(size=(4, 1, 3)), stride=1,
                      padding="same", dilation=2, groups=2, bias=np.zeros(4))
    (out,), _, imported = run_graph(chain(same, in_shape=(2, 7)), [RNG.normal(size=(1, 2, 7))])
    layer = imported.model.layers[0]
    assert layer.padding == ((2, 2),) and layer.dilation == (2,) and layer.groups == 2
    assert not layer.use_bias and out.shape == (1, 4, 7)
    with jax.enable_x64(True):
        back = snnax_nir.to_nir(imported.model, (2, 7), dt=1.0)
    node = back.nodes["layer0_Conv1d"]
    assert (node.padding, node.dilation, node.groups) == (2, 2, 2)
    np.testing.assert_array_equal(node.weight, same.weight)


def test_avgpool2d_is_equinox_avgpool2d():
    pool = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 2]),
                         padding=np.array([0, 0]))
    x = RNG.normal(size=(1, 1, 3, 4))
    (out,), _, imported = run_graph(chain(pool, in_shape=(1, 3, 4)), [x])
    assert type(imported.model.layers[0]) is eqx.nn.AvgPool2d
    expected = np.array([[[x[0, 0, r:r + 2, c:c + 2].mean() for c in (0, 2)] for r in (0, 1)]])
    np.testing.assert_allclose(out[0], expected, rtol=1e-13)
    padded = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]),
                           padding=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"'n0' \(AvgPool2d\).*padding"):
        run_graph(chain(padded, in_shape=(1, 3, 4)), [x])


def test_flatten_maps_only_the_whole_sample():
    x = RNG.normal(size=(2, 2, 3))
    (out,), _, imported = run_graph(
        chain(nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0, end_dim=-1),
              in_shape=(2, 3)), [x])
    assert type(imported.model.layers[0]) is snn.Flatten
    np.testing.assert_array_equal(out, x.reshape(2, 6))
    partial = nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=1, end_dim=-1)
    with pytest.raises(ValueError, match=r"'n0' \(Flatten\): start_dim=1"):
        run_graph(chain(partial, in_shape=(2, 3, 4)), [RNG.normal(size=(1, 2, 3, 4))])


def _euler_lif(node, x, dt, current_based=False):
    """NIR's (Cuba)LIF equations by forward Euler, spikes at v >= threshold,
    reset to v_reset; returns (spikes, last membrane after reset, last current)."""
    v = np.zeros(x.shape[1:])
    current = np.zeros(x.shape[1:])
    spikes = []
    for x_t in x:
        if current_based:
            new_current = current + dt / node.tau_syn * (-current + node.w_in * x_t)
            v = v + dt / node.tau_mem * (node.v_leak - v + node.r * current)
            current = new_current
        else:
            v = v + dt / node.tau * (node.v_leak - v + node.r * x_t)
        fired = v >= node.v_threshold
        v = np.where(fired, node.v_reset, v)
        spikes.append(fired.astype(float))
    return np.array(spikes), v, current


@pytest.mark.parametrize("dt", [1.0, 1e-3])
def test_lif_is_simple_lif_by_forward_euler(dt):
    n = 6
    node = nir.LIF(tau=dt * RNG.uniform(2.0, 20.0, n), r=RNG.uniform(0.5, 3.0, n),
                   v_leak=np.zeros(n), v_threshold=RNG.uniform(0.5, 1.5, n), v_reset=np.zeros(n))
    x = RNG.normal(1.0, 1.5, size=(60, n))
    (out,), final, imported = run_graph(chain(node, in_shape=(n,)), [x], dt)
    assert type(imported.model.layers[0]) is snn.SimpleLIF
    spikes, v, _ = _euler_lif(node, x, dt)
    assert 0 < spikes.sum() < spikes.size
    np.testing.assert_array_equal(out, spikes)
    # the reference's membrane is v / r (r folded into the threshold)
    np.testing.assert_allclose(np.asarray(final[0].state[0]) * node.r, v, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_cuba_lif_is_lif_by_forward_euler(dt):
    n = 5
    node = nir.CubaLIF(tau_syn=dt * RNG.uniform(2.0, 10.0, n),
                       tau_mem=dt * RNG.uniform(2.0, 10.0, n), r=RNG.uniform(0.5, 2.0, n),
                       v_leak=np.zeros(n), v_threshold=RNG.uniform(0.2, 0.6, n),
                       v_reset=np.full(n, 0.1), w_in=RNG.uniform(0.5, 2.0, n))
    x = RNG.normal(1.0, 1.5, size=(60, n))
    (out,), final, imported = run_graph(chain(node, in_shape=(n,)), [x], dt)
    assert type(imported.model.layers[0]) is snn.LIF
    spikes, _, current = _euler_lif(node, x, dt, current_based=True)
    assert 0 < spikes.sum() < spikes.size
    np.testing.assert_array_equal(out, spikes)
    # the reference's synaptic current is I / w_in
    np.testing.assert_allclose(np.asarray(final[0].state[1]) * node.w_in, current, rtol=1e-9)


def test_if_is_simple_iaf_by_forward_euler():
    n, dt = 4, 0.5
    node = nir.IF(r=RNG.uniform(0.5, 2.0, n), v_threshold=RNG.uniform(1.0, 2.0, n),
                  v_reset=np.zeros(n))
    x = RNG.normal(0.5, 1.0, size=(50, n))
    (out,), _, imported = run_graph(chain(node, in_shape=(n,)), [x], dt)
    assert type(imported.model.layers[0]) is snn.SimpleIAF
    v, spikes = np.zeros(n), []
    for x_t in x:
        v = v + dt * node.r * x_t
        fired = v >= node.v_threshold
        v = np.where(fired, 0.0, v)
        spikes.append(fired)
    assert 0 < np.sum(spikes) < np.size(spikes)
    np.testing.assert_array_equal(out, np.array(spikes, dtype=float))


def test_li_is_simple_li_by_forward_euler():
    n, dt = 3, 1e-3
    node = nir.LI(tau=np.array([2e-3, 5e-3, 1e-2]), r=np.ones(n), v_leak=np.zeros(n))
    x = RNG.normal(size=(30, n))
    (out,), _, imported = run_graph(chain(node, in_shape=(n,)), [x], dt)
    assert type(imported.model.layers[0]) is snn.SimpleLI
    v, expected = np.zeros(n), []
    for x_t in x:
        v = v + dt / node.tau * (-v + x_t)
        expected.append(v)
    np.testing.assert_allclose(out, np.array(expected), rtol=1e-12, atol=1e-14)


def test_a_membrane_exactly_at_threshold_fires():
    # NIR writes v > v_threshold; SPEC.md §1's H(0) = 1 fires at equality.
    node = nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1))
    (out,), _, _ = run_graph(chain(node, in_shape=(1,)), [np.array([[0.5], [0.5], [0.25]])])
    np.testing.assert_array_equal(out[:, 0], [0.0, 1.0, 0.0])


def test_export_writes_the_clamped_decay():
    model = snn.Sequential(snn.SimpleLIF([0.3]), snn.SimpleLI([1.2]), snn.LIF([0.9, 0.5]))
    graph = snnax_nir.to_nir(model, (2,), dt=0.1)
    np.testing.assert_allclose(graph.nodes["layer0_SimpleLIF"].tau, [0.2, 0.2])  # a = 0.5
    assert np.all(np.isinf(graph.nodes["layer1_SimpleLI"].tau))  # a = 1: no leak
    cuba = graph.nodes["layer2_LIF"]
    np.testing.assert_allclose(cuba.tau_mem, [1.0, 1.0], rtol=1e-6)  # float32 0.9
    np.testing.assert_allclose(cuba.tau_syn, [0.2, 0.2])


def test_lif_exports_with_unit_input_gain_per_step():
    """LIF writes r = tau_mem/dt, w_in = tau_syn/dt (each step adds its input
    unscaled, the form snnTorch's importer requires), threshold and reset
    scaled by r*w_in; a decay of 1 keeps a gain of 1; import reads it back."""
    dt = 0.1
    layer = snn.LIF(jnp.array([[0.9, 1.0], [0.5, 0.75]]), threshold=0.7, reset_val=0.2)
    graph = snnax_nir.to_nir(snn.Sequential(layer), (2,), dt=dt)
    cuba = graph.nodes["layer0_LIF"]
    a, b = np.asarray(layer.decay_constants, dtype=np.float64)
    np.testing.assert_allclose(cuba.r, [1 / (1 - a[0]), 1.0])  # tau_mem = inf: gain 1
    np.testing.assert_allclose(cuba.w_in, 1 / (1 - b))
    np.testing.assert_array_equal(cuba.r, np.where(np.isinf(cuba.tau_mem), 1.0, cuba.tau_mem / dt))
    np.testing.assert_array_equal(cuba.w_in, cuba.tau_syn / dt)
    np.testing.assert_allclose(cuba.v_threshold, 0.7 * cuba.r * cuba.w_in, rtol=1e-6)
    np.testing.assert_allclose(cuba.v_reset, 0.2 * cuba.r * cuba.w_in, rtol=1e-6)
    back = snnax_nir.from_nir(graph).model.layers[0]  # dt from the graph's metadata
    np.testing.assert_allclose(back.threshold, 0.7, rtol=1e-6)
    np.testing.assert_allclose(back.reset_val, 0.2, rtol=1e-6)
    np.testing.assert_allclose(back.decay_constants, layer.decay_constants, rtol=1e-6)


# -- §10 rows: the graph ------------------------------------------------------------------

def _if_node(n, threshold=1.0):
    return nir.IF(r=np.ones(n), v_threshold=np.full(n, threshold), v_reset=np.zeros(n))


def test_inputs_and_outputs_in_natural_name_order():
    nodes = {"in10": nir.Input(input_type={"input": np.array([2])}),
             "in2": nir.Input(input_type={"input": np.array([3])}),
             "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=2 * np.eye(3)),
             "out10": nir.Output(output_type={"output": np.array([2])}),
             "out9": nir.Output(output_type={"output": np.array([3])})}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in10", "a"), ("in2", "b"), ("a", "out10"),
                                             ("b", "out9")])
    x2, x10 = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    (first, second), _, imported = run_graph(graph, [x2, x10])
    assert imported.in_shape == [(3,), (2,)]  # input 0 is in2, input 1 is in10
    np.testing.assert_allclose(first, 2 * x2)  # output 0 is out9
    np.testing.assert_allclose(second, x10)


def test_a_node_sums_its_incoming_edges():
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}),
             "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=3 * np.eye(2)),
             "li": nir.LI(tau=np.full(2, 2.0), r=np.ones(2), v_leak=np.zeros(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "a"), ("input", "b"), ("a", "li"),
                                             ("b", "li"), ("input", "li"), ("li", "output")])
    x = RNG.normal(size=(3, 2))
    (out,), _, imported = run_graph(graph, [x])
    summing = imported.model.layers[2]
    assert type(summing) is snn.CompoundLayer and type(summing.layers[0]) is snn.Parallel
    assert [type(m) for m in summing.layers[0].layers] == [eqx.nn.Identity] * 3
    np.testing.assert_allclose(out[0], 0.5 * (x[0] + 3 * x[0] + x[0]))
    with jax.enable_x64(True):  # and back: the compound is the node with three edges
        back = snnax_nir.to_nir(imported.model, (2,), dt=1.0, shapes=imported.shapes)
    assert sorted(s for s, t in back.edges if t == "layer2_SimpleLI") == [
        "input", "layer0_Linear", "layer1_Linear"]


def test_an_edge_closing_a_cycle_is_read_at_the_previous_step():
    # input -> rec (sums input and lif) -> lif -> rec: a cycle {lif, rec}; numbered by
    # name inside it, 'lif' (0) before 'rec' (1), so rec -> lif is the delayed edge.
    nodes = {"input": nir.Input(input_type={"input": np.array([1])}),
             "rec": nir.Linear(weight=np.array([[1.0]])),
             "lif": _if_node(1, threshold=10.0),
             "output": nir.Output(output_type={"output": np.array([1])})}
    edges = [("input", "rec"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    assert snnax_nir.layer_order(graph) == ["lif", "rec"]
    x = np.array([[1.0], [0.0], [0.0]])
    _, final, imported = run_graph(graph, [x])
    assert imported.model.graph_structure.input_connectivity == ((1,), (0,))
    # step 0: lif reads rec's initial output 0; step 1: rec's output of step 0 (1.0)
    np.testing.assert_allclose(np.asarray(final[0].state[0]), [1.0])
    renamed = nir.NIRGraph(nodes={("a_rec" if k == "rec" else k): v for k, v in nodes.items()},
                           edges=[tuple("a_rec" if e == "rec" else e for e in edge)
                                  for edge in edges], type_check=False)
    assert snnax_nir.layer_order(renamed) == ["a_rec", "lif"]  # now lif -> a_rec is delayed
    _, final, _ = run_graph(renamed, [x])
    np.testing.assert_allclose(np.asarray(final[1].state[0]), [1.0])


def test_names_survive_nir_write_and_read_and_fix_the_order(tmp_path):
    model = snn.Sequential(*[eqx.nn.Linear(2, 2, key=jax.random.PRNGKey(i)) for i in range(12)])
    graph = snnax_nir.to_nir(model, (2,), dt=1.0)
    nir.write(tmp_path / "chain.nir", graph)
    names = snnax_nir.layer_order(nir.read(tmp_path / "chain.nir"))
    assert names == [f"layer{i}_Linear" for i in range(12)]


# -- §10 rows: what does not map ----------------------------------------------------------

KEY = jax.random.PRNGKey(0)
VECTOR_LAYERS = [snn.LIFSoftReset(), snn.IAF(), snn.AdaptiveLIF(), snn.SigmaDelta(),
                 snn.SpikeCounter(), snn.BatchNormLayer(), snn.SRM(eqx.nn.Linear(3, 3, key=KEY)),
                 snn.ResNetBlock(snn.SimpleLIF()), snn.CompoundLayer(snn.SimpleLIF()),
                 snn.Parallel([eqx.nn.Identity()]), eqx.nn.LayerNorm(3), eqx.nn.Identity(),
                 eqx.nn.Dropout(0.5, inference=True)]
IMAGE_LAYERS = [snn.SpikingMaxPool1d(1), eqx.nn.MaxPool1d(1), eqx.nn.AvgPool1d(1)]


@pytest.mark.parametrize("layer", VECTOR_LAYERS + IMAGE_LAYERS,
                         ids=lambda layer: type(layer).__name__)
def test_export_refuses_a_class_without_counterpart(layer):
    if any(layer is image for image in IMAGE_LAYERS):
        model, in_shape = snn.Sequential(eqx.nn.Conv1d(1, 1, 1, key=KEY), layer), (1, 3)
    else:
        model, in_shape = snn.Sequential(eqx.nn.Linear(3, 3, key=KEY), layer), (3,)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"layer 1 \({name}\).*no NIR counterpart"):
        snnax_nir.to_nir(model, in_shape, dt=1.0)


@pytest.mark.parametrize("node", [
    nir.Scale(scale=np.ones(2)), nir.Delay(delay=np.ones(2)), nir.Threshold(threshold=np.ones(2)),
    nir.I(r=np.ones(2)),
    nir.CubaLI(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
    nir.SumPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]), padding=np.array([0, 0])),
], ids=lambda node: type(node).__name__)
def test_import_refuses_a_primitive_without_counterpart(node):
    with pytest.raises(ValueError, match=rf"node 'n0' \({type(node).__name__}\).*no counterpart"):
        snnax_nir.from_nir(chain(node, in_shape=(2,)), dt=1.0)
    with pytest.raises(nir_check.NotConvertible, match=type(node).__name__):
        nir_check.network_from_nir(chain(node, in_shape=(2,)), 1.0)


def _lif(**fields):
    n = 2
    values = dict(tau=np.full(n, 4.0), r=np.ones(n), v_leak=np.zeros(n),
                  v_threshold=np.ones(n), v_reset=np.zeros(n))
    values.update(fields)
    return nir.LIF(**values)


@pytest.mark.parametrize("node, field, value", [
    (_lif(v_leak=np.array([0.0, 0.5])), "v_leak", "0.5 at index (1,)"),
    (_lif(tau=np.array([4.0, 1.5])), "tau", "1.5 at index (1,)"),  # decay 1/3 < 0.5: clamped
    (_lif(tau=np.array([-1.0, 4.0])), "tau", "-1.0 at index (0,)"),
    (_lif(v_reset=np.array([0.2, 0.2])), "v_reset", "0.2"),
    (_lif(r=np.array([1.0, 0.0])), "r", "0.0 at index (1,)"),
    (nir.LI(tau=np.full(2, 4.0), r=np.array([1.0, 2.0]), v_leak=np.zeros(2)), "r", "2.0"),
    (nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.full(2, -1.0)), "v_reset", "-1.0"),
    (nir.CubaLIF(tau_syn=np.full(2, 4.0), tau_mem=np.full(2, 4.0), r=np.ones(2),
                 v_leak=np.zeros(2), v_threshold=np.ones(2), w_in=np.array([1.0, -1.0])),
     "r\\*w_in", "-1.0"),
], ids=["v_leak", "clamped-tau", "negative-tau", "LIF-v_reset", "zero-r", "LI-r", "IF-v_reset",
        "negative-w_in"])
def test_import_refuses_unrepresentable_parameters(node, field, value):
    with pytest.raises(ValueError, match=rf"node 'n0' \({type(node).__name__}\): {field}="
                                         + re.escape(value)):
        snnax_nir.from_nir(chain(node, in_shape=(2,)), dt=1.0)
    with pytest.raises(nir_check.NotConvertible, match=field):
        nir_check.network_from_nir(chain(node, in_shape=(2,)), 1.0)


def test_export_refuses_what_nir_cannot_express():
    key = jax.random.PRNGKey(0)
    cases = [
        (snn.Sequential(snn.SimpleLIF(reset_val=0.5)), r"layer 0 \(SimpleLIF\): reset_val=0.5"),
        (snn.Sequential(snn.SimpleIAF(reset_val=1.0)), r"layer 0 \(SimpleIAF\): reset_val=1.0"),
        (snn.Sequential(snn.SimpleIAF(leak=0.1)), r"layer 0 \(SimpleIAF\): leak=0.1"),
        (snn.Sequential(snn.SimpleLI(init_fn=lambda shape, key: jnp.ones(shape))),
         r"layer 0 \(SimpleLI\): init_fn"),
        (snn.Sequential(eqx.nn.Linear(3, 3, key=key),
                        forward_fn=snn.architecture.delayed_forward_fn), "delayed_forward_fn"),
    ]
    for model, message in cases:
        with pytest.raises(ValueError, match=message):
            snnax_nir.to_nir(model, (3,), dt=1.0)
    concatenating = snn.StatefulModel(
        snn.GraphStructure(2, [[0], [0]], [1], [[], [0]]),
        [eqx.nn.Linear(3, 3, key=key), eqx.nn.Linear(6, 2, key=key)])
    with pytest.raises(ValueError, match=r"layer 1 \(Linear\): concatenates 2 inputs"):
        snnax_nir.to_nir(concatenating, (3,), dt=1.0)
    # layer 0 reads layer 1 one step late, but no cycle makes that delay necessary
    late = snn.StatefulModel(snn.GraphStructure(2, [[], [0]], [0], [[1], []]),
                             [snn.SimpleLI(), eqx.nn.Linear(3, 3, key=key)])
    with pytest.raises(ValueError, match=r"layer 0 \(SimpleLI\) reads layer 1 one step late"):
        snnax_nir.to_nir(late, (3,), dt=1.0, shapes=[(3,), None])
    with pytest.raises(ValueError, match="dt"):
        snnax_nir.to_nir(snn.Sequential(snn.SimpleLI()), (3,), dt=0.0)


# -- round trip: random mappable networks ------------------------------------------------

MAPPABLE_NEURONS = ("SimpleLIF", "LIF", "SimpleIAF", "SimpleLI")


@st.composite
def mappable_neurons(draw, size_or_shape):
    shape = size_or_shape if isinstance(size_or_shape, tuple) else (size_or_shape,)
    kind = draw(st.sampled_from(MAPPABLE_NEURONS), label="neuron kind")
    layer = draw(strategies.neuron_layers(shape, kind))
    hyper, params = dict(layer.hyper), dict(layer.params)
    if kind in ("SimpleLIF", "SimpleIAF"):
        hyper["reset_val"] = None  # they reset to 0 or subtract: only reset to 0 maps
    if kind == "SimpleIAF":
        params["leak"] = np.asarray(0.0)
    return replace(layer, hyper=hyper, params=params)


def _summing(neuron, count):
    if count == 1:
        return neuron
    return LayerSpec("CompoundLayer", members=(
        LayerSpec("Parallel", members=tuple(LayerSpec("Identity") for _ in range(count))),
        neuron))


@st.composite
def nir_mappable_networks(draw):
    """Networks of the classes SPEC.md §10 maps: maybe an image stem (Conv1d/2d,
    AvgPool2d, neurons, Flatten), then blocks Linear -> neuron, where a neuron
    may also sum its own output (a self-loop), a later Linear's projection of
    it (a cycle) and a second external input; several final layers."""
    layers, wiring, shapes = [], [], []
    input_shapes = []
    current = ("input", 0)
    if draw(st.booleans(), label="image stem"):
        spatial = draw(st.sampled_from([1, 2]), label="spatial dims")
        shape = (draw(st.integers(1, 2)),) + tuple(draw(st.integers(3, 6))
                                                   for _ in range(spatial))
        input_shapes.append(shape)
        kinds = draw(st.lists(st.sampled_from(["Conv", "AvgPool", "neuron"]), min_size=1,
                              max_size=2), label="stem")
        for kind in kinds:
            if kind == "AvgPool" and spatial == 1:
                kind = "Conv"
            if kind == "neuron":
                layer = draw(mappable_neurons(shape))
            else:
                layer, shape = draw(strategies.image_layers(shape, kind))
            layers.append(layer)
            wiring.append([current])
            shapes.append(shape)
            current = ("layer", len(layers) - 1)
        layers.append(LayerSpec("Flatten"))
        wiring.append([current])
        shape = (int(np.prod(shape)),)
        shapes.append(shape)
        current = ("layer", len(layers) - 1)
    else:
        shape = (draw(st.integers(1, 6), label="input size"),)
        input_shapes.append(shape)
    second_input = draw(st.booleans(), label="second input")
    for block in range(draw(st.integers(1, 2), label="blocks")):
        size = draw(st.integers(1, 6), label="size")
        layers.append(draw(strategies.linear_layers(shape[0], size)))
        wiring.append([current])
        shapes.append((size,))
        sources = [("layer", len(layers) - 1)]
        neuron_id = len(layers)
        if draw(st.booleans(), label="self-loop"):
            sources.append(("layer", neuron_id))
        projection = draw(st.booleans(), label="cycle through a Linear")
        if projection:
            sources.append(("layer", neuron_id + 1))
        if second_input and len(input_shapes) == 1:
            input_shapes.append((size,))
            sources.append(("input", 1))
        neuron = draw(mappable_neurons(size))
        layers.append(_summing(neuron, len(sources)))
        wiring.append(sources)
        shapes.append((size,))
        current = ("layer", neuron_id)
        if projection:
            layers.append(draw(strategies.linear_layers(size, size)))
            wiring.append([current])
            shapes.append((size,))
        shape = (size,)
    finals = draw(st.lists(st.integers(0, len(layers) - 1), min_size=1, max_size=3,
                           unique=True), label="final layers")
    return NetworkSpec(
        layers=tuple(layers),
        input_layer_ids=tuple(tuple(k for kind, k in s if kind == "input") for s in wiring),
        input_connectivity=tuple(tuple(j for kind, j in s if kind == "layer") for s in wiring),
        final_layer_ids=tuple(finals), input_shapes=tuple(input_shapes),
        output_shapes=tuple(shapes))


@st.composite
def nir_mappable_runs(draw):
    network = draw(nir_mappable_networks())
    steps = draw(st.integers(1, 20), label="T")
    return RunSpec(network, draw(strategies.input_sequences(network.input_shapes, steps)))


def _abstract(cls, *args, params, **kwargs):
    """`cls(*args, **kwargs)` holding `params`' weight and bias, built without
    compiling a random initialisation for every new shape."""
    layer = eqx.filter_eval_shape(cls, *args, key=jax.random.PRNGKey(0), **kwargs)
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(params["weight"]))
    if "bias" in params:
        bias = jnp.reshape(jnp.asarray(params["bias"]), layer.bias.shape)
        layer = eqx.tree_at(lambda m: m.bias, layer, bias)
    return layer


def _module(spec):
    """The snnax_ref layer a LayerSpec of a mappable kind describes (as the
    suite's adapter builds it)."""
    kind, hyper, params = spec.kind, spec.hyper, spec.params
    if kind == "Linear":
        out_features, in_features = params["weight"].shape
        return _abstract(eqx.nn.Linear, in_features, out_features, params=params,
                         use_bias="bias" in params)
    if kind in ("Conv1d", "Conv2d"):
        weight = params["weight"]
        return _abstract(getattr(eqx.nn, kind), weight.shape[1], weight.shape[0],
                         weight.shape[2], params=params, stride=hyper["stride"],
                         padding=hyper["padding"], use_bias="bias" in params)
    if kind == "AvgPool2d":
        return eqx.nn.AvgPool2d(hyper["kernel_size"], stride=hyper["stride"])
    if kind == "Flatten":
        return snn.Flatten()
    if kind == "Identity":
        return eqx.nn.Identity()
    if kind == "Parallel":
        return snn.Parallel([_module(m) for m in spec.members])
    if kind == "CompoundLayer":
        return snn.CompoundLayer(*[_module(m) for m in spec.members])
    arrays = {name: jnp.asarray(value) for name, value in params.items()}
    if kind == "SimpleLI":
        return snn.SimpleLI(**arrays)
    return getattr(snn, kind)(threshold=hyper["threshold"],
                              spike_fn=step_adapter.spike_fn(hyper),
                              stop_reset_grad=hyper["stop_reset_grad"],
                              reset_val=hyper["reset_val"], **arrays)


def _build(network):
    """`(model, initial state)` of a mappable network description, float64."""
    structure = snn.GraphStructure(
        num_layers=network.num_layers,
        input_layer_ids=[list(ids) for ids in network.input_layer_ids],
        final_layer_ids=list(network.final_layer_ids),
        input_connectivity=[list(ids) for ids in network.input_connectivity])
    model = snn.StatefulModel(structure, [_module(spec) for spec in network.layers],
                              schedule="step")
    in_shape = (network.input_shapes[0] if len(network.input_shapes) == 1
                else list(network.input_shapes))
    shapes = layer_input_shapes(network)
    return model, in_shape, shapes, model.init_state(in_shape, shapes=shapes,
                                                     key=jax.random.PRNGKey(0))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=nir_mappable_runs(), dt=st.sampled_from([1.0, 0.5, 1e-3]))
def test_round_trip_computes_identically(run, dt):
    """to_nir then from_nir: the same outputs and final states (float64, 1e-12),
    whatever dt."""
    network = run.network
    with jax.enable_x64(True):
        model, in_shape, shapes, state = _build(network)
        graph = snnax_nir.to_nir(model, in_shape, dt=dt, shapes=shapes)
        imported = snnax_nir.from_nir(graph, dt=dt)
        # the step scan compiles fastest; the schedule changes no value (SPEC.md §4.6)
        back = snn.StatefulModel(imported.model.graph_structure, imported.model.layers,
                                 schedule="step")
        inputs = [jnp.asarray(x) for x in run.inputs]
        batch = inputs[0] if len(inputs) == 1 else inputs
        key = jax.random.PRNGKey(1)
        final, outputs = model(state, batch, key)
        final_back, outputs_back = back(imported.init_state(jax.random.PRNGKey(0)), batch, key)
    for want, got in zip(outputs, outputs_back, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12)
    # layer i of the original is the node named layer{i}_...
    original_index = [int(name.split("_")[0][len("layer"):]) for name in imported.layer_names]
    for new, old in enumerate(original_index):
        for want, got in zip(jax.tree_util.tree_leaves(final[old]),
                             jax.tree_util.tree_leaves(final_back[new]), strict=True):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12)


# -- the oracle runs an imported graph ----------------------------------------------------

def hand_built_graph():
    """Input(3) -> Affine -> CubaLIF(4), with a recurrent Linear on the CubaLIF,
    -> Affine -> LIF(3) -> Linear -> LI(2) -> Output; the LIF is also an output."""
    rng = np.random.default_rng(7)
    ones4, ones3 = np.ones(4), np.ones(3)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "affine_in": nir.Affine(weight=rng.normal(0, 1.5, (4, 3)), bias=np.full(4, 1.0)),
        "cuba": nir.CubaLIF(tau_syn=np.full(4, 3.0), tau_mem=np.array([4.0, 5.0, 6.0, 8.0]),
                            r=3 * ones4, v_leak=0 * ones4, v_threshold=0.8 * ones4,
                            v_reset=0.1 * ones4, w_in=np.array([1.0, 1.5, 0.5, 1.0])),
        "recurrent": nir.Linear(weight=rng.normal(0, 0.5, (4, 4))),
        "affine_hidden": nir.Affine(weight=rng.normal(0, 2.0, (3, 4)), bias=np.full(3, 0.5)),
        "lif": nir.LIF(tau=np.array([2.5, 4.0, 10.0]), r=1.5 * ones3, v_leak=0 * ones3,
                       v_threshold=ones3, v_reset=0 * ones3),
        "readout": nir.Linear(weight=rng.normal(0, 1.0, (2, 3))),
        "li": nir.LI(tau=np.array([4.0, 20.0]), r=np.ones(2), v_leak=np.zeros(2)),
        "output": nir.Output(output_type={"output": np.array([2])}),
        "spikes": nir.Output(output_type={"output": np.array([3])}),
    }
    edges = [("input", "affine_in"), ("affine_in", "cuba"), ("cuba", "recurrent"),
             ("recurrent", "cuba"), ("cuba", "affine_hidden"), ("affine_hidden", "lif"),
             ("lif", "readout"), ("readout", "li"), ("li", "output"), ("lif", "spikes")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1.0})


def test_a_nir_file_written_by_nir_runs_as_the_oracle_says(tmp_path, capsys):
    path = tmp_path / "recurrent.nir"
    nir.write(path, hand_built_graph())
    graph = nir.read(path)
    network = nir_check.network_from_nir(graph, dt=1.0)
    # the cycle {cuba, recurrent} is numbered by name: recurrent -> cuba is read a step late
    assert [layer.kind for layer in network.layers] == [
        "Linear", "CompoundLayer", "Linear", "Linear", "SimpleLIF", "Linear", "SimpleLI"]
    assert network.input_connectivity[1] == (0, 2)
    run = nir_check.random_run(network, steps=40, seed=3)
    expected = oracle.run(run, margin=TOLERANCES["float64"].margin)
    assert 0 < np.sum(expected.outputs[1]) < expected.outputs[1].size  # the LIF spikes
    actual = nir_check.run_imported(graph, run, dt=1.0)
    assert_run_matches(run, expected, actual, TOLERANCES["float64"])
    assert nir_check.main([str(path), "--steps", "40", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "snnax_ref.nir.from_nir: conforms" in out and "verdict: conforms" in out
    from spec_tests.tools import cli   # `snnax-ref check-nir` is the same command
    assert cli.main(["check-nir", str(path), "--steps", "40", "--seed", "3"]) == 0
    assert "verdict: conforms" in capsys.readouterr().out


def test_nir_check_reports_a_deviation_and_unusable_files(tmp_path, capsys, monkeypatch):
    path = tmp_path / "graph.nir"
    nir.write(path, hand_built_graph())
    # an implementation whose LIF current decays faster than SPEC says
    from snnax_ref.snn.layers import lif as lif_module

    original = lif_module.LIF.__call__

    def wrong_lif(self, state, x, *, key=None):
        new_state, spikes = original(self, state, x, key=key)
        new_state[1] = new_state[1] * 0.9
        return new_state, spikes

    monkeypatch.setattr(lif_module.LIF, "__call__", wrong_lif)
    assert nir_check.main([str(path), "--steps", "30"]) == 1
    assert "DEVIATES" in capsys.readouterr().out
    monkeypatch.undo()
    (tmp_path / "broken.nir").write_text("not hdf5")
    assert nir_check.main([str(tmp_path / "broken.nir")]) == 2
    assert "cannot read it" in capsys.readouterr().err
    delayed = chain(nir.Delay(delay=np.ones(2)), in_shape=(2,))
    nir.write(tmp_path / "delay.nir", delayed)
    assert nir_check.main([str(tmp_path / "delay.nir"), "--dt", "1"]) == 2
    assert "'n0' (Delay)" in capsys.readouterr().err


# -- §10: the time step, shared parameters, a batch axis -----------------------------------

def _lif_chain(metadata=None, **fields):
    values = dict(tau=np.full(3, 4e-4), r=np.ones(3), v_leak=np.zeros(3),
                  v_threshold=np.ones(3), v_reset=np.zeros(3))
    values.update(fields)
    graph = chain(nir.LIF(**values), in_shape=(3,))
    graph.metadata = dict(metadata or {})
    return graph


def test_dt_comes_from_the_graph_unless_given(recwarn):
    graph = _lif_chain({"dt": 1e-4})
    decay = lambda imported: float(np.asarray(imported.model.layers[0].decay_constants)[0])
    assert decay(snnax_nir.from_nir(graph)) == pytest.approx(0.75)  # 1 - 1e-4/4e-4
    with pytest.warns(snnax_nir.TimeStepWarning, match=r"dt=0\.0002 given.*metadata\['dt'\]=0\.0001"):
        assert decay(snnax_nir.from_nir(graph, dt=2e-4)) == pytest.approx(0.5)  # given dt wins
    with pytest.raises(ValueError) as missing:
        snnax_nir.from_nir(_lif_chain())
    message = str(missing.value)
    assert "\n" not in message and "no time step" in message
    for said in ("snnTorch 1.0 exports for dt=1e-4", "Norse 1.1", "1e-06",
                 "this graph's time constants allow dt <= 0.0002"):
        assert said in message, said
    with pytest.raises(ValueError, match=r"node 'n0' \(LIF\): tau=0\.0004 at index \(0,\): with "
                                         r"dt=0\.001 .*allow dt <= 0\.0002"), \
            pytest.warns(snnax_nir.TimeStepWarning):
        snnax_nir.from_nir(graph, dt=1e-3)


def test_shared_neuron_parameters_broadcast_to_the_layer():
    """Norse writes one 0-d value for all neurons, snnTorch a (1,) threshold."""
    zero_d = _lif_chain({"dt": 1e-4}, tau=np.array(4e-4), r=np.array(2.0),
                        v_leak=np.array(0.0), v_threshold=np.array(1.0), v_reset=np.array(0.0))
    one = _lif_chain({"dt": 1e-4}, tau=np.array([4e-4]), r=np.array([2.0]),
                     v_leak=np.zeros(1), v_threshold=np.ones(1), v_reset=np.zeros(1))
    per_neuron = _lif_chain({"dt": 1e-4}, r=np.full(3, 2.0))
    x = jnp.asarray(np.random.default_rng(0).normal(0, 2, (20, 3)))
    runs = []
    for graph in (zero_d, one, per_neuron):
        imported = snnax_nir.from_nir(graph)
        runs.append(imported.model(imported.init_state(), x, jax.random.PRNGKey(0))[1][0])
    assert 0 < np.sum(runs[2]) < runs[2].size
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[1], runs[2])
    with pytest.raises(ValueError, match=r"node 'n0' \(LIF\): tau has shape \(2,\), which does "
                                         r"not broadcast to the shape \(3,\) of its inputs"):
        snnax_nir.from_nir(_lif_chain({"dt": 1e-4}, tau=np.full(2, 4e-4), r=np.ones(2),
                                      v_leak=np.zeros(2), v_threshold=np.ones(2),
                                      v_reset=np.zeros(2)))


def test_a_leading_batch_axis_of_one_on_the_input_is_dropped():
    weight = np.random.default_rng(1).normal(0, 1, (3, 4))
    def graph_with_input(shape):
        return nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array(shape)}),
                                   "affine": nir.Affine(weight=weight, bias=np.zeros(3)),
                                   "output": nir.Output(output_type={"output": np.array([3])})},
                            edges=[("input", "affine"), ("affine", "output")],
                            type_check=False, metadata={"dt": 1.0})
    assert snnax_nir.from_nir(graph_with_input([1, 4])).in_shape == (4,)
    assert snnax_nir.from_nir(graph_with_input([4])).in_shape == (4,)
    with pytest.raises(ValueError, match=r"Input node 'input' has shape \(5, 4\), whose leading "
                                         r"axis \(size 5\) is a batch axis: node 'affine' \(Affine\)"
                                         r" reads 1-d samples"):
        snnax_nir.from_nir(graph_with_input([5, 4]))
    with pytest.raises(ValueError, match=r"its weight of shape \(3, 4\) reads inputs of shape "
                                         r"\(4,\), but it receives \(6,\)"):
        snnax_nir.from_nir(graph_with_input([6]))


def test_check_nir_reads_dt_from_the_graph_and_says_what_to_pass(tmp_path, capsys):
    path = tmp_path / "lif.nir"
    nir.write(path, _lif_chain({"dt": 1e-4}))
    assert nir_check.main([str(path), "--steps", "20"]) == 0
    assert "dt=0.0001 (from the graph's metadata)" in capsys.readouterr().out
    nir.write(path, _lif_chain())
    assert nir_check.main([str(path), "--steps", "20"]) == 2
    err = capsys.readouterr().err
    assert "check-nir: no time step: pass --dt DT" in err
    assert "snnTorch 1.0 exports for dt=1e-4" in err
    assert nir_check.main([str(path), "--steps", "20", "--dt", "1e-3"]) == 2
    err = capsys.readouterr().err
    assert "tau=0.0004 with dt=0.001" in err and "[" not in err.split("tau=")[1]
