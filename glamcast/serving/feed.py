"""`GET /v1/feed/{user_id}?k=20`: a person's personalized feed (engine in
`glamcast.platform.feed_engine`, scoring in `models.feed_scoring`).

The app keeps one `FeedEngine` (`app.state.feed_engine`): the champion recommender and the
candidate pools in memory, loaded at start-up; `reload_loop` asks the registry every
`feed_reload_poll_s` whether the `champion` alias moved and re-reads the global features every
`feed_pool_refresh_s`, off the request path. A request does one online-store read (the person's
features) and ranks in numpy. Unknown or cold people get the trending feed with 200.

`POST /v1/feed-tokens` (`token_router`, `service` scope) issues a short-lived token bound to one
person (`glamcast.serving.security.PersonTokens`), with which a page such as `/mirror` reads that
person's feed, and nobody else's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from glamcast.platform.feed_engine import FeedEngine, feed_message
from glamcast.serving.security import Guard
from models.feed_scoring import Feed

log = logging.getLogger(__name__)

router = APIRouter(tags=["feed"])
token_router = APIRouter(tags=["feed"])


@router.get(
    "/v1/feed/{user_id}",
    response_model=Feed,
    summary="A person's personalized feed of products and generated looks",
    responses={422: {"description": "`k` is not a whole number between 1 and the maximum."}},
)
async def get_feed(
    request: Request,
    user_id: Annotated[str, Path(min_length=1, max_length=200, examples=["u-000042"])],
    k: Annotated[int, Query(description="How many items (1 to `feed_max_k`, default 100).",
                            examples=[20])] = 20,
) -> Response:
    """Products and looks ranked by affinity, trend score and freshness, each with its reasons;
    bought products left out. An unknown or cold person gets the trending feed
    (`personalized: false`)."""
    engine: FeedEngine = request.app.state.feed_engine
    limit = engine.settings.feed_max_k
    if not 1 <= k <= limit:
        raise HTTPException(status_code=422, detail=f"k must be between 1 and {limit}, not {k}")
    # On the event loop, not the thread pool: the work is ~1-3 ms of CPU (one local online read
    # and numpy), and a thread hop per request costs more than it frees. Serialized once here
    # (the response model documents the shape; re-validating it would double the cost), as the
    # same JSON as the feed topic's messages.
    feed = engine.feed(user_id, k)
    return Response(feed_message(feed), media_type="application/json")


class FeedTokenRequest(BaseModel):
    user_id: str = Field(min_length=1, max_length=200, examples=["u-000042"],
                         description="The one person whose feed the token may read.")
    ttl_s: int | None = Field(None, ge=1, description="Lifetime in seconds; at most and by "
                                                      "default `api_token_max_ttl_s`.")


class FeedToken(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>` to "
                                   "`GET /v1/feed/{user_id}` of this person only.")
    user_id: str
    expires_at: datetime


@token_router.post(
    "/v1/feed-tokens",
    status_code=201,
    response_model=FeedToken,
    summary="A short-lived token that reads one person's feed (for a page that person uses)",
    responses={422: {"description": "`user_id` or `ttl_s` out of bounds."},
               503: {"description": "No token secret is configured (`GLAMCAST_API_TOKEN_SECRET`)."}},
)
async def issue_feed_token(request: Request, body: FeedTokenRequest, response: Response) -> FeedToken:
    guard: Guard = request.app.state.guard
    limit = guard.settings.api_token_max_ttl_s
    ttl_s = body.ttl_s or limit
    if ttl_s > limit:
        raise HTTPException(422, f"ttl_s must be at most {limit}, not {ttl_s}")
    if not guard.tokens.enabled:
        raise HTTPException(503, "person tokens need GLAMCAST_API_TOKEN_SECRET")
    token, expires = guard.tokens.issue(body.user_id, ttl_s, time.time())
    response.headers["Cache-Control"] = "no-store"
    return FeedToken(token=token, user_id=body.user_id,
                     expires_at=datetime.fromtimestamp(expires, UTC))


def start_engine(engine: FeedEngine) -> None:
    """Load the champion and pools; a registry or store outage leaves the trending feed."""
    try:
        engine.start()
    except Exception:  # the reload loop tries again; cold feeds still serve
        log.exception("feed engine could not load at start-up; retrying in the background")


async def reload_loop(engine: FeedEngine) -> None:
    """Poll the registry and refresh the pools for the life of the app (cancelled at exit)."""
    settings = engine.settings
    tick = max(0.05, min(settings.feed_reload_poll_s, settings.feed_pool_refresh_s, 1.0))
    last_start = time.monotonic()
    while True:
        await asyncio.sleep(tick)
        try:
            if not engine.started:  # start-up failed: try again at the poll interval
                if time.monotonic() - last_start >= settings.feed_reload_poll_s:
                    last_start = time.monotonic()
                    await asyncio.to_thread(engine.start)
            else:
                await asyncio.to_thread(engine.maybe_reload)
                await asyncio.to_thread(engine.maybe_refresh)
        except Exception:  # keep serving the current snapshot
            log.exception("feed reload failed; serving model v%s",
                          engine.snapshot.model_version)
