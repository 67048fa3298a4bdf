"""Row projectors written as Python functions, one per object plan.

:meth:`Projector.object <bastion.graphql.compiled.project.Projector.object>` answers a row by
walking its plan's fields; for a list of a thousand rows that walk (the field's kind, its
guard, its serializer, the check for a failed value) is decided again for every row. Here each
plan is turned once into the source of a function that does only what that plan needs, in the
same order, with the same calls where something can go wrong, so that its answers and errors
are those of the walk (the differential test runs both). The source holds no value of the
request or the document: names and keys are passed in as the function's constants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.graphql.compiled.plan import FieldPlan, ObjectPlan, Step

RowProjector = Callable[[Any, dict[str, Any], Any], Any]
"""``(projector, row, path) -> answer or INVALID``."""


def row_projector(plan: ObjectPlan, helpers: dict[str, Any]) -> RowProjector:
    """The projector function of ``plan``; ``helpers`` holds INVALID, _same, readable,
    refused (the walk's own functions)."""
    constants: dict[str, Any] = dict(helpers)
    constants["TYPE"] = plan.type.name
    lines = ["def project(P, row, path):"]
    guarded = any(f.guarded for f in plan.fields)
    if guarded:
        lines.append("    context = P.context")
    names = []
    for index, field in enumerate(plan.fields):
        value = f"v{index}"
        constants[f"F{index}"] = field
        constants[f"K{index}"] = field.key
        names.append((f"K{index}", value))
        if field.step == Step.TYPENAME:
            lines.append(f"    {value} = TYPE")
            continue
        body = _column(field, index, value) if field.step == Step.COLUMN else _link(index, value)
        if field.guarded:
            constants[f"N{index}"] = field.name
            lines.append(f"    if not readable(context, TYPE, N{index}, row):")
            lines.append(
                f"        {value} = P.fail(refused(TYPE, N{index}), F{index}, (path, K{index}))"
            )
            lines.append("    else:")
            lines.extend("    " + line for line in body)
        else:
            lines.extend(body)
        if field.non_null:
            # Only a non-null field's value can be INVALID (see Projector.fail and leaf).
            lines.append(f"    if {value} is INVALID:")
            lines.append("        return INVALID")
    pairs = ", ".join(f"{key}: {value}" for key, value in names)
    lines.append(f"    return {{{pairs}}}")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<projector {plan.type.name}>", "exec"), constants, namespace)  # noqa: S102 - source made here from the plan, no request text
    projector: RowProjector = namespace["project"]
    return projector


def _column(field: FieldPlan, index: int, value: str) -> list[str]:
    shape = field.leaf
    assert shape is not None
    read = f"    {value} = row.get({field.column!r})"
    redo = f"        {value} = P.leaf(F{index}.leaf, {value}, F{index}, (path, K{index}))"
    if shape.serialize is None:
        return [read, f"    if {value} is None:", redo]
    if shape.same is None:
        return [read, redo[4:]]  # always through the serializer
    if shape.same is bool:
        # Exactly the class: _same's test for it (int's checks its range too).
        test = f"{value}.__class__ is not bool"
    else:
        test = f"not _same(F{index}.leaf.same, {value})"
    return [read, f"    if {value} is None or {test}:", redo]


def _link(index: int, value: str) -> list[str]:
    return [f"    {value} = P.link(F{index}, row, (path, K{index}))"]
