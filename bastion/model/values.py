"""Value rules shared by the GraphQL scalars, the model defaults and the store."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time; a value without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 date-time such as 2024-05-01T12:00:00Z, got {text!r}"
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Render a datetime as ISO 8601 in UTC with milliseconds: ``2024-05-01T12:00:00.000Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
