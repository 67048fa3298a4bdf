"""Root tokens: permanent bearer tokens with full access, declared by name in ``bastion.yml``.

As Graphcool's CLI did, ``bastion root-token get NAME`` prints a token at any time, yet the
database never holds one: each token is derived from the server secret, bound to the project
(:mod:`bastion.auth.derived`: its app id and random salt), from its name and a rotation
counter (HMAC-SHA256), and only its SHA-256 is stored. A dump of the database alone yields no
usable token, and another project sharing the secret derives other tokens. Rotating bumps the
counter, so the old token's hash no longer matches and it is refused at once in this process;
on a shared PostgreSQL database every other node hears of it as it commits
(:mod:`bastion.auth.cluster`), elsewhere within ``STATE_TTL_SECONDS``.

Tokens made before derivations were bound to the project (from the secret, the name and the
counter only: the same in every project sharing the secret) keep working until rotated: their
stored hash is the old token's, and ``get`` answers the token whose hash is stored. A start
warns about them (:meth:`RootTokens.unbound_names`). A new project never stores one.
"""

from __future__ import annotations

import base64
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.audit import Audit, AuditEvent, AuditType
from bastion.auth.cluster import EventLog
from bastion.auth.derived import DerivedSecrets
from bastion.auth.events import RootTokensChanged
from bastion.auth.sessions import STATE_TTL_SECONDS, hash_token
from bastion.errors import NotFound
from bastion.store.auth.root_tokens import RootTokenRow, RootTokenRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

PREFIX = "bastion_root_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# A root request records its use at most this often, not at every request.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class RootTokenInfo:
    """A root token as ``bastion root-token list`` shows it (never the token)."""

    name: str
    created_at: datetime
    rotated_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class Deployed:
    """What :meth:`RootTokens.deploy` changed."""

    created: list[str]
    revoked: list[str]


class UnknownRootToken(NotFound):
    """A root-token name that ``bastion.yml`` does not declare (or deploy did not create)."""

    exit_code = 2  # for the CLI: a usage error

    def __init__(self, name: str) -> None:
        super().__init__(
            f"no root token named {name!r}: list it under root_tokens in bastion.yml "
            "and run `bastion deploy`"
        )


def is_internal(name: str) -> bool:
    """Names Bastion keeps for itself (``_functions``): no ``root_tokens:`` entry can take one,
    and ``deploy`` never revokes them."""
    return name.startswith("_")


