"""SQLite's single writer, fed by a queue, with group commit.

SQLite lets one connection write at a time. Handing each request its own connection and
``BEGIN IMMEDIATE`` makes writers meet at the file lock, where SQLite's busy handler sleeps
and polls: under load, latencies in seconds and, past the busy timeout, ``database is
locked``. Instead every write transaction of the process is a *turn* on one connection:

- turns queue in arrival order (futures in a queue, no polling) and run one at a time; a turn
  waits a bounded time, watched by one timer for the whole queue (the oldest waiter is the
  first to run out), not a timeout per waiter: that cost more than a turn's savepoint;
- each turn runs in a savepoint of the open transaction, so a failing turn rolls back alone
  (the first turn of a group needs none: undoing it is rolling back the transaction);
- when a turn ends and no other is waiting, the transaction commits: every turn that ran
  since the last commit becomes durable with that one commit (one ``fsync``), and only then is
  each of them acknowledged. Turns that queue while a commit runs form the next group.

A turn that fails waits for its group's commit too before it raises: its answer (a conflict,
say) may rest on an earlier turn's writes, which must be kept before the answer is given.
When the commit fails (a full disk, a lost file) every turn of the group fails with it, and
none was acknowledged. The queue is bounded and a turn waits a bounded time: past either the
request is refused with ``SERVICE_UNAVAILABLE`` and a ``retryAfter``, never left hanging.

On the inline driver (:mod:`bastion.store.sqlite_inline`) the writer sends the transaction's
``BEGIN IMMEDIATE``, ``COMMIT`` and ``ROLLBACK`` and the turns' savepoints straight to SQLite:
through SQLAlchemy each cost more CPU than a refresh's statements together. SQLAlchemy holds
one transaction of its own open on the connection for as long as the writer keeps it (it
sends nothing for it: the begin hook of :mod:`bastion.store.database`), so what a turn
runs through SQLAlchemy never begins or ends a transaction behind the writer's back; the
``BEGIN`` and ``COMMIT`` are told to :mod:`bastion.store.unseen` for the tests that count
statements.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from bastion.errors import Unavailable
from bastion.store import unseen
from bastion.store.failures import meaning
from bastion.store.sqlite_inline import InlineConnection

log = logging.getLogger("bastion.store")

QUEUE_FULL = "Too many writes are waiting; retry shortly"
WAITED_TOO_LONG = "A write waited too long for its turn; retry shortly"

# Turns a group holds at most: bounds how long the first turn of a group waits for its commit.
MAX_GROUP = 200


@dataclass
class WriterLimits:
    """How much the writer queues before it refuses."""

    max_queue: int = 1_000
    wait_timeout: float = 10.0


@dataclass
class _Group:
    """The turns one commit makes durable."""

    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    turns: int = 0


class Savepoint(Protocol):
    """What a turn's savepoint does when the turn ends: keep its writes or undo them."""

    async def commit(self) -> None:
        """Keep the turn's writes in the group's transaction."""

    async def rollback(self) -> None:
        """Undo the turn's writes, and only them."""


# One name will do: turns never overlap, so a turn's savepoint is the only one open.
_SAVEPOINT = "bastion_turn"


