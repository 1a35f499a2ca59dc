"""The Glamcast HTTP service: `create_app(settings)` builds it, `glamcast serve` runs it.

Routes: the ingest gateway (`/v1/events/{kind}`), `/healthz` (the process answers), `/readyz`
(its dependencies answer: the broker, the online store, the champion model), `/metrics`
(Prometheus), the feed (`/v1/feed/{user_id}`, glamcast.serving.feed) and the OpenAPI docs at `/docs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from glamcast.core.settings import Settings
from glamcast.platform.feed_engine import FeedEngine
from glamcast.serving import dashboard, feed, ingest, trends
from glamcast.serving.event_sink import KafkaEventSink
from glamcast.serving.metrics import ApiMetrics


def create_app(settings: Settings) -> FastAPI:
    sink = KafkaEventSink(settings)
    feed_engine = FeedEngine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(feed.start_engine, feed_engine)
        reloading = asyncio.create_task(feed.reload_loop(feed_engine))
        yield
        reloading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloading
        await sink.close()

    app = FastAPI(
        title="Glamcast",
        version="1",
        summary="Real-time beauty recommendations, trend forecasts and event ingest.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.event_sink = sink
    app.state.feed_engine = feed_engine
    app.state.metrics = metrics = ApiMetrics()

    @app.middleware("http")
    async def observe_latency(request: Request, call_next) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.request_latency.labels(
            method=request.method,
            route=getattr(route, "path", "unmatched"),  # the template, not the raw path
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        return response

    app.include_router(ingest.router)
    app.include_router(feed.router)
    app.include_router(trends.router)
    app.include_router(dashboard.router)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Every dependency answers",
             responses={503: {"description": "A dependency is down; `checks` says which."}})
    async def readyz() -> JSONResponse:
        checks = {
            "broker": await sink.ready(),
            "online_store": await asyncio.to_thread(feed_engine.online_store_ready),
            "model": feed_engine.snapshot.model_version is not None,  # a champion is loaded
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
