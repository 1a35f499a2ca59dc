"""The ingest gateway against every hostile case (`glamcast.simulator.hostile_events`) and a fuzz
run, on the real embedded broker: a 4xx with a message for each, never a 5xx, and the valid items
of a mixed body still produced.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from glamcast.core import topics
from glamcast.core.settings import DEV_API_KEYS, KeyScope
from glamcast.platform import broker
from glamcast.serving.app import create_app
from glamcast.simulator.hostile_events import fuzzed_cases, hostile_cases, valid_event

pytestmark = pytest.mark.integration

KEY = {"X-API-Key": DEV_API_KEYS[KeyScope.INGEST]}


@pytest.fixture(scope="module")
def client(stack_settings):
    settings = stack_settings.model_copy(update={
        "topic_prefix": "hostile-gw.", "api_ingest_rate_per_s": 1e6, "api_ingest_burst": 10**6,
    })
    broker.create_topics(settings, [
        topics.TopicSpec(settings.topic_name(spec.name), spec.partitions, spec.key)
        for spec in topics.TOPICS.values()])
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_every_hostile_case_is_a_4xx_with_a_message(client) -> None:
    answers = {}
    for case in hostile_cases(datetime.now(UTC)):
        answer = client.post(f"/v1/events/{case.kind}", content=case.body,
                             headers={**KEY, "Content-Type": case.content_type})
        answers[case.name] = answer.status_code
        body = answer.json()
        if answer.status_code == 202:  # NDJSON: the valid line is taken, the hostile one refused
            assert case.content_type == "application/x-ndjson", case.name
            assert (body["accepted"], body["rejected"]) == (1, 1), case.name
        else:
            assert 400 <= answer.status_code < 500, (case.name, answer.status_code, body)
            assert body.get("detail") or body.get("errors"), case.name
    assert set(answers.values()) <= {202, 400, 413, 422}
    # a poison integer in one item of a batch refuses that item only, naming the field
    good = valid_event("tryon", 1)
    batch = f'[{json.dumps(good)}, {json.dumps(good).replace(": 1001,", ": 9223372036854775808,")}]'
    answer = client.post("/v1/events/tryon", content=batch.encode(), headers=KEY)
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 1
    (error,) = answer.json()["errors"]
    assert (error["index"], error["reason"]) == (1, "out_of_range")
    assert error["message"].startswith("dwell_ms: 9223372036854775808 Input should be less than")


def test_a_fuzz_run_never_answers_5xx(client) -> None:
    statuses = []
    for case in fuzzed_cases(random.Random(11), 400):
        answer = client.post(f"/v1/events/{case.kind}", content=case.body,
                             headers={**KEY, "Content-Type": case.content_type})
        statuses.append(answer.status_code)
    assert max(statuses) < 500
    assert {202, 400, 422} <= set(statuses)  # the run reached each outcome
