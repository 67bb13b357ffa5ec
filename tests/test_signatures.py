"""Drop-in signatures: every public class takes upstream SNNAX's parameters,
in upstream's order, with upstream's defaults (SPEC.md §3, §4, §5).

The expected signatures are data, read off upstream's source (github
PGI15/snnax `main` b7a55c6, `src/snnax/`) and its documentation pages
(branch `doc-page`, `content/`), which give the defaults where the code has
none or disagrees (`init_fn=None`, documented as "default is None"; the code
says `default_init_fn`, which initialises to zeros all the same). A call
that is valid upstream must be valid here and mean the same: so each of
upstream's parameters exists here at the same position (or as a keyword where
upstream makes it keyword-only), and every default upstream gives is ours.
Where upstream requires a value (`decay_constants`), snnax_ref may give a
default (SPEC.md §3's Decision); those are pinned in `DECIDED_DEFAULTS`.
"""

import inspect

import numpy as np
import pytest
from jax import lax

from snnax_ref import functional, snn
from snnax_ref.functional.surrogate import (PiecewiseSurrogate, SigmoidSurrogate,
                                            SuperSpikeSurrogate)

REQUIRED = object()   # upstream has no default


class Surrogate:
    """An expected spike-function default: its class and beta."""

    def __init__(self, kind, beta):
        self.kind, self.beta = kind, beta

    def __repr__(self):
        return f"{self.kind.__name__}({self.beta})"


SUPERSPIKE_10 = Surrogate(SuperSpikeSurrogate, 10.0)

# (name, kind, default): kind "pos" positional-or-keyword, "kw" keyword-only,
# "var" *args. Source: upstream's code, defaults as its docs state them.
NEURON_TAIL = [("spike_fn", "pos", SUPERSPIKE_10), ("threshold", "pos", 1.0),
               ("stop_reset_grad", "pos", True), ("reset_val", "pos", None),
               ("init_fn", "pos", None), ("shape", "pos", None), ("key", "pos", None)]
UPSTREAM = {
    "StatefulLayer": [("init_fn", "pos", None), ("shape", "pos", None)],
    # Not defined in upstream's `main` (its docs name it; its commented-out
    # code calls `TrainableArray(array, requires_grad)`).
    "TrainableArray": [("value", "pos", REQUIRED), ("requires_grad", "pos", True)],
    "SimpleIAF": [("leak", "pos", 0.0), ("threshold", "pos", 1.0),
                  ("spike_fn", "pos", SUPERSPIKE_10), ("stop_reset_grad", "pos", True),
                  ("reset_val", "pos", None), ("shape", "pos", None), ("init_fn", "pos", None)],
    "IAF": [("decay_constants", "pos", REQUIRED), ("leak", "pos", 0.0), ("threshold", "pos", 1.0),
            ("spike_fn", "pos", SUPERSPIKE_10), ("stop_reset_grad", "pos", True),
            ("reset_val", "pos", None), ("init_fn", "pos", None), ("shape", "pos", None)],
    "SimpleLI": [("decay_constants", "pos", REQUIRED), ("init_fn", "pos", None),
                 ("shape", "pos", None), ("key", "pos", None)],
    "SimpleLIF": [("decay_constants", "pos", REQUIRED)] + NEURON_TAIL,
    "LIF": [("decay_constants", "pos", REQUIRED)] + NEURON_TAIL,
    "LIFSoftReset": [("decay_constants", "pos", REQUIRED)] + NEURON_TAIL,
    "AdaptiveLIF": [("decay_constants", "pos", REQUIRED), ("ada_decay_constant", "pos", [0.8]),
                    ("ada_step_val", "pos", [1.0]), ("ada_coupling_var", "pos", [0.5])]
                   + NEURON_TAIL,
    "SigmaDelta": [("decay_constants", "pos", REQUIRED), ("threshold", "pos", 1.0),
                   ("spike_fn", "pos", SUPERSPIKE_10), ("init_fn", "pos", None),
                   ("shape", "pos", None)],
    # Upstream makes everything after `layer` keyword-only; positional here too
    # is a superset (any upstream call still works).
    "SRM": [("layer", "pos", REQUIRED), ("decay_constants", "kw", REQUIRED),
            ("r_decay_constants", "kw", [0.9]), ("spike_fn", "kw", SUPERSPIKE_10),
            ("threshold", "kw", 1.0), ("reset_val", "kw", None), ("stop_reset_grad", "kw", True),
            ("init_fn", "kw", None), ("input_shape", "kw", None), ("shape", "kw", None),
            ("key", "kw", None)],
    "SpikeCounter": [("shape", "pos", REQUIRED)],
    # Upstream: (*args, threshold, spike_fn, **kwargs) passed on to equinox's
    # pool, whose own parameters are (kernel_size, stride=1, padding=0, use_ceil=False).
    "SpikingMaxPool1d": [("kernel_size", "pos", REQUIRED), ("stride", "pos", 1),
                         ("padding", "pos", 0), ("threshold", "kw", 1.0),
                         ("spike_fn", "kw", SUPERSPIKE_10)],
    "SpikingMaxPool2d": [("kernel_size", "pos", REQUIRED), ("stride", "pos", 1),
                         ("padding", "pos", 0), ("threshold", "kw", 1.0),
                         ("spike_fn", "kw", SUPERSPIKE_10)],
    "BatchNormLayer": [("eps", "pos", 1e-5), ("forget_weight", "pos", 0.1), ("gamma", "pos", 0.8)],
    "StatefulModel": [("graph_structure", "pos", REQUIRED), ("layers", "pos", REQUIRED),
                      ("forward_fn", "pos", snn.default_forward_fn),
                      ("loop_fn", "pos", lax.scan)],
    "GraphStructure": [("num_layers", "pos", REQUIRED), ("input_layer_ids", "pos", REQUIRED),
                       ("final_layer_ids", "pos", REQUIRED),
                       ("input_connectivity", "pos", REQUIRED)],
    "Sequential": [("layers", "var", REQUIRED), ("forward_fn", "kw", snn.default_forward_fn)],
    "Parallel": [("layers", "pos", REQUIRED)],
    # Upstream's code defaults `init_fn` to `default_forward_fn` here, which it
    # never calls as an init function: read as "no init_fn" (SPEC.md §5).
    "CompoundLayer": [("layers", "var", REQUIRED), ("init_fn", "kw", None)],
    "ResNetBlock": [("layers", "var", REQUIRED), ("init_fn", "kw", None)],
    "SequentialLocalFeedback": [("layers", "var", REQUIRED),
                                ("forward_fn", "kw", snn.default_forward_fn),
                                ("feedback_layers", "kw", None)],
}
FUNCTIONS = {
    "superspike_surrogate": [("beta", "pos", 10.0)],
    "sigmoid_surrogate": [("beta", "pos", 1.0)],
    "piecewise_surrogate": [("beta", "pos", 0.5)],
}
# Where upstream requires a value, the defaults SPEC.md §3 decides.
DECIDED_DEFAULTS = {
    ("IAF", "decay_constants"): [0.95], ("SimpleLI", "decay_constants"): [0.95],
    ("SimpleLIF", "decay_constants"): [0.95], ("LIF", "decay_constants"): [0.95, 0.9],
    ("LIFSoftReset", "decay_constants"): [0.95, 0.9],
    ("AdaptiveLIF", "decay_constants"): [0.95],
    ("SigmaDelta", "decay_constants"): [0.95, 0.95, 0.95],
    ("SRM", "decay_constants"): [0.95, 0.9], ("SpikeCounter", "shape"): None,
    # Upstream's code has no final_layer_ids (it returns the last layer) and
    # takes input_connectivity third: both forms are accepted (SPEC.md §4).
    ("GraphStructure", "final_layer_ids"): None, ("GraphStructure", "input_connectivity"): None,
}


