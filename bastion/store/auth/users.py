"""The rows behind an account: the user's row as authentication reads it, its password row and
its identity rows (the other ways in).

``bastion.auth.accounts`` and ``bastion.auth.identities`` decide what these rows mean (what
makes a login valid, which identities a user shows); the statements are here. Every function
runs on the caller's connection, inside the transaction the caller opened. Emails come in the
normal form the column holds: the caller normalises them (and drops text the database cannot
encode) before asking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class PasswordLogin:
    """What a password login needs of a user: who, whether active, the stored hash."""

    user_id: str
    is_active: bool
    hash: str


@dataclass(frozen=True)
class IdentityRow:
    """One identity row, its provider's data decoded."""

    id: str
    user_id: str
    provider: str
    subject: str
    created_at: datetime
    data: dict[str, Any] | None


def _encoded(data: dict[str, Any] | None) -> str | None:
    return json.dumps(data) if data is not None else None


class UserRows:
    """The columns of the User rows that authentication reads and sets.

    Creating, updating and deleting users as nodes goes through the store's Writer, so the
    model's rules (defaults, relations, ``onDelete``) apply; these are the reads a login needs
    (with the password row beside the user) and the activation switch.
    """

    def __init__(self, users: Table, passwords: Table) -> None:
        self._users = users
        self._passwords = passwords  # joined by the password login's look-up
        # Every password login runs one of these: built once, run with the key's value.
        login = select(users.c.id, users.c.isActive, passwords.c.hash).join(
            passwords, passwords.c.user_id == users.c.id
        )
        self._login_by_email = login.where(users.c.email == bindparam("key"))
        self._login_by_username = login.where(users.c.username == bindparam("key"))

    async def password_login(
        self, conn: AsyncConnection, *, email: str | None = None, username: str | None = None
    ) -> PasswordLogin | None:
        """The user holding ``email`` (when given, else ``username``) with their password
        hash; None when nobody holds it or its holder has no password."""
        if email is not None:
            found = await conn.execute(self._login_by_email, {"key": email})
        else:
            found = await conn.execute(self._login_by_username, {"key": username})
        row = found.first()
        if row is None:
            return None
        return PasswordLogin(str(row.id), bool(row.isActive), str(row.hash))

    async def by_email(self, conn: AsyncConnection, email: str) -> dict[str, Any] | None:
        """The whole row of the user whose email column holds ``email``, or None."""
        users = self._users
        found = await conn.execute(select(users).where(users.c.email == email))
        row = found.mappings().first()
        return dict(row) if row is not None else None

    async def id_by_email(self, conn: AsyncConnection, email: str) -> str | None:
        """The id of the user whose email column holds ``email``, or None."""
        users = self._users
        found = await conn.execute(select(users.c.id).where(users.c.email == email))
        user_id: str | None = found.scalar_one_or_none()
        return user_id

    async def email_of(self, conn: AsyncConnection, user_id: str) -> str | None:
        """The user's stored email (None without one, or without the user)."""
        users = self._users
        found = await conn.execute(select(users.c.email).where(users.c.id == user_id))
        email: str | None = found.scalar_one_or_none()
        return email

    async def is_active(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user exists and is active."""
        users = self._users
        found = await conn.execute(select(users.c.isActive).where(users.c.id == user_id))
        return bool(found.scalar_one_or_none())

    async def set_active(
        self, conn: AsyncConnection, user_id: str, active: bool, at: datetime
    ) -> None:
        """Activate or deactivate the user, noting ``at`` as its update time."""
        users = self._users
        await conn.execute(
            update(users).where(users.c.id == user_id).values(isActive=active, updatedAt=at)
        )

    async def all(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """Every user row, by id (so oldest first)."""
        users = self._users
        rows = await conn.execute(select(users).order_by(users.c.id))
        return [dict(r) for r in rows.mappings()]


class PasswordRows:
    """The password rows: one argon2id hash per user that has a password, never the password."""

    def __init__(self, passwords: Table) -> None:
        self._passwords = passwords

    async def add(self, conn: AsyncConnection, user_id: str, digest: str, at: datetime) -> None:
        """Store the first password hash of a user."""
        await conn.execute(
            self._passwords.insert().values(user_id=user_id, hash=digest, updated_at=at)
        )

    async def hash_of(self, conn: AsyncConnection, user_id: str) -> str | None:
        """The user's stored hash, if they have a password."""
        passwords = self._passwords
        found = await conn.execute(select(passwords.c.hash).where(passwords.c.user_id == user_id))
        digest: str | None = found.scalar_one_or_none()
        return digest

    async def set_hash(
        self, conn: AsyncConnection, user_id: str, digest: str, at: datetime
    ) -> None:
        """Replace the user's stored hash."""
        passwords = self._passwords
        await conn.execute(
            update(passwords)
            .where(passwords.c.user_id == user_id)
            .values(hash=digest, updated_at=at)
        )

    async def changed_at(self, conn: AsyncConnection, user_id: str) -> datetime | None:
        """When the user's password was last set; None when they have none."""
        passwords = self._passwords
        found = await conn.execute(
            select(passwords.c.updated_at).where(passwords.c.user_id == user_id)
        )
        changed: datetime | None = found.scalar_one_or_none()
        return changed

    async def held_by(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user has a password."""
        query = select(exists().where(self._passwords.c.user_id == user_id))
        return bool((await conn.execute(query)).scalar())


class IdentityRows:
    """The identity rows: (provider, subject) pairs, each pointing at one user."""

    def __init__(self, identities: Table) -> None:
        self._identities = identities

    async def owner(self, conn: AsyncConnection, provider: str, subject: str) -> str | None:
        """The id of the user holding the identity, if anyone does."""
        table = self._identities
        found = await conn.execute(
            select(table.c.user_id).where(table.c.provider == provider, table.c.subject == subject)
        )
        user_id: str | None = found.scalar_one_or_none()
        return user_id

    async def add(self, conn: AsyncConnection, row: IdentityRow) -> None:
        """Insert an identity row."""
        await conn.execute(
            self._identities.insert().values(
                id=row.id,
                user_id=row.user_id,
                provider=row.provider,
                subject=row.subject,
                created_at=row.created_at,
                data=_encoded(row.data),
            )
        )

    async def set_data(
        self, conn: AsyncConnection, provider: str, subject: str, data: dict[str, Any] | None
    ) -> None:
        """Replace the provider's data of the identity."""
        table = self._identities
        await conn.execute(
            update(table)
            .where(table.c.provider == provider, table.c.subject == subject)
            .values(data=_encoded(data))
        )

    async def of(self, conn: AsyncConnection, user_id: str) -> list[IdentityRow]:
        """The user's identity rows, by id (so oldest first)."""
        table = self._identities
        rows = await conn.execute(
            select(table).where(table.c.user_id == user_id).order_by(table.c.id)
        )
        return [
            IdentityRow(
                r.id,
                r.user_id,
                r.provider,
                r.subject,
                r.created_at,
                json.loads(r.data) if r.data else None,
            )
            for r in rows
        ]

    async def holders(self, conn: AsyncConnection, provider: str) -> list[str]:
        """The users holding an identity of ``provider``, once per identity, oldest first."""
        table = self._identities
        rows = await conn.execute(
            select(table.c.user_id).where(table.c.provider == provider).order_by(table.c.id)
        )
        return [str(user_id) for user_id in rows.scalars()]


async def has_sessions(conn: AsyncConnection, sessions: Table, user_id: str) -> bool:
    """Whether any session, live or ended, was ever started for the user."""
    query = select(exists().where(sessions.c.user_id == user_id))
    return bool((await conn.execute(query)).scalar())


async def only_of_provider(
    conn: AsyncConnection,
    *,
    users: Table,
    identities: Table,
    passwords: Table,
    sessions: Table,
    provider: str,
    cutoff: datetime,
) -> list[str]:
    """Users made before ``cutoff`` whose only ways in are identities of ``provider`` (no
    other identity, no password), with no session used since ``cutoff``."""
    query = select(users.c.id).where(
        users.c.createdAt < cutoff,
        exists().where(identities.c.user_id == users.c.id, identities.c.provider == provider),
        ~exists().where(identities.c.user_id == users.c.id, identities.c.provider != provider),
        ~exists().where(passwords.c.user_id == users.c.id),
        ~exists().where(sessions.c.user_id == users.c.id, sessions.c.last_used_at >= cutoff),
    )
    return [str(user_id) for user_id in (await conn.execute(query)).scalars()]
