"""Hostile input: generated hostile requests and records against a running platform; nothing may
answer 5xx, crash, or lose a valid event.

Builds its own platform on a temporary state dir: the embedded stack (broker + MLflow), the
topics, `glamcast serve` (one uvicorn process) and one stream worker (`python -m streams`), as a
user runs them. Then, per seed:

- the hostile cases of `glamcast.simulator.hostile_events` (poison integers in every integer
  field of every kind, NaN/Infinity, nesting 10,000 deep as body / field / array item / NDJSON
  line, oversized strings and lists, non-UTF-8, scalars) and `--fuzz` random mutations of valid
  events, with `--valid` valid events mixed in, are POSTed to `/v1/events/{kind}` with an ingest
  key: every answer is counted by status class, with its latency;
- the same bodies and valid events are produced straight onto the input topics (what a broken
  producer behind the gateway sends).

After the worker has committed every record: each event the gateway accepted (202, minus its
item errors) and each record the validator accepts must be in the lake (`lost_valid` counts
those that are not), every other record must be a dead letter, the server must never have
answered 5xx or dropped a connection (`five_xx`), and the worker must still run
(`worker_crashes`). The reference in the same run: the latency of a valid request; the ratio says
what refusing hostile input costs against accepting an event.

Prints a table, then ``RESULT {"requests", "records", "four_xx", "five_xx", "dead_letters",
"worker_crashes", "lost_valid", "hostile_ms_p50", "valid_ms_p50", "hostile_vs_valid"}``.
Usage: ``.venv/bin/python bench/hostile_input.py [--seeds 1,2,3] [--fuzz 1500] [--valid 300]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def wait_ready(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /healthz within {timeout_s} s")


def accepted_ids(body: bytes, content_type: str, kind: str, answer: dict) -> set[str]:
    """Event ids of the items a 202 answer accepted (every item but those in `errors`)."""
    from glamcast.core.events import Rejection, decode_event
    from glamcast.serving.ingest import split_items
    from glamcast.simulator.hostile_events import KINDS

    refused = {error["index"] for error in answer.get("errors", [])}
    ids = set()
    for index, raw in enumerate(split_items(body, content_type)):
        if index not in refused:
            event = decode_event(KINDS[kind], raw)
            assert not isinstance(event, Rejection), (index, event)
            ids.add(event.event_id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--fuzz", type=int, default=1500, help="fuzzed bodies per seed")
    parser.add_argument("--valid", type=int, default=300, help="valid events per seed")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from glamcast.core import topics
    from glamcast.core.events import Rejection, decode_event
    from glamcast.core.settings import DEV_API_KEYS, KeyScope, Settings
    from glamcast.platform import broker, lake, stack
    from glamcast.simulator.hostile_events import KINDS, fuzzed_cases, hostile_cases, valid_event
    from streams.app import ensure_topics
    from streams.ingestion import committed_offsets, input_topics
    from streams.worker import settings_env, start_workers, stop_workers

    console = Console()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    statuses: Counter[str] = Counter()
    latency: dict[str, list[float]] = {"hostile": [], "valid": []}
    expected_ids: set[str] = set()
    records = dead_expected = 0
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as scratch:
        settings = Settings(
            state_dir=Path(scratch) / "state", kafka_port=0, mlflow_port=0,
            api_port=stack.free_port(), streams_web_port=0, api_ingest_rate_per_s=1e6,
            api_ingest_burst=1_000_000, streams_flush_s=0.5,
        )
        console.print("starting the embedded stack, the API and a stream worker …")
        stack.up(settings)
        ensure_topics(settings)
        url = f"http://127.0.0.1:{settings.api_port}"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GLAMCAST_")},
               **settings_env(settings)}
        server = workers = None
        try:
            with open(Path(scratch) / "api.log", "wb") as api_log:
                server = subprocess.Popen(
                    [sys.executable, "-m", "glamcast.cli", "serve", "--port",
                     str(settings.api_port)], env=env, stdout=subprocess.DEVNULL, stderr=api_log)
            workers = start_workers(settings, 1, log_dir=Path(scratch) / "logs")
            wait_ready(url)
            headers = {"X-API-Key": DEV_API_KEYS[KeyScope.INGEST]}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                for seed in seeds:
                    rng = random.Random(seed)
                    now = datetime.now(UTC)
                    cases = hostile_cases(now) + fuzzed_cases(rng, args.fuzz, now)
                    valid = [(kind, valid_event(kind, seed * 10_000_000 + i, now))
                             for i, kind in enumerate(rng.choices(list(KINDS), k=args.valid))]
                    mixed = [("hostile", case.kind, case.body, case.content_type) for case in cases]
                    mixed += [("valid", kind, json.dumps(event).encode(), "application/json")
                              for kind, event in valid]
                    rng.shuffle(mixed)
                    console.print(f"seed {seed}: {len(mixed)} requests and records …")
                    produced = []
                    for label, kind, body, content_type in mixed:
                        started = time.perf_counter()
                        try:
                            answer = client.post(f"/v1/events/{kind}", content=body,
                                                 headers={"Content-Type": content_type})
                        except httpx.HTTPError as exc:  # a dropped connection is a failure too
                            statuses[f"error {type(exc).__name__}"] += 1
                            continue
                        latency[label].append(time.perf_counter() - started)
                        statuses[f"{answer.status_code // 100}xx"] += 1
                        statuses[str(answer.status_code)] += 1
                        if answer.status_code == 202:
                            expected_ids |= accepted_ids(body, content_type, kind, answer.json())
                        topic = KINDS[kind].TOPIC
                        produced.append((topic, body))
                        outcome = decode_event(KINDS[kind], body, now=datetime.now(UTC),
                                               max_bytes=settings.max_event_bytes)
                        if isinstance(outcome, Rejection):
                            dead_expected += 1
                        else:
                            expected_ids.add(outcome.event_id)
                    producer = broker.producer(settings, linger_ms=20)
                    for topic, body in produced:
                        producer.send(settings.topic_name(topic), value=body)
                    producer.flush()
                    producer.close()
                    records += len(produced)

            console.print("waiting for the worker to commit every record …")
            ends = {}
            consumer = broker.consumer(settings, group_id=None)
            try:
                from kafka import TopicPartition

                partitions = [TopicPartition(topic, p) for topic in input_topics(settings)
                              for p in consumer.partitions_for_topic(topic) or ()]
                ends = {(tp.topic, tp.partition): offset
                        for tp, offset in consumer.end_offsets(partitions).items() if offset}
            finally:
                consumer.close()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                committed = committed_offsets(settings)
                if all(committed.get(where, 0) >= end for where, end in ends.items()):
                    break
                if any(worker.process.poll() is not None for worker in workers):
                    break
                time.sleep(0.5)
            crashes = sum(worker.process.poll() is not None for worker in workers)
            landed: set[str] = set()
            for model in KINDS.values():
                dataset = lake.TOPIC_DATASETS[model.TOPIC]
                frame = lake.read_dataset(settings, dataset, columns=["event_id"])
                landed |= set(frame["event_id"])
            dead = sum(1 for _ in broker.read_all(
                settings, [settings.topic_name(topics.DLQ)], idle_ms=2000))
            server_alive = server.poll() is None
        finally:
            if workers:
                stop_workers(workers)
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            stack.down(settings)

    lost = len(expected_ids - landed)
    five_xx = statuses["5xx"] + sum(n for status, n in statuses.items() if status.startswith("error"))
    five_xx += 0 if server_alive else 1
    hostile_ms = float(np.median(latency["hostile"]) * 1000)
    valid_ms = float(np.median(latency["valid"]) * 1000)
    table = Table(title=f"hostile input, seeds {args.seeds}: gateway answers and stream outcomes")
    table.add_column("what")
    table.add_column("count", justify="right")
    for status, count in sorted(statuses.items()):
        table.add_row(f"HTTP {status}", str(count))
    table.add_row("records produced straight to the topics", str(records))
    table.add_row("dead letters (expected ≥)", f"{dead} ({dead_expected})")
    table.add_row("valid events expected in the lake", str(len(expected_ids)))
    table.add_row("valid events lost", str(lost))
    table.add_row("worker crashes", str(crashes))
    table.add_row("median ms: hostile / valid request", f"{hostile_ms:.2f} / {valid_ms:.2f}")
    console.print(table)
    result = {
        "requests": sum(n for status, n in statuses.items() if status.endswith("xx"))
        + sum(n for status, n in statuses.items() if status.startswith("error")),
        "records": records,
        "four_xx": statuses["4xx"],
        "five_xx": five_xx,
        "dead_letters": dead,
        "worker_crashes": crashes,
        "lost_valid": lost,
        "hostile_ms_p50": round(hostile_ms, 3),
        "valid_ms_p50": round(valid_ms, 3),
        "hostile_vs_valid": round(hostile_ms / valid_ms, 3),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
