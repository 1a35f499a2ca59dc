"""Feed latency: GET /v1/feed/{user_id} under open-loop load, ranked by the hand-set blend and by
the learned ranker, beside raw Feast online reads.

Builds its own world on a temporary state dir: an embedded stack (broker + MLflow), a simulated
catalogue and try-ons (`--users`, `--products`, 14 days from 2026-02-02), a small recommender
(truncated SVD of the interaction counts of the first `--rec-days` days, the platform's pyfunc)
registered as champion, the Feast repository applied, and the feature stage's writes replayed
(`streams.features.FeatureState` over every try-on in time order: after each event its person's
and product's rows appended to the offline store, the latest row of each key written online) plus
every person's `user_history_fv` row online. Then it starts `glamcast serve` (one uvicorn worker)
in a subprocess and, in a second subprocess (this file with ``--drive``), an open-loop load
generator: a minimal keep-alive HTTP/1.1 client on asyncio (`Connections`), one request every
1/rate s whatever the answers do, for `--seconds` at each rate in `--rates` (default 100 and
300 req/s for 30 s). Latency runs from each request's *scheduled* send time to its answer, so a
stalled server is not hidden (no coordinated omission). People are drawn from the known ones
(90 %) and unknown ids (10 %). Errors: non-200 answers, timeouts (2 s) and connection failures;
the percentiles are of the answered requests, so a drive with timeouts flatters its tail (the
ranker ÷ blend row compares percentiles only between drives without errors).
User ids are URL-safe here (the simulator's), so paths are not escaped.

Two orders on the same world and the same server process:

1. **blend**: no ranker registered, the hand-set blend ranks (`models.feed_scoring.rank_feed`);
2. **ranker**: `jobs.train_ranker.train_ranker_job` (the platform's job, its default
   `RankerConfig`) trains on the days after the recommender's (`--rec-days` .. 14, Feast
   point-in-time training sets from the replayed offline store, at most
   `--ranker-requests-per-day` requests a day), registers it and moves its `champion` alias; the
   running server picks it up by its own registry poll (`feed_reload_poll_s`, no restart).

Which order the server uses is checked from its answers, not assumed: before each order the
feeds of `PROBE_USERS` people are read from the server and compared, item by item (ids and
reasons), with what a `FeedEngine` in this process computes on the same stores, with and without
the ranker champion, and every answer's `ranker_version` must be the champion's (null for the
blend); the bench stops with an error when the server's answers are not the expected order's
(the ranker's must also differ from the blend's somewhere, or the check could not tell them
apart).

In the same run, this process times `get_online_features` for the feed's user features
(`glamcast.platform.feed_engine.USER_REFS`) of the same people, one call per person as the API
does, and the engine's own CPU per feed (`FeedEngine.feed`, in process, no HTTP) for each order.

The server's CPU seconds over each rate (from /proc) per request say what one uvicorn worker
costs a request whatever else the machine runs (1000 / that = its capacity on a free core);
`cost_ms_per_request` is that at the lowest rate: at an overloaded rate the server may never
fully serve the requests its client gave up on, so CPU per request *sent* is no cost figure there.
Each drive also lists the seconds (from its start) in which an answer took over `SLOW_S`, and
those in which the load generator itself sent over `CLIENT_LATE_S` late (the machine gave it no
core), so a pause of the server can be told from a busy machine.

Prints a rich table (blend and ranker per rate, and ranker ÷ blend), then as its last line
``RESULT {"rps100": {...}, "rps300": {...}, "feast_p50_ms", "feast_p99_ms", "load",
"blend": {"rps100": {"p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "achieved_rps",
"server_cpu_ms_per_request", "load"}, ...}, "ranker": {...}, "ratio_ranker_to_blend": {...},
"cost_ms_per_request": {"blend", "ranker"}, "engine_cpu_ms_per_feed": {"blend", "ranker"},
"ranker_version", "ranker_pickup_s", "ranker_holdout": {...}}``; the top-level ``rpsN`` keys
are the blend's (what they measured before the ranker existed). Usage:

    .venv/bin/python bench/feed_latency.py [--rates 100,300] [--seconds 30] [--users 2000]
        [--products 300] [--rec-days 7] [--ranker-requests-per-day 200]
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from glamcast.core.names import CATALOG, TRYON
from glamcast.core.settings import DEV_API_KEYS, KeyScope

REPO = Path(__file__).resolve().parents[1]
#: The world's first day and length (the simulator's).
WORLD_START, WORLD_DAYS = date(2026, 2, 2), 14
#: People whose feeds are compared with this process's engine before each order is measured.
PROBE_USERS = 40
#: The orders measured, in this sequence, on one server.
ORDERS = ("blend", "ranker")
K = 20
#: An answer slower than this marks its second in a drive's `slow_seconds` (when the tail
#: happened: a periodic pause of the server shows at the same offsets in every drive).
SLOW_S = 0.1
#: A send this late marks its second in `client_late_seconds`: the load generator itself got no
#: core then, so the machine, not the server, made that second's answers late.
CLIENT_LATE_S = 0.02


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    array = np.asarray(values) * 1000
    return {f"p{q}_ms": round(float(np.percentile(array, q)), 2) for q in (50, 95, 99)}


# --- the load generator (a separate process) ------------------------------------------------------


SERVICE_KEY = DEV_API_KEYS[KeyScope.SERVICE]  # the local profile's feed-reading key


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, for a minimal GET client.

    A hand-written client because the load generator must cost far less CPU than the server it
    measures: httpx's AsyncClient used about 2 CPU-minutes for the first ~6,000 requests here
    (≈ 20 ms each, measured), ten times the server's work.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.idle:
            try:
                return await self._get(path, *self.idle.pop())
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                # the server closed an idle keep-alive connection (uvicorn: after 5 s); a GET
                # that got no answer byte is retried once on a new connection, as clients do
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
        return await self._get(path, *await asyncio.open_connection(self.host, self.port))

    async def _get(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                   ) -> tuple[int, bytes]:
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                         f"X-API-Key: {SERVICE_KEY}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        self.idle.append((reader, writer))
        return status, body

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def drive(url: str, users: list[str], rate: float, seconds: float, seed: int) -> dict:
    """Open loop: request i is sent at start + i / rate; latency from that scheduled time."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    connections = Connections(host, int(port))
    rng = np.random.default_rng(seed)
    total = int(rate * seconds)
    picks = rng.integers(0, len(users), total)
    latencies: list[float] = []
    slow: set[int] = set()  # seconds since the start in which an answer took over SLOW_S
    late: set[int] = set()  # ... in which this process itself sent late (CLIENT_LATE_S)
    errors: dict[str, int] = {}
    for user in users[:20]:  # warm a connection and the server's first-request paths
        await connections.get(f"/v1/feed/{user}?k={K}")

    async def one(user: str, scheduled: float) -> None:
        try:
            status, _ = await asyncio.wait_for(connections.get(f"/v1/feed/{user}?k={K}"), 2.0)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        done = time.perf_counter()
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
            return
        latencies.append(done - scheduled)
        if done - scheduled > SLOW_S:
            slow.add(int(scheduled - start))

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() - scheduled > CLIENT_LATE_S:
            late.add(int(scheduled - start))
        tasks.append(asyncio.create_task(one(users[int(picks[i])], scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    connections.close()
    return {"sent": total, "ok": len(latencies), "errors": sum(errors.values()),
            "error_kinds": errors, "achieved_rps": round(total / elapsed, 1),
            "client_cpu_s": round(time.process_time(), 2), **percentiles(latencies),
            "max_ms": round(max(latencies, default=0.0) * 1000, 1),
            "slow_seconds": sorted(slow), "client_late_seconds": sorted(late)}


# --- the world -------------------------------------------------------------------------------------


def replay_feature_stage(store, tryons: list, chunk: int = 20_000) -> None:
    """The feature stage's writes for these try-ons (`streams.features`): after each event, in
    time order, its person's and product's feature rows, appended to the offline store (in
    `chunk`-event writes, as the stage batches its appends); the latest row of every person and
    product written online."""
    from glamcast.core.names import PRODUCT_COL, USER_COL
    from streams.features import FeatureRows, FeatureState, append_offline, push_online

    state = FeatureState()
    pending = FeatureRows()
    latest_users: dict[str, dict[str, Any]] = {}
    latest_products: dict[str, dict[str, Any]] = {}
    ordered = sorted(tryons, key=lambda event: event.ts)
    for n, event in enumerate(ordered, start=1):
        state.add_event(event)
        rows = state.snapshot()
        pending.extend(rows)
        latest_users.update((row[USER_COL], row) for row in rows.users)
        latest_products.update((row[PRODUCT_COL], row) for row in rows.products)
        if n % chunk == 0 or n == len(ordered):
            append_offline(store, pending)
            pending = FeatureRows()
    push_online(store, FeatureRows(users=list(latest_users.values()),
                                   products=list(latest_products.values())))


def build_world(settings, users: int, products: int, rec_days: int) -> list[str]:
    """Catalogue and try-ons in the lake, the recommender champion (SVD of the first `rec_days`
    days), Feast applied, the feature stage's rows offline and online. Returns the people the
    recommender knows."""
    import tempfile as tmp

    import mlflow
    import pandas as pd

    from glamcast.core import topics
    from glamcast.core.events import CatalogEvent, TryOnEvent, decode_event
    from glamcast.core.features import EVENT_COLUMNS, USER_HISTORY_PUSH_SOURCE
    from glamcast.core.names import CHAMPION
    from glamcast.platform import features, lake
    from glamcast.platform.features import push_features
    from glamcast.platform.model_registry import tracking_uri
    from glamcast.simulator import SimulationConfig, World
    from models.recommender_pyfunc import ARTIFACT_KEY, FactorRecommender, RecommenderModel
    from streams.feed_updates import history_features

    world = World.build(SimulationConfig(users=users, days=WORLD_DAYS, start=WORLD_START, seed=5,
                                         products=products))
    catalog, tryons = [], []
    for record in world.records():
        if record.topic == topics.CATALOG:
            catalog.append(decode_event(CatalogEvent, record.value))
        elif record.topic == topics.TRYON:
            tryons.append(decode_event(TryOnEvent, record.value))
    table = lake.table_from_events(CATALOG, catalog, partition=0,
                                   offsets=list(range(len(catalog))))
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)
    table = lake.table_from_events(TRYON, tryons, partition=0,
                                   offsets=list(range(len(tryons))))
    lake.write_event_batch(settings.lake_root, TRYON, topics.TRYON, 0, table)
    events = lake.read_dataset(settings, TRYON)

    # the candidate model sees only the first rec_days days: the ranker trains on the days after
    cutoff = pd.Timestamp(rec_cutoff(rec_days))
    frame = events[(events["action"] != "dismiss")
                   & (pd.to_datetime(events["ts"], utc=True) < cutoff)]
    user_index = pd.Index(sorted(frame["user_id"].unique()))
    item_index = pd.Index(sorted(frame["product_id"].unique()))
    rows = user_index.get_indexer(frame["user_id"])
    cols = item_index.get_indexer(frame["product_id"])
    counts = np.zeros((len(user_index), len(item_index)), np.float32)  # (users, items)
    np.add.at(counts, (rows, cols), 1.0)
    left, singular, right = np.linalg.svd(np.log1p(counts), full_matrices=False)
    seen = np.unique(np.stack([rows, cols], axis=1), axis=0)
    recommender = FactorRecommender.build(
        user_index.tolist(), item_index.tolist(), left[:, :32] * singular[:32], right[:32].T,
        None, seen[:, 0], seen[:, 1], counts.sum(axis=0).astype(np.float64))
    mlflow.set_tracking_uri(tracking_uri(settings))
    mlflow.set_experiment("feed-bench")
    with tmp.TemporaryDirectory() as scratch, mlflow.start_run():
        artifact = recommender.save(Path(scratch) / "recommender.npz")
        info = mlflow.pyfunc.log_model(name="model", python_model=RecommenderModel(),
                                       artifacts={ARTIFACT_KEY: str(artifact)})
    version = mlflow.register_model(info.model_uri, settings.recommender_model_name).version
    mlflow.MlflowClient().set_registered_model_alias(settings.recommender_model_name, CHAMPION,
                                                     version)

    features.apply(settings)
    store = features.feature_store(settings)
    replay_feature_stage(store, tryons)
    columns = list(EVENT_COLUMNS)
    history = history_features(list(events[columns].itertuples(index=False, name=None)))
    push_features(store, USER_HISTORY_PUSH_SOURCE, history, offline=False)
    return user_index.tolist()


def rec_cutoff(rec_days: int) -> datetime:
    """The end of the recommender's days: the ranker's window starts there."""
    start = datetime(WORLD_START.year, WORLD_START.month, WORLD_START.day, tzinfo=UTC)
    return start + timedelta(days=rec_days)


def train_bench_ranker(settings, rec_days: int, requests_per_day: int) -> dict[str, Any]:
    """The platform's ranker job (`train_ranker_job`, default `RankerConfig`) on the days after
    the recommender's: trains, logs, registers and promotes (the bench's first ranker wins).
    Returns its version, holdout NDCG@k of the blend and the ranker, training rows and fit s."""
    from jobs.train_ranker import TrainRankerConfig, train_ranker_job
    from models.ranking_metrics import metric_name

    config = TrainRankerConfig(start=rec_cutoff(rec_days), max_requests_per_day=requests_per_day)
    result = train_ranker_job(None, settings, config)
    registration = result.registration
    if registration is None or not registration.promoted:
        raise SystemExit(f"the bench's ranker was not promoted: {registration}")
    ndcg = metric_name("ndcg", config.k)
    return {"version": int(registration.version),
            "holdout": {f"{order}_{ndcg}": round(result.evaluation[order][ndcg], 4)
                        for order in ("blend", "ranker")},
            "rows": result.rows["rows.train_rows"], "train_s": round(result.train_s, 1)}


# --- which order the server ranks with ----------------------------------------------------------


def feed_items(items: list) -> list[tuple[str, tuple[str, ...]]]:
    """(product or look id, reasons) of a feed's items, from the answer's JSON or a `Feed`."""
    out = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        out.append((item.get("product_id") or item.get("look_id"), tuple(item["reasons"])))
    return out


def served_feeds(url: str, users: list[str]) -> dict[str, tuple[int | None, list]]:
    """The server's feeds of `users`: (the `ranker_version` that ordered it, its items)."""
    import httpx

    headers = {"X-API-Key": SERVICE_KEY}
    out = {}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        for user in users:
            body = client.get(f"/v1/feed/{user}", params={"k": K}).raise_for_status().json()
            out[user] = (body["ranker_version"], feed_items(body["items"]))
    return out


def wait_for_order(url: str, expected: dict[str, list], version: int | None, order: str,
                   timeout_s: float) -> float:
    """Seconds until the server's feeds of the probe people are exactly `expected` (ids and
    reasons of every item) and each says it was ordered by ranker `version` (None: the blend);
    SystemExit when they are not within `timeout_s`."""
    started = time.monotonic()
    while True:
        served = served_feeds(url, list(expected))
        same = sum(served[user] == (version, items) for user, items in expected.items())
        if same == len(expected):
            return round(time.monotonic() - started, 1)
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"after {timeout_s:.0f} s the server's feeds match the {order}'s "
                             f"for {same} of {len(expected)} probe people: it does not rank "
                             f"with the {order}")
        time.sleep(1.0)


def engine_feeds(engine, users: list[str]) -> tuple[dict[str, list], float, int]:
    """The engine's feeds of `users` (items), its CPU ms per feed (online read + ranking, in
    this process: no HTTP) and how many of the feeds are personalized."""
    feeds, personalized = {}, 0
    started = time.thread_time()
    for user in users:
        feed = engine.feed(user, K)
        feeds[user] = feed_items(feed.items)
        personalized += feed.personalized
    return feeds, round((time.thread_time() - started) * 1000 / max(len(users), 1), 2), personalized


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, timeout_s: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the API at {url} did not become ready within {timeout_s} s")


def feast_latency(settings, users: list[str]) -> dict[str, float]:
    from glamcast.platform.features import feature_store
    from glamcast.platform.feed_engine import USER_REFS

    store = feature_store(settings)
    refs = list(USER_REFS)
    times = []
    for user in users:
        started = time.perf_counter()
        store.get_online_features(features=refs, entity_rows=[{"user_id": user}]).to_dict()
        times.append(time.perf_counter() - started)
    return percentiles(times[20:])  # the first reads open the store


def drive_rates(url: str, server_pid: int, users_file: Path, rates: list[float], seconds: float,
                console) -> dict[str, dict]:
    """One open-loop drive per rate (a subprocess each); its row and the server's CPU per
    request (the 20 warm-up requests included)."""
    result = {}
    for rate in rates:
        console.print(f"  driving {rate:.0f} req/s for {seconds:.0f} s …")
        cpu_before = cpu_seconds(server_pid)
        done = subprocess.run(
            [sys.executable, __file__, "--drive", url, "--users-file", str(users_file),
             "--rate", str(rate), "--seconds", str(seconds)],
            capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["server_cpu_s"] = cpu_seconds(server_pid) - cpu_before
        # the server's own CPU per answered request: what a core to itself would allow
        row["server_cpu_ms_per_request"] = round(
            row["server_cpu_s"] * 1000 / max(row["sent"] + 20, 1), 2)
        row["load"] = round(os.getloadavg()[0], 2)
        result[f"rps{rate:.0f}"] = row
    return result


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b and np.isfinite(a) and np.isfinite(b) else None


def latency_ratios(ranked: dict, blend: dict) -> dict[str, float | None]:
    """Ranker ÷ blend of one rate's `RATIO_KEYS`. The percentiles are of the answered requests
    only, so they are compared (not None) only when neither drive had an error."""
    clean = not ranked["errors"] and not blend["errors"]
    return {key: ratio(ranked[key], blend[key]) if clean or key == "server_cpu_ms_per_request"
            else None for key in RATIO_KEYS}


#: What RESULT keeps of each drive, and what it compares (ranker ÷ blend).
SUMMARY_KEYS = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "achieved_rps",
                "server_cpu_ms_per_request", "load")
RATIO_KEYS = ("p50_ms", "p95_ms", "p99_ms", "server_cpu_ms_per_request")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rates", default="100,300")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--rec-days", type=int, default=7,
                        help="days the recommender trains on; the ranker trains on the rest")
    parser.add_argument("--ranker-requests-per-day", type=int, default=200,
                        help="requests sampled a day for the ranker's training sets")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # URL: run as the load generator
    parser.add_argument("--users-file", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        users = json.loads(Path(args.users_file).read_text())
        print(json.dumps(asyncio.run(drive(args.drive, users, args.rate, args.seconds, 7))))
        return

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from rich.console import Console
    from rich.table import Table

    from glamcast.core.settings import Settings
    from glamcast.platform import stack
    from glamcast.platform.feed_engine import FeedEngine
    from streams.worker import settings_env

    console = Console(width=None if sys.stdout.isatty() else 150)
    rates = [float(r) for r in args.rates.split(",")]
    bench_started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as scratch:
        settings = Settings(state_dir=Path(scratch) / "state", kafka_port=0, mlflow_port=0,
                            recommender_model_name="glamcast-recommender-bench",
                            look_gan_model_name="glamcast-look-gan-bench",
                            ranker_model_name="glamcast-ranker-bench",
                            api_port=stack.free_port())
        console.print("starting the embedded stack …")
        stack.up(settings)
        server = None
        try:
            console.print(f"building the world ({args.users} people, {args.products} products, "
                          "the feature stage replayed) …")
            known = build_world(settings, args.users, args.products, args.rec_days)
            rng = np.random.default_rng(3)
            users = [str(u) for u in rng.choice(known, min(len(known), 1_000), replace=False)]
            users += [f"unknown-{i}" for i in range(len(users) // 9)]
            users_file = Path(scratch) / "users.json"
            users_file.write_text(json.dumps(users))
            probe = users[:PROBE_USERS - 4] + users[-4:]  # known and unknown people
            url = f"http://127.0.0.1:{settings.api_port}"
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("GLAMCAST_")},
                   **settings_env(settings)}
            with open(Path(scratch) / "api.log", "wb") as api_log:  # the child keeps its copy
                server = subprocess.Popen(
                    [sys.executable, "-m", "glamcast.cli", "serve", "--port",
                     str(settings.api_port)], env=env, stdout=subprocess.DEVNULL, stderr=api_log)
            wait_ready(url)
            engine = FeedEngine(settings)  # this process's view of the same stores
            engine.start()
            results: dict[str, dict] = {}
            engine_cost: dict[str, float] = {}
            expected: dict[str, dict] = {}
            ranker: dict[str, Any] = {}
            for order in ORDERS:
                if order == "ranker":
                    console.print(f"training the ranker (jobs.train_ranker, days {args.rec_days}"
                                  f"–{WORLD_DAYS}) …")
                    ranker = train_bench_ranker(settings, args.rec_days,
                                                args.ranker_requests_per_day)
                    engine.maybe_reload(force=True)
                    if engine.ranker_version != ranker["version"]:
                        raise SystemExit(f"this process's engine loaded ranker "
                                         f"v{engine.ranker_version}, not v{ranker['version']}")
                expected[order], _, personalized = engine_feeds(engine, probe)
                differ = sum(expected[order][user] != expected["blend"][user] for user in probe)
                if order == "ranker" and not differ:
                    raise SystemExit("the ranker's probe feeds equal the blend's: the check "
                                     "cannot tell the orders apart")
                waited = wait_for_order(url, expected[order], ranker.get("version"), order,
                                        settings.feed_reload_poll_s + 60)
                if order == "ranker":
                    ranker["pickup_s"] = waited
                console.print(f"the server ranks with the {order}: its feeds of {len(probe)} "
                              f"probe people ({personalized} personalized) are the {order}'s "
                              f"after {waited} s ({differ} differ from the blend's)")
                _, engine_cost[order], _ = engine_feeds(engine, users[:300])
                results[order] = drive_rates(url, server.pid, users_file, rates, args.seconds,
                                             console)
            feast = feast_latency(settings, users[:600])
            load_after = os.getloadavg()[0]
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            stack.down(settings)

    table = Table(title=f"GET /v1/feed/{{user_id}}?k={K}, one uvicorn worker (open loop)")
    for column in ("order", "rate", "sent", "achieved req/s", "p50 ms", "p95 ms", "p99 ms",
                   "errors", "server CPU ms/req", "load avg"):
        table.add_column(column, justify="right")
    slow = []
    for order in ORDERS:
        for name, row in results[order].items():
            slow.append(f"{order} {name}: {row['slow_seconds'][:15] or 'none'} (client late: "
                        f"{row['client_late_seconds'][:15] or 'never'})")
            table.add_row(order, name, str(row["sent"]), str(row["achieved_rps"]),
                          str(row["p50_ms"]), str(row["p95_ms"]), str(row["p99_ms"]),
                          f"{row['errors']} {row['error_kinds'] or ''}".strip(),
                          str(row["server_cpu_ms_per_request"]), str(row["load"]))
    ratios = {name: latency_ratios(results["ranker"][name], blend)
              for name, blend in results["blend"].items()}
    for name, row in ratios.items():
        cells = {key: "–" if value is None else f"× {value}" for key, value in row.items()}
        table.add_row("ranker ÷ blend", name, "", "", cells["p50_ms"], cells["p95_ms"],
                      cells["p99_ms"], "", cells["server_cpu_ms_per_request"], "")
    table.add_row("Feast get_online_features (same people)", "", "600", "–",
                  str(feast["p50_ms"]), str(feast["p95_ms"]), str(feast["p99_ms"]), "–", "–", "")
    console.print(table)
    console.print(f"seconds of each drive with an answer over {SLOW_S * 1000:.0f} ms: "
                  + "; ".join(slow))
    # at the lowest rate: an overloaded server drops requests whose client gave up, so its CPU
    # per request sent at the higher rates is no cost figure
    lowest = f"rps{min(rates):.0f}"
    cost = {order: results[order][lowest]["server_cpu_ms_per_request"] for order in ORDERS}
    console.print(
        f"cost per request (server CPU at {lowest}): blend {cost['blend']} ms, ranker "
        f"{cost['ranker']} ms (× {ratio(cost['ranker'], cost['blend'])}); engine CPU per feed "
        f"in process: blend {engine_cost['blend']} ms, ranker {engine_cost['ranker']} ms")
    console.print(
        f"ranker v{ranker['version']}: {ranker['rows']} training rows, fit {ranker['train_s']} s, "
        f"holdout {ranker['holdout']}; served after {ranker['pickup_s']} s (registry poll "
        f"every {settings.feed_reload_poll_s:.0f} s)")
    console.print(f"load average {load_after:.1f} at the end ({os.cpu_count()} cores); bench "
                  f"{time.monotonic() - bench_started:.0f} s")
    by_order = {order: {name: {key: row[key] for key in SUMMARY_KEYS}
                        for name, row in results[order].items()} for order in ORDERS}
    summary: dict[str, Any] = dict(by_order["blend"])  # today's keys: the blend's
    summary.update({"feast_p50_ms": feast["p50_ms"], "feast_p99_ms": feast["p99_ms"],
                    "load": round(load_after, 2), **by_order,
                    "ratio_ranker_to_blend": ratios, "cost_ms_per_request": cost,
                    "engine_cpu_ms_per_feed": engine_cost, "ranker_version": ranker["version"],
                    "ranker_pickup_s": ranker["pickup_s"], "ranker_holdout": ranker["holdout"]})
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
