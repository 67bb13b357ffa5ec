"""Layers: the stateful base class, predefined neurons and stateless helpers."""

from .batchnorm import BatchNormLayer
from .compound import CompoundLayer
from .flatten import Flatten
from .iaf import IAF, SimpleIAF
from .li import LI, SimpleLI
from .lif import LIF, AdaptiveLIF, LIFSoftReset, SimpleLIF
from .parallel import Parallel
from .pooling import SpikingMaxPool1d, SpikingMaxPool2d
from .residual import ResNetBlock
from .sigma_delta import SigmaDelta
from .spike_counter import SpikeCounter
from .srm import SRM
from .stateful import (RequiresStateLayer, StatefulLayer, TrainableArray, call_layer,
                       default_init_fn)

__all__ = [
    "StatefulLayer", "RequiresStateLayer", "TrainableArray", "call_layer", "default_init_fn",
    "SimpleIAF", "IAF", "SimpleLI", "LI", "SimpleLIF", "LIF", "LIFSoftReset",
    "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter", "BatchNormLayer",
    "Flatten", "SpikingMaxPool1d", "SpikingMaxPool2d", "CompoundLayer",
    "ResNetBlock", "Parallel",
]
