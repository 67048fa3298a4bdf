"""The admin console's root-only fields: users' sessions and identities, creating users,
server API keys, root tokens, signing keys and the project's settings; every action audited
with its actor. (That nobody else can reach them is in test_admin.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project
from tests.conftest import GraphQLClient, unauthenticated

SCHEMA = "type Note { text: String! }"
PASSWORD = "correct horse battery"


class Console:
    def __init__(self, client: GraphQLClient, root: str) -> None:
        self.client = client
        self.root = root

    async def root_data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.client.gql(
            query, variables, headers={"Authorization": f"Bearer {self.root}"}
        )
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def actions(self) -> list[dict[str, Any]]:
        data = await self.root_data('{ auditEvents(type: ["admin_action"]) { userId detail } }')
        return [{"userId": e["userId"], **e["detail"]} for e in data["auditEvents"]]


@pytest.fixture
async def console(make_project: Callable[..., Project], client_for: Callable[..., Any]) -> Console:
    project = make_project(
        SCHEMA,
        root_tokens=["ops"],
        auth={
            "providers": {
                "local-userpass": {"enabled": True, "signup": True},
                "api-key": {"enabled": True},
            }
        },
        database={"url": "sqlite:///.bastion/data.db"},
    )
    client: GraphQLClient = await client_for(project)
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(["ops"])
    return Console(client, await tokens.get("ops"))


async def test_create_a_user_then_see_their_sessions_and_identities(console: Console) -> None:
    data = await console.root_data(
        "mutation($p: String!) { createUserWithPassword(input: "
        '{email: "Ann@Example.com", password: $p, firstName: "Ann"}) { id email firstName } }',
        p=PASSWORD,
    )
    ann = data["createUserWithPassword"]
    assert ann["email"] == "ann@example.com"
    login = await console.client.data(
        "mutation($p: String!) { loginEmailPassword(input: "
        '{email: "ann@example.com", password: $p}) { accessToken } }',
        {"p": PASSWORD},
    )
    assert login["loginEmailPassword"]["accessToken"]
    seen = await console.root_data(
        "query($id: ID!) { userSessions(userId: $id) { provider lastUsedAt } "
        "userIdentities(userId: $id) { provider subject } }",
        id=ann["id"],
    )
    assert [s["provider"] for s in seen["userSessions"]] == ["local-userpass"]
    assert [i["provider"] for i in seen["userIdentities"]] == ["local-userpass"]
    assert await console.actions() == [
        {"userId": ann["id"], "actor": "ops", "action": "createUserWithPassword"}
    ]


async def test_a_bad_new_user_changes_nothing(console: Console) -> None:
    body = await console.client.gql(
        'mutation { createUserWithPassword(input: {email: "ann@example.com", password: "short"})'
        " { id } }",
        headers={"Authorization": f"Bearer {console.root}"},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await console.root_data("{ users { id } }"))["users"] == []
    assert await console.actions() == []


async def test_a_server_key_is_shown_once_logs_in_and_is_revoked(console: Console) -> None:
    created = await console.root_data(
        'mutation { createServerApiKey(name: "billing") { secret key { name userId } } }'
    )
    secret = created["createServerApiKey"]["secret"]
    listed = await console.root_data("{ serverApiKeys { name disabled lastUsedAt } }")
    assert listed["serverApiKeys"] == [{"name": "billing", "disabled": False, "lastUsedAt": None}]
    login = await console.client.data(
        "mutation($k: String!) { loginApiKey(input: {key: $k}) { accessToken } }", {"k": secret}
    )
    access = login["loginApiKey"]["accessToken"]
    me = await console.client.gql(
        "{ viewer { user { id } } }", headers={"Authorization": f"Bearer {access}"}
    )
    assert me["data"]["viewer"]["user"]["id"] == created["createServerApiKey"]["key"]["userId"]

    await console.root_data('mutation { deleteServerApiKey(name: "billing") }')
    assert (await console.root_data("{ serverApiKeys { name } }"))["serverApiKeys"] == []
    me = await console.client.gql(
        "{ viewer { user { id } } }", headers={"Authorization": f"Bearer {access}"}
    )
    assert unauthenticated(me) == "SESSION_REVOKED"
    assert [a["action"] for a in await console.actions()] == [
        "deleteServerApiKey",
        "createServerApiKey",
    ]


async def test_rotating_a_root_token_shows_the_new_one_and_retires_the_old(
    console: Console,
) -> None:
    listed = await console.root_data("{ rootTokens { name rotatedAt } }")
    assert listed["rootTokens"] == [{"name": "ops", "rotatedAt": None}]
    rotated = await console.root_data('mutation { rotateRootToken(name: "ops") { name token } }')
    new = rotated["rotateRootToken"]["token"]
    assert new != console.root
    old = await console.client.gql(
        "{ rootTokens { name } }", headers={"Authorization": f"Bearer {console.root}"}
    )
    assert old["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    console.root = new
    assert (await console.root_data("{ rootTokens { rotatedAt } }"))["rootTokens"][0]["rotatedAt"]
    assert await console.actions() == [
        {"userId": None, "actor": "ops", "action": "rotateRootToken", "name": "ops"}
    ]


async def test_signing_keys_list_and_rotate(console: Console) -> None:
    before = await console.root_data("{ signingKeys { kid status } }")
    assert [k["status"] for k in before["signingKeys"]] == ["signing"]
    rotated = await console.root_data("mutation { rotateSigningKey { kid status } }")
    assert rotated["rotateSigningKey"]["status"] == "pending"
    after = await console.root_data("{ signingKeys { kid status } }")
    assert {k["status"] for k in after["signingKeys"]} == {"signing", "pending"}
    assert [a["action"] for a in await console.actions()] == ["rotateSigningKey"]


async def test_project_settings_mask_secrets(console: Console) -> None:
    data = await console.root_data("{ projectSettings }")
    summary = data["projectSettings"]
    assert summary["types"] == ["Note", "User"]
    assert "type Note" in summary["schema"]
    assert summary["settings"]["root_tokens"] == ["ops"]
    assert console.root not in str(summary)


async def test_switching_a_user_and_ending_sessions_are_audited_with_the_actor(
    console: Console,
) -> None:
    data = await console.root_data(
        "mutation($p: String!) { createUserWithPassword(input: "
        '{email: "bob@example.com", password: $p}) { id } }',
        p=PASSWORD,
    )
    bob = data["createUserWithPassword"]["id"]
    for field in ("deactivateUser(id: $id) { id }", "activateUser(id: $id) { id }",
                  "revokeSessions(userId: $id)"):  # fmt: skip
        await console.root_data(f"mutation($id: ID!) {{ {field} }}", id=bob)
    actions = await console.actions()
    assert actions[:3] == [
        {"userId": bob, "actor": "ops", "action": action}
        for action in ("revokeSessions", "activateUser", "deactivateUser")
    ]


async def test_a_refused_action_records_nothing(console: Console) -> None:
    body = await console.client.gql(
        'mutation { rotateRootToken(name: "nope") { token } }',
        headers={"Authorization": f"Bearer {console.root}"},
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await console.client.gql(
        'mutation { deactivateUser(id: "nobody") { id } }',
        headers={"Authorization": f"Bearer {console.root}"},
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await console.actions() == []
