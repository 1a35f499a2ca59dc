"""Stream workers against the embedded broker: real worker processes, a real lake.

Each test has its own topic prefix, Faust app id (so its own consumer groups) and lake dir, and
starts `python -m streams worker` processes the way `glamcast stream` does. Waits poll the
workers' committed offsets or the lake with a deadline; none sleeps a fixed time.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from testkit import end_offsets, eventually, produce, wait_committed, worker_exited

from glamcast.core import topics
from glamcast.core.events import DeadLetter
from glamcast.core.names import COMMERCE, SOCIAL, TREND_COUNTS, TRYON
from glamcast.core.settings import Settings
from glamcast.core.shades import shade_family
from glamcast.core.trend_terms import (
    COMMERCE_EVENT_WEIGHTS,
    TRYON_ACTION_WEIGHTS,
    normalize_hashtag,
    social_weight,
)
from glamcast.platform import broker, lake
from streams.ingestion import committed_offsets, ingest_group
from streams.worker import WorkerProcess, settings_env, stop_workers

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
ACTIONS = list(TRYON_ACTION_WEIGHTS)
SHADES = ["#C0392B", "#E8B5A0", "#8E2440", "#F4A6B7", "#5B2C3A", "#D96A4A"]
FINISHES = ["matte", "satin", "gloss", "shimmer", "metallic"]
CATEGORIES = ["lipstick", "lip_gloss", "blush", "eyeshadow"]
HASHTAGS = ["#RedLips", "#glassskin", "#GRWM", "#coral crush", "#makeup"]


# --- helpers ------------------------------------------------------------------------------------


def wait_drained(
    settings: Settings,
    ends: dict[tuple[str, int], int],
    processes: list[WorkerProcess],
    timeout_s: float = 120,
) -> None:
    """Until the workers have committed every produced record (so it is durable in the lake)."""
    wait_committed(
        settings, [ingest_group(settings)], ends, timeout_s, abort=worker_exited(processes)
    )


def tryon_value(event_id: str, when: datetime, rng: random.Random, **changes: object) -> bytes:
    values = {
        "event_id": event_id,
        "ts": when.isoformat(),
        "user_id": f"u{rng.randrange(500)}",
        "session_id": f"s{rng.randrange(5000)}",
        "action": rng.choice(ACTIONS),
        "product_id": f"p{rng.randrange(300)}",
        "category": rng.choice(CATEGORIES),
        "shade_hex": rng.choice(SHADES),
        "finish": rng.choice(FINISHES),
        "dwell_ms": rng.randrange(100, 20_000),
        "platform": "ios",
        "app_version": "2.1.0",
    }
    if rng.random() < 0.5:
        values["face"] = {
            "skin_tone": rng.randrange(1, 11),
            "undertone": "warm",
            "face_shape": "oval",
        }
    values.update(changes)
    return json.dumps({key: value for key, value in values.items() if value is not ...}).encode()


def social_value(event_id: str, when: datetime, rng: random.Random, **changes: object) -> bytes:
    values = {
        "event_id": event_id,
        "ts": when.isoformat(),
        "platform": "tiktok",
        "post_id": event_id,
        "author_id": f"a{rng.randrange(100)}",
        "hashtags": rng.sample(HASHTAGS, 2),
        "brands": [rng.choice(["Fenty Beauty", "MAC"])],
        "likes": rng.randrange(1000),
        "comments": rng.randrange(50),
        "shares": rng.randrange(20),
        "views": rng.randrange(10_000),
        "lang": "en",
    }
    values.update(changes)
    return json.dumps(values).encode()


def commerce_value(event_id: str, when: datetime, rng: random.Random, **changes: object) -> bytes:
    values = {
        "event_id": event_id,
        "event_time": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "event_type": rng.choice(list(COMMERCE_EVENT_WEIGHTS)),
        "product_id": str(rng.randrange(9999)),
        "category_id": "2053",
        "category_code": "beauty.lips.lipstick",
        "brand": "runail",
        "price": round(rng.uniform(1, 30), 2),
        "user_id": str(rng.randrange(500)),
        "user_session": "x",
    }
    values.update(changes)
    return json.dumps(values).encode()


def valid_events(
    n_tryon: int, n_social: int, n_commerce: int, rng: random.Random, tag: str = "v"
) -> tuple[list[tuple[str, bytes, bytes]], dict[str, set[str]]]:
    """Valid records of the three signal topics over a few hours, and their ids per dataset."""
    records, ids = [], {TRYON: set(), SOCIAL: set(), COMMERCE: set()}
    for i in range(n_tryon):
        event_id = f"{tag}t{i}"
        records.append(
            (
                topics.TRYON,
                f"u{i % 97}".encode(),
                tryon_value(event_id, T0 + timedelta(seconds=3 * i), rng),
            )
        )
        ids[TRYON].add(event_id)
    for i in range(n_social):
        event_id = f"{tag}s{i}"
        records.append(
            (
                topics.SOCIAL,
                event_id.encode(),
                social_value(event_id, T0 + timedelta(seconds=20 * i), rng),
            )
        )
        ids[SOCIAL].add(event_id)
    for i in range(n_commerce):
        event_id = f"{tag}c{i}"
        records.append(
            (
                topics.COMMERCE,
                f"u{i % 97}".encode(),
                commerce_value(event_id, T0 + timedelta(seconds=20 * i), rng),
            )
        )
        ids[COMMERCE].add(event_id)
    return records, ids


def bad_records(per_kind: int, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(topic, expected reason, raw value) for every kind of bad input, `per_kind` of each."""
    t = T0
    kinds: list[tuple[str, str, Callable[[int], bytes]]] = [
        (topics.TRYON, "not_json", lambda i: b'{"event_id": "b%d", ' % i),
        (topics.SOCIAL, "not_json", lambda i: b"<xml>%d</xml>" % i),
        (topics.TRYON, "not_utf8", lambda i: b'{"event_id": "\xff\xfe%d"}' % i),
        (topics.TRYON, "wrong_type", lambda i: tryon_value(f"b{i}", t, rng, dwell_ms="long")),
        (topics.SOCIAL, "wrong_type", lambda i: social_value(f"b{i}", t, rng, likes="many")),
        (topics.COMMERCE, "wrong_type", lambda i: b"[%d]" % i),
        (topics.TRYON, "missing_field", lambda i: tryon_value(f"b{i}", t, rng, user_id=...)),
        (topics.COMMERCE, "missing_field", lambda i: json.dumps({"event_type": "view"}).encode()),
        (topics.TRYON, "unknown_enum", lambda i: tryon_value(f"b{i}", t, rng, action="teleport")),
        (
            topics.SOCIAL,
            "unknown_enum",
            lambda i: social_value(f"b{i}", t, rng, platform="myspace"),
        ),
        (topics.TRYON, "bad_timestamp", lambda i: tryon_value(f"b{i}", t, rng, ts="yesterday")),
        (
            topics.TRYON,
            "bad_timestamp",
            lambda i: tryon_value(f"b{i}", t, rng, ts="2025-03-01T10:00:00"),
        ),
        (
            topics.TRYON,
            "bad_timestamp",
            lambda i: tryon_value(f"b{i}", t, rng, ts="2099-01-01T00:00:00Z"),
        ),
        (
            topics.COMMERCE,
            "bad_timestamp",
            lambda i: commerce_value(f"b{i}", t, rng, event_time="1970-01-01 00:00:00 UTC"),
        ),
        (topics.TRYON, "oversize", lambda i: tryon_value(f"b{i}", t, rng, note="x" * 70_000)),
        (
            topics.TRYON,
            "bad_shade",
            lambda i: tryon_value(
                f"b{i}", t, rng, shade_hex=rng.choice(["#12345", "red", "#GGGGGG"])
            ),
        ),
        (topics.TRYON, "negative_value", lambda i: tryon_value(f"b{i}", t, rng, dwell_ms=-i - 1)),
        (topics.COMMERCE, "negative_value", lambda i: commerce_value(f"b{i}", t, rng, price=-1.5)),
        (
            topics.TRYON,
            "out_of_range",
            lambda i: tryon_value(
                f"b{i}", t, rng, face={"skin_tone": 11, "undertone": "warm", "face_shape": "oval"}
            ),
        ),
    ]
    return [(topic, reason, make(i)) for topic, reason, make in kinds for i in range(per_kind)]