def _parameters(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    return [p for p in inspect.signature(target).parameters.values() if p.name != "self"]


def _same_default(ours, expected) -> bool:
    if isinstance(expected, Surrogate):
        return type(ours) is expected.kind and ours.beta == expected.beta
    if isinstance(expected, list):
        values = np.atleast_1d(np.asarray(ours, dtype=float))
        return values.shape == (len(expected),) and np.array_equal(values, expected)
    if expected is None or isinstance(expected, bool) or callable(expected):
        return ours is expected
    return type(ours) in (int, float) and ours == expected


def _check(name, obj, expected):
    ours = {p.name: p for p in _parameters(obj)}
    positional = [p.name for p in _parameters(obj) if p.kind is p.POSITIONAL_OR_KEYWORD]
    upstream_positional = [n for n, kind, _ in expected if kind == "pos"]
    assert positional[:len(upstream_positional)] == upstream_positional, (
        f"{name}: positional parameters {positional}, upstream's {upstream_positional}")
    for parameter, kind, default in expected:
        assert parameter in ours, f"{name}: no parameter {parameter!r}"
        mine = ours[parameter]
        if kind == "var":
            assert mine.kind is mine.VAR_POSITIONAL, f"{name}: *{parameter} expected"
            continue
        if kind == "kw":
            assert mine.kind in (mine.KEYWORD_ONLY, mine.POSITIONAL_OR_KEYWORD), (
                f"{name}: {parameter} must be accepted as a keyword")
        if default is REQUIRED:
            decided = DECIDED_DEFAULTS.get((name, parameter), REQUIRED)
            if mine.default is inspect.Parameter.empty:
                assert decided is REQUIRED, f"{name}: {parameter} has no decided default"
            else:
                assert decided is not REQUIRED, (
                    f"{name}: {parameter} has a default {mine.default!r} that no Decision names")
                assert _same_default(mine.default, decided) if decided is not None \
                    else mine.default is None, (
                    f"{name}: {parameter} defaults to {mine.default!r}, SPEC decides {decided!r}")
        else:
            assert _same_default(mine.default, default), (
                f"{name}: {parameter} defaults to {mine.default!r}, upstream's is {default!r}")


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_class_takes_upstreams_parameters_in_order_with_its_defaults(name):
    _check(name, getattr(snn, name), UPSTREAM[name])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_surrogate_takes_upstreams_parameters_with_its_defaults(name):
    _check(name, getattr(functional, name), FUNCTIONS[name])


def test_every_public_class_has_an_expected_signature():
    classes = {name for name in snn.__all__ if inspect.isclass(getattr(snn, name))}
    # Flatten takes no arguments upstream and here; LI is SimpleLI; LayerCarry
    # is the reference's name for a layer's (state, output) pair, not upstream's.
    assert classes - set(UPSTREAM) == {"Flatten", "LI", "LayerCarry"}


def test_a_default_that_differs_is_caught():
    """The comparison itself can fail: a wrong threshold default is reported."""
    wrong = [(n, k, 2.0 if n == "threshold" else d) for n, k, d in UPSTREAM["LIF"]]
    with pytest.raises(AssertionError, match="threshold defaults to 1.0"):
        _check("LIF", snn.LIF, wrong)
