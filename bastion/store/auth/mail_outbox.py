"""The mail outbox rows: mails waiting to be sent, claimed by one sender at a time.

``bastion.mail.outbox`` decides when a mail is due, retried or given up; these are its
statements. A claim is one conditional UPDATE, so two workers (or two nodes) never send the
same row at once, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class OutboxMail:
    """One queued mail."""

    purpose: str
    recipient: str
    subject: str
    text_body: str
    html_body: str | None = None
    id: int | None = None  # set once stored
    attempts: int = 0
    request: str | None = None  # a mail still to be made (JSON), see the table's comment


class OutboxRows:
    """Reads and writes of the outbox table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def add(self, conn: AsyncConnection, mail: OutboxMail, at: datetime) -> None:
        """Queue ``mail``, due at once."""
        await conn.execute(
            insert(self._table).values(
                purpose=mail.purpose,
                recipient=mail.recipient,
                subject=mail.subject,
                text_body=mail.text_body,
                html_body=mail.html_body,
                request=mail.request,
                created_at=at,
                attempts=0,
                next_attempt_at=at,
            )
        )

    async def due(self, conn: AsyncConnection, now: datetime, limit: int) -> list[int]:
        """The ids of mails due now that no sender holds, oldest first."""
        table = self._table
        query = (
            select(table.c.id)
            .where(
                table.c.failed_at.is_(None),
                table.c.next_attempt_at <= now,
                or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
            )
            .order_by(table.c.id)
            .limit(limit)
        )
        return [int(i) for i in (await conn.execute(query)).scalars()]

    async def claim(
        self, conn: AsyncConnection, mail_id: int, now: datetime, until: datetime
    ) -> OutboxMail | None:
        """Take the mail until ``until``; None when another sender took it first."""
        table = self._table
        taken = await conn.execute(
            update(table)
            .where(
                table.c.id == mail_id,
                table.c.failed_at.is_(None),
                or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
            )
            .values(claimed_until=until)
        )
        if taken.rowcount != 1:
            return None
        row = (await conn.execute(select(table).where(table.c.id == mail_id))).one()
        return OutboxMail(
            row.purpose,
            row.recipient,
            row.subject,
            row.text_body,
            row.html_body,
            int(row.id),
            int(row.attempts),
            row.request,
        )

    async def sent(self, conn: AsyncConnection, mail_id: int) -> None:
        """Forget a sent mail (its body may hold a token)."""
        await conn.execute(delete(self._table).where(self._table.c.id == mail_id))

    async def retry(
        self, conn: AsyncConnection, mail_id: int, attempts: int, at: datetime, error: str
    ) -> None:
        """Note a failed attempt; the mail is due again at ``at``."""
        await conn.execute(
            update(self._table)
            .where(self._table.c.id == mail_id)
            .values(attempts=attempts, next_attempt_at=at, claimed_until=None, last_error=error)
        )

    async def give_up(
        self, conn: AsyncConnection, mail_id: int, attempts: int, at: datetime, error: str
    ) -> None:
        """Stop trying: keep the row for the operator, its bodies blanked."""
        await conn.execute(
            update(self._table)
            .where(self._table.c.id == mail_id)
            .values(
                attempts=attempts,
                failed_at=at,
                claimed_until=None,
                last_error=error,
                text_body="",
                html_body=None,
                request=None,
            )
        )

    async def pending(self, conn: AsyncConnection) -> int:
        """How many mails wait to be sent (failed ones not counted)."""
        table = self._table
        rows = await conn.execute(select(table.c.id).where(table.c.failed_at.is_(None)))
        return len(rows.all())
