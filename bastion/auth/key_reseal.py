"""Sealing the stored signing keys again when the server secret changes.

The private keys in the database are sealed with a key derived from the server secret
(:mod:`bastion.auth.key_store`): a node started with another secret cannot open them and
refuses to start (``SERVER_SECRET_MISMATCH``). ``bastion keys reencrypt`` opens them with the
previous secret and seals them with the current one, in one transaction, without starting
the project (which that refusal would stop).
"""

from __future__ import annotations

from bastion.auth.assembly import key_store_for
from bastion.auth.cluster import EventLog
from bastion.auth.derived import DerivedSecrets
from bastion.auth.key_store import PURPOSE
from bastion.auth.project_view import AuthProject
from bastion.auth.sealing import Sealer
from bastion.auth.secret import load_secret
from bastion.errors import ProjectError
from bastion.store import Store
from bastion.store.auth.meta import MetaRows
from bastion.store.auth.tables import META_TABLE
from bastion.tools.clock import Clock


async def reseal_signing_keys(
    project: AuthProject, store: Store, old_secret: bytes, clock: Clock
) -> list[str]:
    """Seal with the project's current secret every stored key that opens with
    ``old_secret``; the kids sealed again (keys sealed with the current one already are
    left as they are). A key that opens with neither changes nothing and is an error."""
    meta = MetaRows(store.tables.metadata.tables[META_TABLE])
    app_id = project.config.app_id
    current = DerivedSecrets(load_secret(project.data_dir), app_id, store.db, meta, clock)
    if await current.read() is None:
        raise ProjectError([f"{project.root}: the project has not started yet: no key to seal"])
    previous = DerivedSecrets(old_secret, app_id, store.db, meta, clock)
    await previous.read()
    keys = key_store_for(project, store, current, EventLog(None, clock), clock)
    return await keys.reseal(Sealer(previous, PURPOSE))
