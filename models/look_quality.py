"""How good generated looks are: precision, recall, novelty and conditional fidelity.

All distances are Euclidean in the standardized look space of `models.look_space.LookSpace`.

- **Precision / recall** (Kynkäänniemi et al. 2019): each real look gets a ball reaching its k-th
  nearest real neighbour; precision is the share of generated looks inside at least one real
  ball, recall the share of real looks inside at least one ball around the generated looks. Real
  engagement data repeats looks (many people like the same curated look), and a copying baseline
  repeats its output, so the balls are built on the *distinct* vectors of a set (a repeated look
  would otherwise have radius 0), while the shares count every sample, repeats included: a look
  that many people of a condition liked weighs more in that condition's recall. The paper
  compares sets of equal size, and k-NN radii shrink as a set grows, so both manifolds are built
  from the same number of distinct points: the smaller set's count, the larger set subsampled
  (seeded). Without that, a diffuse generator with many distinct samples against a few distinct
  real looks is rewarded with wide balls.
- **Novelty**: the share of generated looks whose nearest training look is farther than a
  threshold τ. τ is the `NOVELTY_QUANTILE` (10th percentile) of the nearest-training-look
  distances of the real held-out looks (curated looks the model never saw), so a generated look
  counts as new when it is at least as far from the training set as nine in ten genuinely new
  real looks are.
- **Conditional fidelity**: a small classifier trained on real training looks predicts their
  condition (undertone × skin-depth band); its balanced accuracy on generated looks, divided by
  its balanced accuracy on real held-out looks, says how recognizably a generator answers the
  condition it was asked (1.0: as recognizably as real looks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

#: Neighbours of the k-NN balls of precision and recall (the paper uses k = 3).
DEFAULT_K = 3
#: Quantile of the held-out looks' nearest-training distances that defines "not a copy".
NOVELTY_QUANTILE = 0.10
_CHUNK = 2_048


def nearest_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a),) Euclidean distance from each row of `a` to its nearest row of `b`."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    out = np.empty(len(a))
    b_sq = (b**2).sum(axis=1)
    for lo in range(0, len(a), _CHUNK):
        block = a[lo : lo + _CHUNK]
        d2 = (block**2).sum(axis=1)[:, None] - 2.0 * block @ b.T + b_sq[None, :]
        out[lo : lo + _CHUNK] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a**2).sum(axis=1)[:, None] - 2.0 * a @ b.T + (b**2).sum(axis=1)[None, :]
    return np.sqrt(np.maximum(d2, 0.0))


def distinct(x: np.ndarray) -> np.ndarray:
    """The distinct rows of `x`."""
    return np.unique(np.asarray(x, dtype=np.float64), axis=0)


def knn_radii(points: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """Distance of each (distinct) point to its k-th nearest other point; with fewer than k
    others, to the farthest one (0 for a lone point)."""
    n = len(points)
    if n <= 1:
        return np.zeros(n)
    k_eff = min(k, n - 1)
    radii = np.empty(n)
    for lo in range(0, n, _CHUNK):
        d = _distances(points[lo : lo + _CHUNK], points)
        radii[lo : lo + _CHUNK] = np.sort(d, axis=1)[:, k_eff]  # column 0 is the point itself
    return radii


def inside_manifold(queries: np.ndarray, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(len(queries),) whether each query lies in at least one ball (point, radius)."""
    queries = np.asarray(queries, dtype=np.float64)
    out = np.zeros(len(queries), dtype=bool)
    for lo in range(0, len(queries), _CHUNK):
        out[lo : lo + _CHUNK] = (
            _distances(queries[lo : lo + _CHUNK], points) <= radii[None, :]
        ).any(1)
    return out


def precision_recall(
    real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K, seed: int = 0
) -> tuple[float, float]:
    """Improved precision and recall of `fake` against `real` (module docstring): manifolds of
    equally many distinct points, every sample a query."""
    if len(real) == 0 or len(fake) == 0:
        return float("nan"), float("nan")
    real_points, fake_points = distinct(real), distinct(fake)
    size = min(len(real_points), len(fake_points))
    rng = np.random.default_rng(seed)
    if len(real_points) > size:
        real_points = real_points[np.sort(rng.choice(len(real_points), size, replace=False))]
    if len(fake_points) > size:
        fake_points = fake_points[np.sort(rng.choice(len(fake_points), size, replace=False))]
    precision = inside_manifold(fake, real_points, knn_radii(real_points, k)).mean()
    recall = inside_manifold(real, fake_points, knn_radii(fake_points, k)).mean()
    return float(precision), float(recall)


def novelty_threshold(
    heldout: np.ndarray, train: np.ndarray, quantile: float = NOVELTY_QUANTILE
) -> float:
    """τ: the `quantile` of the held-out looks' distances to their nearest training look."""
    return float(np.quantile(nearest_distances(heldout, distinct(train)), quantile))


def novelty(fake: np.ndarray, train: np.ndarray, threshold: float) -> float:
    """Share of generated looks farther than `threshold` from every training look."""
    if len(fake) == 0:
        return float("nan")
    return float((nearest_distances(fake, distinct(train)) > threshold).mean())


