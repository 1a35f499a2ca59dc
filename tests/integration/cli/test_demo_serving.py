"""`glamcast demo` keeps its stream worker live while it serves (`glamcast.demo.live_streams`).

On the session's embedded broker, with a Feast repository applied and a small catalogue in the
lake: inside `live_streams` (what the demo's serving runs in), the app takes a try-on event
through its ingest gateway, as a tap in /mirror would post it, and the event reaches the lake,
the person's online features and their feed (`GET /v1/feed`, personalized now, with the liked
shade family in its reasons); the live line reports the event's arrival and its freshness; on
the way out the worker process is stopped.
"""

from __future__ import annotations

import io
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from testkit import eventually, log_tail, worker_exited

from glamcast.core import topics
from glamcast.core.events import CatalogEvent
from glamcast.core.names import CATALOG, TRYON
from glamcast.core.settings import Settings
from glamcast.demo import live_streams
from glamcast.platform import features, lake
from glamcast.serving.app import create_app

pytestmark = pytest.mark.integration

#: Bound on a live tap's freshness (features online after arrival) on a loaded CI machine; the
#: loop test measures ~0.3 s from tap to feed.
FRESH_S = 5.0
PRODUCT = ("live-lip-coral", "lipstick", "#E8735A", "gloss", 24.0)  # shade family coral


@pytest.fixture
def live_settings(stack_settings: Settings, tmp_path: Path) -> Settings:
    unique = f"{os.getpid()}{uuid.uuid4().hex[:6]}"
    settings = stack_settings.model_copy(update={
        "topic_prefix": f"live{unique}.", "streams_app_id": f"live-{unique}",
        "lake_uri": str(tmp_path / "lake"), "streams_web_port": 0, "streams_flush_s": 0.5,
        "feast_dir": tmp_path / "feast", "feast_project": f"live{unique}",
        "recommender_model_name": f"no-recommender-{unique}",
        "look_gan_model_name": f"no-look-gan-{unique}"})
    product, category, shade, finish, price = PRODUCT
    now = datetime.now(UTC)
    event = CatalogEvent(event_id=f"cat-{product}", ts=now, product_id=product, brand="Glam",
                         name="Coral gloss", category=category, shade_hex=shade, finish=finish,
                         price=price, launched_at=now)
    table = lake.table_from_events(CATALOG, [event], partition=0, offsets=[0])
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)
    features.apply(settings)
    return settings


def like(person: str) -> dict:
    product, category, shade, finish, _ = PRODUCT
    return {"event_id": f"live-{uuid.uuid4().hex}", "ts": datetime.now(UTC).isoformat(),
            "user_id": person, "session_id": "web-live", "action": "like", "product_id": product,
            "category": category, "shade_hex": shade, "finish": finish, "dwell_ms": 0,
            "platform": "web", "app_version": "mirror-1"}


def test_events_posted_while_the_demo_serves_reach_the_lake_features_and_feed(
        live_settings: Settings, tmp_path: Path) -> None:
    settings = live_settings
    out = io.StringIO()
    console = Console(file=out, width=200)
    person = f"u-live-{uuid.uuid4().hex[:6]}"
    with live_streams(settings, console, every_s=1.0, log_dir=tmp_path / "logs") as monitor, \
            TestClient(create_app(settings)) as client:
        workers = monitor.workers
        assert [w.process.poll() for w in workers] == [None]
        event = like(person)
        answer = client.post("/v1/events/tryon", json=[event], headers={"X-API-Key": "dev-ingest"})
        assert answer.status_code == 202, answer.text

        def in_lake() -> bool:
            frame = lake.read_dataset(settings, TRYON, columns=["event_id"])
            return event["event_id"] in set(frame["event_id"])

        def fed() -> dict | None:
            feed = client.get(f"/v1/feed/{person}", headers={"X-API-Key": "dev-service"}).json()
            return feed if feed["personalized"] else None

        # the worker starts its stages one after another, slowly on a loaded machine
        abort = worker_exited(workers)
        eventually(in_lake, 120, "the event in the lake", every_s=0.5, abort=abort)
        feed = eventually(fed, 120, "a personalized feed", every_s=0.5, abort=abort)
        assert [item["product_id"] for item in feed["items"]] == [PRODUCT[0]]
        assert any("coral" in reason for reason in feed["items"][0]["reasons"]), feed
        try:
            line = eventually(
                lambda: next((x for x in monitor.lines if "features online" in x), None), 30,
                "a live line with the freshness", abort=abort)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{out.getvalue()}") from exc
        assert "1 people" in line, line  # its wait includes the worker's start
        # a second tap, with the stages running: its freshness is what a person sees
        seen = len(monitor.lines)
        answer = client.post("/v1/events/tryon", json=[like(person)],
                             headers={"X-API-Key": "dev-ingest"})
        assert answer.status_code == 202, answer.text
        line = eventually(
            lambda: next((x for x in monitor.lines[seen:] if "features online" in x), None), 30,
            "a live line with the second tap's freshness", abort=abort)
        seconds = float(re.search(r"features online ([0-9.]+) s", line).group(1))
        assert seconds < FRESH_S, line
        print(line)
    # out of the block (Ctrl-C in the demo): the worker is stopped
    assert all(w.process.poll() is not None for w in workers), log_tail(workers)
    printed = out.getvalue()
    assert f"stream worker pid {workers[0].pid} (lake, features, feed)" in printed
    assert "live: " in printed and printed.rstrip().endswith("stream worker stopped"), printed
