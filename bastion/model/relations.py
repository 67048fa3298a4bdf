"""Relations: the two sides a schema declares, paired into one :class:`Relation` each.

A field whose type is another object type is one side of a relation. While fields are read,
each side is noted with its ``@relation`` arguments (:func:`relation_side`); once every type
is built, the sides are paired (:func:`pair_relations`): by the two types they join and by
``@relation(name:)`` when two types are joined more than once. Each pair decides which side
holds the foreign key and what happens to it when its target is deleted, and the sides become
the :class:`RelationField` of their types.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from graphql.utilities import value_from_ast_untyped

from bastion.model.problems import Problems
from bastion.model.types import ObjectType, OnDelete, Relation, RelationField


@dataclass
class RawRelation:
    """One side of a relation as the schema declares it, before it is paired."""

    owner: str
    name: str
    target: str
    many: bool
    required: bool
    relation_name: str | None
    on_delete: OnDelete | None
    where: str


def relation_side(
    owner: str,
    name: str,
    target: str,
    many: bool,
    required: bool,
    args: dict[str, Any],
    where: str,
    problems: Problems,
) -> RawRelation:
    """The side ``owner.name`` of a relation, read with its ``@relation`` arguments ``args``."""
    relation_name: str | None = None
    on_delete: OnDelete | None = None
    for arg, value in args.items():
        raw = value_from_ast_untyped(value)
        if arg == "name" and isinstance(raw, str) and raw:
            relation_name = raw
        elif arg == "onDelete" and raw in OnDelete.__members__:
            on_delete = OnDelete(raw)
        elif arg == "onDelete":
            problems.add(
                where,
                f"@relation(onDelete:) on {owner}.{name} must be SET_NULL, CASCADE or RESTRICT",
            )
        elif arg == "name":
            problems.add(where, f"@relation(name:) on {owner}.{name} must be a string")
        else:
            problems.add(where, f"unknown @relation argument '{arg}' on {owner}.{name}")
    return RawRelation(owner, name, target, many, required, relation_name, on_delete, where)


def pair_relations(
    sides: list[RawRelation], types: dict[str, ObjectType], problems: Problems
) -> list[Relation]:
    """Pair ``sides`` into relations and add their fields to ``types``."""
    groups: dict[tuple[frozenset[str], str | None], list[RawRelation]] = defaultdict(list)
    for raw in sides:
        groups[(frozenset((raw.owner, raw.target)), raw.relation_name)].append(raw)
    first_use: dict[str, RawRelation] = {}
    for (_, relation_name), members in groups.items():
        if relation_name is None:
            continue
        first = first_use.setdefault(relation_name, members[0])
        if first is not members[0]:
            problems.add(
                members[0].where,
                f"relation '{relation_name}' is already used between {first.owner} and "
                f"{first.target}; give {members[0].owner}.{members[0].name} its own name",
            )
    relations: list[Relation] = []
    for (_, relation_name), members in groups.items():
        pairs = _split_group(members, relation_name, problems)
        for first, second in pairs:
            relation = _relation(first, second, problems)
            if relation is None:
                continue
            relations.append(relation)
            _attach(types, relation, first, second, problems)
    return relations


def _split_group(
    members: list[RawRelation], relation_name: str | None, problems: Problems
) -> list[tuple[RawRelation, RawRelation | None]]:
    a = members[0]
    forward = [m for m in members if m.owner == a.owner and m.target == a.target]
    backward = [m for m in members if m not in forward]
    if a.owner == a.target:
        forward, backward = members[:1], members[1:]
    if len(forward) > 1 or len(backward) > 1:
        fields = ", ".join(f"{m.owner}.{m.name}" for m in members)
        if relation_name:
            reason = f"relation '{relation_name}' names more than two fields ({fields})"
        else:
            reason = (
                f"ambiguous relations between {a.owner} and {a.target} ({fields}): "
                'name each pair with @relation(name: "...")'
            )
        problems.add(members[-1].where, reason)
        return []
    return [(forward[0], backward[0] if backward else None)]


def _relation(p: RawRelation, q: RawRelation | None, problems: Problems) -> Relation | None:
    if q is not None and p.many and q.many:
        problems.add(
            q.where,
            f"many-to-many relations are not supported yet ({p.owner}.{p.name} and "
            f"{q.owner}.{q.name}); add a type for the link with a to-one field to each side",
        )
        return None
    # Decide which side holds the foreign key.
    if q is None:
        holder, other = (p, None) if not p.many else (None, p)
    elif p.many:
        holder, other = q, p
    elif q.many:
        holder, other = p, q
    else:
        # One-to-one: the required side holds the key, else the side given onDelete (the
        # rule is about that side's nodes), else the first by name.
        ordered = sorted(
            (p, q), key=lambda r: (not r.required, r.on_delete is None, r.owner, r.name)
        )
        holder, other = ordered[0], ordered[1]
    for side in (p, q):
        if side is not None and side is not holder and side.on_delete is not None:
            target = f"{holder.owner}.{holder.name}" if holder else "the to-one side"
            problems.add(
                side.where, f"onDelete belongs on the field that holds the link ({target})"
            )
    if holder is None:
        assert other is not None
        return Relation(
            name=f"{other.owner}.{other.name}",
            holder=other.target,
            holder_field=None,
            target=other.owner,
            target_field=other.name,
            target_many=True,
            column=f"_{other.owner}_{other.name}",
            required=False,
            on_delete=OnDelete.SET_NULL,
        )
    on_delete = holder.on_delete or (OnDelete.RESTRICT if holder.required else OnDelete.SET_NULL)
    if on_delete is OnDelete.SET_NULL and holder.required:
        problems.add(
            holder.where,
            f"{holder.owner}.{holder.name} is required, so onDelete cannot be SET_NULL "
            "(use CASCADE or RESTRICT)",
        )
    return Relation(
        name=p.relation_name or f"{holder.owner}.{holder.name}",
        holder=holder.owner,
        holder_field=holder.name,
        target=holder.target,
        target_field=other.name if other else None,
        target_many=other.many if other else True,
        column=f"{holder.name}Id",
        required=holder.required,
        on_delete=on_delete,
    )


def _attach(
    types: dict[str, ObjectType],
    relation: Relation,
    p: RawRelation,
    q: RawRelation | None,
    problems: Problems,
) -> None:
    for side in (p, q):
        if side is None:
            continue
        field = RelationField(
            name=side.name,
            target=side.target,
            many=side.many,
            required=side.required and not side.many,
            relation=relation,
        )
        types[side.owner].fields[side.name] = field
    if relation.holder_field is None:
        types[relation.holder].hidden_keys.append(relation)
    elif relation.column in types[relation.holder].fields:
        problems.add(
            p.where,
            f"field {relation.holder}.{relation.column} clashes with the key column of "
            f"relation {relation.holder}.{relation.holder_field}",
        )
