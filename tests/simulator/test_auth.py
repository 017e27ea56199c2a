"""Registration needs no token; /my/* needs the agent token; bad tokens answer 401."""

from __future__ import annotations

from typing import Any

import pytest


async def test_register_needs_no_token_and_returns_one(make_client: Any) -> None:
    client = make_client()
    response = await client.post("/register", json={"symbol": "nobody", "faction": "COSMIC"})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["token"].count(".") == 2  # a JWT
    assert data["agent"]["symbol"] == "NOBODY"
    me = await client.get("/my/agent", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.status_code == 200 and me.json()["data"]["symbol"] == "NOBODY"


async def test_register_ignores_an_account_token(make_client: Any) -> None:
    client = make_client()
    response = await client.post(
        "/register",
        json={"symbol": "WITHACCOUNT", "faction": "COSMIC"},
        headers={"Authorization": "Bearer some-account-token"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 4103),
        ({"Authorization": ""}, 4103),
        ({"Authorization": "Basic abc"}, 4103),
        ({"Authorization": "Bearer not-a-jwt"}, 4104),
        ({"Authorization": "Bearer a.b.c"}, 4104),
    ],
)
async def test_my_routes_refuse_missing_and_invalid_tokens(
    make_client: Any, api_document: Any, headers: dict[str, str], code: int
) -> None:
    client = make_client()
    for path in ("/my/agent", "/my/ships", "/my/contracts"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code
        api_document.validate("GET", path, 401, response.content)


async def test_a_token_from_another_universe_is_refused(make_client: Any, register: Any) -> None:
    first, second = make_client(), make_client()
    agent = await register(first)
    response = await second.get("/my/agent", headers=agent["headers"])
    assert response.status_code == 401 and response.json()["error"]["code"] == 4104


async def test_public_routes_work_without_a_token(make_client: Any) -> None:
    client = make_client()
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/systems")).status_code == 200


async def test_taken_symbols_and_unknown_factions_are_refused(
    make_client: Any, register: Any
) -> None:
    client = make_client()
    await register(client, "TAKEN")
    again = await client.post("/register", json={"symbol": "taken", "faction": "COSMIC"})
    assert again.status_code == 409 and again.json()["error"]["code"] == 4111
    unknown = await client.post("/register", json={"symbol": "NEWONE", "faction": "NOPE"})
    assert unknown.status_code == 422
    short = await client.post("/register", json={"symbol": "AB", "faction": "COSMIC"})
    assert short.status_code == 422 and short.json()["error"]["data"]["issues"]
    homeless = await client.post("/register", json={"symbol": "NEWONE", "faction": "ETHEREAL"})
    assert homeless.status_code == 400 and homeless.json()["error"]["code"] == 4112
