"""NIR interchange: `to_nir` and `from_nir` (SPEC.md §10).

Needs the `nir` package: `pip install "snnax_ref[nir]"`.

NIR (the Neuromorphic Intermediate Representation, package `nir`) describes
a network as continuous-time nodes joined by edges; the reference runs
discrete steps. The conversions here discretise with forward Euler at a time
step `dt`, which is exactly the reference's `V <- a*V + (1 - a)*x` with
`a = 1 - dt/tau`, and refuse (with a `ValueError` naming the node or layer,
the field and the value) whatever would give another model: a class without
a NIR counterpart, a parameter NIR cannot express in the reference or the
reference cannot express in NIR.

    from snnax_ref import nir as snnax_nir
    graph = snnax_nir.to_nir(model, in_shape, dt=1.0)
    imported = snnax_nir.from_nir(graph, dt=1.0)
    states = imported.init_state()

Summary of the mapping (SPEC.md §10 has the rules and their sources):

    eqx.nn.Linear (bias)   <-> Affine          eqx.nn.Linear (no bias) <-> Linear
    eqx.nn.Conv1d / Conv2d <-> Conv1d / Conv2d eqx.nn.AvgPool2d        <-> AvgPool2d
    snn.Flatten            <-> Flatten          snn.SimpleLI            <-> LI
    snn.SimpleLIF          <-> LIF              snn.LIF                 <-> CubaLIF
    snn.SimpleIAF          <-> IF
    CompoundLayer(Parallel([Identity()] * k), layer) <-> a node with k incoming edges
"""

try:
    import nir  # noqa: F401
except ImportError as error:  # an optional dependency: the `nir` extra
    raise ImportError('snnax_ref.nir needs the `nir` package: pip install "snnax_ref[nir]"') \
        from error

from .export import to_nir
from .load import NIRImport, from_nir, layer_order
from .step import TimeStepWarning

__all__ = ["to_nir", "from_nir", "layer_order", "NIRImport", "TimeStepWarning"]
