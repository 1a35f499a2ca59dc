"""The ranker's training data against a real (local) Feast store: no leakage.

Each test has its own Feast project, state dir and lake. The offline store is filled as the
feature stage fills it: after each event, that person's and that product's feature rows. A
planted event after a request's time must change no feature of that request's row (user
features as of the request, product features as of its pools), while a request after the
planted event does see it; label windows start strictly after their request, and the training
requests' label windows end before the holdout begins.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest

from glamcast.core.features import EVENT_COLUMNS, PRODUCT_POPULARITY_VIEW, USER_ACTIVITY_VIEW
from glamcast.core.settings import Settings
from glamcast.platform import features
from jobs.train_ranker import (
    TrainRankerConfig,
    build_ranker_data,
    product_stats_at,
    user_features_at,
)
from models import feed_ranker as fr
from models.recommender_pyfunc import FactorRecommender
from streams.features import FeatureState

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, tzinfo=UTC)
CATEGORIES = ["lipstick", "blush", "eyeshadow"]
PRODUCTS = [f"p{i}" for i in range(12)]
CATALOG = pd.DataFrame({
    "product_id": PRODUCTS,
    "category": [CATEGORIES[i % 3] for i in range(12)],
    "shade_hex": ["#F07850", "#B0182A", "#D8A890", "#101010"] * 3,
    "finish": ["matte", "satin", "gloss"] * 4,
    "brand": ["Acme", "Beta"] * 6,
    "price": [10.0 + i for i in range(12)],
    "launched_at": [T0 - timedelta(days=30)] * 12,
})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", lake_uri=str(tmp_path / "lake"),
                    feast_project=f"t{uuid4().hex[:10]}")


def simulated_events(seed: int, users: int = 5, count: int = 160, days: float = 4) -> pd.DataFrame:
    rng = random.Random(seed)
    actions = ["try_on"] * 5 + ["shade_swap", "like", "save", "add_to_cart", "purchase", "dismiss"]
    rows = []
    for i in range(count):
        product = rng.randrange(12)
        rows.append((f"ev{seed}-{i}", T0 + timedelta(seconds=rng.uniform(0, days * 86_400)),
                     f"u{rng.randrange(users)}", PRODUCTS[product], rng.choice(actions),
                     CATEGORIES[product % 3], "#F07850", "matte", 1000,
                     rng.choice([None, 3, 7]), rng.choice([None, "warm"])))
    columns = ["event_id", "ts", "user_id", "product_id", "action", "category", "shade_hex",
               "finish", "dwell_ms", "face_skin_tone", "face_undertone"]  # EVENT_COLUMNS
    frame = pd.DataFrame(rows, columns=columns).sort_values("ts", kind="stable")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.reset_index(drop=True)


def offline_rows(events: pd.DataFrame, start: int = 0) -> tuple[list[dict], list[dict]]:
    """The feature stage's offline rows (its own window state, `streams.features.FeatureState`)
    after each event from `start` on: the event's person and product as of that event."""
    state = FeatureState()
    users, products = [], []
    for i, event in enumerate(events[list(EVENT_COLUMNS)].itertuples(index=False)):
        values = [None if not isinstance(v, str) and pd.isna(v) else v for v in event]
        values[1] = pd.Timestamp(values[1]).to_pydatetime()
        state.add(*values)
        rows = state.snapshot()
        if i >= start:
            users.extend(rows.users)
            products.extend(rows.products)
    return users, products


def write_offline(store, users: list[dict], products: list[dict]) -> None:
    features.write_offline(store, USER_ACTIVITY_VIEW, users)
    features.write_offline(store, PRODUCT_POPULARITY_VIEW, products)


