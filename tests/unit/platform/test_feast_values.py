"""The direct writers' value, timestamp and map bytes equal the protobuf encodings Feast writes."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from feast.protos.feast.types.Value_pb2 import Value
from google.protobuf.timestamp_pb2 import Timestamp

from glamcast.platform.feast_values import encode_timestamp, encode_value, map_value_encoder

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


def test_a_map_value_parses_to_the_map_protobuf_builds() -> None:
    """`map_value_encoder`'s bytes parse to exactly the `Value(map_val=...)` protobuf builds
    from the same row, nulls as unset Values, long strings and large ints included (map entry
    order is not part of protobuf's contract, so the parsed messages are compared)."""
    features = {"n": "Int64", "m": "Int32", "x": "Float64", "f": "Float32", "s": "String"}
    encode = map_value_encoder(features)
    rng = random.Random(7)
    rows = [{"n": 0, "m": 0, "x": 0.0, "f": 0.0, "s": ""},
            {"n": None, "m": None, "x": None, "f": None, "s": None},
            {"n": 2**63 - 1, "m": -(2**31), "x": -1e300, "f": 1e30, "s": "é" * 300}]
    for _ in range(300):
        rows.append({name: None if rng.random() < 0.2 else rng.choice(EDGE[kind])
                     for name, kind in features.items()})
    for row in rows:
        expected = Value()
        for name, kind in features.items():
            if row[name] is None:
                expected.map_val.val.get_or_create(name)
            else:
                setattr(expected.map_val.val[name], FIELDS[kind], row[name])
        parsed = Value.FromString(encode(row))
        assert parsed == expected, row
        assert set(parsed.map_val.val) == set(features)


def test_a_map_of_an_unknown_type_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="Bytes"):
        map_value_encoder({"b": "Bytes"})
