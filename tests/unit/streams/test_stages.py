"""Which stages a stream worker runs: `Settings.streams_ingest` / `streams_features` /
`streams_feed`, and ``glamcast stream --stages`` that sets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from glamcast.cli import app
from glamcast.core.settings import Settings
from glamcast.platform.broker import LOW_LATENCY_FETCH_WAIT_MS
from streams.app import worker_app
from streams.batch_stage import BatchStage
from streams.features import FeaturesService
from streams.feed_updates import FeedUpdatesService
from streams.ingestion import IngestionService
from streams.user_preferences import UserPreferencesService


def services(settings: Settings) -> set[type]:
    """The stage services a worker app made from `settings` would start (no broker needed:
    the app connects only when it starts)."""
    return {type(service) for service in worker_app(settings)._extra_services}


@pytest.mark.parametrize(
    ("ingest", "features", "feed", "expected"),
    [
        (True, False, False, {IngestionService}),
        (False, True, False, {FeaturesService}),
        (False, True, True, {FeaturesService, FeedUpdatesService}),
        (True, True, True, {IngestionService, FeaturesService, FeedUpdatesService}),
    ],
)
def test_a_worker_runs_the_stages_its_settings_switch_on(
    tmp_path: Path, ingest: bool, features: bool, feed: bool, expected: set[type]
) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:9",
        streams_ingest=ingest,
        streams_features=features,
        streams_feed=feed,
    )
    assert services(settings) & {IngestionService, FeaturesService, FeedUpdatesService} == expected


def test_each_stage_reads_in_its_own_group_with_its_own_fetch_settings(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:9",
        topic_prefix="x.",
        streams_app_id="app",
        streams_ingest=True,
        streams_features=True,
        streams_feed=True,
        features_flush_s=0.1,
    )
    stages = {
        type(service): service
        for service in worker_app(settings)._extra_services
        if isinstance(service, BatchStage)
    }
    consumers = {
        kind: (stage.group, stage.topics, stage.fetch_timeout_ms, stage.consumer_options)
        for kind, stage in stages.items()
    }
    assert consumers == {
        IngestionService: (
            "app-ingest",
            ["x.glamcast.tryon.v1", "x.glamcast.social.v1", "x.glamcast.commerce.v1",
             "x.glamcast.catalog.v1", "x.glamcast.preference.v1"],
            100,
            {"max_partition_fetch_bytes": 4 * 1024 * 1024, "fetch_max_bytes": 64 * 1024 * 1024},
        ),
        FeaturesService: (
            "app-features",
            ["x.glamcast.tryon.v1"],
            50,  # half of features_flush_s
            {"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
        ),
        FeedUpdatesService: (
            "app-feed",
            ["x.glamcast.tryon.v1"],
            100,
            {"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
        ),
        UserPreferencesService: (  # runs with the feature stage
            "app-preferences",
            ["x.glamcast.preference.v1"],
            50,
            {"fetch_max_wait_ms": LOW_LATENCY_FETCH_WAIT_MS},
        ),
    }
    assert {kind: stage.lands_in_background for kind, stage in stages.items()} == {
        IngestionService: True, FeaturesService: True, FeedUpdatesService: False,
        UserPreferencesService: True,
    }


@pytest.mark.parametrize("stages", ["ingest,lake", "", " , "])
def test_unknown_or_empty_stages_are_a_usage_error(stages: str) -> None:
    result = CliRunner().invoke(app, ["stream", "--stages", stages])
    assert result.exit_code == 2
    assert "stages are ingest, features, feed" in result.output
