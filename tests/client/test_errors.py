"""What the client raises: a GraphQL error carries the first error's fields and all of them."""

from __future__ import annotations

from typing import Any

from bastion.client import GraphQLError


def test_graphql_error_has_the_first_errors_fields_and_all_errors() -> None:
    errors: list[dict[str, Any]] = [
        {"message": "Unauthorized", "path": ["logoutAll"], "locations": [{"line": 1, "column": 12}],
         "extensions": {"code": "UNAUTHENTICATED"}},
        {"message": "Other"},
    ]  # fmt: skip
    error = GraphQLError(errors, {"logoutAll": None})
    assert (error.code, error.path, error.locations) == (
        "UNAUTHENTICATED",
        ["logoutAll"],
        [{"line": 1, "column": 12}],
    )
    assert error.errors == errors and error.data == {"logoutAll": None}
    assert str(error) == "Unauthorized (UNAUTHENTICATED)"
