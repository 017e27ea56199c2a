"""Habits the code keeps, checked over the whole tree: public modules, classes and functions
have docstrings (at least 90 % in every package), and every public module's `__all__` names
each public class and function it defines, and nothing that does not exist."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES_DIR = REPO_ROOT / "services"
PACKAGES = sorted(p.name for p in SERVICES_DIR.iterdir() if (p / "__init__.py").exists())
DOCSTRING_SHARE = 0.9


def _skipped(path: Path) -> bool:
    parts = path.relative_to(SERVICES_DIR).parts
    # Generated code (the wire contract) and Alembic revisions are not written by hand.
    return parts[:2] == ("flotilla", "v1") or "versions" in parts


def _modules(package: str) -> Iterator[Path]:
    for path in sorted((SERVICES_DIR / package).rglob("*.py")):
        if not _skipped(path):
            yield path


def _public(name: str) -> bool:
    return not name.startswith("_")


@dataclass
class _Count:
    documented: int = 0
    total: int = 0

    def add(self, has_docstring: bool) -> None:
        self.total += 1
        self.documented += has_docstring


def _definitions(tree: ast.Module) -> Iterator[ast.AST]:
    """Public classes, and public functions at module level or directly in a public class."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(node.name):
            yield node
        elif isinstance(node, ast.ClassDef) and _public(node.name):
            yield node
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(
                    member.name
                ):
                    if any(
                        isinstance(d, ast.Name) and d.id == "overload"
                        for d in member.decorator_list
                    ):
                        continue
                    yield member


def _undocumented(package: str) -> tuple[_Count, list[str]]:
    count = _Count()
    missing: list[str] = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(), str(path))
        where = str(path.relative_to(SERVICES_DIR))
        if _public(path.stem) or path.stem == "__init__":
            documented = ast.get_docstring(tree) is not None
            count.add(documented)
            if not documented:
                missing.append(f"{where} (module)")
        for node in _definitions(tree):
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            documented = ast.get_docstring(node) is not None
            count.add(documented)
            if not documented:
                missing.append(f"{where}:{node.lineno} {node.name}")
    return count, missing


@pytest.mark.parametrize("package", PACKAGES)
def test_public_modules_classes_and_functions_have_docstrings(package: str) -> None:
    count, missing = _undocumented(package)
    share = count.documented / count.total if count.total else 1.0
    assert share >= DOCSTRING_SHARE, (
        f"{package}: {count.documented} of {count.total} public definitions have a docstring "
        f"({share:.0%}); missing:\n" + "\n".join(missing)
    )


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVICES_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _defined_public(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and _public(node.name)
    }


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "__all__":
                assert isinstance(node, (ast.Assign, ast.AnnAssign))
                value = node.value
                assert isinstance(value, (ast.List, ast.Tuple)), "__all__ must be a literal list"
                return [str(ast.literal_eval(element)) for element in value.elts]
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_module_has_a_complete_all(package: str) -> None:
    problems: list[str] = []
    for path in _modules(package):
        if not (_public(path.stem) or path.stem == "__init__") or path.stem == "__main__":
            continue
        if "migrations" in path.parts:
            continue  # Alembic's env.py is a script Alembic runs, not a module to import
        tree = ast.parse(path.read_text(), str(path))
        defined = _defined_public(tree)
        declared = _declared_all(tree)
        where = str(path.relative_to(SERVICES_DIR))
        if declared is None:
            if defined:
                problems.append(f"{where}: no __all__ (defines {sorted(defined)})")
            continue
        if absent := defined - set(declared):
            problems.append(f"{where}: __all__ lacks {sorted(absent)}")
        module = importlib.import_module(_module_name(path))
        if unknown := [name for name in declared if not hasattr(module, name)]:
            problems.append(f"{where}: __all__ names what it does not have: {unknown}")
    assert problems == []
