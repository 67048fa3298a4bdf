"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, in a thread of its own.

Each accepted message is parsed and put on a queue the test reads (:meth:`SmtpServer.next`),
waiting for it rather than sleeping. ``refuse`` makes the next messages answer a temporary
failure (451), as a relay under load does.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import queue
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import free_port

WAIT = 15.0  # seconds: the backstop of a wait for a mail, never a pause


class _Handler:
    def __init__(self) -> None:
        self.received: queue.Queue[EmailMessage] = queue.Queue()
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.put(message)
        return "250 OK"


class SmtpServer:
    """The running server and what it received."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = _Handler()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        if self._controller.loop.is_running():
            self._controller.stop()

    @property
    def settings(self) -> dict[str, Any]:
        """The ``mail:`` section of a project sending here."""
        return {
            "sender": "Bastion Test <no-reply@example.com>",
            "smtp": {"host": "127.0.0.1", "port": self.port, "security": "none", "timeout": 5},
            "link_url": "https://app.example.com/auth",
        }

    def refuse(self, count: int) -> None:
        """Answer 451 to the next ``count`` messages."""
        self.handler.refuse = count

    def next_blocking(self, timeout: float = WAIT) -> EmailMessage:
        """The next message received, waiting for it up to ``timeout`` seconds (for tests
        whose server runs in another process)."""
        try:
            return self.handler.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no mail arrived in {timeout}s") from None

    async def next(self) -> EmailMessage:
        """:meth:`next_blocking` in a thread: the app's sender runs on this event loop."""
        return await asyncio.to_thread(self.next_blocking)

    def nothing(self) -> bool:
        """True when no message is waiting."""
        return self.handler.received.empty()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    """The HTML part of ``message``."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, message
    return str(part.get_content()).replace("\r\n", "\n")


def link_of(message: EmailMessage) -> dict[str, str]:
    """The query of the link in ``message`` (``action``, ``tokenId``, ``token``)."""
    found = re.search(r"https://app\.example\.com/auth\?\S+", text_of(message))
    assert found is not None, text_of(message)
    return {key: values[0] for key, values in parse_qs(urlsplit(found[0]).query).items()}


def code_of(message: EmailMessage) -> str:
    """The login code in ``message``."""
    found = re.search(r"^\s+(\d{6,10})$", text_of(message), re.MULTILINE)
    assert found is not None, text_of(message)
    return found[1]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1, stopped at teardown."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
