"""A credential written into the query text outlives no request: no cache keeps it."""

from __future__ import annotations

import json

from tests.auth.conftest import LOGIN, PASSWORD, Auth

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
