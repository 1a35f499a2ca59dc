"""Feature freshness: a try-on event produced → its user's features visible in the online store.

Starts its own embedded broker on a temporary state dir, applies the Feast repository, starts one
stream worker with the feature stage (and the lake sink; the feed stage only with `--feed`; with
`--split` the lake sink runs in a second worker process), and
produces try-on events at a sustained `--rate` (default 2,000/s) for `--seconds` (default 60)
from 5,000 background users. Every `--probe-ms`
one of those events belongs to a new probe user; a poller thread reads the probe users'
``last_event_ms`` with `get_online_features` every 10 ms (one call for all pending probes) and
records, per probe, the time from just before `send` to the first read that sees it. The
producer lingers 5 ms (batches), so that is included.

`--stores sqlite,redis` runs once per online store (`GLAMCAST_FEAST_ONLINE_STORE`): ``sqlite``
is the `local` profile's (`glamcast.platform.sqlite_online_store`), ``redis`` the `prod` profile's
(Feast's Redis store at `--redis-url`, a Feast project of its own whose keys are deleted
afterwards), everything else local.

Prints a table, one row per store, then as its last line ``RESULT {"rate_per_s": ...,
"p50_ms": ..., "p95_ms": ..., "p99_ms": ..., ..., "stores": {"sqlite": {...}, "redis": {...}}}``:
the top-level figures are the first store's; per store, the achieved produce rate, freshness
percentiles over the probes, probes never seen within 10 s after the run (``missing``), the
events the feature stage had pushed and committed by then, the worker's CPU seconds and pushed
events per worker CPU-second (its capacity with a core to itself: the machine's other work
slows it), the flush intervals and the load average. Usage:

    .venv/bin/python bench/feature_freshness.py [--rate 2000] [--seconds 60] [--stores sqlite,redis]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil
import redis
from rich.console import Console
from rich.table import Table

from glamcast.core import topics
from glamcast.core.settings import Settings
from glamcast.platform import broker, features, stack
from streams.app import ensure_topics
from streams.features import features_group
from streams.worker import start_workers, stop_workers

ACTIONS = ["try_on", "shade_swap", "like", "save", "add_to_cart", "purchase", "dismiss"]
SHADES = ["#C0392B", "#E8B5A0", "#8E2440", "#F4A6B7", "#5B2C3A", "#D96A4A"]
USERS = 5_000


def event(rng: random.Random, i: int, user: str) -> bytes:
    return json.dumps(
        {
            "event_id": f"b{i}",
            "ts": datetime.now(UTC).isoformat(),
            "user_id": user,
            "session_id": f"s{rng.randrange(10_000)}",
            "action": rng.choice(ACTIONS),
            "product_id": f"p{rng.randrange(500)}",
            "category": rng.choice(["lipstick", "blush", "eyeshadow", "mascara"]),
            "shade_hex": rng.choice(SHADES),
            "finish": rng.choice(["matte", "satin", "gloss"]),
            "dwell_ms": rng.randrange(100, 20_000),
            "platform": "ios",
            "app_version": "2.1.0",
        }
    ).encode()


class Poller(threading.Thread):
    """Reads pending probe users from the online store until each one shows up."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.store = features.feature_store(settings)
        self.pending: dict[str, float] = {}  # probe user → perf_counter before send
        self.latencies: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.busy = 0  # reads that found the store locked

    def add(self, user: str, sent: float) -> None:
        with self.lock:
            self.pending[user] = sent

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                users = list(self.pending)
            if users:
                try:
                    seen = self.store.get_online_features(
                        features=["user_activity_fv:last_event_ms"],
                        entity_rows=[{"user_id": user} for user in users],
                    ).to_dict()
                except sqlite3.OperationalError:  # busy: read again on the next tick
                    self.busy += 1
                    continue
                now = time.perf_counter()
                with self.lock:
                    for user, value in zip(seen["user_id"], seen["last_event_ms"], strict=True):
                        if value is not None and user in self.pending:
                            self.latencies[user] = now - self.pending.pop(user)
            time.sleep(0.01)


