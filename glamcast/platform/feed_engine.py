"""The feed engine: the champions, the candidate pools and the online store behind one call.

Shared by the API (`glamcast.serving.feed`) and the feed stream stage (`streams/feed_updates.py`).
The scoring itself (candidates, the blend, reasons, the `Feed` answer) is pure and lives in
`models.feed_scoring`; this module does the I/O around it.

`FeedEngine` keeps the champion and the candidate pools (`FeedSnapshot`, immutable, swapped on
reload) and reads a person's features (`feed_ranking_v1`, the user-keyed views) in one online
read. Term trends and product popularity are global: `maybe_refresh` re-reads them every
`feed_pool_refresh_s`; `maybe_reload` asks the registry every `feed_reload_poll_s` whether the
champion alias moved and loads the new version. An unknown person, or one without features, gets
the trending feed (never an error). The newest forecast run's trend looks
(`glamcast.platform.trend_looks`) join the champion's looks whenever the pools are rebuilt. Weights and thresholds come from the settings
(`FeedWeights.from_settings`).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from glamcast.core.features import (
    FEED_RANKING_SERVICE,
    PREFERENCE_FEATURES,
    PURCHASED_FEATURE,
    USER_PREFERENCES_VIEW,
)
from glamcast.core.names import CATALOG, USER_COL
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.model_registry import champion_version, load_model
from glamcast.platform.trend_looks import (
    latest_signature,
    latest_trend_looks,
    trend_looks_for_feed,
)
from models.feed_ranker import PRODUCT_STAT_FEATURES, product_stat_matrix, ranked_feed
from models.feed_scoring import (
    ACTIVITY_FEATURES,
    Feed,
    FeedSnapshot,
    FeedWeights,
    build_snapshot,
    rank_feed,
    snapshot_trend_terms,
)

log = logging.getLogger(__name__)

#: User-keyed features of `feed_ranking_v1` the ranking reads (one online read per request).
USER_REFS = (
    *(f"user_activity_fv:{name}" for name in ACTIVITY_FEATURES),
    f"user_history_fv:{PURCHASED_FEATURE}",
    *(f"{USER_PREFERENCES_VIEW}:{name}" for name in PREFERENCE_FEATURES),
)
#: Product popularity read into the pools (trending order of a cold feed).
POPULARITY_REF = "product_popularity_fv:product_tries_24h"
TREND_REF = "term_trends_fv:trend_score"
UNDERTONES = ("cool", "neutral", "warm")


# --- the engine: stores, registry, reload ---------------------------------------------------------


def load_catalog(settings: Settings) -> pd.DataFrame:
    """The lake's catalogue, latest state per product (empty frame when there is none yet)."""
    try:
        frame = lake.read_dataset(settings, CATALOG)
    except (FileNotFoundError, lake.LakeError):
        return pd.DataFrame({"product_id": pd.Series(dtype=object)})
    if frame.empty or "product_id" not in frame:
        return pd.DataFrame({"product_id": pd.Series(dtype=object)})
    return frame.drop_duplicates("product_id", keep="last").reset_index(drop=True)


def condition_looks(model: Any, per_condition: int, version: int) -> pd.DataFrame:
    """`per_condition` looks of a look-generator model (pyfunc `predict`) for every (skin tone,
    undertone): rows of condition_tone, condition_undertone, look, look_id, product_id."""
    conditions = pd.DataFrame(
        [(tone, undertone) for tone in range(1, 11) for undertone in UNDERTONES],
        columns=["skin_tone", "undertone"],
    ).assign(n=per_condition, seed=version)
    out = model.predict(conditions)
    out["condition_tone"] = conditions["skin_tone"].to_numpy()[out["request"].to_numpy()]
    out["condition_undertone"] = conditions["undertone"].to_numpy()[out["request"].to_numpy()]
    out["look_id"] = [f"look-v{version}-t{t}-{u}-{n}" for t, u, n in zip(
        out["condition_tone"], out["condition_undertone"], out["look"], strict=True)]
    return out[["condition_tone", "condition_undertone", "look", "look_id", "product_id"]]


