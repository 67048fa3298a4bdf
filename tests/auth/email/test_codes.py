"""Login by emailed code or link: one token in two forms, a small attempt budget, the
throttle, sign-up on first login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, error_code
from tests.auth.email.conftest import LOGIN_CODE, SEND_CODE
from tests.smtp_server import SmtpServer, code_of, link_of, text_of

CODES = {"enabled": True, "signup": True}


async def ask_code(app: Auth, email: str) -> dict[str, Any]:
    return await app.gql(SEND_CODE, {"email": email})


async def with_code(app: Auth, email: str, code: str) -> dict[str, Any]:
    return await app.gql(LOGIN_CODE, {"email": email, "code": code})


async def test_the_first_login_by_code_makes_the_user(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code=CODES)
    assert await ask_code(app, "Zoe@Example.com") == {"data": {"sendLoginCode": True}}
    mail = await smtp.next()
    assert mail["To"] == "zoe@example.com"
    code = code_of(mail)
    assert len(code) == 6 and code in mail["Subject"]
    assert "The code works once, for 10 minutes" in text_of(mail)
    body = await with_code(app, "zoe@example.com", code)
    assert "errors" not in body, body
    me = await app.viewer(body["data"]["loginEmailCode"]["accessToken"])
    assert me is not None and me["email"] == "zoe@example.com"
    # Once only, in either form.
    assert error_code(await with_code(app, "zoe@example.com", code)) == "INVALID_EMAIL_TOKEN"
    link = link_of(mail)
    used = await app.gql(LOGIN_CODE, {"id": link["tokenId"], "token": link["token"]})
    assert error_code(used) == "INVALID_EMAIL_TOKEN"


async def test_the_link_of_the_mail_logs_in_the_existing_user(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code={"enabled": True})
    pair = await app.register("ann@example.com")
    me = await app.viewer(pair["accessToken"])
    await ask_code(app, "ann@example.com")
    link = link_of(await smtp.next())
    assert link["action"] == "login"
    body = await app.gql(LOGIN_CODE, {"id": link["tokenId"], "token": link["token"]})
    assert await app.viewer(body["data"]["loginEmailCode"]["accessToken"]) == me


async def test_without_signup_an_unknown_address_gets_the_same_answer_and_no_mail(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code={"enabled": True})
    assert await ask_code(app, "nobody@example.com") == {"data": {"sendLoginCode": True}}
    assert smtp.nothing()
    body = await with_code(app, "nobody@example.com", "123456")
    assert error_code(body) == "INVALID_EMAIL_TOKEN"


async def test_wrong_codes_spend_the_budget_then_the_token_is_dead(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code={**CODES, "code_attempts": 3})
    await ask_code(app, "zoe@example.com")
    code = code_of(await smtp.next())
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    for _ in range(3):
        assert error_code(await with_code(app, "zoe@example.com", wrong)) == ("INVALID_EMAIL_TOKEN")
    # The fourth try is over the budget: even the right code is refused now.
    assert error_code(await with_code(app, "zoe@example.com", code)) == "INVALID_EMAIL_TOKEN"
    events = [e.type.value for e in await app.service.auth.audit.tail(30)]
    assert "email_token_refused" in events


async def test_wrong_codes_count_in_the_account_throttle(
    mail_app: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    """Each mail has a small budget, and new mails do not reset the account's failures: from
    the throttle's delay_after failures, attempts must wait."""
    app = await mail_app(email_code={**CODES, "code_attempts": 10})
    await ask_code(app, "zoe@example.com")
    code = code_of(await smtp.next())
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    answers = [error_code(await with_code(app, "zoe@example.com", wrong)) for _ in range(6)]
    assert answers[:5] == ["INVALID_EMAIL_TOKEN"] * 5
    assert answers[5] == "RATE_LIMITED"


async def test_an_expired_code_is_refused(
    mail_app: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    app = await mail_app(email_code=CODES)
    await ask_code(app, "zoe@example.com")
    code = code_of(await smtp.next())
    clock.advance(10 * 60 + 1)
    assert error_code(await with_code(app, "zoe@example.com", code)) == "INVALID_EMAIL_TOKEN"


async def test_malformed_input_is_refused_with_clear_codes(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(email_code=CODES)
    assert error_code(await ask_code(app, "zoe@example.com\r\nBcc: all@example.com")) == (
        "BAD_USER_INPUT"
    )
    assert error_code(await ask_code(app, "x" * 100_000)) == "BAD_USER_INPUT"
    assert error_code(await app.gql(LOGIN_CODE, {"email": "zoe@example.com"})) == ("BAD_USER_INPUT")
    assert error_code(await with_code(app, "zoe@example.com", "12 34 56")) == (
        "INVALID_EMAIL_TOKEN"
    )
    assert smtp.nothing()


async def test_the_provider_off_says_so(mail_app: Callable[..., Any], smtp: SmtpServer) -> None:
    app = await mail_app()
    assert error_code(await ask_code(app, "zoe@example.com")) == "FORBIDDEN"
