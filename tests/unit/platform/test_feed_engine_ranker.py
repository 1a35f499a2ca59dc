"""The feed engine's ranker path (no services): the champion ranker orders the candidates with
the same single online read per request; none registered, or one that fails to load, leaves the
blend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from glamcast.core.settings import Settings
from glamcast.platform import feed_engine
from glamcast.platform.feed_engine import USER_REFS, FeedEngine
from models import feed_ranker as fr
from models.feed_scoring import build_snapshot, rank_feed
from models.recommender_pyfunc import FactorRecommender

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CATALOG = pd.DataFrame({
    "product_id": [f"p{i}" for i in range(8)],
    "category": ["lipstick", "blush"] * 4,
    "shade_hex": ["#F07850", "#B0182A", "#D8A890", "#101010"] * 2,
    "finish": ["matte", "satin"] * 4,
    "brand": ["Acme"] * 8,
    "price": [10.0 * (i + 1) for i in range(8)],
    "launched_at": [NOW - timedelta(days=3 * i) for i in range(8)],
})
PERSON = {"fav_shade_family_7d": "coral", "tries_7d_lipstick": 4, "skin_tone": 5}


class Answer:
    def __init__(self, values: dict[str, list]) -> None:
        self.values = values

    def to_dict(self) -> dict[str, list]:
        return self.values


class FakeStore:
    """Answers the user read with PERSON and the product read with tries = item number."""

    def __init__(self) -> None:
        self.reads: list[list[str]] = []

    def get_online_features(self, features: list[str], entity_rows: list[dict]) -> Answer:
        self.reads.append(list(features))
        names = [ref.split(":", 1)[1] for ref in features]
        if "product_id" in entity_rows[0]:
            ids = [row["product_id"] for row in entity_rows]
            return Answer({"product_id": ids, **{name: [float(p[1:]) for p in ids]
                                                 for name in names}})
        return Answer({"user_id": [entity_rows[0]["user_id"]],
                       **{name: [PERSON.get(name)] for name in names}})


def trained_ranker() -> fr.FeedRanker:
    """A ranker that learned to prefer a low price (so it disagrees with the blend)."""
    rng = np.random.default_rng(0)
    n = 4000
    table = pd.DataFrame(rng.random((n, len(fr.FEATURES))), columns=list(fr.FEATURES))
    table[fr.LABEL_COL] = (table["price"] < 0.2).astype(int) * 3
    table[fr.REQUEST_COL] = np.repeat([f"r{i:03d}" for i in range(200)], 20)
    table["product_id"] = "p"
    return fr.train_ranker(table, fr.RankerConfig(n_estimators=20, min_child_samples=10))


def engine_with(monkeypatch: pytest.MonkeyPatch, version: int | None, model: Any) -> FeedEngine:
    recommender = FactorRecommender.build(
        ["u1"], list(CATALOG["product_id"]), np.ones((1, 2), np.float32),
        np.linspace(0, 1, 16, dtype=np.float32).reshape(8, 2), None, np.array([], int),
        np.array([], int), np.ones(8))

    def champion(settings: Settings, name: str) -> int | None:
        return version if name == settings.ranker_model_name else None

    def load(settings: Settings, name: str, v: int) -> Any:
        if isinstance(model, Exception):
            raise model
        return type("PyFunc", (), {"unwrap_python_model": lambda self: model})()

    monkeypatch.setattr(feed_engine, "champion_version", champion)
    monkeypatch.setattr(feed_engine, "load_model", load)
    engine = FeedEngine(Settings(), store=FakeStore())
    engine.snapshot = build_snapshot(CATALOG, recommender, now=NOW)
    engine._maybe_reload_ranker(force=True)
    engine._refresh_ranker_stats()
    return engine


def test_the_champion_ranker_orders_the_feed_with_one_user_read_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ranker = trained_ranker()
    engine = engine_with(monkeypatch, 3, type("Model", (), {"ranker": ranker})())
    assert engine.ranker is ranker and engine.ranker_version == 3
    store = engine.store
    assert len(store.reads) == 1 and all(ref.startswith("product_popularity_fv:")
                                         for ref in store.reads[0])  # the pools' read
    feed = engine.feed("u1", 5)
    assert store.reads[1:] == [list(USER_REFS)]  # one online read for the request
    snapshot = engine.snapshot
    stats = fr.product_stat_matrix(snapshot, pd.DataFrame(
        {name: [float(p[1:]) for p in snapshot.item_ids] for name in fr.PRODUCT_STAT_FEATURES},
        index=snapshot.item_ids))
    expected = fr.ranked_feed(ranker, snapshot, "u1", PERSON, 5, engine.weights, stats)
    assert [i.product_id for i in feed.items] == [i.product_id for i in expected.items]
    assert feed.ranker_version == 3  # the answer says which ranker ordered it
    assert [i.product_id for i in feed.items] != [
        i.product_id for i in rank_feed(snapshot, "u1", PERSON, 5, engine.weights).items]


@pytest.mark.parametrize("version, model", [(None, None), (4, RuntimeError("broken artifact"))])
def test_no_ranker_champion_or_a_broken_one_serves_the_blend(
    monkeypatch: pytest.MonkeyPatch, version: int | None, model: Any,
) -> None:
    engine = engine_with(monkeypatch, version, model)
    assert engine.ranker is None and engine.ranker_version is None
    feed = engine.feed("u1", 5)
    blend = rank_feed(engine.snapshot, "u1", PERSON, 5, engine.weights)
    assert [i.model_dump() for i in feed.items] == [i.model_dump() for i in blend.items]
    assert feed.ranker_version is None
    assert engine.store.reads == [list(USER_REFS)]  # no product read without a ranker
