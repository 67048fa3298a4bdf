"""API keys: named, long-lived credentials that log in as their user.

A logged-in user makes keys for their own scripts; an operator makes server keys, each for a
user of its own that has no password (``bastion api-keys create NAME``). A key is 256 random
bits shown once; only its SHA-256 is stored, so the database never holds a usable key, and the
lookup by digest compares nothing secret in variable time. Disabling or deleting a key ends
the sessions opened with it (the caller revokes them in the same transaction).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.identities import API_KEY, Identities
from bastion.auth.sessions import Sessions, hash_token
from bastion.errors import BadUserInput, BastionError, Code, Conflict, NotFound
from bastion.store import Store
from bastion.store.auth.api_keys import ApiKeyRow, ApiKeyRows
from bastion.store.ids import is_id, new_id
from bastion.tools.clock import Clock

SERVER_PREFIX = "server:"

MAX_NAME_LENGTH = 100
MAX_KEY_LENGTH = 200


class ApiKeyRefused(BastionError):
    """The one answer to a login with an unknown, disabled or deleted key."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self) -> None:
        super().__init__("Invalid API key")


@dataclass(frozen=True)
class ApiKey:
    """A key as its owner sees it (never the secret)."""

    id: str
    name: str
    disabled: bool
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewApiKey:
    """A key just made, with its secret: the only time the secret is known."""

    key: ApiKey
    secret: str


def check_key_name(name: str) -> str:
    """A key name of 1 to 100 printable characters, trimmed."""
    value = name.strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = ""
    if not 1 <= len(value) <= MAX_NAME_LENGTH or not value.isprintable():
        raise BadUserInput(
            f"An API key name is 1 to {MAX_NAME_LENGTH} printable characters", field="name"
        )
    return value


def _as_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        disabled=row.disabled,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


@dataclass(frozen=True)
class ServerKey:
    """A server API key as the operator sees it."""

    user_id: str
    key: ApiKey


class ApiKeys:
    """The API keys of every user, and the server keys with their users."""

    def __init__(
        self,
        table: Table,
        store: Store,
        identities: Identities,
        sessions: Sessions,
        clock: Clock,
        max_per_user: int,
    ) -> None:
        self._rows = ApiKeyRows(table)
        self._store = store
        self._identities = identities
        self._sessions = sessions
        self._clock = clock
        self.max_per_user = max_per_user

    # -- a user's own keys, each call one transaction ----------------------------------

    async def create_for(self, user_id: str, name: str) -> NewApiKey:
        """A new key of the user."""
        async with self._store.db.write() as conn:
            return await self.create(conn, user_id, name)

    async def list_for(self, user_id: str) -> list[ApiKey]:
        """The user's keys."""
        async with self._store.db.read() as conn:
            return await self.of(conn, user_id)

    async def get_for(self, user_id: str, key_id: str) -> ApiKey:
        """One of the user's keys."""
        async with self._store.db.read() as conn:
            return await self.get(conn, user_id, key_id)

    async def delete_for(self, user_id: str, key_id: str) -> ApiKey:
        """Delete one of the user's keys and end the sessions opened with it."""
        async with self._store.db.write() as conn:
            key = await self.delete(conn, user_id, key_id)
            ended = await self._sessions.end_by_credential_in(conn, key.id)
        self._sessions.announce_ended(ended)
        return key

    async def set_disabled_for(self, user_id: str, key_id: str, disabled: bool) -> ApiKey:
        """Disable (ending its sessions) or enable one of the user's keys."""
        async with self._store.db.write() as conn:
            key = await self.set_disabled(conn, user_id, key_id, disabled)
            ended = await self._sessions.end_by_credential_in(conn, key.id) if disabled else []
        self._sessions.announce_ended(ended)
        return key

    # -- server keys ----------------------------------------------------------------------

    async def create_server(self, name: str) -> NewApiKey:
        """A server key: a user of its own (no email, no password) holding one key."""
        name = check_key_name(name)
        subject = SERVER_PREFIX + name
        async with self._store.db.write() as conn:
            if await self._identities.owner(conn, API_KEY, subject) is not None:
                raise Conflict(f"A server API key named {name!r} already exists", field="name")
            user_id = await self._store.writer.create(conn, "User", {})
            await self._identities.add(conn, user_id, API_KEY, subject)
            return await self.create(conn, user_id, name)

    async def servers(self) -> list[ServerKey]:
        """Every server key, oldest first."""
        async with self._store.db.read() as conn:
            found: list[ServerKey] = []
            for user_id in await self._identities.holders(conn, API_KEY):
                found += [ServerKey(user_id, key) for key in await self.of(conn, user_id)]
            return found

    async def delete_server(self, name: str) -> None:
        """Delete a server key with its user (and so its sessions)."""
        subject = SERVER_PREFIX + check_key_name(name)
        async with self._store.db.write() as conn:
            user_id = await self._identities.owner(conn, API_KEY, subject)
            if user_id is None:
                raise NotFound(f"No server API key named {name!r}")
            ended = await self._sessions.end_all_in(conn, user_id)
            await self._store.writer.delete(conn, "User", user_id)
        self._sessions.announce_ended(ended)

    # -- within a caller's transaction ----------------------------------------------------

    async def create(self, conn: AsyncConnection, user_id: str, name: str) -> NewApiKey:
        """A new enabled key for the user; CONFLICT when the name is taken or too many exist."""
        name = check_key_name(name)
        if await self._rows.count_of(conn, user_id) >= self.max_per_user:
            raise Conflict(f"A user may hold at most {self.max_per_user} API keys")
        if await self._rows.name_taken(conn, user_id, name):
            raise Conflict("An API key with this name already exists", field="name")
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(new_id(), user_id, name, False, self._clock(), None)
        await self._rows.add(conn, row, hash_token(secret))
        return NewApiKey(_as_key(row), secret)

    async def of(self, conn: AsyncConnection, user_id: str) -> list[ApiKey]:
        """The user's keys, oldest first."""
        return [_as_key(r) for r in await self._rows.of(conn, user_id)]

    async def get(self, conn: AsyncConnection, user_id: str, key_id: str) -> ApiKey:
        """One of the user's keys; NOT_FOUND for any other id (another user's looks missing)."""
        row = await self._rows.get(conn, user_id, key_id) if is_id(key_id) else None
        if row is None:
            raise NotFound("No API key with this id")
        return _as_key(row)

    async def delete(self, conn: AsyncConnection, user_id: str, key_id: str) -> ApiKey:
        """Delete one of the user's keys; returns it as it was."""
        key = await self.get(conn, user_id, key_id)
        await self._rows.delete(conn, key.id)
        return key

    async def set_disabled(
        self, conn: AsyncConnection, user_id: str, key_id: str, disabled: bool
    ) -> ApiKey:
        """Disable or enable one of the user's keys."""
        key = await self.get(conn, user_id, key_id)
        await self._rows.set_disabled(conn, key.id, disabled)
        return ApiKey(key.id, key.name, disabled, key.created_at, key.last_used_at)

    async def verify(self, conn: AsyncConnection, secret: str) -> tuple[str, str]:
        """(user id, key id) of an enabled key; raises :class:`ApiKeyRefused` otherwise."""
        if not 0 < len(secret) <= MAX_KEY_LENGTH:
            raise ApiKeyRefused()
        row = await self._rows.by_digest(conn, hash_token(secret))
        if row is None or row.disabled:
            raise ApiKeyRefused()
        await self._rows.used(conn, row.id, self._clock())
        return row.user_id, row.id