class RootTokens:
    """The root tokens of one project."""

    def __init__(
        self,
        db: Database,
        table: Table,
        secrets: DerivedSecrets,
        clock: Clock,
        audit: Audit,
        event_log: EventLog | None = None,
    ) -> None:
        """``event_log`` tells the other processes of a change, in its transaction."""
        self._db = db
        self._event_log = event_log
        self._audit = audit
        self._rows = RootTokenRows(table)
        self._secrets = secrets
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}  # hash -> (name, loaded at)
        self._last_used: dict[str, datetime] = {}

    def derive(self, name: str, counter: int) -> str:
        """The token of ``name`` at rotation ``counter``, bound to this project."""
        digest = self._secrets.derive("root-token", f"{name}\0{counter}".encode())
        return PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _unbound(self, name: str, counter: int) -> str:
        """The token as it was derived before tokens were bound to their project."""
        digest = self._secrets.unbound(f"root-token\0{name}\0{counter}".encode())
        return PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _stored_token(self, name: str, counter: int, stored_hash: str) -> str:
        """The token whose hash is stored: the bound one, or an old project's unbound one."""
        if self._secrets.record.legacy:
            old = self._unbound(name, counter)
            if hmac.compare_digest(hash_token(old), stored_hash):
                return old
        return self.derive(name, counter)

    async def unbound_names(self) -> list[str]:
        """The live tokens still derived the old way (shared by every project with this
        secret): each should be rotated."""
        if not self._secrets.record.legacy:
            return []
        async with self._db.read() as conn:
            rows = await self._rows.live(conn)
        return [
            r.name
            for r in rows
            if hmac.compare_digest(hash_token(self._unbound(r.name, r.counter)), r.hash)
        ]

    async def deploy(self, names: list[str]) -> Deployed:
        """Create the declared tokens that are missing; revoke those no longer declared."""
        now = self._clock()
        created: list[str] = []
        revoked: list[str] = []
        async with self._db.write() as conn:
            rows = await self._rows.all(conn)
            for name in names:
                if await self._create(conn, name, rows.get(name), now):
                    created.append(name)
            for name, row in rows.items():
                if name not in names and row.revoked_at is None and not is_internal(name):
                    await self._rows.revoke(conn, name, now)
                    revoked.append(name)
            if created or revoked:
                await self._tell_others(conn)
        self._cache.clear()
        return Deployed(created, revoked)

    async def plan(self, names: list[str]) -> Deployed:
        """What :meth:`deploy` would do, changing nothing (``bastion deploy --dry-run``)."""
        async with self._db.read() as conn:
            exists = await self._rows.table_exists(conn)
            rows = await self._rows.all(conn) if exists else {}
        created = [n for n in names if n not in rows or rows[n].revoked_at is not None]
        revoked = [
            n
            for n, row in rows.items()
            if n not in names and row.revoked_at is None and not is_internal(n)
        ]
        return Deployed(created, revoked)

    async def ensure(self, name: str) -> str:
        """The token of an internal name (the functions' token), created on first use."""
        assert is_internal(name), "declared tokens are made by deploy"
        async with self._db.write() as conn:
            row = await self._rows.get(conn, name)
            await self._create(conn, name, row, self._clock())
        return await self.get(name)

    async def _create(
        self, conn: AsyncConnection, name: str, row: RootTokenRow | None, now: datetime
    ) -> bool:
        """Make the token ``name`` live unless it is; True when it was made."""
        if row is None:
            await self._rows.add(conn, name, hash_token(self.derive(name, 0)), now)
            return True
        if row.revoked_at is not None:
            # Made live again: a new token, never the one revoked before.
            counter = row.counter + 1
            await self._rows.revive(
                conn, name, counter, hash_token(self.derive(name, counter)), now
            )
            return True
        return False

    async def _live(self, conn: AsyncConnection, name: str) -> tuple[int, str]:
        """(counter, stored hash) of the live token ``name``."""
        row = await self._rows.live_one(conn, name)
        if row is None:
            raise UnknownRootToken(name)
        return row.counter, row.hash

    async def get(self, name: str) -> str:
        """The current token of ``name``."""
        async with self._db.read() as conn:
            counter, stored = await self._live(conn, name)
        return self._stored_token(name, counter, stored)

    async def rotate(self, name: str) -> str:
        """A new token for ``name``; the old one stops working."""
        async with self._db.write() as conn:
            counter = (await self._live(conn, name))[0] + 1
            digest = hash_token(self.derive(name, counter))
            await self._rows.rotate(conn, name, counter, digest, self._clock())
            await self._tell_others(conn)
        self._cache.clear()
        return self.derive(name, counter)

    async def _tell_others(self, conn: AsyncConnection) -> None:
        if self._event_log is not None:
            await self._event_log.record(conn, RootTokensChanged())

    def forget(self) -> None:
        """Drop what was read of the tokens (another process changed them)."""
        self._cache.clear()

    async def list(self) -> list[RootTokenInfo]:
        """The live root tokens, by name."""
        async with self._db.read() as conn:
            rows = await self._rows.live(conn)
        return [
            RootTokenInfo(r.name, r.created_at, r.rotated_at, r.last_used_at)
            for r in rows
            if not is_internal(r.name)
        ]

    async def check(self, token: str) -> str | None:
        """The name of a live root token, or None."""
        if not token.startswith(PREFIX) or len(token) > 100:
            return None
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[1] < STATE_TTL_SECONDS:
            name = cached[0]
        else:
            async with self._db.read() as conn:
                name = await self._rows.live_name(conn, digest)
            if len(self._cache) > 10_000:  # bound what a flood of made-up tokens can take
                self._cache.clear()
            self._cache[digest] = (name, time.monotonic())
        if name is not None:
            await self._record_use(name)
        return name

    async def _record_use(self, name: str) -> None:
        now = self._clock()
        last = self._last_used.get(name)
        if last is not None and now - last < LAST_USED_PRECISION:
            return
        self._last_used[name] = now
        async with self._db.write() as conn:
            await self._rows.used(conn, name, now)
            # As often as last use is written (once a minute), not at every request.
            event = AuditEvent(AuditType.ROOT_TOKEN_USED, detail={"name": name})
            await self._audit.record(event, conn)
