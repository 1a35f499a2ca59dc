"""Validation stage: raw records → events and dead letters, without a broker."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from glamcast.core.events import DeadLetter, TryOnEvent
from glamcast.core.settings import Settings
from streams import metrics
from streams.validated_events import MAX_DEAD_ORIGINAL_BYTES, dead_letter, validate_records

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
SETTINGS = Settings(topic_prefix="t1.")
TRYON = "t1.glamcast.tryon.v1"
VALID = {
    "event_id": "e1",
    "ts": "2025-03-01T10:00:00Z",
    "user_id": "u1",
    "session_id": "s1",
    "action": "try_on",
    "product_id": "p1",
    "category": "lipstick",
    "shade_hex": "#C04060",
    "finish": "matte",
    "dwell_ms": 1200,
    "platform": "ios",
    "app_version": "1.0",
}


def tryon(**changes: object) -> bytes:
    values = {**VALID, **changes}
    return json.dumps({key: value for key, value in values.items() if value is not ...}).encode()


BAD = {
    "not_json": b"{not json",
    "not_utf8": b'{"event_id": "\xff\xfe"}',
    "wrong_type": tryon(dwell_ms="long"),
    "missing_field": tryon(user_id=...),
    "unknown_enum": tryon(action="teleport"),
    "bad_timestamp": tryon(ts="2099-01-01T00:00:00Z"),
    "oversize": tryon(note="x" * 70_000),
    "bad_shade": tryon(shade_hex="#12345"),
    "negative_value": tryon(dwell_ms=-5),
    "out_of_range": tryon(face={"skin_tone": 11, "undertone": "warm", "face_shape": "oval"}),
}


def test_every_bad_kind_becomes_a_dead_letter_with_its_reason_and_bytes() -> None:
    records = [(0, tryon(event_id="ok1"))] + [(i + 1, raw) for i, raw in enumerate(BAD.values())]
    records.append((len(records), tryon(event_id="ok2")))

    batch = validate_records(TRYON, 3, records, settings=SETTINGS, now=NOW)

    assert [event.event_id for event in batch.events] == ["ok1", "ok2"]
    assert batch.offsets == [0, len(records) - 1] and batch.last_offset == len(records) - 1
    assert batch.base_topic == "glamcast.tryon.v1" and isinstance(batch.events[0], TryOnEvent)
    assert [letter.error_class for letter in batch.dead_letters] == list(BAD)
    for letter, (offset, raw) in zip(batch.dead_letters, records[1:-1], strict=True):
        assert (letter.source_topic, letter.partition, letter.offset) == (TRYON, 3, offset)
        assert base64.b64decode(letter.original_b64) == raw
        assert letter.ts == NOW and letter.error_message
    assert (
        "does not match #RRGGBB" in batch.dead_letters[list(BAD).index("bad_shade")].error_message
    )


def test_rejections_are_counted_per_topic_and_reason() -> None:
    before = metrics.REJECTED.labels(TRYON, "bad_shade")._value.get()
    validate_records(
        TRYON, 0, [(0, BAD["bad_shade"]), (1, BAD["bad_shade"])], settings=SETTINGS, now=NOW
    )
    assert metrics.REJECTED.labels(TRYON, "bad_shade")._value.get() == before + 2


def test_tombstones_are_deletes_on_the_catalog_but_rejected_elsewhere() -> None:
    catalog = validate_records("t1.glamcast.catalog.v1", 0, [(0, None)], settings=SETTINGS, now=NOW)
    assert (catalog.tombstones, catalog.dead_letters, catalog.last_offset) == (1, [], 0)
    tryons = validate_records(TRYON, 0, [(0, None)], settings=SETTINGS, now=NOW)
    assert [letter.error_class for letter in tryons.dead_letters] == ["not_json"]


def test_dead_letters_have_stable_ids_and_cut_huge_originals() -> None:
    from glamcast.core.events import Rejection

    rejection = Rejection("oversize", "<record>: too big")
    huge = b"x" * (MAX_DEAD_ORIGINAL_BYTES + 10)
    first = dead_letter(TRYON, 1, 42, huge, rejection, NOW)
    again = dead_letter(TRYON, 1, 42, huge, rejection, NOW)
    assert (
        first.event_id == again.event_id != dead_letter(TRYON, 1, 43, huge, rejection, NOW).event_id
    )
    assert len(base64.b64decode(first.original_b64)) == MAX_DEAD_ORIGINAL_BYTES
    assert f"of {len(huge)} bytes" in first.error_message
    assert DeadLetter.model_validate_json(first.model_dump_json()) == first


@pytest.mark.parametrize("topic", ["glamcast.social.v1", "t1.glamcast.commerce.v1"])
def test_topics_are_found_with_or_without_the_prefix(topic: str) -> None:
    batch = validate_records(topic, 0, [(0, b"[]")], settings=SETTINGS, now=NOW)
    assert batch.base_topic == topic.removeprefix("t1.")
    assert [letter.error_class for letter in batch.dead_letters] == ["wrong_type"]
