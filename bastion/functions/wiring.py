"""Put a project's functions into its schema: resolver fields, and hooks around writes.

A resolver's ``schema`` is SDL that extends ``Query`` or ``Mutation`` with exactly one field
(and may define the new types that field needs); graphql-core's ``extend_schema`` applies it,
so the SDL is validated as any GraphQL schema is. Hooks wrap the generated ``createX``,
``updateX`` and ``deleteX`` fields: ``before`` hooks run in the request's transaction before
the write (and may change the input or refuse), ``after`` hooks once it is committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLSchema,
    ObjectTypeExtensionNode,
    TypeDefinitionNode,
    Undefined,
    coerce_input_value,
    default_field_resolver,
    extend_schema,
    parse,
    validate_input_value,
    validate_schema,
)

from bastion.errors import BastionError, Code, ProjectError
from bastion.functions.loader import Function
from bastion.functions.runtime import Event, FunctionError, FunctionRuntime
from bastion.functions.throttling import throttled
from bastion.graphql.context import Info, context_of
from bastion.graphql.credential_limit import mark_credential
from bastion.graphql.errors import format_error
from bastion.graphql.own_proof import mark_own_proof
from bastion.model.names import names_for

_ROOTS = ("Query", "Mutation")


def wire_functions(schema: GraphQLSchema, runtime: FunctionRuntime) -> GraphQLSchema:
    """``schema`` with the resolver fields added and the hooks wrapped around the writes."""
    for function in runtime.functions.values():
        if function.config.schema_sdl is not None:
            schema = _add_resolver(schema, function, runtime)
    _add_hooks(schema, runtime)
    return schema


# -- resolvers ------------------------------------------------------------------------------


def _added_field(function: Function, sdl: str, schema: GraphQLSchema) -> tuple[str, str, Any]:
    """(root type, field name, parsed document) of a resolver's SDL, or a ProjectError."""
    where = f"bastion.yml: functions.{function.name}.schema"
    try:
        document = parse(sdl)
    except GraphQLError as error:
        raise ProjectError([f"{where}: {error.message}"]) from None
    added: list[tuple[str, str]] = []
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeExtensionNode) and definition.name.value in _ROOTS:
            added += [(definition.name.value, f.name.value) for f in definition.fields or ()]
        elif not isinstance(definition, TypeDefinitionNode):
            raise ProjectError(
                [
                    f"{where}: only `extend type Query` or `extend type Mutation`, and new "
                    "types for their field, may be given"
                ]
            )
    if len(added) != 1:
        raise ProjectError(
            [
                f"{where}: a resolver adds exactly one field to Query or Mutation (found "
                f"{len(added)})"
            ]
        )
    root, name = added[0]
    root_type = schema.query_type if root == "Query" else schema.mutation_type
    if root_type is not None and name in root_type.fields:
        raise ProjectError([f"{where}: {root}.{name} exists already"])
    return root, name, document


def _add_resolver(
    schema: GraphQLSchema, function: Function, runtime: FunctionRuntime
) -> GraphQLSchema:
    assert function.config.schema_sdl is not None
    root, name, document = _added_field(function, function.config.schema_sdl, schema)
    where = f"bastion.yml: functions.{function.name}.schema"
    try:
        extended = extend_schema(schema, document)
    except (GraphQLError, TypeError) as error:
        raise ProjectError([f"{where}: {error}"]) from None
    problems = validate_schema(extended)
    if problems:
        raise ProjectError([f"{where}: {problem.message}" for problem in problems])
    root_type = extended.query_type if root == "Query" else extended.mutation_type
    assert root_type is not None
    field = root_type.fields[name]
    field.resolve = _resolver(function, runtime)
    if function.config.credential:
        # A login of the project's own (a code, a password): like the built-in ones, one per
        # document, and it runs whatever stale token the client still sends.
        mark_credential(field)
        mark_own_proof(field)
        argument = function.config.account_argument(field.args)
        if argument is not None and argument not in field.args:
            raise ProjectError(
                [
                    f"bastion.yml: functions.{function.name}.throttle_by: {root}.{name} has no "
                    f"argument {argument!r} (its arguments: {', '.join(field.args) or 'none'})"
                ]
            )
        field.resolve = throttled(field.resolve, function.name, argument)
    return extended


