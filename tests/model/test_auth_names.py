"""The auth contract's root field names have one home, and it matches the fields served."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.model import names
from bastion.model.auth_names import AUTH_ROOT_FIELDS
from bastion.project import Project

EVERY_PROVIDER = {
    "providers": {
        "local-userpass": {"enabled": True, "signup": True},
        "anon-user": {"enabled": True},
        "api-key": {"enabled": True},
        "custom-token": {"enabled": True, "audience": "my-app", "secret": "s" * 40},
    }
}


async def test_every_auth_root_field_is_listed_and_every_listed_one_is_served(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project("type Note { text: String }", auth=EVERY_PROVIDER))
    schema = client.app.state.service.schema
    served = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    generated = {f for t in ("User", "Note") for f in names.names_for(t).root_fields}
    assert served - generated - {"node"} == set(AUTH_ROOT_FIELDS)


def test_the_reserved_root_fields_come_from_the_list() -> None:
    # changeEmail is the one auth field a model may still generate (on Query, not Mutation).
    assert set(AUTH_ROOT_FIELDS) - names.RESERVED_ROOT_FIELDS == {"changeEmail"}
