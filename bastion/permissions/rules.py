"""Permission rules: the ``permissions:`` section of ``bastion.yml``, parsed and checked.

A rule is ``everyone``, ``authenticated``, ``root``, or a filter in the shape of the generated
``where`` input whose values may be viewer variables (``$viewer.id``). Every rule is checked
against the model when the project loads; a rule that names an unknown type, field, filter or
variable, or a value that does not fit, stops the start with a message naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bastion.errors import ProjectError
from bastion.model import Model, RelationField, ScalarField, ScalarKind
from bastion.model import names as n
from bastion.model.values import parse_datetime
from bastion.store.filters import scalar_filter_suffixes
from bastion.tools.section import Section

VIEWER_VARIABLES = ("$viewer.id", "$viewer.node", "$viewer.type")
MFA_VARIABLE = "$viewer.mfa"
"""A key of a filter rule's top level: ``"$viewer.mfa": true`` asks a second factor too."""
OPERATIONS = ("read", "create", "update", "delete")
FIELD_OPERATIONS = ("read", "write")

RuleSource = str | dict[str, Any]


class FieldRules(Section):
    """``permissions.<Type>.fields.<field>``."""

    read: RuleSource | None = None
    write: RuleSource | None = None


class TypeRules(Section):
    """``permissions.<Type>``: one rule per operation, and per-field rules."""

    read: RuleSource | None = None
    create: RuleSource | None = None
    update: RuleSource | None = None
    delete: RuleSource | None = None
    fields: dict[str, FieldRules] = {}


class Access(StrEnum):
    """The rules that need no data to decide."""

    EVERYONE = "everyone"
    AUTHENTICATED = "authenticated"
    # A user whose session was opened with a second factor (`$viewer.mfa`), or root.
    MFA = "mfa"
    ROOT = "root"


@dataclass(frozen=True)
class Rule:
    """A checked rule: a fixed access level, or a filter over the node."""

    access: Access | None = None
    where: dict[str, Any] = field(default_factory=dict)
    # `"$viewer.mfa": true` beside a filter: the viewer's session proved a second factor too.
    mfa: bool = False

    @property
    def is_filter(self) -> bool:
        """True when the rule depends on the node (a filter)."""
        return self.access is None


ROOT_ONLY = Rule(Access.ROOT)
EVERYONE = Rule(Access.EVERYONE)


@dataclass(frozen=True)
class TypePolicy:
    """The checked rules of one type; a missing rule means root only."""

    rules: dict[str, Rule]
    field_rules: dict[str, dict[str, Rule]]

    def rule(self, operation: str) -> Rule:
        """The rule of ``read``/``create``/``update``/``delete``."""
        return self.rules.get(operation, ROOT_ONLY)

    def field_rule(self, field_name: str, operation: str) -> Rule | None:
        """The rule of a field for ``read``/``write``, if the field has one."""
        return self.field_rules.get(field_name, {}).get(operation)


class _Checker:
    def __init__(self, model: Model, problems: list[str]) -> None:
        self.model = model
        self.problems = problems

    def rule(self, where: str, type_name: str, source: RuleSource) -> Rule | None:
        if isinstance(source, str):
            try:
                return Rule(Access(source))
            except ValueError:
                self.problems.append(
                    f"{where}: unknown rule '{source}' (use everyone, authenticated, mfa, root "
                    "or a filter)"
                )
                return None
        mfa = False
        if isinstance(source, dict) and MFA_VARIABLE in source:
            source = dict(source)
            if source.pop(MFA_VARIABLE) is not True:
                self.problems.append(f"{where}.{MFA_VARIABLE}: only `true` is a rule")
                return None
            if not source:
                return Rule(Access.MFA)
            mfa = True
        before = len(self.problems)
        self.filter(where, type_name, source)
        return Rule(where=source, mfa=mfa) if len(self.problems) == before else None

    def filter(self, where: str, type_name: str, value: Any) -> None:
        if not isinstance(value, dict) or not value:
            self.problems.append(f"{where}: a filter rule must be a non-empty mapping")
            return
        obj = self.model.type(type_name)
        for key, item in value.items():
            here = f"{where}.{key}"
            if key in ("AND", "OR", "NOT"):
                if not isinstance(item, list) or not item:
                    self.problems.append(f"{here}: expected a list of filters")
                    continue
                for index, part in enumerate(item):
                    self.filter(f"{here}[{index}]", type_name, part)
                continue
            self.key(here, obj.name, key, item)

    def key(self, where: str, type_name: str, key: str, value: Any) -> None:
        obj = self.model.type(type_name)
        for field_ in obj.fields.values():
            suffixes: tuple[str, ...]
            if isinstance(field_, RelationField):
                suffixes = n.TO_MANY_FILTERS if field_.many else ("",)
            else:
                suffixes = scalar_filter_suffixes(field_)
            for suffix in suffixes:
                if key == (f"{field_.name}_{suffix}" if suffix else field_.name):
                    if isinstance(field_, RelationField):
                        if value is None and not field_.many:
                            return
                        self.filter(where, field_.target, value)
                    else:
                        self.value(where, field_, suffix, value)
                    return
        self.problems.append(f"{where}: {type_name} has no field or filter '{key}'")

    def value(self, where: str, field_: ScalarField, suffix: str, value: Any) -> None:
        if suffix in ("in", "not_in"):
            if not isinstance(value, list):
                self.problems.append(f"{where}: expected a list")
                return
            for item in value:
                self.scalar(where, field_, item, allow_null=False)
            return
        self.scalar(where, field_, value, allow_null=suffix in ("", "not"))

    def scalar(self, where: str, field_: ScalarField, value: Any, allow_null: bool) -> None:
        if isinstance(value, str) and value.startswith("$"):
            if value not in VIEWER_VARIABLES:
                self.problems.append(
                    f"{where}: unknown variable '{value}' (known: {', '.join(VIEWER_VARIABLES)})"
                )
            elif field_.kind not in (ScalarKind.ID, ScalarKind.STRING):
                what = "a type name" if value == "$viewer.type" else "an id"
                self.problems.append(f"{where}: {value} is {what} and cannot fit {field_.name}")
            return
        if value is None:
            if not allow_null:
                self.problems.append(f"{where}: cannot be null")
            return
        if field_.kind is ScalarKind.ENUM:
            if value not in self.model.enums.get(field_.enum or "", []):
                self.problems.append(f"{where}: {value!r} is not a value of {field_.enum}")
            return
        if not _fits(field_, value):
            self.problems.append(
                f"{where}: {value!r} does not fit {field_.name} "
                f"({field_.enum or field_.kind.value})"
            )


