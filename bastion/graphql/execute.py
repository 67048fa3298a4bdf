"""Run GraphQL documents against a project's schema.

Parsing and validation are cached by query text (an LRU), so a repeated query costs only its
execution; a document whose text may hold a secret (a login, a password change or another
field that takes one, with literal values: :mod:`bastion.graphql.literal_secrets`) is never
kept. A query runs in one read transaction; a mutation in one write transaction that is
committed only when every field succeeded: when any field fails, nothing of the document is
written and ``data`` is null.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    validate,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import get_operation_ast
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from bastion.auth import ANONYMOUS, Viewer
from bastion.auth.assembly import AuthServices
from bastion.auth.audit import Audit, AuditEvent, AuditType
from bastion.auth.events import UsersChanged
from bastion.errors import BastionError, Code
from bastion.graphql.caller import IN_PROCESS, Caller
from bastion.graphql.compiled.plan import OperationPlan, Planner, directive_variables
from bastion.graphql.compiled.run import CompiledRun
from bastion.graphql.context import RequestContext
from bastion.graphql.credential_limit import credential_fields, credential_problem
from bastion.graphql.errors import format_error, refusal, request_error
from bastion.graphql.limits import (
    LimitExceeded,
    check_cost,
    check_shape,
    estimate_cost,
    measure,
)
from bastion.graphql.literal_secrets import may_hold_secrets
from bastion.graphql.loaders import Loaders
from bastion.graphql.meta_fields import names_meta_field
from bastion.graphql.ordering import in_response_order
from bastion.graphql.own_proof import proves_itself
from bastion.graphql.resolvers import writes_data
from bastion.graphql.settings import GraphQLConfig
from bastion.graphql.single_field import SingleField
from bastion.graphql.visibility import executor_for, hidden_names, public_schema
from bastion.model.emails import EMAIL_TYPE as USER_TYPE
from bastion.permissions.compile import Permissions
from bastion.store import Store
from bastion.store.database import LazyTransaction
from bastion.store.failures import known_state, stale_plan
from bastion.tools.lru import LRU

DOCUMENT_CACHE_SIZE = 1024
MAX_CACHED_QUERY_LENGTH = 16_384


class RequestFailed(Exception):
    """The document cannot run at all: it does not parse, validate, or name an operation.

    ``errors`` are for root tokens; ``public_errors`` for everyone else, who validate against
    the schema without the root-only fields (so no error names or suggests one of them).
    """

    def __init__(
        self, errors: list[dict[str, Any]], public_errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(errors[0]["message"] if errors else "request failed")
        self.errors = errors
        self.public_errors = errors if public_errors is None else public_errors

    def errors_for(self, viewer: Viewer) -> list[dict[str, Any]]:
        """The errors ``viewer`` is told."""
        return self.errors if viewer.is_privileged else self.public_errors


@dataclass(frozen=True)
class _Refused:
    """A document that does not validate: its errors for root tokens and for the others."""

    errors: list[dict[str, Any]]
    public_errors: list[dict[str, Any]]


INTROSPECTION_OFF = "Introspection is turned off (mode: production) for all but root tokens"


@dataclass(frozen=True)
class _Checked:
    """A document that parsed, fits the limits and validated; kept in the cache."""

    document: DocumentNode
    # Whether the document asks for `__schema` or `__type`.
    introspects: bool
    # The validation errors of the schema without root-only fields, when there are some:
    # what a caller without a root token is told, exactly as for a field that does not exist.
    hidden: list[dict[str, Any]] = field(default_factory=list)
    # The cost of each operation no variable feeds (no `first: $n`), by name: it cannot change,
    # so a cached document is costed once, not on every request.
    costs: dict[str | None, int] = field(default_factory=dict)
    # The compiled plans of its operations, by name and by the values of the variables its
    # @skip/@include read (see bastion.graphql.compiled); None where no root field compiles.
    plans: dict[tuple[str | None, tuple[Any, ...]], OperationPlan | None] = field(
        default_factory=dict
    )
    # The variables each operation's @skip/@include read: the part of the plans' key.
    directive_variables: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    # Each operation's shape when bastion.graphql.single_field answers it (else None).
    singles: dict[str | None, SingleField | None] = field(default_factory=dict)
    # Whether each operation's root fields are all generated writes (see _only_data_writes).
    data_writes: dict[str | None, bool] = field(default_factory=dict)
    # Whether the document may outlive its request in a cache: False when its text may hold
    # a secret (bastion.graphql.literal_secrets).
    kept: bool = True


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document with the operation chosen to run."""

    checked: _Checked
    operation: OperationDefinitionNode
    is_mutation: bool = field(init=False)
    """True when the chosen operation is a mutation (read several times per request: kept)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_mutation", self.operation.operation is OperationType.MUTATION)

    @property
    def document(self) -> DocumentNode:
        """The parsed document."""
        return self.checked.document


def _only_data_writes(schema: GraphQLSchema, operation: OperationDefinitionNode) -> bool:
    """Whether every root field of a mutation is a generated write (no fragments: a fragment
    spread could hide another field)."""
    parent = schema.mutation_type
    if parent is None:
        return False
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return False
        if selection.name.value == "__typename":
            continue
        field = parent.fields.get(selection.name.value)
        if field is None or not writes_data(field.resolve):
            return False
    return True


def _secret_fields(schema: GraphQLSchema, credentials: frozenset[str]) -> frozenset[str]:
    """The root fields that may take a secret (see :mod:`bastion.graphql.literal_secrets`):
    the credential fields, and every mutation but the generated data writes."""
    mutation = schema.mutation_type
    writes = mutation.fields.items() if mutation is not None else ()
    return credentials | {name for name, field in writes if not writes_data(field.resolve)}


def _outcome(
    result: ExecutionResult, late: list[dict[str, Any]], prepared: Prepared, context: RequestContext
) -> Outcome:
    """The response body of a finished run: its data, or its errors with their codes (``late``:
    the errors of after-commit work, beside data that was kept)."""
    if not result.errors:
        body: dict[str, Any] = {"data": result.data}
        if late:
            body = {"errors": late, "data": result.data}
        return Outcome(body, headers=context.response_headers)
    if result.data is None and all(e.path is None for e in result.errors):
        # Variables that do not fit their types: execution never started.
        errors = [format_error(e, Code.BAD_USER_INPUT) for e in result.errors]
        return Outcome({"errors": errors}, request_error=True)
    errors = [format_error(e, Code.INTERNAL_SERVER_ERROR) for e in result.errors]
    data = None if prepared.is_mutation else result.data
    return Outcome({"errors": errors, "data": data}, headers=context.response_headers)


def _stale(errors: list[GraphQLError] | None) -> bool:
    return any(stale_plan(e.original_error) for e in errors or ())


@dataclass(frozen=True)
class Outcome:
    """The response body, and whether it failed before execution (a request error)."""

    body: dict[str, Any]
    request_error: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class Executor:
    """One per app: the schema, the store, the request limits and the document cache.

    ``introspection`` False is production mode: ``__schema`` and ``__type`` are for root tokens
    only, and no error suggests names ("Did you mean ...?") that introspection would reveal.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        store: Store,
        cache_size: int = DOCUMENT_CACHE_SIZE,
        auth: AuthServices | None = None,
        permissions: Permissions | None = None,
        limits: GraphQLConfig | None = None,
        introspection: bool = True,
        require_login: bool = False,
        require_mfa: bool = False,
    ) -> None:
        self.schema = schema
        # auth.require_login: anonymous callers get the login fields only.
        self.require_login = require_login
        # auth.mfa.required: users whose session proved no second factor get the auth fields
        # only (their root resolvers refuse; compiled plans, which skip them, are not used).
        self.require_mfa = require_mfa
        self.store = store
        self.auth = auth
        self.permissions = permissions
        self.limits = limits or GraphQLConfig()
        self.introspection = introspection
        # Parsed documents by their text; only those that may be kept (see _document).
        self.documents: LRU[str, _Checked | _Refused] = LRU(cache_size)
        self._credentials = credential_fields(schema)
        self._secret_fields = _secret_fields(schema, self._credentials)
        self._model_types = frozenset(store.tables.by_type)
        # Non-root callers validate against, and introspect, a schema without the root-only
        # fields: for them those fields are missing, not forbidden.
        self._public_schema = public_schema(schema)
        self._hidden_names = hidden_names(schema, self._public_schema)
        self._graphql_executor = executor_for(self._public_schema)

    def _parse_and_validate(self, query: str) -> tuple[_Checked | _Refused, bool]:
        """The document, or the errors that refuse it (no exception is kept alive), and
        whether it may be kept in the cache."""
        checked, kept = self._check(query)
        if not isinstance(checked, list):
            return checked, kept
        return _Refused(checked, checked), kept

    def _validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
        errors = validate(schema, document, hide_suggestions=not self.introspection)
        return [format_error(e, Code.GRAPHQL_VALIDATION_FAILED) for e in errors]

    def _check(self, query: str) -> tuple[_Checked | _Refused | list[dict[str, Any]], bool]:
        max_tokens = self.limits.max_tokens
        try:
            document = parse(query, max_tokens=max_tokens)
        except GraphQLSyntaxError as error:
            # Text that does not parse is not kept: nothing tells what it holds, and another
            # parse costs no more than this one.
            if max_tokens is not None and error.message.endswith("tokens. Parsing aborted."):
                exceeded = LimitExceeded("tokens", max_tokens, max_tokens + 1, "is too long")
                return [refusal(exceeded)], False
            return [format_error(error, Code.GRAPHQL_PARSE_FAILED)], False
        kept = not may_hold_secrets(document, self._secret_fields)
        return self._checked(query, document, kept), kept

    def _checked(
        self, query: str, document: DocumentNode, kept: bool
    ) -> _Checked | _Refused | list[dict[str, Any]]:
        # The cheap limits come before validation, whose cost they bound.
        try:
            shape = measure(document)
            check_shape(self.limits, shape)
        except LimitExceeded as exceeded:
            return [refusal(exceeded)]
        except RecursionError:
            # Fragments chained deeper than Python's stack (only without a token limit).
            message = "The document nests fragments too deeply to measure"
            return [request_error(message, Code.QUERY_TOO_COMPLEX, limit="depth")]
        errors = self._validate(self.schema, document)
        # What non-root callers are told, from the schema without the root-only fields. A
        # valid document that names none of them validates the same there, so it is spared
        # the second validation (which costs as much as the first); a refused one is not, as
        # its errors may suggest a hidden name it does not hold.
        hidden: list[dict[str, Any]] = []
        if errors or (self._hidden_names is not None and self._hidden_names.search(query)):
            hidden = self._validate(self._public_schema, document)
        if errors:
            return _Refused(errors, hidden)
        problem = credential_problem(self._credentials, document)
        if problem:
            return [request_error(problem)]
        return _Checked(document, shape.introspects, hidden, kept=kept)

    def _document(self, query: str) -> _Checked | _Refused:
        # Only documents of ordinary size are cached, so that the cache's memory stays
        # bounded (1,024 entries of at most 16 KB) whatever clients send; and only those whose
        # text holds no secret.
        if len(query) > MAX_CACHED_QUERY_LENGTH:
            return self._parse_and_validate(query)[0]
        found = self.documents.get(query)
        if found is not None:
            return found
        checked, kept = self._parse_and_validate(query)
        if kept:
            self.documents.put(query, checked)
        return checked

    def prepare(self, query: str, operation_name: str | None = None) -> Prepared:
        """Parse (cached), validate (cached) and pick the operation; raises RequestFailed."""
        checked = self._document(query)
        if isinstance(checked, _Refused):
            raise RequestFailed(checked.errors, checked.public_errors)
        operation = get_operation_ast(checked.document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            raise RequestFailed([request_error(message)])
        return Prepared(checked, operation)

    def proves_itself(self, prepared: Prepared) -> bool:
        """Whether the operation asks only fields that prove who asks by their arguments
        (logins, refresh, logout): those run even when the request's token was refused."""
        root = self.schema.mutation_type if prepared.is_mutation else self.schema.query_type
        fragments = {
            d.name.value: d
            for d in prepared.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        return proves_itself(root, prepared.operation.selection_set, fragments)

    async def execute(
        self,
        prepared: Prepared,
        variables: Mapping[str, Any] | None,
        viewer: Viewer,
        caller: Caller = IN_PROCESS,
        within: RequestContext | None = None,
        share: bool = True,
        reference: bool = False,
        raw: bool = False,
    ) -> Outcome:
        """Execute a prepared document for ``viewer``, sent by ``caller``.

        ``raw`` lets root fields answer JSON text the database wrote
        (:class:`bastion.graphql.response_body.RawJSON`): for a body that only
        :func:`bastion.graphql.response_body.encode` reads.

        ``reference`` runs it through graphql-core's executor, field by field, whatever
        ``graphql.compiled`` says: the answer the compiled plans must equal.

        ``within`` is the request of a function that runs this document through its ``api``:
        inside a mutation, the document joins that request's transaction in a savepoint, and
        its after-commit work waits for that request's commit (unless ``share`` is False).

        A request that met statements prepared before a deploy changed their tables
        (:func:`bastion.store.failures.stale_plan`) is run once more, when nothing of it was
        kept: the client never sees the deploy happen.
        """
        # In this coroutine (not one per run): the second run, if any, never tries again.
        for again in (within is None, False):
            if prepared.checked.hidden and not viewer.is_privileged:
                return Outcome({"errors": prepared.checked.hidden}, request_error=True)
            refused = self._refusal(prepared, variables, viewer)
            if refused is not None:
                return Outcome({"errors": [refused]}, request_error=True)
            nested = within is not None and within.writes and share
            context = self._context(prepared, viewer, caller, within, nested)
            transaction = context.transaction
            committed = False
            try:
                compiled = None if reference else self.plan(prepared, variables, viewer)
                if compiled is not None:
                    plan, coerced = compiled
                    result = await CompiledRun(
                        self.schema, prepared.document, prepared.operation, context, coerced, raw
                    ).run(
                        plan,
                        lambda document, request=context: self._reference(
                            document, None, request, variables
                        ),
                    )
                elif not reference and (single := self._single(prepared)) is not None:
                    result = await single.answer(
                        self.schema,
                        prepared.operation,
                        context,
                        dict(variables) if variables else None,
                        hide_suggestions=not self.introspection,
                    )
                else:
                    result = await self._reference(prepared.document, prepared, context, variables)
                result = in_response_order(result)
                if prepared.is_mutation and not result.errors:
                    try:
                        await transaction.finish(commit=True)
                    except Exception as error:
                        # The writes are not kept (a full disk, a lost database): say so, with a
                        # code, rather than acknowledge them.
                        known = known_state(error)
                        if known is None:
                            raise
                        return Outcome({"errors": [refusal(known)], "data": None})
                    committed = True
                    if (
                        self.auth is not None
                        and transaction.was_used
                        and not nested
                        and self._users_may_have_changed(prepared, context)
                    ):
                        # Sessions cache users' rows: they read them again.
                        self.auth.events.publish(UsersChanged())
            finally:
                # A read transaction no resolver opened holds nothing to end (a write one marks
                # the task until it ends): the viewer's cached rows need no coroutine for it.
                if not committed and (transaction.is_open or context.writes):
                    await transaction.finish(commit=False)
            if (
                again
                and not committed
                and result.errors
                and _stale(result.errors)
                and not transaction.wrote_apart
            ):
                continue  # nothing of it was kept: once more
            late: list[dict[str, Any]] = []
            if committed and not nested:
                late = await _after_commit(context)
            if result.errors and self.auth is not None:
                await _audit_refusals(self.auth.audit, viewer, result.errors)
            return _outcome(result, late, prepared, context)
        raise AssertionError("unreachable: the second run returns")

    def _context(
        self,
        prepared: Prepared,
        viewer: Viewer,
        caller: Caller,
        within: RequestContext | None,
        nested: bool,
    ) -> RequestContext:
        """The context of one run of ``prepared``: its own transaction, or a savepoint of
        ``within``'s when ``nested``."""
        transaction: LazyTransaction = (
            _Savepoint(within.transaction)
            if within is not None and nested
            else self.store.db.lazy(write=prepared.is_mutation)
        )
        permissions = self.permissions.for_viewer(viewer) if self.permissions else None
        context = RequestContext(
            viewer=viewer,
            store=self.store,
            transaction=transaction,
            loaders=Loaders(self.store, transaction, permissions),
            caller=caller,
            auth=self.auth,
            permissions=permissions,
            writes=prepared.is_mutation or nested,
            nesting=within.nesting + 1 if within is not None else 0,
            limits=self.limits,
        )
        if within is not None and nested:
            context.after_commit = within.after_commit
        return context

    def _single(self, prepared: Prepared) -> SingleField | None:
        """The shape of a one-credential-field mutation (found once per cached document)."""
        if prepared.operation.operation is not OperationType.MUTATION:
            return None
        operation = prepared.operation
        name = operation.name.value if operation.name else None
        singles = prepared.checked.singles
        if name not in singles:
            fragments = any(
                isinstance(d, FragmentDefinitionNode) for d in prepared.document.definitions
            )
            singles[name] = SingleField.of(self.schema, operation, fragments)
        return singles[name]

    def _users_may_have_changed(self, prepared: Prepared, context: RequestContext) -> bool:
        """Whether a committed mutation may have changed rows of ``User``.

        Unknown (so yes) unless every root field is a generated write, which notes the types
        it changed: a mutation of other types leaves the sessions' cached users alone, instead
        of making every following request read its session again."""
        if USER_TYPE in context.changed_types:
            return True
        operation = prepared.operation
        name = operation.name.value if operation.name else None
        known = prepared.checked.data_writes
        if name not in known:
            known[name] = _only_data_writes(self.schema, operation)
        return not known[name]

    async def _reference(
        self,
        document: DocumentNode,
        prepared: Prepared | None,
        context: RequestContext,
        variables: Mapping[str, Any] | None,
    ) -> ExecutionResult:
        """graphql-core's answer to ``document`` (the prepared one, or a part of it)."""
        operation = prepared.operation if prepared is not None else None
        outcome = execute(
            self.schema,
            document,
            context_value=context,
            variable_values=dict(variables) if variables else None,
            operation_name=operation.name.value if operation and operation.name else None,
            executor_class=self._graphql_executor,
            hide_suggestions=not self.introspection,
        )
        # execute() answers at once, without a coroutine, when variables do not fit.
        result: ExecutionResult = await outcome if isawaitable(outcome) else outcome
        return result

    def plan(
        self, prepared: Prepared, variables: Mapping[str, Any] | None, viewer: Viewer
    ) -> tuple[OperationPlan, VariableValues] | None:
        """The plan of a query and its coerced variables, or None where graphql-core answers."""
        if not self.limits.compiled or prepared.operation.operation is not OperationType.QUERY:
            return None
        if self.require_login and not viewer.is_authenticated:
            return None  # the root fields' resolvers refuse anonymous callers themselves
        if self.require_mfa and viewer.user_id is not None and not viewer.mfa:
            return None  # likewise users without a second factor
        operation = prepared.operation
        definitions = operation.variable_definitions
        # What get_variable_values answers for no definitions (sent values are ignored).
        coerced: VariableValues | list[GraphQLError] = VariableValues({}, {})
        if definitions:
            coerced = get_variable_values(
                self.schema,
                definitions,
                dict(variables or {}),
                hide_suggestions=not self.introspection,
            )
        if isinstance(coerced, list):
            return None  # graphql-core answers the variables' errors
        name = operation.name.value if operation.name else None
        checked = prepared.checked
        names = checked.directive_variables.get(name)
        if names is None:
            names = checked.directive_variables[name] = directive_variables([operation])
        plans = checked.plans
        key = (name, tuple(coerced.coerced.get(v) for v in names) if names else ())
        if key not in plans:
            fragments = {
                d.name.value: d
                for d in prepared.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            planner = Planner(self.schema, fragments, coerced.coerced, self._model_types)
            made = planner.operation(operation)
            # A plan none of whose root fields is compiled is kept as None: graphql-core
            # answers it, and each request is spared looking through its fields again.
            plans[key] = None if all(f is None for _key, _nodes, f in made.fields) else made
        plan = plans[key]
        return None if plan is None else (plan, coerced)

    def _refusal(
        self, prepared: Prepared, variables: Mapping[str, Any] | None, viewer: Viewer
    ) -> dict[str, Any] | None:
        """Why the document may not run for this viewer with these variables, or None."""
        if prepared.checked.introspects and not self.introspection and not viewer.is_privileged:
            return request_error(INTROSPECTION_OFF, Code.FORBIDDEN)
        if (
            self.require_login
            and not viewer.is_authenticated
            and names_meta_field(prepared.document, prepared.operation)
        ):
            # `{ __typename }` and introspection have no resolver that could refuse them.
            return request_error("Unauthorized", Code.UNAUTHENTICATED)
        if self.limits.max_cost is None:
            return None
        operation = prepared.operation
        name = operation.name.value if operation.name else None
        costs = prepared.checked.costs
        cost = costs.get(name)
        if cost is None:
            cost, varies = estimate_cost(
                self.schema, prepared.document, operation, variables, self.limits
            )
            if not varies:
                costs[name] = cost
        try:
            check_cost(self.limits, cost)
        except LimitExceeded as exceeded:
            return refusal(exceeded)
        return None

    async def run(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        viewer: Viewer | None = None,
        operation_name: str | None = None,
        within: RequestContext | None = None,
        share: bool = True,
    ) -> Outcome:
        """Prepare and execute in one call (for seeding, functions and tests).

        The document runs in-process (:data:`IN_PROCESS`), also ``within`` a client's request:
        a function's ``api`` document is the server's own, so it is neither refused as a GET
        nor counted against the client's address.
        """
        try:
            prepared = self.prepare(query, operation_name)
        except RequestFailed as failed:
            return Outcome({"errors": failed.errors_for(viewer or ANONYMOUS)}, request_error=True)
        return await self.execute(
            prepared, variables, viewer or ANONYMOUS, within=within, share=share
        )


async def _audit_refusals(audit: Audit, viewer: Viewer, errors: list[GraphQLError]) -> None:
    """Permission refusals go to the audit log, sampled per viewer and message."""
    for error in errors:
        original = error.original_error
        if isinstance(original, BastionError) and original.code is Code.FORBIDDEN:
            detail = {"message": original.message, "path": ".".join(map(str, error.path or ()))}
            event = AuditEvent(AuditType.PERMISSION_DENIED, user_id=viewer.user_id, detail=detail)
            key = (AuditType.PERMISSION_DENIED, viewer.kind, viewer.user_id, original.message)
            await audit.sampled(key, event)


async def _after_commit(context: RequestContext) -> list[dict[str, Any]]:
    """Run the request's after-commit work in order; the errors it reports."""
    errors: list[dict[str, Any]] = []
    for work in context.after_commit:
        error = await work()
        if error is not None:
            errors.append(error)
    return errors


class _Savepoint(LazyTransaction):
    """A document run by a function inside a mutation: the mutation's transaction, in a
    savepoint, so that the document's failure undoes only its own writes."""

    def __init__(self, outer: LazyTransaction) -> None:
        self._outer = outer
        self._savepoint: AsyncTransaction | None = None
        self._taking = asyncio.Lock()
        self.was_used = False

    @property
    def is_open(self) -> bool:
        """Whether the savepoint was taken."""
        return self._savepoint is not None

    async def connection(self) -> AsyncConnection:
        """The outer transaction's connection, once the savepoint is taken."""
        conn = await self._outer.connection()
        async with self._taking:
            if self._savepoint is None:
                self._savepoint = await conn.begin_nested()
                self.was_used = True
        return conn

    async def finish(self, *, commit: bool) -> None:
        """Release the savepoint (its writes stay in the outer transaction) or roll back to it."""
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is None:
            return
        if commit:
            await savepoint.commit()
        else:
            await savepoint.rollback()
