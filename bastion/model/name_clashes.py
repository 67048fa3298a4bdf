"""The last pass over a schema: the GraphQL names it would generate must not collide.

Each type generates root fields and input types (:func:`bastion.model.names.names_for`) and
each field its filters; a model whose names would meet another's, or one Bastion defines
itself, is refused here with the two names that meet, rather than by the schema builder later.
"""

from __future__ import annotations

from bastion.model import names
from bastion.model.declarations import BUILTIN_FILE, Declarations
from bastion.model.problems import Problems
from bastion.model.types import ObjectType, RelationField


def check_generated_names(
    types: dict[str, ObjectType], declared: Declarations, problems: Problems
) -> None:
    """Report every generated root field, input type or filter name that is taken twice."""
    taken: dict[str, str] = {}
    declared_names = set(types) | set(declared.enums)
    for type_name in types:
        generated = names.names_for(type_name)
        where = declared.type_where.get(type_name, BUILTIN_FILE)
        for input_name in generated.input_types:
            if input_name in declared_names:
                problems.add(
                    declared.type_where[input_name],
                    f"type name '{input_name}' clashes with a name generated for {type_name}",
                )
        for field in generated.root_fields:
            if field in names.RESERVED_ROOT_FIELDS:
                problems.add(
                    where, f"type '{type_name}' would generate the reserved field '{field}'"
                )
            elif field in taken:
                problems.add(
                    where,
                    f"type '{type_name}' generates the field '{field}', which "
                    f"{taken[field]} generates too",
                )
            else:
                taken[field] = f"type '{type_name}'"
        _check_filter_names(types[type_name], where, problems)


def _check_filter_names(obj: ObjectType, where: str, problems: Problems) -> None:
    seen: dict[str, str] = {}
    reported: set[tuple[str, str]] = set()
    for field in obj.fields.values():
        suffixes: tuple[str, ...] = ()
        if isinstance(field, RelationField):
            suffixes = names.TO_MANY_FILTERS if field.many else ("",)
        elif field.comparable:
            suffixes = ("", *names.STRING_FILTERS)
        for suffix in suffixes:
            key = f"{field.name}_{suffix}" if suffix else field.name
            other = seen.get(key, field.name)
            # One line per pair of fields: `title` and `title_not` share five filters.
            if other != field.name and (other, field.name) not in reported:
                reported.add((other, field.name))
                problems.add(
                    where,
                    f"fields {obj.name}.{other} and {obj.name}.{field.name} both make "
                    f"the filter '{key}'; rename one",
                )
            seen.setdefault(key, field.name)
