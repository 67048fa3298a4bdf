"""Accounts of the email/password provider: users with a password hash beside them.

Emails are stored and looked up in their normal form (:mod:`bastion.model.emails`), by every
path: registration, login, the CLI, a change of address. A failed login says only
"Invalid credentials", whatever failed (no account, wrong password, deactivated account),
and costs one argon2 verification in every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.passwords import Passwords, check_password_rules, context_words
from bastion.errors import BadUserInput, BastionError, Code, Conflict, NotFound
from bastion.model.emails import email_key
from bastion.store import Store
from bastion.tools.clock import Clock


class InvalidCredentials(BastionError):
    """The one answer to every failed password login."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("Invalid credentials")


def _is_text(value: str) -> bool:
    """False for strings with lone surrogates, which neither SQLite nor argon2 can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class NewUser:
    """What registration and `bastion users create` know about a new user."""

    email: str
    password: str
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class Accounts:
    """Users with passwords, over the store."""

    def __init__(
        self,
        store: Store,
        passwords_table: Table,
        passwords: Passwords,
        clock: Clock,
        min_password_length: int,
        app_names: tuple[str, ...] = (),
    ) -> None:
        """``app_names`` (the project's name and app id) may not make up a password."""
        self._store = store
        self._users = store.tables["User"]
        self._passwords_table = passwords_table
        self.passwords = passwords
        self._clock = clock
        self.min_password_length = min_password_length
        self._app_names = app_names

    async def by_email(self, conn: AsyncConnection, email: str) -> Any:
        """The row of the user holding the address ``email`` spells, or None."""
        users = self._users
        key = email_key(email)
        if not _is_text(key):
            return None
        return (await conn.execute(select(users).where(users.c.email == key))).mappings().first()

    def check_new_password(self, password: str, email: str | None = None) -> None:
        """Apply the password rules, with the app's names and ``email`` as context words."""
        context = context_words(*self._app_names, email)
        check_password_rules(password, self.min_password_length, context)

    async def hash_new_password(self, password: str, email: str | None = None) -> str:
        """Apply the password rules, then hash (before any write transaction opens)."""
        self.check_new_password(password, email)
        return await self.passwords.hash(password)

    async def create(self, conn: AsyncConnection, new: NewUser, digest: str) -> str:
        """Create a user with a hashed password; CONFLICT when the email or username is taken."""
        email = self._store.emails.check(new.email)
        for name, value in (
            ("username", new.username),
            ("firstName", new.first_name),
            ("lastName", new.last_name),
        ):
            if value is not None and not _is_text(value):
                raise BadUserInput(f"The {name} is not valid Unicode text", field=name)
        if await self.by_email(conn, email) is not None:
            raise Conflict("A User with this email already exists", field="email")
        data = {
            "email": email,
            "username": new.username,
            "firstName": new.first_name,
            "lastName": new.last_name,
        }
        user_id = await self._store.writer.create(conn, "User", data)
        await self.add_password(conn, user_id, digest)
        return user_id

    async def verify_login(
        self,
        conn: AsyncConnection,
        password: str,
        *,
        email: str | None = None,
        username: str | None = None,
    ) -> tuple[str, bool]:
        """(user id, whether its hash needs renewing) for valid credentials.

        Raises :class:`InvalidCredentials` otherwise. Runs on a read connection, so the
        ~20 ms of hashing never holds the database's write lock.
        """
        users, table = self._users, self._passwords_table
        query = select(users.c.id, users.c.isActive, table.c.hash).join(
            table, table.c.user_id == users.c.id
        )
        if email is not None:
            key = email_key(email)
            query = query.where(users.c.email == key)
        elif username is not None:
            key = username
            query = query.where(users.c.username == key)
        else:
            raise BadUserInput("Give an email or a username")
        # A key the database cannot even encode names no account: the dummy hash runs below.
        row = (await conn.execute(query)).first() if key and _is_text(key) else None
        ok = await self.passwords.verify(row.hash if row else None, password)
        if row is None or not ok or not row.isActive:
            raise InvalidCredentials()
        return str(row.id), self.passwords.needs_rehash(row.hash)

    async def add_password(self, conn: AsyncConnection, user_id: str, digest: str) -> None:
        """Give a user without one a password (linking the email/password identity)."""
        await conn.execute(
            self._passwords_table.insert().values(
                user_id=user_id, hash=digest, updated_at=self._clock()
            )
        )

    async def password_hash(self, conn: AsyncConnection, user_id: str) -> str | None:
        """The stored hash of a user's password, if they have one."""
        table = self._passwords_table
        found = await conn.execute(select(table.c.hash).where(table.c.user_id == user_id))
        return found.scalar_one_or_none()

    async def set_password(self, conn: AsyncConnection, user_id: str, password: str) -> None:
        """Store a new hash of ``password`` for the user."""
        digest = await self.passwords.hash(password)
        await conn.execute(
            update(self._passwords_table)
            .where(self._passwords_table.c.user_id == user_id)
            .values(hash=digest, updated_at=self._clock())
        )

    async def change_password(
        self, conn: AsyncConnection, user_id: str, old: str, new: str
    ) -> None:
        """Check the old password, apply the rules to the new one, store its hash."""
        stored = await self.password_hash(conn, user_id)
        if not await self.passwords.verify(stored, old):
            raise InvalidCredentials()
        users = self._users
        email = (
            await conn.execute(select(users.c.email).where(users.c.id == user_id))
        ).scalar_one_or_none()
        self.check_new_password(new, email)
        await self.set_password(conn, user_id, new)

    async def set_active(self, conn: AsyncConnection, email: str, active: bool) -> str:
        """Activate or deactivate the user with this email; returns their id."""
        row = await self.by_email(conn, email)
        if row is None:
            raise NotFound(f"No user with email {email}")
        await conn.execute(
            update(self._users)
            .where(self._users.c.id == row["id"])
            .values(isActive=active, updatedAt=self._clock())
        )
        return str(row["id"])

    async def list(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """Every user, oldest first (for the CLI)."""
        users = self._users
        rows = await conn.execute(select(users).order_by(users.c.id))
        return [dict(r) for r in rows.mappings()]