class FeedEngine:
    """The champion, its candidate pools and the online store, behind `feed(user_id, k)`.

    Thread-safe for readers: a request takes `snapshot` once and ranks on it while a reload
    builds the next one. Construct, then `start()` (loads the champion and the pools); call
    `maybe_reload()` and `maybe_refresh()` from a background loop (both are cheap when not due).
    """

    def __init__(self, settings: Settings, store: Any = None) -> None:
        self.settings = settings
        self.weights = FeedWeights.from_settings(settings)
        self._store = store
        self._catalog: pd.DataFrame | None = None
        self._looks: pd.DataFrame | None = None
        self._trend_looks: pd.DataFrame | None = None  # glamcast.platform.trend_looks
        self._trend_signature: tuple | None = None
        self._lock = threading.Lock()
        self._last_poll = -math.inf
        self._last_refresh = -math.inf
        self.snapshot: FeedSnapshot = build_snapshot(
            pd.DataFrame({"product_id": pd.Series(dtype=object)}), weights=self.weights)
        self.started = False
        # the learned ranker (jobs/train_ranker): its champion and the product features of the
        # pools it reads (`_refresh_ranker_stats`); None: the blend ranks
        self.ranker: Any = None
        self.ranker_version: int | None = None
        self._ranker_stats: tuple[FeedSnapshot, Any] | None = None
        self.store_error: str | None = None

    # -- stores --

    @property
    def store(self) -> Any:
        if self._store is None:
            from glamcast.platform.features import feature_store

            self._store = feature_store(self.settings)
        return self._store

    def user_features(self, user_id: str) -> dict[str, Any] | None:
        """The person's `feed_ranking_v1` user-keyed features: one online read (None: none)."""
        try:
            values = self.store.get_online_features(
                features=list(USER_REFS), entity_rows=[{USER_COL: user_id}]
            ).to_dict()
        except Exception as exc:  # noqa: BLE001 — a store outage degrades to the trending feed
            self.store_error = f"{type(exc).__name__}: {exc}"
            log.warning("online features for %s unavailable: %s", user_id, self.store_error)
            return None
        self.store_error = None
        row = {name.split("__")[-1]: column[0] for name, column in values.items()}
        return row

    def user_preferences(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The explicit preferences (`user_preferences_fv`) of several people in one online read,
        for the feed stage, which computes the other features itself ({} on a store error)."""
        refs = [ref for ref in USER_REFS if ref.startswith(f"{USER_PREFERENCES_VIEW}:")]
        try:
            values = self.store.get_online_features(
                features=refs, entity_rows=[{USER_COL: user} for user in user_ids]).to_dict()
        except Exception as exc:  # noqa: BLE001 — the feed ranks without them meanwhile
            log.warning("preferences of %d people unavailable: %s", len(user_ids), exc)
            return {}
        names = {ref.split(":", 1)[1] for ref in refs}
        columns = {key.split("__")[-1]: column for key, column in values.items()}
        return {user: {name: columns[name][i] for name in names}
                for i, user in enumerate(user_ids)}

    def online_store_ready(self) -> bool:
        """Whether the online store answers and knows the feed's feature service."""
        try:
            self.store.get_feature_service(FEED_RANKING_SERVICE)
            self.store.get_online_features(features=list(USER_REFS[:1]),
                                           entity_rows=[{USER_COL: "__readyz__"}])
        except Exception as exc:  # noqa: BLE001 — any store error means "not ready"
            self.store_error = f"{type(exc).__name__}: {exc}"
            return False
        return True

    # -- models --

    def _load_recommender(self, version: int) -> Any:
        model = load_model(self.settings, self.settings.recommender_model_name, version)
        return model.unwrap_python_model().recommender

    def _generate_looks(self, version: int) -> pd.DataFrame | None:
        """Looks of the look-generator champion for every (skin tone, undertone)."""
        model = load_model(self.settings, self.settings.look_gan_model_name, version)
        return condition_looks(model, self.settings.feed_looks_per_condition, version)

    def _all_looks(self) -> pd.DataFrame | None:
        """The champion's looks plus the newest forecast run's trend looks
        (`glamcast.platform.trend_looks`, re-read when a run wrote new ones)."""
        try:
            signature = latest_signature(self.settings)
            if signature != self._trend_signature:
                self._trend_looks = trend_looks_for_feed(latest_trend_looks(self.settings))
                self._trend_signature = signature
        except Exception:  # trend looks are optional; the rest still serves
            log.exception("trend looks unavailable; serving without them")
        trend = self._trend_looks
        if trend is None or trend.empty:
            return self._looks
        if self._looks is None or self._looks.empty:
            return trend
        return pd.concat([self._looks, trend], ignore_index=True)

    def start(self) -> None:
        """Load the champions and the pools now (a missing champion serves trending feeds)."""
        self.maybe_reload(force=True)
        self.maybe_refresh(force=True)
        self.started = True

    def maybe_reload(self, force: bool = False) -> bool:
        """Reload when the champion alias moved (asked at most every `feed_reload_poll_s`).
        Returns whether a new version is now served."""
        now = time.monotonic()
        if not force and now - self._last_poll < self.settings.feed_reload_poll_s:
            return False
        self._last_poll = now
        ranker_moved = self._maybe_reload_ranker(force)
        version = champion_version(self.settings, self.settings.recommender_model_name)
        look_version = champion_version(self.settings, self.settings.look_gan_model_name)
        current = self.snapshot
        if (not force and version == current.model_version
                and look_version == current.look_version):
            if ranker_moved:
                self._refresh_ranker_stats()
            return ranker_moved
        recommender = current.recommender
        if version != current.model_version or (force and version is not None):
            recommender = None if version is None else self._load_recommender(version)
        if look_version != current.look_version or force:
            try:
                self._looks = None if look_version is None else self._generate_looks(look_version)
            except Exception:  # looks are optional; products still serve
                log.exception("look generator v%s failed; serving products only", look_version)
                self._looks = None
        self._catalog = load_catalog(self.settings)
        with self._lock:
            self.snapshot = self._build(recommender, version, look_version)
        log.info("feed serves recommender v%s, look generator v%s", version, look_version)
        self._refresh_ranker_stats()
        return True

    def maybe_refresh(self, force: bool = False) -> bool:
        """Re-read term trends and product popularity into the pools when due."""
        now = time.monotonic()
        if not force and now - self._last_refresh < self.settings.feed_pool_refresh_s:
            return False
        self._last_refresh = now
        current = self.snapshot
        with self._lock:
            self.snapshot = self._build(current.recommender, current.model_version,
                                        current.look_version)
        self._refresh_ranker_stats()
        return True

    def _build(self, recommender: Any, version: int | None, look_version: int | None
               ) -> FeedSnapshot:
        catalog = self._catalog if self._catalog is not None else load_catalog(self.settings)
        self._catalog = catalog
        plain = build_snapshot(catalog, recommender, candidates=self.settings.feed_candidates,
                               weights=self.weights)
        trend_scores, live = self._global_features(plain)
        return build_snapshot(
            catalog, recommender, model_version=version, trend_scores=trend_scores,
            live_popularity=live, looks=self._all_looks(), look_version=look_version,
            weights=self.weights, candidates=self.settings.feed_candidates,
        )

    def _global_features(self, plain: FeedSnapshot) -> tuple[dict[str, float], dict[str, float]]:
        """Online term trend scores of the catalogue's terms and product tries over 24 h."""
        terms = snapshot_trend_terms(plain)
        trend_scores: dict[str, float] = {}
        live: dict[str, float] = {}
        try:
            if terms:
                values = self.store.get_online_features(
                    features=[TREND_REF], entity_rows=[{"term": t} for t in terms]).to_dict()
                trend_scores = {t: float(s) for t, s in zip(values["term"], values["trend_score"],
                                                            strict=True) if s is not None}
            if plain.n_items:
                values = self.store.get_online_features(
                    features=[POPULARITY_REF],
                    entity_rows=[{"product_id": p} for p in plain.item_ids]).to_dict()
                live = {p: float(n) for p, n in zip(values["product_id"],
                                                   values["product_tries_24h"], strict=True)
                        if n is not None}
        except Exception as exc:  # noqa: BLE001 — pools still rank on the model and launch dates
            self.store_error = f"{type(exc).__name__}: {exc}"
            log.warning("global feed features unavailable: %s", self.store_error)
        return trend_scores, live

    # -- the learned ranker --

    def _maybe_reload_ranker(self, force: bool = False) -> bool:
        """Load the ranker champion (`ranker_model_name`) when its alias moved. None registered,
        or a version that fails to load: the blend ranks. Returns whether the ranker changed."""
        version = champion_version(self.settings, self.settings.ranker_model_name)
        if version == self.ranker_version and not force:
            return False
        ranker = None
        if version is not None:
            try:
                ranker = load_model(self.settings, self.settings.ranker_model_name,
                                    version).unwrap_python_model().ranker
            except Exception:
                log.exception("ranker v%s failed to load; the blend ranks", version)
                version = None
        changed = version != self.ranker_version
        self.ranker, self.ranker_version = ranker, version
        log.info("feed ranks with %s", "the blend" if version is None else f"ranker v{version}")
        return changed

    def _refresh_ranker_stats(self) -> None:
        """The ranker's product features (`PRODUCT_STAT_FEATURES` of product_popularity_fv)
        for the snapshot's items: one online read per pool rebuild, none per request."""
        snapshot = self.snapshot
        if self.ranker is None or not snapshot.n_items:
            self._ranker_stats = None
            return
        try:
            values = self.store.get_online_features(
                features=[f"product_popularity_fv:{name}" for name in PRODUCT_STAT_FEATURES],
                entity_rows=[{"product_id": p} for p in snapshot.item_ids]).to_dict()
        except Exception as exc:  # noqa: BLE001 — the ranker reads them as unknown meanwhile
            log.warning("ranker product features unavailable: %s", exc)
            self._ranker_stats = None
            return
        frame = pd.DataFrame({name: values[name] for name in PRODUCT_STAT_FEATURES},
                             index=pd.Index(values["product_id"], dtype=object))
        self._ranker_stats = (snapshot, product_stat_matrix(snapshot, frame))

    # -- the feed --

    def feed(self, user_id: str, k: int, features: Mapping[str, Any] | None = None) -> Feed:
        """A person's feed: their online features (unless given) ranked on the current snapshot."""
        snapshot = self.snapshot
        if features is None:
            features = self.user_features(user_id)
        ranker, version, stats = self.ranker, self.ranker_version, self._ranker_stats
        if ranker is not None:
            feed = ranked_feed(ranker, snapshot, user_id, features, k, self.weights,
                               stats[1] if stats is not None and stats[0] is snapshot else None)
            return feed.model_copy(update={"ranker_version": version})
        return rank_feed(snapshot, user_id, features, k, self.weights)


def sample_feed(settings: Settings, user_id: str, k: int = 20) -> Feed:
    """One feed for a person, from the stores as they are now (the demo calls this)."""
    engine = FeedEngine(settings)
    engine.start()
    return engine.feed(user_id, k)


def feed_message(feed: Feed) -> bytes:
    """The `glamcast.feed.v1` record value of a feed (JSON, UTF-8): every field of `Feed`
    (`model_version` null without a champion); an item carries `product_id` or `look_id`."""
    message = feed.model_dump(mode="json")
    message["items"] = [{name: value for name, value in item.items() if value is not None}
                        for item in message["items"]]
    return json.dumps(message, separators=(",", ":")).encode()
