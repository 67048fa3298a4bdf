"""One cluster, one truth: the authentication events travel between the processes of one database.

Every process keeps caches (the session states, the root tokens) that a change made elsewhere
makes stale: a logout on one node must be refused by every other node at once, not when their
cache entry expires. So on PostgreSQL the changes that matter are also written as events:

- :class:`EventLog` appends an event (:mod:`bastion.auth.events`) to the event table *in the
  transaction of the change* (:mod:`bastion.store.auth.events`): the event exists exactly when
  the change does, whichever process made it (a server, the CLI). The append sends a
  PostgreSQL notification, delivered on commit.
- :class:`Follower`, in each serving process, LISTENs on a dedicated connection
  (:mod:`bastion.store.notifications`) and publishes the events of other processes on its
  own :class:`EventHub`, where the composition root has the caches forget. A notification
  carries its event, applied as it arrives; one without it (too long) wakes the follower to
  read the events after the last one it saw. It also reads every :data:`POLL_SECONDS` without
  being woken, so a notification that never arrives (a dropped connection, a pooling proxy
  that does not carry them) delays an event by that much, not forever.

On SQLite there is one serving process: nothing is written and nothing followed; a change made
by the CLI reaches the server within the caches' bound (``STATE_TTL_SECONDS``), as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from datetime import timedelta

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.events import (
    KeysChanged,
    ProjectDeployed,
    RootTokensChanged,
    SessionsEnded,
    UserChanged,
)
from bastion.store.auth.events import CHANNEL, EventRow, EventRows, from_payload
from bastion.store.database import Database
from bastion.store.notifications import Listener
from bastion.tools.clock import Clock
from bastion.tools.events import EventHub
from bastion.tools.tasks import cancel_and_wait

log = logging.getLogger("bastion")

POLL_SECONDS = 0.5
"""How often a node reads the event table unwoken: the bound on an event whose notification
was lost."""
KEEP_SECONDS = 600
"""How long an event stays in the table (a node that stops longer starts with empty caches)."""
PRUNE_EVERY_SECONDS = 60
GAP_SECONDS = 10.0
"""How long an id skipped by the ones read is awaited (see :class:`Cursor`)."""
MAX_GAPS = 10_000
BATCH = 1000
RECONNECT_SECONDS = 5.0


def encode(event: object) -> tuple[str, str] | None:
    """The kind and body an event is stored as; None for events that stay in the process."""
    if isinstance(event, SessionsEnded):
        return "sessions_ended", json.dumps(list(event.session_ids))
    if isinstance(event, UserChanged):
        return "user_changed", json.dumps(event.user_id)
    if isinstance(event, RootTokensChanged):
        return "root_tokens_changed", "null"
    if isinstance(event, KeysChanged):
        return "keys_changed", "null"
    if isinstance(event, ProjectDeployed):
        return "project_deployed", json.dumps(event.version)
    # UsersChanged follows every data write to User: told to every node, each write would
    # empty every cache of the cluster. Other nodes read such rows again within the bound.
    return None


def decode(kind: str, body: str) -> object | None:
    """The event stored as ``kind`` and ``body``; None for a kind this version does not know
    (written by a newer node during an upgrade)."""
    value = json.loads(body)
    if kind == "sessions_ended":
        return SessionsEnded(tuple(str(v) for v in value))
    if kind == "user_changed":
        return UserChanged(str(value))
    if kind == "root_tokens_changed":
        return RootTokensChanged()
    if kind == "keys_changed":
        return KeysChanged()
    if kind == "project_deployed":
        return ProjectDeployed(str(value))
    return None


class EventLog:
    """Writes events to the event table in the caller's transaction; off on SQLite."""

    @classmethod
    def over(cls, db: Database, table: Table, clock: Clock) -> EventLog:
        """The event log of ``db``: written on PostgreSQL, off on SQLite (one serving
        process, nobody to tell)."""
        return cls(None if db.is_sqlite else EventRows(table, notify=True), clock)

    def __init__(self, rows: EventRows | None, clock: Clock) -> None:
        """``rows`` None: a database with one serving process, where nothing is written."""
        self.rows = rows
        self._clock = clock
        self.origin = secrets.token_hex(8)
        """This process's name in the events it writes, so that it skips them when read."""

    @property
    def enabled(self) -> bool:
        """Whether events are written (the database is shared by several processes)."""
        return self.rows is not None

    async def record(self, conn: AsyncConnection, event: object) -> None:
        """Append ``event`` in the transaction of ``conn``, before it commits."""
        stored = encode(event)
        if self.rows is None or stored is None:
            return
        await self.rows.append(conn, self._clock(), self.origin, *stored)


