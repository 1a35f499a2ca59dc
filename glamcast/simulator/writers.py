"""Where the simulated records go: a Kafka cluster (optionally rate-limited) or files per topic.

In: an iterable of `Record`s (usually `World.records()`). Out: the records in Kafka or under a
directory, and the number written per topic. `simulate_to_kafka` and `simulate_to_files` are the
one-call entry points behind `glamcast simulate`; both also save the world's truth as Parquet.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from queue import Empty
from typing import BinaryIO, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from glamcast.core import topics
from glamcast.core.settings import Settings
from glamcast.platform import broker
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.records import Record
from glamcast.simulator.world import World

FileFormat = Literal["jsonl", "parquet"]
#: Fields holding timestamps, stored as Parquet timestamps rather than strings.
_TIME_FIELDS = ("ts", "event_time", "launched_at")
#: Records between progress-bar refreshes (refreshing per record would cost more than sending).
_PROGRESS_EVERY = 2_000
_MIN_SLEEP_S = 0.001
#: Cores needed before `simulate_to_kafka` generates in a separate process by default.
MIN_CORES_FOR_BACKGROUND = 4
TRUTH_DIR = "truth"


class TokenBucket:
    """Paces calls to `rate` per second on average, allowing bursts of `burst` calls."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 20)  # ≤ 50 ms of events
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> None:
        """Wait until one token is available and take it."""
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return
            # Sleep at least 1 ms: finer sleeps cost more than they pace; the bucket catches up.
            time.sleep(max(_MIN_SLEEP_S, (1.0 - self.tokens) / self.rate))


class KeyPartitioner:
    """The partition kafka-python's default partitioner would pick for a key, memoized.

    Same rule as the Java client (murmur2 of the key bytes, modulo the partition count), so
    records land where any Kafka client would put them; computing it once per (topic, key)
    instead of per record saves a pure-Python hash on every send (people send many events).
    """

    def __init__(self, producer: KafkaProducer, max_keys: int = 200_000) -> None:
        self.producer = producer
        self.max_keys = max_keys
        self.partitions: dict[str, list[int]] = {}
        self.cache: dict[tuple[str, bytes], int] = {}

    def __call__(self, topic: str, key: bytes) -> int:
        partition = self.cache.get((topic, key))
        if partition is None:
            partitions = self.partitions.get(topic)
            if partitions is None:
                partitions = self.partitions[topic] = sorted(self.producer.partitions_for(topic))
            partition = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
            if len(self.cache) >= self.max_keys:  # unique keys (post ids) must not pile up
                self.cache.clear()
            self.cache[(topic, key)] = partition
        return partition


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]simulate"), BarColumn(),
        TextColumn("{task.completed:,.0f} events"), TextColumn("{task.fields[speed]}"),
        TimeElapsedColumn(), disable=not enabled, transient=False,
    )


def write_to_kafka(
    records: Iterable[Record],
    producer: KafkaProducer,
    *,
    rate: float | None = None,
    progress: bool = False,
    total: int | None = None,
) -> dict[str, int]:
    """Send every record with `producer`; returns records sent per topic.

    Records go to the partition of their key under the default (murmur2) partitioner.

    `rate` caps the send rate in events per second (token bucket; None sends as fast as the
    producer takes them). Waits for every send to be acknowledged and raises if any failed.
    """
    failures: list[BaseException] = []
    counts: Counter[str] = Counter()
    bucket = TokenBucket(rate) if rate else None
    partition_of = KeyPartitioner(producer)
    every = _PROGRESS_EVERY if not rate else max(1, min(_PROGRESS_EVERY, int(rate / 5)))
    started = time.monotonic()
    with _progress(progress) as bar:
        task = bar.add_task("send", total=total, speed="")
        sent = 0
        for record in records:
            if bucket is not None:
                bucket.take()
            future = producer.send(record.topic, key=record.key, value=record.value,
                                   partition=partition_of(record.topic, record.key),
                                   timestamp_ms=record.timestamp_ms)
            future.add_errback(failures.append)
            counts[record.topic] += 1
            sent += 1
            if sent % every == 0:
                speed = sent / max(1e-9, time.monotonic() - started)
                bar.update(task, completed=sent, speed=f"{speed:,.0f}/s")
        producer.flush()
        bar.update(task, completed=sent, total=sent,
                   speed=f"{sent / max(1e-9, time.monotonic() - started):,.0f}/s")
    if failures:
        raise RuntimeError(f"{len(failures)} of {sent} records were not written; "
                           f"first error: {failures[0]!r}")
    return dict(counts)


def write_to_files(
    records: Iterable[Record], out_dir: Path, fmt: FileFormat = "jsonl"
) -> dict[str, int]:
    """Write one file per topic under `out_dir`; returns records written per topic.

    `jsonl`: ``<topic>.jsonl``, one event value per line, exactly the bytes Kafka would carry.
    `parquet`: ``<topic>.parquet``, one column per event field (timestamps as UTC timestamps,
    the face attributes as a struct).
    """
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"unknown format {fmt!r}; expected 'jsonl' or 'parquet'")
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        return _write_jsonl(records, out_dir)
    return _write_parquet(records, out_dir)


