"""The main job end to end (`glamcast demo`, what `make demo` runs).

Stages, each shown as it runs: start the local stack → create the topics → apply the Feast
repository → simulate the world into the broker (and its look catalogue into the lake) → read
the topics back and count what arrived → run a stream worker until it has committed every record
(validation, dead letters, Parquet lake, trend counts, features pushed to Feast) → train the
recommender → train the look GAN → forecast the trend terms → materialize the batch features
→ rank one person's feed as the API would.
Each stage is a function of `(settings, config, console, summary)` that adds rows to the closing
summary, so a stage joins the list without touching the others. Serving (`glamcast demo` without
`--no-serve`) starts after the summary, inside `live_streams`: a stream worker with every stage
(lake sink, features, feed updates) runs for as long as the demo serves, so an event posted to
the gateway (a tap in /mirror) reaches the lake, the person's online features and their feed,
and a live line every 10 s says how many events arrive and how fresh their features are.

Re-running is safe: the stack is reused when it is up, topic creation and `feast apply` are
idempotent, the simulator's event ids are deterministic (downstream dedup absorbs a second run),
and a second training run registers a new version that takes `champion` only when it wins.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from kafka import TopicPartition
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glamcast.core import topics
from glamcast.core.names import (
    CATALOG,
    COMMERCE,
    EVENT_ID_COL,
    SOCIAL,
    TREND_COUNTS,
    TRYON,
    TS_COL,
    USER_COL,
)
from glamcast.core.settings import Settings
from glamcast.platform import broker, lake, stack
from glamcast.platform.commands import build_config, run_spark_job
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.looks import write_looks_dataset
from glamcast.simulator.world import World
from glamcast.simulator.writers import simulate_to_kafka
from models.trend_forecast import TrendForecastConfig

if TYPE_CHECKING:
    from streams.worker import WorkerProcess


@dataclass(frozen=True)
class DemoConfig:
    """How big a world the demo simulates."""

    users: int = 2_000  # people in the simulated world
    days: int = 60  # simulated days, ending today
    seed: int = 7  # the world's seed
    recommender_epochs: int = 60  # torch factorization epochs (the job's default)
    gan_steps: int = 1_500  # look GAN generator steps
    forecast_term_types: tuple[str, ...] = ()  # () = every term type

    @classmethod
    def quick(cls) -> DemoConfig:
        """A first look in about three minutes: fewer people, shorter training, hashtags only.

        Sixty days still, because the forecast's backtest needs eight weeks of history."""
        return cls(users=300, days=60, recommender_epochs=20, gan_steps=300,
                   forecast_term_types=("hashtag",))

    @property
    def world(self) -> SimulationConfig:
        world = SimulationConfig(users=self.users, days=self.days, seed=self.seed)
        return replace(world, start=world.start_date)  # one start date for every stage


def forecast_model_config() -> TrendForecastConfig:
    """Prophet settings for the demo's two months of history.

    The job's defaults want 12 weeks of training before each of three 4-week backtest cutoffs
    (20 weeks in all); here a 2-week horizon, 4 weeks of training and cutoffs one week apart
    fit in 8 weeks, and the growth score compares the last two weeks with the four before."""
    return TrendForecastConfig(horizon=14, min_train_periods=28, cutoff_spacing=7,
                               recent_periods=14, baseline_periods=28)


