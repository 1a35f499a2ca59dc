"""How fast the stream workers validate and land events, against a raw consumer and a naive agent.

Starts its own embedded broker on a temporary state dir, fills the try-on topic with N records
from the simulator (plus 1 % malformed ones, of several rejection reasons), then reads that same
topic three ways:

- (a) raw: a bare aiokafka consumer that only reads the records (the ceiling the broker and
  client allow);
- (b) naive: a Faust agent that does the same validation and lake sink one event at a time,
  `async for event in stream:` → `decode_event` → a one-row Parquet file (or a dead letter sent
  and awaited) — what most Faust code looks like. It runs for `--naive-seconds`; its files are
  written without fsync, which flatters it;
- (c) glamcast: one real worker process (`streams.worker.start_workers`), timed from its first
  commit to the commit of the last record, so that start-up and the group join are left out.
  Its batches validate, write atomic fsynced Parquet files, send dead letters, count trends and
  commit.

Prints a table and the ratios c/a and c/b, then as its last line
``RESULT {"raw_per_s": ..., "naive_per_s": ..., "glamcast_per_s": ..., ...}``; the extra keys
are the ratios, ``glamcast_per_cpu_s`` (events per second of the worker's own CPU time: its
rate with a core to itself, whatever else the machine runs) and the load average. Usage:

    .venv/bin/python bench/stream_throughput.py [--events 200000] [--naive-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from glamcast.core import topics
from glamcast.core.names import TRYON
from glamcast.core.settings import Settings, get_settings
from glamcast.platform import broker, lake, stack

NAIVE_APP_ID = "bench-naive"
GLAMCAST_APP_ID = "bench-glamcast"
BAD_EVERY = 100  # one malformed record per this many
BAD_RECORDS = (
    b"not json at all",
    b"\xff\xfe\x00 not utf-8",
    b'{"event_id": "x"}',  # missing fields
    (
        b'{"event_id":"b1","ts":"2025-01-06T10:00:00Z","user_id":"u","session_id":"s","action":'
        b'"try_on","product_id":"p","category":"lipstick","shade_hex":"#12345","finish":"matte",'
        b'"dwell_ms":5,"platform":"ios","app_version":"1"}'
    ),  # bad shade
)


# --- input ---------------------------------------------------------------------------------------


def tryon_values(events: int, days: int) -> list[bytes]:
    """`events` try-on record values from the simulator, from a world whose people make about
    that many over `days` days (about two try-on events per person and day)."""
    from glamcast.simulator import SimulationConfig, World

    users = max(200, int(events / (2.0 * days) * 1.15))
    world = World.build(SimulationConfig(users=users, days=days, start=date(2025, 1, 6), seed=11))
    values = []
    for record in world.records():
        if record.topic == topics.TRYON:
            values.append(record.value)
            if len(values) == events:
                return values
    raise SystemExit(f"the bench world has only {len(values)} try-on records; ask for fewer")


def fill_topic(settings: Settings, values: list[bytes]) -> int:
    """Produce the values (with malformed ones mixed in) to the try-on topic; returns the count."""
    producer = broker.producer(settings, linger_ms=20, batch_size=1024 * 1024)
    topic = settings.topic_name(topics.TRYON)
    sent = 0
    for index, value in enumerate(values):
        if index % BAD_EVERY == BAD_EVERY - 1:
            producer.send(
                topic, key=b"bad", value=BAD_RECORDS[index // BAD_EVERY % len(BAD_RECORDS)]
            )
            sent += 1
        producer.send(topic, key=str(index % 997).encode(), value=value)
        sent += 1
    producer.flush()
    producer.close()
    return sent


# --- (a) raw consumer ---------------------------------------------------------------------------


async def _read_all(settings: Settings, total: int) -> float:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = settings.topic_name(topics.TRYON)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap_servers(settings),
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got, first = 0, None
        while got < total:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for records in fetched.values():
                if first is None and records:
                    first = time.perf_counter()
                got += len(records)
        assert first is not None
        return time.perf_counter() - first
    finally:
        await consumer.stop()


def measure_raw(settings: Settings, total: int) -> float:
    return total / asyncio.run(_read_all(settings, total))


# --- (b) naive Faust agent ----------------------------------------------------------------------


def naive_worker(seconds: float, total: int, result_path: Path) -> None:
    """Run the naive agent in this process (a Faust worker) and write its rate to `result_path`."""
    import pyarrow.parquet as pq

    from glamcast.core.events import Rejection, TryOnEvent, decode_event
    from streams.app import create_app
    from streams.validated_events import dead_letter, dead_letter_value

    settings = get_settings()
    app = create_app(settings, web_enabled=False)
    source = settings.topic_name(topics.TRYON)
    dlq = settings.topic_name(topics.DLQ)
    topic = app.topic(
        source, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    root = Path(settings.lake_root)
    state = {"count": 0, "first": 0.0, "done": False}

    @app.agent(topic)
    async def naive(stream):
        async for event in stream.events():
            message = event.message
            now = datetime.now(UTC)
            outcome = decode_event(TryOnEvent, event.value, now=now)
            if isinstance(outcome, Rejection):
                letter = dead_letter(
                    source, message.partition, message.offset, event.value, outcome, now
                )
                await app.producer.send_and_wait(
                    dlq,
                    source.encode(),
                    dead_letter_value(letter),
                    partition=None,
                    timestamp=None,
                    headers=None,
                )
            else:
                table = lake.table_from_events(
                    TRYON, [outcome], partition=message.partition, offsets=[message.offset]
                )
                directory = root / lake.partition_dir(TRYON, outcome.ts.astimezone(UTC).date())
                directory.mkdir(parents=True, exist_ok=True)
                name = lake.batch_file_name(
                    source, message.partition, message.offset, message.offset
                )
                pq.write_table(table, directory / name)
            state["count"] += 1
            if state["count"] == 1:
                state["first"] = time.perf_counter()
            elapsed = time.perf_counter() - state["first"]
            if not state["done"] and (elapsed >= seconds or state["count"] >= total):
                state["done"] = True
                result_path.write_text(json.dumps({"events": state["count"], "seconds": elapsed}))

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


def measure_naive(
    settings: Settings, seconds: float, total: int, workdir: Path
) -> tuple[float, int]:
    from streams.worker import settings_env

    naive_settings = settings.model_copy(
        update={"streams_app_id": NAIVE_APP_ID, "lake_uri": str(workdir / "lake-naive")}
    )
    result = workdir / "naive.json"
    env = {**os.environ, **settings_env(naive_settings)}
    with open(workdir / "naive.log", "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--naive-worker",
                "--naive-seconds",
                str(seconds),
                "--events",
                str(total),
                "--result",
                str(result),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + seconds + 120
            while not result.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"naive worker failed; see {workdir / 'naive.log'}")
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=60)
    outcome = json.loads(result.read_text())
    return outcome["events"] / outcome["seconds"], outcome["events"]


# --- (c) the Glamcast worker --------------------------------------------------------------------


def measure_glamcast(settings: Settings, total: int, workdir: Path) -> tuple[float, float]:
    """Events/s of one worker process from its first commit to its last, and events per second
    of that process's CPU time over the same span (what it would do with a core to itself)."""
    import psutil

    from streams.ingestion import committed_offsets
    from streams.worker import start_workers, stop_workers

    worker_settings = settings.model_copy(
        update={"streams_app_id": GLAMCAST_APP_ID, "lake_uri": str(workdir / "lake-glamcast")}
    )
    workers = start_workers(worker_settings, 1, loglevel="warn", log_dir=workdir)
    process = psutil.Process(workers[0].pid)
    admin = broker.admin_client(settings)
    topic = settings.topic_name(topics.TRYON)
    try:
        first: tuple[float, float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if workers[0].process.poll() is not None:
                raise SystemExit(f"glamcast worker exited; see {workers[0].log}")
            offsets = committed_offsets(worker_settings, admin)
            committed = sum(offset for (name, _), offset in offsets.items() if name == topic)
            now, cpu = time.perf_counter(), sum(process.cpu_times()[:2])
            if committed and first is None:
                first = (now, cpu, committed)
            if committed >= total:
                assert first is not None
                if committed == first[2]:
                    raise SystemExit("the whole topic landed in one batch; ask for more --events")
                events = committed - first[2]
                return events / (now - first[0]), events / (cpu - first[1])
            time.sleep(0.1)
        raise SystemExit("the glamcast worker did not finish within 600 s")
    finally:
        admin.close()
        stop_workers(workers)


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="valid try-on records")
    parser.add_argument(
        "--days",
        type=int,
        default=2,
        help="days the events span (2: a live stream, each batch within a date; "
        "60: a sparse backfill, each batch over many dates and files)",
    )
    parser.add_argument(
        "--naive-seconds", type=float, default=20.0, help="how long the naive agent runs"
    )
    parser.add_argument("--naive-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        naive_worker(args.naive_seconds, args.events, args.result)
        return

    console = Console()
    with tempfile.TemporaryDirectory(prefix="glamcast-bench-") as state_dir:
        workdir = Path(state_dir)
        # Only the broker is needed: a placeholder tracking URI keeps `up` from starting MLflow.
        settings = Settings(
            state_dir=workdir,
            mlflow_tracking_uri="http://127.0.0.1:9",
            topic_prefix="bench.",
            streams_web_port=0,
        )
        stack.up(settings)
        try:
            from streams.app import ensure_topics

            ensure_topics(settings)
            console.print(f"generating {args.events:,} try-on records with the simulator ...")
            values = tryon_values(args.events, args.days)
            total = fill_topic(settings, values)
            console.print(f"produced {total:,} records ({total - args.events:,} malformed)")
            raw = measure_raw(settings, total)
            console.print(f"(a) raw consumer: {raw:,.0f} events/s")
            naive, naive_events = measure_naive(settings, args.naive_seconds, total, workdir)
            console.print(f"(b) naive agent: {naive:,.0f} events/s over {naive_events:,} events")
            glamcast, per_cpu_s = measure_glamcast(settings, total, workdir)
            console.print(
                f"(c) glamcast worker: {glamcast:,.0f} events/s "
                f"({per_cpu_s:,.0f} per second of its CPU time)"
            )
            load = os.getloadavg()[0]  # other work on the machine slows every reader
            landed = len(
                lake.read_dataset(str(workdir / "lake-glamcast"), TRYON, columns=["event_id"])
            )
            if landed != args.events:
                raise SystemExit(
                    f"the glamcast lake holds {landed} try-ons, expected {args.events}"
                )
        finally:
            stack.down(settings)

    table = Table(
        title=f"stream throughput: {total:,} try-on records ({total - args.events:,} "
        "malformed), one topic of 8 partitions, embedded Tansu broker"
    )
    for column in ("reader", "events/s", "glamcast ÷ this"):
        table.add_column(column, justify="left" if column == "reader" else "right")
    table.add_row("(a) raw aiokafka consumer, read only", f"{raw:,.0f}", f"{glamcast / raw:.2f}")
    table.add_row(
        "(b) naive Faust agent, one event at a time", f"{naive:,.0f}", f"{glamcast / naive:.1f}"
    )
    table.add_row("(c) glamcast worker (1 process)", f"{glamcast:,.0f}", "1.00")
    table.add_row("    per second of the worker's CPU time", f"{per_cpu_s:,.0f}", "")
    console.print(table)
    console.print(f"c/a = {glamcast / raw:.3f}   c/b = {glamcast / naive:.1f}   load {load:.1f}")
    print(
        "RESULT "
        + json.dumps(
            {
                "raw_per_s": round(raw, 1),
                "naive_per_s": round(naive, 1),
                "glamcast_per_s": round(glamcast, 1),
                "glamcast_over_raw": round(glamcast / raw, 3),
                "glamcast_over_naive": round(glamcast / naive, 1),
                "glamcast_per_cpu_s": round(per_cpu_s, 1),
                "load_average": round(load, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
