"""Hostile input, generated: what a broken client or an attacker sends to the ingest gateway and
straight onto the input topics.

Two sources, used by the hostile-input tests and `bench/hostile_input.py`:

- `hostile_cases()`: every known failure class, each against every field it applies to, derived
  from the event models' JSON Schemas (a field added later is covered without a change here):
  integers past int64 and far past it (2^63, 2^64, −2^63−1, 10^30, a 4,000-digit number),
  NaN / ±Infinity / 1e400 in number fields, nesting 10,000 deep (as the body, inside a field,
  as one item of an array), strings and lists past their caps, non-UTF-8 bytes, scalars and
  empty bodies. None of them is a valid event: each must be refused (a 4xx at the gateway, a dead
  letter in the stream).
- `fuzzed_cases(rng, n)`: random mutations of valid events (byte flips, cuts, insertions, a field
  swapped for a value of another type or size, duplicated keys). Some mutations stay valid; the
  contract for these is only that nothing crashes and that what is accepted lands.

A case is raw bytes, not a dict: most of these cannot be built with `json.dumps` (NaN is not JSON
and Python will not print a 5,000-digit integer), and the point is what arrives on the wire.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from glamcast.core.events import CommerceEvent, SocialEvent, TryOnEvent

#: The gateway's path kinds and their models.
KINDS: dict[str, type[BaseModel]] = {
    "tryon": TryOnEvent,
    "social": SocialEvent,
    "commerce": CommerceEvent,
}

#: Integer values no int64 column, and no count, holds; the text is what goes on the wire.
POISON_INTEGERS: dict[str, str] = {
    "2^63": str(2**63),
    "2^64": str(2**64),
    "-2^63-1": str(-(2**63) - 1),
    "10^30": "1" + "0" * 30,
    "4000 digits": "9" * 4000,
}
#: Numbers that are not finite (or not JSON at all).
NOT_FINITE: dict[str, str] = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
                              "1e400": "1e400"}
DEEP = 10_000


@dataclass(frozen=True)
class HostileCase:
    """One hostile request body / record value for the `kind` endpoint and its topic."""

    name: str  # e.g. "tryon dwell_ms=2^63"
    kind: str  # the gateway's path kind: tryon, social, commerce
    body: bytes
    content_type: str = "application/json"

    @property
    def topic(self) -> str:
        """The input topic (unprefixed) the same bytes are produced to."""
        return KINDS[self.kind].TOPIC  # type: ignore[attr-defined]


def valid_event(kind: str, index: int, now: datetime | None = None) -> dict[str, Any]:
    """A valid event of `kind`, distinct per `index` (event ids ``<kind>-<index>``)."""
    ts = (now or datetime.now(UTC)) - timedelta(minutes=index % 600)
    event_id = f"{kind}-{index}"
    if kind == "tryon":
        return {
            "event_id": event_id, "ts": ts.isoformat(), "user_id": f"u{index % 97}",
            "session_id": f"s{index % 13}", "action": "try_on", "product_id": f"p{index % 31}",
            "category": "lipstick", "shade_hex": "#C04A5B", "finish": "matte",
            "dwell_ms": 1000 + index % 5000, "platform": "web", "app_version": "3.2.1",
            "face": {"skin_tone": 1 + index % 10, "undertone": "warm", "face_shape": "oval"},
        }
    if kind == "social":
        return {
            "event_id": event_id, "ts": ts.isoformat(), "platform": "tiktok",
            "post_id": event_id, "author_id": f"a{index % 50}", "hashtags": ["#redlips"],
            "brands": ["MAC"], "likes": index % 1000, "comments": 3, "shares": 1, "views": 900,
            "lang": "en",
        }
    if kind == "commerce":
        return {
            "event_id": event_id, "event_time": ts.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "event_type": "view", "product_id": str(1000 + index % 300), "category_id": "2053",
            "category_code": "beauty.lips", "brand": "runail", "price": 9.5,
            "user_id": str(50_000 + index % 97), "user_session": f"us{index % 13}",
        }
    raise ValueError(f"unknown kind {kind!r}; one of {sorted(KINDS)}")


def _fields(model: type[BaseModel]) -> list[tuple[tuple[str, ...], str]]:
    """(path, JSON type) of every scalar field of `model`, nested objects included."""
    schema = model.model_json_schema()
    definitions = schema.get("$defs", {})

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
        for name, spec in node.get("properties", {}).items():
            options = spec.get("anyOf", [spec])
            for option in options:
                if "$ref" in option:
                    yield from walk(definitions[option["$ref"].rsplit("/", 1)[1]], (*path, name))
                elif option.get("type") in ("integer", "number", "string", "array"):
                    yield (*path, name), option["type"]
                    break

    return list(walk(schema, ()))


def _with_raw(event: dict[str, Any], path: tuple[str, ...], raw: str) -> bytes:
    """The JSON of `event` with the value at `path` replaced by the raw text `raw`."""
    marker = "\x00HOSTILE\x00"
    target = event = json.loads(json.dumps(event))
    for name in path[:-1]:
        if not isinstance(target.get(name), dict):
            target[name] = {}
        target = target[name]
    target[path[-1]] = marker
    return json.dumps(event).replace(json.dumps(marker), raw).encode()


def hostile_cases(now: datetime | None = None) -> list[HostileCase]:
    """Every deterministic hostile case (module doc); each one must be refused."""
    cases: list[HostileCase] = []
    deep_array = "[" * DEEP + "]" * DEEP
    deep_object = '{"a":' * DEEP + "1" + "}" * DEEP
    for kind, model in KINDS.items():
        base = valid_event(kind, 0, now)
        fields = _fields(model)
        for path, json_type in fields:
            where = ".".join(path)
            if json_type in ("integer", "number"):
                for label, raw in {**POISON_INTEGERS, **NOT_FINITE}.items():
                    if json_type == "number" and label == "4000 digits":
                        continue  # a float field reads it as 1e4000: covered by 1e400
                    cases.append(HostileCase(f"{kind} {where}={label}", kind,
                                             _with_raw(base, path, raw)))
            if json_type == "string":
                cases.append(HostileCase(f"{kind} {where}=100k chars", kind,
                                         _with_raw(base, path, json.dumps("x" * 100_000))))
            if json_type == "array":
                cases.append(HostileCase(f"{kind} {where}=10k items", kind,
                                         _with_raw(base, path, json.dumps(["x"] * 10_000))))
        one = json.dumps(base)
        cases += [
            HostileCase(f"{kind} deep array body", kind, deep_array.encode()),
            HostileCase(f"{kind} deep object body", kind, deep_object.encode()),
            HostileCase(f"{kind} deep in a field", kind, _with_raw(base, ("extra",), deep_array)),
            HostileCase(f"{kind} deep in a known field", kind,
                        _with_raw(base, (fields[0][0][0],), deep_object)),
            HostileCase(f"{kind} deep item of an array", kind,
                        f"[{one},{deep_array}]".encode()),
            HostileCase(f"{kind} deep ndjson line", kind, f"{one}\n{deep_array}\n".encode(),
                        "application/x-ndjson"),
            HostileCase(f"{kind} huge integer item", kind, f"[{one},{'9' * 5000}]".encode()),
            HostileCase(f"{kind} not utf-8", kind, b'{"event_id": "\xff\xfe"}'),
            HostileCase(f"{kind} empty body", kind, b""),
            HostileCase(f"{kind} null", kind, b"null"),
            HostileCase(f"{kind} scalar", kind, b"42"),
            HostileCase(f"{kind} NaN body", kind, b"NaN"),
            HostileCase(f"{kind} unclosed", kind, one[:-1].encode()),
        ]
    return cases


def _mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    how = rng.randrange(5)
    if how == 0 and data:  # flip some bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == 1 and data:  # cut
        del data[rng.randrange(len(data)):]
    elif how == 2:  # insert structural or numeric noise
        noise = rng.choice([b"[", b"{", b'"', b"\\", b"9" * rng.randint(1, 40), b"-", b"e999",
                            b"\x00", "é".encode(), b"\xed\xa0\x80"])
        at = rng.randrange(len(data) + 1)
        data[at:at] = noise * rng.randint(1, 50)
    elif how == 3:  # duplicate a key with another value
        data = bytearray(raw.replace(b"{", b'{"event_id": 1, ', 1))
    else:  # nothing at the byte level
        pass
    return bytes(data)


_ODD_VALUES: list[Any] = [None, -1, 0, 2**63, 2**64, -(2**63) - 1, 1.5, 1e308, -0.0, "", "x" * 5000,
                          [], {}, [[[]]], True, "2099-01-01T00:00:00Z", "#GGGGGG", "\u202e"]


def fuzzed_cases(rng: random.Random, n: int, now: datetime | None = None) -> list[HostileCase]:
    """`n` random mutations of valid events (module doc); some stay valid."""
    cases = []
    kinds = list(KINDS)
    for index in range(n):
        kind = rng.choice(kinds)
        event = valid_event(kind, 1_000_000 + index, now)
        field = rng.choice(list(event))
        if rng.random() < 0.6:
            event[field] = rng.choice(_ODD_VALUES)
        body = json.dumps(event).encode()
        if rng.random() < 0.5:
            body = _mutate(body, rng)
        if rng.random() < 0.2:
            body = b"[" + body + b"," + json.dumps(valid_event(kind, 2_000_000 + index, now)).encode() + b"]"
        cases.append(HostileCase(f"fuzz {index} {kind}.{field}", kind, body))
    return cases

