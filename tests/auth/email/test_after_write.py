"""Emailed codes and links checked after a document wrote data are refused before the check.

On SQLite a write inside a mutation joins the request's transaction: a wrong code's spent
attempt would be written there too, and undone by a failing field beside it, making guesses
free. The rule is the one logins and refreshes keep (``CredentialAfterWrite``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.auth.logins import LoginClient
from bastion.auth.sessions.values import CredentialAfterWrite
from tests.auth.conftest import Auth, error_code
from tests.auth.email.conftest import SEND_CODE
from tests.smtp_server import SmtpServer, code_of, link_of

CODES = {"enabled": True, "signup": True}
# A write, then the code: the write makes the request hold the transaction.
WRITE_THEN_CODE = """mutation ($id: ID!, $email: String!, $code: String!) {
  updateUser(id: $id, data: {firstName: "x"}) { id }
  loginEmailCode(input: {email: $email, code: $code}) { accessToken }
}"""
WRITE_THEN_LINK = """mutation ($id: ID!, $tokenId: String!, $token: String!) {
  updateUser(id: $id, data: {firstName: "y"}) { id }
  %s(input: {tokenId: $tokenId, token: $token}) %s
}"""


async def _user(app: Auth, email: str) -> tuple[str, str]:
    token = (await app.register(email))["accessToken"]
    user = await app.viewer(token)
    assert user is not None
    return token, str(user["id"])


async def test_a_code_after_a_write_is_refused_and_nothing_changes(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code={**CODES, "code_attempts": 3})
    token, user_id = await _user(app, "ann@example.com")
    await app.gql(SEND_CODE, {"email": "ann@example.com"})
    code = code_of(await smtp.next())
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    for guess in [wrong] * 6 + [code]:
        body = await app.gql(
            WRITE_THEN_CODE, {"id": user_id, "email": "ann@example.com", "code": guess}, token=token
        )
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert codes == ["BAD_REQUEST"], body
        assert (body.get("data") or {}).get("loginEmailCode") is None
    # Nothing of those documents stayed: the name is unchanged...
    me = await app.gql("{ viewer { user { firstName } } }", token=token)
    assert me["data"]["viewer"]["user"]["firstName"] is None
    # ... and no attempt of the mail's budget was spent: the right code still works.
    alone = await app.gql(
        "mutation ($e: String!, $c: String!) { loginEmailCode(input: {email: $e, code: $c}) "
        "{ accessToken } }",
        {"e": "ann@example.com", "c": code},
    )
    assert "errors" not in alone, alone


async def test_the_budget_holds_across_many_failed_attempts(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code={**CODES, "code_attempts": 3})
    await app.gql(SEND_CODE, {"email": "zoe@example.com"})
    code = code_of(await smtp.next())
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    alone = (
        "mutation ($e: String!, $c: String!) { loginEmailCode(input: {email: $e, code: $c}) "
        "{ accessToken } }"
    )
    answers = [
        error_code(await app.gql(alone, {"e": "zoe@example.com", "c": wrong})) for _ in range(20)
    ]
    # Three wrong codes spend the mail's budget; from the throttle's limit the account waits.
    assert set(answers[:3]) == {"INVALID_EMAIL_TOKEN"}
    assert set(answers[3:]) <= {"INVALID_EMAIL_TOKEN", "RATE_LIMITED"}
    assert "RATE_LIMITED" in answers
    # The budget is gone: even the right code is refused.
    assert error_code(await app.gql(alone, {"e": "zoe@example.com", "c": code})) in (
        "INVALID_EMAIL_TOKEN",
        "RATE_LIMITED",
    )


async def test_links_after_a_write_are_refused_before_they_are_taken(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "optional"}, email_code=CODES)
    token, user_id = await _user(app, "bob@example.com")
    confirm = link_of(await smtp.next())
    await app.gql(SEND_CODE, {"email": "bob@example.com"})
    login = link_of(await smtp.next())
    cases = [
        ("confirmEmail", "", confirm),
        ("loginEmailCode", "{ accessToken }", login),
        ("confirmEmailChange", "", confirm),
        ("resetPassword", "", confirm),
    ]
    for field, selection, link in cases:
        document = WRITE_THEN_LINK % (field, selection)
        if field == "resetPassword":
            document = document.replace(
                "token: $token}", 'token: $token, password: "a new pw 123"}'
            )
        body = await app.gql(
            document,
            {"id": user_id, "tokenId": link["tokenId"], "token": link["token"]},
            token=token,
        )
        assert [e["extensions"]["code"] for e in body.get("errors", [])] == ["BAD_REQUEST"], body
    # The links were not spent: each works alone.
    confirmed = await app.gql(
        "mutation ($i: String!, $t: String!) { confirmEmail(input: {tokenId: $i, token: $t}) }",
        {"i": confirm["tokenId"], "t": confirm["token"]},
    )
    assert confirmed == {"data": {"confirmEmail": True}}
    logged = await app.gql(
        "mutation ($i: String!, $t: String!) { loginEmailCode(input: {tokenId: $i, token: $t}) "
        "{ accessToken } }",
        {"i": login["tokenId"], "t": login["token"]},
    )
    assert "errors" not in logged, logged


@pytest.mark.sqlite_only(reason="only SQLite's writer joins a request's writes")
async def test_the_flows_keep_the_rule_whoever_calls_them(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    """Not only the GraphQL fields: the flows themselves refuse inside a request that wrote."""
    app = await mail_app(email_code=CODES)
    service = app.service
    flows = service.auth.email
    client = LoginClient(ip="192.0.2.1")
    request = service.store.db.lazy(write=True)
    try:
        conn = await request.connection()
        await service.store.writer.create(conn, "User", {"email": "eve@example.com"})
        attempts = [
            flows.login_with_code(client, email="eve@example.com", code="000000"),
            flows.login_with_code(client, token_id="x", token="y"),
            flows.confirm("x", "y", client),
            flows.reset("x", "y", "a new password 1", client),
            flows.confirm_email_change("x", "y", client),
        ]
        for attempt in attempts:
            with pytest.raises(CredentialAfterWrite):
                await attempt
    finally:
        await request.finish(commit=False)
