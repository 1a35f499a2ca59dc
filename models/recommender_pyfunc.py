"""The servable recommender: factors + what each user has seen + popularity, as an MLflow pyfunc.

`FactorRecommender` holds a trained factorization (ALS or torch) with its id spaces and ranks in
numpy: top-k unseen items per known user (score = user · item + bias), the training popularity
ranking for anyone else. It is saved as one ``.npz`` file (`save`/`load`).

`RecommenderModel` is the `mlflow.pyfunc.PythonModel` logged with every run. Input: a DataFrame
(or records) with ``user_id`` and optionally ``k`` (per row; else `DEFAULT_K`). Output: one
row per recommendation: ``user_id, rank, product_id, score, source`` where source is ``model``
for a known user and ``popularity`` for an unknown one (whose score is the item's share of
training interactions). A user with nothing left to recommend gets fewer rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from pydantic import BaseModel

from glamcast.core.names import PRODUCT_COL, USER_COL

K_COL = "k"
RANK_COL = "rank"
SCORE_COL = "score"
SOURCE_COL = "source"
EMBEDDING_COL = "embedding"
DEFAULT_K = 10
#: Name of the artifact that holds the saved `FactorRecommender` inside the logged model.
ARTIFACT_KEY = "recommender"
SOURCE_MODEL = "model"
SOURCE_POPULARITY = "popularity"
OUTPUT_COLUMNS = [USER_COL, RANK_COL, PRODUCT_COL, SCORE_COL, SOURCE_COL]


@dataclass
class FactorRecommender:
    """A factorization model over named users and items, ready to rank."""

    user_ids: np.ndarray  # (n_users,) str
    item_ids: np.ndarray  # (n_items,) str
    user_factors: np.ndarray  # (n_users, dim) float32
    item_factors: np.ndarray  # (n_items, dim) float32
    item_bias: np.ndarray  # (n_items,) float32; zeros for ALS
    seen_indptr: np.ndarray  # (n_users + 1,) int64: CSR of the items each user interacted with
    seen_indices: np.ndarray  # (n_seen,) int64
    popularity: np.ndarray  # (n_items,) float64: positive interactions in training

    def __post_init__(self) -> None:
        self._user_index = pd.Index(self.user_ids)
        self._popular_order = np.argsort(-self.popularity, kind="stable")

    @classmethod
    def build(
        cls,
        user_ids: Sequence[str],
        item_ids: Sequence[str],
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        item_bias: np.ndarray | None,
        seen_users: np.ndarray,
        seen_items: np.ndarray,
        popularity: np.ndarray,
    ) -> FactorRecommender:
        """From factors and the (user index, item index) pairs seen in training."""
        n_users = len(user_ids)
        seen_users = np.asarray(seen_users, dtype=np.int64)
        seen_items = np.asarray(seen_items, dtype=np.int64)
        order = np.lexsort((seen_items, seen_users))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(seen_users, minlength=n_users))])
        bias = (np.zeros(len(item_ids), np.float32) if item_bias is None
                else np.asarray(item_bias, np.float32))
        return cls(
            user_ids=np.asarray(user_ids, dtype=str), item_ids=np.asarray(item_ids, dtype=str),
            user_factors=np.asarray(user_factors, np.float32),
            item_factors=np.asarray(item_factors, np.float32), item_bias=bias,
            seen_indptr=indptr.astype(np.int64), seen_indices=seen_items[order],
            popularity=np.asarray(popularity, np.float64),
        )

    # --- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        """Write the model as one ``.npz`` file; returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(
                handle, user_ids=self.user_ids, item_ids=self.item_ids,
                user_factors=self.user_factors, item_factors=self.item_factors,
                item_bias=self.item_bias, seen_indptr=self.seen_indptr,
                seen_indices=self.seen_indices, popularity=self.popularity,
            )
        return path

    @classmethod
    def load(cls, path: Path | str) -> FactorRecommender:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{name: data[name] for name in data.files})

    # --- ranking -----------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return int(self.item_factors.shape[1])

    def knows(self, user_ids: Iterable[str]) -> np.ndarray:
        """(n,) bool: which users have factors."""
        return self._user_index.get_indexer(list(user_ids)) >= 0

    def seen(self, user_index: int) -> np.ndarray:
        """Item indices user `user_index` interacted with in training."""
        return self.seen_indices[self.seen_indptr[user_index]:self.seen_indptr[user_index + 1]]

    def _item_indices(self, item_ids: Iterable[str]) -> np.ndarray:
        found = pd.Index(self.item_ids).get_indexer(list(item_ids))
        return found[found >= 0]

    def recommend(
        self,
        user_ids: Sequence[str],
        k: int | Sequence[int] = DEFAULT_K,
        *,
        exclude: Mapping[str, Iterable[str]] | None = None,
        exclude_seen: bool = True,
    ) -> pd.DataFrame:
        """Top-k per user as `OUTPUT_COLUMNS` rows (rank 1 = best), users in input order.

        `k`: one number or one per user. `exclude_seen` skips what each user interacted with in
        training; `exclude` skips further items per user id (an evaluation passes the items of
        *its* training window here, with `exclude_seen=False`).
        """
        users = [str(user) for user in user_ids]
        ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (len(users),))
        if (ks < 0).any():
            raise ValueError("k must not be negative")
        index = self._user_index.get_indexer(users)
        known = np.flatnonzero(index >= 0)
        frames = []
        if known.size:
            rows = index[known]
            scores = self.user_factors[rows] @ self.item_factors.T + self.item_bias  # (known, items)
            for position, row in enumerate(rows):
                blocked = []
                if exclude_seen:
                    blocked.append(self.seen(row))
                if exclude is not None and users[known[position]] in exclude:
                    blocked.append(self._item_indices(exclude[users[known[position]]]))
                if blocked:
                    scores[position, np.concatenate(blocked)] = -np.inf
            for position, original in enumerate(known):
                frames.append(self._top(users[original], scores[position], int(ks[original]),
                                        SOURCE_MODEL))
        if len(known) < len(users):
            share = self.popularity / max(self.popularity.sum(), 1e-12)
            for original in np.flatnonzero(index < 0):
                blocked = (self._item_indices(exclude[users[original]])
                           if exclude is not None and users[original] in exclude else None)
                scores = share.copy()
                if blocked is not None and blocked.size:
                    scores[blocked] = -np.inf
                frames.append(self._top(users[original], scores, int(ks[original]),
                                        SOURCE_POPULARITY))
        if not frames:
            return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in zip(
                OUTPUT_COLUMNS, [object, np.int64, object, np.float64, object], strict=True)})
        out = pd.concat(frames, ignore_index=True)
        order = {user: position for position, user in enumerate(dict.fromkeys(users))}
        out["_order"] = out[USER_COL].map(order)
        return out.sort_values(["_order", RANK_COL], kind="stable").drop(columns="_order"
                                                                          ).reset_index(drop=True)

    def _top(self, user_id: str, scores: np.ndarray, k: int, source: str) -> pd.DataFrame:
        allowed = np.isfinite(scores)
        take = min(k, int(allowed.sum()))
        if take <= 0:
            best = np.empty(0, dtype=np.int64)
        else:
            candidates = np.argpartition(-np.where(allowed, scores, -np.inf), take - 1)[:take]
            best = candidates[np.lexsort((candidates, -scores[candidates]))]
        return pd.DataFrame({
            USER_COL: user_id, RANK_COL: np.arange(1, len(best) + 1, dtype=np.int64),
            PRODUCT_COL: self.item_ids[best], SCORE_COL: scores[best].astype(np.float64),
            SOURCE_COL: source,
        })

    # --- embeddings for the feature store ----------------------------------------------------

    def user_embeddings(self) -> pd.DataFrame:
        """``user_id, embedding`` (list of float32), one row per known user."""
        return pd.DataFrame({USER_COL: self.user_ids, EMBEDDING_COL: list(self.user_factors)})

    def item_embeddings(self) -> pd.DataFrame:
        """``product_id, embedding, bias``, one row per item."""
        return pd.DataFrame({PRODUCT_COL: self.item_ids, EMBEDDING_COL: list(self.item_factors),
                             "bias": self.item_bias})