def landed_beyond_commit(settings: Settings, admin: object) -> tuple[bool, int]:
    """Whether some try-on lake file holds offsets not committed yet, and how many are."""
    landed: dict[tuple[str, int], int] = {}
    root = Path(settings.lake_root) / TRYON
    for directory in root.glob("date=*") if root.exists() else ():
        for name in os.listdir(directory):
            if name.endswith(".parquet") and not name.startswith("."):
                topic, partition, _first, last = name[: -len(".parquet")].rsplit("-", 3)
                key = (topic, int(partition[1:]))
                landed[key] = max(landed.get(key, -1), int(last))
    committed = committed_offsets(settings, admin)
    ahead = any(last >= committed.get(key, 0) for key, last in landed.items())
    return ahead, sum(committed.values())


def tryon_trend_counts(tryons: pd.DataFrame) -> pd.DataFrame:
    """Trend counts of try-ons recomputed with pandas from lake rows (see glamcast.core.trend_terms)."""
    base = tryons.assign(
        hour=tryons["ts"].dt.floor("h"), weight=tryons["action"].map(TRYON_ACTION_WEIGHTS)
    )
    parts = [
        base.assign(term_type="category", term=base["category"]),
        base.assign(term_type="finish", term=base["finish"]),
        base.assign(term_type="shade_family", term=base["shade_hex"].map(shade_family)),
    ]
    stacked = pd.concat(parts)
    return stacked.groupby(["hour", "term_type", "term"], as_index=False).agg(
        weight=("weight", "sum"), events=("weight", "size")
    )


