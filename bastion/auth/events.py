"""What the authentication floor's state depends on, told as events once it is committed.

Each event is a fact about the database, published (:class:`bastion.tools.events.EventHub`)
after the transaction that made it true has committed, never before: a listener that reads
the database on hearing it reads the new state. The composition root
(:mod:`bastion.project.service`) subscribes the per-process session-state cache
(:mod:`bastion.auth.sessions.cache`) to them. An event is a value, so that it is also carried
to the other processes sharing a PostgreSQL database (:mod:`bastion.auth.cluster`), which
publish it on their own hub as they hear of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionsEnded:
    """These sessions were revoked (a logout, a revocation, a refresh token used twice)."""

    session_ids: tuple[str, ...]


@dataclass(frozen=True)
class UserChanged:
    """The row of this user changed (their email, say): what was read of it is stale."""

    user_id: str


@dataclass(frozen=True)
class UsersChanged:
    """Rows of ``User`` may have changed (a data write, a linked identity): which, unknown."""


@dataclass(frozen=True)
class KeysChanged:
    """A signing key was made, published or pruned (``bastion keys``): read the keys again."""


@dataclass(frozen=True)
class RootTokensChanged:
    """A root token was rotated, revoked or made: what was read of the root tokens is stale."""


@dataclass(frozen=True)
class ProjectDeployed:
    """``bastion deploy`` recorded a new version of the project in the database: every serving
    process reads it and serves it (:mod:`bastion.project.redeploy`)."""

    version: str
