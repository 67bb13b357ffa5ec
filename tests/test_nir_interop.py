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
