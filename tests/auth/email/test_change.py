"""Changing the address by mail: confirmed at the new address, told to the old one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.auth.conftest import PASSWORD, error_code
from tests.auth.email.conftest import CONFIRM_CHANGE, REQUEST_CHANGE
from tests.smtp_server import SmtpServer, link_of, text_of


async def test_the_new_address_confirms_and_the_old_one_is_told(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    pair = await app.register("ann@example.com")
    token = pair["accessToken"]
    body = await app.gql(REQUEST_CHANGE, {"password": PASSWORD, "email": "Ann@New.example"}, token)
    assert body == {"data": {"requestEmailChange": True}}
    mail = await smtp.next()
    assert mail["To"] == "ann@new.example"
    assert mail["Subject"] == "Confirm your new address for test"
    link = link_of(mail)
    assert link["action"] == "email_change"
    assert (await app.viewer(token))["email"] == "ann@example.com"  # nothing changed yet
    done = await app.gql(CONFIRM_CHANGE, {"id": link["tokenId"], "token": link["token"]})
    assert done == {"data": {"confirmEmailChange": True}}
    notice = await smtp.next()
    assert notice["To"] == "ann@example.com"
    assert "is now ann@new.example" in text_of(notice)
    assert (await app.viewer(token))["email"] == "ann@new.example"
    assert "errors" not in await app.login("ann@new.example")
    assert error_code(await app.login("ann@example.com")) == "INVALID_CREDENTIALS"
    again = await app.gql(CONFIRM_CHANGE, {"id": link["tokenId"], "token": link["token"]})
    assert error_code(again) == "INVALID_EMAIL_TOKEN"


async def test_a_wrong_password_or_a_taken_address_changes_nothing(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    token = (await app.register("ann@example.com"))["accessToken"]
    await app.register("bo@example.com")
    wrong = await app.gql(
        REQUEST_CHANGE, {"password": "not the one!", "email": "a@b.example"}, token
    )
    assert error_code(wrong) == "INVALID_CREDENTIALS"
    taken = await app.gql(REQUEST_CHANGE, {"password": PASSWORD, "email": "BO@example.com"}, token)
    assert error_code(taken) == "CONFLICT"
    bad = await app.gql(REQUEST_CHANGE, {"password": PASSWORD, "email": "a\r\nBcc: x@y.z"}, token)
    assert error_code(bad) == "BAD_USER_INPUT"
    anonymous = await app.gql(REQUEST_CHANGE, {"password": PASSWORD, "email": "a@b.example"})
    assert error_code(anonymous) == "UNAUTHENTICATED"
    assert smtp.nothing()


async def test_an_address_taken_after_the_mail_is_a_conflict_at_confirmation(
    mail_app: Callable[..., Any], smtp: SmtpServer
) -> None:
    app = await mail_app()
    token = (await app.register("ann@example.com"))["accessToken"]
    await app.gql(REQUEST_CHANGE, {"password": PASSWORD, "email": "new@example.com"}, token)
    link = link_of(await smtp.next())
    await app.register("new@example.com")  # someone else signs up with it meanwhile
    taken = await app.gql(CONFIRM_CHANGE, {"id": link["tokenId"], "token": link["token"]})
    assert error_code(taken) == "CONFLICT"
    assert (await app.viewer(token))["email"] == "ann@example.com"
    assert smtp.nothing()