def wait_visible(poller: Poller, user: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with poller.lock:
            if user in poller.latencies:
                return
        time.sleep(0.05)
    raise SystemExit(f"warm-up probe {user} not visible after {timeout_s:.0f} s")


def measure(store: str, args: argparse.Namespace, console: Console) -> dict:
    """One run against the `store` online store; returns its figures."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="glamcast-freshness-") as state_dir:
        workdir = Path(state_dir)
        project = f"freshness{os.getpid()}{store}"
        settings = Settings(
            state_dir=workdir,
            mlflow_tracking_uri="http://127.0.0.1:9",  # only the broker is needed
            topic_prefix="fresh.",
            streams_app_id="freshness",
            streams_web_port=0,
            streams_features=True,
            streams_feed=args.feed,
            features_flush_s=args.flush_s,
            features_offline_flush_s=args.offline_flush_s,
            feast_project=project,
            feast_online_store=store,
            redis_url=args.redis_url,
        )
        stack.up(settings)
        workers = []
        try:
            ensure_topics(settings)
            features.apply(settings)
            if args.split:  # the lake sink in one process, the feature (and feed) stages in another
                workers = [
                    *start_workers(
                        settings.model_copy(update={"streams_ingest": False}), 1,
                        loglevel="warn", log_dir=workdir / "logs",
                    ),
                    *start_workers(
                        settings.model_copy(
                            update={"streams_features": False, "streams_feed": False}
                        ), 1, loglevel="warn", log_dir=workdir / "logs", first_index=1,
                    ),
                ]
            else:
                workers = start_workers(settings, 1, loglevel="warn", log_dir=workdir / "logs")
            poller = Poller(settings)
            poller.start()
            producer = broker.producer(settings, linger_ms=5)
            topic = settings.topic_name(topics.TRYON)
            console.print(f"[{store}] waiting for the worker to join and push a warm-up event ...")
            poller.add("warmup", time.perf_counter())
            producer.send(topic, key=b"warmup", value=event(rng, -1, "warmup"))
            producer.flush()
            wait_visible(poller, "warmup", 120)
            with poller.lock:
                poller.latencies.clear()

            console.print(f"[{store}] producing {args.rate:,}/s for {args.seconds:.0f} s ...")
            worker_process = psutil.Process(workers[0].pid)
            cpu_before = sum(worker_process.cpu_times()[:2])
            sent = probes = 0
            probe_every = max(1, round(args.rate * args.probe_ms / 1000))
            started = time.perf_counter()
            while (elapsed := time.perf_counter() - started) < args.seconds:
                due = int(elapsed * args.rate) - sent
                for _ in range(min(due, 500)):
                    if sent % probe_every == 0:
                        user = f"probe{probes}"
                        probes += 1
                        poller.add(user, time.perf_counter())
                    else:
                        user = f"u{rng.randrange(USERS)}"
                    producer.send(topic, key=user.encode(), value=event(rng, sent, user))
                    sent += 1
                time.sleep(0.002)
            producer.flush()
            produced_s = time.perf_counter() - started
            deadline = time.monotonic() + 10
            while poller.pending and time.monotonic() < deadline:
                time.sleep(0.05)
            # The worker's own CPU per event: its capacity with a core to itself, whatever else
            # the machine runs (it also lands the events in the lake).
            worker_cpu_s = sum(worker_process.cpu_times()[:2]) - cpu_before
            # Offsets are committed after the offline append: wait for the next one.
            time.sleep(args.offline_flush_s + 1)
            admin = broker.admin_client(settings)
            group = features_group(settings)
            committed = admin.list_group_offsets(group).get(group, {})
            admin.close()
            pushed = sum(meta.offset for meta in committed.values()) - 1  # less the warm-up
            poller.stop.set()
            poller.join()
            producer.close()
            load = os.getloadavg()[0]
        finally:
            stop_workers(workers)
            if store == "redis":
                features.feature_store(settings).teardown()
                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(match=f"*{project}*".encode(), count=1000))
                if keys:
                    client.delete(*keys)
                client.close()
            stack.down(settings)

    latencies_ms = np.array(sorted(poller.latencies.values())) * 1000
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99])
    return {
        "rate_per_s": round(sent / produced_s),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(float(latencies_ms.max()), 1),
        "probes": len(latencies_ms),
        "missing": len(poller.pending),
        "busy_reads": poller.busy,
        "worker_cpu_s": round(worker_cpu_s, 1),
        "events_pushed": pushed,
        "events_per_worker_cpu_s": round(pushed / worker_cpu_s) if worker_cpu_s else None,
        "flush_s": args.flush_s,
        "offline_flush_s": args.offline_flush_s,
        "feed_stage": args.feed,
        "split": args.split,
        "load": round(load, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=2_000, help="events per second produced")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to produce")
    parser.add_argument("--probe-ms", type=float, default=50.0, help="one probe event every …")
    parser.add_argument(
        "--flush-s", type=float, default=Settings().features_flush_s, help="online push interval"
    )
    parser.add_argument(
        "--offline-flush-s", type=float, default=5.0, help="offline append interval"
    )
    parser.add_argument("--stores", default="sqlite", help="online stores, comma-separated")
    parser.add_argument(
        "--feed",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also run the feed stage in the worker (its own consumer group; off: the figures "
        "are the feature stage's)",
    )
    parser.add_argument(
        "--split",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run the feature stage in a worker process of its own, the lake sink in another "
        "(`glamcast stream --stages features` / `--stages ingest`); off: one worker runs both",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    console = Console()
    stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    unknown = set(stores) - {"sqlite", "redis"}
    if unknown:
        raise SystemExit(f"unknown store(s) {sorted(unknown)}: sqlite, redis")
    results = {store: measure(store, args, console) for store in stores}

    table = Table(title="feature freshness: produce → visible in get_online_features")
    columns = {
        "store": None,
        "events/s": "rate_per_s",
        "probes": "probes",
        "missing": "missing",
        "p50 ms": "p50_ms",
        "p95 ms": "p95_ms",
        "p99 ms": "p99_ms",
        "max ms": "max_ms",
        "worker CPU s": "worker_cpu_s",
        "events / worker CPU s": "events_per_worker_cpu_s",
        "load": "load",
    }
    for column in columns:
        table.add_column(column, justify="left" if column == "store" else "right")
    for store, figures in results.items():
        table.add_row(store, *(f"{figures[key]:,}" for key in list(columns.values())[1:] if key))
    console.print(table)
    print("RESULT " + json.dumps({**results[stores[0]], "store": stores[0], "stores": results}))


if __name__ == "__main__":
    main()
