"""Temporary tokens bound to a node of the model (Graphcool's ``generateNodeToken``).

Server code makes one for any node, a ``Movie`` say, and a request with it is authenticated as
that node: ``viewer { node { id } }`` answers it, and permission rules read it as
``$viewer.node`` and ``$viewer.type``. A token bound to a ``User`` acts as that user, as the
user's own login tokens do (``$viewer.id``). The token carries no session: it works until its
lifetime ends, or until the node is deleted (or the user deactivated), which is checked at
every request through a cache that forgets within ``STATE_TTL_SECONDS``.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bastion.auth.access_tokens import AccessClaims, AccessTokens
from bastion.auth.sessions import STATE_TTL_SECONDS
from bastion.auth.token_times import LONGEST_LIFETIME
from bastion.auth.viewer import Viewer, ViewerKind
from bastion.errors import BadUserInput
from bastion.model import Model
from bastion.store import Store
from bastion.store.auth.nodes import node_exists
from bastion.store.ids import is_id

DEFAULT_LIFETIME = 3600
MAX_LIFETIME = LONGEST_LIFETIME


def lifetime_seconds(lifetime: int | timedelta) -> int:
    """A lifetime in whole seconds, between one second and a year."""
    seconds = int(lifetime.total_seconds()) if isinstance(lifetime, timedelta) else lifetime
    if isinstance(seconds, bool) or not 1 <= seconds <= MAX_LIFETIME:
        raise BadUserInput(f"A node token lives 1 second to {MAX_LIFETIME} seconds (a year)")
    return seconds


def checked_lifetime(model: Model, node_id: str, type_name: str, lifetime: int | timedelta) -> int:
    """The lifetime in seconds of a token for ``node_id`` of ``type_name``, once the three
    are checked (a :class:`BadUserInput` otherwise)."""
    if type_name not in model.types:
        known = ", ".join(sorted(model.types))
        raise BadUserInput(f"No type {type_name!r} in the model (types: {known})", field="type")
    if not is_id(node_id):
        raise BadUserInput(f"{node_id!r} is not a node id", field="id")
    return lifetime_seconds(lifetime)


class NodeTokens:
    """Issue node tokens and turn verified ones into viewers."""

    def __init__(self, tokens: AccessTokens, model: Model, store: Store | None = None) -> None:
        self._tokens = tokens
        self._model = model
        self._store = store
        self._cache: dict[tuple[str, str], tuple[bool, float]] = {}

    def issue(
        self, node_id: str, type_name: str, lifetime: int | timedelta = DEFAULT_LIFETIME
    ) -> str:
        """A token bound to the node ``node_id`` of type ``type_name``."""
        seconds = checked_lifetime(self._model, node_id, type_name, lifetime)
        return self._tokens.issue_for_node(node_id, type_name, seconds)

    async def viewer(self, claims: AccessClaims) -> Viewer | None:
        """The viewer of a verified node token, or None when its node is gone."""
        type_name = claims.node_type
        if type_name is None or type_name not in self._model.types or self._store is None:
            return None
        if not await self._alive(type_name, claims.user_id):
            return None
        if type_name == "User":
            return Viewer(ViewerKind.USER, user_id=claims.user_id)
        return Viewer(ViewerKind.NODE, node_id=claims.user_id, node_type=type_name)

    def forget_user(self, user_id: str) -> None:
        """Drop what was read of a user (deactivated, say) for the tokens bound to them."""
        self._cache.pop(("User", user_id), None)

    async def _alive(self, type_name: str, node_id: str) -> bool:
        key = (type_name, node_id)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[1] < STATE_TTL_SECONDS:
            return cached[0]
        assert self._store is not None
        table = self._store.tables[type_name]
        async with self._store.db.read() as conn:
            # A user's token dies with the user's deactivation, as their sessions do.
            alive = await node_exists(conn, table, node_id, active=type_name == "User")
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = (alive, time.monotonic())
        return alive
