"""Trend alerts on the broker: published once by the forecast job, read back by the dashboard.

`publish_alerts(settings, alerts)` sends the alerts that are new to `glamcast.alerts.v1`
(`glamcast.core.topics.ALERTS`, compacted, keyed by `alert_id`) and returns them. "New" means:
no alert of the same kind, direction and term whose run origin lies within `cooldown_days` before
this one's is on the topic already. So a re-run of the same window sends nothing again, and a
breakout that stays a breakout for days is announced once, not every morning.

`read_alerts(settings)` returns every alert on the topic, one per `alert_id`, newest first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from glamcast.core import topics
from glamcast.core.events import TrendAlert
from glamcast.core.settings import Settings
from glamcast.platform import broker

#: Namespace of alert ids: uuid5(kind|direction|term_type|term|origin).
ALERT_NAMESPACE = uuid.UUID("3d1f4c2a-8b7e-4f5a-9c1d-2e6b7a8f9c01")
COOLDOWN_DAYS = 14  # an alert of the same kind and term within this many days is not repeated
READ_IDLE_MS = 1500  # reading the topic ends after this long without a record


def alert_id(kind: str, direction: str, term_type: str, term: str, origin: object) -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{kind}|{direction}|{term_type}|{term}|{origin}"))


def read_alerts(settings: Settings, topic: str | None = None,
                idle_ms: int = READ_IDLE_MS, bootstrap_timeout_ms: int = 30_000
                ) -> list[TrendAlert]:
    """Every alert on the topic (None: the settings' alerts topic, with their prefix), one per id
    (the newest record wins), newest first; `KafkaTimeoutError` when the broker does not answer
    within `bootstrap_timeout_ms`."""
    topic = topic or settings.topic_name(topics.ALERTS)
    latest: dict[str, TrendAlert] = {}
    for record in broker.read_all(settings, [topic], idle_ms=idle_ms,
                                  bootstrap_timeout_ms=bootstrap_timeout_ms):
        alert = TrendAlert.model_validate_json(record.value)
        latest[alert.alert_id] = alert
    return sorted(latest.values(), key=lambda alert: (alert.ts, alert.alert_id), reverse=True)


def publish_alerts(settings: Settings, alerts: Iterable[TrendAlert], topic: str | None = None,
                   cooldown_days: int = COOLDOWN_DAYS) -> list[TrendAlert]:
    """Send the alerts that are new (see the module docstring); returns those sent."""
    topic = topic or settings.topic_name(topics.ALERTS)
    spec = topics.TopicSpec(topic, partitions=1, key="alert_id", compacted=True)
    broker.create_topics(settings, [spec])
    seen = read_alerts(settings, topic)
    fresh = []
    for alert in alerts:
        repeated = any(
            (old.kind, old.direction, old.term_type, old.term)
            == (alert.kind, alert.direction, alert.term_type, alert.term)
            and timedelta(0) <= alert.origin - old.origin <= timedelta(days=cooldown_days)
            for old in seen)
        if not repeated:
            fresh.append(alert)
            seen.append(alert)
    if fresh:
        sender = broker.producer(settings, client_id="glamcast-alerts")
        try:
            for alert in fresh:
                sender.send(topic, key=alert.alert_id.encode(),
                            value=alert.model_dump_json().encode())
            sender.flush()
        finally:
            sender.close()
    return fresh
