"""Kafka records from the columnar day batches: validated event models, encoded, keyed, merged.

In: the world and its day batches (`TryOnDay`, `CommerceDay`, `SocialDay`). Out: `Record`s
``(topic, key, value, timestamp_ms)`` where `value` is `encode_event(model)` of a model validated
from the generated fields, and the key is what `glamcast.core.topics.TOPICS` says the topic is keyed by.

Ids are deterministic and unique within a run and across runs with other configs: every id
carries the run tag (a hash of the config), the day and a sequence number.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from glamcast.core import topics
from glamcast.core.events import CatalogEvent, CommerceEvent, SocialEvent, TryOnEvent, encode_event
from glamcast.simulator.commerce_events import EVENT_TYPES
from glamcast.simulator.social_posts import PLATFORMS
from glamcast.simulator.tryon_sessions import ACTIONS

if TYPE_CHECKING:
    from glamcast.simulator.commerce_events import CommerceDay
    from glamcast.simulator.social_posts import SocialDay
    from glamcast.simulator.tryon_sessions import TryOnDay
    from glamcast.simulator.world import World

#: Order of topics among records with the same timestamp.
TOPIC_ORDER = (topics.CATALOG, topics.TRYON, topics.COMMERCE, topics.SOCIAL)
_SESSION_NAMESPACE = uuid.UUID("6f1c8a52-3c1e-4f57-9a43-9d0c2f6f5e11")


class Record(NamedTuple):
    """One Kafka record as the simulator emits it."""

    topic: str
    key: bytes
    value: bytes
    timestamp_ms: int


@dataclass
class EncodedBatch:
    """Encoded records of one or more topics, not yet in time order."""

    ts_ms: np.ndarray  # (n,) int64
    topic: np.ndarray  # (n,) index into TOPIC_ORDER
    keys: list[bytes]
    values: list[bytes]

    @classmethod
    def empty(cls) -> EncodedBatch:
        return cls(np.empty(0, np.int64), np.empty(0, np.int8), [], [])

    @classmethod
    def concat(cls, batches: list[EncodedBatch]) -> EncodedBatch:
        keys: list[bytes] = []
        values: list[bytes] = []
        for batch in batches:
            keys += batch.keys
            values += batch.values
        return cls(np.concatenate([b.ts_ms for b in batches]),
                   np.concatenate([b.topic for b in batches]), keys, values)

    def split_sorted(self, before_ms: int) -> tuple[list[Record], EncodedBatch]:
        """(records with ts < before_ms in time order, the rest as a batch)."""
        order = np.lexsort((self.topic, self.ts_ms))  # stable: ties keep generation order
        cut = int(np.searchsorted(self.ts_ms[order], before_ms))
        head, tail = order[:cut].tolist(), order[cut:]
        ts, topic_index = self.ts_ms.tolist(), self.topic.tolist()
        records = [
            Record(TOPIC_ORDER[topic_index[i]], self.keys[i], self.values[i], ts[i]) for i in head
        ]
        rest = EncodedBatch(self.ts_ms[tail], self.topic[tail],
                            [self.keys[i] for i in tail.tolist()],
                            [self.values[i] for i in tail.tolist()])
        return records, rest


def iso_ms(ts_ms: np.ndarray) -> list[str]:
    """Epoch ms → ISO 8601 UTC strings with millisecond precision (``...T12:00:00.123Z``)."""
    text = np.datetime_as_string(np.asarray(ts_ms, dtype="datetime64[ms]"), unit="ms")
    return [value + "Z" for value in text.tolist()]


def _batch(topic: str, ts_ms: np.ndarray, keys: list[bytes], values: list[bytes]) -> EncodedBatch:
    return EncodedBatch(np.asarray(ts_ms, dtype=np.int64),
                        np.full(len(keys), TOPIC_ORDER.index(topic), dtype=np.int8), keys, values)


class RecordEncoder:
    """Turns the world's batches into records; holds the per-person and per-product lookups."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.tag = world.run_tag
        users, catalog = world.users, world.catalog
        self.user_ids: list[str] = users["user_id"].tolist()
        self.user_keys = [user_id.encode() for user_id in self.user_ids]
        self.platforms: list[str] = users["platform"].tolist()
        self.faces: list[dict | None] = [
            {"skin_tone": tone, "undertone": undertone, "face_shape": shape} if consented else None
            for tone, undertone, shape, consented in zip(
                users["skin_tone"].tolist(), users["undertone"].tolist(),
                users["face_shape"].tolist(), users["consented"].tolist(), strict=True)
        ]
        self.product_ids: list[str] = catalog["product_id"].tolist()
        self.categories: list[str] = catalog["category"].tolist()
        self.shades: list[str] = catalog["shade_hex"].tolist()
        self.finishes: list[str] = catalog["finish"].tolist()
        self.prices: list[float] = catalog["price"].tolist()
        self.category_codes: list[str] = catalog["category_code"].tolist()
        self.category_ids: list[str] = catalog["category_id"].tolist()
        self.shop_brands: list[str] = catalog["brand"].str.lower().tolist()  # REES46 style
        self.look_ids: list[str] = world.looks.look_ids

    # --- ids -------------------------------------------------------------------------------

    def session_id(self, day: int, session: int) -> str:
        return f"{self.tag}-s{day:03d}-{session:06d}"

    def shop_session(self, day: int, session: int) -> str:
        """REES46 `user_session`: a UUID, shared by a try-on session and its shop events."""
        return str(uuid.uuid5(_SESSION_NAMESPACE, self.session_id(day, session)))

    # --- topics ----------------------------------------------------------------------------

    def catalog(self) -> EncodedBatch:
        catalog = self.world.catalog
        start = iso_ms(np.array([self.world.config.start_ms]))[0]
        launched = iso_ms(catalog["launched_at_ms"].to_numpy())
        values = [
            encode_event(CatalogEvent.model_validate({
                "event_id": f"{self.tag}-c-{product_id}", "ts": start, "product_id": product_id,
                "brand": brand, "name": name, "category": category, "shade_hex": shade,
                "finish": finish, "price": price, "launched_at": launched_at,
            }))
            for product_id, brand, name, category, shade, finish, price, launched_at in zip(
                self.product_ids, catalog["brand"].tolist(), catalog["name"].tolist(),
                self.categories, self.shades, self.finishes, self.prices, launched, strict=True)
        ]
        keys = [product_id.encode() for product_id in self.product_ids]
        return _batch(topics.CATALOG, np.full(len(keys), self.world.config.start_ms), keys, values)

    def tryons(self, day: int, batch: TryOnDay) -> EncodedBatch:
        users = self.world.users
        upgraded = day >= users["upgrade_day"].to_numpy()
        versions = np.where(upgraded, users["upgraded_app_version"], users["initial_app_version"])
        versions = versions.tolist()
        sessions = [self.session_id(day, s) for s in range(batch.session_user.size)]
        actions = [action.value for action in ACTIONS]
        prefix = f"{self.tag}-t{day:03d}-"
        values = []
        for i, (ts, u, s, a, p, dwell, look) in enumerate(zip(
            iso_ms(batch.ts_ms), batch.user.tolist(), batch.session.tolist(),
            batch.action.tolist(), batch.product.tolist(), batch.dwell_ms.tolist(),
            batch.look.tolist(), strict=True,
        )):
            fields = {
                "event_id": f"{prefix}{i:07d}", "ts": ts, "user_id": self.user_ids[u],
                "session_id": sessions[s], "action": actions[a],
                "product_id": self.product_ids[p], "category": self.categories[p],
                "shade_hex": self.shades[p], "finish": self.finishes[p], "dwell_ms": dwell,
                "platform": self.platforms[u], "app_version": versions[u],
            }
            if look >= 0:
                fields["look_id"] = self.look_ids[look]
            if self.faces[u] is not None:
                fields["face"] = self.faces[u]
            values.append(encode_event(TryOnEvent.model_validate(fields)))
        keys = [self.user_keys[u] for u in batch.user.tolist()]
        return _batch(topics.TRYON, batch.ts_ms, keys, values)

    def commerce(self, day: int, batch: CommerceDay) -> EncodedBatch:
        types = [event_type.value for event_type in EVENT_TYPES]
        session_uuid = {s: self.shop_session(day, s) for s in np.unique(batch.session).tolist()}
        prefix = f"{self.tag}-e{day:03d}-"
        values = [
            encode_event(CommerceEvent.model_validate({
                "event_id": f"{prefix}{i:07d}", "event_time": ts, "event_type": types[kind],
                "product_id": self.product_ids[p], "category_id": self.category_ids[p],
                "category_code": self.category_codes[p], "brand": self.shop_brands[p],
                "price": self.prices[p], "user_id": self.user_ids[u],
                "user_session": session_uuid[s],
            }))
            for i, (ts, kind, p, u, s) in enumerate(zip(
                iso_ms(batch.ts_ms), batch.event_type.tolist(), batch.product.tolist(),
                batch.user.tolist(), batch.session.tolist(), strict=True))
        ]
        keys = [self.user_keys[u] for u in batch.user.tolist()]
        return _batch(topics.COMMERCE, batch.ts_ms, keys, values)

    def social(self, day: int, batch: SocialDay) -> EncodedBatch:
        authors = self.world.authors
        platforms = [platform.value for platform in PLATFORMS]
        keys, values = [], []
        for i, (ts, a, tags, brands, products, views, likes, comments, shares) in enumerate(zip(
            iso_ms(batch.ts_ms), batch.author.tolist(), batch.hashtags, batch.brands,
            batch.products, batch.views.tolist(), batch.likes.tolist(),
            batch.comments.tolist(), batch.shares.tolist(), strict=True,
        )):
            post_id = f"{self.tag}-post{day:03d}-{i:06d}"
            keys.append(post_id.encode())
            values.append(encode_event(SocialEvent.model_validate({
                "event_id": f"{self.tag}-m{day:03d}-{i:06d}", "ts": ts,
                "platform": platforms[authors.platform[a]], "post_id": post_id,
                "author_id": authors.ids[a], "hashtags": tags, "brands": brands,
                "product_ids": products, "likes": likes, "comments": comments,
                "shares": shares, "views": views, "lang": authors.lang[a],
            })))
        return _batch(topics.SOCIAL, batch.ts_ms, keys, values)
