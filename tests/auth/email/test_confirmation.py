"""Sign-up confirmation by mail: required, optional and off, resending, and the gate on the
password login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.auth.accounts import NewUser
from tests.auth.conftest import PASSWORD, REGISTER, Auth, error_code
from tests.auth.email.conftest import CONFIRM, RESEND
from tests.smtp_server import SmtpServer, link_of, text_of


async def confirm(app: Auth, link: dict[str, str]) -> dict[str, Any]:
    return await app.gql(CONFIRM, {"id": link["tokenId"], "token": link["token"]})


async def test_required_keeps_the_login_shut_until_the_link_is_followed(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "required"})
    body = await app.gql(REGISTER, {"email": "ann@example.com", "password": PASSWORD})
    assert error_code(body) == "EMAIL_NOT_CONFIRMED"
    assert "follow the link mailed to its address" in body["errors"][0]["message"]
    mail = await smtp.next()
    assert mail["Subject"] == "Confirm your address for test"
    assert "ann@example.com" in text_of(mail)
    link = link_of(mail)
    assert link["action"] == "confirm"
    assert error_code(await app.login("ann@example.com")) == "EMAIL_NOT_CONFIRMED"
    # A wrong password says nothing of the confirmation: the answer of any wrong password.
    assert error_code(await app.login("ann@example.com", "wrong password!")) == (
        "INVALID_CREDENTIALS"
    )
    assert await confirm(app, link) == {"data": {"confirmEmail": True}}
    assert "errors" not in await app.login("ann@example.com")
    assert error_code(await confirm(app, link)) == "INVALID_EMAIL_TOKEN"  # single use
    events = [e.type.value for e in await app.service.auth.audit.tail(20)]
    assert "email_confirmed" in events


async def test_a_resent_mail_retires_the_older_link(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "required"})
    await app.gql(REGISTER, {"email": "ann@example.com", "password": PASSWORD})
    first = link_of(await smtp.next())
    assert await app.gql(RESEND, {"email": "ANN@example.com"}) == {
        "data": {"resendConfirmationEmail": True}
    }
    second = link_of(await smtp.next())
    assert error_code(await confirm(app, first)) == "INVALID_EMAIL_TOKEN"
    assert await confirm(app, second) == {"data": {"confirmEmail": True}}
    # Confirmed, unknown or not: the same answer, and no mail.
    for email in ("ann@example.com", "nobody@example.com"):
        assert await app.gql(RESEND, {"email": email}) == {
            "data": {"resendConfirmationEmail": True}
        }
    assert smtp.nothing()


async def test_resending_is_capped_per_address(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "required", "mails_per_address_per_hour": 2})
    await app.gql(REGISTER, {"email": "ann@example.com", "password": PASSWORD})
    for _ in range(3):
        body = await app.gql(RESEND, {"email": "ann@example.com"})
        assert body == {"data": {"resendConfirmationEmail": True}}
    await smtp.next()
    await smtp.next()
    assert smtp.nothing()  # the registration's and one resend: two an hour


async def test_optional_logs_in_at_once_and_still_mails(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "optional"})
    pair = await app.register("ann@example.com")
    assert await app.viewer(pair["accessToken"]) is not None
    assert "errors" not in await app.login("ann@example.com")
    assert await confirm(app, link_of(await smtp.next())) == {"data": {"confirmEmail": True}}


async def test_off_sends_nothing(mail_app: Callable[..., Any], smtp: SmtpServer) -> None:
    app = await mail_app(userpass={"confirmation": "off"})
    await app.register("ann@example.com")
    assert await app.gql(RESEND, {"email": "ann@example.com"}) == {
        "data": {"resendConfirmationEmail": True}
    }
    assert smtp.nothing()


async def test_users_made_without_the_flow_are_not_locked_out(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    """Only an address awaiting confirmation is refused: users made before confirmations
    were on, or by `bastion users create`, log in."""
    app = await mail_app(userpass={"confirmation": "required"})
    accounts = app.service.auth.accounts
    digest = await accounts.hash_new_password(PASSWORD, "old@example.com")
    async with app.service.store.db.write() as conn:
        await accounts.create(conn, NewUser("old@example.com", PASSWORD), digest)
    assert "errors" not in await app.login("old@example.com")
    assert smtp.nothing()


async def test_a_refused_registration_queues_no_mail(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "required"})
    variables = {"email": "ann@example.com", "password": PASSWORD}
    assert error_code(await app.gql(REGISTER, variables)) == "EMAIL_NOT_CONFIRMED"
    assert error_code(await app.gql(REGISTER, variables)) == "CONFLICT"
    weak = await app.gql(REGISTER, {"email": "bo@example.com", "password": "short"})
    assert error_code(weak) == "BAD_USER_INPUT"
    await smtp.next()
    assert smtp.nothing()


async def test_names_with_line_breaks_cannot_add_headers_to_the_mail(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app(userpass={"confirmation": "optional"})
    hostile = "Eve\r\nBcc: all@example.com\r\nSubject: pwned"
    await app.register("eve@example.com", firstName=hostile, username=hostile)
    mail = await smtp.next()
    assert mail["Bcc"] is None and mail.get_all("Subject") == ["Confirm your address for test"]
    assert mail["To"] == "eve@example.com"
    assert smtp.handler.envelopes[-1][1] == ["eve@example.com"]
