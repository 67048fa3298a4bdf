"""The bytes of a GraphQL response body: one encoder for every way a response leaves.

Compact JSON in UTF-8 (no ASCII escaping, no NaN), the form Starlette's ``JSONResponse`` writes
and clients have always received. The endpoint encodes with :func:`encode`, never with a
second ``json.dumps`` of its own, so that parts of ``data`` the database wrote as JSON
already (:class:`RawJSON`, :mod:`bastion.graphql.compiled.json_sql`) come out byte for byte as
the same data made of Python values would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

# CPython's C encoder (None where the interpreter has none).
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)


def _unknown(value: Any) -> Any:
    # As json.JSONEncoder.default: anything JSON has no form for fails the response.
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


# The C encoder of _encoder (None where there is none): called directly for a whole body.
_c_encoder: Any = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(None, _unknown, encode_basestring, None, ":", ",", False, False, False)
)


def _encoder() -> Callable[[Any], str]:
    """``json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode``,
    made once: that method makes a new C encoder (and its dict of containers under way) for
    every call, which cost more than encoding a small answer. Without that dict (a response is
    a tree: it never holds itself), a value that did would fail with RecursionError rather than
    ValueError; either is the same internal error to the client."""
    if _c_encoder is None:  # pragma: no cover
        return json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode
    encoder = _c_encoder

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return encode_basestring(value)
        return "".join(encoder(value, 0))

    return encode


_encode = _encoder()


class RawJSON(str):
    """A value of ``data`` that is JSON text already, encoded as the value it holds.

    Only a root field's answer is ever one, and only in a body handed to :func:`encode`
    (in-process callers get Python values: see ``Executor.execute``'s ``raw``)."""

    __slots__ = ()


def encode(body: dict[str, Any]) -> bytes:
    """``body`` as the response's bytes."""
    data = body.get("data")
    # (`in` compares the classes by identity first, as `is` would, without a generator.)
    if not data or RawJSON not in map(type, data.values()):
        if _c_encoder is not None:
            return "".join(_c_encoder(body, 0)).encode()
        return _encode(body).encode()  # pragma: no cover
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
