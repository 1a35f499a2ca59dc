"""The main job end to end (`glamcast demo`, what `make demo` runs).

Stages, each shown as it runs: start the local stack → create the topics → simulate the world
into the broker → read the topics back and count what arrived. Each stage is a function of
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
from rich.table import Table

from glamcast import broker, stack, topics
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
    summary.arrived = broker.count_records(settings, topics.INPUT_TOPICS)
    for name in topics.INPUT_TOPICS:
        sent, arrived = summary.sent.get(name, 0), summary.arrived[name]
        summary.rows.append(("broker", name, f"{arrived:,} records (this run sent {sent:,})"))


STAGES: list[tuple[str, Stage]] = [
    ("start the local stack", start_stack),
    ("create topics", create_topics),
    ("simulate the world into the broker", simulate_world),
    ("read the topics back", count_arrivals),
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
