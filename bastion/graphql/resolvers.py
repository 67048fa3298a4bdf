"""Resolvers of the generated API: the bridge from GraphQL arguments to the store.

Each factory returns the resolver of one generated field. Relation resolvers are plain
functions returning a loader's future, so that every sibling's key reaches the loader before
it dispatches its batch.

The generated writes (``createX``, ``updateX``, ``deleteX``) are marked: answerable without
graphql-core's executor when their selection is a few scalars (:mod:`.single_field`), and
known to note in the request's context every type whose rows they may have changed, so that
a mutation made only of them tells the session cache to forget users only when it wrote
``User`` rows (:func:`writes_data`).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bastion.auth.audit import email_changed, switched
from bastion.auth.events import SessionsEnded, UserChanged
from bastion.errors import BadUserInput, NotFound
from bastion.graphql.context import Info, RequestContext, context_of
from bastion.graphql.settings import GraphQLConfig
from bastion.graphql.single_field import answerable
from bastion.model import Model, OnDelete, RelationField
from bastion.model.emails import EMAIL_FIELD, EMAIL_TYPE, email_key
from bastion.permissions.compile import Forbidden
from bastion.permissions.write_checks import check_writes, journal_for
from bastion.store import Node, Page
from bastion.tools.events import EventHub

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

Resolver = Callable[..., Any]

_DATA_WRITES: weakref.WeakSet[Resolver] = weakref.WeakSet()


def _data_write(resolver: Resolver) -> Resolver:
    """Mark a generated write: answerable, and noting the types it changes."""
    _DATA_WRITES.add(resolver)
    return answerable(resolver)


def writes_data(resolver: Resolver | None) -> bool:
    """Whether ``resolver`` is a generated write (not wrapped by a hook): every type whose
    rows it changed is in the request's ``changed_types`` once it returns."""
    return resolver is not None and resolver in _DATA_WRITES


def _deleted_reach(model: Model, type_name: str) -> set[str]:
    """The types whose rows deleting a ``type_name`` may change: itself, and what the
    database unlinks (SET NULL) or deletes (CASCADE) with it, transitively."""
    reach = {type_name}
    todo = [type_name]
    while todo:
        for relation in model.pointing_at(todo.pop()):
            if relation.on_delete is not OnDelete.RESTRICT and relation.holder not in reach:
                reach.add(relation.holder)
                todo.append(relation.holder)
    return reach


