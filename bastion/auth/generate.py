"""Node tokens for server code: ``bastion.generate_auth_token`` (graphcool-lib's
``generateNodeToken``), which needs the project's signing keys and no running server."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from bastion.auth.assembly import access_tokens_for, key_store_for
from bastion.auth.cluster import EventLog
from bastion.auth.derived import DerivedSecrets
from bastion.auth.keys import KEYS_ENV, KeySet, open_keys
from bastion.auth.node_tokens import DEFAULT_LIFETIME, NodeTokens, checked_lifetime
from bastion.auth.project_view import AuthProject
from bastion.auth.secret import load_secret
from bastion.errors import ProjectError
from bastion.store import open_store
from bastion.store.auth.meta import MetaRows
from bastion.store.auth.tables import META_TABLE
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

    The node is checked when the token is used, not here: this needs no server, only the
    project's signing keys: ``keys``, else ``BASTION_SIGNING_KEYS``, else its database (which
    the project's first start filled).
    """
    checked_lifetime(project.model, node_id, type_name, lifetime)  # before any database read
    if keys is None and KEYS_ENV in os.environ:
        keys = open_keys(None, clock)
    if keys is not None:
        tokens = access_tokens_for(project, keys, clock)
        return NodeTokens(tokens, project.model).issue(node_id, type_name, lifetime)
    url = project.database_url
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise _not_started(project)  # before opening it, which would make an empty database
    # A coroutine of its own, on a loop of its own: the caller may be sync code, or async code
    # already running a loop (a test, a notebook).
    work = _from_database(project, node_id, type_name, lifetime, clock)
    with ThreadPoolExecutor(1, thread_name_prefix="bastion-node-token") as pool:
        return pool.submit(asyncio.run, work).result()


def _not_started(project: AuthProject) -> ProjectError:
    return ProjectError(
        [
            f"{project.root}: the project has not started yet: start it once (`bastion "
            "serve`) so that its database holds its signing keys"
        ]
    )


async def _from_database(
    project: AuthProject, node_id: str, type_name: str, lifetime: int | timedelta, clock: Clock
) -> str:
    store = open_store(project.model, project.database_url, clock)
    try:
        async with store.db.read() as conn:
            if not await conn.run_sync(lambda c: c.dialect.has_table(c, META_TABLE)):
                raise _not_started(project)
        meta = MetaRows(store.tables.metadata.tables[META_TABLE])
        secret = load_secret(project.data_dir)  # the legacy key aside, it opens the keys
        derived = DerivedSecrets(secret, project.config.app_id, store.db, meta, clock)
        if await derived.read() is None:
            raise _not_started(project)
        keys = KeySet(clock, key_store_for(project, store, derived, EventLog(None, clock), clock))
        await keys.load()
        tokens = access_tokens_for(project, keys, clock)
        token = NodeTokens(tokens, project.model).issue(node_id, type_name, lifetime)
        await keys.settle()  # the expiry it signed, recorded for pruning
        return token
    finally:
        await store.close()


generate_node_token = generate_auth_token
"""graphcool-lib's name for :func:`generate_auth_token`."""
