"""Password reset by mail, through the GraphQL fields, with the mail read from a real SMTP
server: the link's token sets the new password and ends every session."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bastion.store.auth.tables import EMAIL_TOKEN_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, error_code
from tests.auth.email.conftest import CONFIRM, RESET, SEND_RESET
from tests.smtp_server import SmtpServer, link_of, text_of

NEW = "a brand new passphrase"


async def ask_reset(app: Auth, email: str) -> dict[str, Any]:
    return await app.gql(SEND_RESET, {"email": email})


async def test_reset_by_the_mailed_link_sets_the_password_and_ends_every_session(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    pair = await app.register("ann@example.com")
    other = await app.login_pair("ann@example.com")
    assert await ask_reset(app, "Ann@Example.com") == {"data": {"sendPasswordResetEmail": True}}
    mail = await smtp.next()
    assert mail["To"] == "ann@example.com"
    assert mail["Subject"] == "Reset your password for test"
    link = link_of(mail)
    assert link["action"] == "reset"
    body = await app.gql(RESET, {"id": link["tokenId"], "token": link["token"], "password": NEW})
    assert body == {"data": {"resetPassword": True}}
    assert error_code(await app.login("ann@example.com")) == "INVALID_CREDENTIALS"
    assert "errors" not in await app.login("ann@example.com", NEW)
    for old in (pair, other):
        assert await app.refused(old["accessToken"]) is not None
        assert "errors" in await app.refresh(old["refreshToken"])
    events = [e.type.value for e in await app.service.auth.audit.tail(20)]
    assert "password_reset" in events and "email_sent" in events
    # Used once: the same link again is refused, and changes nothing.
    again = await app.gql(
        RESET, {"id": link["tokenId"], "token": link["token"], "password": "x" * 20}
    )
    assert error_code(again) == "INVALID_EMAIL_TOKEN"
    assert "errors" not in await app.login("ann@example.com", NEW)


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    await app.register("ann@example.com")
    unknown = await ask_reset(app, "nobody@example.com")
    known = await ask_reset(app, "ann@example.com")
    assert unknown == known == {"data": {"sendPasswordResetEmail": True}}
    assert (await smtp.next())["To"] == "ann@example.com"
    assert smtp.nothing()


async def test_asking_takes_as_long_for_an_unknown_address(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    """The answer's time tells nothing either: the mail goes out later, from the outbox.
    Medians of interleaved rounds; a generous bound (the machine is shared)."""
    app = await mail_app(userpass={"mails_per_address_per_hour": 100})
    await app.register("ann@example.com")
    times: dict[str, list[float]] = {"ann@example.com": [], "nobody@example.com": []}
    for _ in range(15):
        for email in times:
            start = time.perf_counter()
            await ask_reset(app, email)
            times[email].append(time.perf_counter() - start)
    known, unknown = (sorted(t)[len(t) // 2] for t in times.values())
    assert abs(known - unknown) < max(known, unknown) * 0.5 + 0.005, (known, unknown)


async def test_bad_tokens_are_refused_with_one_code_and_change_nothing(
    mail_app: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    app = await mail_app(userpass={"confirmation": "optional"})
    await app.register("ann@example.com")
    confirm_link = link_of(await smtp.next())
    await ask_reset(app, "ann@example.com")
    link = link_of(await smtp.next())
    # A wrong secret: the last character changed (to "B" when it was "A": then "A" is right).
    wrong = link["token"][:-1] + ("B" if link["token"].endswith("A") else "A")
    tries = [
        {"id": link["tokenId"], "token": wrong},
        {"id": "0" * 24, "token": link["token"]},  # an unknown id
        {"id": confirm_link["tokenId"], "token": confirm_link["token"]},  # another purpose
        {"id": link["tokenId"], "token": "x" * 10_000},  # huge
        {"id": "not an id", "token": "\r\nBcc: evil@example.com"},  # malformed
    ]
    for variables in tries:
        body = await app.gql(RESET, {**variables, "password": NEW})
        assert error_code(body) == "INVALID_EMAIL_TOKEN", variables
    # A weak password is refused before the token is spent: the link still works after.
    weak = await app.gql(RESET, {"id": link["tokenId"], "token": link["token"], "password": "x"})
    assert error_code(weak) == "BAD_USER_INPUT"  # too short
    assert "errors" not in await app.login("ann@example.com")
    # Expired: the token's lifetime (30 minutes by default) is over.
    clock.advance(30 * 60 + 1)
    late = await app.gql(RESET, {"id": link["tokenId"], "token": link["token"], "password": NEW})
    assert error_code(late) == "INVALID_EMAIL_TOKEN"
    assert "errors" not in await app.login("ann@example.com")
    # The confirmation token was not spent by being tried as a reset.
    body = await app.gql(CONFIRM, {"id": confirm_link["tokenId"], "token": confirm_link["token"]})
    assert body == {"data": {"confirmEmail": True}}


async def test_only_hashes_of_tokens_are_stored(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    await app.register("ann@example.com")
    await ask_reset(app, "ann@example.com")
    link = link_of(await smtp.next())
    table = app.service.store.tables.metadata.tables[EMAIL_TOKEN_TABLE]
    async with app.service.store.db.read() as conn:
        row = (await conn.execute(select(table))).one()
    assert link["token"] not in str(tuple(row))
    assert row.purpose == "reset" and row.email == "ann@example.com"


async def test_a_malformed_or_huge_address_is_bad_input(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    for email in ("not-an-address", "a" * 5000 + "@example.com", "ann@example.com\r\nBcc: x@y.z"):
        assert error_code(await ask_reset(app, email)) == "BAD_USER_INPUT", email
    assert smtp.nothing()


async def test_the_mail_speaks_the_language_the_client_asks_for(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    await app.register("ann@example.com")
    response = await app.client.http.post(
        "/graphql",
        json={"query": SEND_RESET, "variables": {"email": "ann@example.com"}},
        headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"},
    )
    assert response.json() == {"data": {"sendPasswordResetEmail": True}}
    mail = await smtp.next()
    assert mail["Subject"] == "Réinitialisez votre mot de passe pour test"
    assert "mot de passe" in text_of(mail)


async def test_without_mail_settings_the_flow_says_so(
    auth_for: Callable[..., Any],
) -> None:
    app = await auth_for()
    body = await app.gql(SEND_RESET, {"email": "ann@example.com"})
    assert error_code(body) == "MAIL_NOT_CONFIGURED"
