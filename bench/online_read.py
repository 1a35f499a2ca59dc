"""Online read latency: `get_online_features` of the feed's feature service, SQLite and Redis.

For each online store (`--stores`, default ``sqlite,redis``: the `local` profile's
`glamcast.platform.sqlite_online_store` and the `prod` profile's Feast Redis store at `--redis-url`), the
Feast repository is applied on a temporary state dir under a Feast project of its own (the Redis
keys are deleted afterwards), and every view of `feed_ranking_v1` is filled for `--users` people
and `--products` products: user activity and product popularity with the stream stage's writer
(`glamcast.platform.features.write_online`), the other views (embeddings, ...) with Feast's
`write_to_online_store`, values drawn at random from each feature's type.

Then, per store and per batch size (1 and 50 entity rows of (user, product) a call), it times
`--calls` calls of ``get_online_features(features=feed_ranking_v1, entity_rows=...)`` after a
warm-up, each on rows drawn at random, and in the same loop the same keys read raw, as the
reference of what the store itself costs: a redis-py pipeline of HGETALL per entity hash, or
one SQLite ``SELECT ... WHERE entity_key IN (...)`` per view, the blobs left undecoded. The ratio
is Feast's time over the raw read's (p50 over p50).

Prints a rich table, then as its last line ``RESULT {"sqlite": {"1": {"feast_p50_ms", ...,
"raw_p50_ms", ..., "ratio_p50"}, "50": {...}}, "redis": {...}}``. Usage:

    .venv/bin/python bench/online_read.py [--stores sqlite,redis] [--users 10000] [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from feast.types import Array, Float32, Float64, Int32, Int64, String
from rich.console import Console
from rich.table import Table

from glamcast.core.features import FEED_RANKING_SERVICE, PRODUCT_POPULARITY_VIEW, USER_ACTIVITY_VIEW
from glamcast.core.names import PRODUCT_COL, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform import features
from glamcast.platform.features import write_online
from streams.features import FeatureState, product_feature_row, user_feature_row

BATCHES = (1, 50)
ACTIONS = ["try_on", "shade_swap", "like", "add_to_cart", "purchase", "dismiss"]


def random_value(rng: random.Random, dtype: Any) -> Any:
    """A value of a Feast type, for the views the stream stage does not write."""
    if dtype == Array(Float32):
        return [rng.uniform(-1, 1) for _ in range(32)]
    if dtype == Array(String):
        return [f"p{rng.randrange(500)}" for _ in range(rng.randrange(0, 4))]
    if dtype in (Int32, Int64):
        return rng.randrange(1, 100)
    if dtype in (Float32, Float64):
        return rng.uniform(0, 1)
    if dtype == String:
        return rng.choice(["nude", "red", "berry"])
    raise ValueError(f"no generator for {dtype}")


def fill(store: Any, users: list[str], products: list[str], rng: random.Random) -> list[Any]:
    """Write every view of the feed's service for `users` and `products`; returns the views."""
    state = FeatureState()
    now = datetime.now(UTC)
    for i in range(len(users) * 4):
        state.add(
            f"e{i}",
            now,
            users[i % len(users)],  # every user has activity
            rng.choice(products),
            rng.choice(ACTIONS),
            "lipstick",
            "#C0392B",
            "matte",
            rng.randrange(100, 5000),
            rng.randrange(1, 11),
            "warm",
        )
    user_rows = [user_feature_row(key, value) for key, value in state.users.keys.items()]
    product_rows = [product_feature_row(key, value) for key, value in state.products.keys.items()]
    write_online(store, USER_ACTIVITY_VIEW, user_rows)
    write_online(store, PRODUCT_POPULARITY_VIEW, product_rows)
    service = store.get_feature_service(FEED_RANKING_SERVICE)
    views = [store.get_feature_view(p.name) for p in service.feature_view_projections]
    for view in views:
        if view.name in (USER_ACTIVITY_VIEW, PRODUCT_POPULARITY_VIEW):
            continue
        (entity,) = view.join_keys
        keys = users if entity == USER_COL else products
        frame = pd.DataFrame(
            {
                entity: keys,
                "event_timestamp": now,
                **{f.name: [random_value(rng, f.dtype) for _ in keys] for f in view.features},
            }
        )
        store.write_to_online_store(view.name, frame)
    return views


def entity_key(column: str, value: str) -> EntityKey:
    return EntityKey(join_keys=[column], entity_values=[Value(string_val=value)])


