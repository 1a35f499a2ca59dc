"""Erasure of a person (the right to be forgotten): every place the platform holds them, one call.

`erase(settings, user_ids, requested_by)` — what ``glamcast erase`` and ``DELETE
/v1/people/{user_id}`` call:

1. records each request on the compacted topic `glamcast.erasure.v1` (keyed by `user_id`, value
   `glamcast.core.events.ErasureRequest`, status ``requested``). From then on the stream stages
   drop the person's events (`ErasedPeople`, re-read every `erasure_refresh_s`), so nothing
   replayed or still queued in an input topic brings them back;
2. waits `erasure_settle_s`: every worker re-reads the topic, and lands, appends or publishes
   what it already held of the person;
3. removes them from every lake file that names them (`lake.remove_people`: each event dataset,
   `local`'s offline feature tables, the embedding tables), each affected file replaced
   atomically; from the online store (`features.delete_online`: every user-keyed view); from the
   recommender's model versions (`redact_models`); and tombstones their key on
   `glamcast.feed.v1` (a null value: the latest feed of the person is none) and on
   `glamcast.preference.v1` (their explicit preferences);
4. records the request again as ``completed`` with its receipt: what was removed where.

Idempotent: the receipt of a person's first completed erasure is kept on the topic (compacted:
the latest record per person stays). Erasing them again returns that same receipt (same places,
same counts) with `repeated` set, after sweeping every place again; what that sweep still found
is in `found_again` (expected empty: zero remaining).

Embeddings: a person's vector lives in the recommender's saved factors (every registered version
of `recommender_model_name` that trained on them) and in the embedding tables of the lake
(``embeddings/users``, step 3) and the online store (`user_embedding_fv`). Each model version that
holds the person gets its factor file rewritten without their row (user vector and training
history); if the champion was one of them, its (now redacted) model is registered again as a new
version and the `champion` alias moves to it, so every feed engine reloads it within
`feed_reload_poll_s`. The person is then unknown to the model: the feed ranks popular and
trending products for them, like anyone new. Item vectors and popularity, aggregates over
everyone, are left to the next training run (which no longer sees the person's events).
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from glamcast.core import topics
from glamcast.core.events import ErasureRequest, encode_event
from glamcast.core.names import CHAMPION
from glamcast.core.settings import Settings
from glamcast.platform import broker, lake

log = logging.getLogger(__name__)

#: Event fields that name a person (`lake.PERSON_COLUMNS` in the event models).
PERSON_FIELDS = lake.PERSON_COLUMNS
#: Receipt places.
LAKE = "lake"
ONLINE_STORE = "online_store"
MODEL = "model"
FEED_TOPIC = "feed_topic"
PREFERENCE_TOPIC = "preference_topic"
#: The saved factors inside a logged recommender (`models.recommender_pyfunc`).
FACTORS_ARTIFACT = "artifacts/recommender.npz"
MAX_ID_CHARS = 128


@dataclass
class ErasureResult:
    """One person's erasure: the receipt (the first completed run's), whether it was a repeat,
    and what this run's sweep found and removed all the same (empty on a clean repeat)."""

    receipt: ErasureRequest
    repeated: bool = False
    found_again: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.receipt.removed.values())

    def as_dict(self) -> dict[str, Any]:
        return {**self.receipt.model_dump(mode="json"), "total": self.total,
                "repeated": self.repeated, "found_again": self.found_again}


def _add(into: dict[str, dict[str, int]], person: str, place: str, count: int) -> None:
    if count:
        places = into.setdefault(person, {})
        places[place] = places.get(place, 0) + count


def check_ids(user_ids: Iterable[str]) -> list[str]:
    """The distinct ids in order; ValueError on an empty or over-long one."""
    ids = list(dict.fromkeys(user_ids))
    bad = [user for user in ids if not user or len(user) > MAX_ID_CHARS]
    if not ids or bad:
        raise ValueError(f"user ids must be 1 to {MAX_ID_CHARS} characters, got {bad or ids!r}")
    return ids


# --- the erasure topic ---------------------------------------------------------------------------


def erasure_topic(settings: Settings) -> str:
    return settings.topic_name(topics.ERASURE)


def ensure_erasure_topic(settings: Settings) -> None:
    """Create the erasure topic (compacted) where missing."""
    spec = topics.TOPICS[topics.ERASURE]
    broker.create_topics(settings, [topics.TopicSpec(
        erasure_topic(settings), spec.partitions, spec.key, spec.compacted, spec.configs)])


def read_erasures(settings: Settings, *, idle_ms: int = 1000) -> dict[str, ErasureRequest]:
    """The latest erasure record of every person on the topic (what compaction keeps)."""
    latest: dict[str, ErasureRequest] = {}
    for record in broker.read_all(settings, [erasure_topic(settings)], idle_ms=idle_ms):
        if record.key is None:
            continue
        user = record.key.decode()
        if record.value is None:
            latest.pop(user, None)
        else:
            latest[user] = ErasureRequest.model_validate_json(record.value)
    return latest


