"""Where a generated field's value comes from, written on the field for the compiled read path.

graphql-core resolves a field by calling its resolver; the compiled read path
(:mod:`bastion.graphql.compiled`) instead reads a whole level of rows at once and projects
them, so it needs to know what each resolver would do. The schema builder says it here, in
the field's ``extensions``, once per field: a column of the row, a relation loaded in batches,
a generated root field, or a resolver the compiled path may call as graphql-core would. A
field that says nothing is answered by graphql-core's executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graphql import GraphQLField

from bastion.model import RelationField

KEY = "bastionSource"
"""The ``extensions`` key of a field's source."""


@dataclass(frozen=True)
class Column:
    """A scalar read from the row by its column name."""

    name: str
    guarded: bool
    """Whether a read rule may hide it per row or per viewer (null with FORBIDDEN)."""


@dataclass(frozen=True)
class Link:
    """A relation field, loaded for every parent of a level in one statement."""

    field: RelationField
    guarded: bool


@dataclass(frozen=True)
class Root:
    """A generated root field: ``movie(id)``, ``movies(...)`` or ``moviesCount(where)``."""

    kind: Literal["single", "many", "count"]
    type_name: str


@dataclass(frozen=True)
class Resolved:
    """A field whose resolver reads only its parent value and ``info.context``: the compiled
    path calls it with an info that holds nothing else (the viewer fields). The differential
    tests of ``bastion.graphql.compiled`` run these fields both ways."""


RESOLVED = Resolved()

Source = Column | Link | Root | Resolved


def mark(field: GraphQLField, source: Source) -> GraphQLField:
    """Write where ``field``'s value comes from; returns the field."""
    field.extensions = {**(field.extensions or {}), KEY: source}
    return field


def source_of(field: GraphQLField) -> Source | None:
    """Where ``field``'s value comes from, or None when only its resolver knows."""
    found = (field.extensions or {}).get(KEY)
    return found if isinstance(found, Column | Link | Root | Resolved) else None