class RawRead:
    """The same keys read from the store without Feast (the reference)."""

    def __init__(self, settings: Settings, store: Any, views: list[Any]) -> None:
        self.kind = settings.feast_online_store
        self.project = settings.feast_project
        self.version = store.config.entity_key_serialization_version
        self.views = [(f'"{self.project}_{v.name}"', v.join_keys[0]) for v in views]
        if self.kind == "redis":
            self.redis = redis.Redis.from_url(settings.redis_url)
        else:
            path = features.feast_dir(settings) / "online_store.db"
            self.sqlite = sqlite3.connect(path, check_same_thread=False)

    def read(self, rows: list[dict[str, str]]) -> int:
        """Read every row's user and product data; returns the number of values read."""
        if self.kind == "redis":
            pipe = self.redis.pipeline(transaction=False)
            for row in rows:
                for column in (USER_COL, PRODUCT_COL):
                    key = entity_key(column, row[column])
                    pipe.hgetall(_redis_key(self.project, key, self.version))
            return sum(len(found) for found in pipe.execute())
        count = 0
        for table, column in self.views:
            keys = [
                serialize_entity_key(entity_key(column, row[column]), self.version) for row in rows
            ]
            cursor = self.sqlite.execute(
                f"SELECT value FROM {table} WHERE entity_key IN ({', '.join('?' * len(keys))})",
                keys,
            )
            count += len(cursor.fetchall())
        return count

    def close(self) -> None:
        if self.kind == "redis":
            self.redis.close()
        else:
            self.sqlite.close()


def measure(kind: str, args: argparse.Namespace, console: Console) -> dict[str, dict]:
    rng = random.Random(3)
    users = [f"u{i}" for i in range(args.users)]
    products = [f"p{i}" for i in range(args.products)]
    with tempfile.TemporaryDirectory(prefix="glamcast-online-read-") as state_dir:
        settings = Settings(
            state_dir=Path(state_dir),
            lake_uri=str(Path(state_dir) / "lake"),
            feast_project=f"onlineread{os.getpid()}{kind}",
            feast_online_store=kind,
            redis_url=args.redis_url,
        )
        features.apply(settings)
        store = features.feature_store(settings)
        raw = None
        try:
            console.print(f"[{kind}] filling {args.users:,} users and {args.products} products ...")
            views = fill(store, users, products, rng)
            service = store.get_feature_service(FEED_RANKING_SERVICE)
            raw = RawRead(settings, store, views)
            results: dict[str, dict] = {}
            for batch in BATCHES:
                feast_s, raw_s = [], []
                for call in range(args.calls + 20):  # the first 20 warm up
                    rows = [
                        {USER_COL: rng.choice(users), PRODUCT_COL: rng.choice(products)}
                        for _ in range(batch)
                    ]
                    started = time.perf_counter()
                    got = store.get_online_features(features=service, entity_rows=rows).to_dict()
                    middle = time.perf_counter()
                    raw.read(rows)
                    ended = time.perf_counter()
                    assert len(got[USER_COL]) == batch and got["tries_7d"][0] is not None
                    if call >= 20:
                        feast_s.append(middle - started)
                        raw_s.append(ended - middle)
                feast_ms = np.percentile(np.array(feast_s) * 1000, [50, 99])
                raw_ms = np.percentile(np.array(raw_s) * 1000, [50, 99])
                results[str(batch)] = {
                    "feast_p50_ms": round(float(feast_ms[0]), 2),
                    "feast_p99_ms": round(float(feast_ms[1]), 2),
                    "raw_p50_ms": round(float(raw_ms[0]), 3),
                    "raw_p99_ms": round(float(raw_ms[1]), 3),
                    "ratio_p50": round(float(feast_ms[0] / raw_ms[0]), 1),
                    "features_per_row": len(got) - 2,
                }
            return results
        finally:
            if raw is not None:
                raw.close()
            if kind == "redis":
                store.teardown()
                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(match=f"*{settings.feast_project}*".encode()))
                if keys:
                    client.delete(*keys)
                client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="sqlite,redis", help="online stores, comma-separated")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per batch size")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    console = Console()
    stores = [name.strip() for name in args.stores.split(",") if name.strip()]
    results = {kind: measure(kind, args, console) for kind in stores}

    table = Table(
        title=f"get_online_features({FEED_RANKING_SERVICE}) vs the raw read of the same keys"
    )
    for column in ("rows / call", *stores):
        table.add_column(column, justify="right")
    for batch in BATCHES:
        cells = []
        for kind in stores:
            r = results[kind][str(batch)]
            cells.append(
                f"Feast p50 {r['feast_p50_ms']:.2f} / p99 {r['feast_p99_ms']:.2f} ms\n"
                f"raw p50 {r['raw_p50_ms']:.3f} / p99 {r['raw_p99_ms']:.3f} ms\n"
                f"ratio {r['ratio_p50']:.1f}×"
            )
        table.add_row(str(batch), *cells)
    console.print(table)
    load = round(os.getloadavg()[0], 2)
    print("RESULT " + json.dumps({**results, "users": args.users, "load": load}))


if __name__ == "__main__":
    main()