def assert_counts_equal(lake_counts: pd.DataFrame, expected: pd.DataFrame) -> None:
    keys = ["hour", "term_type", "term"]
    got = lake_counts[[*keys, "weight", "events"]].sort_values(keys).reset_index(drop=True)
    want = expected[[*keys, "weight", "events"]].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)


# --- tests ----------------------------------------------------------------------------------------


def test_bad_records_go_to_the_dead_letter_topic_and_valid_ones_to_the_lake(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    rng = random.Random(3)
    valid, ids = valid_events(1_500, 300, 300, rng)
    bad = bad_records(60, rng)  # 19 kinds × 60 = 1,140 bad records
    mixed = [(topic, key, value, None) for topic, key, value in valid]
    mixed += [
        (topic, f"bad{i}".encode(), value, reason) for i, (topic, reason, value) in enumerate(bad)
    ]
    rng.shuffle(mixed)
    metadata = produce(streams_settings, [(topic, key, value) for topic, key, value, _ in mixed])
    expected_dead = {
        (meta.topic, meta.partition, meta.offset): (reason, value)
        for meta, (_, _, value, reason) in zip(metadata, mixed, strict=True)
        if reason is not None
    }

    started = workers(streams_settings)
    wait_drained(streams_settings, end_offsets(metadata), started)

    letters = {}
    for record in broker.read_all(streams_settings, [streams_settings.topic_name(topics.DLQ)]):
        letter = DeadLetter.model_validate_json(record.value)
        letters[(letter.source_topic, letter.partition, letter.offset)] = letter
    assert letters.keys() == expected_dead.keys()
    for where, (reason, value) in expected_dead.items():
        letter = letters[where]
        assert letter.error_class == reason, (where, letter.error_message)
        assert base64.b64decode(letter.original_b64) == value
    for dataset, expected_ids in ids.items():
        landed = lake.read_dataset(streams_settings, dataset, columns=["event_id"])
        assert set(landed["event_id"]) == expected_ids, dataset

    assert started[0].process.poll() is None, "the worker died on bad input"
    exposition = httpx.get(f"http://127.0.0.1:{started[0].web_port}/metrics", timeout=10).text
    rejected = sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("glamcast_stream_rejected_total{")
    )
    assert rejected == len(bad)
    assert 'reason="oversize"' in exposition and 'reason="out_of_range"' in exposition


