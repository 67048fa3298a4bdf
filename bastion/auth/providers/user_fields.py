"""The User fields a custom token fills (``metadata_fields``), checked against the model.

At start, every configured field must be a plain scalar field of User that a token may set
(String, Int, Float or Boolean; not a list, not ``id``, ``isActive`` or a timestamp), so a
typo or a field that would let the identity system switch accounts off stops the start
instead of being ignored. At login a claim goes in only when its value fits the field, as a
GraphQL write would have to: ``email`` is normalised like a registration's and left out when
it is no address or a look-alike the project refuses (:mod:`bastion.model.emails`), and an
empty or NUL-holding string never goes in (an empty value in a unique field would let one
user's login block every other's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.errors import BastionError, ProjectError
from bastion.model.emails import EmailRules
from bastion.model.types import Model, ScalarField, ScalarKind

_SETTABLE = (ScalarKind.STRING, ScalarKind.INT, ScalarKind.FLOAT, ScalarKind.BOOLEAN)
_RESERVED = ("isActive",)  # the account switch belongs to operators, not to a token
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int
_WHERE = "bastion.yml: auth.providers.custom-token.metadata_fields"


def _fits(field: ScalarField, value: Any, emails: EmailRules) -> Any:
    """The value as the field keeps it, or None when it does not fit the field."""
    if field.kind is ScalarKind.BOOLEAN:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if field.kind is ScalarKind.INT:
        return value if isinstance(value, int) and _INT_MIN <= value <= _INT_MAX else None
    if field.kind is ScalarKind.FLOAT:
        return float(value) if isinstance(value, int | float) else None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return None
    if field.name == "email":
        try:
            return emails.check(value)
        except BastionError:
            return None
    return value


class UserFields:
    """The checked ``metadata_fields`` of a project: User field -> its model field."""

    def __init__(
        self, model: Model, names: Mapping[str, str], emails: EmailRules | None = None
    ) -> None:
        """Raise :class:`ProjectError` for any name that is no settable User field."""
        self._emails = emails or EmailRules()
        by_name = {field.name: field for field in model.type("User").scalars}
        errors = []
        self._fields: dict[str, ScalarField] = {}
        for name in names:
            field = by_name.get(name)
            if field is None:
                errors.append(f"{_WHERE}.{name}: User has no such field")
            elif field.managed or field.is_list or field.name in _RESERVED:
                errors.append(f"{_WHERE}.{name}: a token cannot set this field")
            elif field.kind not in _SETTABLE:
                errors.append(
                    f"{_WHERE}.{name}: a {field.kind} field cannot be set from a token "
                    "(String, Int, Float and Boolean fields can)"
                )
            else:
                self._fields[name] = field
        if errors:
            raise ProjectError(errors)

    def fit(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values that fit their fields, as the fields keep them; the others left out."""
        fitted = {}
        for name, value in values.items():
            field = self._fields.get(name)
            kept = _fits(field, value, self._emails) if field is not None else None
            if kept is not None:
                fitted[name] = kept
        return fitted