def _page(args: dict[str, Any], limits: GraphQLConfig) -> Page:
    """The page a list asks for: at most ``max_page_size`` items, a default page without
    ``first`` (so that no list answers a whole table)."""
    order = args.get("orderBy")
    first = args.get("first")
    if first is None:
        first = limits.default_page_size
    elif first > limits.max_page_size:
        raise BadUserInput(
            f"`first` may be at most {limits.max_page_size} (page with `skip`)",
            max=limits.max_page_size,
        )
    return Page(
        where=args.get("where"),
        order_by=tuple(order) if order else None,
        first=first,
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
        page = checked_page(context, type_name, args)
        conn = await context.connection()
        return await context.store.reader.find_many(conn, type_name, page, context.permissions)

    return resolve


def count(type_name: str) -> Resolver:
    """``moviesCount(where)``."""

    async def resolve(_root: Any, info: Info, where: Any = None) -> int:
        context = context_of(info)
        if context.permissions is not None:
            context.permissions.check_where(type_name, where)
        conn = await context.connection()
        return await context.store.reader.count(conn, type_name, where, context.permissions)

    return resolve


def checked_page(context: RequestContext, type_name: str, args: dict[str, Any]) -> Page:
    """The page a list's arguments ask for, refused when it reads what the viewer may not."""
    page = _page(args, context.limits)
    page.check()
    if context.permissions is not None:
        context.permissions.check_where(type_name, page.where)
        context.permissions.check_order(type_name, page.order_by)
    return page


async def visible(context: RequestContext, type_name: str, node_id: str) -> Node:
    """The node as the viewer may see it; NOT_FOUND when it is missing or hidden."""
    conn = await context.connection()
    found = await context.store.reader.by_ids(conn, type_name, [node_id], context.permissions)
    if node_id not in found:
        raise NotFound(f"No {type_name} with id {node_id}")
    return found[node_id]


async def _read_back(context: RequestContext, type_name: str, node_id: str) -> Node:
    context.loaders.clear()  # what was loaded before this write may be stale now
    try:
        return await visible(context, type_name, node_id)
    except NotFound:
        # Written, but not readable by the one who wrote it: refuse the whole write.
        raise Forbidden(f"Not allowed to read the {type_name} written") from None


def create(type_name: str) -> Resolver:
    """``createMovie(data)``."""

    async def resolve(_root: Any, info: Info, data: dict[str, Any]) -> Node:
        context = context_of(info)
        conn = await context.connection()
        journal = journal_for(context.permissions)
        try:
            node_id = await context.store.writer.create(conn, type_name, data, journal=journal)
        finally:
            # A superset: connects name their targets, whose rows need not change.
            context.changed_types.update(t.type_name for t in journal.changes)
        await check_writes(context, journal)
        return await _read_back(context, type_name, node_id)

    return _data_write(resolve)


def update(type_name: str) -> Resolver:
    """``updateMovie(id, data)``: the node must be updatable before and after."""

    async def resolve(_root: Any, info: Info, id: str, data: dict[str, Any]) -> Node:
        context = context_of(info)
        await visible(context, type_name, id)
        conn = await context.connection()
        if context.permissions is not None:
            condition = context.permissions.write_condition(type_name, "update")
            await context.permissions.require(
                conn, type_name, [id], condition, f"Not allowed to update this {type_name}"
            )
        email_changes = type_name == EMAIL_TYPE and await _changes_email(context, id, data)
        if email_changes and not context.viewer.is_privileged:
            raise Forbidden(
                "The email is a credential: change it with "
                "changeEmail(input: {password, newEmail})",
                field=EMAIL_FIELD,
            )
        journal = journal_for(context.permissions)
        try:
            await context.store.writer.update(conn, type_name, id, data, journal=journal)
        finally:
            context.changed_types.add(type_name)
            context.changed_types.update(t.type_name for t in journal.changes)
        await check_writes(context, journal)
        if email_changes and context.auth:
            await context.auth.audit.record(email_changed(id, context.viewer.kind), conn)
            await _user_changed(context, conn, id)  # cached rows hold the old address
        if type_name == "User" and "isActive" in data and context.auth:
            active = bool(data["isActive"])
            await context.auth.audit.record(switched(id, active, context.viewer.kind), conn)
            await _user_changed(context, conn, id)  # node tokens of the user: cached alive
            if not active:
                # Deactivated through the API as through the CLI: its sessions end, so that
                # activating it again does not bring old tokens back to life.
                ended = await context.auth.sessions.end_all_in(conn, id)
                context.after_commit.append(
                    announce(context.auth.events, SessionsEnded(tuple(ended)))
                )
        return await _read_back(context, type_name, id)

    return _data_write(resolve)


async def _user_changed(context: RequestContext, conn: AsyncConnection, user_id: str) -> None:
    """The user's row changed in a way caches hold: written for the other nodes in this
    transaction (a shared PostgreSQL database), told in this process once committed."""
    assert context.auth is not None
    event = UserChanged(user_id)
    await context.auth.event_log.record(conn, event)
    context.after_commit.append(announce(context.auth.events, event))


def announce(events: EventHub, event: object) -> Callable[[], Awaitable[None]]:
    """After-commit work that publishes ``event``: a change is told once it is true."""

    async def publish() -> None:
        events.publish(event)

    return publish


async def _changes_email(context: RequestContext, user_id: str, data: dict[str, Any]) -> bool:
    """Whether an update gives the user another address (or none): a credential change.

    Sending the current address back, in any spelling, changes nothing (forms save every
    field).
    """
    if EMAIL_FIELD not in data:
        return False
    conn = await context.connection()
    found = await context.store.reader.by_ids(conn, EMAIL_TYPE, [user_id])
    current = found[user_id][EMAIL_FIELD] if user_id in found else None
    new = data[EMAIL_FIELD]
    return (email_key(new) if isinstance(new, str) else new) != current


def delete(type_name: str) -> Resolver:
    """``deleteMovie(id)``: returns the node as it was."""

    async def resolve(_root: Any, info: Info, id: str) -> Node:
        context = context_of(info)
        node = await visible(context, type_name, id)
        conn = await context.connection()
        if context.permissions is not None:
            condition = context.permissions.write_condition(type_name, "delete")
            await context.permissions.require(
                conn, type_name, [id], condition, f"Not allowed to delete this {type_name}"
            )
        journal = journal_for(context.permissions)
        context.changed_types.update(_deleted_reach(context.store.writer.model, type_name))
        await context.store.writer.delete(conn, type_name, id, journal=journal)
        context.loaders.clear()
        return node

    return _data_write(resolve)


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
        context = context_of(info)
        page = checked_page(context, field.target, args)
        return context.loaders.children(field.target, column, node["id"], page)

    return to_many
