"""Prometheus metrics of the HTTP service, in a registry of its own per app instance, and the
`GET /metrics` route that exposes them (for the scraper: `metrics` scope)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency buckets in seconds: the feed targets p99 ≤ 25 ms, so resolution sits below 100 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "glamcast_http_request_duration_seconds", "HTTP request latency by route.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.events_produced = Counter(
            "glamcast_ingest_events_produced_total", "Events the broker confirmed, by topic.",
            ["topic"], registry=self.registry,
        )
        self.events_rejected = Counter(
            "glamcast_ingest_events_rejected_total", "Events refused by validation, by reason.",
            ["topic", "reason"], registry=self.registry,
        )
        self.broker_unavailable = Counter(
            "glamcast_ingest_broker_unavailable_total", "Requests answered 503 for the broker.",
            registry=self.registry,
        )


class ObserveLatency:
    """ASGI middleware: each HTTP request's latency, by method, route template and status.

    Plain ASGI rather than `@app.middleware("http")`: that one reads the body through a task
    group, which would turn an HTTP error raised while reading it (the body timeout's 408) into
    a 500."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = scope.get("route")
            self.metrics.request_latency.labels(
                method=scope["method"],
                route=getattr(route, "path", "unmatched"),  # the template, not the raw path
                status=str(status),
            ).observe(time.perf_counter() - started)


router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
async def prometheus_metrics(request: Request) -> Response:
    metrics: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
