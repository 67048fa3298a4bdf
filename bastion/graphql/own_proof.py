"""Fields that prove who asks by their own arguments, and documents made only of them.

A request whose access token is refused (expired, revoked, of a deactivated user) is answered
``UNAUTHENTICATED`` so that a client's standard refresh link fires (:mod:`bastion.http
.graphql_http`). The fields the client then needs must still run with that stale header:
refreshing the token, logging in again, logging out with the refresh token. They carry their
proof in their arguments (a refresh token, a password, a key), so the header adds nothing to
them; Apollo's and urql's refresh set-ups send the expired header along with the refresh.

Fields are marked by an extension, as credential fields are (:mod:`credential_limit`), so that
the auth contract and the project's login functions can mark theirs.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)

OWN_PROOF = "bastionOwnProof"
"""The extension key that marks a root field as carrying its own proof."""


def mark_own_proof(field: GraphQLField) -> None:
    """Let ``field`` run whatever the request's ``Authorization`` header holds."""
    field.extensions = {**(field.extensions or {}), OWN_PROOF: True}


def is_own_proof(field: GraphQLField) -> bool:
    """Whether ``field`` is marked as carrying its own proof."""
    return bool((field.extensions or {}).get(OWN_PROOF))


def proves_itself(
    root: GraphQLObjectType | None,
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    """Whether every root field an operation selects (through fragments too) carries its own
    proof; ``__typename`` asks nothing of the viewer and goes with them."""
    if root is None:
        return False
    seen: set[str] = set()

    def all_own_proof(selection_set: SelectionSetNode) -> bool:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    continue
                field = root.fields.get(name)
                if field is None or not is_own_proof(field):
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not all_own_proof(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None:
                    return False
                if fragment.name.value in seen:
                    continue  # cycles are refused by validation; this is only a guard
                seen.add(fragment.name.value)
                if not all_own_proof(fragment.selection_set):
                    return False
        return True

    return bool(selections.selections) and all_own_proof(selections)
