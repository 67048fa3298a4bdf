"""Identities: the ways a user logs in, beside the password row.

An anonymous login, a custom-token subject and a server API key each make an identity row
(provider, subject) that points at one user. Linking adds another identity to the caller's
user. The email/password identity is the password row itself, so it is listed from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.store.auth.users import IdentityRow, IdentityRows, PasswordRows
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
        self._rows = IdentityRows(table)
        self._password_rows = PasswordRows(passwords)
        self._clock = clock

    async def owner(self, conn: AsyncConnection, provider: str, subject: str) -> str | None:
        """The user holding the identity, if anyone does."""
        return await self._rows.owner(conn, provider, subject)

    async def holders(self, conn: AsyncConnection, provider: str) -> list[str]:
        """The users holding an identity of ``provider``, oldest identity first."""
        return await self._rows.holders(conn, provider)

    async def add(
        self,
        conn: AsyncConnection,
        user_id: str,
        provider: str,
        subject: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Give the user a new identity (the caller made sure nobody holds it)."""
        row = IdentityRow(new_id(), user_id, provider, subject, self._clock(), data)
        await self._rows.add(conn, row)

    async def set_data(
        self, conn: AsyncConnection, provider: str, subject: str, data: dict[str, Any] | None
    ) -> None:
        """Keep the provider's latest word on the user (a custom token's `user_data`)."""
        await self._rows.set_data(conn, provider, subject, data)

    async def of(self, conn: AsyncConnection, user_id: str) -> list[Identity]:
        """Every identity of the user, the email/password one first."""
        found: list[Identity] = []
        password_set = await self._password_rows.changed_at(conn, user_id)
        if password_set is not None:
            found.append(Identity(user_id, PASSWORD, user_id, password_set))
        found += [
            Identity(r.id, r.provider, r.subject, r.created_at, r.data)
            for r in await self._rows.of(conn, user_id)
        ]
        return found

    async def has_password(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user can log in with email/password."""
        return await self._password_rows.held_by(conn, user_id)
