"""The outbox: mails queued in the database with what they tell, sent by a background task.

A flow writes its token and its mail in one transaction (:meth:`Outbox.put`), then wakes the
sender (:meth:`Outbox.wake`) once it has committed; the request returns without waiting for
the relay. The sender (:meth:`Outbox.run`, started by ``bastion serve``) claims due mails one
by one, so several workers never send a mail twice, and on failure tries again after
``retry_delay`` seconds, doubling, up to ``attempts`` tries; then the mail is given up, its
bodies blanked, and the failure logged. A sent mail's row is deleted: its body may hold a
token, which must not outlive the need for it. A mail queued before a crash is sent after
the restart: nothing is lost between the commit and the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import BastionError, Code
from bastion.mail.settings import MailConfig
from bastion.mail.templates import MailTemplates, Rendered
from bastion.mail.transports import DeliveryFailed, Transport, build_message
from bastion.store.auth.mail_outbox import OutboxMail, OutboxRows
from bastion.store.database import Database
from bastion.tools.clock import Clock
from bastion.tools.tasks import cancel_and_wait

log = logging.getLogger("bastion.mail")

CLAIM_SECONDS = 300  # longer than any delivery's timeout: a crashed sender's claim lapses
BATCH = 20
POLL_SECONDS = 5.0  # mails queued by another worker are seen at most this late
STOP_GRACE_SECONDS = 10.0


Maker = Callable[[AsyncConnection, str, dict[str, Any]], Awaitable[None]]
"""Makes the mail of a request row (see :meth:`Outbox.put_request`), in the sender's
transaction: given the recipient and the request's data, it queues a mail with
:meth:`Outbox.put`, or nothing."""


class MailNotConfigured(BastionError):
    """A flow needs to send mail and the project has no way to."""

    code = Code.MAIL_NOT_CONFIGURED

    def __init__(self) -> None:
        super().__init__("Mail is not configured for this project: set mail.smtp in bastion.yml")


class Outbox:
    """The queue of one project, and its sender."""

    def __init__(
        self,
        config: MailConfig,
        db: Database,
        rows: OutboxRows,
        templates: MailTemplates,
        transport: Transport | None,
        clock: Clock,
    ) -> None:
        self.config = config
        self.templates = templates
        self._db = db
        self._rows = rows
        self._transport = transport
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._makers: dict[str, Maker] = {}

    @property
    def enabled(self) -> bool:
        """Whether mail can go out."""
        return self._transport is not None

    def require(self) -> None:
        """Refuse a flow that needs mail when none can go out (``MAIL_NOT_CONFIGURED``)."""
        if self._transport is None:
            raise MailNotConfigured()

    # -- queueing -----------------------------------------------------------------------------

    async def put(
        self, conn: AsyncConnection, purpose: str, recipient: str, mail: Rendered
    ) -> None:
        """Queue ``mail`` for ``recipient`` in the caller's transaction; :meth:`wake` after
        the commit."""
        self.require()
        queued = OutboxMail(purpose, recipient, mail.subject, mail.text, mail.html)
        await self._rows.add(conn, queued, self._clock())

    def maker(self, purpose: str, make: Maker) -> None:
        """Let ``make`` make the mails of the requests of ``purpose``."""
        self._makers[purpose] = make

    async def put_request(
        self, conn: AsyncConnection, purpose: str, recipient: str, data: dict[str, Any]
    ) -> None:
        """Queue a mail to be made by the sender (its maker for ``purpose`` decides whether
        there is one and what it says), in the caller's transaction; :meth:`wake` after.

        The row is the same whatever the maker will decide, so the request path does the same
        work whether or not the address has an account: the answer tells nothing, not even
        by its time.
        """
        self.require()
        assert purpose in self._makers, purpose
        request = OutboxMail(purpose, recipient, "", "", request=json.dumps(data))
        await self._rows.add(conn, request, self._clock())

    def wake(self) -> None:
        """Tell this process's sender that a mail was committed."""
        self._wake.set()

    async def pending(self) -> int:
        """How many mails wait to be sent."""
        async with self._db.read() as conn:
            return await self._rows.pending(conn)

    # -- sending ------------------------------------------------------------------------------

    async def send_now(self, recipient: str, mail: Rendered) -> None:
        """Deliver ``mail`` at once, bypassing the queue (``bastion email test``); raises
        :class:`DeliveryFailed` with the relay's reason."""
        self.require()
        assert self._transport is not None
        queued = OutboxMail("test", recipient, mail.subject, mail.text, mail.html)
        await self._transport.deliver(build_message(self.config.sender, queued))

    async def send_due(self) -> int:
        """Send every mail due now; how many went out."""
        if self._transport is None:
            return 0
        now = self._clock()
        async with self._db.read() as conn:
            ids = await self._rows.due(conn, now, BATCH)
        sent = 0
        for mail_id in ids:
            if self._stopping:
                break
            sent += await self._send_one(mail_id)
        return sent

    async def _send_one(self, mail_id: int) -> int:
        assert self._transport is not None
        now = self._clock()
        async with self._db.write() as conn:
            mail = await self._rows.claim(
                conn, mail_id, now, now + timedelta(seconds=CLAIM_SECONDS)
            )
        if mail is None:
            return 0  # another sender has it
        if mail.request is not None:
            return await self._make(mail)
        try:
            await self._transport.deliver(build_message(self.config.sender, mail))
        except DeliveryFailed as error:
            await self._failed(mail, str(error))
            return 0
        async with self._db.write() as conn:
            await self._rows.sent(conn, mail_id)
        log.info("mail %s (%s) sent", mail_id, mail.purpose)
        return 1

    async def _make(self, request: OutboxMail) -> int:
        """Replace a request row by the mail its maker makes (or by nothing), atomically."""
        assert request.id is not None and request.request is not None
        try:
            async with self._db.write() as conn:
                make = self._makers[request.purpose]
                await make(conn, request.recipient, json.loads(request.request))
                await self._rows.sent(conn, request.id)
        except Exception as error:  # a bug or a database hiccup: tried again like a relay's
            log.exception("making the %s mail %s failed", request.purpose, request.id)
            await self._failed(request, f"{type(error).__name__}: {error}"[:500])
            return 0
        self._wake.set()  # the mail just made is due now
        return 0

    async def _failed(self, mail: OutboxMail, reason: str) -> None:
        assert mail.id is not None
        attempts, now = mail.attempts + 1, self._clock()
        async with self._db.write() as conn:
            if attempts >= self.config.attempts:
                await self._rows.give_up(conn, mail.id, attempts, now, reason)
                log.error(
                    "mail %s (%s) given up after %s tries: %s",
                    mail.id,
                    mail.purpose,
                    attempts,
                    reason,
                )
                return
            delay = self.config.retry_delay * 2 ** min(attempts - 1, 16)
            await self._rows.retry(conn, mail.id, attempts, now + timedelta(seconds=delay), reason)
        log.warning(
            "mail %s (%s) not sent (try %s), again in %ss: %s",
            mail.id,
            mail.purpose,
            attempts,
            delay,
            reason,
        )

    async def run(self) -> None:
        """Send what is due, then wait for a wake-up or the poll interval; until stopped."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.send_due()
            except Exception:  # a database hiccup must not end the sender for good
                log.exception("the mail sender failed; trying again")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    def start(self) -> None:
        """Start the background sender (``bastion serve``); nothing when mail is off."""
        if self._transport is not None and self._task is None:
            self._task = asyncio.create_task(self.run(), name="bastion-mail-sender")

    async def stop(self) -> None:
        """Stop the background sender; unsent mails stay queued for the next start.

        The mail being sent is finished first (cancelling it inside a database transaction
        could leave the connection behind); one that takes longer than the grace is cut off,
        and is sent again after the restart, as its claim lapses.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECONDS)
        except TimeoutError:
            await cancel_and_wait(task)
