"""Feed latency: GET /v1/feed/{user_id} under open-loop load, beside raw Feast online reads.

Builds its own world on a temporary state dir: an embedded stack (broker + MLflow), a simulated
catalogue and try-ons (`--users`, `--products`, 14 days), a small recommender (truncated SVD of
the interaction counts, the platform's pyfunc) registered as champion, the Feast repository
applied and every person's activity features pushed to the SQLite online store. Then it starts
`glamcast serve` (one uvicorn worker) in a subprocess and, in a second subprocess (this file with
``--drive``), an open-loop load generator: a minimal keep-alive HTTP/1.1 client on asyncio
(`Connections`), one request every 1/rate s whatever the answers do, for `--seconds` at each rate in `--rates` (default 100 and 300 req/s for 30 s).
Latency runs from each request's *scheduled* send time to its answer, so a stalled server is
not hidden (no coordinated omission). People are drawn from the known ones (90 %) and unknown
ids (10 %). Errors: non-200 answers, timeouts (2 s) and connection failures.
User ids are URL-safe here (the simulator's), so paths are not escaped.

In the same run, this process times `get_online_features` for the feed's user features
(`glamcast.platform.feed_engine.USER_REFS`) of the same people, one call per person as the API does.

The server's CPU seconds over each rate (from /proc) per request say what one uvicorn worker
costs a request whatever else the machine runs (1000 / that = its capacity on a free core).

Prints a rich table, then as its last line ``RESULT {"rps100": {"p50_ms", "p95_ms", "p99_ms",
"errors", ...}, "rps300": {...}, "feast_p50_ms": ..., "feast_p99_ms": ...}``. Usage:

    .venv/bin/python bench/feed_latency.py [--rates 100,300] [--seconds 30] [--users 2000]
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
from datetime import date
from pathlib import Path

import numpy as np

from glamcast.core.names import CATALOG, TRYON
from glamcast.core.settings import DEV_API_KEYS, KeyScope

REPO = Path(__file__).resolve().parents[1]


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
    errors: dict[str, int] = {}
    for user in users[:20]:  # warm a connection and the server's first-request paths
        await connections.get(f"/v1/feed/{user}?k=20")

    async def one(user: str, scheduled: float) -> None:
        try:
            status, _ = await asyncio.wait_for(connections.get(f"/v1/feed/{user}?k=20"), 2.0)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            return
        done = time.perf_counter()
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
            return
        latencies.append(done - scheduled)

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(users[int(picks[i])], scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    connections.close()
    return {"sent": total, "ok": len(latencies), "errors": sum(errors.values()),
            "error_kinds": errors, "achieved_rps": round(total / elapsed, 1),
            "client_cpu_s": round(time.process_time(), 2), **percentiles(latencies)}


# --- the world -------------------------------------------------------------------------------------


def build_world(settings, users: int, products: int) -> list[str]:
    """Catalogue in the lake, champion registered, Feast applied, features online; known users."""
    import tempfile as tmp

    import mlflow
    import pandas as pd

    from glamcast.core import topics
    from glamcast.core.events import CatalogEvent, TryOnEvent, decode_event
    from glamcast.core.features import (
        EVENT_COLUMNS,
        USER_ACTIVITY_PUSH_SOURCE,
        USER_HISTORY_PUSH_SOURCE,
    )
    from glamcast.core.names import CHAMPION
    from glamcast.platform import features, lake
    from glamcast.platform.features import push_features
    from glamcast.platform.model_registry import tracking_uri
    from glamcast.simulator import SimulationConfig, World
    from models.activity_features import user_activity_features
    from models.recommender_pyfunc import ARTIFACT_KEY, FactorRecommender, RecommenderModel
    from streams.feed_updates import history_features

    world = World.build(SimulationConfig(users=users, days=14, start=date(2026, 2, 2), seed=5,
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

    frame = events[events["action"] != "dismiss"]
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
    columns = list(EVENT_COLUMNS)
    push_features(store, USER_ACTIVITY_PUSH_SOURCE, user_activity_features(events[columns]),
                  offline=False)
    rows_ = list(events[columns].itertuples(index=False, name=None))
    push_features(store, USER_HISTORY_PUSH_SOURCE, history_features(rows_), offline=False)
    return user_index.tolist()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="100,300")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # URL: run as the load generator
    parser.add_argument("--users-file", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        users = json.loads(Path(args.users_file).read_text())
        print(json.dumps(asyncio.run(drive(args.drive, users, args.rate, args.seconds, 7))))
        return

    from rich.console import Console
    from rich.table import Table

    from glamcast.core.settings import Settings
    from glamcast.platform import stack
    from streams.worker import settings_env

    console = Console()
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as scratch:
        settings = Settings(state_dir=Path(scratch) / "state", kafka_port=0, mlflow_port=0,
                            recommender_model_name="glamcast-recommender-bench",
                            look_gan_model_name="glamcast-look-gan-bench",
                            api_port=stack.free_port())
        console.print("starting the embedded stack …")
        stack.up(settings)
        server = None
        try:
            console.print(f"building the world ({args.users} people, {args.products} products) …")
            known = build_world(settings, args.users, args.products)
            rng = np.random.default_rng(3)
            users = [str(u) for u in rng.choice(known, min(len(known), 1_000), replace=False)]
            users += [f"unknown-{i}" for i in range(len(users) // 9)]
            users_file = Path(scratch) / "users.json"
            users_file.write_text(json.dumps(users))
            url = f"http://127.0.0.1:{settings.api_port}"
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("GLAMCAST_")},
                   **settings_env(settings)}
            with open(Path(scratch) / "api.log", "wb") as api_log:  # the child keeps its copy
                server = subprocess.Popen(
                    [sys.executable, "-m", "glamcast.cli", "serve", "--port",
                     str(settings.api_port)], env=env, stdout=subprocess.DEVNULL, stderr=api_log)
            wait_ready(url)
            load_before = os.getloadavg()[0]
            result: dict = {}
            for rate in [float(r) for r in args.rates.split(",")]:
                console.print(f"driving {rate:.0f} req/s for {args.seconds:.0f} s …")
                cpu_before = cpu_seconds(server.pid)
                done = subprocess.run(
                    [sys.executable, __file__, "--drive", url, "--users-file", str(users_file),
                     "--rate", str(rate), "--seconds", str(args.seconds)],
                    capture_output=True, text=True, check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                # the server's own CPU per answered request: what a core to itself would allow
                row["server_cpu_ms_per_request"] = round(
                    (cpu_seconds(server.pid) - cpu_before) * 1000 / max(row["sent"] + 20, 1), 2)
                result[f"rps{rate:.0f}"] = row
            feast = feast_latency(settings, users[:600])
            load_after = os.getloadavg()[0]
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            stack.down(settings)

    table = Table(title="GET /v1/feed/{user_id}?k=20, one uvicorn worker (open loop)")
    for column in ("load", "sent", "achieved req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                   "server CPU ms/req"):
        table.add_column(column, justify="right")
    for name, row in result.items():
        table.add_row(name, str(row["sent"]), str(row["achieved_rps"]), str(row["p50_ms"]),
                      str(row["p95_ms"]), str(row["p99_ms"]),
                      f"{row['errors']} {row['error_kinds'] or ''}".strip(),
                      str(row["server_cpu_ms_per_request"]))
    table.add_row("Feast get_online_features (same people)", "600", "–", str(feast["p50_ms"]),
                  str(feast["p95_ms"]), str(feast["p99_ms"]), "–", "–")
    console.print(table)
    console.print(f"load average {load_before:.1f} before, {load_after:.1f} after "
                  f"({os.cpu_count()} cores)")
    summary = {name: {key: row[key] for key in ("p50_ms", "p95_ms", "p99_ms", "errors",
                                                 "achieved_rps", "server_cpu_ms_per_request")}
               for name, row in result.items()}
    summary.update({"feast_p50_ms": feast["p50_ms"], "feast_p99_ms": feast["p99_ms"],
                    "load": round(load_after, 2)})
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
