"""No record can stall a partition: hostile records and a sink that throws, against real worker
processes on the embedded broker.

- Every hostile case of `glamcast.simulator.hostile_events` (poison integers in every integer
  field of every event kind, NaN/Infinity, nesting 10,000 deep, oversized strings and lists...)
  produced straight onto the input topics, a valid event behind each: each hostile record is a
  dead letter with its reason, the worker stays alive, and every valid record is in the lake.
- A lake writer that throws on one valid record (tests/.../faulty_sink_worker.py): the batch is
  split down to that record, which goes to the dead-letter topic with the error; the partition
  moves on; kill -9 and a restart with the same faulty writer do not meet it again.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from testkit import end_offsets, log_tail, produce, wait_committed, worker_exited

from glamcast.core import topics
from glamcast.core.events import DeadLetter, Rejection, decode_event
from glamcast.core.names import TRYON
from glamcast.core.settings import Settings
from glamcast.platform import broker, lake
from glamcast.platform.stack import free_port
from glamcast.simulator.hostile_events import KINDS, hostile_cases, valid_event
from streams.ingestion import ingest_group
from streams.worker import WorkerProcess, settings_env, stop_workers

pytestmark = pytest.mark.integration

FAULTY_WORKER = Path(__file__).with_name("faulty_sink_worker.py")


def dead_letters(settings: Settings) -> list[DeadLetter]:
    records = broker.read_all(settings, [settings.topic_name(topics.DLQ)], idle_ms=1500)
    return [DeadLetter.model_validate_json(record.value) for record in records]


def poison_count(worker: WorkerProcess, stage: str) -> float:
    exposition = httpx.get(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("glamcast_stream_poison_records_total{") and f'stage="{stage}"' in line
    )


def test_hostile_records_are_dead_letters_and_the_valid_ones_behind_them_land(
    streams_settings: Settings, workers: Callable[..., list[WorkerProcess]]
) -> None:
    now = datetime.now(UTC)
    cases = hostile_cases(now)
    records, valid_ids = [], {kind: set() for kind in KINDS}
    for index, case in enumerate(cases):
        follower = valid_event(case.kind, index, now)
        records.append((case.topic, f"k{index}".encode(), case.body))
        records.append((case.topic, f"k{index}".encode(), json.dumps(follower).encode()))
        valid_ids[case.kind].add(follower["event_id"])
    metadata = produce(streams_settings, records)
    hostile = {
        (meta.topic, meta.partition, meta.offset): case
        for meta, case in zip(metadata[::2], cases, strict=True)
    }

    started = workers(streams_settings)
    wait_committed(
        streams_settings, [ingest_group(streams_settings)], end_offsets(metadata), 180,
        abort=worker_exited(started),
    )

    letters = {(d.source_topic, d.partition, d.offset): d for d in dead_letters(streams_settings)}
    assert letters.keys() == hostile.keys()
    reasons = Counter()
    for where, case in hostile.items():
        letter = letters[where]
        expected = decode_event(KINDS[case.kind], case.body, now=now)
        assert isinstance(expected, Rejection)
        assert (letter.error_class, letter.error_message) == (expected.reason, expected.message)
        assert letter.error_class != "processing_error", case.name  # refused at validation
        assert base64.b64decode(letter.original_b64) == case.body
        reasons[letter.error_class] += 1
    assert {"out_of_range", "not_finite", "not_json", "oversize"} <= reasons.keys()
    for kind, model in KINDS.items():
        landed = lake.read_dataset(streams_settings, lake.TOPIC_DATASETS[model.TOPIC],
                                   columns=["event_id"])
        assert set(landed["event_id"]) == valid_ids[kind], kind
    assert started[0].process.poll() is None, "the worker died on hostile input"
    print(f"{len(cases)} hostile records → dead letters {dict(reasons)}")


def start_faulty(settings: Settings, poison_id: str, index: int, log_dir: Path) -> WorkerProcess:
    """A worker (as `streams.worker.start_workers` starts one) whose lake writer refuses one id."""
    port = free_port()
    datadir = settings.state_path / "streams" / settings.streams_app_id / f"worker-{index}"
    datadir.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLAMCAST_")}
    env.update(settings_env(settings), POISON_EVENT_ID=poison_id)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"worker-{index}.log"
    command = [sys.executable, str(FAULTY_WORKER), "--datadir", str(datadir), "--loglevel",
               "info", "worker", "--web-port", str(port)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    return WorkerProcess(index, process, port, log)


def test_a_sink_that_throws_on_one_record_never_stalls_its_partition(
    streams_settings: Settings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    poison = "tryon-150"
    first = [valid_event("tryon", i, now) for i in range(300)]
    key = b"one-partition"  # every record behind the poison shares its partition
    metadata = produce(streams_settings, [(topics.TRYON, key, json.dumps(e).encode()) for e in first])
    (poison_meta,) = [m for m, e in zip(metadata, first, strict=True) if e["event_id"] == poison]
    group = [ingest_group(streams_settings)]
    started: list[WorkerProcess] = []
    try:
        started.append(start_faulty(streams_settings, poison, 0, tmp_path / "logs"))
        wait_committed(streams_settings, group, end_offsets(metadata), 120,
                       abort=worker_exited(started))
        (letter,) = dead_letters(streams_settings)
        assert (letter.source_topic, letter.partition, letter.offset) == (
            poison_meta.topic, poison_meta.partition, poison_meta.offset)
        assert letter.error_class == "processing_error"
        assert letter.error_message == f"ingest: ValueError: the sink refuses {poison}"
        assert json.loads(base64.b64decode(letter.original_b64))["event_id"] == poison
        assert poison_count(started[0], "ingest") == 1
        landed = set(lake.read_dataset(streams_settings, TRYON, columns=["event_id"])["event_id"])
        assert landed == {e["event_id"] for e in first} - {poison}

        started[0].process.kill()  # kill -9: no stop, no last commit
        started[0].process.wait(timeout=30)
        second = [valid_event("tryon", i, now) for i in range(300, 500)]
        metadata += produce(streams_settings,
                            [(topics.TRYON, key, json.dumps(e).encode()) for e in second])
        started.append(start_faulty(streams_settings, poison, 1, tmp_path / "logs"))
        wait_committed(streams_settings, group, end_offsets(metadata), 120,
                       abort=worker_exited(started[1:]))
        assert [d.offset for d in dead_letters(streams_settings)] == [poison_meta.offset]
        assert poison_count(started[1], "ingest") == 0  # committed past it: never met again
        landed = set(lake.read_dataset(streams_settings, TRYON, columns=["event_id"])["event_id"])
        assert landed == {e["event_id"] for e in first + second} - {poison}
        assert started[1].process.poll() is None
    finally:
        stop_workers(started)
        print(log_tail(started))
