"""Run SNNAX client code on the reference: `import snnax` resolves to snnax_ref.

One line, for a process, a script or a test session:

    python -m snnax_ref.as_snnax script.py [args ...]      # or: -m module [args ...]
    pytest -p snnax_ref.as_snnax path/to/tests              # a test session
    import snnax_ref.as_snnax; snnax_ref.as_snnax.install() # in your own code, first

`install()` registers every module of snnax_ref under the matching `snnax`
name in `sys.modules` (`snnax.snn.layers.srm` *is* `snnax_ref.snn.layers.srm`),
so dotted paths, `importlib.import_module` and configuration strings such as
`'snnax.snn.layers.srm.SRM'` find the same classes and `isinstance` holds
across both names. Nothing named `snnax` is installed, so the real package
is untouched for every other process (SPEC.md §11).
"""

import importlib
import importlib.abc
import importlib.machinery
import os
import pkgutil
import runpy
import sys

import snnax_ref

__all__ = ["install", "installed", "main"]

ALIAS = "snnax"
TARGET = "snnax_ref"
# Modules whose optional dependency may be missing; aliased lazily, on import.
_LAZY = {"snnax_ref.nir", "snnax_ref.as_snnax"}


def _target_name(alias_name: str) -> str:
    return TARGET + alias_name[len(ALIAS):]


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `snnax.X` not yet aliased (say `snnax.nir`) to `snnax_ref.X`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        try:
            importlib.util.find_spec(_target_name(fullname))
        except ModuleNotFoundError:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(_target_name(spec.name))

    def exec_module(self, module):
        # The import system stamped the alias spec on the shared module; the
        # module keeps its own, so reloading and pickling still see snnax_ref.
        module.__spec__ = importlib.util.find_spec(module.__name__)


def installed() -> bool:
    """Whether `import snnax` currently gives snnax_ref (SPEC.md §11).

    **Returns:** a bool.
    """
    return sys.modules.get(ALIAS) is snnax_ref


def install() -> None:
    """Make `import snnax` and every `snnax.<submodule>` resolve to snnax_ref, for
    this process (SPEC.md §11). Calling it again does nothing.

    Raises a `RuntimeError` if the real SNNAX is already imported in this
    process: its classes would coexist with the reference's.
    """
    existing = sys.modules.get(ALIAS)
    if existing is snnax_ref:
        return
    if existing is not None:
        raise RuntimeError(
            f"snnax_ref.as_snnax.install(): a module named 'snnax' is already imported "
            f"(from {getattr(existing, '__file__', existing)!r}); install the alias before "
            "anything imports SNNAX, e.g. `python -m snnax_ref.as_snnax script.py`.")
    sys.modules[ALIAS] = snnax_ref
    for info in pkgutil.walk_packages(snnax_ref.__path__, TARGET + "."):
        if any(info.name == lazy or info.name.startswith(lazy + ".") for lazy in _LAZY):
            continue
        module = importlib.import_module(info.name)
        sys.modules[ALIAS + info.name[len(TARGET):]] = module
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def pytest_configure(config):
    """`pytest -p snnax_ref.as_snnax`: the alias for the whole test session."""
    install()


def main(argv=None) -> None:
    """`python -m snnax_ref.as_snnax script.py [args]` or `... -m module [args]`:
    `install()`, then run the script or module as `__main__` (SPEC.md §11).

    **Arguments:**

    - `argv`: the command line after the program name; default `sys.argv[1:]`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m snnax_ref.as_snnax (script.py | -m module) [args ...]"
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0] + "\n\n" + usage)
        raise SystemExit(0 if argv else 2)
    install()
    if argv[0] == "-m":
        if len(argv) < 2:
            raise SystemExit(usage)
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        if not os.path.isfile(argv[0]):
            raise SystemExit(f"python -m snnax_ref.as_snnax: no script {argv[0]!r}\n{usage}")
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
