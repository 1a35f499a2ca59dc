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
- `MixtureLooks`: per condition group, a Gaussian mixture (scikit-learn `GaussianMixture`, full
  covariances); its number of components and covariance floor (`reg_covar`) are chosen once, for
  all groups, by the mean log-likelihood of validation looks (never the test looks), since on
  engagement data that repeats looks a mixture left to itself puts a tight component on a
  repeated look and copies it. The stronger of the two likelihood baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.look_space import Conditions

#: Components and covariance floors tried by `MixtureLooks.fit_validated`.
MIXTURE_COMPONENTS = (2, 4)
MIXTURE_REG_COVAR = (0.01, 0.03, 0.1)

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


@dataclass
class MixtureLooks:
    """One Gaussian mixture of look vectors per condition group (plus a pooled fallback)."""

    groups: tuple[str, ...]
    mixtures: list  # (groups + 1) fitted sklearn GaussianMixture; the last is pooled
    n_components: int
    reg_covar: float

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        groups: np.ndarray,
        n_components: int = 4,
        reg_covar: float = 0.1,
        seed: int = 0,
    ) -> MixtureLooks:
        """Fit a mixture per group (at most one component per distinct look of the group)."""
        from sklearn.mixture import GaussianMixture

        x = np.asarray(x, dtype=np.float64)
        groups = np.asarray(groups, dtype=object)
        names = tuple(sorted(set(groups.tolist())))
        mixtures = []
        for rows in [groups == g for g in names] + [np.ones(len(x), dtype=bool)]:
            part = x[rows]
            distinct = len(np.unique(part, axis=0))
            mixture = GaussianMixture(
                n_components=max(1, min(n_components, distinct, len(part))),
                covariance_type="full",
                reg_covar=reg_covar,
                n_init=1,
                random_state=seed,
            )
            mixtures.append(mixture.fit(part))
        return cls(names, mixtures, n_components, reg_covar)

    @classmethod
    def fit_validated(
        cls,
        x: np.ndarray,
        groups: np.ndarray,
        x_validation: np.ndarray,
        groups_validation: np.ndarray,
        components: tuple[int, ...] = MIXTURE_COMPONENTS,
        reg_covars: tuple[float, ...] = MIXTURE_REG_COVAR,
        seed: int = 0,
    ) -> tuple[MixtureLooks, dict[tuple[int, float], float]]:
        """The (components, reg_covar) of the grid with the best mean log-likelihood of the
        validation looks under their group's mixture; returns (model, scores). Without
        validation looks: the middle of the grid."""
        scores: dict[tuple[int, float], float] = {}
        if len(x_validation) == 0:
            middle = (components[len(components) // 2], reg_covars[len(reg_covars) // 2])
            return cls.fit(x, groups, *middle, seed=seed), scores
        best: MixtureLooks | None = None
        for n_components in components:
            for reg_covar in reg_covars:
                model = cls.fit(x, groups, n_components, reg_covar, seed)
                score = float(model.log_likelihood(x_validation, groups_validation).mean())
                scores[(n_components, reg_covar)] = score
                if best is None or score > scores[(best.n_components, best.reg_covar)]:
                    best = model
        assert best is not None
        return best, scores

    def _index(self, groups: np.ndarray) -> np.ndarray:
        index = pd.Index(self.groups).get_indexer(np.asarray(groups, dtype=object))
        return np.where(index < 0, len(self.groups), index)

    def log_likelihood(self, x: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """(n,) log-density of each look under its group's mixture."""
        x = np.asarray(x, dtype=np.float64)
        index = self._index(groups)
        out = np.empty(len(x))
        for i in np.unique(index):
            mine = index == i
            out[mine] = self.mixtures[i].score_samples(x[mine])
        return out

    def sample(self, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(n, dim) one draw per requested group (unknown groups use the pooled fit)."""
        index = self._index(groups)
        dim = self.mixtures[-1].means_.shape[1]
        out = np.empty((index.size, dim))
        for i in np.unique(index):
            rows = np.flatnonzero(index == i)
            mixture = self.mixtures[i]
            component = rng.choice(len(mixture.weights_), size=rows.size, p=mixture.weights_)
            noise = rng.standard_normal((rows.size, dim))
            factors = np.linalg.cholesky(mixture.covariances_)  # (components, dim, dim)
            out[rows] = mixture.means_[component] + np.einsum(
                "nij,nj->ni", factors[component], noise
            )
        return out