# --- conditional fidelity --------------------------------------------------------------------------


@dataclass
class ConditionClassifier:
    """A one-hidden-layer classifier of the condition of a look vector (class-balanced)."""

    classes: tuple[str, ...]
    net: nn.Module

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        labels: Sequence[str],
        *,
        hidden: int = 64,
        steps: int = 400,
        weight_decay: float = 1e-3,
        seed: int = 0,
    ) -> ConditionClassifier:
        classes = tuple(sorted(set(labels)))
        y = torch.as_tensor(pd.Index(classes).get_indexer(np.asarray(labels, dtype=object)))
        counts = torch.bincount(y, minlength=len(classes)).float()
        weights = counts.sum() / (len(classes) * counts.clamp(min=1))
        xs = torch.as_tensor(np.asarray(x, dtype=np.float32))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = nn.Sequential(
                nn.Linear(xs.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, len(classes))
            )
            optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=weight_decay)
            loss_fn = nn.CrossEntropyLoss(weight=weights)
            for _ in range(steps):
                optimizer.zero_grad()
                loss_fn(net(xs), y).backward()
                optimizer.step()
        net.eval()
        return cls(classes, net)

    def predict(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            scores = self.net(torch.as_tensor(np.asarray(x, dtype=np.float32)))
        return np.asarray(self.classes, dtype=object)[scores.argmax(dim=1).numpy()]

    def class_recall(self, x: np.ndarray, labels: Sequence[str]) -> dict[str, float]:
        """Per class: the share of its looks predicted as that class."""
        labels = np.asarray(labels, dtype=object)
        predicted = self.predict(x)
        return {
            c: float((predicted[labels == c] == c).mean())
            for c in self.classes
            if (labels == c).any()
        }

    def balanced_accuracy(self, x: np.ndarray, labels: Sequence[str]) -> float:
        recalls = self.class_recall(x, labels)
        return float(np.mean(list(recalls.values()))) if recalls else float("nan")


# --- the evaluation table ---------------------------------------------------------------------------

ALL = "all"
METRIC_COLUMNS = ("precision", "recall", "novelty", "fidelity_accuracy", "fidelity")


def evaluate_generators(
    train: np.ndarray,
    train_groups: Sequence[str],
    heldout: np.ndarray,
    heldout_groups: Sequence[str],
    generated: Mapping[str, np.ndarray],
    *,
    k: int = DEFAULT_K,
    quantile: float = NOVELTY_QUANTILE,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Evaluate each generator's looks (aligned with the held-out rows: one generated look per
    held-out pair, asked for that pair's condition) per condition group and overall.

    Returns (table, facts): one row per (model, group) plus group "all" (means over groups
    weighted by held-out looks) with n, precision, recall, novelty, fidelity_accuracy (the
    classifier's recall of the group; balanced accuracy for "all") and fidelity (that over the
    same figure for real held-out looks); facts holds τ and the classifier's real accuracies.
    """
    heldout_groups = np.asarray(heldout_groups, dtype=object)
    threshold = novelty_threshold(heldout, train, quantile)
    classifier = ConditionClassifier.fit(train, train_groups, seed=seed)
    real_recall = classifier.class_recall(heldout, heldout_groups)
    real_balanced = classifier.balanced_accuracy(heldout, heldout_groups)
    groups = [g for g in dict.fromkeys(sorted(heldout_groups))]
    rows = []
    for model, fake in generated.items():
        if len(fake) != len(heldout):
            raise ValueError(
                f"{model}: {len(fake)} generated looks for {len(heldout)} held-out ones"
            )
        fake_recall = classifier.class_recall(fake, heldout_groups)
        per_group = []
        for group in groups:
            mine = heldout_groups == group
            precision, recall = precision_recall(heldout[mine], fake[mine], k)
            accuracy = fake_recall.get(group, float("nan"))
            real = real_recall.get(group, float("nan"))
            per_group.append(
                {
                    "model": model,
                    "group": group,
                    "n": int(mine.sum()),
                    "precision": precision,
                    "recall": recall,
                    "novelty": novelty(fake[mine], train, threshold),
                    "fidelity_accuracy": accuracy,
                    "fidelity": accuracy / real if real and real > 0 else float("nan"),
                }
            )
        frame = pd.DataFrame(per_group)
        weights = frame["n"].to_numpy(dtype=float)
        overall = {"model": model, "group": ALL, "n": int(weights.sum())}
        for column in ("precision", "recall", "novelty"):
            values = frame[column].to_numpy(dtype=float)
            ok = ~np.isnan(values)
            overall[column] = (
                float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")
            )
        balanced = classifier.balanced_accuracy(fake, heldout_groups)
        overall["fidelity_accuracy"] = balanced
        overall["fidelity"] = balanced / real_balanced if real_balanced > 0 else float("nan")
        rows += [overall, *per_group]
    facts = {
        "novelty_threshold": threshold,
        "real_fidelity_accuracy": real_balanced,
        **{f"real_fidelity_accuracy.{g}": v for g, v in real_recall.items()},
    }
    return pd.DataFrame(rows), facts
