"""Resolvers of the generated API: the bridge from GraphQL arguments to the store.

Each factory returns the resolver of one generated field. Relation resolvers are plain
functions returning a loader's future, so that every sibling's key reaches the loader before
it dispatches its batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bastion.graphql.context import Info, context_of
from bastion.model import RelationField
from bastion.store import Node, Page

Resolver = Callable[..., Any]


def _page(args: dict[str, Any]) -> Page:
    order = args.get("orderBy")
    return Page(
        where=args.get("where"),
        order_by=tuple(order) if order else None,
        first=args.get("first"),
        skip=args.get("skip"),
    )


def single(type_name: str) -> Resolver:
    """``movie(id: ID!)``: the node, or null when there is none."""

    def resolve(_root: Any, info: Info, id: str) -> Awaitable[Node | None]:
        return context_of(info).loaders.node(type_name, id)

    return resolve


def many(type_name: str) -> Resolver:
    """``movies(where, orderBy, first, skip)``."""

    async def resolve(_root: Any, info: Info, **args: Any) -> list[Node]:
        context = context_of(info)
        conn = await context.connection()
        return await context.store.reader.find_many(conn, type_name, _page(args))

    return resolve


def count(type_name: str) -> Resolver:
    """``moviesCount(where)``."""

    async def resolve(_root: Any, info: Info, where: Any = None) -> int:
        context = context_of(info)
        conn = await context.connection()
        return await context.store.reader.count(conn, type_name, where)

    return resolve


async def _read_back(info: Info, type_name: str, node_id: str) -> Node:
    context = context_of(info)
    context.loaders.clear()  # what was loaded before this write may be stale now
    conn = await context.connection()
    return (await context.store.reader.by_ids(conn, type_name, [node_id]))[node_id]


def create(type_name: str) -> Resolver:
    """``createMovie(data)``."""

    async def resolve(_root: Any, info: Info, data: dict[str, Any]) -> Node:
        context = context_of(info)
        conn = await context.connection()
        node_id = await context.store.writer.create(conn, type_name, data)
        return await _read_back(info, type_name, node_id)

    return resolve


def update(type_name: str) -> Resolver:
    """``updateMovie(id, data)``."""

    async def resolve(_root: Any, info: Info, id: str, data: dict[str, Any]) -> Node:
        context = context_of(info)
        conn = await context.connection()
        await context.store.writer.update(conn, type_name, id, data)
        return await _read_back(info, type_name, id)

    return resolve


def delete(type_name: str) -> Resolver:
    """``deleteMovie(id)``: returns the node as it was."""

    async def resolve(_root: Any, info: Info, id: str) -> Node:
        context = context_of(info)
        conn = await context.connection()
        node = await context.store.writer.delete(conn, type_name, id)
        context.loaders.clear()
        return node

    return resolve


def relation(field: RelationField) -> Resolver:
    """A relation field of a node, loaded in batches with its siblings."""
    column = field.relation.column

    if field.holds_key:

        def to_one(node: Node, info: Info) -> Awaitable[Node | None] | None:
            target_id = node.get(column)
            if target_id is None:
                return None
            return context_of(info).loaders.node(field.target, target_id)

        return to_one

    if not field.many:  # the back side of a one-to-one

        async def back_one(node: Node, info: Info) -> Node | None:
            rows = await context_of(info).loaders.children(field.target, column, node["id"], Page())
            return rows[0] if rows else None

        return back_one

    def to_many(node: Node, info: Info, **args: Any) -> Awaitable[list[Node]]:
        page = _page(args)
        page.check()
        return context_of(info).loaders.children(field.target, column, node["id"], page)

    return to_many
