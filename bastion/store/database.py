"""The database connection: an async SQLAlchemy engine with Bastion's transaction rules.

SQLite runs in WAL mode with foreign keys on and ``synchronous=FULL`` (so a committed logout or
refresh survives a power cut). Python's sqlite3 module opens transactions on its own terms;
we switch that off and issue ``BEGIN`` ourselves, ``BEGIN IMMEDIATE`` for writes, so that a
write transaction takes the lock up front instead of failing half-way when another writer
got there first.

On SQLite every write transaction of the process is a turn of one connection
(:mod:`bastion.store.writer`): writers queue instead of meeting at the file lock, and one
commit makes a whole group of them durable. PostgreSQL takes concurrent writers itself, so
there each write transaction has a pooled connection of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from uuid import uuid4

from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState

from bastion.errors import ProjectError
from bastion.store import unseen
from bastion.store.identity import FileIdentity, check_not_lost, mark_created
from bastion.store.idle_ping import ping_when_idle
from bastion.store.sqlite_inline import InlineConnection, connector
from bastion.store.writer import GroupCommitWriter, Ticket, WriterConnection, WriterLimits
from bastion.tools.private_files import create_private_file

_WRITE = "bastion_write"
# Set on the writer's connection on the inline driver: the writer sends BEGIN itself.
_WRITER_BEGINS = "bastion_writer_begins"
ALONE_DIALECT = sqlite.dialect(paramstyle="named")
"""The dialect statements for :meth:`Database.read_alone` are compiled with: SQLite's, with
parameters bound by name, as ``read_alone`` passes them."""
SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_SECONDS = 10


def _driver(url: URL) -> dict[str, Any]:
    """How the engine connects: a SQLite file through the inline driver (see its module)."""
    if url.get_backend_name() == "sqlite" and url.database and not url.query:
        return {"async_creator": connector(url.database, SQLITE_BUSY_TIMEOUT_MS / 1000)}
    return {}


def _sqlite_connect(dbapi_connection: Any, _record: Any, *, foreign_keys: bool = True) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        # Off only for `bastion deploy`, whose table rebuilds check references themselves.
        f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
        "synchronous=FULL",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        # LIKE is case-insensitive in SQLite and case-sensitive in PostgreSQL; make the
        # `_contains` filters mean the same on both.
        "case_sensitive_like=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    # A COMMIT that fails (a full disk, a deferred constraint) leaves SQLite inside the
    # transaction while SQLAlchemy believes it ended, and skips its rollback-on-return: the
    # next user of the connection would find "cannot start a transaction within a transaction".
    reset = state.asyncio_safe and state.transaction_was_reset
    if reset and dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get(_WRITER_BEGINS):
        # SQLAlchemy's transaction on the writer's connection: a frame the writer's own
        # transactions come and go in (bastion.store.writer).
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE) else "BEGIN")


@dataclass(frozen=True)
class PoolSettings:
    """The connection pool of a PostgreSQL database (SQLite keeps SQLAlchemy's defaults)."""

    size: int = 10
    """Connections kept open."""
    max_overflow: int = 10
    """Connections opened beyond ``size`` under load, closed again when returned."""
    timeout: float = 30.0
    """Seconds a request waits for a free connection before it fails."""
    pgbouncer_transaction_mode: bool = False
    """Behind PgBouncer in transaction mode each transaction may get another server
    connection, so statements are not cached per connection and get unique names."""


def _unique_statement_name() -> str:
    return f"__bastion_{uuid4().hex}__"


def _postgresql_options(pool: PoolSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "pool_size": pool.size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.timeout,
        # A connection the server (or a proxy) closed while idle is found before use: pinged
        # when it sat idle (bastion.store.idle_ping), not on every checkout.
        # asyncpg waits 60 s for a server that does not answer: too long for a start.
        "connect_args": {"timeout": CONNECT_TIMEOUT_SECONDS},
    }
    if pool.pgbouncer_transaction_mode:
        # asyncpg's statement cache and SQLAlchemy's both off, and every statement named
        # afresh: two clients' "__asyncpg_stmt_1__" would otherwise meet on one server
        # connection (asyncpg issue 837).
        options["connect_args"] |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    return options


class Database:
    """One engine per server process; connections come from its pool."""

    alone_listeners: ClassVar[list[Callable[[str], None]]] = unseen.LISTENERS
    """Called with every statement :meth:`read_alone` runs, and every statement run past
    SQLAlchemy (:mod:`bastion.store.unseen`): those pass no SQLAlchemy event. How tests count
    what a request costs the database."""

    def __init__(
        self,
        url: URL,
        *,
        echo: bool = False,
        enforce_foreign_keys: bool = True,
        pool: PoolSettings | None = None,
        writer_limits: WriterLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``enforce_foreign_keys=False`` is for schema deploys only (SQLite table rebuilds);
        ``monotonic`` is the clock that says how long a pooled connection sat idle."""
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.identity: FileIdentity | None = None
        if self.is_sqlite and url.database:
            path = Path(url.database)
            # A database that existed and is gone is not silently made anew, empty.
            check_not_lost(path)
            # Made here, empty (an empty file is an empty database), so that it is the owner's
            # alone whatever the umask; SQLite gives its -wal and -shm files the same mode.
            create_private_file(path)
            mark_created(path)
            # Writes stop, unacknowledged, if the file is removed or replaced while serving.
            self.identity = FileIdentity(path)
        options = _driver(url) if self.is_sqlite else _postgresql_options(pool or PoolSettings())
        try:
            self.engine: AsyncEngine = create_async_engine(url, echo=echo, **options)
        except ModuleNotFoundError:
            raise ProjectError([missing_driver(url)]) from None
        if self.is_sqlite:
            event.listen(
                self.engine.sync_engine,
                "connect",
                partial(_sqlite_connect, foreign_keys=enforce_foreign_keys),
            )
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            event.listen(self.engine.sync_engine, "reset", _sqlite_reset)
        else:
            ping_when_idle(self.engine, monotonic)
        self.writer: GroupCommitWriter | None = (
            GroupCommitWriter(
                self._write_connection,
                writer_limits,
                guard=self.identity,
            )
            if self.is_sqlite
            else None
        )

        # A connection of its own for statements read alone (read_alone): opened on first use.
        self._alone: sqlite3.Connection | None = None
        self._alone_path = url.database if self.is_sqlite and "async_creator" in options else None

    @property
    def reads_alone(self) -> bool:
        """Whether :meth:`read_alone` can run here (a SQLite file)."""
        return self._alone_path is not None

    def read_alone(self, sql: str, parameters: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of one ``SELECT`` on SQLite, outside any transaction.

        A request whose only statement is this one needs no transaction: in WAL mode one
        statement reads one snapshot. Skipping the pool's checkout, ``BEGIN`` and the
        rollback on return saves most of what such a request costs besides the statement.
        The call never awaits, so one connection serves the whole event loop, one statement
        at a time (as the inline driver runs every statement: :mod:`.sqlite_inline`).
        """
        conn = self._alone
        if conn is None:
            assert self._alone_path is not None
            conn = sqlite3.connect(self._alone_path, isolation_level=None, check_same_thread=False)
            _sqlite_connect(conn, None)
            self._alone = conn
        unseen.tell(sql)
        row: tuple[Any, ...] | None = conn.execute(sql, parameters).fetchone()
        return row

    async def _write_connection(self) -> WriterConnection:
        conn = await self.engine.connect()
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            if not isinstance(driver, InlineConnection):
                await conn.execution_options(**{_WRITE: True})
                return WriterConnection(conn, None)
            # The writer begins and ends its transactions on the driver; SQLAlchemy's, begun
            # once here without a statement, keeps what a turn runs through it from beginning
            # one of its own.
            await conn.execution_options(**{_WRITER_BEGINS: True})
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        return WriterConnection(conn, driver)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction: one consistent snapshot for everything it runs."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed when the block ends, rolled back on any error.

        Inside a GraphQL mutation whose transaction is open on SQLite, it joins that transaction
        in a savepoint: the request holds the only writer, so a transaction of its own would wait
        for the request's end. (On PostgreSQL it is a transaction of its own.)"""
        request = self._request_holding_writer()
        if request is not None:
            conn = await request.connection()
            async with conn.begin_nested():
                yield conn
            return
        if self.writer is not None:
            async with self.writer.turn() as conn:
                yield conn
            return
        self.wrote_apart()
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE: True})
            async with conn.begin():
                yield conn

    def wrote_apart(self) -> None:
        """Note that a write commits apart from the GraphQL request this task serves (a
        transaction of its own, or one autocommit statement, on PostgreSQL): the request's
        own transaction cannot undo it, so the request is not run again (LazyTransaction)."""
        outer = _request_write.get()
        if outer is not None and outer._db is self:
            outer.wrote_apart = True

    @asynccontextmanager
    async def apart(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection outside any transaction, on PostgreSQL: for a write of one
        statement, which is its own transaction (:mod:`bastion.store.direct`). Like a write
        transaction of its own, nothing the request does after it undoes it."""
        assert not self.is_sqlite, "SQLite writes take turns on the writer: use write()"
        self.wrote_apart()
        async with self.engine.connect() as conn:
            yield conn

    def holds_request_write(self) -> bool:
        """Whether the GraphQL request this task serves holds SQLite's writer (its mutation
        wrote already): a write now joins its transaction and is undone if the request fails.
        What must be kept whatever the request does (a failed login's count) cannot be written
        until it ends."""
        return self._request_holding_writer() is not None

    def _request_holding_writer(self) -> LazyTransaction | None:
        request = _request_write.get()
        if self.writer is None or request is None or request._db is not self:
            return None
        return request if request.is_open else None

    def lazy(self, *, write: bool) -> LazyTransaction:
        """A transaction that opens on first use: requests that need no data cost nothing."""
        return LazyTransaction(self, write=write)

    async def close(self) -> None:
        """Commit pending writes, then close every pooled connection."""
        if self.writer is not None:
            await self.writer.close()
        if self._alone is not None:
            self._alone.close()
            self._alone = None
        await self.engine.dispose()


def missing_driver(url: URL) -> str:
    """The one line that says which extra to install for the database of ``url``."""
    if url.get_backend_name() == "postgresql":
        return (
            "bastion.yml: database.url is a postgresql:// URL but its driver, asyncpg, is not "
            "installed: pip install 'bastion[postgres]'"
        )
    return f"bastion.yml: database.url: the {url.get_backend_name()} driver is not installed"


# The write transaction of the GraphQL request this task serves, if any: a write the request
# makes through ``Database.write`` joins it instead of waiting for a turn it holds itself.
_request_write: ContextVar[LazyTransaction | None] = ContextVar(
    "bastion_request_write", default=None
)


class LazyTransaction:
    """One transaction for one GraphQL request, opened when a resolver first needs it."""

    def __init__(self, db: Database, *, write: bool) -> None:
        self._db = db
        self._write = write
        self._conn: AsyncConnection | None = None
        self._ticket: Ticket | None = None
        # Made when a resolver first asks for the connection: most reads never open one.
        self._lock: asyncio.Lock | None = None
        self.was_used = False
        self.wrote_apart = False
        """Whether a write of the request committed in a transaction of its own (on
        PostgreSQL: a login's count, say): running the request again would do it twice."""
        self._marker: Token[LazyTransaction | None] | None = (
            _request_write.set(self) if write else None
        )

    @property
    def is_open(self) -> bool:
        """Whether a resolver has opened the transaction already."""
        return self._conn is not None

    async def connection(self) -> AsyncConnection:
        """The transaction's connection; concurrent resolvers share it."""
        if self._conn is not None:
            return self._conn
        lock = self._lock
        if lock is None:  # (no await since the check: the first caller makes it)
            lock = self._lock = asyncio.Lock()
        async with lock:
            if self._conn is None:
                writer = self._db.writer
                if self._write and writer is not None:
                    self._ticket = await writer.open_turn()
                    self._conn = self._ticket.connection
                    self.was_used = True
                    return self._conn
                conn = await self._db.engine.connect()
                try:
                    if self._write:
                        await conn.execution_options(**{_WRITE: True})
                    await conn.begin()
                except BaseException:
                    await conn.close()
                    raise
                self._conn = conn
                self.was_used = True
        return self._conn

    async def finish(self, *, commit: bool) -> None:
        """Commit or roll back, then give the connection back to the pool."""
        if self._marker is not None:
            _request_write.reset(self._marker)
            self._marker = None
        conn, self._conn = self._conn, None
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            await self._db.writer.close_turn(ticket, keep=commit)  # type: ignore[union-attr]
            return
        if conn is None:
            return
        try:
            if commit:
                await conn.commit()
            else:
                await conn.rollback()
        finally:
            await conn.close()
