"""Torch factorization on planted tastes, the top-k ranker, and the servable recommender."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from models.factorization import (
    FactorizationConfig,
    ease_item_weights,
    top_k_items,
    train_factorization,
)
from models.recommender_pyfunc import (
    ARTIFACT_KEY,
    FactorRecommender,
    RecommendationRequest,
    RecommenderModel,
)

N_USERS, N_ITEMS, BLOCK = 40, 20, 10


def planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Users 0-19 like items 0-9, users 20-39 items 10-19; each has 5 of their block."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(N_USERS):
        block = 0 if user < N_USERS // 2 else BLOCK
        chosen = block + rng.choice(BLOCK, size=5, replace=False)
        users += [user] * 5
        items += chosen.tolist()
    return np.array(users), np.array(items)


def in_block_share(user_factors, item_factors, item_bias, users, items) -> float:
    seen = [items[users == user] for user in range(N_USERS)]
    top, _ = top_k_items(user_factors, item_factors, item_bias, 3, seen)
    block_of_user = np.where(np.arange(N_USERS) < N_USERS // 2, 0, 1)
    return float((top // BLOCK == block_of_user[:, None]).mean())


@pytest.mark.parametrize("overrides", [
    {"objective": "softmax", "user_model": "history", "epochs": 30},
    {"objective": "softmax", "user_model": "embedding", "weight_decay": 1.0},
    {"objective": "softmax", "user_model": "history", "item_model": "history", "epochs": 30},
    {"objective": "poisson", "user_model": "history", "epochs": 30},
    {"objective": "poisson", "user_model": "embedding", "item_model": "history", "epochs": 30},
    {"objective": "bpr", "user_model": "embedding", "batch_size": 32, "epochs": 30},
])
def test_recovers_planted_tastes(overrides: dict) -> None:
    users, items = planted()
    config = FactorizationConfig(**{"dim": 8, "epochs": 60, "batch_size": 8, "lr": 0.02,
                                    "weight_decay": 0.0, **overrides})
    result = train_factorization(users, items, None, N_USERS, N_ITEMS, asdict(config))
    assert result.user_factors.shape == (N_USERS, 8)  # (users, dim)
    assert result.item_factors.shape == (N_ITEMS, 8)
    assert result.item_bias.shape == (N_ITEMS,)
    assert len(result.losses) == config.epochs and result.losses[-1] < result.losses[0]
    assert result.device == "cpu"
    assert in_block_share(result.user_factors, result.item_factors, result.item_bias,
                          users, items) >= 0.95


def test_training_is_seeded() -> None:
    users, items = planted()
    config = asdict(FactorizationConfig(dim=4, epochs=3, batch_size=8, seed=5))
    first = train_factorization(users, items, np.ones(len(users)), N_USERS, N_ITEMS, config)
    second = train_factorization(users, items, np.ones(len(users)), N_USERS, N_ITEMS, config)
    np.testing.assert_array_equal(first.item_factors, second.item_factors)


def test_on_epoch_sees_each_epoch_and_can_stop_early() -> None:
    users, items = planted()
    config = asdict(FactorizationConfig(dim=4, epochs=10, batch_size=8, seed=5,
                                        user_model="history", dropout=0.5))
    full = train_factorization(users, items, None, N_USERS, N_ITEMS, config)
    seen: list[int] = []
    snapshots = []

    def on_epoch(epoch, snapshot) -> bool:
        seen.append(epoch)
        snapshots.append(snapshot())
        return epoch == 4

    stopped = train_factorization(users, items, None, N_USERS, N_ITEMS, config, on_epoch=on_epoch)
    assert seen == [1, 2, 3, 4]
    assert len(stopped.losses) == 4 and stopped.losses == full.losses[:4]
    # the result is the model as of the stopping epoch; a snapshot does not disturb training
    np.testing.assert_array_equal(stopped.item_factors, snapshots[-1].item_factors)
    np.testing.assert_array_equal(stopped.user_factors, snapshots[-1].user_factors)
    assert [len(snap.losses) for snap in snapshots] == [1, 2, 3, 4]


def test_ease_is_a_ridge_regression_of_each_item_on_the_others() -> None:
    """EASE's closed form equals, column by column, the ridge regression of item j on every
    other item (Steck 2019), with item i's penalty λ + p/(1 − p)·G_ii under dropout p."""
    rng = np.random.default_rng(3)
    history = (rng.random((30, 6)) < 0.4).astype(np.float64)  # (users, items)
    gram = history.T @ history
    for l2, dropout in ((2.0, 0.0), (0.5, 0.25)):
        weights = ease_item_weights(torch.as_tensor(history), l2, dropout).numpy()
        penalty = l2 + dropout / (1 - dropout) * np.diag(gram)
        for j in range(6):
            others = [i for i in range(6) if i != j]
            ridge = np.linalg.solve(gram[np.ix_(others, others)] + np.diag(penalty[others]),
                                    gram[others, j])
            np.testing.assert_allclose(weights[others, j], ridge, rtol=1e-9, atol=1e-12)
            assert weights[j, j] == 0.0


