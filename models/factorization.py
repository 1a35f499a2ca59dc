"""PyTorch matrix factorization for implicit feedback: user and item embeddings and a ranker.

In: positive (user index, item index, weight) triples and the sizes of both id spaces, plus a
`FactorizationConfig`. Out: `FactorizationResult` with user factors, item factors and item biases
as numpy arrays (score(u, i) = user_factors[u] · item_factors[i] + item_bias[i]), the loss per
epoch, the device used and the training time.

Two objectives share the model:

- ``softmax`` (default): each positive (u, i) is a classification of i among *all* items,
  cross-entropy over the full catalogue, weighted by the pair's confidence. With a catalogue of a
  few thousand items a full softmax is one matrix product per batch, and it ranks better than
  pairwise losses (numbers in docs/recommender.md).
- ``bpr``: Bayesian Personalized Ranking, −log σ(s(u,i) − s(u,j)) for `negatives` items j drawn
  uniformly per positive, L2 on the rows used.

`train_factorization` is a module-level function of plain arguments so that Spark's
`TorchDistributor` can pickle it and run it in a subprocess; it picks CUDA when present.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

Objective = Literal["softmax", "bpr"]
UserModel = Literal["embedding", "history"]


@dataclass
class FactorizationConfig:
    """Hyperparameters of the torch factorization model (saved with every run)."""

    objective: Objective = "softmax"  # full-catalogue softmax; "bpr" for the pairwise loss
    dim: int = 128  # embedding size of users and items
    user_model: UserModel = "embedding"  # free user vectors; "history": encoded item history
    epochs: int = 40  # passes over the users (softmax) or the positive pairs (bpr)
    batch_size: int = 128  # users per step (softmax) or positive pairs per step (bpr)
    lr: float = 2e-3  # Adam learning rate
    weight_decay: float = 0.0  # L2 on all factors, scaled per user
    dropout: float = 0.0  # dropout on user vectors, or on history items, while training
    negatives: int = 8  # bpr only: uniform negative items per positive pair
    use_confidence: bool = True  # weight each pair's loss by its confidence
    init_std: float = 0.05  # std of the normal initialisation of the embeddings
    seed: int = 0  # seeds initialisation, shuffling and negative sampling
    device: str | None = None  # "cuda" / "cpu"; None: CUDA when available

    def __post_init__(self) -> None:
        if self.objective not in ("softmax", "bpr"):
            raise ValueError(f"unknown objective {self.objective!r}; use 'softmax' or 'bpr'")
        if self.user_model not in ("embedding", "history"):
            raise ValueError(f"unknown user_model {self.user_model!r}; use 'embedding' or 'history'")
        if min(self.dim, self.epochs, self.batch_size, self.negatives) < 1:
            raise ValueError("dim, epochs, batch_size and negatives must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    def to_params(self, prefix: str = "torch.") -> dict[str, Any]:
        """Flat ``{prefix + name: value}`` for MLflow parameters."""
        return {f"{prefix}{name}": value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FactorizationConfig:
        known = {name: value for name, value in values.items() if name in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class FactorizationResult:
    """What training returns (plain numpy, so it pickles across the distributor's process)."""

    user_factors: np.ndarray  # (n_users, dim) float32
    item_factors: np.ndarray  # (n_items, dim) float32
    item_bias: np.ndarray  # (n_items,) float32
    losses: list[float] = field(default_factory=list)  # mean training loss per epoch
    device: str = "cpu"
    train_s: float = 0.0


class MatrixFactorization(nn.Module):
    """score(u, i) = ⟨P_u, Q_i⟩ + b_i."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        nn.init.normal_(self.users.weight, std=init_std)
        nn.init.normal_(self.items.weight, std=init_std)

    def all_scores(self, user_vectors: torch.Tensor) -> torch.Tensor:
        """(batch, dim) → (batch, n_items)."""
        return user_vectors @ self.items.weight.T + self.item_bias

    def pair_scores(self, user_vectors: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(batch, dim), (batch, m) item indices → (batch, m)."""
        return torch.einsum("bd,bmd->bm", user_vectors, self.items(items)) + self.item_bias[items]


def pick_device(requested: str | None = None) -> torch.device:
    """`requested`, else CUDA when PyTorch sees a GPU, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _user_rows(indptr: torch.Tensor, indices: torch.Tensor, values: torch.Tensor,
               batch: torch.Tensor, n_items: int) -> torch.Tensor:
    """Dense (batch, n_items) rows of a CSR matrix for the users in `batch`."""
    starts, stops = indptr[batch], indptr[batch + 1]
    counts = stops - starts  # (batch,)
    row = torch.repeat_interleave(torch.arange(len(batch), device=batch.device), counts)
    offsets = torch.arange(int(counts.sum()), device=batch.device) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts)
    position = starts[row] + offsets  # (nnz in batch,)
    dense = torch.zeros(len(batch), n_items, device=batch.device)
    dense[row, indices[position]] = values[position]
    return dense


class _Encoder:
    """User vectors: free embeddings (classic MF) or the encoded item history (asymmetric MF)."""

    def __init__(self, model: MatrixFactorization, history: nn.Embedding | None,
                 dropout: float) -> None:
        self.model, self.history, self.dropout = model, history, nn.Dropout(dropout)

    def __call__(self, users: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        if self.history is None:
            return self.dropout(self.model.users(users))  # (batch, dim)
        kept = self.dropout(rows)  # (batch, n_items): drops history items while training
        norm = kept.pow(2).sum(dim=1, keepdim=True).clamp_min(1e-12).sqrt()
        return (kept / norm) @ self.history.weight  # (batch, dim)


def train_factorization(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray | None,
    n_users: int,
    n_items: int,
    config: dict[str, Any],
) -> FactorizationResult:
    """Fit the model on positive pairs; `config` is `asdict(FactorizationConfig)` (picklable).

    `users`, `items`: (pairs,) int indices in [0, n_users) and [0, n_items), each pair once.
    `weights`: (pairs,) confidences, or None for all ones.
    """
    cfg = FactorizationConfig.from_dict(config)
    started = time.perf_counter()
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.seed)
    model = MatrixFactorization(n_users, n_items, cfg.dim, cfg.init_std).to(device)
    history = None
    if cfg.user_model == "history":
        history = nn.Embedding(n_items, cfg.dim).to(device)
        nn.init.normal_(history.weight, std=cfg.init_std)
    parameters = list(model.parameters()) + (list(history.parameters()) if history else [])
    optimizer = torch.optim.Adam(parameters, lr=cfg.lr)
    encode = _Encoder(model, history, cfg.dropout)

    # CSR of the positives by user: (users + 1,), (pairs,), (pairs,)
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    order = np.lexsort((items, users))
    values = (np.ones(len(users), np.float32) if weights is None or not cfg.use_confidence
              else np.asarray(weights, dtype=np.float32))
    indptr = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))]),
                             device=device)
    indices = torch.as_tensor(items[order], device=device)
    values_t = torch.as_tensor(values[order], device=device)
    binary = torch.ones_like(values_t)
    active = torch.as_tensor(np.flatnonzero(np.bincount(users, minlength=n_users)), device=device)
    pair_users = torch.as_tensor(users[order], device=device)

    losses: list[float] = []
    model.train()
    for _ in range(cfg.epochs):
        total, count = 0.0, 0
        if cfg.objective == "softmax":
            batches = active[torch.randperm(len(active), device=device, generator=generator)]
        else:
            batches = torch.randperm(len(pair_users), device=device, generator=generator)
        for start in range(0, len(batches), cfg.batch_size):
            batch = batches[start:start + cfg.batch_size]
            if cfg.objective == "softmax":
                u = batch
                target = _user_rows(indptr, indices, values_t, u, n_items)  # (batch, n_items)
                rows = _user_rows(indptr, indices, binary, u, n_items) if history else None
                logits = model.all_scores(encode(u, rows))  # (batch, n_items)
                loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            else:
                u, i, w = pair_users[batch], indices[batch], values_t[batch]
                rows = _user_rows(indptr, indices, binary, u, n_items) if history else None
                sampled = torch.randint(0, n_items, (len(batch), cfg.negatives), device=device,
                                        generator=generator)  # (batch, negatives)
                user_vectors = encode(u, rows)  # (batch, dim)
                positive = model.pair_scores(user_vectors, i[:, None])  # (batch, 1)
                negative = model.pair_scores(user_vectors, sampled)  # (batch, negatives)
                pair_loss = -nn.functional.logsigmoid(positive - negative).mean(dim=1)
                loss = (pair_loss * w).sum() / w.sum()
            if cfg.weight_decay:
                reg = model.items.weight.pow(2).sum()
                reg = reg + (history.weight.pow(2).sum() if history is not None
                             else model.users(u).pow(2).sum() * len(active) / len(u))
                loss = loss + cfg.weight_decay * reg / len(active)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        losses.append(total / max(1, count))
    model.eval()
    with torch.no_grad():
        if history is not None:
            user_factors = torch.zeros(n_users, cfg.dim, device=device)
            for start in range(0, len(active), 1024):
                u = active[start:start + 1024]
                user_factors[u] = encode(u, _user_rows(indptr, indices, binary, u, n_items))
        else:
            user_factors = model.users.weight
        return FactorizationResult(
            user_factors=user_factors.detach().cpu().numpy().astype(np.float32),
            item_factors=model.items.weight.detach().cpu().numpy().astype(np.float32),
            item_bias=model.item_bias.detach().cpu().numpy().astype(np.float32),
            losses=losses,
            device=str(device),
            train_s=time.perf_counter() - started,
        )


def top_k_items(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray | None,
    k: int,
    exclude: list[np.ndarray] | None = None,
    *,
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Best `k` items per user row, never an excluded one.

    `user_factors`: (users, dim); `item_factors`: (items, dim); `exclude[r]`: item indices to
    skip for row r. Returns (items (users, k) int64, scores (users, k) float32); where fewer
    than k items remain, the tail is item −1 with score −inf.
    """
    n_users, n_items = len(user_factors), len(item_factors)
    take = min(k, n_items)
    items_out = np.full((n_users, k), -1, dtype=np.int64)
    scores_out = np.full((n_users, k), -np.inf, dtype=np.float32)
    item_t = torch.as_tensor(np.asarray(item_factors, dtype=np.float32))  # (items, dim)
    bias_t = (torch.as_tensor(np.asarray(item_bias, dtype=np.float32)) if item_bias is not None
              else torch.zeros(n_items))
    for start in range(0, n_users, batch_size):
        stop = min(start + batch_size, n_users)
        user_t = torch.as_tensor(np.asarray(user_factors[start:stop], dtype=np.float32))
        scores = user_t @ item_t.T + bias_t  # (batch, items)
        if exclude is not None:
            rows = [np.full(len(exclude[r]), r - start) for r in range(start, stop)]
            cols = [np.asarray(exclude[r], dtype=np.int64) for r in range(start, stop)]
            if rows:
                row_idx = torch.as_tensor(np.concatenate(rows).astype(np.int64))
                col_idx = torch.as_tensor(np.concatenate(cols))
                scores[row_idx, col_idx] = -torch.inf
        values, indices = torch.topk(scores, take, dim=1)
        indices = torch.where(torch.isinf(values), torch.full_like(indices, -1), indices)
        items_out[start:stop, :take] = indices.numpy()
        scores_out[start:stop, :take] = values.numpy()
    return items_out, scores_out
