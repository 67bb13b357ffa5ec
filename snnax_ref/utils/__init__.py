"""Upstream SNNAX's helpers (`snnax.utils`): gradient filters and tree predicates.

`from snnax_ref.utils import filter, tree` gives what `from snnax.utils import
filter, tree` gives (SPEC.md §11).
"""

from . import filter, tree  # noqa: A004 - upstream's module name

__all__ = ["filter", "tree"]