def _write_jsonl(records: Iterable[Record], out_dir: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with ExitStack() as files:
        handles: dict[str, BinaryIO] = {}
        for record in records:
            handle = handles.get(record.topic)
            if handle is None:
                path = out_dir / f"{record.topic}.jsonl"
                handle = handles[record.topic] = files.enter_context(open(path, "wb"))
            handle.write(record.value + b"\n")
            counts[record.topic] += 1
    return dict(counts)


def _write_parquet(records: Iterable[Record], out_dir: Path) -> dict[str, int]:
    rows: dict[str, list[dict]] = {}
    for record in records:
        rows.setdefault(record.topic, []).append(json.loads(record.value))
    for topic, events in rows.items():
        # Inferred over all rows (from_pylist would take the columns of the first row only).
        table = pa.Table.from_struct_array(pa.array(events))
        for name in _TIME_FIELDS:
            if name in table.column_names:
                index = table.column_names.index(name)
                table = table.set_column(
                    index, name, pc.cast(table[name], pa.timestamp("us", tz="UTC"))
                )
        pq.write_table(table, out_dir / f"{topic}.parquet")
    return {topic: len(events) for topic, events in rows.items()}


class SimulationFailed(RuntimeError):
    """The background simulation process failed; the message carries its traceback."""


def _generate_into(config: SimulationConfig, queue: multiprocessing.Queue) -> None:
    """Child process body: put each day's records on `queue`, then None (or the error)."""
    try:
        for batch in World.build(config).record_batches():
            queue.put(batch)
        queue.put(None)
    except Exception:  # noqa: BLE001 - handed to the parent, which re-raises it
        queue.put(SimulationFailed(traceback.format_exc()))


def records_in_background(config: SimulationConfig, *, days_ahead: int = 3) -> Iterator[Record]:
    """The records of `World.build(config).records()`, generated in a child process.

    On a machine with two or more cores the generation then overlaps with whatever consumes the
    records (the Kafka producer), instead of adding to it. At most `days_ahead` days of records
    wait in memory. The child is stopped if the consumer stops early.
    """
    config = replace(config, start=config.start_date)  # parent and child agree on the window
    context = multiprocessing.get_context("spawn")  # no fork of a process with client threads
    queue = context.Queue(maxsize=days_ahead)
    child = context.Process(target=_generate_into, args=(config, queue), daemon=True,
                            name="glamcast-simulate")
    child.start()
    try:
        while True:
            try:
                batch = queue.get(timeout=1.0)
            except Empty:
                if not child.is_alive():
                    raise SimulationFailed(f"simulation process exited with {child.exitcode}")
                continue
            if batch is None:
                break
            if isinstance(batch, SimulationFailed):
                raise batch
            yield from batch
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        queue.close()


def simulate_to_files(
    config: SimulationConfig, out_dir: Path, fmt: FileFormat = "jsonl"
) -> dict[str, int]:
    """Simulate `config` into ``out_dir`` (one file per topic, truth under ``out_dir/truth``)."""
    world = World.build(config)
    counts = write_to_files(world.records(), out_dir, fmt)
    world.save_truth(out_dir / TRUTH_DIR)
    return counts


def generate_in_background_by_default() -> bool:
    """Whether a separate generator process pays off here: only with cores to spare.

    The producer's sender takes about one core and a local broker more; on two cores a third
    busy process slows everything down (measured: 8.6k vs 10.8k events/s on a loaded 2-core box).
    """
    return len(os.sched_getaffinity(0)) >= MIN_CORES_FOR_BACKGROUND


def simulate_to_kafka(
    settings: Settings,
    config: SimulationConfig,
    *,
    rate: float | None = None,
    progress: bool = True,
    truth_dir: Path | None = None,
    background: bool | None = None,
) -> dict[str, int]:
    """Simulate `config` into the cluster of `settings` (topics created if missing); returns
    records sent per broker-side topic name (with `settings.topic_prefix`).

    The truth goes to `truth_dir`, by default ``<state_dir>/simulation/truth``. `background`
    generates in a child process, overlapping generation with sending; None decides by the
    number of cores (`generate_in_background_by_default`).
    """
    config = replace(config, start=config.start_date)
    world = World.build(config)
    world.save_truth(truth_dir or settings.state_path / "simulation" / TRUTH_DIR)
    broker.create_topics(settings, [replace(spec, name=settings.topic_name(spec.name))
                                    for spec in topics.TOPICS.values()])
    if background is None:
        background = generate_in_background_by_default()
    records = records_in_background(config) if background else world.records()
    producer = broker.producer(settings)
    try:
        return write_to_kafka(_with_topic_prefix(records, settings.topic_prefix), producer,
                              rate=rate, progress=progress)
    finally:
        records.close()
        producer.close()


def _with_topic_prefix(records: Iterator[Record], prefix: str) -> Iterator[Record]:
    """The records on the broker-side topic names (`Settings.topic_prefix`)."""
    if not prefix:
        return records
    return (record._replace(topic=prefix + record.topic) for record in records)
