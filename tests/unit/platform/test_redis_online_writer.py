"""The Redis writer's value and timestamp bytes equal the protobuf encodings Feast writes."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from feast.protos.feast.types.Value_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp

from glamcast.platform.redis_online_writer import encode_timestamp, encode_value

FIELDS = {"Int64": "int64_val", "Int32": "int32_val", "Float64": "double_val",
          "Float32": "float_val", "String": "string_val"}
EDGE = {
    "Int64": [0, 1, 127, 128, 300, 16_383, 16_384, 2**31, 2**63 - 1, -1, -128, -(2**63)],
    "Int32": [0, 1, 127, 128, 2**31 - 1, -1, -(2**31)],
    "Float64": [0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, math.inf, -math.inf],
    "Float32": [0.0, 0.5, -3.25, 1e30],
    "String": ["", "x", "warm", "ü€😀", "a" * 127, "b" * 128, "c" * 20_000],
}


@pytest.mark.parametrize("kind", sorted(FIELDS))
def test_every_value_is_encoded_as_feasts_value_proto(kind: str) -> None:
    rng = random.Random(kind)
    values = list(EDGE[kind])
    for _ in range(2_000):
        values.append({"Int64": lambda: rng.randint(-(2**63), 2**63 - 1),
                       "Int32": lambda: rng.randint(-(2**31), 2**31 - 1),
                       "Float64": lambda: rng.uniform(-1e6, 1e6),
                       "Float32": lambda: rng.uniform(-1e3, 1e3),
                       "String": lambda: "".join(chr(rng.randint(32, 0x2FFF))
                                                 for _ in range(rng.randint(0, 40)))}[kind]())
    for value in values:
        assert encode_value(kind, value) == Value(**{FIELDS[kind]: value}).SerializeToString(), value


def test_null_is_feasts_unset_value_and_nan_round_trips() -> None:
    assert encode_value("Float64", None) == Value().SerializeToString() == b""
    parsed = Value()
    parsed.ParseFromString(encode_value("Float64", math.nan))
    assert math.isnan(parsed.double_val)


def test_timestamps_are_feasts_serialized_timestamp_naive_as_utc() -> None:
    base = datetime(2026, 11, 24, 21, 45, 3, 123456, tzinfo=UTC)
    for when in (base, base + timedelta(microseconds=1), datetime(1970, 1, 1, tzinfo=UTC)):
        expected = Timestamp()
        expected.FromDatetime(when)
        assert encode_timestamp(when) == expected.SerializeToString()
        assert encode_timestamp(when.replace(tzinfo=None)) == expected.SerializeToString()


def test_an_unknown_type_is_refused_at_once() -> None:
    with pytest.raises(KeyError):
        encode_value("Bytes", b"x")
