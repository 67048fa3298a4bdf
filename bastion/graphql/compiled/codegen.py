"""Row projectors written as Python functions, two per object plan: one row, a list of rows.

Answering a row by walking its plan's fields decides again, for every row of a list of a
thousand, what each field is (a column, a relation, ``__typename``), whether a rule guards it,
whether its value needs its serializer, where its relation's rows are. Here each plan is turned
once into the source of functions that do only what that plan needs, in the same order and with
the same calls where something can go wrong, so that their answers and errors are those the
graphql-core executor gives (the differential test, tests/graphql/test_compiled.py, runs both).
What a list shares is looked up once per list: the rows each relation read, its refusal.

The source holds no value of a request or a document: keys, names and plans are the
functions' constants, and every string in the source is written with ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.graphql.compiled.plan import FieldPlan, ObjectPlan, Step
from bastion.graphql.sources import Link

RowProjector = Callable[[Any, dict[str, Any], Any], Any]
"""``(projector, row, path) -> answer or INVALID``."""
RowsProjector = Callable[[Any, list[dict[str, Any]], Any], Any]
"""``(projector, rows, path) -> list of answers, or INVALID when an item failed``."""


class Written:
    """The functions of one plan."""

    def __init__(self, one: RowProjector, many: RowsProjector) -> None:
        self.one = one
        self.many = many


def write(
    plan: ObjectPlan, helpers: dict[str, Any], child: Callable[[ObjectPlan], Written]
) -> Written:
    """The projector functions of ``plan``. ``helpers`` holds the names the source calls
    (INVALID, _same, readable, refused, non_null_error); ``child`` gives a relation target's."""
    constants: dict[str, Any] = dict(helpers)
    constants["TYPE"] = plan.type.name
    constants["EMPTY_MAP"] = {}
    constants["EMPTY_LIST"] = ()
    prelude: list[str] = []
    body: list[str] = []
    if any(f.guarded for f in plan.fields):
        prelude.append("context = P.context")
    if any(f.step == Step.LINK for f in plan.fields):
        prelude += [
            "loaded = P.loaded",
            "errors = P.errors",
        ]
    pairs = []
    for index, field in enumerate(plan.fields):
        value = f"v{index}"
        constants[f"F{index}"] = field
        constants[f"K{index}"] = field.key
        pairs.append(f"K{index}: {value}")
        if field.step == Step.TYPENAME:
            body.append(f"{value} = TYPE")
            continue
        if field.step == Step.COLUMN:
            lines = _column(field, index, value)
        else:
            lines = _link(field, index, value, constants, prelude, child)
        if field.guarded:
            constants[f"N{index}"] = field.name
            body.append(f"if not readable(context, TYPE, N{index}, row):")
            body.append(
                f"    {value} = P.fail(refused(TYPE, N{index}), F{index}, (path, K{index}))"
            )
            body.append("else:")
            body.extend("    " + line for line in lines)
        else:
            body.extend(lines)
        if field.non_null:
            # Only a non-null field's value can be INVALID (see Projector.fail and leaf).
            body += [f"if {value} is INVALID:", "    return INVALID"]
    answer = "{" + ", ".join(pairs) + "}"
    source = ["def one(P, row, path):"]
    source += ["    " + line for line in prelude]
    source += ["    " + line for line in body]
    source.append(f"    return {answer}")
    source.append("def many(P, rows, path):")
    source += ["    " + line for line in prelude]
    source += [
        "    items = []",
        "    append = items.append",
        "    for index, row in enumerate(rows):",
    ]
    # The item's own path; the body's `return INVALID` fails the whole list, as it should.
    source.append("        item = (path, index)")
    source += ["        " + line.replace("(path, K", "(item, K") for line in body]
    source.append(f"        append({answer})")
    source.append("    return items")
    namespace: dict[str, Any] = {}
    code = compile("\n".join(source), f"<projector {plan.type.name}>", "exec")
    exec(code, constants, namespace)  # noqa: S102 - source written here from the plan alone
    return Written(namespace["one"], namespace["many"])


def _column(field: FieldPlan, index: int, value: str) -> list[str]:
    shape = field.leaf
    assert shape is not None
    read = f"{value} = row.get({field.column!r})"
    redo = f"{value} = P.leaf(F{index}.leaf, {value}, F{index}, (path, K{index}))"
    if shape.serialize is None:
        return [read, f"if {value} is None:", "    " + redo]
    if shape.same is None:
        return [read, redo]  # always through the serializer
    if shape.same is bool:
        test = f"{value}.__class__ is not bool"  # exactly _same's test for bool
    else:
        test = f"not _same(F{index}.leaf.same, {value})"
    return [read, f"if {value} is None or {test}:", "    " + redo]


def _link(
    field: FieldPlan,
    index: int,
    value: str,
    constants: dict[str, Any],
    prelude: list[str],
    child: Callable[[ObjectPlan], Written],
) -> list[str]:
    """As Projector.link, maybe_object and rows answer a relation, with its maps hoisted."""
    source = field.source
    assert isinstance(source, Link) and field.child is not None
    relation = source.field
    target = child(field.child)
    constants[f"ONE{index}"] = target.one
    constants[f"MANY{index}"] = target.many
    marker = id(field)
    prelude.append(f"refused{index} = loaded.refused.get({marker})")
    at = f"(path, K{index})"
    lines = [
        f"if refused{index} is not None:",
        f"    {value} = P.fail(refused{index}, F{index}, {at})",
        "else:",
    ]
    if relation.holds_key:
        prelude.append(f"rows{index} = loaded.to_one.get({marker}, EMPTY_MAP)")
        found = [
            f"target = row.get({field.column!r})",
            f"found = rows{index}.get(target) if target is not None else None",
        ]
    else:
        prelude.append(f"rows{index} = loaded.to_many.get({marker}, EMPTY_MAP)")
        found = [f"children = rows{index}.get(row['id'], EMPTY_LIST)"]
        if relation.many:
            return [
                *lines,
                "    " + found[0],
                f"    {value} = MANY{index}(P, children, {at})",
                *_failed_child(field, value, "    "),
            ]
        found.append("found = children[0] if children else None")
    if field.non_null:
        missing = [f"errors.append(non_null_error(F{index}, {at}))", f"{value} = INVALID"]
    else:
        missing = [f"{value} = None"]
    return (
        lines
        + ["    " + line for line in found]
        + ["    if found is None:"]
        + ["        " + line for line in missing]
        + ["    else:", f"        {value} = ONE{index}(P, found, {at})"]
        + _failed_child(field, value, "        ")
    )


def _failed_child(field: FieldPlan, value: str, indent: str) -> list[str]:
    """A child answer that failed: INVALID passes up through a non-null field, else null."""
    if field.non_null:
        return []  # INVALID stays INVALID, checked by the caller
    return [f"{indent}if {value} is INVALID:", f"{indent}    {value} = None"]