class RecommendationRequest(BaseModel):
    """One input row of the pyfunc: whom to recommend to, and how many items."""

    user_id: str
    k: int | None = None  # None: DEFAULT_K


def input_example(user_ids: Sequence[str], k: int = DEFAULT_K) -> list[dict[str, Any]]:
    """The input example logged with a `RecommenderModel`: one record per user.

    Records, not a DataFrame: a type-hinted pyfunc is served from ``{"inputs": [records]}``,
    which is what MLflow validates the example as (a DataFrame example is converted to
    ``dataframe_split`` and fails that check)."""
    return [{USER_COL: str(user), K_COL: int(k)} for user in user_ids]


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: rows of ``user_id`` (and ``k``) → top-k unseen items per user.

    The type hint makes MLflow validate the input (a DataFrame or records with a string
    ``user_id`` and an optional integer ``k``) and derive the model signature from it: log it
    without a ``signature`` (one that differs from the hint's is replaced, with a warning) and
    with `input_example` records. The output schema is MLflow's ``Any``: it infers none from a
    DataFrame hint (the columns are `OUTPUT_COLUMNS`).
    """

    def load_context(self, context: Any) -> None:
        self.recommender = FactorRecommender.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, model_input: list[RecommendationRequest],
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        ks = [DEFAULT_K if row.k is None else row.k for row in model_input]
        return self.recommender.recommend([row.user_id for row in model_input], ks)
