"""Which documents the caches may keep: none whose text may hold a secret (a credential written
into the query text outlives no request)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from graphql import parse

from bastion.graphql.literal_secrets import may_hold_secrets
from bastion.project import Project
from tests.auth.conftest import LOGIN, PASSWORD, SIGNUP, Auth

SECRET_FIELDS = frozenset(
    {"loginEmailPassword", "refreshToken", "changePassword", "resetPassword", "customLogin"}
)


@pytest.mark.parametrize(
    "document",
    [
        'mutation { loginEmailPassword(input: {email: "a@b.c", password: "hunter22"}) '
        "{ accessToken } }",
        # One literal among variables is enough.
        'mutation ($p: String!) { loginEmailPassword(input: {email: "a@b.c", password: $p}) '
        "{ accessToken } }",
        'mutation { changePassword(input: {oldPassword: "a", newPassword: "b"}) }',
        "mutation { resetPassword(input: {code: 123456}) }",
        'mutation ($t: String = "a-refresh-token") { refreshToken(input: {refreshToken: $t}) '
        "{ accessToken } }",
        '{ customLogin(key: ["a", "secret"]) }',
        "query Q { ...F } fragment F on Query { customLogin(key: 1.5) }",
    ],
)
def test_a_field_taking_a_secret_with_written_values_is_not_kept(document: str) -> None:
    assert may_hold_secrets(parse(document), SECRET_FIELDS)


@pytest.mark.parametrize(
    "document",
    [
        "mutation ($i: loginEmailPasswordInput!) { loginEmailPassword(input: $i) { accessToken } }",
        "mutation ($e: String!, $p: String!) "
        "{ loginEmailPassword(input: {email: $e, password: $p}) { accessToken } }",
        # Data writes and queries with literals: the project's data, filters and pages.
        'mutation { createMovie(data: {title: "Alien", year: 1979}) { id } }',
        '{ movies(where: {title: "Alien"}, first: 10) { title } }',
        # Booleans, enums and nulls carry none.
        "mutation ($id: ID!) { deleteMovie(id: $id, hard: true, mode: FAST, note: null) { id } "
        "x: viewer @include(if: false) { id } }",
        "{ viewer { user { id email } } }",
    ],
)
def test_documents_without_written_values_for_a_secret_are_kept(document: str) -> None:
    assert not may_hold_secrets(parse(document), SECRET_FIELDS)


@pytest.fixture
async def auth(make_project: Callable[..., Project], client_for: Callable[..., Any]) -> Auth:
    """A project with sign-up on."""
    return Auth(await client_for(make_project(auth=SIGNUP)))


LITERAL_LOGIN = (
    f'mutation {{ loginEmailPassword(input: {{email: "ann@example.com", password: "{PASSWORD}"}})'
    " { accessToken refreshToken } }"
)


async def test_a_password_written_in_the_query_is_parsed_each_time_and_kept_nowhere(
    auth: Auth, parse_calls: list[str]
) -> None:
    await auth.register("ann@example.com")
    body = json.dumps({"query": LITERAL_LOGIN}).encode()
    headers = {"content-type": "application/json"}
    for _ in range(3):
        answer = await auth.client.http.post("/graphql", content=body, headers=headers)
        pair = answer.json()["data"]["loginEmailPassword"]
        assert pair["accessToken"] and pair["refreshToken"]
    # Neither the body (by its bytes) nor the document (by its text) was kept: each request
    # parsed it again.
    assert parse_calls.count(LITERAL_LOGIN) == 3
    assert LITERAL_LOGIN not in auth.service.executor.documents
    # A wrong password written the same way is refused as usual, and kept nowhere either.
    wrong = LITERAL_LOGIN.replace(PASSWORD, "not the password")
    refused = await auth.gql(wrong)
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert wrong not in auth.service.executor.documents


async def test_a_login_sent_with_variables_is_parsed_once(
    auth: Auth, parse_calls: list[str]
) -> None:
    await auth.register("ann@example.com")
    for _ in range(3):
        assert (await auth.login("ann@example.com"))["data"]["loginEmailPassword"]["accessToken"]
    assert parse_calls.count(LOGIN) == 1
    assert LOGIN in auth.service.executor.documents


async def test_a_data_write_with_written_values_is_parsed_once(
    auth: Auth, parse_calls: list[str]
) -> None:
    create = "mutation ($t: String!) { createMovie(data: {title: $t, year: 2000}) { id } }"
    token = (await auth.register("ann@example.com"))["accessToken"]
    for title in ("Alien", "Heat", "Ran"):
        body = await auth.gql(create, {"t": title}, token=token)
        assert body["data"]["createMovie"]["id"], body
    assert parse_calls.count(create) == 1
    # A password change with its passwords written in is parsed each time, like a login.
    passwords = f'oldPassword: "{PASSWORD}", newPassword: "{PASSWORD}"'
    change = f"mutation {{ changePassword(input: {{{passwords}}}) }}"
    for _ in range(2):
        await auth.gql(change, token=token)
    assert parse_calls.count(change) == 2
    assert change not in auth.service.executor.documents
