"""Feast `Value` protos as bytes, encoded straight from Python values: what the stream stage's
direct writers put in the online stores (`glamcast.platform.redis_online_writer` in Feast's Redis
layout, `glamcast.platform.sqlite_online_store.SqliteRowWriter` in the `local` store's), byte-equal
to protobuf's own encoding (tests/unit/platform/test_feast_values.py).

Building a `Value` per feature and serializing it costs a Python object and a C call per feature;
a tag byte and the payload from a table or `struct` cost a fraction of that.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from feast.protos.feast.types.Value_pb2 import Value as _Value
from google.protobuf.timestamp_pb2 import Timestamp as _Timestamp

#: Value proto tags (field number << 3 | wire type) of the scalar kinds the stream views use.
_DOUBLE_TAG, _FLOAT_TAG, _INT64_TAG, _INT32_TAG, _STRING_TAG = b")", b"5", b" ", b"\x18", b"\x12"
_pack_double = struct.Struct("<d").pack
_pack_float = struct.Struct("<f").pack
#: One-byte varints, the common case for counts.
_SMALL = [bytes([n]) for n in range(128)]
_INT64_SMALL = [_INT64_TAG + small for small in _SMALL]
_INT32_SMALL = [_INT32_TAG + small for small in _SMALL]


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer below 2**64."""
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_double(value: Any) -> bytes:
    return _DOUBLE_TAG + _pack_double(value)


def _encode_float(value: Any) -> bytes:
    return _FLOAT_TAG + _pack_float(value)


def _encode_int64(value: Any) -> bytes:
    # counts are small: one byte in Python; the rest through protobuf's C encoder
    if 0 <= value < 128:
        return _INT64_SMALL[value]
    return _Value(int64_val=value).SerializeToString()


def _encode_int32(value: Any) -> bytes:
    if 0 <= value < 128:
        return _INT32_SMALL[value]
    return _Value(int32_val=value).SerializeToString()


def _encode_string(value: Any) -> bytes:
    data = str(value).encode("utf-8")
    return _STRING_TAG + _varint(len(data)) + data


#: Feast feature type name → encoder of a non-null value to its `Value` proto bytes.
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "Float64": _encode_double,
    "Float32": _encode_float,
    "Int64": _encode_int64,
    "Int32": _encode_int32,
    "String": _encode_string,
}


def encode_value(kind: str, value: Any) -> bytes:
    """The serialized Feast `Value` of a feature of type `kind` (``b""`` for None)."""
    return b"" if value is None else ENCODERS[kind](value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_timestamp(when: datetime) -> bytes:
    """A serialized `google.protobuf.Timestamp` of `when` (naive: UTC), as Feast writes
    ``_ts:<view>``."""
    delta = (when if when.tzinfo is not None else when.replace(tzinfo=UTC)) - _EPOCH
    return _Timestamp(seconds=delta.days * 86_400 + delta.seconds,
                      nanos=delta.microseconds * 1_000).SerializeToString()


def entity_key_encoder(join_key: str, key_version: int,
                       cache_size: int = 200_000) -> Callable[[str], bytes]:
    """Entity id → the serialized `EntityKey` of a one-key entity (Feast's
    `serialize_entity_key` at `key_version`), cached per id: the stream stage writes the same
    people and products over and over."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey

    @lru_cache(maxsize=cache_size)
    def encode(entity_id: str) -> bytes:
        key = EntityKey(join_keys=[join_key], entity_values=[_Value(string_val=entity_id)])
        return serialize_entity_key(key, entity_key_serialization_version=key_version)

    return encode


#: `Value.map_val` (field 20, length-delimited) and the `Map.val` entry (field 1): tags.
_MAP_VAL_TAG = _varint((20 << 3) | 2)
_ENTRY_TAG = b"\n"
_ENTRY_KEY_TAG, _ENTRY_VALUE_TAG = b"\n", b"\x12"


def map_value_encoder(features: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bytes]:
    """Row (feature name → Python value) → the serialized map `Value` holding every feature of
    `features` (name → Feast type name) as `Value(map_val=Map(val={name: Value}))` writes it; a
    None is Feast's unset `Value`. The per-feature key bytes are built once."""
    unknown = sorted({kind for kind in features.values()} - set(ENCODERS))
    if unknown:
        raise ValueError(f"no encoder for feature type(s) {unknown}")
    fields = []
    for name, kind in features.items():
        key = name.encode("utf-8")
        fields.append((name, _ENTRY_KEY_TAG + _varint(len(key)) + key + _ENTRY_VALUE_TAG,
                       ENCODERS[kind]))

    def encode(row: Mapping[str, Any]) -> bytes:
        parts = []
        for name, key_part, encoder in fields:
            raw = row[name]
            value = b"" if raw is None else encoder(raw)
            entry = key_part + _SMALL[len(value)] + value if len(value) < 128 else (
                key_part + _varint(len(value)) + value)
            parts.append(_ENTRY_TAG + _varint(len(entry)) + entry)
        body = b"".join(parts)
        return _MAP_VAL_TAG + _varint(len(body)) + body

    return encode
