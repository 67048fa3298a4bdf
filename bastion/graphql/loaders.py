"""Per-request batch loaders: one SELECT per relation level instead of one per node.

A relation resolver does not query; it asks a loader and gets a future. aiodataloader gathers
every key asked for in the same tick of the event loop and runs one batched read for them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiodataloader import DataLoader

from bastion.store import Node, Page, Store
from bastion.store.database import LazyTransaction
from bastion.store.filters import ReadPolicy


def _page_key(page: Page) -> str:
    return json.dumps(
        [page.where, page.order_by, page.first, page.skip], sort_keys=True, default=str
    )


class Loaders:
    """The loaders of one request; cleared after each write so later reads see it."""

    def __init__(
        self, store: Store, transaction: LazyTransaction, policy: ReadPolicy | None = None
    ) -> None:
        self._store = store
        self._transaction = transaction
        self._policy = policy
        self._loaders: dict[tuple[str, ...], DataLoader[str, Any]] = {}

    def _loader(
        self, key: tuple[str, ...], batch: Callable[[list[str]], Coroutine[Any, Any, list[Any]]]
    ) -> DataLoader[str, Any]:
        loader = self._loaders.get(key)
        if loader is None:
            loader = DataLoader(batch_load_fn=batch)
            self._loaders[key] = loader
        return loader

    def node(self, type_name: str, node_id: str) -> Awaitable[Node | None]:
        """The node ``type_name`` with this id, or None."""

        async def batch(ids: list[str]) -> list[Node | None]:
            conn = await self._transaction.connection()
            found = await self._store.reader.by_ids(conn, type_name, ids, self._policy)
            return [found.get(i) for i in ids]

        result: Awaitable[Node | None] = self._loader(("node", type_name), batch).load(node_id)
        return result

    def children(
        self, type_name: str, column: str, parent_id: str, page: Page
    ) -> Awaitable[list[Node]]:
        """Nodes of ``type_name`` whose ``column`` points at ``parent_id``, one page each."""

        async def batch(parents: list[str]) -> list[list[Node]]:
            conn = await self._transaction.connection()
            found = await self._store.reader.by_key(
                conn, type_name, column, parents, page, self._policy
            )
            return [found.get(p, []) for p in parents]

        key = ("children", type_name, column, _page_key(page))
        result: Awaitable[list[Node]] = self._loader(key, batch).load(parent_id)
        return result

    def clear(self) -> None:
        """Forget everything loaded so far (after a write)."""
        self._loaders.clear()
