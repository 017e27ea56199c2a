"""The simulator package keeps the project's habits: every public module says what it is for and
lists what it offers in a complete `__all__`, and public classes and functions have docstrings."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "services" / "simulator"
MODULES = sorted(
    p for p in PACKAGE_DIR.rglob("*.py") if p.name != "__main__.py" and not p.name.startswith("_")
) + sorted(PACKAGE_DIR.rglob("__init__.py"))
DOCSTRING_TARGET = 0.9  # the project's target for public classes and functions


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _defined_public_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_every_module_has_a_docstring_and_a_complete_all(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{_module_name(path)} has no docstring"
    module = importlib.import_module(_module_name(path))
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{_module_name(path)} has no __all__"
    assert len(exported) == len(set(exported))
    assert [name for name in exported if not hasattr(module, name)] == []
    assert _defined_public_names(tree) - set(exported) == set(), "missing from __all__"


def test_public_classes_and_functions_have_docstrings() -> None:
    documented, missing = 0, []

    def visit(node: ast.AST, where: str) -> None:
        nonlocal documented
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if child.name.startswith("_"):
                continue
            if ast.get_docstring(child):
                documented += 1
            else:
                missing.append(f"{where}.{child.name}")
            if isinstance(child, ast.ClassDef):
                visit(child, f"{where}.{child.name}")

    for path in MODULES:
        visit(ast.parse(path.read_text()), _module_name(path))
    share = documented / (documented + len(missing))
    assert share >= DOCSTRING_TARGET, f"{share:.0%} documented; missing: {missing}"