def _publish(producer: Any, topic: str, records: Iterable[tuple[str, bytes | None]]) -> None:
    futures = [producer.send(topic, key=key.encode(), value=value) for key, value in records]
    producer.flush()
    for future in futures:
        future.get(timeout=30)


class ErasedPeople:
    """The people erased so far, for the stream stages: read from the erasure topic from its
    start, then re-read every `erasure_refresh_s`.

    A stage calls `start` as it starts (it blocks on the broker until the topic is read: from a
    thread, `asyncio.to_thread`), then asks `erased(event)` per event (a set lookup) or `drop`s
    a batch's; a background thread keeps the set fresh until `close`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ids: set[str] = set()
        self._consumer: Any = None
        self._last = -math.inf
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Read the whole topic now, then refresh in the background."""
        self.refresh(force=True)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._refresh_loop, name="erasures",
                                            daemon=True)
            self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.settings.erasure_refresh_s):
            try:
                self.refresh(force=True)
            except Exception:  # a broker hiccup: the next round reads it
                log.exception("re-reading the erasure topic failed; retrying")

    def _open(self) -> Any:
        from kafka import KafkaConsumer, TopicPartition

        ensure_erasure_topic(self.settings)  # a stack from before the topic existed
        consumer = KafkaConsumer(
            bootstrap_servers=broker.bootstrap_servers(self.settings), group_id=None,
            enable_auto_commit=False, client_id="glamcast-erasures",
            **broker.client_security(self.settings))
        name = erasure_topic(self.settings)
        partitions = [TopicPartition(name, p)
                      for p in sorted(consumer.partitions_for_topic(name) or ())]
        if not partitions:
            consumer.close()
            raise RuntimeError(f"topic {name} does not exist; run `glamcast topics create`")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return consumer

    def refresh(self, force: bool = False) -> bool:
        """Read what the topic got since the last read when due; returns whether it read. The
        first read reads the whole topic (until a poll comes back empty at the end)."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last < self.settings.erasure_refresh_s:
                return False
            first = self._consumer is None
            if first:
                self._consumer = self._open()
            consumer = self._consumer
            ends = consumer.end_offsets(list(consumer.assignment())) if first else {}
            while True:
                batches = consumer.poll(timeout_ms=500 if first else 50, max_records=10_000)
                for records in batches.values():
                    for record in records:
                        if record.key is None:
                            continue
                        user = record.key.decode()
                        if record.value is None:
                            self.ids.discard(user)
                        else:
                            self.ids.add(user)
                caught_up = all(consumer.position(tp) >= end for tp, end in ends.items())
                if not batches and caught_up:
                    break
            self._last = time.monotonic()
            return True

    def erased(self, event: Any) -> bool:
        """Whether an event names an erased person (in any of `PERSON_FIELDS`)."""
        ids = self.ids
        return bool(ids) and any(getattr(event, name, None) in ids for name in PERSON_FIELDS)

    def drop(self, events: Sequence[Any], offsets: Sequence[int]
             ) -> tuple[list[Any], list[int], int]:
        """The events (and their offsets) that do not name an erased person, and how many
        were dropped."""
        if not self.ids:
            return list(events), list(offsets), 0
        kept = [(event, offset) for event, offset in zip(events, offsets, strict=True)
                if not self.erased(event)]
        return [e for e, _ in kept], [o for _, o in kept], len(events) - len(kept)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None


# --- the model registry ----------------------------------------------------------------------------


def without_users(recommender: Any, user_ids: Iterable[str]) -> Any:
    """A `FactorRecommender` without the rows of `user_ids`: their vectors and their training
    history (`seen`) are gone; items, their vectors and popularity are unchanged."""
    from models.recommender_pyfunc import FactorRecommender

    drop = set(user_ids)
    keep = np.array([user not in drop for user in recommender.user_ids.tolist()], dtype=bool)
    kept_rows = np.flatnonzero(keep)
    seen = [recommender.seen(row) for row in kept_rows]
    lengths = np.array([len(items) for items in seen], dtype=np.int64)
    return FactorRecommender(
        user_ids=recommender.user_ids[keep], item_ids=recommender.item_ids,
        user_factors=recommender.user_factors[keep], item_factors=recommender.item_factors,
        item_bias=recommender.item_bias,
        seen_indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        seen_indices=(np.concatenate(seen) if seen else np.empty(0)).astype(np.int64),
        popularity=recommender.popularity,
    )


def _logged_model_id(version: Any) -> str | None:
    """The logged model behind a model version (MLflow 3: ``models:/m-<id>`` sources)."""
    found = getattr(version, "model_id", None)
    source = version.source or ""
    if not found and source.startswith("models:/m-"):
        found = source.removeprefix("models:/").split("/", 1)[0]
    return found or None


def redact_models(settings: Settings, user_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Remove people from every version of the recommender (module doc); returns ``{user:
    {"model/<name>": models redacted}}`` (versions that share one logged model, as a
    re-registration does, count once). Moves `champion` to a re-registration of the champion
    when the champion held one of them."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from glamcast.platform.model_registry import champion_version, tracking_uri
    from models.recommender_pyfunc import FactorRecommender

    name = settings.recommender_model_name
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(settings))
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return {}
    champion = champion_version(settings, name)
    out: dict[str, dict[str, int]] = {}
    redacted_champion = None
    redacted_sources: set[str] = set()  # a re-registration shares its model with the original
    for version in versions:
        is_champion = champion is not None and int(version.version) == champion
        if version.source in redacted_sources:
            redacted_champion = version if is_champion else redacted_champion
            continue
        location = client.get_model_version_download_uri(name, version.version).rstrip("/")
        with tempfile.TemporaryDirectory() as scratch:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{location}/{FACTORS_ARTIFACT}", dst_path=scratch)
            except (MlflowException, OSError):
                log.warning("%s v%s has no %s; skipped", name, version.version, FACTORS_ARTIFACT)
                continue
            recommender = FactorRecommender.load(local)
            known = [user for user, hit in zip(user_ids, recommender.knows(user_ids),
                                               strict=True) if hit]
            if not known:
                continue
            redacted = Path(scratch) / "redacted" / Path(FACTORS_ARTIFACT).name
            without_users(recommender, known).save(redacted)
            folder = FACTORS_ARTIFACT.rsplit("/", 1)[0]
            get_artifact_repository(f"{location}/{folder}").log_artifact(str(redacted))
        redacted_sources.add(version.source)
        for user in known:
            _add(out, user, f"{MODEL}/{name}", 1)
        if is_champion:
            redacted_champion = version
    if redacted_champion is not None:
        again = client.create_model_version(
            name, source=redacted_champion.source, run_id=redacted_champion.run_id,
            tags={**(redacted_champion.tags or {}), "erasure_of": str(champion)},
            description=f"v{champion} with erased people removed",
            model_id=_logged_model_id(redacted_champion))
        client.set_registered_model_alias(name, CHAMPION, again.version)
        log.info("%s: champion v%s redacted, re-registered as v%s", name, champion,
                 again.version)
    return out


# --- the erasure -----------------------------------------------------------------------------------


def sweep(settings: Settings, user_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Remove the people from the lake, the online store and the model versions; returns
    ``{user: {place: count}}`` (places: ``lake/<table>``, ``online_store/<view>``,
    ``model/<name>``), only where something was removed."""
    from glamcast.platform.features import delete_online, feature_store, is_applied

    found: dict[str, dict[str, int]] = {}
    for user, tables in lake.remove_people(settings.lake_root, user_ids).items():
        for table, count in tables.items():
            _add(found, user, f"{LAKE}/{table}", count)
    if is_applied(settings):
        for user, views in delete_online(feature_store(settings), user_ids).items():
            for view, count in views.items():
                _add(found, user, f"{ONLINE_STORE}/{view}", count)
    for user, places in redact_models(settings, user_ids).items():
        for place, count in places.items():
            _add(found, user, place, count)
    return found


