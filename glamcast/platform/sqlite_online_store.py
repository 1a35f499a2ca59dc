"""The online store of the `local` profile: Feast on SQLite, one row per (feature view, entity).

``feature_store.local.yaml`` names it (``type: glamcast.platform.sqlite_online_store.WideSqliteOnlineStore``);
Feast imports this module when it builds the store, so importing `glamcast.platform.features` stays free
of Feast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.online_store import OnlineStore
from feast.protos.feast.types.Value_pb2 import Map, Value
from pydantic import BaseModel, ConfigDict


class FeatureValues(Mapping[str, Value]):
    """One entity's features as Feast's online stores take them (name → `Value`), held in a
    single map `Value` (`value.map_val.val`).

    `glamcast.platform.features.online_rows` builds the rows of a push this way, setting each feature in
    place: a dict of separate `Value`s costs an allocation per feature and, in this store, a copy
    of each into the row's map (three times the time: 25 against 8.5 ms for 500 rows of 43
    features). This store writes the map as it is; any other store (Redis) reads it as the
    mapping it is.
    """

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value

    def __getitem__(self, name: str) -> Value:
        if name not in self.value.map_val.val:
            raise KeyError(name)
        return self.value.map_val.val[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.value.map_val.val)

    def __len__(self) -> int:
        return len(self.value.map_val.val)

    def items(self) -> Any:  # the map's own view: what stores iterate, without a lookup per name
        return self.value.map_val.val.items()


def _row_bytes(values: Mapping[str, Value]) -> bytes:
    """A row's features, serialized as one map `Value` (what `online_read` parses)."""
    if isinstance(values, FeatureValues):
        return values.value.SerializeToString()
    return Value(map_val=Map(val=values)).SerializeToString()


