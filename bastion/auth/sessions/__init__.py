"""Sessions: login, single-use refresh tokens with reuse detection, logout, revocation.

:class:`Sessions` is the one object the rest of Bastion uses; its parts live by seam:

- :mod:`~bastion.auth.sessions.issuing`: a session starts; token pairs; successor derivation;
- :mod:`~bastion.auth.sessions.refresh`: the single-use refresh, the reuse interval, theft;
- :mod:`~bastion.auth.sessions.ending`: logout, revocation, the live sessions of a user;
- :mod:`~bastion.auth.sessions.cache`: the per-process session-state cache, renewal;
- :mod:`~bastion.auth.sessions.values`: the values they take and give.

Their statements are in :mod:`bastion.store.auth.sessions` and
:mod:`bastion.store.auth.refresh_tokens`.

Sessions opened through the Stitch client API refresh the other way, because the SDKs keep
sending the refresh token they got at login: there it is a session token, valid until logout,
revocation, the idle lifetime or the session's end, stored only as a SHA-256 on the session
row (:mod:`bastion.auth.session_tokens`). The two families never meet: a rotating refresh
token is looked up only in the refresh table, a session token only on the session row, so
neither route accepts the other's token.
"""

from __future__ import annotations

from bastion.auth.sessions.cache import StateCache
from bastion.auth.sessions.ending import Ending
from bastion.auth.sessions.issuing import PreparedSession
from bastion.auth.sessions.refresh import Refreshing
from bastion.auth.sessions.values import (
    RefreshRefused,
    SessionInfo,
    SessionState,
    Start,
    TokenPair,
    hash_token,
)

STATE_TTL_SECONDS = 1.0
"""How long this process trusts a session's state without reading it again: the bound on how
late a revocation made by another process (a worker, the CLI) takes effect here."""


class Sessions(Refreshing, Ending, StateCache):
    """Session and refresh-token bookkeeping over the system tables.

    One object of several parts (mixins over :class:`~bastion.auth.sessions.base.SessionsBase`)
    rather than several objects: the parts share the cache's generation and the store's
    statements, and a method replaced on this class (as the concurrency tests replace
    ``_revoke``, ``_load_state`` and ``state``) is the one every part calls.
    """

    def _state_ttl(self) -> float:
        # Read from this module at every check, so that a bound set here is the one used.
        return STATE_TTL_SECONDS


__all__ = [
    "STATE_TTL_SECONDS",
    "PreparedSession",
    "RefreshRefused",
    "SessionInfo",
    "SessionState",
    "Sessions",
    "Start",
    "TokenPair",
    "hash_token",
]
