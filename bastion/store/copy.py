"""Copy every row of a project's database into another database (``bastion migrate-data``).

The copy reads one snapshot of the source and writes the target in one transaction: the
target ends up holding all of it or, on any failure, none of it. Tables are filled parents
first (:attr:`MetaData.sorted_tables`); a reference the order cannot satisfy (a type that
links to itself, or a cycle) is written empty first and filled in once every row is there,
so no foreign key is ever switched off. PostgreSQL's counters behind integer keys are moved
past the copied values, so the next insert does not collide with a copied row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import BastionError, Code
from bastion.store.database import Database

BATCH_ROWS = 1000


class TargetNotEmpty(BastionError):
    """The target database already holds rows, and the copy was not told to replace them."""

    code = Code.BAD_USER_INPUT


class CopyMismatch(BastionError):
    """The rows counted in the target after the copy are not those of the source."""

    code = Code.INTERNAL_SERVER_ERROR


@dataclass(frozen=True)
class TableCount:
    """One table's rows: in the source, and in the target after the copy."""

    table: str
    source: int
    target: int


async def rows_in(db: Database, metadata: MetaData) -> dict[str, int]:
    """How many rows each of ``metadata``'s tables holds in ``db`` (0 when it has no table)."""
    async with db.read() as conn:
        present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        return {
            table.name: (await _count(conn, table)) if table.name in present else 0
            for table in metadata.sorted_tables
        }


async def ensure_empty(target: Database, metadata: MetaData) -> None:
    """Raise :class:`TargetNotEmpty` when ``target`` holds rows in any of the tables."""
    held = {name: n for name, n in (await rows_in(target, metadata)).items() if n}
    if held:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in held.items())
        raise TargetNotEmpty(
            f"the target database already holds data: {listed}; nothing was copied "
            "(--replace deletes it first)"
        )


async def copy_rows(
    source: Database,
    target: Database,
    metadata: MetaData,
    progress: Callable[[str, int], None] = lambda _table, _rows: None,
) -> list[TableCount]:
    """Copy every table of ``metadata`` from ``source`` into ``target``, whose tables must
    exist already; whatever rows they held are deleted in the same transaction (check
    :func:`ensure_empty` first unless they are meant to go)."""
    order = metadata.sorted_tables
    async with source.read() as reading, target.write() as writing:
        for table in reversed(order):
            await writing.execute(table.delete())
        done: set[str] = set()
        later: list[tuple[Table, list[Column[Any]]]] = []
        for table in order:
            forward = _forward_references(table, done)
            copied = await _copy_table(reading, writing, table, forward)
            if forward:
                later.append((table, forward))
            done.add(table.name)
            progress(table.name, copied)
        for table, columns in later:
            await _fill_references(reading, writing, table, columns)
        if writing.dialect.name == "postgresql":
            for table in order:
                await _move_counter(writing, table)
    counted_source = await rows_in(source, metadata)
    counted_target = await rows_in(target, metadata)
    counts = [
        TableCount(name, counted_source[name], counted_target[name]) for name in counted_source
    ]
    wrong = [c for c in counts if c.source != c.target]
    if wrong:
        listed = ", ".join(
            f"{c.table} ({c.source} in the source, {c.target} copied)" for c in wrong
        )
        raise CopyMismatch(f"the copy does not match its source: {listed}")
    return counts


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _forward_references(table: Table, done: set[str]) -> list[Column[Any]]:
    """The columns of ``table`` that point at a table not filled yet (itself included)."""
    return [
        column
        for column in table.columns
        if any(fk.column.table.name not in done for fk in column.foreign_keys)
    ]


async def _copy_table(
    reading: AsyncConnection, writing: AsyncConnection, table: Table, empty: list[Column[Any]]
) -> int:
    copied = 0
    blank = {column.name: None for column in empty}
    result = await reading.stream(select(table))
    async for batch in result.mappings().partitions(BATCH_ROWS):
        rows = [{**row, **blank} for row in batch]
        await writing.execute(table.insert(), rows)
        copied += len(rows)
    return copied


async def _fill_references(
    reading: AsyncConnection, writing: AsyncConnection, table: Table, columns: list[Column[Any]]
) -> None:
    keys = list(table.primary_key.columns)
    wanted = [*keys, *columns]
    result = await reading.stream(select(*wanted).where(or_(*(c.is_not(None) for c in columns))))
    async for batch in result.partitions(BATCH_ROWS):
        for row in batch:
            values = dict(zip([c.name for c in wanted], row, strict=True))
            match = [key == values[key.name] for key in keys]
            await writing.execute(
                table.update().where(*match).values({c.name: values[c.name] for c in columns})
            )


async def _move_counter(writing: AsyncConnection, table: Table) -> None:
    """Set the sequence behind an integer key past the largest copied value."""
    key = table.autoincrement_column
    if key is None:
        return
    # pg_get_serial_sequence takes the table's name as SQL would write it: quoted.
    name = writing.dialect.identifier_preparer.format_table(table)
    largest = select(func.max(key)).scalar_subquery()
    next_value = func.coalesce(largest, 0) + 1
    sequence = func.pg_get_serial_sequence(name, key.name)
    await writing.execute(select(func.setval(sequence, next_value, False)))
