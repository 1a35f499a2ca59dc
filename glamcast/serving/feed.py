"""`GET /v1/feed/{user_id}?k=20`: a person's personalized feed (engine in
`glamcast.platform.feed_engine`, scoring in `models.feed_scoring`).

The app keeps one `FeedEngine` (`app.state.feed_engine`): the champion recommender and the
candidate pools in memory, loaded at start-up; `reload_loop` asks the registry every
`feed_reload_poll_s` whether the `champion` alias moved and re-reads the global features every
`feed_pool_refresh_s`, off the request path. A request does one online-store read (the person's
features) and ranks in numpy. Unknown or cold people get the trending feed with 200.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from glamcast.platform.feed_engine import FeedEngine, feed_message
from models.feed_scoring import Feed

log = logging.getLogger(__name__)

router = APIRouter(tags=["feed"])


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
