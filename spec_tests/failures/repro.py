"""Turning a RunSpec into runnable Python, so any failure can be replayed."""

from __future__ import annotations

import numpy as np

from ..description import LayerSpec, RunSpec


def _array(values) -> str:
    values = np.asarray(values)
    return f"np.array({values.tolist()!r})"


def _layer(layer: LayerSpec, indent: str) -> str:
    params = ", ".join(f"{name!r}: {_array(v)}" for name, v in layer.params.items())
    members = "".join(f"\n{indent}    {_layer(m, indent + '    ')}," for m in layer.members)
    members_text = f", members=({members}\n{indent})" if layer.members else ""
    return f"LayerSpec({layer.kind!r}, {layer.hyper!r}, {{{params}}}{members_text})"


def to_python(run: RunSpec, impl: str) -> str:
    """A self-contained script that rebuilds `run` and checks it against the oracle."""
    net = run.network
    layers = "".join(f"\n        {_layer(layer, '        ')}," for layer in net.layers)
    inputs = ", ".join(_array(x) for x in run.inputs)
    return f'''import numpy as np
from spec_tests.description import LayerSpec, NetworkSpec, RunSpec
from spec_tests.properties import check_run

run = RunSpec(
    network=NetworkSpec(
        layers=({layers}
        ),
        input_layer_ids={net.input_layer_ids!r},
        input_connectivity={net.input_connectivity!r},
        final_layer_ids={net.final_layer_ids!r},
        input_shapes={net.input_shapes!r},
        output_shapes={net.output_shapes!r},
        constructor={net.constructor!r},
    ),
    inputs=({inputs},),
    forward={run.forward!r},
    burnin={run.burnin!r},
    key_seed={run.key_seed!r},
    init_key_seed={run.init_key_seed!r},
)
check_run(run, impl={impl!r}, dtype="float64")
'''
