"""``auth.require_login``: anonymous callers get the login fields and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.project import Project

SCHEMA = "type Note { text: String! }"
AUTH = {"require_login": True, "providers": {"local-userpass": {"signup": True}}}
REGISTER = (
    'mutation { registerUserEmailPassword(input: {email: "a@b.co", password: "a pass of my own"})'
    " { accessToken } }"
)


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename }",
        "mutation { __typename }",
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Note") { name } }',
        "{ ... on Query { __typename } }",
        "query { ...f } fragment f on Query { __typename }",
        "{ viewer { user { id } } __typename }",
    ],
)
async def test_anonymous_meta_fields_are_refused(
    make_project: Callable[..., Project], client_for: Callable[..., Any], query: str
) -> None:
    client = await client_for(make_project(SCHEMA, auth=AUTH))
    body = await client.gql(query)
    assert body == {
        "errors": [{"message": "Unauthorized", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


async def test_logged_in_callers_and_login_fields_still_work(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, auth=AUTH))
    # The login fields, and viewer (anyone may ask whether they are logged in).
    assert await client.data("{ viewer { user { id } __typename } }") == {
        "viewer": {"user": None, "__typename": "Viewer"}
    }
    token = (await client.data(REGISTER))["registerUserEmailPassword"]["accessToken"]
    bearer = {"Authorization": f"Bearer {token}"}
    body = await client.gql('{ __typename __type(name: "Note") { name } }', headers=bearer)
    assert body == {"data": {"__typename": "Query", "__type": {"name": "Note"}}}


async def test_without_require_login_anonymous_typename_is_answered(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA))
    assert await client.data("{ __typename }") == {"__typename": "Query"}
