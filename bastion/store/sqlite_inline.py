"""SQLite for the event loop: statements run inline, only the waits go to a thread.

SQLAlchemy's asyncio SQLite dialect drives ``aiosqlite``, which runs every call on a thread of
its own: each statement is a hop to that thread and back, and under load the hops (and the
threads fighting for the GIL) cost more than the statements. A prepared SQLite statement on a
small table takes microseconds, so this driver runs statements on the event loop's thread and
hands a thread only the calls that can wait: ``COMMIT`` (the fsync), connecting and closing (a
WAL checkpoint), and ``BEGIN IMMEDIATE`` when another process holds the write lock. That one
is tried inline first with a busy timeout of zero, which takes a free lock at once or fails
at once; only a lock held elsewhere is waited for in a thread, with the connection's busy
timeout (most writes find the lock free: this process's writes take turns on one connection).

It is a stand-in for ``aiosqlite.Connection`` with the part of its interface the dialect uses,
plugged in through ``create_async_engine(async_creator=...)``; SQLAlchemy still owns pooling,
transactions and the adaptation to its DBAPI. Every call on one connection comes from one task
at a time (SQLAlchemy's per-connection mutex, the writer's turns), so the connection is opened
with ``check_same_thread=False`` only for the hops, never for concurrent use.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Statements that may wait (a lock held by another process, an fsync): run off the loop.
_WAITING = ("BEGIN IMMEDIATE", "COMMIT", "END")
_TAKE_LOCK = "BEGIN IMMEDIATE"


def _waits(sql: str) -> bool:
    return sql.lstrip()[:15].upper().startswith(_WAITING)


def _begun_at_once(connection: sqlite3.Connection, busy_ms: int) -> bool:
    """Run ``BEGIN IMMEDIATE`` only if the write lock is free: True when it began.

    With a busy timeout of zero SQLite answers SQLITE_BUSY at once instead of sleeping and
    polling, and starts no transaction; the connection's timeout is set back either way.
    """
    connection.execute("PRAGMA busy_timeout = 0").close()
    try:
        connection.execute(_TAKE_LOCK).close()
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            return False
        raise
    finally:
        connection.execute(f"PRAGMA busy_timeout = {busy_ms}").close()
    return True


def _take_lock(connection: sqlite3.Connection) -> None:
    connection.execute(_TAKE_LOCK).close()


class InlineCursor:
    """An ``aiosqlite.Cursor`` look-alike over a ``sqlite3.Cursor``."""

    def __init__(self, cursor: sqlite3.Cursor, busy_ms: int) -> None:
        self._cursor = cursor
        self._busy_ms = busy_ms

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        """Run one statement: inline, or in a thread when it may wait."""
        arguments = (sql,) if parameters is None else (sql, parameters)
        if _waits(sql):
            if sql == _TAKE_LOCK and _begun_at_once(self._cursor.connection, self._busy_ms):
                return self
            await asyncio.to_thread(self._cursor.execute, *arguments)
        else:
            self._cursor.execute(*arguments)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        """Run one statement for each of ``rows``."""
        self._cursor.executemany(sql, rows)
        return self

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` rows."""
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()

    @property
    def description(self) -> Any:
        """The result's columns (DBAPI)."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the last inserted row."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Rows ``fetchmany`` takes by default."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Immediately:
    """What the dialect takes for aiosqlite's work queue: it runs the work at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineConnection:
    """An ``aiosqlite.Connection`` look-alike over a ``sqlite3.Connection``."""

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        """``timeout``: the seconds of the connection's busy timeout."""
        self._conn: sqlite3.Connection | None = connection
        self._busy_ms = round(timeout * 1000)
        self._tx = _Immediately()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # The dialect tests this to know whether the connection is still open.
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        """The sqlite3 module's transaction mode (None: Bastion issues BEGIN itself)."""
        return self._open().isolation_level

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return self._conn is not None and self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        """A new cursor (also usable as ``async with``)."""
        return InlineCursor(self._open().cursor(), self._busy_ms)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        """Run one statement on a new cursor."""
        return await self.cursor().execute(sql, parameters)

    def run(self, sql: str) -> None:
        """Run a statement that never waits and returns no rows (a savepoint's), at once.

        For the writer's savepoints (:mod:`bastion.store.writer`), which SQLAlchemy does not
        see: no cursor kept, no hop through the dialect.
        """
        self._open().execute(sql).close()

    def rows(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Run a statement that never waits (not a BEGIN or COMMIT), at once; its rows.

        For the statements compiled once and run past SQLAlchemy (:mod:`bastion.store.direct`).
        """
        cursor = self._open().execute(sql, parameters)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    async def begin_write(self) -> None:
        """``BEGIN IMMEDIATE``: at once when the write lock is free, else waited for in a
        thread with the connection's busy timeout (another process holds the lock).

        For the writer (:mod:`bastion.store.writer`), which sends its transactions' statements
        itself, past SQLAlchemy.
        """
        connection = self._open()
        if not _begun_at_once(connection, self._busy_ms):
            await asyncio.to_thread(_take_lock, connection)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Register an SQL function (the dialect's ``regexp``)."""
        self._open().create_function(*args, **kwargs)

    async def commit(self) -> None:
        """Commit: the fsync runs in a thread."""
        connection = self._open()
        if connection.in_transaction:
            await asyncio.to_thread(connection.commit)

    async def rollback(self) -> None:
        """Roll back (no disk wait: the WAL is only truncated logically)."""
        self._open().rollback()

    async def close(self) -> None:
        """Close; the last connection's WAL checkpoint runs in a thread."""
        connection, self._conn = self._conn, None
        if connection is not None:
            await asyncio.to_thread(connection.close)

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        connection, self._conn = self._conn, None
        if connection is not None:
            connection.close()


def connector(path: str, timeout: float) -> Callable[[], Any]:
    """The ``async_creator`` of an engine on the SQLite file at ``path``."""

    async def connect() -> InlineConnection:
        connection = await asyncio.to_thread(
            sqlite3.connect,
            path,
            timeout=timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        return InlineConnection(connection, timeout)

    return connect
