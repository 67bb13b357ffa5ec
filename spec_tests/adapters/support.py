"""What an implementation can build: an adapter's optional `supports`.

A partial implementation (no `SimpleLI`, no feedback edges, float64 only)
declares what it has, and every row runs on the networks it supports:
`rows.Row.run_check` rejects a generated run outside the declaration (it is
not counted as tried), so Hypothesis draws again; a row none of whose
networks is supported is *not applicable*, never "passed". An exception while
running a supported network is a failure, as for any adapter.

    from spec_tests.adapters.support import Support

    class MyAdapter:
        name = "my-snn"
        supports = Support(kinds={"Linear", "LIF"}, feedback=False,
                           several_inputs=False, dtypes={"float64"})
        ...

An adapter without `supports` is tested on everything.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional

from ..description import ALL_KINDS, FORWARD_KINDS, LayerSpec, RunSpec


def _kinds_of(layers: Iterable[LayerSpec]) -> set:
    """Every kind in `layers`, members of composed layers included."""
    found = set()
    for layer in layers:
        found.add(layer.kind)
        found |= _kinds_of(layer.members)
    return found


@dataclass(frozen=True)
class Support:
    """What an implementation can build and run. Every field defaults to all.

    - `kinds`: the layer kinds it builds (`spec_tests.description` names them:
      `"LIF"`, `"Linear"`, `"CompoundLayer"`, ...; members of composed layers
      count), or None for every kind.
    - `forwards`: the forward functions (`"straight_through"`, `"delayed"`).
    - `feedback`: edges `j -> i` with `j >= i` (self-loops included).
    - `concatenation`: a layer reading several sources (concatenated, or
      handed to a `Parallel` as a list).
    - `several_inputs`: more than one external input sequence.
    - `several_outputs`: more than one final layer.
    - `dtypes`: `"float64"`, `"float32"`.
    """

    kinds: Optional[frozenset] = None
    forwards: frozenset = frozenset(FORWARD_KINDS)
    feedback: bool = True
    concatenation: bool = True
    several_inputs: bool = True
    several_outputs: bool = True
    dtypes: frozenset = frozenset({"float64", "float32"})

    def __post_init__(self):
        for name in ("kinds", "forwards", "dtypes"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, frozenset):
                if isinstance(value, str):
                    raise TypeError(f"Support.{name}: a set of names, got the string {value!r}")
                object.__setattr__(self, name, frozenset(value))
        unknown = sorted((self.kinds or frozenset()) - set(ALL_KINDS))
        if unknown:
            raise ValueError(f"Support.kinds: unknown kind(s) {unknown}; the kinds are "
                             f"spec_tests.description.ALL_KINDS: {', '.join(ALL_KINDS)}")
        unknown = sorted(self.forwards - set(FORWARD_KINDS))
        if unknown:
            raise ValueError(f"Support.forwards: unknown {unknown}; expected a subset of "
                             f"{FORWARD_KINDS}")

    def unsupported(self, run: RunSpec, dtype: str) -> Optional[str]:
        """Why `run` in `dtype` is outside this declaration (the first reason), or None."""
        network = run.network
        missing = sorted(_kinds_of(network.layers) - self.kinds) if self.kinds is not None \
            else []
        if missing:
            return f"kind {missing[0]}"
        if run.forward not in self.forwards:
            return f"forward function {run.forward}"
        if dtype not in self.dtypes:
            return f"dtype {dtype}"
        if not self.feedback and any(j >= i for i, sources in
                                     enumerate(network.input_connectivity) for j in sources):
            return "feedback edges"
        if not self.concatenation and any(
                len(sources) + len(inputs) > 1 for sources, inputs in
                zip(network.input_connectivity, network.input_layer_ids)):
            return "a layer reading several sources"
        if not self.several_inputs and len(run.inputs) > 1:
            return "several external inputs"
        if not self.several_outputs and len(network.final_layer_ids) > 1:
            return "several final layers"
        return None


# How a test or row whose networks the adapter cannot run is reported (a skip
# reason starts with it), as opposed to a known deviation or a pass.
NOT_APPLICABLE = "not applicable"

# What the suite saw this process, for the verdict: per row, why generated runs
# were passed over; and the kinds and features of the runs actually checked.
PASSED_OVER: dict = defaultdict(Counter)
EXERCISED: set = set()


def features_of(run: RunSpec) -> set:
    """The kinds (as `kind:<name>`) and graph features one run exercises."""
    network = run.network
    found = {f"kind:{kind}" for kind in _kinds_of(network.layers)}
    found.add(f"forward:{run.forward}")
    if any(j >= i for i, sources in enumerate(network.input_connectivity) for j in sources):
        found.add("feedback edges")
    if any(len(s) + len(k) > 1 for s, k in zip(network.input_connectivity,
                                               network.input_layer_ids)):
        found.add("a layer reading several sources")
    if len(run.inputs) > 1:
        found.add("several external inputs")
    if len(network.final_layer_ids) > 1:
        found.add("several final layers")
    return found


def never_exercised(exercised: Iterable[str] = None) -> list:
    """The documented kinds and graph features no checked run contained."""
    exercised = EXERCISED if exercised is None else set(exercised)
    everything = ([f"kind:{kind}" for kind in ALL_KINDS]
                  + [f"forward:{forward}" for forward in FORWARD_KINDS]
                  + ["feedback edges", "a layer reading several sources",
                     "several external inputs", "several final layers"])
    return [name for name in everything if name not in exercised]


def run_of(example) -> Optional[RunSpec]:
    """The run a row's example holds: the example itself, or the first entry
    of `(run, extra)`; None for examples that are not runs (surrogate points)."""
    if isinstance(example, RunSpec):
        return example
    if isinstance(example, tuple) and example and isinstance(example[0], RunSpec):
        return example[0]
    return None


__all__ = ["Support", "NOT_APPLICABLE", "PASSED_OVER", "EXERCISED", "features_of", "never_exercised", "run_of"]