@dataclass
class DemoSummary:
    """What the closing table shows: (stage, item, value) rows and seconds per stage."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    #: Next offset per (topic, partition) after the read-back: what the workers must commit.
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    #: The recommender's training cutoff: the ranker trains on requests after it.
    recommender_cutoff: str | None = None


Stage = Callable[[Settings, DemoConfig, Console, DemoSummary], None]


def start_stack(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    for part in stack.up(settings, on_event=lambda name, msg: console.print(f"  {name}: {msg}")):
        summary.rows.append(("stack", part.name, part.address or "-"))


def create_topics(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    outcome = broker.create_topics(settings)
    console.print("  " + ", ".join(f"{name} ({result})" for name, result in outcome.items()))


def apply_features(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from glamcast.platform.features import apply

    names = apply(settings)
    summary.rows.append(("features", f"Feast project {settings.feast_project}", f"{len(names)} objects applied"))


def simulate_world(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    world = config.world
    summary.sent = simulate_to_kafka(settings, world, progress=True)
    summary.rows.append(("simulate", "world", f"{config.users:,} people, {config.days} days, seed {config.seed}"))
    # The look catalogue is reference data (like a CMS export), written straight to the lake.
    write_looks_dataset(settings, World.build(world))
    summary.rows.append(("lake", "looks", f"{world.looks:,} curated looks"))


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
    """One stream worker until the lake sink has committed every record read back and, when
    the feature stage runs, that stage every try-on (so the online features are current when
    the stage ends, not only the lake)."""
    from streams.features import features_enabled, features_group
    from streams.ingestion import committed_offsets
    from streams.worker import start_workers, stop_workers

    drains = [("stream", None, summary.next_offsets)]
    if features_enabled(settings):
        tryon = settings.topic_name(topics.TRYON)
        drains.append(("features", features_group(settings),
                       {tp: end for tp, end in summary.next_offsets.items() if tp[0] == tryon}))
    workers = start_workers(settings, 1, loglevel="warn", log_dir=settings.state_path / "logs")
    console.print(f"  stream worker pid {workers[0].pid}, log {workers[0].log}")
    admin = broker.admin_client(settings)
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for name, group, ends in drains:
            target = sum(ends.values())
            with Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("drain", total=target)
                while True:
                    committed = committed_offsets(settings, admin, group)
                    done = sum(min(committed.get(tp, 0), end) for tp, end in ends.items())
                    progress.update(task, completed=done)
                    if done >= target:
                        break
                    if workers[0].process.poll() is not None:
                        raise RuntimeError(f"stream worker exited with "
                                           f"{workers[0].process.returncode}; see {workers[0].log}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"stream worker's {name} stage committed {done:,} of "
                                           f"{target:,} records in {DRAIN_TIMEOUT_S:.0f} s; see "
                                           f"{workers[0].log}")
                    time.sleep(0.5)
    finally:
        admin.close()
        stop_workers(workers)
    for dataset in (TRYON, SOCIAL, COMMERCE, CATALOG):
        rows = len(lake.read_dataset(settings, dataset, columns=[EVENT_ID_COL]))
        summary.rows.append(("lake", dataset, f"{rows:,} distinct events"))
    terms = lake.read_dataset(settings, TREND_COUNTS)
    summary.rows.append(("lake", TREND_COUNTS, f"{len(terms):,} (hour, term, source) rows"))
    dead = broker.count_records(settings, [settings.topic_name(topics.DLQ)], idle_ms=1500)
    summary.rows.append(("broker", "dead letters", f"{sum(dead.values()):,}"))


def train_recommender(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from jobs import train_recommender as job

    job_config = build_config(job.TrainRecommenderConfig,
                              {"source": "tryon", "torch.epochs": config.recommender_epochs})
    result = run_spark_job(
        settings, "train_recommender",
        lambda spark, on_progress: job.train_recommender(spark, settings, job_config,
                                                         on_progress=on_progress),
        gpu=True, keep_session=True, out=console)
    job.print_report(result, job_config, console)
    ndcg = job.metric_name("ndcg", job_config.k)
    for model, metrics in result.metrics.items():
        summary.rows.append(("recommender", f"{model} NDCG@{job_config.k}", f"{metrics[ndcg]:.3f}"))
    registration = result.registration  # the demo always registers
    verdict = "champion" if registration.promoted else "kept the earlier champion"
    summary.rows.append(("recommender", f"{registration.model_name} v{registration.version}",
                         f"{result.best}, {verdict}"))
    summary.recommender_cutoff = result.window.get("data.cutoff")


def train_ranker(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    """The feed's ranker on the days after the recommender's training cutoff (docs/ranker.md)."""
    from jobs import train_ranker as job

    start = pd.Timestamp(summary.recommender_cutoff).to_pydatetime() if summary.recommender_cutoff else None
    job_config = job.TrainRankerConfig(start=start, test_days=3, max_requests_per_day=150,
                                       ranker=job.fr.RankerConfig(n_estimators=150))
    result = run_spark_job(
        settings, "train_ranker",
        lambda spark, on_progress: job.train_ranker_job(spark, settings, job_config,
                                                        on_progress=on_progress),
        input_error=job.RankerInputError, keep_session=True, out=console)
    job.print_report(result, job_config, console)
    ndcg = job.metric_name("ndcg", job_config.k)
    for order, values in result.evaluation.items():
        summary.rows.append(("ranker", f"{order} NDCG@{job_config.k}", f"{values[ndcg]:.3f}"))
    registration = result.registration
    verdict = "champion" if registration.promoted else "kept the earlier champion"
    summary.rows.append(("ranker", f"{registration.model_name} v{registration.version}", verdict))


def train_look_gan(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from jobs import train_look_gan as job

    job_config = build_config(job.TrainLookGanConfig, {"gan.steps": config.gan_steps})
    result = run_spark_job(
        settings, "train_look_gan",
        lambda spark, on_progress: job.train_look_gan_job(spark, settings, job_config,
                                                          on_progress=on_progress),
        gpu=True, keep_session=True, out=console)
    # The job's per-condition table needs a wide terminal; `glamcast train look-gan` prints it.
    for name in ("precision", "recall", "novelty"):
        figures = {model: result.metrics[f"{model}.{name}"] for model in ("gan", "gaussian", "nearest")}
        line = ", ".join(f"{model} {value:.3f}" for model, value in figures.items())
        console.print(f"  held-out {name}: {line}")
        summary.rows.append(("look GAN", name, line))
    registration = result.registration  # the demo always registers
    verdict = "champion" if registration.promoted else "kept the earlier champion"
    summary.rows.append(("look GAN", f"{registration.model_name} v{registration.version}",
                         verdict))


def forecast_trends(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from glamcast.platform.model_registry import tracking_uri
    from jobs import forecast_trends as job

    job_config = job.ForecastTrendsConfig(model=forecast_model_config(),
                                          term_types=config.forecast_term_types, top_plots=3)
    result = run_spark_job(
        settings, "forecast_trends",
        lambda spark, on_progress: job.forecast_trends(spark, settings, job_config,
                                                       on_progress=on_progress),
        keep_session=True, out=console)
    job.print_report(result, console, tracking_uri=tracking_uri(settings))
    metrics = result.metrics
    terms = f"{int(metrics['n_forecast'])} forecast, {int(metrics['n_set_aside'])} set aside"
    summary.rows.append(("forecast", "terms", terms))
    for trend_class in ("breakout", "rising", "seasonal_spike"):
        terms = result.rising[result.rising["trend_class"] == trend_class]["term"].head(5)
        summary.rows.append(("forecast", trend_class.replace("_", " "), ", ".join(terms) or "none"))
    summary.rows.append(("forecast", "alerts", f"{len(result.alerts_sent)} new of {len(result.alerts)}"))


def materialize_features(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    from jobs.materialize import materialize

    result = materialize(settings)
    summary.rows.append(("features", "materialized", ", ".join(result.views) or "nothing"))


def show_sample_feed(settings: Settings, config: DemoConfig, console: Console, summary: DemoSummary) -> None:
    """The feed `GET /v1/feed/{user_id}` answers, for the person most active in the last week."""
    from glamcast.platform.feed_engine import sample_feed

    tryons = lake.read_dataset(settings, TRYON, columns=["user_id", TS_COL])
    last_week = tryons[tryons[TS_COL] > tryons[TS_COL].max() - pd.Timedelta(days=7)]
    user_id = str(last_week["user_id"].value_counts().index[0])
    feed = sample_feed(settings, user_id, k=5)
    table = Table(title=f"Feed of {user_id} (recommender v{feed.model_version}, "
                        f"{'personalized' if feed.personalized else 'trending'})")
    for column in ("item", "score", "reasons"):
        table.add_column(column)
    for item in feed.items:
        table.add_row(item.product_id or item.look_id or "-", f"{item.score:.2f}", "; ".join(item.reasons))
    console.print(table)
    answer = f"{len(feed.items)} items"
    if feed.items:
        first = feed.items[0]
        answer += f"; first {first.product_id or first.look_id}: {'; '.join(first.reasons)}"
    summary.rows.append(("feed", f"GET /v1/feed/{user_id}?k=5", answer))


STAGES: list[tuple[str, Stage]] = [
    ("start the local stack", start_stack),
    ("create topics", create_topics),
    ("apply the feature repository", apply_features),
    ("simulate the world into the broker", simulate_world),
    ("read the topics back", count_arrivals),
    ("stream into the lake and Feast", stream_into_lake),
    ("train the recommender", train_recommender),
    ("train the feed ranker", train_ranker),
    ("train the look GAN", train_look_gan),
    ("forecast trends", forecast_trends),
    ("materialize features", materialize_features),
    ("a sample feed", show_sample_feed),
]


def run_demo(settings: Settings, config: DemoConfig, console: Console) -> DemoSummary:
    """Run every stage in order; returns the summary (also printed)."""
    from pyspark.sql import SparkSession

    owns_spark = SparkSession.getActiveSession() is None  # leave a caller's session running
    summary = DemoSummary()
    try:
        for number, (title, stage) in enumerate(STAGES, start=1):
            console.rule(f"[bold]{number}/{len(STAGES)} {title}")
            started = time.monotonic()
            stage(settings, config, console, summary)
            summary.seconds[title] = time.monotonic() - started
    finally:
        active = SparkSession.getActiveSession()
        if owns_spark and active is not None:
            active.stop()
    add_endpoints(settings, summary)
    print_summary(summary, console)
    return summary


def add_endpoints(settings: Settings, summary: DemoSummary) -> None:
    """Where to look next: the service `glamcast serve` (and the demo, unless --no-serve) runs."""
    from glamcast.core.settings import DEV_API_KEYS, KeyScope
    from glamcast.platform.model_registry import tracking_uri

    base = f"http://{settings.api_host}:{settings.api_port}"
    summary.rows.append(("serve", "API docs (OpenAPI)", f"{base}/docs"))
    if settings.api_keys:  # the deployment's own keys: whoever holds a marketing key opens it
        summary.rows.append(("serve", "marketing dashboard", f"{base}/dashboard (a marketing key)"))
    else:  # the local dev keys: the browser asks for Basic credentials, the key is the password
        key = DEV_API_KEYS[KeyScope.MARKETING]
        summary.rows.append(("serve", "marketing dashboard",
                             f"{base}/dashboard (any user name, password {key})"))
    summary.rows.append(("serve", "MLflow UI", tracking_uri(settings)))


def print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title="Glamcast demo")
    for column in ("stage", "item", "value"):
        table.add_column(column)
    for row in summary.rows:
        table.add_row(*row)
    for title, seconds in summary.seconds.items():
        table.add_row("time", title, f"{seconds:.1f} s")
    console.print(table)


# --- serving live: the stream workers keep running while the demo serves ------------------------

#: Seconds between two lines of the live summary while the demo serves.
LIVE_EVERY_S = 10.0
#: Longest the live summary waits for a try-on event's features to be online before it counts
#: the event as stale (then it says so); a worker starting on a busy machine takes ~30-60 s.
FRESHNESS_GIVE_UP_S = 120.0


class LiveMonitor(threading.Thread):
    """The live line of a serving demo, every `every_s`: try-on events that arrived and the
    events the lake sink committed per second, and their freshness.

    Freshness is measured on the events themselves, none is injected: a consumer outside any group
    tails the try-on topic; for each event that arrived after the monitor started, the time from
    its broker timestamp (the gateway's produce time) to the first online read of its person's
    `last_event_ms` that includes it (polled every `poll_s`). An event older than its person's
    latest known one cannot be told apart this way; live taps carry the time they happen."""

    def __init__(self, settings: Settings, console: Console, workers: list[WorkerProcess], *,
                 every_s: float = LIVE_EVERY_S, poll_s: float = 0.05) -> None:
        super().__init__(name="glamcast-live", daemon=True)
        self.settings, self.console, self.workers = settings, console, workers
        self.every_s, self.poll_s = every_s, poll_s
        self.stop = threading.Event()
        self.started_at = time.time()
        self.pending: dict[str, tuple[float, int]] = {}  # user → (produced at, event ts ms)
        self.freshness: list[float] = []  # seconds, since the last line
        self.arrived = 0  # try-on events since the last line
        self.stale = 0  # events given up on since the last line
        self.lines: list[str] = []  # every line printed (tests read them)
        self.tail: Any = None  # the try-on topic's tail, placed by `start`
        self.idle = False  # the last line said nothing happened

    def start(self) -> None:
        """Place the tail at the topic's end now, before anything is posted, then run."""
        self.tail = broker.consumer(self.settings, group_id=None, auto_offset_reset="latest")
        name = self.settings.topic_name(topics.TRYON)
        partitions = [TopicPartition(name, p)
                      for p in sorted(self.tail.partitions_for_topic(name) or ())]
        self.tail.assign(partitions)
        self.tail.seek_to_end(*partitions)
        for partition in partitions:  # resolves the (lazy) seek here, not in the thread
            self.tail.position(partition)
        super().start()

    def run(self) -> None:
        from glamcast.platform.features import feature_store
        from streams.ingestion import committed_offsets

        admin = broker.admin_client(self.settings)
        tail = self.tail
        try:
            store = feature_store(self.settings)
            landed = sum(committed_offsets(self.settings, admin).values())
            last_line = time.monotonic()
            while not self.stop.is_set():
                self._read(tail)
                self._probe(store)
                if time.monotonic() - last_line >= self.every_s:
                    now_landed = sum(committed_offsets(self.settings, admin).values())
                    elapsed, last_line = time.monotonic() - last_line, time.monotonic()
                    self._line(elapsed, now_landed - landed)
                    landed = now_landed
                self.stop.wait(self.poll_s)
        except Exception as exc:  # noqa: BLE001 — the line is a report: serving goes on without it
            self.console.print(f"  live summary stopped: {type(exc).__name__}: {exc}")
        finally:
            tail.close()
            admin.close()

    def _read(self, tail: Any) -> None:
        for records in tail.poll(timeout_ms=0, max_records=10_000).values():
            for record in records:
                if record.timestamp / 1000 < self.started_at:  # before serving
                    continue
                try:
                    event = json.loads(record.value)
                    ts_ms = int(pd.Timestamp(event["ts"]).timestamp() * 1000)
                    user = str(event["user_id"])
                except (ValueError, KeyError, TypeError):  # the workers dead-letter it
                    continue
                self.arrived += 1
                known = self.pending.get(user)
                if known is None or ts_ms >= known[1]:  # the person's latest event counts
                    self.pending[user] = (known[0] if known else record.timestamp / 1000, ts_ms)

    def _probe(self, store: Any) -> None:
        if not self.pending:
            return
        users = list(self.pending)
        try:
            values = store.get_online_features(
                features=["user_activity_fv:last_event_ms"],
                entity_rows=[{USER_COL: user} for user in users]).to_dict()
        except sqlite3.OperationalError:  # the worker is writing (local SQLite): read again
            return
        now = time.time()
        for user, last_ms in zip(values[USER_COL], values["last_event_ms"], strict=True):
            produced, ts_ms = self.pending[user]
            if last_ms is not None and last_ms >= ts_ms:
                self.freshness.append(now - produced)
                del self.pending[user]
            elif now - produced > FRESHNESS_GIVE_UP_S:
                self.stale += 1
                del self.pending[user]

    def _line(self, elapsed: float, landed: int) -> None:
        dead = [w for w in self.workers if w.process.poll() is not None]
        line = (f"live: {self.arrived / elapsed:.1f} try-on events/s in, "
                f"{landed / elapsed:.1f} events/s into the lake")
        if self.freshness:
            p50, p95 = np.percentile(self.freshness, [50, 95])
            line += (f"; features online {p50:.2f} s (p50), {p95:.2f} s (p95) after arrival, "
                     f"{len(self.freshness)} people")
        if self.stale:
            line += f"; {self.stale} not online after {FRESHNESS_GIVE_UP_S:.0f} s"
        if dead:
            line += f"; stream worker exited ({dead[0].process.returncode}), see {dead[0].log}"
        idle = not (self.arrived or landed or self.freshness or self.stale or dead)
        self.freshness, self.arrived, self.stale = [], 0, 0
        if idle and self.idle:  # said once until something happens
            return
        self.idle = idle
        line = "live: idle, no events since the last line (workers running)" if idle else line
        self.lines.append(line)
        self.console.print(f"  {line}")


@contextmanager
def live_streams(settings: Settings, console: Console, *, every_s: float = LIVE_EVERY_S,
                 log_dir: Path | None = None) -> Iterator[LiveMonitor]:
    """Stream workers with every stage (lake sink, features, feed updates) and the live line,
    for as long as the demo serves: an event posted to the gateway (a tap in /mirror) reaches the
    lake, the person's features and their feed. Stops both on the way out (Ctrl-C)."""
    from streams.app import ensure_topics
    from streams.worker import start_workers, stop_workers

    live = settings.model_copy(update={"streams_ingest": True, "streams_features": True,
                                       "streams_feed": True})
    ensure_topics(live)
    workers = start_workers(live, 1, loglevel="warn", log_dir=log_dir or settings.state_path / "logs")
    console.print(f"  stream worker pid {workers[0].pid} (lake, features, feed) stays live while "
                  f"serving; log {workers[0].log}")
    monitor = LiveMonitor(live, console, workers, every_s=every_s)
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop.set()
        monitor.join(timeout=10)
        stop_workers(workers)
        console.print("  stream worker stopped")
