"""Node tokens for server code: ``bastion.generate_auth_token`` (graphcool-lib's
``generateNodeToken``), which needs the project's signing keys and no running server."""

from __future__ import annotations

from datetime import timedelta

from bastion.auth.assembly import access_tokens_for, signing_keys_for
from bastion.auth.keys import KeySet
from bastion.auth.node_tokens import DEFAULT_LIFETIME, NodeTokens
from bastion.auth.project_view import AuthProject
from bastion.tools.clock import Clock, system_clock


def generate_auth_token(
    project: AuthProject,
    node_id: str,
    type_name: str,
    lifetime: int | timedelta = DEFAULT_LIFETIME,
    *,
    keys: KeySet | None = None,
    clock: Clock = system_clock,
) -> str:
    """A temporary access token bound to a node of ``project`` (a :class:`bastion.Project`).

    The node is checked when the token is used, not here: this needs no database, only the
    project's signing keys (``BASTION_SIGNING_KEYS`` or ``.bastion/keys``), unless ``keys``
    gives them.
    """
    if keys is None:
        # Signing only: the server secret (which verifies legacy tokens) is not needed.
        keys = signing_keys_for(project, clock)
    tokens = access_tokens_for(project, keys, clock)
    return NodeTokens(tokens, project.model).issue(node_id, type_name, lifetime)


generate_node_token = generate_auth_token
"""graphcool-lib's name for :func:`generate_auth_token`."""
