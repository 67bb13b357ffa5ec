"""The documented SNNAX API: `from snnax_ref import snn`."""

from . import architecture, composed, layers
from .architecture import (GraphStructure, LayerCarry, StatefulModel, debug_forward_fn,
                           default_forward_fn, delayed_forward_fn)
from .composed import CompoundLayer, Parallel, Sequential, SequentialLocalFeedback
from .layers import (IAF, LI, LIF, SRM, AdaptiveLIF, BatchNormLayer, Flatten,
                     LIFSoftReset, ResNetBlock, SigmaDelta, SimpleIAF, SimpleLI, SimpleLIF,
                     SpikeCounter, SpikingMaxPool1d, SpikingMaxPool2d, StatefulLayer,
                     TrainableArray)

__all__ = [
    "architecture", "composed", "layers",
    "GraphStructure", "StatefulModel", "LayerCarry", "default_forward_fn",
    "delayed_forward_fn", "debug_forward_fn",
    "Sequential", "Parallel", "CompoundLayer", "SequentialLocalFeedback",
    "StatefulLayer", "TrainableArray", "SimpleIAF", "IAF", "SimpleLI", "LI", "SimpleLIF",
    "LIF", "LIFSoftReset", "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter",
    "BatchNormLayer", "Flatten", "SpikingMaxPool1d", "SpikingMaxPool2d", "ResNetBlock",
]
