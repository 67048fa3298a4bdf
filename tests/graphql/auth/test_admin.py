"""Root-only administration over GraphQL: users, deactivateUser, activateUser, revokeSessions.

A root token uses them; for a logged-in user, a node token and an anonymous caller they do not
exist: naming one gets the very error an unknown field gets, and introspection does not show
them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from bastion import generate_auth_token
from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient, unauthenticated

SCHEMA = """
type Note {
  text: String!
}
"""
RULES = {"User": {"read": {"id": "$viewer.id"}}, "Note": {"read": "everyone"}}
INTROSPECT = """{
  __schema { queryType { fields { name } } mutationType { fields { name } } }
  q: __type(name: "Query") { fields { name } }
  m: __type(name: "Mutation") { fields { name } }
}"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Admin:
    """A served project with two users logged in and a root token."""

    def __init__(self, client: GraphQLClient, project: Project, root: str) -> None:
        self.client = client
        self.project = project
        self.root = root
        self.users: dict[str, dict[str, Any]] = {}

    async def signup(self, email: str) -> dict[str, Any]:
        data = await self.client.data(
            "mutation($e: String!) { registerUserEmailPassword(input: {email: $e, "
            'password: "correct horse battery"}) { accessToken refreshToken } }',
            {"e": email},
        )
        payload: dict[str, Any] = data["registerUserEmailPassword"]
        me = await self.client.gql(
            "{ viewer { user { id } } }", headers=bearer(payload["accessToken"])
        )
        payload["user"] = me["data"]["viewer"]["user"]
        self.users[email] = payload
        return payload

    async def as_root(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.client.gql(query, variables, headers=bearer(self.root))


@pytest.fixture
async def admin(make_project: Callable[..., Project], client_for: Callable[..., Any]) -> Admin:
    project = make_project(
        SCHEMA,
        permissions=RULES,
        root_tokens=["ops"],
        auth={"providers": {"local-userpass": {"enabled": True, "signup": True}}},
    )
    client: GraphQLClient = await client_for(project)
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(["ops"])
    found = Admin(client, project, await tokens.get("ops"))
    await found.signup("ann@example.com")
    await found.signup("bob@example.com")
    return found


async def test_root_lists_every_user(admin: Admin) -> None:
    body = await admin.as_root("{ users(orderBy: [email_ASC]) { email isActive } }")
    assert body["data"]["users"] == [
        {"email": "ann@example.com", "isActive": True},
        {"email": "bob@example.com", "isActive": True},
    ]


async def test_deactivate_ends_sessions_and_activate_lets_the_user_back(admin: Admin) -> None:
    ann = admin.users["ann@example.com"]
    body = await admin.as_root(
        "mutation($id: ID!) { deactivateUser(id: $id) { email isActive } }", id=ann["user"]["id"]
    )
    assert body["data"]["deactivateUser"] == {"email": "ann@example.com", "isActive": False}
    # Her access token is refused now and her refresh token is dead.
    me = await admin.client.gql("{ viewer { user { id } } }", headers=bearer(ann["accessToken"]))
    assert unauthenticated(me) == "SESSION_REVOKED"
    refresh = await admin.client.gql(
        "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
        {"t": ann["refreshToken"]},
    )
    assert refresh["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    login = await admin.client.gql(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", '
        'password: "correct horse battery"}) { accessToken } }'
    )
    assert login["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"

    body = await admin.as_root(
        "mutation($id: ID!) { activateUser(id: $id) { isActive } }", id=ann["user"]["id"]
    )
    assert body["data"]["activateUser"] == {"isActive": True}
    again = await admin.client.data(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", '
        'password: "correct horse battery"}) { accessToken } }'
    )
    me = await admin.client.gql(
        "{ viewer { user { email } } }",
        headers=bearer(again["loginEmailPassword"]["accessToken"]),
    )
    assert me["data"]["viewer"]["user"] == {"email": "ann@example.com"}
    # Activation does not bring the old session back.
    me = await admin.client.gql("{ viewer { user { id } } }", headers=bearer(ann["accessToken"]))
    assert unauthenticated(me) == "SESSION_REVOKED"


async def test_revoke_sessions_ends_only_that_users_sessions(admin: Admin) -> None:
    ann, bob = admin.users["ann@example.com"], admin.users["bob@example.com"]
    second = await admin.client.data(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", '
        'password: "correct horse battery"}) { accessToken } }'
    )
    body = await admin.as_root(
        "mutation($id: ID!) { revokeSessions(userId: $id) }", id=ann["user"]["id"]
    )
    assert body["data"]["revokeSessions"] == 2
    for token in (ann["accessToken"], second["loginEmailPassword"]["accessToken"]):
        me = await admin.client.gql("{ viewer { user { id } } }", headers=bearer(token))
        assert unauthenticated(me) == "SESSION_REVOKED"
    bob_me = await admin.client.gql(
        "{ viewer { user { id } } }", headers=bearer(bob["accessToken"])
    )
    assert bob_me["data"]["viewer"]["user"] == {"id": bob["user"]["id"]}
    # Revoking is no deactivation: ann logs in again.
    await admin.client.data(
        'mutation { loginEmailPassword(input: {email: "ann@example.com", '
        'password: "correct horse battery"}) { accessToken } }'
    )


async def test_unknown_user_is_not_found(admin: Admin) -> None:
    for field in ("deactivateUser(id: $id) { id }", "revokeSessions(userId: $id)"):
        body = await admin.as_root(f"mutation($id: ID!) {{ {field} }}", id="nobody")
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def _callers(admin: Admin, clock: FrozenClock) -> dict[str, dict[str, str]]:
    ann = admin.users["ann@example.com"]
    node = generate_auth_token(admin.project, ann["user"]["id"], "User", clock=clock)
    return {
        "anonymous": {},
        "user": bearer(ann["accessToken"]),
        "node token": bearer(node),
    }


HIDDEN_DOCUMENTS = [
    ("{ users { id } }", "users"),
    ('mutation { deactivateUser(id: "x") { id } }', "deactivateUser"),
    ('mutation { activateUser(id: "x") { id } }', "activateUser"),
    ('mutation { revokeSessions(userId: "x") }', "revokeSessions"),
    ("{ auditEvents { id } }", "auditEvents"),
    ('{ userSessions(userId: "x") { id } }', "userSessions"),
    ('{ userIdentities(userId: "x") { id } }', "userIdentities"),
    ("{ serverApiKeys { name } }", "serverApiKeys"),
    ("{ rootTokens { name } }", "rootTokens"),
    ("{ signingKeys { kid } }", "signingKeys"),
    ("{ projectSettings }", "projectSettings"),
    (
        'mutation { createUserWithPassword(input: {email: "e@example.com", password: "p"}) '
        "{ id } }",
        "createUserWithPassword",
    ),
    ('mutation { createServerApiKey(name: "n") { secret } }', "createServerApiKey"),
    ('mutation { deleteServerApiKey(name: "n") }', "deleteServerApiKey"),
    ('mutation { rotateRootToken(name: "ops") { token } }', "rotateRootToken"),
    ("mutation { rotateSigningKey { kid } }", "rotateSigningKey"),
]
ADMIN_FIELDS = {field for _, field in HIDDEN_DOCUMENTS}


@pytest.mark.parametrize(("document", "field"), HIDDEN_DOCUMENTS)
async def test_for_everyone_but_root_admin_fields_do_not_exist(
    admin: Admin, clock: FrozenClock, document: str, field: str
) -> None:
    bob = admin.users["bob@example.com"]
    unknown = document.replace(field, "noSuchField")
    for who, headers in (await _callers(admin, clock)).items():
        body = await admin.client.gql(
            document.replace('"x"', f'"{bob["user"]["id"]}"'), headers=headers
        )
        missing = await admin.client.gql(unknown, headers=headers)
        # Hidden equals missing: the same answer, but for the name it repeats (and the
        # public names development mode suggests for it, none of them an admin field).
        assert "data" not in body, who
        assert _unsuggested(body) == _renamed(_unsuggested(missing), "noSuchField", field), who
        assert not _suggested(body) & ADMIN_FIELDS, who
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", who
    # Nothing happened to bob.
    me = await admin.client.gql("{ viewer { user { id } } }", headers=bearer(bob["accessToken"]))
    assert me["data"]["viewer"]["user"] == {"id": bob["user"]["id"]}


async def test_no_suggestion_names_an_admin_field(admin: Admin, clock: FrozenClock) -> None:
    for who, headers in (await _callers(admin, clock)).items():
        body = await admin.client.gql("{ userz { id } }", headers=headers)
        assert _suggested(body) == {"user"}, who
    # Root, who may use `users`, is told of it.
    body = await admin.as_root("{ userz { id } }")
    assert "'users'" in body["errors"][0]["message"]


def _suggested(body: dict[str, Any]) -> set[str]:
    """The names the errors' "Did you mean ...?" suggest."""
    found: set[str] = set()
    for error in body["errors"]:
        _, _, tail = error["message"].partition(" Did you mean ")
        found |= set(re.findall(r"'(\w+)'", tail))
    return found


def _unsuggested(body: dict[str, Any]) -> dict[str, Any]:
    errors = [{**e, "message": e["message"].partition(" Did you mean ")[0]} for e in body["errors"]]
    return {**body, "errors": errors}


def _renamed(body: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    renamed: dict[str, Any] = json.loads(json.dumps(body).replace(old, new))
    return renamed


def _names(body: dict[str, Any]) -> set[str]:
    data = body["data"]
    found = {f["name"] for f in data["__schema"]["queryType"]["fields"]}
    found |= {f["name"] for f in data["__schema"]["mutationType"]["fields"]}
    found |= {f["name"] for f in data["q"]["fields"]} | {f["name"] for f in data["m"]["fields"]}
    return found


async def test_introspection_shows_admin_fields_to_root_only(
    admin: Admin, clock: FrozenClock
) -> None:
    for who, headers in (await _callers(admin, clock)).items():
        names = _names(await admin.client.gql(INTROSPECT, headers=headers))
        assert not names & ADMIN_FIELDS, who
        assert {"note", "notes", "viewer", "usersCount", "loginEmailPassword"} <= names, who
    root_names = _names(await admin.as_root(INTROSPECT))
    assert root_names >= ADMIN_FIELDS


async def test_root_schema_still_describes_every_type_to_others(admin: Admin) -> None:
    body = await admin.client.gql('{ __type(name: "User") { fields { name } } }')
    assert "email" in {f["name"] for f in body["data"]["__type"]["fields"]}
