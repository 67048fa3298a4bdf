"""The context every resolver receives: who asks, and the request's data access."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLResolveInfo
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth import Viewer
from bastion.auth.assembly import AuthServices
from bastion.graphql.caller import IN_PROCESS, Caller
from bastion.graphql.loaders import Loaders
from bastion.graphql.settings import GraphQLConfig
from bastion.permissions.compile import ViewerPermissions
from bastion.store import Store
from bastion.store.database import LazyTransaction


@dataclass
class RequestContext:
    """Built once per GraphQL request by the executor."""

    viewer: Viewer
    store: Store
    transaction: LazyTransaction
    loaders: Loaders
    # The client as the HTTP edge described it; in-process documents have none.
    caller: Caller = IN_PROCESS
    auth: AuthServices | None = None
    # What the viewer may read and write; None only where no rules apply (tests of the store).
    permissions: ViewerPermissions | None = None
    # Headers a resolver wants on the HTTP response (loginUser's Authorization).
    response_headers: dict[str, str] = field(default_factory=dict)
    # Users a resolver proved to be the caller in this request (loginUser's result).
    own_user_ids: set[str] = field(default_factory=set)
    # Whether the request runs in a write transaction (a mutation).
    writes: bool = False
    # Work to do once the request's transaction is committed (after hooks); each answers an
    # error to add to the response, or None.
    after_commit: list[Callable[[], Awaitable[dict[str, Any] | None]]] = field(default_factory=list)
    # 0 for a client's request; 1 and more for documents run by functions through `api`.
    nesting: int = 0
    # The data types whose rows the generated writes of the request may have changed (a
    # superset), noted as they write: see bastion.graphql.resolvers.writes_data.
    changed_types: set[str] = field(default_factory=set)
    # The request limits; resolvers read the page sizes from them.
    limits: GraphQLConfig = field(default_factory=GraphQLConfig)

    async def connection(self) -> AsyncConnection:
        """The request's transaction (a write transaction for mutations)."""
        return await self.transaction.connection()


Info = GraphQLResolveInfo[Any]
"""The resolve info of Bastion's resolvers."""


def context_of(info: Info) -> RequestContext:
    """The typed context of a resolver call."""
    context = info.context
    assert isinstance(context, RequestContext)
    return context
