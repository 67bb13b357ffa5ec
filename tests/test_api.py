"""The documented names exist, and every test that SPEC.md names exists."""

import ast
import re
from pathlib import Path

import pytest

import snnax_ref
from snnax_ref import functional, snn

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "SPEC.md"

SNN_NAMES = [
    "StatefulLayer", "GraphStructure", "StatefulModel", "Sequential", "Parallel",
    "CompoundLayer", "SequentialLocalFeedback", "SimpleIAF", "IAF", "SimpleLI", "LI",
    "SimpleLIF", "LIF", "LIFSoftReset", "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter",
    "Flatten", "SpikingMaxPool1d", "SpikingMaxPool2d", "BatchNormLayer", "ResNetBlock",
]
LAYER_NAMES = [
    "StatefulLayer", "SimpleIAF", "IAF", "SimpleLI", "LI", "SimpleLIF", "LIF", "LIFSoftReset",
    "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter", "Flatten", "SpikingMaxPool1d",
    "SpikingMaxPool2d", "BatchNormLayer", "ResNetBlock",
]


@pytest.mark.parametrize("name", SNN_NAMES)
def test_snn_names(name):
    assert name in snn.__all__
    assert callable(getattr(snn, name)), f"snn.{name} is not a class or function"


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_layers_reexported_in_snn(name):
    assert getattr(snn.layers, name) is getattr(snn, name)


def test_submodules():
    from snnax_ref.snn import architecture, composed, layers  # noqa: F401

    assert snn.layers is layers and snn.composed is composed and snn.architecture is architecture
    for name in ("Sequential", "Parallel", "CompoundLayer", "SequentialLocalFeedback"):
        assert getattr(composed, name) is getattr(snn, name)
    for name in ("StatefulModel", "GraphStructure", "default_forward_fn", "delayed_forward_fn",
                 "debug_forward_fn"):
        assert callable(getattr(architecture, name))
    assert architecture.debug_forward_fn is architecture.delayed_forward_fn
    assert architecture.default_forward_fn is not architecture.delayed_forward_fn
    assert snn.LI is snn.SimpleLI
    assert snnax_ref.snn is snn and snnax_ref.functional is functional


@pytest.mark.parametrize("name", ["superspike_surrogate", "sigmoid_surrogate",
                                  "piecewise_surrogate"])
def test_functional_names(name):
    assert callable(getattr(functional, name))
    from snnax_ref.functional import (piecewise_surrogate, sigmoid_surrogate,  # noqa: F401
                                      superspike_surrogate)


def spec_references():
    """Every `tests/...py` or `spec_tests/...py` (with an optional `::name`) in SPEC.md."""
    text = SPEC.read_text()
    pattern = r"(?<![\w/])((?:spec_)?tests/[\w/]+\.py)(?:::(\w+))?"
    return sorted(set(re.findall(pattern, text)))


def test_spec_names_tests():
    references = spec_references()
    assert len(references) > 30
    assert ("tests/test_jax_native.py", "test_deterministic") in references


def defined_tests(path: Path):
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("path, name", spec_references(),
                         ids=lambda value: str(value) if value else "-")
def test_every_test_named_in_spec_exists(path, name):
    file = ROOT / path
    assert file.is_file(), f"SPEC.md names {path}, which does not exist"
    if name:
        assert name in defined_tests(file), f"SPEC.md names {path}::{name}, which is not defined"


# Every public name of upstream SNNAX at b7a55c6 (github PGI15/snnax, src/snnax),
# by module, kept here as data from upstream's code (SPEC.md §11).
UPSTREAM_NAMES = {
    "snn": ["StatefulModel", "GraphStructure", "Sequential", "StatefulLayer", "SimpleLI",
            "SimpleLIF", "LIF", "LIFSoftReset", "AdaptiveLIF", "SimpleIAF", "IAF", "Flatten",
            "SpikingMaxPool2d", "SigmaDelta", "architecture", "composed", "layers"],
    "snn.architecture": ["GraphStructure", "ForwardFnOutput", "ForwardFn", "default_forward_fn",
                         "delayed_forward_fn", "StatefulModel"],
    "snn.composed": ["gen_feed_forward_struct", "Sequential", "Parallel", "CompoundLayer",
                     "SequentialLocalFeedback", "default_forward_fn"],
    "snn.layers.stateful": ["StateShape", "StatefulOutput", "default_init_fn", "StatefulLayer",
                            "RequiresStateLayer"],
    "snn.layers.flatten": ["Flatten"], "snn.layers.iaf": ["SimpleIAF", "IAF"],
    "snn.layers.li": ["SimpleLI"], "snn.layers.lif": ["SimpleLIF", "LIF", "LIFSoftReset",
                                                      "AdaptiveLIF"],
    "snn.layers.pooling": ["SpikingMaxPool1d", "SpikingMaxPool2d"],
    "snn.layers.residual": ["ResNetBlock"], "snn.layers.sigma_delta": ["SigmaDelta"],
    "snn.layers.spike_counter": ["SpikeCounter"], "snn.layers.srm": ["SRM"],
    "functional.surrogate": ["SpikeFn", "superspike_surrogate", "sigmoid_surrogate",
                             "piecewise_surrogate"],
    "utils.filter": ["filter_value_and_grad", "filter_grad"],
    "utils.tree": ["NEURON_PARAMS", "is_identifier", "has_identifier", "is_threshold",
                   "is_decay_constant", "is_decay_constants", "is_reset_val", "is_neuron_param",
                   "apply_to_tree_leaf", "apply_to_tree_leaf_bytype"],
}


@pytest.mark.parametrize("module", sorted(UPSTREAM_NAMES))
def test_every_upstream_public_name_exists_at_upstreams_module_path(module):
    import importlib

    imported = importlib.import_module(f"snnax_ref.{module}")
    missing = [name for name in UPSTREAM_NAMES[module] if not hasattr(imported, name)]
    assert not missing, f"snnax_ref.{module} lacks upstream's {missing}"
