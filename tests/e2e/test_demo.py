"""The main job end to end on the session's stack: every simulated record lands in the lake."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from glamcast import lake, topics
from glamcast.demo import DemoConfig, run_demo

pytestmark = pytest.mark.e2e


def test_demo_streams_every_simulated_event_into_the_lake(stack_settings, tmp_path, unique):
    settings = stack_settings.model_copy(update={
        "topic_prefix": f"demo-{unique}.", "streams_app_id": f"demo-{unique}",
        "lake_uri": str(tmp_path / "lake"), "streams_web_port": 0,
    })
    output = io.StringIO()
    summary = run_demo(settings, DemoConfig(users=150, days=7, seed=3),
                       Console(file=output, width=120))

    sent = {name: summary.sent[settings.topic_name(name)] for name in topics.INPUT_TOPICS}
    assert sum(sent.values()) > 5_000
    assert summary.arrived == {settings.topic_name(name): count for name, count in sent.items()}
    datasets = {topics.TRYON: lake.TRYON, topics.SOCIAL: lake.SOCIAL,
                topics.COMMERCE: lake.COMMERCE, topics.CATALOG: lake.CATALOG}
    for topic_name, dataset in datasets.items():
        stored = lake.read_dataset(settings, dataset, columns=[lake.EVENT_ID_COL])
        assert len(stored) == sent[topic_name], dataset
    assert len(lake.read_dataset(settings, lake.TREND_COUNTS)) > 0
    text = output.getvalue()
    assert "5/5 stream into the lake" in text
    assert "dead letters" in text
