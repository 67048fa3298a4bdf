"""Where a built mail goes: an SMTP relay (aiosmtplib), or a file in development.

A transport only delivers: retries and the queue are the outbox's. A delivery that fails
raises :class:`DeliveryFailed` with a short reason that holds no part of the mail.
"""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from bastion.errors import ProjectError
from bastion.mail.settings import MailConfig, SmtpConfig
from bastion.store.auth.mail_outbox import OutboxMail
from bastion.tools.private_files import create_private_file


class DeliveryFailed(Exception):
    """The relay refused the mail or could not be reached; ``str()`` is the reason."""


class Transport(Protocol):
    """Something that delivers one message."""

    async def deliver(self, message: EmailMessage) -> None:
        """Deliver ``message``, or raise :class:`DeliveryFailed`."""


def build_message(sender: str, mail: OutboxMail) -> EmailMessage:
    """The MIME message of a queued mail: text, with its HTML as the alternative.

    ``EmailMessage`` refuses line breaks in header values, and the recipient is an address in
    its normal form, so no header can be smuggled in.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(mail.text_body)
    if mail.html_body:
        message.add_alternative(mail.html_body, subtype="html")
    return message


class SmtpTransport:
    """An SMTP relay, one connection per message (mail is rare; no pool to keep alive)."""

    def __init__(self, config: SmtpConfig, password: str | None) -> None:
        self._config = config
        self._password = password

    async def deliver(self, message: EmailMessage) -> None:
        """Send ``message`` through the relay."""
        config = self._config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.user,
                password=self._password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                timeout=config.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}"[:500]) from None


class FileTransport:
    """Development: every message appended to one private file, as the relay would get it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def deliver(self, message: EmailMessage) -> None:
        """Append ``message`` to the file, after a separator line."""
        text = message.as_string()
        async with self._lock:
            await asyncio.to_thread(self._append, text)

    def _append(self, text: str) -> None:
        create_private_file(self.path)  # mails hold tokens: 0600, whatever the umask
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"From bastion {formatdate(usegmt=True)}\n{text}\n\n")


def transport_for(config: MailConfig, root: Path, mode: str) -> Transport | None:
    """The transport ``config`` names (None: mail is off); a ProjectError if it cannot work."""
    if config.smtp is not None:
        password = None
        if config.smtp.password_env is not None:
            password = os.environ.get(config.smtp.password_env)
            if not password:
                raise ProjectError(
                    [f"mail.smtp.password_env: the variable {config.smtp.password_env} is not set"]
                )
        return SmtpTransport(config.smtp, password)
    if config.log_file is not None:
        if mode != "development":
            raise ProjectError(["mail.log_file: only in development mode; configure mail.smtp"])
        return FileTransport(root / config.log_file)
    return None
