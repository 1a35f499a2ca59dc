"""Kafka topic names and layouts, defined once.

Every producer, consumer and admin call takes its topic names from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TRYON = "glamcast.tryon.v1"
SOCIAL = "glamcast.social.v1"
COMMERCE = "glamcast.commerce.v1"
CATALOG = "glamcast.catalog.v1"
DLQ = "glamcast.dlq.v1"
FEED = "glamcast.feed.v1"
ERASURE = "glamcast.erasure.v1"
ALERTS = "glamcast.alerts.v1"  # trend alerts of the forecast job (band exits, breakouts)
PREFERENCE = "glamcast.preference.v1"  # a person's explicit feed preferences (the mirror's sliders)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str  # the event field the record is keyed by
    compacted: bool = False
    configs: dict[str, str] = field(default_factory=dict)

    def topic_configs(self) -> dict[str, str]:
        policy = {"cleanup.policy": "compact"} if self.compacted else {}
        return {**policy, **self.configs}


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(TRYON, partitions=8, key="user_id"),
        TopicSpec(SOCIAL, partitions=4, key="post_id"),
        TopicSpec(COMMERCE, partitions=8, key="user_id"),
        TopicSpec(CATALOG, partitions=1, key="product_id", compacted=True),
        TopicSpec(DLQ, partitions=2, key="source_topic"),
        TopicSpec(FEED, partitions=8, key="user_id"),
        # Erasure requests and their receipts: the latest record per person is kept forever.
        TopicSpec(ERASURE, partitions=1, key="user_id", compacted=True),
        # Trend alerts, one record per alert (compacted: a re-sent alert replaces itself).
        TopicSpec(ALERTS, partitions=1, key="alert_id", compacted=True),
        # Explicit preferences: each event is a person's whole set, so the latest is all that counts.
        TopicSpec(PREFERENCE, partitions=4, key="user_id", compacted=True),
    )
}

#: Topics that carry input events, validated by the streams.
INPUT_TOPICS = (TRYON, SOCIAL, COMMERCE, CATALOG)
