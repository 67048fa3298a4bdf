"""The login failure rows: per account tried, how many failures, when, and any lock.

``bastion.auth.throttle`` decides what the counts mean (delays, locks, when failures are
forgotten); these are its statements, each on the caller's connection. The account is the
SHA-256 the throttle made of the name tried, never the name itself. Counts live in the
database so that every worker and every node sees the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class LoginFailures:
    """The failures counted against one account."""

    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


class LoginFailureRows:
    """Reads and writes of the login failure table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def get(
        self, conn: AsyncConnection, account: str, *, for_update: bool = False
    ) -> LoginFailures | None:
        """The account's failures, if any are stored.

        ``for_update`` locks the row until the transaction ends (on PostgreSQL; SQLite's
        write transaction holds the whole database already), so that a check and the count
        that follows it are one step.
        """
        table = self._table
        query = select(table).where(table.c.account == account)
        if for_update:
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        return LoginFailures(int(row.failures), row.last_failure_at, row.locked_until)

    async def add(self, conn: AsyncConnection, account: str, state: LoginFailures) -> None:
        """Store the first failures of an account; IntegrityError when a concurrent
        transaction stored them first."""
        await conn.execute(insert(self._table).values(account=account, **_values(state)))

    async def replace(self, conn: AsyncConnection, account: str, state: LoginFailures) -> None:
        """Replace the account's stored failures."""
        table = self._table
        await conn.execute(update(table).where(table.c.account == account).values(**_values(state)))

    async def forget(self, conn: AsyncConnection, account: str) -> None:
        """Remove the account's failures."""
        await conn.execute(delete(self._table).where(self._table.c.account == account))


def _values(state: LoginFailures) -> dict[str, object]:
    return {
        "failures": state.failures,
        "last_failure_at": state.last_failure_at,
        "locked_until": state.locked_until,
    }


async def prune_forgotten(
    conn: AsyncConnection,
    failures: Table,
    now: datetime,
    last_before: datetime,
    *,
    dry_run: bool = False,
) -> int:
    """Delete the accounts' failure counts that no longer count: the last failure before
    ``last_before`` (the throttle forgets them then) and no lock running at ``now``."""
    condition = and_(
        failures.c.last_failure_at < last_before,
        or_(failures.c.locked_until.is_(None), failures.c.locked_until < now),
    )
    if dry_run:
        found = await conn.scalar(select(func.count()).select_from(failures).where(condition))
        return int(found or 0)
    result = await conn.execute(delete(failures).where(condition))
    return int(result.rowcount)
