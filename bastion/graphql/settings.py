"""``graphql:`` in ``bastion.yml`` — how large and how deep a request may be.

Every limit is checked before execution, so a hostile document costs a parse and a walk, never
a database query. Each is configurable; ``null`` turns one off (for a trusted internal API only).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from bastion.tools.section import Section

_Limit = Annotated[int, Field(ge=1, le=10_000_000)] | None


class GraphQLConfig(Section):
    """``graphql:`` — the request limits of the GraphQL routes (``/graphql`` and Stitch's)."""

    # Nesting of fields, fragments flattened; introspection fields are not counted (graphql-core
    # bounds those itself), so explorers keep working under the default.
    max_depth: _Limit = 12
    # Aliased fields in a document, each use of a fragment counted: aliases are how one request
    # asks for the same expensive field hundreds of times.
    max_aliases: _Limit = 30
    # Lexical tokens of the document, enforced by graphql-core's parser while it reads.
    max_tokens: _Limit = 2000
    # Directives in a document, fragments flattened (directive overloading).
    max_directives: _Limit = 50
    # The most objects a request could return: each object field counts its list size (its
    # `first`, or the default page size) times the sizes of the lists around it. GitHub's
    # published node limit: two nested default pages pass, a third needs a smaller `first`.
    max_cost: _Limit = 500_000
    # `first` may not ask for more; a list without `first` returns default_page_size items.
    max_page_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    default_page_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    compiled: Annotated[
        bool,
        Field(
            description=(
                "Answer the queries Bastion generates (lists, nodes, counts, relations, the "
                "viewer) with plans compiled once per document instead of resolving field by "
                "field; the answers are the same. Off sends every request through graphql-core's "
                "executor."
            )
        ),
    ] = True

    @model_validator(mode="after")
    def _default_within_max(self) -> Self:
        if self.default_page_size > self.max_page_size:
            raise ValueError(
                f"default_page_size ({self.default_page_size}) is larger than "
                f"max_page_size ({self.max_page_size})"
            )
        return self