class _DirectSavepoint:
    """A savepoint sent straight to the inline driver's SQLite connection, unseen by
    SQLAlchemy."""

    def __init__(self, driver: InlineConnection) -> None:
        self._driver = driver
        driver.run(f"SAVEPOINT {_SAVEPOINT}")

    async def commit(self) -> None:
        self._driver.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")

    async def rollback(self) -> None:
        self._driver.run(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        self._driver.run(f"RELEASE SAVEPOINT {_SAVEPOINT}")


class _Transactions(Protocol):
    """How the writer's connection begins and ends the group's transaction."""

    async def begin(self) -> None:
        """Begin a write transaction (taking SQLite's write lock)."""

    async def commit(self) -> None:
        """Make the transaction durable."""

    async def rollback(self) -> None:
        """Undo the whole transaction."""


class _DirectTransactions:
    """The transaction's statements sent straight to the inline driver (see the module); a
    failing one raises what SQLAlchemy would have raised for it."""

    def __init__(self, driver: InlineConnection) -> None:
        self._driver = driver

    async def begin(self) -> None:
        unseen.tell("BEGIN IMMEDIATE")
        with _raised_as_sqlalchemy():
            await self._driver.begin_write()

    async def commit(self) -> None:
        unseen.tell("COMMIT")
        with _raised_as_sqlalchemy():
            await self._driver.commit()

    async def rollback(self) -> None:
        with _raised_as_sqlalchemy():
            await self._driver.rollback()


@contextmanager
def _raised_as_sqlalchemy() -> Iterator[None]:
    """A driver error inside the block, raised as SQLAlchemy would have raised it."""
    try:
        yield
    except sqlite3.Error as error:
        raise _as_sqlalchemy(error) from error


def _as_sqlalchemy(error: sqlite3.Error) -> StatementError:
    return DBAPIError.instance(None, None, error, sqlite3.Error)


class _SQLAlchemyTransactions:
    """The transaction as SQLAlchemy's (another driver: aiosqlite, for a database in memory)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._transaction: AsyncTransaction | None = None

    async def begin(self) -> None:
        self._transaction = await self._conn.begin()

    async def commit(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            await transaction.commit()

    async def rollback(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            await transaction.rollback()


@dataclass(frozen=True)
class WriterConnection:
    """The writer's connection, as :class:`GroupCommitWriter`'s ``connect`` opens it."""

    connection: AsyncConnection
    driver: InlineConnection | None
    """The inline driver's connection, when the writer sends the transaction's statements to it
    itself: then SQLAlchemy's transaction is already open on ``connection`` and sends nothing."""


class Guard(Protocol):
    """What says that writes can no longer be kept (the database file's identity)."""

    def check(self) -> None:
        """Raise when writes can no longer be kept: looks (a system call)."""

    def check_known(self) -> None:
        """Raise when :meth:`check` found so already: no look."""


class _Turns:
    """A first-come first-served lock whose waiters give up after ``timeout`` seconds
    (``TimeoutError``); one timer watches the oldest waiter instead of one per waiter."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._held = False
        self._queue: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def acquire(self) -> None:
        """Wait for the lock (taken at once when it is free and nobody waits)."""
        if not self._held and not self._queue:
            self._held = True
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((loop.time(), future))
        if self._timer is None:
            self._timer = loop.call_at(loop.time() + self._timeout, self._expire)
        try:
            await future
        except asyncio.CancelledError:
            # Cancelled after the lock was handed over: hand it on.
            if future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Hand the lock to the first live waiter, or free it."""
        while self._queue:
            _, future = self._queue.popleft()
            if not future.done():
                future.set_result(None)
                return
        self._held = False

    def _expire(self) -> None:
        """Fail the waiters that have waited ``timeout``; watch the next oldest."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._queue and self._queue[0][0] + self._timeout <= now:
            _, future = self._queue.popleft()
            if not future.done():
                future.set_exception(TimeoutError())
        if self._queue:
            self._timer = loop.call_at(self._queue[0][0] + self._timeout, self._expire)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


@dataclass
class Ticket:
    """One turn on the writer's connection."""

    connection: AsyncConnection
    savepoint: Savepoint | None  # None for the first turn of a group
    group: _Group


class GroupCommitWriter:
    """Every write transaction of one process, serialised on one connection."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[WriterConnection]],
        limits: WriterLimits | None = None,
        guard: Guard | None = None,
    ) -> None:
        """``connect`` opens the writer's connection (once, on first use). ``guard`` looks
        before each commit (what it raises fails the whole group, unacknowledged) and refuses a
        turn at once when it found so before (the database file's identity,
        :mod:`bastion.store.identity`): one look per commit, not per turn."""
        self._connect = connect
        self._guard = guard
        self._limits = limits or WriterLimits()
        self._turn = _Turns(self._limits.wait_timeout)
        self._waiting = 0
        self._conn: AsyncConnection | None = None
        self._driver: InlineConnection | None = None  # the inline driver's, when it is that
        self._transactions: _Transactions | None = None
        self._open = False  # whether a group's transaction is open
        self._group: _Group | None = None
        self.commits = 0
        self.turns = 0

    @property
    def waiting(self) -> int:
        """Turns waiting for the connection now."""
        return self._waiting

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: the block's writes are durable when it exits without error."""
        ticket = await self.open_turn()
        try:
            yield ticket.connection
        except BaseException:
            await self.close_turn(ticket, keep=False)
            raise
        await self.close_turn(ticket, keep=True)

    async def open_turn(self) -> Ticket:
        """Wait for the connection: the start of one write transaction."""
        if self._guard is not None:
            self._guard.check_known()
        await self._acquire()
        try:
            conn, group, first = await self._begin()
            # The first turn of a group needs no savepoint: undoing it is rolling back the
            # transaction, which holds nothing else (two statements saved when writes are few).
            savepoint = None if first else await self._savepoint(conn)
        except BaseException as error:
            await self._abandon(self._group, error)
            self._turn.release()
            raise
        return Ticket(conn, savepoint, group)

    async def close_turn(self, ticket: Ticket, *, keep: bool) -> None:
        """End a turn: keep its writes (returns once they are durable; raises when the group's
        commit failed) or undo them (returns once the group is settled either way)."""
        group = ticket.group
        try:
            if ticket.savepoint is None:
                if not keep:
                    await self._roll_back_alone(group)
            elif keep:
                await ticket.savepoint.commit()
            else:
                await ticket.savepoint.rollback()
        except Exception as error:
            await self._abandon(group, error)
        finally:
            group.turns += 1
            await self._end_turn(group)
        try:
            if group.done.done():  # the group committed as this turn ended
                group.done.result()
            else:
                await asyncio.shield(group.done)
        except Exception:
            if keep:
                raise

    async def _acquire(self) -> None:
        if self._waiting >= self._limits.max_queue:
            raise Unavailable(QUEUE_FULL)
        self._waiting += 1
        try:
            await self._turn.acquire()
        except TimeoutError:
            raise Unavailable(WAITED_TOO_LONG) from None
        finally:
            self._waiting -= 1

    async def _savepoint(self, conn: AsyncConnection) -> Savepoint:
        if self._driver is not None:
            return _DirectSavepoint(self._driver)
        return await conn.begin_nested()

    async def _begin(self) -> tuple[AsyncConnection, _Group, bool]:
        """The open transaction (begun if none is), the group it belongs to, and whether this
        turn is the group's first."""
        if self._conn is None or self._conn.closed:
            opened = await self._connect()
            self._conn, self._driver = opened.connection, opened.driver
            self._transactions = (
                _DirectTransactions(opened.driver)
                if opened.driver is not None
                else _SQLAlchemyTransactions(opened.connection)
            )
        first = not self._open
        if first:
            assert self._transactions is not None
            await self._transactions.begin()
            self._open = True
            self._group = _Group()
            # A free lock is taken without leaving the loop (the inline driver's BEGIN): one
            # pass of the loop lets the writes that are ready queue now, and join this group.
            await asyncio.sleep(0)
        assert self._group is not None
        self.turns += 1
        return self._conn, self._group, first

    def _end_group(self) -> _Transactions | None:
        """Detach the open transaction and its group: the next turn begins a new one."""
        was_open, self._open, self._group = self._open, False, None
        return self._transactions if was_open else None

    async def _roll_back_alone(self, group: _Group) -> None:
        """Undo the group's only turn: roll the whole transaction back."""
        transaction = self._end_group()
        if transaction is not None:
            await transaction.rollback()
        if not group.done.done():
            group.done.set_result(None)

    async def _end_turn(self, group: _Group) -> None:
        """Let the next turn in, or commit the group when no turn is waiting."""
        try:
            if self._group is group and (self._waiting == 0 or group.turns >= MAX_GROUP):
                await self._commit(group)
        finally:
            self._turn.release()

    async def _commit(self, group: _Group) -> None:
        transaction = self._end_group()
        if transaction is None:
            return
        try:
            if self._guard is not None:
                self._guard.check()  # the last moment a write can still be refused, not lost
            await transaction.commit()
        except Exception as error:
            await self._fail(group, error)
            await self._reset()
            return
        self.commits += 1
        if not group.done.done():
            group.done.set_result(None)

    async def _abandon(self, group: _Group | None, error: BaseException) -> None:
        """The transaction broke mid-group: roll it all back and fail every turn of it."""
        transaction = self._end_group()
        if transaction is not None:
            try:
                await transaction.rollback()
            except Exception:
                log.debug("rollback after a broken write failed", exc_info=True)
        if group is not None:
            await self._fail(group, error)
        await self._reset()

    async def _fail(self, group: _Group, error: BaseException) -> None:
        known = meaning(error) if isinstance(error, Exception) else None
        if known is None:
            log.error("a group of writes failed to commit", exc_info=error)
        if not group.done.done():
            group.done.set_exception(known or error)
            # Turns that already raised their own error never read this one.
            group.done.exception()

    async def _reset(self) -> None:
        """Drop the connection after a failure; the next turn opens a fresh one."""
        conn, self._conn, self._driver = self._conn, None, None
        self._transactions = None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                log.debug("closing the writer's connection failed", exc_info=True)

    async def close(self) -> None:
        """Commit what is pending and close the connection."""
        async with self._turn:
            if self._group is not None:
                await self._commit(self._group)
            await self._reset()
