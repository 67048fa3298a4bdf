"""The custom scalars of generated schemas: ``DateTime`` and ``JSON``."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, StringValueNode, ValueNode
from graphql.utilities import value_from_ast_untyped

from bastion.model.values import format_datetime, parse_datetime


def _serialize_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, str):
        return format_datetime(parse_datetime(value))
    raise GraphQLError(f"DateTime cannot represent {value!r}")


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value  # handed back by a function's hook, never found in JSON variables
    if not isinstance(value, str):
        raise GraphQLError(f"DateTime expects an ISO 8601 string, got {value!r}")
    try:
        return parse_datetime(value)
    except ValueError as error:
        raise GraphQLError(f"DateTime {error}") from None


def _parse_datetime_literal(node: ValueNode, _variables: Any = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("DateTime expects an ISO 8601 string", node)
    return _parse_datetime(node.value)


def _check_json(value: Any) -> Any:
    """Refuse what JSON cannot carry (NaN, Infinity), so nothing unreadable is stored."""
    if isinstance(value, float) and not math.isfinite(value):
        raise GraphQLError("JSON cannot hold NaN or Infinity")
    if isinstance(value, dict):
        for item in value.values():
            _check_json(item)
    elif isinstance(value, list):
        for item in value:
            _check_json(item)
    return value


def _parse_json_literal(node: ValueNode, variables: Any = None) -> Any:
    return _check_json(value_from_ast_untyped(node, variables))


DateTimeScalar = GraphQLScalarType(
    name="DateTime",
    description="A date and time in ISO 8601, rendered in UTC: 2024-05-01T12:00:00.000Z.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
    parse_literal=_parse_datetime_literal,
)

JSONScalar = GraphQLScalarType(
    name="JSON",
    description="Any JSON value.",
    serialize=_check_json,
    parse_value=_check_json,
    parse_literal=_parse_json_literal,
)
