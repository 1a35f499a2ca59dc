"""`POST /v1/events/{kind}`: the HTTP ingest gateway in front of the input topics.

A request carries one event (a JSON object), a batch (a JSON array) or NDJSON (one event a line,
`Content-Type: application/x-ndjson`). Each item is validated with the same rules as the stream
workers (`glamcast.core.events.decode_event`). Valid items are produced with acks=all; the answer is
202 with the counts and one error per rejected item, or 422 when no item was valid. Nothing is
acknowledged that the broker did not confirm: a broker failure answers 503 with Retry-After.
Who may call it (an `ingest` key, rate-limited per key, or `admin`) is decided where
`glamcast.serving.app` includes the router (`glamcast.serving.security`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import pydantic_core
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from glamcast.core import topics
from glamcast.core.events import (
    CommerceEvent,
    Event,
    PreferenceEvent,
    Rejection,
    SocialEvent,
    TryOnEvent,
    decode_event,
    encode_event,
)
from glamcast.core.settings import Settings
from glamcast.serving.event_sink import BrokerUnavailable

RETRY_AFTER_S = 5
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class EventKind(StrEnum):
    TRYON = "tryon"
    SOCIAL = "social"
    COMMERCE = "commerce"
    PREFERENCE = "preference"


KIND_MODELS: dict[EventKind, type[Event]] = {
    EventKind.TRYON: TryOnEvent,
    EventKind.SOCIAL: SocialEvent,
    EventKind.COMMERCE: CommerceEvent,
    EventKind.PREFERENCE: PreferenceEvent,
}


class ItemError(BaseModel):
    index: int
    reason: str
    message: str


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    errors: list[ItemError]


class BadRequestBody(ValueError):
    """The body as a whole is unreadable (not one of the accepted shapes)."""


def split_items(body: bytes, content_type: str) -> list[bytes]:
    """The raw JSON of each item of a single-event, array or NDJSON body.

    Parsed by pydantic-core's parser (jiter), the one the event models use: it refuses nesting
    deeper than 200 levels and numbers longer than about 4,300 digits as it reads (never a
    RecursionError or Python's integer-string limit), and NaN/Infinity, which are not JSON. Each
    item is then validated field by field (`validate_items`), with every field's bound.
    """
    if content_type.split(";")[0].strip().lower() in NDJSON_TYPES:
        return [line for line in body.splitlines() if line.strip()]
    try:
        parsed = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:  # not UTF-8, not JSON, too deep, a number too long
        raise BadRequestBody(f"body is not JSON: {exc}") from exc
    if isinstance(parsed, dict):
        return [body]
    if isinstance(parsed, list):
        return [pydantic_core.to_json(item) for item in parsed]
    raise BadRequestBody("body must be a JSON object, a JSON array of objects, or NDJSON")


def validate_items(
    model: type[Event], items: list[bytes], settings: Settings
) -> tuple[list[Event], list[ItemError]]:
    now = datetime.now(UTC)
    skew = timedelta(seconds=settings.max_future_skew_s)
    accepted, errors = [], []
    for index, raw in enumerate(items):
        result = decode_event(model, raw, max_bytes=settings.max_event_bytes,
                              max_future_skew=skew, now=now)
        if isinstance(result, Rejection):
            errors.append(ItemError(index=index, reason=result.reason, message=result.message))
        else:
            accepted.append(result)
    return accepted, errors


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
                "examples": {
                    "one try-on": {"value": {
                        "event_id": "3f1c2a9e-1", "ts": "2026-11-20T10:00:00Z", "user_id": "u0000042",
                        "session_id": "s-81", "action": "like", "product_id": "p00017",
                        "category": "lipstick", "shade_hex": "#C04A5B", "finish": "matte",
                        "dwell_ms": 5400, "platform": "ios", "app_version": "3.2.1",
                        "face": {"skin_tone": 6, "undertone": "warm", "face_shape": "oval"}}},
                },
            },
            "application/x-ndjson": {"schema": {"type": "string", "description": "one event a line"}},
        },
    }
}

router = APIRouter(tags=["ingest"])


@router.post(
    "/v1/events/{kind}",
    status_code=202,
    response_model=IngestResult,
    openapi_extra=_BODY_DOC,
    responses={
        400: {"description": "The body is not a JSON object, array or NDJSON."},
        413: {"description": "Body or batch too large."},
        422: {"description": "No item was valid (`errors` says why for each), or the path's kind is "
                             "unknown (FastAPI's validation `detail`).",
              "content": {"application/json": {"schema": {"anyOf": [
                  {"$ref": "#/components/schemas/IngestResult"},
                  {"$ref": "#/components/schemas/HTTPValidationError"}]}}}},
        503: {"description": "Broker unavailable; nothing was acknowledged. Retry after the header's delay."},
    },
    summary="Ingest one event, a JSON array of events, or NDJSON",
)
async def ingest(kind: Annotated[EventKind, Path()], request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.api_max_request_bytes:
        raise HTTPException(413, f"body exceeds {settings.api_max_request_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.api_max_request_bytes:
            raise HTTPException(413, f"body exceeds {settings.api_max_request_bytes} bytes")
    try:
        items = split_items(bytes(body), request.headers.get("content-type", "application/json"))
    except BadRequestBody as exc:
        raise HTTPException(400, str(exc)) from exc
    if not items:
        raise HTTPException(400, "no events in the body")
    if len(items) > settings.api_max_batch_events:
        raise HTTPException(413, f"{len(items)} events; at most {settings.api_max_batch_events} per request")

    model = KIND_MODELS[kind]
    accepted, errors = validate_items(model, items, settings)
    metrics = request.app.state.metrics
    topic = settings.topic_name(model.TOPIC)
    for error in errors:
        metrics.events_rejected.labels(topic=topic, reason=error.reason).inc()
    if accepted:
        key_field = topics.TOPICS[model.TOPIC].key
        records = [(str(getattr(event, key_field)).encode(), encode_event(event)) for event in accepted]
        try:
            await request.app.state.event_sink.send_all(topic, records)
        except BrokerUnavailable as exc:
            metrics.broker_unavailable.inc()
            return JSONResponse(
                {"detail": f"{exc}; nothing from this request was acknowledged, retry it"},
                status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        metrics.events_produced.labels(topic=topic).inc(len(accepted))
    result = IngestResult(accepted=len(accepted), rejected=len(errors), errors=errors)
    return JSONResponse(result.model_dump(), status_code=202 if accepted else 422)
