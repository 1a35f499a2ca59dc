"""Validation stage: raw input records → validated events, and dead letters for the rest.

Every input topic is read as raw bytes and decoded with the topic's event model
(`glamcast.core.events.decode_event`, one `now` per batch). A record that fails goes to the
dead-letter topic with its original bytes (base64), its source topic, partition and offset, the
rejection reason (`error_class`, one of `REJECTION_REASONS`) and the message. Nothing in here
raises on input: the worker never crashes on a bad record.

Dead letters get a deterministic `event_id` (uuid5 of topic/partition/offset), so a record
rejected twice after a replay is the same dead letter twice, and DLQ readers can deduplicate.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel

from glamcast.core import topics
from glamcast.core.events import TOPIC_MODELS, DeadLetter, Rejection, decode_event, encode_event
from glamcast.core.settings import Settings
from streams import metrics

log = logging.getLogger(__name__)

#: Originals larger than this are cut in the dead letter (the broker's default message limit is
#: 1 MB, and base64 grows them by a third); the message says so.
MAX_DEAD_ORIGINAL_BYTES = 512 * 1024

#: Compacted topics, where an empty value is a delete (a tombstone), not a bad record.
COMPACTED_TOPICS = frozenset(name for name, spec in topics.TOPICS.items() if spec.compacted)


@dataclass
class ValidatedBatch:
    """One topic partition's records after validation, in offset order."""

    topic: str  # the topic as named on the broker (with the settings' prefix)
    base_topic: str  # the same topic as named in `glamcast.core.topics`
    partition: int
    events: list[BaseModel] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # of `events`
    dead_letters: list[DeadLetter] = field(default_factory=list)
    tombstones: int = 0
    last_offset: int = -1  # of every record read, valid or not

    def rejections(self) -> Counter[str]:
        return Counter(letter.error_class for letter in self.dead_letters)


def dead_letter(
    topic: str, partition: int, offset: int, raw: bytes | None, rejection: Rejection, now: datetime
) -> DeadLetter:
    """The dead letter of one rejected record."""
    original = raw or b""
    message = rejection.message
    if len(original) > MAX_DEAD_ORIGINAL_BYTES:
        message += (
            f" (original cut to its first {MAX_DEAD_ORIGINAL_BYTES} of {len(original)} bytes)"
        )
        original = original[:MAX_DEAD_ORIGINAL_BYTES]
    return DeadLetter(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"glamcast-dlq:{topic}:{partition}:{offset}")),
        ts=now,
        source_topic=topic,
        partition=partition,
        offset=offset,
        error_class=rejection.reason,
        error_message=message,
        original_b64=base64.b64encode(original).decode("ascii"),
    )


def validate_records(
    topic: str,
    partition: int,
    records: Sequence[tuple[int, bytes | None]],
    *,
    settings: Settings,
    now: datetime,
) -> ValidatedBatch:
    """Validate ``(offset, value)`` pairs of one topic partition against the topic's model."""
    base_topic = topic.removeprefix(settings.topic_prefix)
    model = TOPIC_MODELS[base_topic]
    batch = ValidatedBatch(topic, base_topic, partition)
    max_bytes = settings.max_event_bytes
    skew = timedelta(seconds=settings.max_future_skew_s)
    compacted = base_topic in COMPACTED_TOPICS
    events_add, offsets_add = batch.events.append, batch.offsets.append
    for offset, raw in records:
        if raw is None and compacted:
            batch.tombstones += 1
            continue
        outcome = decode_event(model, raw, max_bytes=max_bytes, max_future_skew=skew, now=now)
        if isinstance(outcome, Rejection):
            batch.dead_letters.append(dead_letter(topic, partition, offset, raw, outcome, now))
        else:
            events_add(outcome)
            offsets_add(offset)
    if records:
        batch.last_offset = records[-1][0]
    _count(batch)
    return batch


def _count(batch: ValidatedBatch) -> None:
    if batch.events:
        metrics.VALIDATED.labels(batch.topic).inc(len(batch.events))
    if batch.tombstones:
        metrics.TOMBSTONES.labels(batch.topic).inc(batch.tombstones)
    for reason, count in batch.rejections().items():
        metrics.REJECTED.labels(batch.topic, reason).inc(count)
    if batch.dead_letters:
        log.warning(
            "%s[%d]: %d of %d records rejected to the dead-letter topic: %s",
            batch.topic,
            batch.partition,
            len(batch.dead_letters),
            len(batch.events) + len(batch.dead_letters),
            dict(batch.rejections()),
        )
        for letter in batch.dead_letters:
            log.debug(
                "rejected %s[%d]@%d %s: %s",
                letter.source_topic,
                letter.partition,
                letter.offset,
                letter.error_class,
                letter.error_message,
            )


def dead_letter_value(letter: DeadLetter) -> bytes:
    """The value a dead letter is produced with (its key is the source topic)."""
    return encode_event(letter)
