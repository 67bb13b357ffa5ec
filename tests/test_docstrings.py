"""The public API is documented: every exported class and function has a
docstring that names the SPEC section it implements and its arguments
(functions: what they return too), every public method has a docstring, and
the API reference (docs/api/*.md) lists every exported name.

Public means exported (`__all__`) by `snnax_ref.snn`, `snnax_ref.snn.layers`,
`snnax_ref.snn.composed`, `snnax_ref.functional`, `snnax_ref.utils.filter`,
`snnax_ref.utils.tree`, `snnax_ref.as_snnax` and `snnax_ref.nir`. The docstrings are Markdown
in equinox's style (an `**Arguments:**` list, `**Returns:**`), rendered by
mkdocstrings with `docstring_style: null` (mkdocs.yml).
"""

import ast
import importlib
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODULES = ["snnax_ref.snn", "snnax_ref.snn.layers", "snnax_ref.snn.composed",
           "snnax_ref.functional", "snnax_ref.utils.filter", "snnax_ref.utils.tree",
           "snnax_ref.as_snnax", "snnax_ref.nir"]
SPEC_SECTION = re.compile(r"SPEC(?:\.md)? §\d+")
# Names the API reference need not give a heading of their own.
ALIASES = {"LI"}  # snn.LI is snn.SimpleLI, said on the layers page


def _public():
    """(module name, exported name, object) for every exported non-module name."""
    found, seen = [], set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            key = (name, id(value))  # a re-export is checked once, where first exported
            if not inspect.ismodule(value) and key not in seen:
                seen.add(key)
                found.append((module_name, name, value))
    return found


PUBLIC = _public()
ROUTINES = [(m, n, v) for m, n, v in PUBLIC if inspect.isclass(v) or inspect.isfunction(v)]
DATA = [(m, n, v) for m, n, v in PUBLIC if not (inspect.isclass(v) or inspect.isfunction(v))]


def _ids(entries):
    return [f"{module}.{name}" for module, name, _ in entries]


def _own_docstring(value) -> str:
    """The object's own docstring: a class does not inherit its base's here."""
    return value.__dict__.get("__doc__") or "" if inspect.isclass(value) else value.__doc__ or ""


def _parameters(value) -> list:
    if inspect.isclass(value) and "__init__" not in vars(value):
        return []  # takes its base's arguments, documented there
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@pytest.mark.parametrize("module_name, name, value", ROUTINES, ids=_ids(ROUTINES))
def test_every_public_class_and_function_is_documented(module_name, name, value):
    docstring = _own_docstring(value)
    assert docstring.strip(), f"{module_name}.{name} has no docstring"
    assert SPEC_SECTION.search(docstring), \
        f"{module_name}.{name}'s docstring names no SPEC section ('SPEC §N' or 'SPEC.md §N')"
    spans = " ".join(re.findall(r"`([^`]*)`", docstring))
    missing = [p for p in _parameters(value) if not re.search(rf"\b{p}\b", spans)]
    assert not missing, f"{module_name}.{name}'s docstring does not name its arguments {missing}"
    if inspect.isfunction(value) and inspect.signature(value).return_annotation is not None:
        assert "**Returns:**" in docstring, f"{module_name}.{name}'s docstring has no **Returns:**"


def _documented_arguments(docstring: str) -> list:
    """The names an `**Arguments:**` list documents: its items' leading
    `` `name` `` (or `` `a`, `b` ``) before the colon."""
    names = []
    for item in re.findall(r"^\s*- ((?:`\w+`,?\s*)+):", docstring, flags=re.M):
        names += re.findall(r"`(\w+)`", item)
    return names


def _signature_names(value) -> set:
    try:
        return set(inspect.signature(value).parameters) - {"self"}
    except (TypeError, ValueError):
        return set()


@pytest.mark.parametrize("module_name, name, value", ROUTINES, ids=_ids(ROUTINES))
def test_every_documented_argument_exists(module_name, name, value):
    """What griffe's Google parser would warn about (`docstring_style: null`
    parses no sections, so the check is here): an argument documented in an
    `**Arguments:**` list that the signature does not take, the class's and
    its public methods' alike."""
    routines = [(name, value)]
    if inspect.isclass(value):
        routines += [(f"{name}.{method}", vars(value)[method]) for method in _public_methods(value)
                     if inspect.isfunction(vars(value)[method])]
    for where, routine in routines:
        docstring = _own_docstring(routine) if routine is value else routine.__doc__ or ""
        unknown = set(_documented_arguments(docstring)) - _signature_names(routine)
        assert not unknown, f"{module_name}.{where} documents arguments it does not take: {unknown}"


def _public_methods(cls) -> list:
    """The methods and properties `cls` itself defines that the API reference
    lists: public names and `__call__` (mkdocs.yml's filters)."""
    return [name for name, member in vars(cls).items()
            if (not name.startswith("_") or name == "__call__")
            and (inspect.isfunction(member)
                 or isinstance(member, (property, staticmethod, classmethod)))]


CLASSES = [(m, n, v) for m, n, v in ROUTINES if inspect.isclass(v) and n not in ALIASES]


@pytest.mark.parametrize("module_name, name, cls", CLASSES, ids=_ids(CLASSES))
def test_every_public_method_is_documented(module_name, name, cls):
    # Its own docstring: the API reference shows no inherited one.
    undocumented = [method for method in _public_methods(cls)
                    if not (getattr(vars(cls)[method], "__doc__", None) or "").strip()]
    assert not undocumented, f"{module_name}.{name}: no docstring on {undocumented}"


def _attribute_docstring(module_name: str, name: str) -> str:
    """The string literal right after `name = ...` in the module's source, where
    documentation tools (griffe) read an attribute's docstring."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    body = tree.body
    for statement, following in zip(body, body[1:]):
        targets = statement.targets if isinstance(statement, ast.Assign) else \
            [statement.target] if isinstance(statement, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) \
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) \
                and isinstance(following.value.value, str):
            return following.value.value
    return ""


@pytest.mark.parametrize("module_name, name, value", DATA, ids=_ids(DATA))
def test_every_public_constant_and_type_is_documented(module_name, name, value):
    source_module = module_name
    if name not in vars(importlib.import_module(module_name)).get("__annotations__", {}) and \
            not _attribute_docstring(module_name, name):
        # Re-exported: documented where it is defined.
        source_module = "snnax_ref.functional.surrogate" if module_name == "snnax_ref.functional" \
            else module_name
    assert _attribute_docstring(source_module, name).strip(), \
        f"{module_name}.{name} has no docstring (a string right after its assignment)"


def _documented_paths() -> set:
    paths = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        paths |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M))
    return paths


def test_the_api_reference_lists_every_public_name():
    documented = _documented_paths()
    tails = {path.rsplit(".", 1)[-1] for path in documented}
    missing = [f"{module}.{name}" for module, name, _ in PUBLIC
               if name not in ALIASES and name not in tails and module not in documented]
    assert not missing, f"docs/api/*.md has no `::: ...` for {missing}"