def test_ease_factors_score_history_times_weights_and_recover_planted_tastes() -> None:
    users, items = planted()
    config = asdict(FactorizationConfig(user_model="ease", weight_decay=1.0, dim=3, epochs=1))
    result = train_factorization(users, items, None, N_USERS, N_ITEMS, config,
                                 np.zeros((N_USERS, 1), np.int64))  # attributes: ignored
    history = np.zeros((N_USERS, N_ITEMS), np.float32)
    history[users, items] = 1.0
    weights = ease_item_weights(torch.as_tensor(history), 1.0).numpy()
    np.testing.assert_array_equal(result.user_factors, history)  # (users, items): x_u
    np.testing.assert_allclose(result.item_factors, weights.T.astype(np.float32))  # row i: B[:, i]
    np.testing.assert_array_equal(result.item_bias, np.zeros(N_ITEMS, np.float32))
    assert result.losses == [] and result.device == "cpu"
    np.testing.assert_allclose(result.user_factors @ result.item_factors.T, history @ weights,
                               rtol=1e-5, atol=1e-6)
    assert in_block_share(result.user_factors, result.item_factors, result.item_bias,
                          users, items) == 1.0


def test_config_rejects_unknown_choices() -> None:
    with pytest.raises(ValueError, match="unknown objective 'warp'"):
        FactorizationConfig(objective="warp")
    with pytest.raises(ValueError, match="unknown item_model 'graph'"):
        FactorizationConfig(item_model="graph")
    with pytest.raises(ValueError, match="'ease' needs weight_decay > 0"):
        FactorizationConfig(user_model="ease", weight_decay=0.0)
    with pytest.raises(ValueError, match="dropout"):
        FactorizationConfig(dropout=1.0)
    assert FactorizationConfig().to_params()["torch.dim"] == FactorizationConfig().dim


def test_top_k_never_returns_excluded_items_and_pads() -> None:
    users = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    items = np.array([[3, 0], [2, 0], [1, 0], [0, 3]], np.float32)
    top, scores = top_k_items(users, items, None, 3, [np.array([0]), np.array([0, 1, 2])])
    assert top[0].tolist() == [1, 2, 3]
    assert top[1].tolist() == [3, -1, -1]
    assert np.isneginf(scores[1, 1:]).all()


# --- the servable recommender --------------------------------------------------------------------


@pytest.fixture
def recommender() -> FactorRecommender:
    # u1 likes the first axis, u2 the second; items a..d; u1 has seen "a"
    return FactorRecommender.build(
        user_ids=["u1", "u2"], item_ids=["a", "b", "c", "d"],
        user_factors=np.array([[1.0, 0.0], [0.0, 1.0]]),
        item_factors=np.array([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 3.0]]),
        item_bias=None, seen_users=np.array([0]), seen_items=np.array([0]),
        popularity=np.array([1.0, 5.0, 3.0, 0.0]),
    )


def test_known_users_get_unseen_items_by_score(recommender: FactorRecommender) -> None:
    out = recommender.recommend(["u1", "u2"], 2)
    assert out.columns.tolist() == ["user_id", "rank", "product_id", "score", "source"]
    assert out[out.user_id == "u1"].product_id.tolist() == ["b", "c"]
    assert out[out.user_id == "u2"].product_id.tolist()[0] == "d"
    assert (out.source == "model").all()
    assert out[out.user_id == "u1"]["rank"].tolist() == [1, 2]


def test_unknown_users_get_popularity_and_exclusions_apply(recommender: FactorRecommender) -> None:
    out = recommender.recommend(["stranger"], 3)
    assert out.product_id.tolist() == ["b", "c", "a"]
    assert (out.source == "popularity").all()
    assert out.score.tolist() == pytest.approx([5 / 9, 3 / 9, 1 / 9])
    excluded = recommender.recommend(["u1"], 2, exclude={"u1": ["b"]}, exclude_seen=False)
    assert excluded.product_id.tolist() == ["a", "c"]
    short = recommender.recommend(["u1"], 10)
    assert short.product_id.tolist() == ["b", "c", "d"]  # only three unseen items exist


def test_save_load_and_pyfunc_predict(recommender: FactorRecommender, tmp_path: Path) -> None:
    path = recommender.save(tmp_path / "model.npz")
    loaded = FactorRecommender.load(path)
    pd.testing.assert_frame_equal(loaded.recommend(["u1", "x"], 2), recommender.recommend(["u1", "x"], 2))
    model = RecommenderModel()
    model.load_context(SimpleNamespace(artifacts={ARTIFACT_KEY: str(path)}))
    out = model.predict([RecommendationRequest(user_id="u2", k=1), RecommendationRequest(user_id="u1", k=2)])
    assert out.user_id.tolist() == ["u2", "u1", "u1"]
    assert len(model.predict([RecommendationRequest(user_id="u1")])) == 3  # default k, 3 unseen
    embeddings = loaded.user_embeddings()
    assert embeddings.user_id.tolist() == ["u1", "u2"] and len(embeddings.embedding[0]) == 2


def test_user_attributes_carry_users_without_history() -> None:
    """Ten users with no history: their attribute (the block) alone decides their top 3."""
    users, items = planted()
    sparse = np.r_[0:5, 20:25]  # five users of each block lose all their positives
    keep = ~np.isin(users, sparse)
    user_codes = (np.arange(N_USERS) >= N_USERS // 2).astype(np.int64)[:, None]  # (users, 1)
    config = FactorizationConfig(dim=8, epochs=60, batch_size=8, lr=0.02, weight_decay=1.0)
    result = train_factorization(users[keep], items[keep], None, N_USERS, N_ITEMS, asdict(config),
                                 user_codes, None)
    seen = [items[keep][users[keep] == user] for user in range(N_USERS)]
    top, _ = top_k_items(result.user_factors, result.item_factors, result.item_bias, 3, seen)
    block_of_user = (sparse >= N_USERS // 2).astype(np.int64)
    assert (top[sparse] // BLOCK == block_of_user[:, None]).mean() >= 0.9
