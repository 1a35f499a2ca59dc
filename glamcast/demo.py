"""The main job end to end (`glamcast demo`, what `make demo` runs).

Stages, each shown as it runs: start the local stack → create the topics → simulate the world
into the broker → read the topics back and count what arrived → run a stream worker until it
has committed every record (validation, dead letters, Parquet lake, trend counts). Each stage is a function of
`(settings, config, console)` returning rows for the closing summary, so later stages (stream
workers, features, training, forecasts, serving) join the list without touching the others.
Re-running is safe: the stack is reused when it is up, topic creation is idempotent, and the
simulator's event ids are deterministic, so downstream dedup absorbs a second run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glamcast import broker, lake, stack, topics
from glamcast.settings import Settings
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.writers import simulate_to_kafka


@dataclass(frozen=True)
class DemoConfig:
    """How big a world the demo simulates."""

    users: int = 2_000  # people in the simulated world
    days: int = 60  # simulated days, ending today
    seed: int = 7  # the world's seed

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(users=300, days=14)


@dataclass
class DemoSummary:
    """What the closing table shows: (stage, item, value) rows and seconds per stage."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    #: Next offset per (topic, partition) after the read-back: what the workers must commit.
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)


Stage = Callable[[Settings, DemoConfig, Console, DemoSummary], None]


def start_stack(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    for part in stack.up(settings, on_event=lambda name, msg: console.print(f"  {name}: {msg}")):
        summary.rows.append(("stack", part.name, part.address or "-"))


def create_topics(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    outcome = broker.create_topics(settings)
    console.print("  " + ", ".join(f"{name} ({result})" for name, result in outcome.items()))


def simulate_world(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    world = SimulationConfig(users=config.users, days=config.days, seed=config.seed)
    summary.sent = simulate_to_kafka(settings, world, progress=True)
    summary.rows.append(("simulate", "world", f"{config.users:,} people, {config.days} days, seed {config.seed}"))


def count_arrivals(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    names = [settings.topic_name(name) for name in topics.INPUT_TOPICS]
    summary.arrived = dict.fromkeys(names, 0)
    for record in broker.read_all(settings, names):
        summary.arrived[record.topic] += 1
        position = (record.topic, record.partition)
        summary.next_offsets[position] = max(summary.next_offsets.get(position, 0), record.offset + 1)
    for name in names:
        sent, arrived = summary.sent.get(name, 0), summary.arrived[name]
        summary.rows.append(("broker", name, f"{arrived:,} records (this run sent {sent:,})"))


#: Longest the demo waits for the stream worker to commit every record.
DRAIN_TIMEOUT_S = 900.0


def stream_into_lake(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from streams.ingestion import committed_offsets
    from streams.worker import start_workers, stop_workers

    target = sum(summary.next_offsets.values())
    workers = start_workers(settings, 1, loglevel="warn", log_dir=settings.state_path / "logs")
    console.print(f"  stream worker pid {workers[0].pid}, log {workers[0].log}")
    admin = broker.admin_client(settings)
    try:
        with Progress(TextColumn("[bold]stream"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("drain", total=target)
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while True:
                committed = committed_offsets(settings, admin)
                done = sum(min(committed.get(tp, 0), end) for tp, end in summary.next_offsets.items())
                progress.update(task, completed=done)
                if done >= target:
                    break
                if workers[0].process.poll() is not None:
                    raise RuntimeError(f"stream worker exited with {workers[0].process.returncode}; "
                                       f"see {workers[0].log}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stream worker committed {done:,} of {target:,} records "
                                       f"in {DRAIN_TIMEOUT_S:.0f} s; see {workers[0].log}")
                time.sleep(0.5)
    finally:
        admin.close()
        stop_workers(workers)
    for dataset in (lake.TRYON, lake.SOCIAL, lake.COMMERCE, lake.CATALOG):
        rows = len(lake.read_dataset(settings, dataset, columns=[lake.EVENT_ID_COL]))
        summary.rows.append(("lake", dataset, f"{rows:,} distinct events"))
    terms = lake.read_dataset(settings, lake.TREND_COUNTS)
    summary.rows.append(("lake", lake.TREND_COUNTS, f"{len(terms):,} (hour, term, source) rows"))
    dead = broker.count_records(settings, [settings.topic_name(topics.DLQ)], idle_ms=1500)
    summary.rows.append(("broker", "dead letters", f"{sum(dead.values()):,}"))


STAGES: list[tuple[str, Stage]] = [
    ("start the local stack", start_stack),
    ("create topics", create_topics),
    ("simulate the world into the broker", simulate_world),
    ("read the topics back", count_arrivals),
    ("stream into the lake", stream_into_lake),
]


def run_demo(settings: Settings, config: DemoConfig, console: Console) -> DemoSummary:
    """Run every stage in order; returns the summary (also printed)."""
    summary = DemoSummary()
    for number, (title, stage) in enumerate(STAGES, start=1):
        console.rule(f"[bold]{number}/{len(STAGES)} {title}")
        started = time.monotonic()
        stage(settings, config, console, summary)
        summary.seconds[title] = time.monotonic() - started
    print_summary(summary, console)
    return summary


def print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title="Glamcast demo")
    for column in ("stage", "item", "value"):
        table.add_column(column)
    for row in summary.rows:
        table.add_row(*row)
    for title, seconds in summary.seconds.items():
        table.add_row("time", title, f"{seconds:.1f} s")
    console.print(table)
