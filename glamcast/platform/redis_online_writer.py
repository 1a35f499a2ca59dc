"""Stream-fed feature rows written to Feast's Redis online store in Feast's own layout, in one
pipelined round trip and without Feast's per-row work.

Feast's `RedisOnlineStore.online_write_batch` reads every key's ``_ts:<view>`` first (a second
round trip, to keep an older row from replacing a newer one), then per row serializes the entity
key, hashes every feature name with mmh3 and builds and serializes one `Value` proto per feature.
`RedisRowWriter` writes the same hash fields with the same bytes (Feast's
`get_online_features` reads them unchanged; tests/integration/platform/test_redis_online_writer.py):

- the key: the serialized `EntityKey` + the project, cached per entity id;
- ``mmh3("<view>:<feature>")`` per feature, computed once per view;
- each value encoded straight from the row's Python value as the `Value` proto's bytes (one tag
  byte and the payload; ``b""`` for null, Feast's unset `Value`);
- ``_ts:<view>``: the row's event time as a serialized `Timestamp`;
- ``EXPIRE`` when the store sets ``key_ttl_seconds``.

No read before the write (Feast's ``skip_dedup`` mode): the stream stage's rows of a key only
move forward in event time (the window's anchor `T` never goes back, and a restarted worker
rebuilds its windows from the lake), so the check has nothing to reject; the cost is that a
second writer of the same key with older rows would win. Only the stream stage's views
(`glamcast.platform.features._STREAM_VIEWS`) are written this way; materialization and pushes
keep Feast's writer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from redis.exceptions import ResponseError

from glamcast.platform.feast_values import ENCODERS, encode_timestamp, entity_key_encoder

# --- RESP, the Redis wire protocol: commands as arrays of bulk strings ---------------------------

_CRLF = b"\r\n"
_NULL_BULK = b"$0\r\n\r\n"


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _resp_encoder(kind: str) -> Callable[[Any], bytes]:
    """Feature value → its `Value` bytes as a RESP bulk string; counts 0–127 from a table."""
    encode = ENCODERS[kind]
    if kind in ("Int64", "Int32"):
        table = [_bulk(encode(n)) for n in range(128)]

        def small_first(value: Any) -> bytes:
            if value is None:
                return _NULL_BULK
            if 0 <= value < 128:
                return table[value]
            return _bulk(encode(value))

        return small_first

    def any_value(value: Any) -> bytes:
        return _NULL_BULK if value is None else _bulk(encode(value))

    return any_value


class RedisRowWriter:
    """Writes rows of one stream-fed view to a Feast Redis online store (see the module).

    `client`: a redis-py client of the store (`RedisOnlineStore._get_client`); `project`,
    `key_version` (`entity_key_serialization_version`) and `key_ttl_s` from the store's config;
    `view_name`: the view's name as Feast keys it (with its version suffix when versioning is
    on); `entity`: the join key; `features`: feature name → Feast type name.

    Each row is one ``HSET`` whose RESP bytes are built here from per-field pieces prepared once
    (redis-py's per-command packing was a third of the write); all rows go out in one send on
    one connection of the client's pool, and every reply is read before it is given back."""

    def __init__(self, client: Any, *, project: str, key_version: int, key_ttl_s: int | None,
                 view_name: str, entity: str, features: Mapping[str, str]) -> None:
        from feast.infra.online_stores.helpers import _mmh3

        unknown = sorted({kind for kind in features.values()} - set(ENCODERS))
        if unknown:
            raise ValueError(f"no Redis encoder for feature type(s) {unknown}")
        self.client = client
        self.entity = entity
        self.key_ttl_s = key_ttl_s
        self.ts_field = f"_ts:{view_name}".encode()
        self.fields = [(name, _bulk(_mmh3(f"{view_name}:{name}")), _resp_encoder(kind))
                       for name, kind in features.items()]
        # HSET key _ts:<view> ts (field value)*: 4 + 2 per feature bulk strings
        self._hset = b"*%d\r\n%s" % (4 + 2 * len(self.fields), _bulk(b"HSET"))
        self._ts_field = _bulk(self.ts_field)
        self._expire = (b"*3\r\n" + _bulk(b"EXPIRE"), _bulk(str(key_ttl_s).encode())
                        ) if key_ttl_s else None
        suffix = project.encode("utf-8")
        entity_key = entity_key_encoder(entity, key_version)

        @lru_cache(maxsize=200_000)
        def redis_key(entity_id: str) -> bytes:
            return entity_key(entity_id) + suffix

        self.redis_key = redis_key

    def command(self, row: Mapping[str, Any], event_time: datetime) -> bytes:
        """The RESP bytes of one row's ``HSET`` (and ``EXPIRE`` with a TTL)."""
        key = _bulk(self.redis_key(row[self.entity]))
        parts = [self._hset, key, self._ts_field, _bulk(encode_timestamp(event_time))]
        for name, field, encode in self.fields:
            parts.append(field)
            parts.append(encode(row[name]))
        if self._expire is not None:
            parts.extend((self._expire[0], key, self._expire[1]))
        return b"".join(parts)

    def write(self, rows: Sequence[Mapping[str, Any]], timestamp_col: str) -> None:
        """Write every row in one round trip; raises the first error reply (every reply is
        read first, so the connection stays in step)."""
        if not rows:
            return
        payload = b"".join(self.command(row, row[timestamp_col]) for row in rows)
        replies = len(rows) * (2 if self._expire is not None else 1)
        pool = self.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command([payload])
            errors = []
            for _ in range(replies):
                try:
                    connection.read_response()
                except ResponseError as error:  # a reply of the server: the stream is in step
                    errors.append(error)
        except BaseException:
            connection.disconnect()  # unread replies would answer the next command
            raise
        finally:
            pool.release(connection)
        if errors:
            raise errors[0]
