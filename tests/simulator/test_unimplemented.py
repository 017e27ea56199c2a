"""Operations of the official document that the simulator does not implement answer 404 with
an error envelope, and its README lists each of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "services" / "simulator" / "README.md"


def implemented(app: Any) -> set[tuple[str, str]]:
    """(METHOD, path shape) of every API route, from the app's own OpenAPI listing."""
    found: set[tuple[str, str]] = set()
    for path, item in app.openapi()["paths"].items():
        if path.startswith("/v2"):
            shaped = shape(path.removeprefix("/v2")) or "/"
            found.update((method.upper(), shaped) for method in item)
    return found


def shape(template: str) -> str:
    return re.sub(r"\{\w+\}", "{}", template)


async def test_unimplemented_operations_answer_404_and_are_listed(
    make_client: Any, register: Any, api_document: Any
) -> None:
    client = make_client()
    agent = await register(client)
    ours = implemented(client.app)
    missing = [
        (method, template)
        for method, template in api_document.operations()
        if (method, shape(template)) not in ours
    ]
    assert missing, "expected some operations to be out of scope"
    listed = README.read_text()
    for method, template in missing:
        path = re.sub(r"\{\w+\}", "X1-TEST-A1", template)
        response = await client.request(method, path, headers=agent["headers"], json={})
        assert response.status_code == 404, (method, template)
        assert response.json()["error"]["code"] == 404
        assert f"`{method} {template}`" in listed, f"{method} {template} missing from the README"


async def test_every_implemented_operation_is_in_the_document(
    make_client: Any, api_document: Any
) -> None:
    documented = {(m, shape(t)) for m, t in api_document.operations()}
    ours = implemented(make_client().app)
    assert len(ours) >= 45
    assert ours <= documented, sorted(ours - documented)
