"""No service package imports another: what two services share lives in `flotilla`."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
SERVICE_PACKAGES = ("gateway", "persister", "simulator", "dispatcher", "conductor")


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_no_service_package_imports_another() -> None:
    crossings = []
    for package in SERVICE_PACKAGES:
        package_dir = SERVICES_DIR / package
        if not package_dir.is_dir():
            continue
        for path in sorted(package_dir.rglob("*.py")):
            others = _imported_roots(path) & (set(SERVICE_PACKAGES) - {package})
            crossings += [f"{path.relative_to(SERVICES_DIR)} imports {o}" for o in sorted(others)]
    assert crossings == []


def test_the_shared_package_imports_services_only_through_the_registry() -> None:
    crossings = []
    for path in sorted((SERVICES_DIR / "flotilla").rglob("*.py")):
        others = _imported_roots(path) & set(SERVICE_PACKAGES)
        if others:
            crossings.append(f"{path.relative_to(SERVICES_DIR)} imports {sorted(others)}")
    assert crossings == []
