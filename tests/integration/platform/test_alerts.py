"""Trend alerts on the real broker: published once, read back one per alert, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from glamcast.core.events import TOPIC_MODELS, TrendAlert
from glamcast.core.settings import Settings
from glamcast.core.topics import ALERTS, TOPICS
from glamcast.platform import broker
from glamcast.platform.alerts import alert_id, publish_alerts, read_alerts

pytestmark = pytest.mark.integration

ORIGIN = date(2026, 12, 5)


def alert(kind: str, term: str, origin: date = ORIGIN, direction: str = "up") -> TrendAlert:
    return TrendAlert(
        alert_id=alert_id(kind, direction, "hashtag", term, origin),
        ts=datetime.combine(origin, datetime.min.time(), tzinfo=UTC)
        + timedelta(hours=6 if kind == "breakout" else 7),
        kind=kind, direction=direction, term_type="hashtag", term=term, origin=origin,
        run_id="r" * 32, trend_class="breakout" if kind == "breakout" else "rising",
        detail=f"{kind} of {term}")


def test_the_alerts_topic_and_its_schema_are_declared() -> None:
    assert TOPICS[ALERTS].key == "alert_id" and TOPICS[ALERTS].compacted
    assert TOPIC_MODELS[ALERTS] is TrendAlert


def test_each_alert_is_published_once(stack_settings: Settings, unique: str) -> None:
    topic = f"test.alerts.{unique}"
    first = [alert("breakout", "mochaglaze"), alert("band_exit", "blackfriday", direction="down")]
    assert publish_alerts(stack_settings, first, topic) == first
    assert publish_alerts(stack_settings, first, topic) == []  # the same run again: nothing new
    # the next day the breakout is still a breakout: announced already, within the cooldown
    next_day = alert("breakout", "mochaglaze", ORIGIN + timedelta(days=1))
    assert publish_alerts(stack_settings, [next_day], topic) == []
    # a breakout of another term, and the same term three weeks later, are new
    later = [alert("breakout", "strawberrymakeup", ORIGIN + timedelta(days=1)),
             alert("breakout", "mochaglaze", ORIGIN + timedelta(days=21))]
    assert publish_alerts(stack_settings, later, topic) == later
    records = list(broker.read_all(stack_settings, [topic], idle_ms=1500))
    assert len(records) == 4  # one record per alert, none twice
    assert {record.key.decode() for record in records} == {a.alert_id for a in first + later}
    read = read_alerts(stack_settings, topic)
    assert [a.term for a in read] == ["mochaglaze", "strawberrymakeup", "blackfriday", "mochaglaze"]
    assert read[0].origin == ORIGIN + timedelta(days=21) and read[-1] == first[0]