def _resolver(function: Function, runtime: FunctionRuntime) -> Callable[..., Awaitable[Any]]:
    async def resolve(_root: Any, info: Info, **args: Any) -> Any:
        context = context_of(info)
        event = Event(
            data=args,
            context=runtime.context(context.viewer, context),
            function=function.name,
        )
        return await runtime.call(function, event)

    return resolve


# -- hooks ----------------------------------------------------------------------------------


def _add_hooks(schema: GraphQLSchema, runtime: FunctionRuntime) -> None:
    hooked: dict[tuple[str, str], tuple[list[Function], list[Function]]] = {}
    for function in runtime.functions.values():
        config = function.config
        if config.type_name is None or config.action is None:
            continue
        before, after = hooked.setdefault((config.type_name, config.action), ([], []))
        (before if config.hook == "before" else after).append(function)
    mutation = schema.mutation_type
    assert mutation is not None
    for (type_name, action), (before, after) in hooked.items():
        names = names_for(type_name)
        field_name = {"create": names.create, "update": names.update, "delete": names.delete}
        field = mutation.fields[field_name[action]]
        field.resolve = _hooked(field, type_name, action, before, after, runtime)


def _hooked(
    field: GraphQLField,
    type_name: str,
    action: str,
    before: list[Function],
    after: list[Function],
    runtime: FunctionRuntime,
) -> Callable[..., Awaitable[Any]]:
    inner = field.resolve or default_field_resolver
    data_arg = field.args.get("data")
    data_type = data_arg.type if data_arg is not None else None

    async def resolve(root: Any, info: Info, **args: Any) -> Any:
        context = context_of(info)
        data: dict[str, Any] = args.get("data") or {}
        for function in before:
            event = Event(
                data=dict(data),
                context=runtime.context(context.viewer, context),
                function=function.name,
                type_name=type_name,
                operation=action,
                id=args.get("id"),
            )
            changed = await runtime.call(function, event)
            if changed is not None and data_type is not None:
                data = _coerce(changed, data_type, function.name)
        if data_type is not None:
            args = {**args, "data": data}
        node = await inner(root, info, **args)
        for function in after:
            event = Event(
                data=dict(data),
                context=runtime.context(context.viewer, None),  # the request is over
                function=function.name,
                type_name=type_name,
                operation=action,
                id=node["id"],
                node=dict(node),
            )
            context.after_commit.append(_after(runtime, function, event))
        return node

    return resolve


def _coerce(value: Any, data_type: GraphQLInputType, name: str) -> dict[str, Any]:
    """A before hook's new input, checked against the mutation's input type like a client's."""
    problems: list[str] = []

    def on_error(error: GraphQLError, path: list[str | int]) -> None:
        at = ".".join(str(p) for p in path)
        problems.append(f"{at}: {error.message}" if at else error.message)

    coerced: Any = Undefined
    if not isinstance(value, dict):
        problems.append(f"expected a dict, got {type(value).__name__}")
    else:
        validate_input_value(value, data_type, on_error, hide_suggestions=True)
        if not problems:
            coerced = coerce_input_value(value, data_type)
    if problems or coerced is Undefined:
        detail = "; ".join(problems) or "invalid input"
        raise FunctionError(
            f"Function {name!r} returned data that does not fit: {detail}", function=name
        )
    result: dict[str, Any] = coerced
    return result


def _after(
    runtime: FunctionRuntime, function: Function, event: Event
) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def run() -> dict[str, Any] | None:
        try:
            await runtime.call(function, event, after_commit=True)
        except BastionError as error:
            return format_error(
                GraphQLError(error.message, original_error=error), Code.FUNCTION_FAILED
            )
        return None

    return run
