"""An email address is a credential: ``changeEmail`` needs the password, the generated
``updateUser`` leaves it to root, every change is audited, and look-alikes are refused at
sign-up unless the project opts in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bastion.store.auth.passkey_tables import PASSKEY_TABLE
from bastion.store.counting import statements
from tests.auth.conftest import PASSWORD, Auth, bearer, error_code
from tests.auth.test_audit import events, root_token

CHANGE_EMAIL = """mutation ($password: String!, $email: String!) {
  changeEmail(input: {password: $password, newEmail: $email}) { id email }
}"""
UPDATE_EMAIL = """mutation ($id: ID!, $email: String) {
  updateUser(id: $id, data: {email: $email, firstName: "Ann"}) { email firstName }
}"""
OWN_ACCOUNT = {"User": {"read": {"id": "$viewer.id"}, "update": {"id": "$viewer.id"}}}


async def signed_up(auth: Auth, email: str = "ann@example.com") -> tuple[dict[str, Any], str]:
    pair = await auth.register(email)
    me = await auth.viewer(pair["accessToken"])
    assert me is not None
    return pair, me["id"]


async def test_changing_the_email_needs_the_password_and_is_audited(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = Auth(
        await client_for(
            make_project(
                auth={"providers": {"local-userpass": {"signup": True}}}, permissions=OWN_ACCOUNT
            )
        )
    )
    pair, ann = await signed_up(auth)
    other = await auth.login_pair("ann@example.com")  # a second device
    token = pair["accessToken"]
    wrong = {"password": "not her password", "email": "ann@new.example"}

    assert error_code(await auth.gql(CHANGE_EMAIL, wrong, token)) == "INVALID_CREDENTIALS"
    assert error_code(await auth.gql(CHANGE_EMAIL, wrong)) == "UNAUTHENTICATED"
    assert (await auth.viewer(token)) == {"id": ann, "email": "ann@example.com"}
    assert [e["type"] for e in await events(auth, type=["login_failed"])] == ["login_failed"]

    body = await auth.gql(CHANGE_EMAIL, {"password": PASSWORD, "email": " Ann@New.Example "}, token)
    assert "errors" not in body, body
    assert body["data"]["changeEmail"] == {"id": ann, "email": "ann@new.example"}
    assert (await auth.viewer(token)) == {"id": ann, "email": "ann@new.example"}
    # The old address logs in no more, the new one does; the other device was logged out.
    assert error_code(await auth.login("ann@example.com")) == "INVALID_CREDENTIALS"
    assert "errors" not in await auth.login("ANN@new.example")
    assert await auth.refused(other["accessToken"]) == "SESSION_REVOKED"
    changed = await events(auth, type=["email_changed"])
    assert [(e["userId"], e["detail"]) for e in changed] == [(ann, {"by": "user"})]
    assert "example" not in repr(changed)  # neither address is kept in the log


async def test_update_user_leaves_the_email_to_change_email_but_root_may_change_it(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    auth = Auth(
        await client_for(
            make_project(
                auth={"providers": {"local-userpass": {"signup": True}}}, permissions=OWN_ACCOUNT
            )
        )
    )
    pair, ann = await signed_up(auth)
    token = pair["accessToken"]

    body = await auth.gql(UPDATE_EMAIL, {"id": ann, "email": "ann@elsewhere.example"}, token)
    assert error_code(body) == "FORBIDDEN"
    assert "changeEmail(input: {password, newEmail})" in body["errors"][0]["message"]
    body = await auth.gql(UPDATE_EMAIL, {"id": ann, "email": None}, token)
    assert error_code(body) == "FORBIDDEN"  # removing it is a change too
    # A form that saves every field sends the address back unchanged, in any spelling.
    body = await auth.gql(UPDATE_EMAIL, {"id": ann, "email": "ANN@example.com"}, token)
    assert body["data"] == {"updateUser": {"email": "ann@example.com", "firstName": "Ann"}}
    assert await events(auth, type=["email_changed"]) == []

    root = bearer(await root_token(auth))
    body = await auth.client.gql(
        UPDATE_EMAIL, {"id": ann, "email": "Ann@Elsewhere.example"}, headers=root
    )
    assert body["data"] == {"updateUser": {"email": "ann@elsewhere.example", "firstName": "Ann"}}
    changed = await events(auth, type=["email_changed"])
    assert [(e["userId"], e["detail"]) for e in changed] == [(ann, {"by": "root"})]
    assert "errors" not in await auth.login("ann@elsewhere.example")


async def test_look_alike_addresses_are_refused_at_sign_up_unless_allowed(
    auth_for: Callable[..., Any],
) -> None:
    lookalike = "bob@ex\u0430mple.com"  # a Cyrillic a
    strict: Auth = await auth_for()
    body = await strict.gql(
        "mutation ($e: String!, $p: String!) { registerUserEmailPassword(input: "
        "{email: $e, password: $p}) { accessToken } }",
        {"e": lookalike, "p": PASSWORD},
    )
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "email"
    assert "look-alike" in body["errors"][0]["message"]
    # A project whose users write their addresses so opts in.
    allowing: Auth = await auth_for(emails={"allow_mixed_scripts": True})
    pair = await allowing.register(lookalike)
    assert (await allowing.viewer(pair["accessToken"]) or {})["email"] == lookalike


@pytest.mark.sqlite_only(reason="SQLite's writer; PostgreSQL also counts per-IP attempts")
async def test_a_login_reads_once_and_writes_three_rows_in_one_commit(auth: Auth) -> None:
    await auth.register("ann@example.com")
    await auth.service.auth.keys.settle()  # what the first token signed, recorded
    with statements() as seen:
        assert "errors" not in await auth.login("ann@example.com")
    # The account's failures, the password and the user's second factors are read by one
    # statement outside any transaction and outside the writer (the ~20 ms hash never holds
    # it), then the session, its refresh token and the audit event are written together in
    # one transaction.
    assert seen == [
        "SELECT",
        "BEGIN",
        "INSERT _bastion_session",
        "INSERT _bastion_refresh_token",
        "INSERT _bastion_audit",
        "COMMIT",
    ]


@pytest.mark.postgresql_only(reason="SQLite writes through its single writer (the test above)")
async def test_a_login_on_postgresql_is_two_statements_in_autocommit(
    auth_for: Callable[..., Any],
) -> None:
    # The per-IP throttle counts in the database on PostgreSQL: off, to see the login alone.
    auth = await auth_for(throttle={"enabled": False})
    await auth.register("ann@example.com")
    await auth.service.auth.keys.settle()
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        # The server's background reads (the deploy record's poll) may run meanwhile.
        if "_bastion_meta" not in statement and "_bastion_event" not in statement:
            seen.append(statement.split()[0])

    event.listen(Engine, "before_cursor_execute", executed)
    try:
        body = await auth.login("ann@example.com")
    finally:
        event.remove(Engine, "before_cursor_execute", executed)
    # The read, then the session, its refresh token and the audit event as one statement
    # (the first two as WITH parts of the third), both on connections in autocommit.
    assert seen == ["SELECT", "WITH"]
    pair = body["data"]["loginEmailPassword"]
    me = await auth.viewer(pair["accessToken"])
    newest = (await events(auth, type=["login"]))[0]
    assert me is not None and newest["userId"] == me["id"] and newest["sessionId"]
    assert "errors" not in await auth.refresh(pair["refreshToken"])


@pytest.mark.parametrize("enabled", [True, False])
async def test_a_password_login_of_a_passkey_holder_asks_for_it_when_passkeys_are_on(
    auth_for: Callable[..., Any], enabled: bool
) -> None:
    passkeys = {"enabled": True, "rp_id": "example.com", "origins": ["https://example.com"]}
    auth = await auth_for(**({"passkeys": passkeys} if enabled else {}))
    _, ann = await signed_up(auth)
    store = auth.service.store
    async with store.db.write() as conn:
        await conn.execute(
            store.tables.metadata.tables[PASSKEY_TABLE]
            .insert()
            .values(
                id="credential",
                user_id=ann,
                name="laptop",
                public_key=b"key",
                sign_count=0,
                transports="[]",
                created_at=datetime.now(UTC),
            )
        )
    body = await auth.login("ann@example.com")
    if not enabled:  # a passkey is no factor of a project without them
        assert "errors" not in body, body
        return
    assert error_code(body) == "MFA_REQUIRED", body
    assert body["errors"][0]["extensions"]["factors"] == ["webauthn"]
    wrong = await auth.login("ann@example.com", "not her password")
    assert error_code(wrong) == "INVALID_CREDENTIALS"


@pytest.mark.sqlite_only(reason="PostgreSQL counts the failure in a transaction of its own")
async def test_a_login_after_a_write_in_one_document_is_refused_before_it_is_checked(
    auth: Auth,
) -> None:
    # Were it checked, a wrong password's count would be written in the request's transaction
    # and undone by the failing field beside it: guesses would be free (SQLite's one writer).
    await auth.register("ann@example.com")
    token = (await auth.login_pair("ann@example.com"))["accessToken"]
    user = await auth.viewer(token)
    assert user is not None
    document = """mutation ($id: ID!) {
      updateUser(id: $id, data: {firstName: "x"}) { id }
      loginEmailPassword(input: {email: "ann@example.com", password: "wrong guess here"}) {
        accessToken
      }
    }"""
    for _ in range(3):
        body = await auth.gql(document, {"id": user["id"]}, token=token)
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert "BAD_REQUEST" in codes and "INVALID_CREDENTIALS" not in codes, body
    assert "errors" not in await auth.login("ann@example.com")