class Cursor:
    """Which event ids have been read: every id above :attr:`last`, and the gaps below it.

    Ids come from a sequence when an event is written, not when it commits: a transaction
    that began earlier may commit a lower id after a higher one was read. Such a skipped id is
    a gap, read again until it shows up or :data:`GAP_SECONDS` have passed (a rolled back
    transaction leaves its id unused for good).
    """

    def __init__(self, last: int) -> None:
        self.last = last
        self._gaps: dict[int, float] = {}  # id -> when it was first missed (monotonic)

    def read_after(self, now: float) -> int:
        """The id to read the events after: below the oldest gap still awaited."""
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_SECONDS}
        return min(self._gaps) - 1 if self._gaps else self.last

    def is_new(self, event_id: int, now: float) -> bool:
        """Whether ``event_id`` is read for the first time; marks it read."""
        if event_id > self.last:
            first_missing = max(self.last + 1, event_id - MAX_GAPS)
            for missing in range(first_missing, event_id):
                self._gaps[missing] = now
            self.last = event_id
            return True
        return self._gaps.pop(event_id, None) is not None


class Follower:
    """Hears the events of the other processes and publishes them on this process's hub."""

    def __init__(self, db: Database, event_log: EventLog, hub: EventHub, clock: Clock) -> None:
        assert event_log.rows is not None, "only a shared database is followed"
        self._db = db
        self._rows = event_log.rows
        self._origin = event_log.origin
        self._hub = hub
        self._clock = clock
        self._woken = asyncio.Event()
        self._listener = Listener(db.url, CHANNEL, self._heard)
        self._cursor = Cursor(0)
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0
        self._retry_at = 0.0
        self._failing = False

    async def start(self) -> None:
        """Start from the newest event (the caches are empty) and follow from then on."""
        async with self._db.read() as conn:
            self._cursor = Cursor(await self._rows.newest_id(conn))
        await self._listen()
        self._task = asyncio.create_task(self._run(), name="bastion-cluster-events")

    async def _listen(self) -> None:
        try:
            await self._listener.connect()
        except Exception as error:  # polling carries the events meanwhile
            log.warning(
                "cluster events: cannot LISTEN (%s); polling every %ss", error, POLL_SECONDS
            )
            self._retry_at = time.monotonic() + RECONNECT_SECONDS
        else:
            self._woken.set()  # what was written while nobody listened

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), POLL_SECONDS)
            self._woken.clear()
            try:
                await self.catch_up()
                await self._prune()
            except Exception as error:  # the database is away: try again
                if not self._failing:
                    log.warning("cluster events: reading the event table failed: %s", error)
                self._failing = True
            else:
                self._failing = False
            if not self._listener.alive and time.monotonic() >= self._retry_at:
                await self._listen()

    def _heard(self, payload: str) -> None:
        """A notification: apply the event it carries, or read the table for it."""
        row = from_payload(payload)
        if row is None:
            self._woken.set()
            return
        self._apply(row, time.monotonic())

    def _apply(self, row: EventRow, now: float) -> bool:
        """Publish ``row`` if it is new and another process's; whether it was published."""
        if not self._cursor.is_new(row.id, now) or row.origin == self._origin:
            return False
        event = decode(row.kind, row.body)
        if event is None:
            return False
        self._hub.publish(event)
        return True

    async def catch_up(self) -> int:
        """Read the events not yet read and publish those of other processes; how many."""
        told = 0
        now = time.monotonic()
        after = self._cursor.read_after(now)
        while True:
            async with self._db.read() as conn:
                rows = await self._rows.after(conn, after, BATCH)
            for row in rows:
                told += self._apply(row, now)
            if len(rows) < BATCH:
                return told
            after = rows[-1].id

    async def _prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        async with self._db.write() as conn:
            await self._rows.prune(conn, self._clock() - timedelta(seconds=KEEP_SECONDS))

    async def close(self) -> None:
        """Stop following and close the listening connection."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await self._listener.close()
