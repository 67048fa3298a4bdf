"""Extended JSON both ways: what reads, what writes, and what BSON cannot hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128, Int64, ObjectId

from bastion.http.stitch.ejson import EJSONError, decode, encode


def test_canonical_and_relaxed_forms_decode_to_bson_values() -> None:
    text = """[{"$numberInt": "1"}, 1, {"$numberLong": "2"}, {"$numberDouble": "Infinity"},
        2.5, {"$numberDecimal": "0.1"}, {"$oid": "5f1d7c3a9b1e8a0012345678"},
        {"$date": "2020-01-01T00:00:00Z"}, {"$date": {"$numberLong": "0"}},
        {"$binary": {"base64": "AQI=", "subType": "00"}}]"""
    values = decode(json.loads(text))
    assert values[:3] == [1, 1, 2] and isinstance(values[2], Int64)
    assert values[3] == float("inf") and values[4] == 2.5
    assert values[5] == Decimal128("0.1")
    assert values[6] == ObjectId("5f1d7c3a9b1e8a0012345678")
    assert values[7] == datetime(2020, 1, 1, tzinfo=UTC)
    assert values[8] == datetime(1970, 1, 1, tzinfo=UTC)
    assert values[9] == b"\x01\x02"


def test_values_encode_as_canonical_extended_json() -> None:
    value = {
        "n": 1,
        "big": 2**40,
        "f": 1.0,
        "naive": datetime(2020, 1, 1),  # read as UTC, as BSON does
        "pair": (1, "a"),
        "bytes": b"\x01",
        "long": Int64(7),
    }
    assert json.loads(encode(value)) == {
        "n": {"$numberInt": "1"},
        "big": {"$numberLong": "1099511627776"},
        "f": {"$numberDouble": "1.0"},
        "naive": {"$date": {"$numberLong": "1577836800000"}},
        "pair": [{"$numberInt": "1"}, "a"],
        "bytes": {"$binary": {"base64": "AQ==", "subType": "00"}},
        "long": {"$numberLong": "7"},
    }
    assert encode(None) == "null"
    assert json.loads(encode("e\u0301 😀")) == "e\u0301 😀"


@pytest.mark.parametrize("value", [{1, 2}, 2**63, -(2**63) - 1, {1: "a"}, Decimal("1"), object()])
def test_what_bson_cannot_hold_does_not_encode(value: Any) -> None:
    with pytest.raises(EJSONError, match="is not a value BSON can hold"):
        encode(value)


def test_a_bad_value_is_not_quoted_whole_in_the_error() -> None:
    with pytest.raises(EJSONError) as raised:
        decode([{"$oid": "z" * 10_000}])
    assert len(str(raised.value)) < 300
