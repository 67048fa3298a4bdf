"""MongoDB Extended JSON, the wire format of the Stitch functions route.

The SDKs send function arguments in canonical Extended JSON (``1`` as ``{"$numberInt": "1"}``,
an ObjectId as ``{"$oid": ...}``) and decode the answer as Extended JSON. Both directions use
pymongo's ``bson.json_util``, MongoDB's own implementation of the format, so that every type
and corner (``$numberDouble: "NaN"``, ``$date`` forms, ``$binary`` subtypes) is read and
written as MongoDB reads and writes it.

What passes is what BSON can hold, checked by encoding it as BSON: an integer beyond 64 bits, a
Python ``set`` or ``Decimal`` (use ``bson.Decimal128``), a key that is not a string, or an
answer over BSON's 16 MB document limit is refused, not written as Extended JSON no MongoDB
client would read back.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import bson
from bson import json_util
from bson.codec_options import CodecOptions

# Dates arrive as aware UTC datetimes, as Bastion's clock gives them.
_READ = json_util.JSONOptions(tz_aware=True, tzinfo=UTC)
_DECODE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)


_DETAIL = 200  # characters of a library's message kept: it may quote the whole bad value


class EJSONError(ValueError):
    """A value that is not valid Extended JSON, or that BSON cannot hold."""


def _detail(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= _DETAIL else text[:_DETAIL] + "..."


def _inflate(value: Any) -> Any:
    """Plain JSON to Python values, bottom-up, as ``json_util.loads`` does while parsing."""
    if isinstance(value, dict):
        pairs = [(key, _inflate(item)) for key, item in value.items()]
        return json_util.object_pairs_hook(pairs, _READ)
    if isinstance(value, list):
        return [_inflate(item) for item in value]
    return value


def _as_bson(value: Any) -> Any:
    """``value`` after a trip through BSON: what BSON holds, or an exception."""
    return bson.decode(bson.encode({"v": value}), codec_options=_DECODE)["v"]


def decode(value: Any) -> Any:
    """The Python value of parsed JSON in Extended JSON form (canonical or relaxed).

    ``{"$numberLong": "5"}`` becomes ``bson.Int64(5)``, ``{"$oid": ...}`` a ``bson.ObjectId``,
    ``{"$date": ...}`` an aware UTC ``datetime``, ``{"$numberDecimal": ...}`` a
    ``bson.Decimal128``; raises :class:`EJSONError`.
    """
    try:
        inflated = _inflate(value)
    # Malformed wrappers fail with whatever the library raises for them (ValueError,
    # TypeError, InvalidId, InvalidBSON, binascii errors...): all are the client's bad input.
    except Exception as error:
        raise EJSONError(f"not valid Extended JSON: {_detail(error)}") from None
    try:
        _as_bson(inflated)
    except Exception as error:
        raise EJSONError(f"not a value BSON can hold: {_detail(error)}") from None
    return inflated


def encode(value: Any) -> str:
    """``value`` as canonical Extended JSON text; raises :class:`EJSONError`."""
    try:
        held = _as_bson(value)
    except Exception as error:
        kind = type(value).__name__
        raise EJSONError(f"{kind} is not a value BSON can hold: {_detail(error)}") from None
    return json_util.dumps(held, json_options=json_util.CANONICAL_JSON_OPTIONS)
