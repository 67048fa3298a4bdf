"""Statements compiled once and run on the driver's own connection, past SQLAlchemy's execute.

SQLAlchemy's ``execute`` costs far more CPU than a small statement does: on the inline SQLite
driver about 190 µs against 8 µs for the statement itself, and on asyncpg about 250 µs
against 130 µs for the round trip (measured with one UPDATE by primary key). For the few
statements every request of a kind runs (a refresh's), :class:`Direct` keeps SQLAlchemy for
what it is good at, the statement built from the tables and compiled for the dialect with its
quoting, and for each bound value and column the type's own processors; then it runs the
compiled text on the driver:

- on SQLite, in the transaction of the connection it is given (Bastion's ``BEGIN`` is sent
  when SQLAlchemy's transaction begins, so the statement is inside it); a statement that
  fails raises the error SQLAlchemy would have raised for it (an ``IntegrityError``, say);
- on PostgreSQL, only on a connection outside any transaction
  (:meth:`bastion.store.database.Database.apart`): SQLAlchemy's asyncpg adapter sends its
  ``BEGIN`` with the transaction's first statement of its own, which a direct statement
  would precede. There a direct statement is its own transaction, which is what a write
  of one statement wants: no ``BEGIN`` and ``COMMIT`` round trips.

Statements a request runs in a transaction it shares with SQLAlchemy's (a mutation's ``INSERT``,
its row read back) are run this way only where :func:`joins_inline` says they join it.

A statement run this way passes no SQLAlchemy event; its text goes to
:mod:`bastion.store.unseen`, as the statements read alone do, so that tests count it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

from bastion.store import unseen
from bastion.store.sqlite_inline import InlineConnection

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    """A statement's text for one dialect, its parameters in order, its processors."""

    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]
    asyncpg: bool


def _processed(value: Any, processor: Processor) -> Any:
    return value if processor is None or value is None else processor(value)


def _bound(value: Any, processor: Processor) -> Any:
    # As SQLAlchemy binds: None too goes through the type (JSON's None is 'null').
    return value if processor is None else processor(value)


def joins_inline(conn: AsyncConnection) -> bool:
    """Whether a statement run by :class:`Direct` on ``conn`` joins the transaction open on
    it at once: a SQLite connection of the inline driver, at hand, in a transaction. Elsewhere
    (PostgreSQL, where a direct statement runs only alone) run it through SQLAlchemy."""
    sync = conn.sync_connection
    if sync is None or sync.invalidated or sync.closed or not sync.in_transaction():
        return False
    return isinstance(sync.connection.driver_connection, InlineConnection)


class Direct:
    """One statement, compiled once per dialect, run on the driver (see the module)."""

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        """``statement`` binds its values by name (``bindparam``) and returns its rows, if
        any, by ``RETURNING`` or as a ``SELECT``."""
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is not None:
            return compiled
        done = self._statement.compile(dialect=dialect)
        names = tuple(done.positiontup or ())
        columns: Sequence[ColumnElement[Any]] = list(self._statement.exported_columns)
        compiled = _Compiled(
            sql=done.string,
            names=names,
            binds=tuple(
                done.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            ),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
            asyncpg=dialect.driver == "asyncpg",
        )
        self._compiled[dialect.name] = compiled
        return compiled

    async def rows(self, conn: AsyncConnection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement with ``values`` on ``conn``'s driver; the rows it returns, their
        values read as SQLAlchemy reads them."""
        compiled = self._for(conn.dialect)
        parameters = [
            _bound(values[name], processor)
            for name, processor in zip(compiled.names, compiled.binds, strict=True)
        ]
        unseen.tell(compiled.sql)
        sync = conn.sync_connection
        # The pooled connection without a hop through SQLAlchemy's greenlet when it is at hand.
        at_hand = sync is not None and not (sync.invalidated or sync.closed)
        fairy = sync.connection if sync is not None and at_hand else await conn.get_raw_connection()
        driver: Any = fairy.driver_connection
        found: Sequence[Sequence[Any]]
        if isinstance(driver, InlineConnection):
            try:
                found = driver.rows(compiled.sql, parameters)
            except sqlite3.Error as error:
                # The values stay out of the message: they may be token digests.
                raise DBAPIError.instance(
                    compiled.sql, None, error, sqlite3.Error, hide_parameters=True
                ) from error
        elif compiled.asyncpg:
            # Alone: in a transaction of SQLAlchemy's it could run before the BEGIN, which the
            # adapter sends with the transaction's first statement of its own.
            assert not conn.in_transaction(), "a direct PostgreSQL statement runs alone"
            found = await _fetched(conn, driver, compiled.sql, parameters)
        else:  # another driver (aiosqlite for an in-memory database): through SQLAlchemy
            found = (await conn.exec_driver_sql(compiled.sql, tuple(parameters))).all()
        results = compiled.results
        return [
            tuple(
                _processed(value, processor) for value, processor in zip(row, results, strict=True)
            )
            for row in found
        ]


async def _fetched(conn: AsyncConnection, driver: Any, sql: str, parameters: list[Any]) -> Any:
    """asyncpg's rows, its failures as SQLAlchemy would leave them: a connection the server
    dropped is invalidated (the pool opens another) and the error says so
    (:func:`bastion.store.failures.meaning` answers it as unreachable)."""
    try:
        return await driver.fetch(sql, *parameters)
    except Exception as error:
        if not driver.is_closed():
            raise  # the server's refusal: its SQLSTATE says what it means
        await conn.invalidate()
        # The values stay out of the message: they may be token digests.
        raise DBAPIError(
            sql, None, error, hide_parameters=True, connection_invalidated=True
        ) from error
