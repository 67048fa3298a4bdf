"""Run a compiled query: its root fields from plans, the rest through graphql-core.

Root fields run one after the other on the request's one transaction (they would share its
connection anyway). A generated root field reads its rows, the levels below them, then
projects; a field whose resolver the plans may call (the viewer's) is called as graphql-core
calls it, with a resolve info of its own. Root fields no plan answers run through graphql-core
as a document of their own, with the same variables and context, and their answers are put
back at their places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import CoroutineType, NoneType
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues
from graphql.pyutils import is_awaitable

from bastion.graphql.build import NODE_TYPE_KEY
from bastion.graphql.compiled import json_sql
from bastion.graphql.compiled.fetch import Fetcher, arguments
from bastion.graphql.compiled.plan import FieldPlan, OperationPlan, is_single
from bastion.graphql.compiled.project import INVALID, Path, Projector, non_null_error
from bastion.graphql.context import RequestContext
from bastion.graphql.resolvers import checked_page
from bastion.graphql.response_body import RawJSON
from bastion.graphql.sources import Resolved, Root
from bastion.store import Node

Fallback = Any
"""Runs a document through graphql-core: ``(document) -> awaitable ExecutionResult``."""
# What _as_json answers when the database did not write the field (the projectors will).
_UNWRITTEN = object()
# The classes of the values resolvers answer most that are never awaitable (checked before
# graphql-core's is_awaitable, which looks for an `__await__` attribute).
_PLAIN = frozenset([dict, str, int, bool, float, list, NoneType])


class ContextInfo:
    """What the resolver of a :class:`~bastion.graphql.sources.Resolved` field is given as its
    resolve info: the request's context, nothing else."""

    __slots__ = ("context",)

    def __init__(self, context: RequestContext) -> None:
        self.context = context


