"""Liveness and readiness of a running project: what ``/healthz`` and ``/readyz`` answer.

Liveness is the process answering at all. Readiness is whether a request would be served as
it should: the database takes writes, the shared throttle storage (Redis) answers when one is
configured, the signing keys are loaded, and the database holds the model this process serves
(a ``bastion deploy`` from elsewhere changes it: restart to serve the new one). Each check
answers ``ok`` or ``fail`` with one line saying why; the line never holds a secret.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from bastion.auth.assembly import AuthServices
from bastion.errors import BastionError
from bastion.project.causes import cause_of
from bastion.store import Store
from bastion.store.health import model_stamp, probe_write

LOW_DISK_BYTES = 64 * 1024
"""Below this much free space on the SQLite database's disk, the database check fails: a
commit needs a few pages (and the write-ahead log may need more)."""

CHECK_TIMEOUT = 5.0
"""Seconds a check may take before it counts as failed (a database that hangs is not ready)."""


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and why not."""

    name: str
    ok: bool
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        """``{"status": "ok"}`` or ``{"status": "fail", "detail": ...}``."""
        if self.ok:
            return {"status": "ok"}
        return {"status": "fail", "detail": self.detail}


class Readiness:
    """The readiness checks of one service: its store and its auth services."""

    def __init__(self, store: Store, auth: AuthServices) -> None:
        self._store = store
        self._auth = auth
        self._stamp: str | None = None

    async def remember_model(self) -> None:
        """Note the model the database holds once the start-up sync is done."""
        store = self._store
        self._stamp = await model_stamp(store.db, store.tables.metadata)

    async def checks(self) -> list[Check]:
        """Every check, run at once, each within :data:`CHECK_TIMEOUT`."""
        names = ["database", "schema", "keys"]
        runs = [self._database(), self._schema(), self._keys()]
        if self._auth.throttle.shared_storage:
            names.append("redis")
            runs.append(self._redis())
        results = await asyncio.gather(
            *(asyncio.wait_for(run, CHECK_TIMEOUT) for run in runs), return_exceptions=True
        )
        return [
            result if isinstance(result, Check) else Check(name, False, self._why(result, name))
            for name, result in zip(names, results, strict=True)
        ]

    def _why(self, error: BaseException, name: str) -> str:
        if isinstance(error, TimeoutError):
            return f"no answer within {CHECK_TIMEOUT:g}s"
        if isinstance(error, BastionError):
            return error.message
        store = self._store
        database = store.db.url.database if store.db.is_sqlite else "the database server"
        line = cause_of(error, database or "the database file")
        return line or f"{name}: {type(error).__name__}"

    async def _database(self) -> Check:
        store = self._store
        if store.db.identity is not None:
            store.db.identity.check()
            free = free_bytes(store.db.identity.path)
            if free < LOW_DISK_BYTES:
                return Check(
                    "database",
                    False,
                    f"the disk holding {store.db.identity.path} is full ({free} bytes free): "
                    "free some space",
                )
        await probe_write(store.db, store.tables.metadata)
        return Check("database", True)

    async def _schema(self) -> Check:
        store = self._store
        stamp = await model_stamp(store.db, store.tables.metadata)
        if self._stamp is not None and stamp != self._stamp:
            return Check(
                "schema",
                False,
                "the database holds another model than this process serves (deployed from "
                "elsewhere, and not taken up here yet: see the log)",
            )
        return Check("schema", True)

    async def _keys(self) -> Check:
        keys = self._auth.keys
        if keys.empty:
            return Check("keys", False, "no signing key is loaded: see `bastion keys list`")
        keys.signing_key()
        return Check("keys", True)

    async def _redis(self) -> Check:
        if await self._auth.throttle.storage_reachable():
            return Check("redis", True)
        return Check(
            "redis",
            False,
            "the throttle storage (auth.throttle.storage) does not answer: start Redis or "
            "correct its URL",
        )


def free_bytes(path: Path) -> int:
    """The bytes an unprivileged user may still write on the disk holding ``path``."""
    stats = os.statvfs(path.parent)
    return stats.f_bavail * stats.f_frsize
