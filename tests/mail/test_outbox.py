"""The outbox: mails queued in a transaction, delivered to a real SMTP server, retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bastion.errors import Code
from bastion.mail.outbox import MailNotConfigured, Outbox
from bastion.mail.templates import Rendered
from bastion.project import Project
from bastion.project.service import Service
from bastion.store.auth.tables import MAIL_OUTBOX_TABLE
from bastion.tools.clock import FrozenClock
from tests.smtp_server import SmtpServer, html_of, text_of

MAIL = Rendered("en", "Hello there", "Plain words\n", "<p>Rich words</p>")


@pytest.fixture
async def service_for(
    make_project: Callable[..., Project], clock: FrozenClock
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Service] = []

    async def start(**mail: Any) -> Service:
        service = Service(make_project(mail=mail), clock)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.stop()


async def queue(service: Service, mail: Rendered = MAIL, to: str = "ann@example.com") -> None:
    outbox = service.auth.email.outbox
    async with service.store.db.write() as conn:
        await outbox.put(conn, "test", to, mail)


async def rows(service: Service) -> list[Any]:
    table = service.store.tables.metadata.tables[MAIL_OUTBOX_TABLE]
    async with service.store.db.read() as conn:
        return list((await conn.execute(select(table))).all())


async def test_a_queued_mail_reaches_the_smtp_server_and_leaves_the_outbox(
    service_for: Callable[..., Any], smtp: SmtpServer
) -> None:
    service = await service_for(**smtp.settings)
    await queue(service)
    assert await service.auth.email.outbox.pending() == 1
    assert await service.auth.email.outbox.send_due() == 1
    message = await smtp.next()
    assert message["To"] == "ann@example.com"
    assert message["From"] == "Bastion Test <no-reply@example.com>"
    assert message["Subject"] == "Hello there"
    assert message["Auto-Submitted"] == "auto-generated"
    assert text_of(message) == "Plain words\n"
    assert "<p>Rich words</p>" in html_of(message)
    assert await rows(service) == []  # the body (a token, in real mails) is gone


async def test_a_refused_mail_is_tried_again_later_then_delivered(
    service_for: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    service = await service_for(**smtp.settings, retry_delay=30)
    outbox: Outbox = service.auth.email.outbox
    smtp.refuse(2)
    await queue(service)
    assert await outbox.send_due() == 0
    [row] = await rows(service)
    assert row.attempts == 1 and "451" in row.last_error
    assert await outbox.send_due() == 0  # not due before its delay
    clock.advance(30)
    assert await outbox.send_due() == 0  # refused again: now 60 s
    clock.advance(59)
    assert await outbox.send_due() == 0
    clock.advance(1)
    assert await outbox.send_due() == 1
    assert (await smtp.next())["Subject"] == "Hello there"


async def test_a_mail_is_given_up_after_its_attempts_its_body_blanked(
    service_for: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    service = await service_for(**smtp.settings, attempts=2, retry_delay=1)
    outbox: Outbox = service.auth.email.outbox
    smtp.refuse(5)
    await queue(service)
    await outbox.send_due()
    clock.advance(1)
    await outbox.send_due()
    [row] = await rows(service)
    assert row.failed_at is not None and row.attempts == 2
    assert row.text_body == "" and row.html_body is None
    clock.advance(3600)
    assert await outbox.send_due() == 0
    assert await outbox.pending() == 0
    assert smtp.nothing()


async def test_an_unreachable_relay_is_a_failed_attempt_not_a_crash(
    service_for: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    smtp.stop()
    service = await service_for(**smtp.settings)
    await queue(service)
    assert await service.auth.email.outbox.send_due() == 0
    [row] = await rows(service)
    assert row.attempts == 1 and row.failed_at is None
    back = SmtpServer(smtp.port)  # the relay is back: the next try goes through
    back.start()
    try:
        clock.advance(30)
        assert await service.auth.email.outbox.send_due() == 1
        assert (await back.next())["To"] == "ann@example.com"
    finally:
        back.stop()


async def test_two_senders_never_send_one_mail_twice(
    service_for: Callable[..., Any], smtp: SmtpServer
) -> None:
    service = await service_for(**smtp.settings)
    for n in range(3):
        await queue(service, to=f"u{n}@example.com")
    outbox = service.auth.email.outbox
    sent = await asyncio.gather(outbox.send_due(), outbox.send_due())
    assert sum(sent) == 3
    assert sorted([(await smtp.next())["To"] for _ in range(3)]) == [
        "u0@example.com",
        "u1@example.com",
        "u2@example.com",
    ]
    assert smtp.nothing()


async def test_without_mail_settings_queuing_is_refused_with_a_stable_code(
    service_for: Callable[..., Any],
) -> None:
    service = await service_for()
    with pytest.raises(MailNotConfigured) as refused:
        await queue(service)
    assert refused.value.code is Code.MAIL_NOT_CONFIGURED
    assert "mail.smtp" in refused.value.message


async def test_a_request_row_is_replaced_by_the_mail_its_maker_makes(
    service_for: Callable[..., Any], smtp: SmtpServer
) -> None:
    service = await service_for(**smtp.settings)
    outbox = service.auth.email.outbox
    calls: list[tuple[str, dict[str, Any]]] = []

    async def make(conn: Any, recipient: str, data: dict[str, Any]) -> None:
        calls.append((recipient, data))
        if data["send"]:
            await outbox.put(conn, "made", recipient, MAIL)

    outbox.maker("test_request", make)
    async with service.store.db.write() as conn:
        await outbox.put_request(conn, "test_request", "ann@example.com", {"send": True})
        await outbox.put_request(conn, "test_request", "bo@example.com", {"send": False})
    assert await outbox.send_due() == 0  # the requests become a mail, and nothing
    assert calls == [("ann@example.com", {"send": True}), ("bo@example.com", {"send": False})]
    assert await outbox.send_due() == 1
    assert (await smtp.next())["To"] == "ann@example.com"
    assert await rows(service) == [] and smtp.nothing()


async def test_a_maker_that_fails_is_tried_again_like_a_relay(
    service_for: Callable[..., Any], smtp: SmtpServer, clock: FrozenClock
) -> None:
    service = await service_for(**smtp.settings, retry_delay=10)
    outbox = service.auth.email.outbox
    failures = [RuntimeError("database hiccup")]

    async def make(conn: Any, recipient: str, data: dict[str, Any]) -> None:
        if failures:
            raise failures.pop()
        await outbox.put(conn, "made", recipient, MAIL)

    outbox.maker("test_request", make)
    async with service.store.db.write() as conn:
        await outbox.put_request(conn, "test_request", "ann@example.com", {})
    await outbox.send_due()
    [row] = await rows(service)
    assert row.attempts == 1 and "database hiccup" in row.last_error
    clock.advance(10)
    await outbox.send_due()
    assert await outbox.send_due() == 1
    assert (await smtp.next())["To"] == "ann@example.com"
