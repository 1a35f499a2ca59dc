"""Baselines the look GAN must beat: a Gaussian per condition, and copying the nearest look.

Both produce look vectors in the space of `models.look_space.LookSpace` (decode them with
`LookSpace.decode`, which takes the argmax of each one-hot block).

- `GaussianLooks`: per condition group (undertone × skin-depth band), a multivariate normal fitted
  to the training look vectors (covariance shrunk toward its diagonal, so small groups stay
  well-conditioned); a group without training looks falls back to all of them.
- `NearestLooks`: for each request, a training look engaged by a person whose condition is
  nearest (same skin tone, undertone and face shape when there is one; else the smallest
  |Δ skin tone| + 3·[undertone differs] + 0.5·[face shape differs]), drawn at random among the
  looks of those people. It copies real looks: high precision, zero novelty by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.look_space import Conditions

#: Weight of the sample covariance against its diagonal (the rest): Ledoit-Wolf-style shrinkage.
COVARIANCE_KEEP = 0.9
_JITTER = 1e-4


@dataclass
class GaussianLooks:
    """One multivariate normal of look vectors per condition group."""

    groups: tuple[str, ...]
    means: np.ndarray  # (groups + 1, dim): the last row is the pooled fallback
    factors: np.ndarray  # (groups + 1, dim, dim) Cholesky factors of the covariances

    @classmethod
    def fit(cls, x: np.ndarray, groups: np.ndarray) -> GaussianLooks:
        x = np.asarray(x, dtype=np.float64)
        groups = np.asarray(groups, dtype=object)
        names = tuple(sorted(set(groups.tolist())))
        means, factors = [], []
        for rows in [groups == g for g in names] + [np.ones(len(x), dtype=bool)]:
            part = x[rows]
            mean = part.mean(axis=0)
            cov = np.cov(part, rowvar=False) if len(part) > 1 else np.eye(x.shape[1])
            cov = COVARIANCE_KEEP * cov + (1 - COVARIANCE_KEEP) * np.diag(np.diag(cov))
            factors.append(np.linalg.cholesky(cov + _JITTER * np.eye(x.shape[1])))
            means.append(mean)
        return cls(names, np.stack(means), np.stack(factors))

    def sample(self, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n, dim) one draw per requested group (unknown groups use the pooled fit)."""
        index = pd.Index(self.groups).get_indexer(np.asarray(groups, dtype=object))
        index = np.where(index < 0, len(self.groups), index)
        noise = rng.standard_normal((index.size, self.means.shape[1]))
        return self.means[index] + np.einsum("nij,nj->ni", self.factors[index], noise)


@dataclass
class NearestLooks:
    """Training looks and the faces that engaged with them."""

    x: np.ndarray  # (n, dim) training look vectors
    skin_tone: np.ndarray  # (n,)
    undertone: np.ndarray  # (n,)
    face_shape: np.ndarray  # (n,) or None

    @classmethod
    def fit(cls, x: np.ndarray, conditions: Conditions) -> NearestLooks:
        return cls(np.asarray(x), conditions.skin_tone, conditions.undertone, conditions.face_shape)

    def sample(self, conditions: Conditions, rng: np.random.Generator) -> np.ndarray:
        """(n, dim) one copied training look per request."""
        train = pd.DataFrame(
            {"tone": self.skin_tone, "undertone": self.undertone, "shape": self.face_shape}
        )
        keys = train.drop_duplicates().reset_index(drop=True)
        key_rows = train.merge(keys.reset_index(), on=["tone", "undertone", "shape"], how="left")[
            "index"
        ]
        members = [np.flatnonzero(key_rows.to_numpy() == i) for i in range(len(keys))]
        asked = pd.DataFrame(
            {
                "tone": conditions.skin_tone,
                "undertone": conditions.undertone,
                "shape": conditions.face_shape,
            }
        )
        out = np.empty((len(conditions), self.x.shape[1]), dtype=self.x.dtype)
        for (tone, undertone, shape), rows in asked.groupby(
            ["tone", "undertone", "shape"], dropna=False, sort=False
        ).indices.items():
            shape = None if isinstance(shape, float) else shape
            distance = (
                np.abs(keys["tone"].to_numpy() - tone)
                + 3.0 * (keys["undertone"].to_numpy() != undertone)
                + (0.5 * (keys["shape"].to_numpy() != shape) if shape is not None else 0.0)
            )
            nearest = np.flatnonzero(distance == distance.min())
            pool = np.concatenate([members[i] for i in nearest])
            out[rows] = self.x[rng.choice(pool, size=len(rows))]
        return out