def test_a_planted_event_after_the_request_is_seen_by_no_feature_of_its_row(
    settings: Settings,
) -> None:
    features.apply(settings)
    store = features.feature_store(settings)
    events = simulated_events(1)
    write_offline(store, *offline_rows(events))
    requests = fr.sample_requests(events, T0, T0 + timedelta(days=4))
    pool_times = sorted(pd.to_datetime(requests["pool_ts"], utc=True).unique())
    users_before = user_features_at(settings, requests, store)
    stats_before = product_stats_at(settings, pool_times, PRODUCTS, store)
    assert len(users_before) == len(requests) and users_before["last_event_ms"].notna().any()
    assert any(frame["product_tries_7d"].notna().any() for frame in stats_before.values())

    # plant, one millisecond after a request, a try-on by its person of a blush, as the
    # feature stage would record it (its feature rows land in the offline store)
    request = requests.iloc[len(requests) // 2]
    planted_ts = request["request_ts"] + pd.Timedelta(milliseconds=1)
    planted = pd.DataFrame([{**events.iloc[0].to_dict(), "event_id": "planted",
                             "ts": planted_ts, "user_id": request["user_id"],
                             "product_id": "p4", "action": "try_on", "category": "blush"}])
    with_planted = pd.concat([events, planted], ignore_index=True).sort_values(
        "ts", kind="stable").reset_index(drop=True)
    position = int(np.flatnonzero(with_planted["event_id"] == "planted")[0])
    users_rows, product_rows = offline_rows(with_planted, start=position)
    write_offline(store, users_rows[:1], product_rows[:1])

    users_after = user_features_at(settings, requests, store)
    stats_after = product_stats_at(settings, pool_times, PRODUCTS, store)
    pd.testing.assert_frame_equal(users_after, users_before)
    for moment in stats_before:
        pd.testing.assert_frame_equal(stats_after[moment], stats_before[moment])

    # not vacuous: a request just after the planted event (and before the person's next real
    # event, one second after their request) sees it
    later = pd.DataFrame({"user_id": [request["user_id"]] * 2,
                          "request_ts": [planted_ts - pd.Timedelta(milliseconds=1),
                                         planted_ts + pd.Timedelta(milliseconds=500)]})
    seen = user_features_at(settings, later, store)
    assert seen["last_event_ms"].iloc[1] == planted_ts.value // 1_000_000
    assert int(seen["tries_7d_blush"].iloc[1]) == int(seen["tries_7d_blush"].fillna(0).iloc[0]) + 1


def test_label_windows_start_after_their_request_and_training_ends_before_the_holdout(
    settings: Settings,
) -> None:
    features.apply(settings)
    store = features.feature_store(settings)
    events = simulated_events(2, users=6, count=220, days=6)
    write_offline(store, *offline_rows(events))
    rng = np.random.default_rng(0)
    users = sorted(events["user_id"].unique())
    recommender = FactorRecommender.build(
        users, PRODUCTS, rng.normal(size=(len(users), 4)), rng.normal(size=(12, 4)), None,
        seen_users=np.array([], int), seen_items=np.array([], int), popularity=np.ones(12))
    config = TrainRankerConfig(test_days=2, horizon_hours=12)
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=6)
    data = build_ranker_data(settings, events, CATALOG, recommender, start, end, config,
                             store=store)
    assert data.rows["rows.train_groups"] > 0 and data.rows["rows.test_groups"] > 0
    requests = fr.sample_requests(events, start, end)
    when = dict(zip(requests["request_id"], requests["request_ts"], strict=True))
    cutoff = pd.Timestamp(end) - pd.Timedelta(days=2)
    horizon = pd.Timedelta(hours=12)
    train_times = data.train["request_id"].map(when)
    assert (train_times + horizon <= cutoff).all()
    assert (data.test["request_id"].map(when) >= cutoff).all()
    positives = pd.concat([data.train, data.test])
    positives = positives[positives[fr.LABEL_COL] > 0]
    assert len(positives) > 0
    person = dict(zip(requests["request_id"], requests["user_id"], strict=True))
    for row in positives.itertuples(index=False):
        t = when[row.request_id]
        acted = events[(events["user_id"] == person[row.request_id])
                       & (events["product_id"] == row.product_id)
                       & (events["ts"] > t) & (events["ts"] <= t + horizon)]
        assert acted["action"].map(fr.ACTION_GRADES).max() == row.label
    # an event exactly at the request time is not in its label window
    first = requests.iloc[0]
    at_t = pd.DataFrame({"user_id": [first["user_id"]], "product_id": ["p0"],
                         "action": ["purchase"], "ts": [first["request_ts"]]})
    assert fr.label_window_actions(at_t, requests, horizon).empty


def planted_table(seed: int, requests: int = 150, per_request: int = 20) -> pd.DataFrame:
    """Training-table rows whose positives are the family-matching candidates; the blend's and
    the model's ranks are random."""
    rng = np.random.default_rng(seed)
    n = requests * per_request
    table = pd.DataFrame(rng.random((n, len(fr.FEATURES))), columns=list(fr.FEATURES))
    table["family_match"] = (rng.random(n) < 0.2).astype(float)
    table[fr.LABEL_COL] = (rng.random(n) < np.where(table["family_match"] == 1, 0.5, 0.03)) * 2
    table.insert(0, "product_id", [f"p{i % per_request}" for i in range(n)])
    table.insert(0, fr.REQUEST_COL, np.repeat([f"s{seed}r{i:04d}" for i in range(requests)],
                                              per_request))
    table["blend_rank"] = np.tile(np.arange(1, per_request + 1), requests)
    table["model_rank"] = table["blend_rank"]
    table[fr.GROUP_COL] = np.repeat(rng.integers(1, 3, requests).astype(str), per_request)
    return table


