"""Storage: tables from the model, reads, writes and start-up sync, on SQLAlchemy Core."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import URL

from bastion.model import Model
from bastion.model.emails import EmailRules
from bastion.store.auth.tables import new_metadata
from bastion.store.database import Database, PoolSettings
from bastion.store.emails import EmailWriter
from bastion.store.filters import FilterCompiler
from bastion.store.reads import Node, Page, Reader
from bastion.store.sync import SyncReport, check_schema, sync_schema
from bastion.store.tables import Tables, build_tables
from bastion.store.writes import Writer
from bastion.tools.clock import Clock


@dataclass
class Store:
    """Everything that touches the database for one project."""

    db: Database
    tables: Tables
    filters: FilterCompiler
    reader: Reader
    writer: Writer
    emails: EmailRules
    """What the project takes as a new address (the writer applies it to User.email)."""

    async def sync(self) -> SyncReport:
        """Create missing tables and columns; refuse unsafe changes."""
        return await sync_schema(self.db, self.tables.metadata, list(self.tables.by_type))

    async def check(self) -> None:
        """Refuse unless the database holds the model already (a model deployed elsewhere)."""
        await check_schema(self.db, self.tables.metadata)

    async def close(self) -> None:
        """Release the connection pool."""
        await self.db.close()


def open_store(
    model: Model,
    url: URL,
    clock: Clock,
    emails: EmailRules | None = None,
    pool: PoolSettings | None = None,
) -> Store:
    """Build the store of ``model`` over the database at ``url`` (no I/O until used)."""
    tables = build_tables(model, new_metadata())
    filters = FilterCompiler(model, tables)
    emails = emails or EmailRules()
    return Store(
        db=Database(url, pool=pool),
        tables=tables,
        filters=filters,
        reader=Reader(tables, filters),
        writer=EmailWriter(model, tables, filters, clock, emails),
        emails=emails,
    )


__all__ = ["Node", "Page", "Store", "SyncReport", "open_store"]
