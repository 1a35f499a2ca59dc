"""Re-validate dead letters and send the ones that now pass back to their source topic.

    python infra/scripts/replay_dlq.py [--reason R ...] [--source-topic T] [--since ISO]
                                       [--until ISO] [--export FILE] [--produce]

Reads the dead-letter topic (`glamcast.dlq.v1`, with GLAMCAST_TOPIC_PREFIX) from the beginning,
keeps the dead letters that match the filters (reason, source topic, dead-letter time
``since <= ts < until``), and decodes each original value with today's validation rules and
settings (GLAMCAST_MAX_EVENT_BYTES, GLAMCAST_MAX_FUTURE_SKEW_S). Then:

- always: prints, per source topic and reason, how many now pass and how many are still rejected
  (a dry run unless --produce is given);
- with --export FILE: writes the still-rejected ones as JSON lines (source topic, partition,
  offset, reason, message, the original value as text) for fixing by hand;
- with --produce: sends each passing original, byte for byte, to its source topic with the key
  that topic is keyed by (`glamcast.core.topics.TOPICS[...].key`), and waits for every ack.

Send each dead letter once. The lake deduplicates by `event_id`, but `trend_counts` counts every
record it reads, so a record sent twice is counted twice there: note each run's --until and start
the next run from it. Runs anywhere the settings reach the broker, e.g. in the compose stack:
``docker compose -f infra/compose.yaml run --rm cli python /opt/glamcast/app/infra/scripts/replay_dlq.py``.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from glamcast.core import topics
from glamcast.core.events import TOPIC_MODELS, DeadLetter, Rejection, decode_event
from glamcast.core.settings import Settings, get_settings


@dataclass(frozen=True)
class Resend:
    """One original value that passes today's rules, addressed as its topic expects."""

    topic: str  # broker-side name (with the prefix), as the dead letter recorded it
    key: bytes
    value: bytes
    letter: DeadLetter


@dataclass
class ReplayPlan:
    """What a replay would send, and what stays rejected (with today's reason)."""

    resend: list[Resend] = field(default_factory=list)
    rejected: list[tuple[DeadLetter, Rejection]] = field(default_factory=list)

    def summary(self) -> dict[tuple[str, str, str], int]:
        """Counts by (source topic, reason recorded in the DLQ, outcome: pass | reason now)."""
        counts: Counter[tuple[str, str, str]] = Counter()
        for item in self.resend:
            counts[(item.topic, item.letter.error_class, "pass")] += 1
        for letter, rejection in self.rejected:
            counts[(letter.source_topic, letter.error_class, rejection.reason)] += 1
        return dict(sorted(counts.items()))


def selected(
    letter: DeadLetter,
    *,
    reasons: Sequence[str] = (),
    source_topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> bool:
    """Whether a dead letter matches the filters (empty filters match everything)."""
    return (
        (not reasons or letter.error_class in reasons)
        and (source_topic is None or letter.source_topic == source_topic)
        and (since is None or letter.ts >= since)
        and (until is None or letter.ts < until)
    )


def plan_replay(letters: Iterable[DeadLetter], settings: Settings, now: datetime) -> ReplayPlan:
    """Decode every dead letter's original value with the settings' rules as of `now`."""
    plan = ReplayPlan()
    skew = timedelta(seconds=settings.max_future_skew_s)
    for letter in letters:
        base_topic = letter.source_topic.removeprefix(settings.topic_prefix)
        raw = base64.b64decode(letter.original_b64)
        outcome = decode_event(TOPIC_MODELS[base_topic], raw,
                               max_bytes=settings.max_event_bytes, max_future_skew=skew, now=now)
        if isinstance(outcome, Rejection):
            plan.rejected.append((letter, outcome))
        else:
            key = str(getattr(outcome, topics.TOPICS[base_topic].key)).encode()
            plan.resend.append(Resend(letter.source_topic, key, raw, letter))
    return plan


def read_dead_letters(settings: Settings) -> Iterable[DeadLetter]:
    from glamcast.platform.broker import read_all

    for record in read_all(settings, [settings.topic_name(topics.DLQ)]):
        yield DeadLetter.model_validate_json(record.value)


def export_rejected(plan: ReplayPlan, path: Path) -> None:
    with path.open("w") as out:
        for letter, rejection in plan.rejected:
            original = base64.b64decode(letter.original_b64).decode("utf-8", errors="replace")
            out.write(json.dumps({
                "source_topic": letter.source_topic, "partition": letter.partition,
                "offset": letter.offset, "reason": rejection.reason,
                "message": rejection.message, "original": original,
            }) + "\n")


def produce(plan: ReplayPlan, settings: Settings) -> int:
    """Send the plan's originals and wait for the broker; returns how many were acknowledged."""
    from glamcast.platform.broker import producer

    kafka = producer(settings)
    try:
        futures = [kafka.send(item.topic, key=item.key, value=item.value) for item in plan.resend]
        kafka.flush()
        for future in futures:
            future.get(timeout=30)  # raises the broker's error for a record that failed
    finally:
        kafka.close()
    return len(futures)


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reason", action="append", default=[],
                        help="Only dead letters with this error_class (repeatable).")
    parser.add_argument("--source-topic", help="Only dead letters from this topic.")
    parser.add_argument("--since", type=_timestamp, help="Dead-letter time, inclusive (ISO, UTC).")
    parser.add_argument("--until", type=_timestamp, help="Dead-letter time, exclusive (ISO, UTC).")
    parser.add_argument("--export", type=Path, help="Write the still-rejected ones here (JSON lines).")
    parser.add_argument("--produce", action="store_true", help="Send the passing ones (default: dry run).")
    args = parser.parse_args(argv)

    settings = get_settings()
    letters = (letter for letter in read_dead_letters(settings)
               if selected(letter, reasons=args.reason, source_topic=args.source_topic,
                           since=args.since, until=args.until))
    plan = plan_replay(letters, settings, datetime.now(UTC))
    for (topic, recorded, outcome), count in plan.summary().items():
        print(f"{topic}\t{recorded}\t→ {outcome}\t{count}")
    print(f"pass now: {len(plan.resend)}  still rejected: {len(plan.rejected)}")
    if args.export:
        export_rejected(plan, args.export)
        print(f"wrote {len(plan.rejected)} still-rejected dead letters to {args.export}")
    if args.produce:
        print(f"sent {produce(plan, settings)} records back to their source topics")
    elif plan.resend:
        print("dry run: add --produce to send them")


if __name__ == "__main__":
    main()
