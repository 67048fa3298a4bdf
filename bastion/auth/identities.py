"""Identities: the ways a user logs in, beside the password row.

An anonymous login, a custom-token subject and a server API key each make an identity row
(provider, subject) that points at one user. Linking adds another identity to the caller's
user. The email/password identity is the password row itself, so it is listed from there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.ids import new_id
from bastion.tools.clock import Clock

ANONYMOUS = "anon-user"
PASSWORD = "local-userpass"  # noqa: S105 - a provider name
API_KEY = "api-key"
CUSTOM_TOKEN = "custom-token"  # noqa: S105 - a provider name
PROVIDERS = (PASSWORD, ANONYMOUS, API_KEY, CUSTOM_TOKEN)


@dataclass(frozen=True)
class Identity:
    """One way of logging in as a user."""

    id: str
    provider: str
    subject: str
    created_at: datetime
    data: dict[str, Any] | None = None


class Identities:
    """The identity rows, and the password rows read as identities."""

    def __init__(self, table: Table, passwords: Table, clock: Clock) -> None:
        self._table = table
        self.table = table
        self._passwords = passwords
        self._clock = clock

    async def owner(self, conn: AsyncConnection, provider: str, subject: str) -> str | None:
        """The user holding the identity, if anyone does."""
        table = self._table
        found = await conn.execute(
            select(table.c.user_id).where(table.c.provider == provider, table.c.subject == subject)
        )
        return found.scalar_one_or_none()

    async def add(
        self,
        conn: AsyncConnection,
        user_id: str,
        provider: str,
        subject: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Give the user a new identity (the caller made sure nobody holds it)."""
        await conn.execute(
            self._table.insert().values(
                id=new_id(),
                user_id=user_id,
                provider=provider,
                subject=subject,
                created_at=self._clock(),
                data=json.dumps(data) if data is not None else None,
            )
        )

    async def set_data(
        self, conn: AsyncConnection, provider: str, subject: str, data: dict[str, Any] | None
    ) -> None:
        """Keep the provider's latest word on the user (a custom token's `user_data`)."""
        table = self._table
        await conn.execute(
            update(table)
            .where(table.c.provider == provider, table.c.subject == subject)
            .values(data=json.dumps(data) if data is not None else None)
        )

    async def of(self, conn: AsyncConnection, user_id: str) -> list[Identity]:
        """Every identity of the user, the email/password one first."""
        found: list[Identity] = []
        password = (
            await conn.execute(
                select(self._passwords.c.updated_at).where(self._passwords.c.user_id == user_id)
            )
        ).first()
        if password is not None:
            found.append(Identity(user_id, PASSWORD, user_id, password.updated_at))
        rows = await conn.execute(
            select(self._table).where(self._table.c.user_id == user_id).order_by(self._table.c.id)
        )
        found += [
            Identity(
                r.id, r.provider, r.subject, r.created_at, json.loads(r.data) if r.data else None
            )
            for r in rows
        ]
        return found

    async def has_password(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user can log in with email/password."""
        query = select(exists().where(self._passwords.c.user_id == user_id))
        return bool((await conn.execute(query)).scalar())
