"""One credential field per document: aliases, fragments and extra operations cannot multiply
login attempts inside one request. A refused document runs nothing (no password is hashed, no
session starts)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bastion.store.auth.tables import SESSION_TABLE
from tests.auth.conftest import PASSWORD, Auth

LOGIN_ARGS = '(input: {email: "ann@example.com", password: "%s"}) { accessToken }'


def login(alias: str, password: str = PASSWORD) -> str:
    return f"{alias}: loginEmailPassword{LOGIN_ARGS % password}"


async def sessions(auth: Auth) -> int:
    service = auth.service
    table = service.store.tables.metadata.tables[SESSION_TABLE]
    async with service.store.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def refused(body: dict[str, Any]) -> None:
    assert "data" not in body or body["data"] is None, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "at most 1 login" in body["errors"][0]["message"]


A, B = login("a"), login("b")
# Within the alias limit (30): the one-credential rule is what refuses it.
MANY = " ".join(login(f"a{i}", f"guess{i}") for i in range(25))
REFRESH = 'refreshToken(input: {refreshToken: "x"}) { accessToken }'


@pytest.mark.parametrize(
    "document",
    [
        f"mutation {{ {A} {B} }}",
        f"mutation {{ {MANY} }}",
        f"mutation {{ ...L ...L }} fragment L on Mutation {{ {A} }}",
        f"mutation {{ {A} ... on Mutation {{ {B} }} }}",
        f"mutation {{ {A} {REFRESH} }}",
        f"mutation A {{ {A} }} mutation B {{ {B} }}",
        "mutation { loginAnonymous { accessToken } again: loginAnonymous { accessToken } }",
    ],
    ids=["two aliases", "25 aliases", "fragments", "inline", "login+refresh", "two ops", "anon"],
)
async def test_documents_with_several_credential_fields_are_refused_whole(
    auth: Auth, document: str
) -> None:
    await auth.register("ann@example.com")
    before = await sessions(auth)
    payload = {"query": document}
    if "mutation A" in document:
        payload["operationName"] = "A"  # only A would run: the document is refused anyway
    body = (await auth.client.http.post("/graphql", json=payload)).json()
    refused(body)
    assert await sessions(auth) == before


async def test_one_credential_field_with_other_fields_runs(auth: Auth) -> None:
    await auth.register("ann@example.com")
    body = await auth.gql(f"mutation {{ {A} logoutAll }}")
    # logoutAll needs a user: anonymous here, so it fails; the login alone is not refused.
    assert body["errors"][0]["extensions"]["code"] != "BAD_REQUEST"
    body = await auth.gql(f"mutation {{ {login('only')} }}")
    assert body["data"]["only"]["accessToken"]
