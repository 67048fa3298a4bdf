"""Column types shared by every table, written to behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the backend stores."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def text(length: int | None = None) -> TypeEngine[str]:
    """A text column that compares and sorts by code point on every database.

    SQLite compares text byte by byte (code point order for UTF-8); PostgreSQL uses the
    database's collation, which in most locales sorts "adam" before "Zoe" and may call two
    different strings equal. The "C" collation on PostgreSQL makes ``orderBy``, ``_lt``/``_gt``
    and ``@unique`` answer the same on both.
    """
    plain: TypeEngine[str] = Text() if length is None else String(length)
    ordered = Text(collation="C") if length is None else String(length, collation="C")
    return plain.with_variant(ordered, "postgresql")
