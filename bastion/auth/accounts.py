"""Accounts of the email/password provider: users with a password hash beside them.

Emails are stored and looked up in their normal form (:mod:`bastion.model.emails`), by every
path: registration, login, the CLI, a change of address. A failed login says only
"Invalid credentials", whatever failed (no account, wrong password, deactivated account),
and costs one argon2 verification in every case.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.passwords import Passwords, check_password_rules, context_words
from bastion.errors import BadUserInput, BastionError, Code, Conflict, NotFound
from bastion.model.emails import email_key
from bastion.store import Store
from bastion.store.auth.password_logins import LoginRead, PasswordLoginRows
from bastion.store.auth.users import PasswordLogin, PasswordRows, UserRows
from bastion.tools.clock import Clock


class InvalidCredentials(BastionError):
    """The one answer to every failed password login."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("Invalid credentials")


def _storable(key: str | None) -> str | None:
    """``key`` when the database can look it up; None (no account) when it is empty or not
    text SQLite and PostgreSQL can encode."""
    return key if key and _is_text(key) else None


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


class LoginCheck:
    """A password login whose hash runs in a worker thread while the event loop goes on.

    :attr:`candidate` is who the login will be if the password matches; work for them may be
    done meanwhile (a login reads their second factors and prepares their session), and is
    dropped unless :meth:`result` answers.
    """

    def __init__(
        self, found: PasswordLogin | None, verifying: asyncio.Future[bool], passwords: Passwords
    ) -> None:
        self._found = found
        self._verifying = verifying
        self._passwords = passwords

    @property
    def candidate(self) -> str | None:
        """The active user holding the account named, None when there is none."""
        found = self._found
        return found.user_id if found is not None and found.is_active else None

    async def result(self) -> tuple[str, bool]:
        """(user id, whether its hash needs renewing); :class:`InvalidCredentials` when no
        active user holds the account or the password is not theirs."""
        ok = await self._verifying
        found = self._found
        if found is None or not ok or not found.is_active:
            raise InvalidCredentials()
        return found.user_id, self._passwords.needs_rehash(found.hash)


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
        self._users = UserRows(store.tables["User"], passwords_table)
        self._password_rows = PasswordRows(passwords_table)
        self._logins = PasswordLoginRows(store.tables)
        self.passwords = passwords
        self._clock = clock
        self.min_password_length = min_password_length
        self._app_names = app_names

    async def by_email(self, conn: AsyncConnection, email: str) -> dict[str, Any] | None:
        """The row of the user holding the address ``email`` spells, or None."""
        key = email_key(email)
        if not _is_text(key):
            return None
        return await self._users.by_email(conn, key)

    async def email_of(self, conn: AsyncConnection, user_id: str) -> str | None:
        """The user's address as stored (None when they have none)."""
        return await self._users.email_of(conn, user_id)

    async def holder_of(self, conn: AsyncConnection, email: str) -> str | None:
        """The id of the user holding ``email``, which is in its normal form already."""
        return await self._users.id_by_email(conn, email)

    async def is_active(self, conn: AsyncConnection, user_id: str) -> bool:
        """Whether the user exists and may log in."""
        return await self._users.is_active(conn, user_id)

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
        check = await self.begin_login(conn, password, email=email, username=username)
        return await check.result()

    async def begin_login(
        self,
        conn: AsyncConnection,
        password: str,
        *,
        email: str | None = None,
        username: str | None = None,
    ) -> LoginCheck:
        """:meth:`verify_login` with its hash running: the account is read, its verification
        begun in a worker thread, and the caller gets it under way (see :class:`LoginCheck`)."""
        if email is not None:
            email = email_key(email)
        elif username is None:
            raise BadUserInput("Give an email or a username")
        key = _storable(email if email is not None else username)
        # A key the database cannot even encode names no account: the dummy hash runs below.
        if key is None:
            row = None
        elif email is not None:
            row = await self._users.password_login(conn, email=key)
        else:
            row = await self._users.password_login(conn, username=key)
        return self.start_check(row, password)

    async def read_login(
        self, account: str, *, email: str | None = None, username: str | None = None
    ) -> LoginRead:
        """What a password login reads before its hash, in one statement outside any
        transaction: the holder of ``email`` (as :func:`email_key` made it) or ``username``,
        the failures counted against ``account`` (the throttle's key), the holder's factors."""
        if email is None and username is None:
            raise BadUserInput("Give an email or a username")
        # A key the database cannot encode finds nobody (NULL matches no row); the failures
        # are read all the same.
        key = _storable(email if email is not None else username)
        if email is not None:
            return await self._logins.read(self._store.db, account, email=key)
        return await self._logins.read(self._store.db, account, username=key)

    def start_check(self, found: PasswordLogin | None, password: str) -> LoginCheck:
        """Begin verifying ``password`` against ``found`` (the dummy hash when None) in a
        worker thread; see :class:`LoginCheck`."""
        return LoginCheck(
            found,
            self.passwords.start_verify(found.hash if found else None, password),
            self.passwords,
        )

    async def add_password(self, conn: AsyncConnection, user_id: str, digest: str) -> None:
        """Give a user without one a password (linking the email/password identity)."""
        await self._password_rows.add(conn, user_id, digest, self._clock())

    async def password_hash(self, conn: AsyncConnection, user_id: str) -> str | None:
        """The stored hash of a user's password, if they have one."""
        return await self._password_rows.hash_of(conn, user_id)

    async def set_password(self, conn: AsyncConnection, user_id: str, password: str) -> None:
        """Store a new hash of ``password`` for the user."""
        digest = await self.passwords.hash(password)
        await self._password_rows.set_hash(conn, user_id, digest, self._clock())

    async def set_digest(self, conn: AsyncConnection, user_id: str, digest: str) -> None:
        """Store a hash made beforehand (:meth:`hash_new_password`) as the user's password."""
        await self._password_rows.set_hash(conn, user_id, digest, self._clock())

    async def change_password(
        self, conn: AsyncConnection, user_id: str, old: str, new: str
    ) -> None:
        """Check the old password, apply the rules to the new one, store its hash."""
        stored = await self.password_hash(conn, user_id)
        if not await self.passwords.verify(stored, old):
            raise InvalidCredentials()
        email = await self._users.email_of(conn, user_id)
        self.check_new_password(new, email)
        await self.set_password(conn, user_id, new)

    async def set_active(self, conn: AsyncConnection, email: str, active: bool) -> str:
        """Activate or deactivate the user with this email; returns their id."""
        row = await self.by_email(conn, email)
        if row is None:
            raise NotFound(f"No user with email {email}")
        await self._users.set_active(conn, row["id"], active, self._clock())
        return str(row["id"])

    async def list(self, conn: AsyncConnection) -> list[dict[str, Any]]:
        """Every user, oldest first (for the CLI)."""
        return await self._users.all(conn)