class WideSqliteOnlineStoreConfig(BaseModel):
    """Online store of the `local` profile (``type: glamcast.platform.sqlite_online_store.WideSqliteOnlineStore``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["glamcast.platform.sqlite_online_store.WideSqliteOnlineStore"] = (
        "glamcast.platform.sqlite_online_store.WideSqliteOnlineStore"
    )
    path: str
    """The SQLite file."""


class WideSqliteOnlineStore(OnlineStore):
    """A Feast online store on SQLite with one row per (feature view, entity), all of the view's
    features in one serialized ``map_val`` Value.

    Feast's own SQLite store keeps one row per (entity, feature): a push of 1,600 users × 43
    features is 70,000 B-tree upserts, measured at 18–30 µs each on the loaded development machine
    (1.5 ms a user), which made pushes slower than events arrived. One row per entity is one
    upsert per user, like the Redis store's one hash per entity in `prod`. A write never replaces
    a row with an older event time (as Feast's Redis store). WAL journal: readers and the
    pushing worker do not block each other.
    """

    def __init__(self) -> None:
        super().__init__()
        self._conn: sqlite3.Connection | None = None

    def _connect(self, config: Any) -> sqlite3.Connection:
        if self._conn is None:
            path = Path(config.online_store.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; a cache
            self._conn = conn
        return self._conn

    @staticmethod
    def _table(config: Any, view: Any) -> str:
        return f'"{config.project}_{view.name}"'

    def online_write_batch(
        self, config: Any, table: Any, data: Sequence[tuple[Any, ...]], progress: Any
    ) -> None:
        version = config.entity_key_serialization_version
        rows = [
            (
                serialize_entity_key(key, entity_key_serialization_version=version),
                _epoch_us(event_ts),
                _row_bytes(values),
            )
            for key, values, event_ts, _ in data
        ]
        self.upsert(config, table, rows)
        if progress:
            progress(len(rows))

    def upsert(self, config: Any, table: Any, rows: Sequence[tuple[bytes, int, bytes]]) -> None:
        """Write ``(serialized entity key, event time in µs, serialized map Value)`` rows of one
        view in one transaction; a row never replaces one with a later event time."""
        name = self._table(config, table)
        conn = self._connect(config)
        with conn:
            conn.executemany(
                f"INSERT INTO {name} (entity_key, event_ts_us, value) VALUES (?, ?, ?) "
                "ON CONFLICT(entity_key) DO UPDATE SET event_ts_us = excluded.event_ts_us, "
                f"value = excluded.value WHERE excluded.event_ts_us >= {name}.event_ts_us",
                rows,
            )

    def online_read(
        self,
        config: Any,
        table: Any,
        entity_keys: list[Any],
        requested_features: list[str] | None = None,
    ) -> list[tuple[Any, dict[str, Any] | None]]:
        version = config.entity_key_serialization_version
        keys = [
            serialize_entity_key(k, entity_key_serialization_version=version) for k in entity_keys
        ]
        found: dict[bytes, tuple[int, bytes]] = {}
        conn = self._connect(config)
        for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
            chunk = list(dict.fromkeys(keys[start : start + 500]))
            cursor = conn.execute(
                f"SELECT entity_key, event_ts_us, value FROM {self._table(config, table)} "
                f"WHERE entity_key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((key, (ts, value)) for key, ts, value in cursor)
        wanted = set(requested_features) if requested_features else None
        result: list[tuple[Any, dict[str, Any] | None]] = []
        for key in keys:
            hit = found.get(key)
            if hit is None:
                result.append((None, None))
                continue
            value = Value.FromString(hit[1])
            features = {
                name: feature
                for name, feature in value.map_val.val.items()
                if wanted is None or name in wanted
            }
            result.append((_from_epoch_us(hit[0]), features))
        return result

    def delete_entity_keys(self, config: Any, table: Any, entity_keys: Sequence[Any]) -> list[int]:
        """Delete the rows of `entity_keys` from one feature view's table (a person's erasure);
        returns the rows deleted per key (0 or 1), in order."""
        version = config.entity_key_serialization_version
        name = self._table(config, table)
        conn = self._connect(config)
        deleted = []
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (name.strip('"'),),
            ).fetchone()
            for key in entity_keys:
                if not exists:
                    deleted.append(0)
                    continue
                blob = serialize_entity_key(key, entity_key_serialization_version=version)
                cursor = conn.execute(f"DELETE FROM {name} WHERE entity_key = ?", (blob,))
                deleted.append(cursor.rowcount)
        return deleted

    def update(
        self,
        config: Any,
        tables_to_delete: Sequence[Any],
        tables_to_keep: Sequence[Any],
        entities_to_delete: Sequence[Any],
        entities_to_keep: Sequence[Any],
        partial: bool,
    ) -> None:
        conn = self._connect(config)
        with conn:
            for view in tables_to_keep:
                name = self._table(config, view)
                columns = {row[1] for row in conn.execute(f"PRAGMA table_info({name})")}
                if columns and "event_ts_us" not in columns:
                    # Feast's own SQLite layout (a state dir from before this store): the online
                    # store is a cache that pushes and materialization fill again.
                    conn.execute(f"DROP TABLE {name}")
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} "
                    "(entity_key BLOB PRIMARY KEY, event_ts_us INTEGER NOT NULL, value BLOB)"
                )
            for view in tables_to_delete:
                conn.execute(f"DROP TABLE IF EXISTS {self._table(config, view)}")

    def teardown(self, config: Any, tables: Sequence[Any], entities: Sequence[Any]) -> None:
        conn = self._connect(config)
        with conn:
            for view in tables:
                conn.execute(f"DROP TABLE IF EXISTS {self._table(config, view)}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SqliteRowWriter:
    """Writes rows of one stream-fed view (dicts: the entity, every feature, the event time) to
    the `local` store without Feast's per-row work, as `RedisRowWriter` does for `prod`: the
    entity key serialized once per id (cached), the row's map `Value` encoded straight from its
    Python values (`glamcast.platform.feast_values.map_value_encoder`, byte-equal to protobuf's),
    every row in one `upsert`. What `online_read` returns is what Feast's writer path would have
    stored (tests/unit/platform/test_sqlite_online_store.py)."""

    def __init__(self, store: WideSqliteOnlineStore, config: Any, view: Any, *, entity: str,
                 features: Mapping[str, str]) -> None:
        from glamcast.platform.feast_values import entity_key_encoder, map_value_encoder

        self.store, self.config, self.view, self.entity = store, config, view, entity
        self.encode = map_value_encoder(features)
        self.entity_key = entity_key_encoder(entity, config.entity_key_serialization_version)

    def write(self, rows: Sequence[Mapping[str, Any]], timestamp_col: str) -> None:
        if not rows:
            return
        entity, key, encode = self.entity, self.entity_key, self.encode
        self.store.upsert(self.config, self.view, [
            (key(row[entity]), _epoch_us(row[timestamp_col]), encode(row)) for row in rows])


def _epoch_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)
