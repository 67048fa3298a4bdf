"""Which documents the caches may keep: none whose text may hold a secret."""

from __future__ import annotations

import pytest
from graphql import parse

from bastion.graphql.literal_secrets import may_hold_secrets

CREDENTIALS = frozenset({"loginEmailPassword", "refreshToken", "customLogin"})


@pytest.mark.parametrize(
    "document",
    [
        'mutation { loginEmailPassword(input: {email: "a@b.c", password: "hunter22"}) '
        "{ accessToken } }",
        # One literal among variables is enough.
        'mutation ($p: String!) { loginEmailPassword(input: {email: "a@b.c", password: $p}) '
        "{ accessToken } }",
        'mutation { changePassword(input: {oldPassword: "a", newPassword: "b"}) }',
        'mutation { createMovie(data: {title: "Alien", year: 1979}) { id } }',
        "mutation { resetPassword(input: {code: 123456}) }",
        'mutation ($t: String = "a-refresh-token") { refreshToken(input: {refreshToken: $t}) '
        "{ accessToken } }",
        '{ customLogin(key: ["a", "secret"]) }',
        "query Q { ...F } fragment F on Query { customLogin(key: 1.5) }",
    ],
)
def test_a_mutation_or_login_with_written_values_is_not_kept(document: str) -> None:
    assert may_hold_secrets(parse(document), CREDENTIALS)


@pytest.mark.parametrize(
    "document",
    [
        "mutation ($i: loginEmailPasswordInput!) { loginEmailPassword(input: $i) { accessToken } }",
        "mutation ($e: String!, $p: String!) "
        "{ loginEmailPassword(input: {email: $e, password: $p}) { accessToken } }",
        # Queries with literals: filters and pages hold no secret.
        '{ movies(where: {title: "Alien"}, first: 10) { title } }',
        # Booleans, enums and nulls carry none.
        "mutation ($id: ID!) { deleteMovie(id: $id, hard: true, mode: FAST, note: null) { id } "
        "x: viewer @include(if: false) { id } }",
        "{ viewer { user { id email } } }",
    ],
)
def test_documents_whose_values_all_come_as_variables_are_kept(document: str) -> None:
    assert not may_hold_secrets(parse(document), CREDENTIALS)
