"""Removing old anonymous users.

Every anonymous login makes a user, so they pile up. A user is anonymous while its only way
in is the anon-user identity (linking an email or a token makes it a real user). Pruning
removes those made before a cutoff that have not refreshed a session since, each in its own
transaction, through the store's deletes, so the model's ``onDelete`` rules apply to their
data; one that a RESTRICT relation holds is kept and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table

from bastion.auth.identities import ANONYMOUS
from bastion.errors import BastionError
from bastion.store import Store
from bastion.store.auth.users import only_of_provider


@dataclass
class PrunedAnonymous:
    """What a pruning did."""

    deleted: int = 0
    kept: list[str] = field(default_factory=list)  # "<id>: <why>" for each one not deleted


async def prune_anonymous(
    store: Store,
    identities: Table,
    passwords: Table,
    sessions: Table,
    cutoff: datetime,
) -> PrunedAnonymous:
    """Delete anonymous users created before ``cutoff`` and unused since."""
    async with store.db.read() as conn:
        ids = await only_of_provider(
            conn,
            users=store.tables["User"],
            identities=identities,
            passwords=passwords,
            sessions=sessions,
            provider=ANONYMOUS,
            cutoff=cutoff,
        )
    result = PrunedAnonymous()
    for user_id in ids:
        try:
            async with store.db.write() as conn:
                await store.writer.delete(conn, "User", user_id)
        except BastionError as error:
            result.kept.append(f"{user_id}: {error.message}")
        else:
            result.deleted += 1
    return result
