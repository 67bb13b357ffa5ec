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


def to_python(run: RunSpec, impl: str, dtype: str = "float64", check: bool = True) -> str:
    """A self-contained script that rebuilds `run` and (with `check`) checks it
    against the oracle in `dtype`, as the row that drew it did."""
    net = run.network
    layers = "".join(f"\n        {_layer(layer, '        ')}," for layer in net.layers)
    inputs = ", ".join(_array(x) for x in run.inputs)
    check_line = f"check_run(run, impl={impl!r}, dtype={dtype!r})\n" if check else ""
    check_import = "from spec_tests.properties import check_run\n" if check else ""
    return f'''import numpy as np
from spec_tests.description import LayerSpec, NetworkSpec, RunSpec
{check_import}
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
{check_line}'''
