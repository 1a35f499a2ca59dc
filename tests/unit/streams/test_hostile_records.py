"""Validation that matches storage, proven with generated input (hypothesis):

- any byte string gets either a model or a rejection, for every input topic, never an exception;
- whatever the validator accepts is writable to the lake (Arrow → Parquet → read back equal) and
  pushable to Feast (the online protobuf rows and the offline Arrow table of the feature views);
- the ingest body parser answers any body with items or a `BadRequestBody`, never an exception;
- every hostile case of `glamcast.simulator.hostile_events` is refused, with its field named.
"""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glamcast.core import topics
from glamcast.core.events import (
    TOPIC_MODELS,
    Event,
    Rejection,
    TryOnEvent,
    decode_event,
)
from glamcast.core.features import (
    PRODUCT_FEATURES,
    PRODUCT_POPULARITY_VIEW,
    USER_ACTIVITY_VIEW,
    USER_FEATURES,
    feature_schema,
)
from glamcast.core.names import PRODUCT_COL, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.features import online_rows
from glamcast.serving.ingest import BadRequestBody, split_items, validate_items
from glamcast.simulator.hostile_events import KINDS, hostile_cases, valid_event

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INPUT_MODELS = [TOPIC_MODELS[topic] for topic in topics.INPUT_TOPICS]
KIND_OF_TOPIC = {model.TOPIC: kind for kind, model in KINDS.items()}

# JSON values of every shape and size the wire can carry (NaN and the infinities included:
# `json.dumps` writes them, and broken clients do too).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([2**63, 2**63 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=300)
    | st.sampled_from(["", "x" * 5000, "2099-01-01T00:00:00Z", "#C04A5B", "lipstick", "like"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


@st.composite
def hostile_events(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid event of some kind with some of its fields replaced by arbitrary JSON values."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    event: dict[str, Any] = valid_event(kind, draw(st.integers(0, 10_000)), NOW)
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=4, unique=True)):
        if name == "face" and draw(st.booleans()):
            event["face"] = {**event["face"], draw(st.sampled_from(sorted(event["face"]))): draw(json_values)}
        else:
            event[name] = draw(json_values)
    return kind, json.dumps(event, allow_nan=True).encode()


def _lake_round_trip(dataset: str, events: list[Any]) -> None:
    table = lake.table_from_events(dataset, events, partition=0, offsets=list(range(len(events))))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    assert pq.read_table(io.BytesIO(buffer.getvalue())).equals(table)


def _feast_rows(event: TryOnEvent) -> None:
    """The event's user and product feature rows, converted as the feature stage pushes them
    online (protobuf values) and offline (Arrow), and read back equal."""
    from streams.features import FeatureState, product_feature_row, user_feature_row

    state = FeatureState()
    state.add_event(event)
    users = [user_feature_row(key, windows) for key, windows in state.users.take_touched()]
    products = [
        product_feature_row(key, windows) for key, windows in state.products.take_touched()
    ]
    for view, entity, features, rows in (
        (USER_ACTIVITY_VIEW, USER_COL, USER_FEATURES, users),
        (PRODUCT_POPULARITY_VIEW, PRODUCT_COL, PRODUCT_FEATURES, products),
    ):
        assert rows
        (key, values, _, _), = online_rows(view, rows)
        assert key.entity_values[0].string_val == rows[0][entity]
        stored = values.value.map_val.val
        for name in features:
            expected = rows[0][name]
            got = stored[name]
            field = got.WhichOneof("val")
            if expected is None:
                assert field is None, name
            else:
                assert getattr(got, field) == pytest.approx(expected), name
        offline = pa.Table.from_pylist(rows, schema=feature_schema(entity, features))
        assert offline.num_rows == 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(list(topics.INPUT_TOPICS)), raw=st.binary(max_size=2048))
def test_any_bytes_decode_to_a_model_or_a_rejection(topic: str, raw: bytes) -> None:
    outcome = decode_event(TOPIC_MODELS[topic], raw, now=NOW)
    assert isinstance(outcome, TOPIC_MODELS[topic] | Rejection)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_events())
def test_what_validates_is_writable_to_the_lake_and_pushable_to_feast(case: tuple[str, bytes]) -> None:
    kind, raw = case
    model = KINDS[kind]
    outcome = decode_event(model, raw, now=NOW)
    if isinstance(outcome, Rejection):
        assert outcome.message  # says which field and why
        return
    assert isinstance(outcome, Event)
    _lake_round_trip(lake.TOPIC_DATASETS[model.TOPIC], [outcome])
    if isinstance(outcome, TryOnEvent):
        _feast_rows(outcome)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=4096)
    | hostile_events().map(lambda case: case[1])
    | st.lists(hostile_events().map(lambda case: case[1]), max_size=4).map(
        lambda items: b"[" + b",".join(items) + b"]"),
    content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain"]),
)
def test_the_ingest_body_parser_never_raises(body: bytes, content_type: str) -> None:
    settings_ = Settings()
    try:
        items = split_items(body, content_type)
    except BadRequestBody as exc:
        assert str(exc)
        return
    accepted, errors = validate_items(TryOnEvent, items, settings_)
    assert len(accepted) + len(errors) == len(items)


@pytest.mark.parametrize("case", hostile_cases(NOW), ids=lambda case: case.name)
def test_every_hostile_case_is_refused_with_a_reason(case) -> None:
    model = KINDS[case.kind]
    outcome = decode_event(model, case.body, now=NOW)
    assert isinstance(outcome, Rejection), case.name
    if "=" in case.name:  # a field case: the message names the field
        field = case.name.split(" ", 1)[1].split("=", 1)[0]
        assert field in outcome.message or outcome.reason in ("oversize", "not_json"), outcome
    try:
        items = split_items(case.body, case.content_type)
    except BadRequestBody:
        return
    _, errors = validate_items(model, items, Settings())
    assert errors, case.name  # at least the hostile item is refused


def test_bounds_are_in_the_message() -> None:
    event = valid_event("tryon", 1, NOW)
    raw = json.dumps(event).replace('"dwell_ms": 1001', '"dwell_ms": 9223372036854775808').encode()
    outcome = decode_event(TryOnEvent, raw, now=NOW)
    assert outcome == Rejection(
        "out_of_range",
        "dwell_ms: 9223372036854775808 Input should be less than or equal to 86400000",
    )
    nan = json.dumps({**valid_event("commerce", 1, NOW), "price": math.nan}).encode()
    outcome = decode_event(KINDS["commerce"], nan, now=NOW)
    assert isinstance(outcome, Rejection) and outcome.reason == "not_finite"
    assert outcome.message.startswith("price: ")
