"""Files written by snnTorch 1.0 and Norse 1.1 with their own exporters, and
snnax_ref's files as their importers read them: the reference's output
against what the other library computed on the same input, as
`tests/data/nir_interop/make_fixtures.py` recorded it (SPEC.md §10, "Other
libraries"). No torch needed: the other libraries' outputs are data."""

import warnings

import nir
import numpy as np
import pytest

from nir_interop import DATA, drive, drive_for, manifest, reference_output, relation
from snnax_ref import nir as snnax_nir
from spec_tests.tools import nir_check

MANIFEST = manifest()
CASES = MANIFEST["cases"]
COMPUTED = [case for case in CASES if "measured" in case]
OURS = sorted({case["file"] for case in CASES if case["direction"].startswith("snnax_ref")})
FILES = sorted({case["file"] for case in CASES})


def _read(file: str):
    # nir's type check refuses the batch axis Norse writes on its Input node
    return nir.read(DATA / file, type_check=False)


@pytest.mark.parametrize("case", COMPUTED, ids=[case["name"] for case in COMPUTED])
def test_the_reference_relates_to_the_other_library_as_recorded(case):
    """Equal, one step later or different, with the same counts: a change in
    either the reference or the files shows here."""
    theirs = np.load(DATA / "spikes.npz")[case["name"]]
    graph = _read(case["file"])
    ours = reference_output(graph, drive_for(graph))
    assert relation(ours, theirs) == case["measured"], case["direction"]


def test_the_spec_table_states_what_was_measured():
    """Every case has a row in SPEC.md §10's interop table that names its
    relation (or the other library's refusal)."""
    spec = (DATA.parent.parent.parent / "SPEC.md").read_text()
    rows = {line.split("`")[1]: line for line in spec.splitlines() if line.startswith("| `")}
    for case in CASES:
        assert case["name"] in rows, f"SPEC.md §10 has no row for `{case['name']}`"
        said = case["measured"]["relation"] if "measured" in case else "refused"
        assert f"**{said}**" in rows[case["name"]], (case["name"], said)


@pytest.mark.parametrize("file", OURS)
def test_our_files_are_what_to_nir_writes_today(file):
    """The files the other libraries imported are still the form `to_nir`
    writes: import, export again, same nodes and fields."""
    graph = _read(file)
    imported = snnax_nir.from_nir(graph)
    again = snnax_nir.to_nir(imported.model, imported.in_shape, shapes=imported.shapes,
                             dt=float(graph.metadata["dt"]))
    assert sorted(again.nodes) == sorted(graph.nodes) and sorted(again.edges) == sorted(graph.edges)
    for name, node in graph.nodes.items():
        assert type(again.nodes[name]) is type(node), name
        for field, value in vars(node).items():
            if field in ("input_type", "output_type", "metadata"):
                continue
            np.testing.assert_allclose(np.asarray(getattr(again.nodes[name], field), dtype=float),
                                       np.asarray(value, dtype=float), rtol=1e-5,
                                       err_msg=f"{file}: {name}.{field}")


@pytest.mark.parametrize("file", FILES)
def test_check_nir_runs_every_fixture_at_its_recorded_dt(file, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", snnax_nir.TimeStepWarning)
        assert nir_check.main([str(DATA / file), "--steps", "20"]) == 0, capsys.readouterr()
    assert "(from the graph's metadata)" in capsys.readouterr().out


def test_norse_lif_cell_is_shifted_once_its_w_in_is_written():
    """Why `norse_lif` differs: Norse's LIFCell adds its input to the current
    unscaled, which NIR writes `w_in = tau_syn/dt`; its exporter writes 1."""
    graph = _read("norse_lif.nir")
    cuba = graph.nodes["1"]
    assert np.all(np.asarray(cuba.w_in) == 1)
    cuba.w_in = np.asarray(cuba.tau_syn) / float(graph.metadata["dt"])
    ours = reference_output(graph, drive())
    theirs = np.load(DATA / "spikes.npz")["norse_lif"]
    assert relation(ours, theirs)["relation"] == "shifted"


def _leaky_cycle(graph, x, misrouted: bool) -> np.ndarray:
    """snnTorch's zero-reset `Leaky` (float32, threshold divided by its input
    gain `r*dt/tau`, as its importer does) on the feedback fixture's cycle, fed
    `W_rec·(W_in·x + S_prev)` (`misrouted`) or `W_in·x + W_rec·S_prev` (NIR)."""
    lif = graph.nodes["layer1_SimpleLIF"]
    w_in = np.asarray(graph.nodes["layer0_Linear"].weight, np.float32)
    w_rec = np.asarray(graph.nodes["layer2_Linear"].weight, np.float32)
    dt = graph.metadata["dt"]
    beta = np.float32(1 - dt / np.asarray(lif.tau)[0])
    threshold = np.float32(np.asarray(lif.v_threshold)[0]
                           / (np.asarray(lif.r) * dt / np.asarray(lif.tau))[0])
    membrane, spikes, outputs = np.zeros(10, np.float32), np.zeros(10, np.float32), []
    for step in x:
        feed_forward = w_in @ step
        current = w_rec @ (feed_forward + spikes) if misrouted else feed_forward + w_rec @ spikes
        membrane = beta * membrane + current
        spikes = (membrane > threshold).astype(np.float32)
        membrane = membrane * (1 - spikes)
        outputs.append(spikes)
    return np.array(outputs)


def test_snntorch_drives_an_imported_cycle_through_the_recurrent_weight():
    """snnTorch 1.0 rebuilds a LIF ⇄ Linear cycle as a subgraph whose input edge
    enters the recurrent Linear instead of the neuron: its spikes are exactly
    those of a neuron fed W_rec·(W_in·x + S_prev), while the reference (and
    Norse) computes the graph as written, W_in·x + W_rec·S_prev."""
    graph = _read("snnax_feedback.nir")
    x = drive()
    theirs = np.load(DATA / "spikes.npz")["snnax_feedback__snntorch"]
    np.testing.assert_array_equal(_leaky_cycle(graph, x, misrouted=True), theirs)
    np.testing.assert_array_equal(_leaky_cycle(graph, x, misrouted=False),
                                  reference_output(graph, x))
    assert not np.array_equal(theirs, reference_output(graph, x))