def _fits(field_: ScalarField, value: Any) -> bool:
    kind = field_.kind
    if kind in (ScalarKind.ID, ScalarKind.STRING):
        return isinstance(value, str)
    if kind is ScalarKind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is ScalarKind.FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is ScalarKind.BOOLEAN:
        return isinstance(value, bool)
    if kind is ScalarKind.DATETIME:
        if isinstance(value, datetime):
            return True
        try:
            parse_datetime(str(value))
        except ValueError:
            return False
        return True
    return False


def check_rules(
    model: Model, sections: dict[str, TypeRules], file: str = "bastion.yml"
) -> tuple[dict[str, TypePolicy], list[str]]:
    """Check every rule against the model: (the policies, the problems found)."""
    problems: list[str] = []
    checker = _Checker(model, problems)
    policies: dict[str, TypePolicy] = {}
    for type_name, section in sections.items():
        base = f"{file}: permissions.{type_name}"
        if type_name not in model.types:
            problems.append(f"{base}: unknown type '{type_name}'")
            continue
        obj = model.type(type_name)
        rules: dict[str, Rule] = {}
        for operation in OPERATIONS:
            source = getattr(section, operation)
            if source is not None:
                rule = checker.rule(f"{base}.{operation}", type_name, source)
                if rule is not None:
                    rules[operation] = rule
        field_rules: dict[str, dict[str, Rule]] = {}
        for field_name, field_section in section.fields.items():
            where = f"{base}.fields.{field_name}"
            if field_name not in obj.fields:
                problems.append(f"{where}: {type_name} has no field '{field_name}'")
                continue
            if field_name == "id":
                problems.append(f"{where}: id is readable with its node; it takes no rule")
                continue
            for operation in FIELD_OPERATIONS:
                source = getattr(field_section, operation)
                if source is not None:
                    rule = checker.rule(f"{where}.{operation}", type_name, source)
                    if rule is not None:
                        field_rules.setdefault(field_name, {})[operation] = rule
        policies[type_name] = TypePolicy(rules, field_rules)
    for type_name in model.types:
        policies.setdefault(type_name, TypePolicy({}, {}))
    return policies, problems


def _with_mfa(rule: Rule) -> Rule:
    if rule.access is Access.ROOT:
        return rule
    if rule.access is not None:
        return Rule(Access.MFA)
    return Rule(where=rule.where, mfa=True)


def requiring_mfa(policies: dict[str, TypePolicy], types: list[str]) -> dict[str, TypePolicy]:
    """``policies`` with every rule of ``types`` asking a second-factor session too
    (``auth.mfa.required: [Type, ...]``); root-only rules stay root-only."""
    unknown = [t for t in types if t not in policies]
    if unknown:
        raise ProjectError(
            [
                f"bastion.yml: auth.mfa.required: {t} has no permissions to require it in"
                for t in unknown
            ]
        )
    changed = dict(policies)
    for name in types:
        policy = policies[name]
        changed[name] = TypePolicy(
            {op: _with_mfa(rule) for op, rule in policy.rules.items()},
            {
                field_name: {op: _with_mfa(rule) for op, rule in rules.items()}
                for field_name, rules in policy.field_rules.items()
            },
        )
    return changed
