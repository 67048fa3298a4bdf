"""The bytes of a GraphQL response body: one encoder for every way a response leaves.

Compact JSON in UTF-8 (no ASCII escaping, no NaN), the form Starlette's ``JSONResponse`` writes
and clients have always received. The endpoint encodes with :func:`encode`, never with a
second ``json.dumps`` of its own, so that parts of ``data`` the database wrote as JSON
already (:class:`RawJSON`, :mod:`bastion.graphql.compiled.json_sql`) come out byte for byte as
the same data made of Python values would.
"""

from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
).encode


class RawJSON(str):
    """A value of ``data`` that is JSON text already, encoded as the value it holds.

    Only a root field's answer is ever one, and only in a body handed to :func:`encode`
    (in-process callers get Python values: see ``Executor.execute``'s ``raw``)."""

    __slots__ = ()


def encode(body: dict[str, Any]) -> bytes:
    """``body`` as the response's bytes."""
    data = body.get("data")
    if not data or not any(value.__class__ is RawJSON for value in data.values()):
        return _encode(body).encode()
    parts = []
    for key, value in body.items():
        if key == "data":
            fields = ",".join(
                f"{_encode(name)}:{item if item.__class__ is RawJSON else _encode(item)}"
                for name, item in data.items()
            )
            parts.append(f'"data":{{{fields}}}')
        else:
            parts.append(f"{_encode(key)}:{_encode(value)}")
    return f"{{{','.join(parts)}}}".encode()
