"""Event contracts: valid examples pass, every kind of bad field is refused with a precise reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from glamcast.core import topics
from glamcast.core.events import (
    TOPIC_MODELS,
    CatalogEvent,
    CommerceEvent,
    DeadLetter,
    FeedUpdate,
    Rejection,
    SocialEvent,
    TryOnEvent,
    decode_event,
    encode_event,
    export_schemas,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

VALID = {
    TryOnEvent: {
        "event_id": "t-1", "ts": "2026-11-20T10:00:00Z", "user_id": "u1", "session_id": "s1",
        "action": "like", "product_id": "p1", "category": "lipstick", "shade_hex": "#C04A5B",
        "finish": "matte", "dwell_ms": 1200, "look_id": "look-7",
        "face": {"skin_tone": 5, "undertone": "warm", "face_shape": "oval"},
        "platform": "ios", "app_version": "3.2.1",
    },
    SocialEvent: {
        "event_id": "s-1", "ts": "2026-11-20T10:00:00+01:00", "platform": "tiktok", "post_id": "post9",
        "author_id": "a7", "hashtags": ["#CoralCrush"], "brands": ["Lumière"], "product_ids": ["p1"],
        "likes": 10, "comments": 2, "shares": 1, "views": 300, "lang": "en",
    },
    CommerceEvent: {
        "event_id": "c-1", "event_time": "2019-10-01 00:00:00 UTC", "event_type": "purchase",
        "product_id": 44600062, "category_id": 2103807459595387724, "category_code": "",
        "brand": "shiseido", "price": 35.79, "user_id": 541312140, "user_session": "72d7",
    },
    CatalogEvent: {
        "event_id": "k-1", "ts": "2026-11-20T10:00:00Z", "product_id": "p1", "brand": "Lumière",
        "name": "Velvet Coral", "category": "lipstick", "shade_hex": "#FF7F50", "finish": "satin",
        "price": 24.0, "launched_at": "2026-01-01T00:00:00Z",
    },
    DeadLetter: {
        "event_id": "d-1", "ts": "2026-11-20T10:00:00Z", "source_topic": topics.TRYON,
        "partition": 3, "offset": 42, "error_class": "bad_shade",
        "error_message": "shade_hex: '#12' does not match #RRGGBB", "original_b64": "e30=",
    },
    FeedUpdate: {
        "user_id": "u1", "generated_at": "2026-11-20T10:00:00Z", "model_version": "3",
        "items": [{"product_id": "p1", "score": 0.9, "reasons": ["because you tried Velvet Coral"]},
                  {"look_id": "look-7", "score": 0.5}],
    },
}


def raw(model, **changes) -> bytes:
    record = {**VALID[model], **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...}).encode()


@pytest.mark.parametrize("model", list(VALID), ids=lambda m: m.__name__)
def test_valid_examples_decode_and_round_trip(model):
    event = decode_event(model, raw(model), now=NOW)
    assert isinstance(event, model)
    assert decode_event(model, encode_event(event), now=NOW) == event


def test_every_topic_has_a_model():
    assert set(TOPIC_MODELS) == set(topics.TOPICS)


@pytest.mark.parametrize(
    ("model", "changes", "reason", "names"),
    [
        (TryOnEvent, {"shade_hex": "#C04A5"}, "bad_shade", "shade_hex: '#C04A5' does not match #RRGGBB"),
        (TryOnEvent, {"shade_hex": "red"}, "bad_shade", "shade_hex"),
        (TryOnEvent, {"dwell_ms": -5}, "negative_value", "dwell_ms: -5"),
        (TryOnEvent, {"dwell_ms": "long"}, "wrong_type", "dwell_ms: 'long'"),
        (TryOnEvent, {"action": "hug"}, "unknown_enum", "action: 'hug'"),
        (TryOnEvent, {"category": "nail_polish"}, "unknown_enum", "category: 'nail_polish'"),
        (TryOnEvent, {"user_id": ...}, "missing_field", "user_id: required field is missing"),
        (TryOnEvent, {"event_id": ...}, "missing_field", "event_id"),
        (TryOnEvent, {"ts": "yesterday"}, "bad_timestamp", "ts: 'yesterday'"),
        (TryOnEvent, {"ts": "2026-11-20T10:00:00"}, "bad_timestamp", "timezone"),
        (TryOnEvent, {"ts": "1970-01-01T00:00:00Z"}, "bad_timestamp", "ts:"),
        (TryOnEvent, {"ts": "2026-11-27T10:00:00Z"}, "bad_timestamp", "in the future"),
        (TryOnEvent, {"face": {"skin_tone": 11, "undertone": "warm", "face_shape": "oval"}},
         "out_of_range", "face.skin_tone: 11"),
        (TryOnEvent, {"face": {"skin_tone": 3, "undertone": "olive", "face_shape": "oval"}},
         "unknown_enum", "face.undertone: 'olive'"),
        (SocialEvent, {"likes": -1}, "negative_value", "likes: -1"),
        (SocialEvent, {"hashtags": "#one"}, "wrong_type", "hashtags"),
        (SocialEvent, {"platform": "myspace"}, "unknown_enum", "platform: 'myspace'"),
        (CommerceEvent, {"price": -3.5}, "negative_value", "price: -3.5"),
        (CommerceEvent, {"event_type": "wishlist"}, "unknown_enum", "event_type: 'wishlist'"),
        (CommerceEvent, {"event_time": "2019-13-01 00:00:00 UTC"}, "bad_timestamp", "event_time"),
        (CatalogEvent, {"price": "free"}, "wrong_type", "price: 'free'"),
        (CatalogEvent, {"shade_hex": "#GGGGGG"}, "bad_shade", "shade_hex: '#GGGGGG'"),
    ],
)
def test_bad_fields_are_rejected_with_field_value_and_rule(model, changes, reason, names):
    result = decode_event(model, raw(model, **changes), now=NOW)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert names in result.message


@pytest.mark.parametrize(
    ("payload", "reason", "names"),
    [
        (b"\xff\xfe{}", "not_utf8", "not UTF-8 at byte 0"),
        (b"{not json", "not_json", "Invalid JSON"),
        (b"[1, 2]", "wrong_type", "<record>"),
        (None, "not_json", "tombstone"),
        (b"{" + b" " * 70_000 + b"}", "oversize", "70002 bytes exceeds the 65536-byte limit"),
    ],
)
def test_undecodable_records_are_rejected(payload, reason, names):
    result = decode_event(TryOnEvent, payload, now=NOW)
    assert result == Rejection(reason, result.message)
    assert names in result.message


def test_future_skew_is_configurable():
    tomorrow = (NOW + timedelta(hours=30)).isoformat()
    assert isinstance(decode_event(TryOnEvent, raw(TryOnEvent, ts=tomorrow), now=NOW), Rejection)
    accepted = decode_event(TryOnEvent, raw(TryOnEvent, ts=tomorrow), now=NOW,
                            max_future_skew=timedelta(days=2))
    assert isinstance(accepted, TryOnEvent)


def test_commerce_derives_a_stable_event_id_from_the_row():
    row = {k: v for k, v in VALID[CommerceEvent].items() if k != "event_id"}
    first = CommerceEvent.model_validate(row)
    assert first.event_id == CommerceEvent.model_validate(dict(row)).event_id
    assert first.event_id != CommerceEvent.model_validate({**row, "event_type": "view"}).event_id
    assert (first.product_id, first.user_id, first.category_code) == ("44600062", "541312140", None)
    assert first.occurred_at == datetime(2019, 10, 1, tzinfo=UTC)


def test_feed_item_needs_exactly_one_target():
    both = {"product_id": "p1", "look_id": "l1", "score": 1.0}
    result = decode_event(FeedUpdate, raw(FeedUpdate, items=[both]), now=NOW)
    assert isinstance(result, Rejection)
    assert "exactly one of product_id and look_id" in result.message


def test_schema_export_writes_one_valid_json_schema_per_topic(tmp_path):
    written = export_schemas(tmp_path)
    assert {path.name for path in written} == {f"{t}.schema.json" for t in topics.TOPICS}
    tryon = json.loads((tmp_path / f"{topics.TRYON}.schema.json").read_text())
    assert tryon["$id"] == f"urn:glamcast:{topics.TRYON}"
    assert tryon["properties"]["shade_hex"]["pattern"] == "^#[0-9A-Fa-f]{6}$"
    assert "user_id" in tryon["required"]