def erase(settings: Settings, user_ids: Iterable[str], requested_by: str = "cli",
          *, settle_s: float | None = None) -> list[ErasureResult]:
    """Erase people everywhere (module doc); one `ErasureResult` per distinct id, in order.

    `settle_s` (default `erasure_settle_s`): the wait between recording the requests and the
    sweep; it is skipped when every person was erased before."""
    ids = check_ids(user_ids)
    ensure_erasure_topic(settings)
    before = read_erasures(settings)
    done = {user: before[user] for user in ids
            if user in before and before[user].status == "completed"}
    new = [user for user in ids if user not in done]
    now = datetime.now(UTC)
    requests = {
        user: ErasureRequest(user_id=user, requested_at=now, requested_by=requested_by,
                             status="requested")
        for user in new
    }
    producer = broker.producer(settings)
    try:
        _publish(producer, erasure_topic(settings),
                 [(user, encode_event(request)) for user, request in requests.items()])
        if new:
            wait = settings.erasure_settle_s if settle_s is None else settle_s
            time.sleep(max(0.0, wait))
        found = sweep(settings, ids)
        # A null value on the feed topic: the person's latest feed is none (compaction drops
        # their feeds); written on a repeat too, after anything a stage published meanwhile.
        _publish(producer, settings.topic_name(topics.FEED), [(user, None) for user in ids])
        # and on the preference topic: their explicit preferences are gone once compacted
        _publish(producer, settings.topic_name(topics.PREFERENCE), [(user, None) for user in ids])
        receipts = {
            user: request.model_copy(update={
                "status": "completed", "completed_at": datetime.now(UTC),
                "removed": {**dict(sorted(found.get(user, {}).items())), FEED_TOPIC: 1,
                            PREFERENCE_TOPIC: 1}})
            for user, request in requests.items()
        }
        _publish(producer, erasure_topic(settings),
                 [(user, encode_event(receipt)) for user, receipt in receipts.items()])
    finally:
        producer.close()
    results = []
    for user in ids:
        if user in done:
            results.append(ErasureResult(done[user], repeated=True,
                                         found_again=dict(sorted(found.get(user, {}).items()))))
        else:
            results.append(ErasureResult(receipts[user]))
        log.info("erased %s: %s", user, results[-1].as_dict())
    return results
