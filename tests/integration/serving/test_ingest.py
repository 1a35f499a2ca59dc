"""The ingest gateway against the real embedded broker: auth, per-item validation, partial
batches, NDJSON, size limits, and a broker outage answered 503 with nothing acknowledged."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from glamcast.core import topics
from glamcast.core.events import TryOnEvent, decode_event
from glamcast.core.settings import ApiKey, KeyScope, api_key_sha256
from glamcast.platform import broker
from glamcast.platform.stack import free_port
from glamcast.serving.app import create_app

pytestmark = pytest.mark.integration

KEY = {"X-API-Key": "test-key"}
METRICS_KEY = {"X-API-Key": "test-metrics"}
TEST_KEYS = [ApiKey(name="test-app", scope=KeyScope.INGEST, sha256=api_key_sha256("test-key"), burst=1000),
             ApiKey(name="test-scraper", scope=KeyScope.METRICS, sha256=api_key_sha256("test-metrics"))]


def tryon(index: int, **changes) -> dict:
    event = {
        "event_id": f"api-{index}", "ts": "2026-11-20T10:00:00Z", "user_id": f"u{index % 7}",
        "session_id": "s1", "action": "try_on", "product_id": "p1", "category": "lipstick",
        "shade_hex": "#C04A5B", "finish": "matte", "dwell_ms": 1000 + index, "platform": "web",
        "app_version": "3.2.1",
    }
    return {**event, **changes}


@pytest.fixture(scope="module")
def api_settings(stack_settings):
    settings = stack_settings.model_copy(update={
        "topic_prefix": "api-test.", "api_keys": TEST_KEYS, "api_max_request_bytes": 200_000,
        "api_max_batch_events": 500,
    })
    specs = [topics.TopicSpec(settings.topic_name(spec.name), spec.partitions, spec.key)
             for spec in topics.TOPICS.values()]
    broker.create_topics(settings, specs)
    return settings


@pytest.fixture(scope="module")
def client(api_settings):
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def on_topic(settings) -> list[TryOnEvent]:
    records = broker.read_all(settings, [settings.topic_name(topics.TRYON)], idle_ms=1500)
    return [decode_event(TryOnEvent, record.value) for record in records]


def test_missing_or_wrong_key_is_401_and_another_scope_is_403(client):
    assert client.post("/v1/events/tryon", json=tryon(0)).status_code == 401
    wrong = client.post("/v1/events/tryon", json=tryon(0), headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "the API key is not valid"
    scraper = client.post("/v1/events/tryon", json=tryon(0), headers=METRICS_KEY)
    assert scraper.status_code == 403


def test_batch_is_partially_accepted_with_an_error_per_bad_item(client, api_settings):
    batch = [tryon(1), tryon(2, shade_hex="#12"), tryon(3), tryon(4, dwell_ms=-1),
             tryon(5, action="hug"), tryon(6)]
    answer = client.post("/v1/events/tryon", json=batch, headers=KEY)
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (3, 3)
    assert [(e["index"], e["reason"]) for e in body["errors"]] == [
        (1, "bad_shade"), (3, "negative_value"), (4, "unknown_enum")]
    assert "shade_hex: '#12' does not match #RRGGBB" in body["errors"][0]["message"]
    arrived = {event.event_id for event in on_topic(api_settings)}
    assert {"api-1", "api-3", "api-6"} <= arrived
    assert not {"api-2", "api-4", "api-5"} & arrived


def test_ndjson_and_single_events(client, api_settings):
    lines = "\n".join(json.dumps(tryon(i)) for i in range(10, 15)) + "\n{broken\n"
    answer = client.post("/v1/events/tryon", content=lines.encode(),
                         headers={**KEY, "Content-Type": "application/x-ndjson"})
    assert answer.status_code == 202
    assert (answer.json()["accepted"], answer.json()["rejected"]) == (5, 1)
    assert answer.json()["errors"][0]["reason"] == "not_json"
    single = client.post("/v1/events/tryon", json=tryon(20), headers=KEY)
    assert (single.status_code, single.json()["accepted"]) == (202, 1)
    arrived = {event.event_id for event in on_topic(api_settings)}
    assert {f"api-{i}" for i in (10, 11, 12, 13, 14, 20)} <= arrived


def test_nothing_valid_is_422_and_unreadable_body_is_400(client):
    answer = client.post("/v1/events/tryon", json=[tryon(30, category="nails")], headers=KEY)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["reason"] == "unknown_enum"
    garbage = client.post("/v1/events/tryon", content=b"not json at all",
                          headers={**KEY, "Content-Type": "application/json"})
    assert garbage.status_code == 400
    assert client.post("/v1/events/tryon", json=42, headers=KEY).status_code == 400
    assert client.post("/v1/events/nails", json=tryon(31), headers=KEY).status_code == 422


def test_size_limits_are_413(client):
    too_many = [tryon(i) for i in range(501)]
    assert client.post("/v1/events/tryon", json=too_many[:400] + [{}] * 101,
                       headers=KEY).status_code == 413
    huge = b"[" + b" " * 250_000 + b"]"
    answer = client.post("/v1/events/tryon", content=huge,
                         headers={**KEY, "Content-Type": "application/json"})
    assert answer.status_code == 413


def test_metrics_count_produced_and_rejected_events(client, api_settings):
    text = client.get("/metrics", headers=METRICS_KEY).text
    topic = api_settings.topic_name(topics.TRYON)
    assert f'glamcast_ingest_events_rejected_total{{reason="bad_shade",topic="{topic}"}}' in text
    produced = [line for line in text.splitlines()
                if line.startswith(f'glamcast_ingest_events_produced_total{{topic="{topic}"}}')]
    assert produced and float(produced[0].split()[-1]) >= 9
    assert 'glamcast_http_request_duration_seconds_bucket{' in text
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["checks"]["broker"] is True  # no feed model here


def test_broker_down_is_503_with_retry_after_and_nothing_acknowledged(stack_settings):
    dead = stack_settings.model_copy(update={
        "kafka_bootstrap": f"127.0.0.1:{free_port()}", "api_keys": TEST_KEYS,
        "api_produce_timeout_s": 3.0})
    with TestClient(create_app(dead)) as client:
        answer = client.post("/v1/events/tryon", json=[tryon(40), tryon(41)], headers=KEY)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert "nothing from this request was acknowledged" in answer.json()["detail"]
        assert "accepted" not in answer.json()
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["broker"]) == (503, False)
