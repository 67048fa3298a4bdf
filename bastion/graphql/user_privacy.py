"""Other people's accounts: a ``User`` node that is not the viewer's own shows only its id.

Root tokens and Bastion itself see everything; so does a caller for the user they just proved
to be (``loginUser`` answers that user in the same request that logged in).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.errors import BastionError, Code
from bastion.graphql.context import Info, context_of
from bastion.model import ScalarField
from bastion.store import Node

PUBLIC_USER_FIELDS = frozenset({"id"})


def user_field_guard(type_name: str, field: ScalarField) -> Callable[..., Any] | None:
    """A resolver hiding ``field`` of other users' ``User`` nodes; None for other fields."""
    if type_name != "User" or field.name in PUBLIC_USER_FIELDS:
        return None
    name = field.name

    def resolve(node: Node, info: Info) -> Any:
        context = context_of(info)
        viewer = context.viewer
        if (
            viewer.is_privileged
            or node["id"] == viewer.user_id
            or (node["id"] in context.own_user_ids)
        ):
            return node.get(name)
        raise BastionError(f"Not allowed to read User.{name}", Code.FORBIDDEN)

    return resolve
