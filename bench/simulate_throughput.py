"""How fast `glamcast simulate` fills a broker, against a bare kafka-python producer loop.

Starts its own embedded broker on a temporary state dir, creates the topics, then measures:

- generate: the simulator producing N records (models validated and encoded), nothing sent;
- simulate: `write_to_kafka(rate=None)` of the same N records into the broker, generated in
  this process and in a child process (overlapping the sends); `simulate_to_kafka` picks the
  child process only with ≥ 4 cores, and its choice is the reported `simulate_per_s`;
- raw: a plain `producer.send` loop over the same N pre-encoded records (same topics, keys,
  value sizes and producer settings), the ceiling that the producer and broker allow.

Prints a table, then as its last line ``RESULT {"simulate_per_s": ..., "raw_per_s": ...,
"ratio": ...}`` with ratio = simulate / raw. Usage:

    .venv/bin/python bench/simulate_throughput.py [--events 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import date
from itertools import islice
from pathlib import Path

from rich.console import Console
from rich.table import Table

from glamcast.core.settings import Settings
from glamcast.platform import broker, stack
from glamcast.simulator import Record, SimulationConfig, World
from glamcast.simulator.writers import (
    generate_in_background_by_default,
    records_in_background,
    write_to_kafka,
)

#: A world large enough for 200k records (≈ 420k over 60 days × 2,000 people).
CONFIG = SimulationConfig(users=2_000, days=60, start=date(2025, 1, 6), seed=7)
WARM_UP_RECORDS = 5_000


def _records(events: int) -> list[Record]:
    records = list(islice(World.build(CONFIG).records(), events))
    if len(records) < events:
        raise SystemExit(f"the bench world has only {len(records)} records; ask for fewer")
    return records


def measure_generate(events: int) -> tuple[float, list[Record]]:
    started = time.perf_counter()
    records = _records(events)
    return time.perf_counter() - started, records


def measure_simulate(settings: Settings, events: int, *, background: bool) -> float:
    """Seconds to build the world and write `events` records, the way `simulate_to_kafka` does
    (generation in a child process) or all in this process."""
    producer = broker.producer(settings)
    started = time.perf_counter()
    source = records_in_background(CONFIG) if background else World.build(CONFIG).records()
    try:
        counts = write_to_kafka(islice(source, events), producer, rate=None, progress=False)
        elapsed = time.perf_counter() - started
    finally:
        source.close()  # stops the child process when it is still ahead
        producer.close()
    assert sum(counts.values()) == events, counts
    return elapsed


def measure_raw(settings: Settings, records: list[Record]) -> float:
    producer = broker.producer(settings)
    try:
        started = time.perf_counter()
        for record in records:
            producer.send(record.topic, key=record.key, value=record.value)
        producer.flush()
        return time.perf_counter() - started
    finally:
        producer.close()


def warm_up(settings: Settings, records: list[Record]) -> None:
    """Connections, metadata and the broker's first allocations, outside the timed runs."""
    measure_raw(settings, records[:WARM_UP_RECORDS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="records per measurement")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory(prefix="glamcast-bench-") as state_dir:
        # Only the broker is needed: a placeholder tracking URI keeps `up` from starting MLflow.
        settings = Settings(state_dir=Path(state_dir), mlflow_tracking_uri="http://127.0.0.1:9")
        stack.up(settings)
        try:
            broker.create_topics(settings)
            generate_s, records = measure_generate(args.events)
            warm_up(settings, records)
            inline_s = measure_simulate(settings, args.events, background=False)
            background_s = measure_simulate(settings, args.events, background=True)
            raw_s = measure_raw(settings, records)
        finally:
            stack.down(settings)

    mean_bytes = sum(len(r.value) for r in records) / len(records)
    # What `simulate_to_kafka` does on this machine is the figure that counts.
    background = generate_in_background_by_default()
    simulate_s = background_s if background else inline_s
    rows = [("generate only (no broker)", generate_s),
            ("simulate → broker, one process" + ("" if background else " (default here)"),
             inline_s),
            ("simulate → broker, generator process" + (" (default here)" if background else ""),
             background_s),
            ("raw producer loop", raw_s)]
    cores = len(os.sched_getaffinity(0))
    table = Table(title=f"simulate throughput: {args.events:,} records, mean value "
                        f"{mean_bytes:.0f} B, embedded Tansu broker, {cores} cores, "
                        f"load average {os.getloadavg()[0]:.1f}")
    for column in ("phase", "seconds", "events/s"):
        table.add_column(column, justify="right" if column != "phase" else "left")
    for phase, seconds in rows:
        table.add_row(phase, f"{seconds:.2f}", f"{args.events / seconds:,.0f}")
    console.print(table)
    simulate_per_s, raw_per_s = args.events / simulate_s, args.events / raw_s
    print("RESULT " + json.dumps({
        "simulate_per_s": round(simulate_per_s, 1),
        "raw_per_s": round(raw_per_s, 1),
        "ratio": round(simulate_per_s / raw_per_s, 3),
    }))


if __name__ == "__main__":
    main()
