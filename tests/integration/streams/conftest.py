"""Fixtures of the stream stages' tests: settings of one test on the session's embedded stack, and
worker processes started the way `glamcast stream` starts them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testkit import log_tail

from glamcast.core.settings import Settings
from streams.app import ensure_topics
from streams.worker import WorkerProcess, start_workers, stop_workers


@pytest.fixture
def streams_settings(stack_settings: Settings, unique: str, tmp_path: Path) -> Settings:
    """Settings of one test: its own topics, app id (consumer groups) and lake; small batches."""
    settings = stack_settings.model_copy(
        update={
            "topic_prefix": f"s{unique}.",
            "streams_app_id": f"streams-{unique}",
            "lake_uri": str(tmp_path / "lake"),
            "streams_web_port": 0,
            "streams_batch_events": 2_000,
            "streams_flush_s": 0.5,
        }
    )
    ensure_topics(settings)
    return settings


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., list[WorkerProcess]]]:
    """Start worker processes: ``workers(settings, count=1, first_index=0, log_dir=None)``, logs
    under tmp_path/logs unless `log_dir`. Every one is stopped at the end of the test, and the
    tails of their logs are printed (pytest shows them when the test failed)."""
    started: list[WorkerProcess] = []

    def start(
        settings: Settings, count: int = 1, first_index: int = 0, log_dir: Path | None = None
    ) -> list[WorkerProcess]:
        new = start_workers(
            settings,
            count,
            loglevel="info",
            log_dir=log_dir or tmp_path / "logs",
            first_index=first_index,
        )
        started.extend(new)
        return new

    yield start
    stop_workers(started)
    print(log_tail(started))