def test_kill_9_mid_run_loses_nothing_and_counts_trends_once(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    rng = random.Random(9)
    total = 50_000
    records, ids = valid_events(total, 0, 0, rng, tag="k")
    metadata = produce(streams_settings, records)
    ends = end_offsets(metadata)
    admin = broker.admin_client(streams_settings)
    try:
        first = workers(streams_settings)
        eventually(
            lambda: sum(committed_offsets(streams_settings, admin).values()) >= 8_000,
            120,
            "the first worker to commit 8,000 records",
            every_s=0.1,
            abort=worker_exited(first),
        )
        # Aim the kill between a batch's files landing and its commit: freeze the worker
        # (SIGSTOP), and kill it if the lake is then ahead of the committed offsets, else let it
        # run a little longer. A miss still kills mid-run.
        worker = first[0].process
        deadline, ahead = time.monotonic() + 20, False
        while time.monotonic() < deadline:
            worker.send_signal(signal.SIGSTOP)
            ahead, committed = landed_beyond_commit(streams_settings, admin)
            if ahead or committed >= 0.7 * total:
                break
            worker.send_signal(signal.SIGCONT)
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        first[0].process.wait(timeout=30)
        at_kill = sum(committed_offsets(streams_settings, admin).values())
    finally:
        admin.close()
    assert at_kill < total, "the worker finished before it could be killed; produce more"

    second = workers(streams_settings, first_index=1)
    wait_drained(streams_settings, ends, second, timeout_s=180)

    stored = lake.read_table(streams_settings, TRYON, columns=["event_id"]).num_rows
    tryons = lake.read_dataset(streams_settings, TRYON)
    assert set(tryons["event_id"]) == ids[TRYON] and len(tryons) == total
    assert stored >= total  # duplicates (batches landed but not committed) only before dedup
    counts = lake.read_dataset(streams_settings, TREND_COUNTS)
    assert set(counts["source"]) == {"tryon"}
    assert_counts_equal(counts, tryon_trend_counts(tryons))
    print(
        f"killed at {at_kill} committed records "
        f"({'with' if ahead else 'without'} landed files not committed yet); "
        f"the lake held {stored - total} duplicates before dedup"
    )


def test_sigterm_lands_and_commits_what_the_worker_buffered(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    # Batches that would never close on their own: only the stop can land these records.
    settings = streams_settings.model_copy(
        update={"streams_batch_events": 1_000_000, "streams_flush_s": 3600.0}
    )
    records, ids = valid_events(3_000, 500, 500, random.Random(1), tag="g")
    metadata = produce(settings, records)
    started = workers(settings)

    def buffered() -> float:
        try:
            exposition = httpx.get(
                f"http://127.0.0.1:{started[0].web_port}/metrics", timeout=10
            ).text
        except httpx.ConnectError:  # the web server starts once the worker is ready
            return -1
        line = next(
            line
            for line in exposition.splitlines()
            if line.startswith("glamcast_stream_buffered_records ")
        )
        return float(line.split()[1])

    eventually(
        lambda: buffered() == len(records),
        60,
        "the worker to buffer every record",
        every_s=0.1,
        abort=worker_exited(started),
    )
    assert committed_offsets(settings) == {} and not Path(settings.lake_root).exists()
    assert stop_workers(started) == [0]

    admin = broker.admin_client(settings)
    try:
        committed = committed_offsets(settings, admin)
    finally:
        admin.close()
    assert committed == end_offsets(metadata)
    for dataset, expected_ids in ids.items():
        assert (
            set(lake.read_dataset(settings, dataset, columns=["event_id"])["event_id"])
            == expected_ids
        )


def test_two_workers_share_the_partitions_and_land_the_same_lake_as_one(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]], tmp_path: Path
) -> None:
    rng = random.Random(5)
    valid, ids = valid_events(8_000, 2_000, 2_000, rng, tag="w")
    bad = [(topic, b"bad", value) for topic, _, value in bad_records(5, rng)]
    metadata = produce(streams_settings, valid + bad)
    ends = end_offsets(metadata)

    one = streams_settings.model_copy(
        update={
            "streams_app_id": f"{streams_settings.streams_app_id}-one",
            "lake_uri": str(tmp_path / "lake-one"),
        }
    )
    single = workers(one)
    wait_drained(one, ends, single)
    stop_workers(single)

    two = streams_settings.model_copy(
        update={
            "streams_app_id": f"{streams_settings.streams_app_id}-two",
            "lake_uri": str(tmp_path / "lake-two"),
        }
    )
    log = tmp_path / "stream-cli.log"
    with open(log, "wb") as out:
        cli = subprocess.Popen(
            [sys.executable, "-m", "glamcast.cli", "stream", "--workers", "2"],
            env={**os.environ, **settings_env(two)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def cli_exited() -> str | None:
            return None if cli.poll() is None else log.read_text()[-3000:]

        wait_committed(two, [ingest_group(two)], ends, 120, abort=cli_exited)
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if cli.poll() is None:
            cli.kill()
        print(log.read_text()[-3000:])  # pytest shows it when the test failed

    owners = {
        line.split("] [", 2)[1]
        for line in log.read_text().splitlines()
        if "ingest partitions assigned:" in line and not line.rstrip().endswith("none")
    }
    assert len(owners) == 2, f"expected both worker processes to own partitions, got {owners}"
    for dataset in (TRYON, SOCIAL, COMMERCE, TREND_COUNTS):
        alone = lake.read_dataset(one, dataset)
        shared = lake.read_dataset(two, dataset)
        if dataset != TREND_COUNTS:
            assert set(shared["event_id"]) == ids[dataset]
            alone, shared = (
                frame.sort_values("event_id").reset_index(drop=True) for frame in (alone, shared)
            )
        pd.testing.assert_frame_equal(alone, shared, rtol=1e-9)


def test_trend_counts_of_a_simulated_hashtag_match_pandas_over_the_lake(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    from glamcast.simulator import SimulationConfig, World
    from glamcast.simulator.trends import RISING_TERM

    world = World.build(
        SimulationConfig(users=300, days=4, start=date(2025, 3, 1), seed=5, posts_per_day=300)
    )
    records = [(record.topic, record.key, record.value) for record in world.records()]
    metadata = produce(streams_settings, records)
    started = workers(streams_settings)
    wait_drained(streams_settings, end_offsets(metadata), started)

    posts = lake.read_dataset(streams_settings, SOCIAL)
    tags = posts[["event_id", "ts", "likes", "comments", "shares", "views", "hashtags"]].explode(
        "hashtags"
    )
    tags = tags.assign(term=tags["hashtags"].map(normalize_hashtag, na_action="ignore")).dropna(
        subset=["term"]
    )
    tags = tags.drop_duplicates(["event_id", "term"])
    tags["weight"] = [
        social_weight(*row)
        for row in tags[["likes", "comments", "shares", "views"]].itertuples(index=False)
    ]
    tags["hour"] = tags["ts"].dt.floor("h")
    counts = lake.read_dataset(streams_settings, TREND_COUNTS)
    rising = normalize_hashtag(RISING_TERM)
    most_common = tags["term"].value_counts().index[0]
    for term in {rising, most_common}:
        expected = (
            tags[tags["term"] == term]
            .groupby("hour", as_index=False)
            .agg(weight=("weight", "sum"), events=("weight", "size"))
            .assign(term_type="hashtag", term=term)
        )
        assert len(expected) > 5, f"the simulated world has too few posts with #{term}"
        got = counts[(counts["term_type"] == "hashtag") & (counts["term"] == term)]
        assert set(got["source"]) == {"social"}
        assert_counts_equal(got, expected)

    # The live table holds the same weights for the latest hour (all sources together).
    latest = counts["hour"].max()
    wanted = counts[counts["hour"] == latest].groupby(["term_type", "term"])["weight"].sum()

    def live_matches() -> bool:
        page = httpx.get(
            f"http://127.0.0.1:{started[0].web_port}/trending-now/?limit=10000", timeout=10
        ).json()
        live = {(item["term_type"], item["term"]): item["weight"] for item in page["terms"]}
        return (
            page["as_of_hour"] == int(latest.timestamp())
            and live.keys() == set(wanted.index)
            and all(abs(live[key] - weight) < 1e-6 for key, weight in wanted.items())
        )

    eventually(
        live_matches,
        60,
        "the live trending table to catch up with the lake",
        every_s=0.1,
        abort=worker_exited(started),
    )