class CompiledRun:
    """One request's run of an operation plan."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        context: RequestContext,
        variables: VariableValues,
        raw: bool = False,
    ) -> None:
        self.schema = schema
        self.document = document
        self.operation = operation
        self.context = context
        self.variables = variables
        self.errors: list[GraphQLError] = []
        self.fetcher = Fetcher(context, variables)
        self.projector = Projector(context, self.fetcher.loaded, self.errors)
        # Rows of the document's `movie(id)` fields, read together by type (as their loader
        # batches them in graphql-core).
        self._singles: dict[str, dict[str, Node]] = {}
        # Whether root fields may answer JSON text the database wrote (the response is encoded
        # by bastion.graphql.response_body.encode, which takes it as it is).
        self._json = raw
        self._sqlite = context.store.db.is_sqlite
        self._alone = False
        self._context_info = ContextInfo(context)

    async def run(self, plan: OperationPlan, fallback: Fallback) -> ExecutionResult:
        """The operation's result: ``data`` and ``errors`` as graphql-core shapes them.

        A root field that nulls the whole data ends the run; as graphql-core settles every
        root field and fails on the first failing one in the document's order (see
        :mod:`bastion.graphql.ordering`), the fields graphql-core answers before it run first.
        """
        answers: dict[str, Any] = {}
        self._alone = len(plan.fields) == 1
        if plan.singles:
            singles = [field for field in plan.singles if not self._written(field)]
            if singles:
                await self._read_singles(singles)
        failed_at = None
        for index, (key, _nodes, field) in enumerate(plan.fields):
            if field is None:
                continue
            if isinstance(field.source, Resolved):  # as root_field would, one coroutine nearer
                value = await self.resolved(field, None, (None, field.key))
            else:
                value = await self.root_field(field)
            if value is INVALID:
                failed_at = index
                break
            answers[key] = value
        if plan.whole:
            # Every root field answered here, in the document's order: the data as it is.
            return ExecutionResult(None if failed_at is not None else answers, self.errors or None)
        others = [
            (key, nodes)
            for index, (key, nodes, field) in enumerate(plan.fields)
            if field is None and (failed_at is None or index < failed_at)
        ]
        fallback_data: dict[str, Any] | None = {}
        if others:
            result: ExecutionResult = await fallback(self._document_of(others))
            self.errors.extend(result.errors or ())
            fallback_data = result.data
        if failed_at is not None or fallback_data is None:
            return ExecutionResult(None, self.errors or None)
        data = {
            key: answers[key] if field is not None else fallback_data[key]
            for key, _nodes, field in plan.fields
        }
        return ExecutionResult(data, self.errors or None)

    def _document_of(self, fields: Sequence[tuple[str, list[FieldNode]]]) -> DocumentNode:
        """The operation with only these root fields, and every fragment of the document."""
        selections = tuple(node for _key, nodes in fields for node in nodes)
        operation = OperationDefinitionNode(
            operation=self.operation.operation,
            name=self.operation.name,
            variable_definitions=self.operation.variable_definitions,
            directives=self.operation.directives,
            selection_set=SelectionSetNode(selections=selections),
        )
        others = tuple(d for d in self.document.definitions if d is not self.operation)
        fragments = tuple(d for d in others if not isinstance(d, OperationDefinitionNode))
        return DocumentNode(definitions=(operation, *fragments))

    # -- root fields -----------------------------------------------------------------------

    async def root_field(self, field: FieldPlan) -> Any:
        """The answer of one root field (or :data:`INVALID`: the whole data is null)."""
        path: Path = (None, field.key)
        if field.source is None:
            return field.parent.name
        if isinstance(field.source, Resolved):
            return await self.resolved(field, None, path)
        assert isinstance(field.source, Root)
        if self._written(field):
            answer = await self._as_json(field)
            if answer is not _UNWRITTEN:
                return answer
        try:
            return await self._generated(field, field.source, path)
        except Exception as error:  # as graphql-core: any failure is the field's
            return self.projector.fail(error, field, path)

    def _written(self, field: FieldPlan) -> bool:
        """Whether the database writes this root field's answer (see :mod:`.json_sql`).

        On PostgreSQL only when it is the document's only root field (see
        :func:`.json_sql.answer`); on SQLite a single node only then too: several of them are
        read together, one statement per type (:meth:`_read_singles`)."""
        if not self._json:
            return False
        if field.json_written is None:
            field.json_written = json_sql.writable(field, self._sqlite)
        if not field.json_written:
            return False
        assert isinstance(field.source, Root)
        if not self._sqlite:  # see json_sql.answer
            return self._alone
        return self._alone or field.source.kind != "single"

    async def _as_json(self, field: FieldPlan) -> Any:
        """The field's answer as the database writes it; :data:`_UNWRITTEN` where it stopped
        (on a value or an argument the projectors answer with an error or otherwise)."""
        try:
            text = await json_sql.answer(self.context, self.variables, field, self._alone)
        except Exception:  # the projectors answer it again, with its exact errors
            return _UNWRITTEN
        return None if text is None else RawJSON(text)

    async def _read_singles(self, fields: list[FieldPlan]) -> None:
        """Read the rows of every ``<type>(id)`` root field at once, one statement per type."""
        wanted: dict[str, tuple[list[str], list[str]]] = {}
        for field in fields:
            source = field.source
            if not is_single(field):
                continue
            assert isinstance(source, Root)
            try:
                node_id = arguments(field, self.variables)["id"]
            except Exception:  # noqa: S112 - the field itself answers the error, at its path
                continue
            assert field.child is not None
            ids, columns = wanted.setdefault(source.type_name, ([], []))
            ids.append(node_id)
            columns.extend(field.child.columns)
        if not wanted:
            return
        reader = self.context.store.reader
        for type_name, (ids, columns) in wanted.items():
            try:
                conn = await self.context.connection()
                self._singles[type_name] = await reader.by_ids(
                    conn, type_name, ids, self.context.permissions, list(dict.fromkeys(columns))
                )
            except Exception:  # noqa: S112 - each field reads again and answers its error
                continue

    async def _generated(self, field: FieldPlan, source: Root, path: Path) -> Any:
        context = self.context
        args = arguments(field, self.variables)
        reader = context.store.reader
        policy = context.permissions
        if source.kind == "count":
            where = args.get("where")
            if policy is not None:
                policy.check_where(source.type_name, where)
            conn = await context.connection()
            count = await reader.count(conn, source.type_name, where, policy)
            assert field.leaf is not None
            return self.projector.leaf(field.leaf, count, field, path)
        child = field.child
        assert child is not None
        conn = await context.connection()
        if source.kind == "single":
            found = self._singles.get(source.type_name)
            if found is None:
                found = await reader.by_ids(
                    conn, source.type_name, [args["id"]], policy, child.columns
                )
            row = found.get(args["id"])
            rows = [row] if row is not None else []
            await self.fetcher.below(child, rows)
            return self.projector.maybe_object(field, child, row, path)
        page = checked_page(context, source.type_name, args)
        rows = await reader.find_many(conn, source.type_name, page, policy, child.columns)
        await self.fetcher.below(child, rows)
        return self.projector.rows(field, child, rows, path)

    # -- fields answered by their resolvers (the viewer's) ---------------------------------

    async def resolved(self, field: FieldPlan, source: Any, path: Path) -> Any:
        """Call the field's resolver as graphql-core would, then complete its value."""
        try:
            # A Resolved field's resolver reads only the context of its info (sources.Resolved):
            # the rest of a resolve info (its path, its schema...) costs a tenth of a viewer
            # query to build for each field.
            info: Any = self._context_info
            resolve = field.definition.resolve
            if resolve is None:  # graphql-core's default resolver, which reads the field's name
                value = (
                    source.get(field.name)
                    if isinstance(source, Mapping)
                    else getattr(source, field.name, None)
                )
                if callable(value):
                    value = value(info, **arguments(field, self.variables))
            else:
                value = resolve(source, info, **arguments(field, self.variables))
            if value.__class__ is CoroutineType or (
                value.__class__ not in _PLAIN and is_awaitable(value)
            ):
                value = await value
        except Exception as error:  # as graphql-core: any failure is the field's
            return self.projector.fail(error, field, path)
        # Completed here rather than in a coroutine of its own: one fewer per resolved field.
        if field.leaf is not None:
            return self.projector.leaf(field.leaf, value, field, path)
        if value is None:
            if field.non_null:
                self.errors.append(non_null_error(field, path))
                return INVALID
            return None
        if field.many:
            items: list[Any] = []
            for index, item in enumerate(value):
                done = await self._one(field, item, (path, index), field.item_non_null)
                if done is INVALID:
                    return INVALID if field.non_null else None
                items.append(done)
            return items
        child = field.child
        if field.abstract is None and child is not None and child.model and not child.links:
            # A row with nothing to read below it (the viewer's user): projected at once, as
            # _one would, without its coroutine.
            done = self.projector.object(child, value, path)
        elif field.abstract is None and child is not None and not child.model:
            # An object the resolvers answer (the viewer): its fields, as _one answers them,
            # without its coroutine.
            done = {}
            for below in child.fields:
                if below.source is None:
                    done[below.key] = child.type.name
                    continue
                answer = await self.resolved(below, value, (path, below.key))
                if answer is INVALID:
                    done = INVALID
                    break
                done[below.key] = answer
        else:
            done = await self._one(field, value, path, field.non_null)
        return None if done is INVALID and not field.non_null else done

    async def _one(self, field: FieldPlan, value: Any, path: Path, non_null: bool) -> Any:
        if value is None:
            if non_null:
                self.errors.append(non_null_error(field, path))
                return INVALID
            return None
        plan = field.child
        if field.abstract is not None:
            type_name = value.get(NODE_TYPE_KEY) if isinstance(value, dict) else None
            plan = field.abstract.get(type_name) if isinstance(type_name, str) else None
            if plan is None:
                error = GraphQLError(
                    f"Abstract type 'Node' must resolve to an Object type at runtime for field"
                    f" '{field.parent.name}.{field.name}'."
                )
                return self.projector.fail(error, field, path)
        assert plan is not None
        if plan.model:
            row: Node = value
            if plan.links:  # nothing to read below a row whose plan has no relations
                await self.fetcher.below(plan, [row])
            return self.projector.object(plan, row, path)
        # An object the resolvers answer, field by field (here, not in a coroutine of its own).
        result: dict[str, Any] = {}
        for child in plan.fields:
            if child.source is None:
                result[child.key] = plan.type.name
                continue
            answer = await self.resolved(child, value, (path, child.key))
            if answer is INVALID:
                return INVALID
            result[child.key] = answer
        return result
