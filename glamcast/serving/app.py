"""The Glamcast HTTP service: `create_app(settings)` builds it, `glamcast serve` runs it
(`glamcast.serving.server`, with the timeouts for slow clients).

Routes: the ingest gateway (`/v1/events/{kind}`), `/healthz` (the process answers), `/readyz`
(its dependencies answer now: the broker, the online store, the champion model), `/metrics`
(Prometheus), the feed (`/v1/feed/{user_id}`, glamcast.serving.feed) and its person-bound tokens
(`/v1/feed-tokens`), the trends API and the dashboard, and the OpenAPI docs at `/docs`.

Who may call each route is decided here, once, where its router is included (`Access`, the
scopes of `glamcast.serving.security`); the table is in docs/serving.md and
tests/unit/serving/test_auth_matrix.py holds every route of this app to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from glamcast.core.settings import KeyScope, Settings
from glamcast.platform.feed_engine import FeedEngine
from glamcast.serving import dashboard, feed, ingest, looks, metrics, mirror, people, trends
from glamcast.serving.event_sink import KafkaEventSink
from glamcast.serving.generated_looks import router as generated_looks_router
from glamcast.serving.metrics import ApiMetrics, ObserveLatency
from glamcast.serving.security import AUTH_RESPONSES, RATE_LIMITED_RESPONSES, Access, Guard
from glamcast.serving.server import BodyTimeout

#: Headers a browser page may send cross-origin (the key, a person token, the body's type).
CORS_HEADERS = ["X-API-Key", "Authorization", "Content-Type"]


def include_protected(app: FastAPI, router: APIRouter, access: Access) -> None:
    """Include `router` so that only callers `access` admits reach its routes."""
    responses = RATE_LIMITED_RESPONSES if KeyScope.INGEST in access.scopes else AUTH_RESPONSES
    app.include_router(router, dependencies=[Depends(access)], responses=responses)


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
    app.state.metrics = api_metrics = ApiMetrics()
    app.state.guard = Guard(settings)

    # Outermost last: CORS answers preflights before any key is asked for; BodyTimeout times
    # the raw body reads; ObserveLatency sees every answer, errors included.
    app.add_middleware(ObserveLatency, metrics=api_metrics)
    app.add_middleware(BodyTimeout, timeout_s=settings.api_body_timeout_s)
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "DELETE"], allow_headers=CORS_HEADERS,
            expose_headers=["Retry-After"], allow_credentials=False, max_age=600,
        )

    include_protected(app, ingest.router, Access(KeyScope.INGEST))
    include_protected(app, feed.router, Access(KeyScope.SERVICE, person_param="user_id"))
    include_protected(app, feed.token_router, Access(KeyScope.SERVICE))
    include_protected(app, trends.router, Access(KeyScope.MARKETING))
    include_protected(app, dashboard.router, Access(KeyScope.MARKETING, browser=True))
    app.include_router(dashboard.assets_router)  # open: static code and styles, no data
    app.include_router(mirror.router)  # open: the mirror page, its code, packages, sample faces, catalogue shades
    # looks: what the mirror asks with its ingest key (catalogue data, no person's data)
    include_protected(app, looks.match_router, Access(KeyScope.INGEST, KeyScope.SERVICE))
    include_protected(app, looks.tutorial_router,
                      Access(KeyScope.INGEST, KeyScope.SERVICE, KeyScope.MARKETING))
    include_protected(app, metrics.router, Access(KeyScope.METRICS))
    include_protected(app, people.router, Access(KeyScope.ADMIN))  # erasure
    include_protected(app, generated_looks_router, Access(KeyScope.INGEST, KeyScope.SERVICE, KeyScope.MARKETING))  # the look GAN

    async def bounded(check: Awaitable[bool]) -> bool:
        try:
            async with asyncio.timeout(settings.api_ready_timeout_s):
                return await check
        except TimeoutError:
            return False

    store_check: asyncio.Future[bool] | None = None

    async def online_store_ready() -> bool:
        # A fresh check per call; a call while one is still running (a hung store) joins it
        # rather than tying up another thread.
        nonlocal store_check
        if (store_check is None or store_check.done()
                or store_check.get_loop() is not asyncio.get_running_loop()):
            store_check = asyncio.ensure_future(asyncio.to_thread(feed_engine.online_store_ready))
        return await bounded(asyncio.shield(store_check))

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Every dependency answers now",
             responses={503: {"description": "A dependency is down; `checks` says which."}})
    async def readyz() -> JSONResponse:
        # Asked on every call, each bounded by api_ready_timeout_s: never a remembered flag.
        broker, online_store = await asyncio.gather(sink.ready(), online_store_ready())
        checks: dict[str, Any] = {
            "broker": broker,
            "online_store": online_store,
            "model": feed_engine.snapshot.model_version is not None,  # a champion is loaded
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return app
