"""snnax_ref: the reference implementation of SNNAX's documented semantics.

`from snnax_ref import snn` is a drop-in for `from snnax import snn`; SPEC.md
states what every class computes.
"""

from . import functional, snn, utils

__version__ = "0.1.0"

__all__ = ["functional", "snn", "utils", "__version__"]