def test_runs_are_logged_registered_gated_and_the_engine_serves_the_champion(
    stack_settings: Settings,
) -> None:
    import mlflow

    from glamcast.platform.feed_engine import FeedEngine
    from glamcast.platform.model_registry import tracking_uri
    from jobs.train_ranker import RankerData, TrainRankerResult, _log_and_register, evaluate_orders

    name = f"glamcast-ranker-it-{uuid4().hex[:8]}"
    settings = stack_settings.model_copy(update={"ranker_model_name": name})
    config = TrainRankerConfig(experiment="ranker-it",
                               ranker=fr.RankerConfig(n_estimators=30, min_child_samples=10))
    data = RankerData(planted_table(1), planted_table(2), {"data.start": "s", "data.end": "e"},
                      {"rows.train_rows": 3000, "rows.test_rows": 3000})
    runs = []
    for train in (data.train, data.train.assign(family_match=0.0)):  # the second learns nothing
        ranker = fr.train_ranker(train, config.ranker)
        result = TrainRankerResult(None, data.window, data.rows, evaluate_orders(
            data.test, ranker, config.k), 1.0, ranker.importances(), 7)
        _log_and_register(settings, config, data, ranker, result, lambda *a: None)
        runs.append((ranker, result))
    (good, first), (_, second) = runs
    assert first.registration.promoted and first.registration.version == 1
    assert not second.registration.promoted and second.registration.version == 2
    assert second.registration.champion_score_before == pytest.approx(
        first.evaluation["ranker"]["ndcg@10"])

    client = mlflow.MlflowClient(tracking_uri(settings))
    run = client.get_run(first.run_id)
    assert run.data.metrics["ranker.ndcg_at_10"] == pytest.approx(
        first.evaluation["ranker"]["ndcg@10"])
    assert {"blend.ndcg_at_10", "candidates.recall_at_10", "ranker.lift_over_blend",
            "ranker.ndcg_at_10.skin_tone_1", "rows.train_rows", "train_s"} <= set(
        run.data.metrics)
    assert run.data.params["ranker.n_estimators"] == "30"
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "plots")} | {
        a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert {"plots/feature_importance.png", "evaluation/metrics_by_skin_tone.csv"} <= artifacts

    engine = FeedEngine(settings, store=object())
    assert engine._maybe_reload_ranker(force=True)
    assert engine.ranker_version == 1
    rows = data.test[list(fr.FEATURES)].to_numpy()
    np.testing.assert_allclose(engine.ranker.score(rows), good.score(rows))


def test_the_job_end_to_end_on_a_simulated_lake_after_the_recommender(
    spark, stack_settings: Settings, tmp_path: Path,
) -> None:
    """Recommender champion on the first part of the window, the ranker on the days after its
    training cutoff: read, Feast training sets, fit, evaluate, log, register, promote."""
    from datetime import date

    from glamcast.core.names import TRYON
    from glamcast.platform import lake
    from glamcast.simulator import SimulationConfig, World
    from glamcast.simulator.looks import write_world_lake
    from jobs import train_recommender as rec
    from jobs.train_ranker import train_ranker_job
    from models.factorization import FactorizationConfig

    suffix = uuid4().hex[:8]
    settings = stack_settings.model_copy(update={
        "lake_uri": str(tmp_path / "lake"), "feast_project": f"t{suffix}",
        "feast_dir": tmp_path / "feast",
        "recommender_model_name": f"glamcast-recommender-rk-{suffix}",
        "ranker_model_name": f"glamcast-ranker-rk-{suffix}"})
    write_world_lake(settings, World.build(SimulationConfig(
        users=200, days=14, start=date(2026, 2, 2), seed=5, products=120, looks=0)))
    features.apply(settings)
    store = features.feature_store(settings)
    events = lake.read_dataset(settings, TRYON).sort_values("ts", kind="stable")
    write_offline(store, *offline_rows(events.reset_index(drop=True)))
    recommender = rec.train_recommender(spark, settings, rec.TrainRecommenderConfig(
        models=("torch",), torch=FactorizationConfig(epochs=5, threads=1),
        experiment="ranker-it-recommender", test_fraction=0.4))
    assert recommender.registration.promoted
    cutoff = pd.Timestamp(recommender.window["data.cutoff"])

    stages: list[str] = []
    result = train_ranker_job(
        spark, settings, TrainRankerConfig(
            start=cutoff.to_pydatetime(), test_days=2, experiment="ranker-it",
            ranker=fr.RankerConfig(n_estimators=20, min_child_samples=10)),
        on_progress=lambda stage, done, total: stages.append(stage), store=store)
    assert stages[0] == "reading events" and stages[-1] == "done"
    assert result.recommender_version == recommender.registration.version
    assert result.rows["rows.train_positive_groups"] > 0
    assert result.rows["rows.test_positive_groups"] > 0
    assert set(result.evaluation) == {"candidates", "blend", "ranker"}
    assert result.registration.promoted and result.registration.version == 1
    assert pd.Timestamp(result.window["data.first_request"]) >= cutoff
