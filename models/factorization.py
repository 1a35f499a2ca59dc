"""PyTorch matrix factorization for implicit feedback: user and item embeddings and a ranker.

In: positive (user index, item index, weight) triples and the sizes of both id spaces, plus a
`FactorizationConfig`. Out: `FactorizationResult` with user factors, item factors and item biases
as numpy arrays (score(u, i) = user_factors[u] · item_factors[i] + item_bias[i]), the loss per
epoch, the device used and the training time.

Three objectives share the model:

- ``softmax`` (default): a user's positives are draws from a softmax over the *whole*
  catalogue (the multinomial likelihood of Liang et al. 2018), each weighted by its confidence.
  With a catalogue of a few thousand items that is one (users × items) matrix product per batch
  of users, and it ranks better than the pairwise loss (numbers in docs/recommender.md).
- ``poisson``: every (user, item) cell of the batch's users, positives and the rest, under a
  Poisson likelihood with rate σ(s(u,i)): −Σ_i [x_ui log σ(s(u,i)) − σ(s(u,i))], x_ui the
  confidence (0 off the positives). The likelihood of BiVAE (Truong et al. 2021) and Cornac's
  `likelihood="pois"`; same cost as the softmax.
- ``bpr``: Bayesian Personalized Ranking, −log σ(s(u,i) − s(u,j)) for `negatives` items j drawn
  uniformly per positive pair.

Two ways to get a user's vector: ``embedding`` (a free vector per user, classic MF) or
``history`` (asymmetric MF: the L2-normalised multi-hot history, with dropout while training,
times an item→vector table; a denoising linear autoencoder of rank `dim`). Items likewise:
``embedding`` (a free vector per item) or ``history`` (the L2-normalised column of the item's
users, with dropout while training, times a user→vector table: items with few users borrow from
those users' other items, as BiVAE's item encoder does).

A third user model, ``ease``, is not trained by gradient: EASE (Steck 2019), the full-rank
item→item regression B = I − P·diag(1/diag P), P = (XᵀX + Λ)⁻¹, zero diagonal, in closed form.
Λ = weight_decay + dropout/(1 − dropout)·diag(XᵀX) per item (the second term is what input
dropout amounts to for a linear autoencoder, Steck 2020). Its factors serve through the same
dot product: a user's factors are their history row x_u, item i's factors are column i of B
(score = x_u · B[:, i]; dim = n_items, so it suits catalogues of a few thousand items).

Side attributes (item category, finish, shade family, brand, price band; a consented skin tone
and undertone) add embeddings to the item and user vectors, so people and products with little
history borrow from similar ones.

Regularization: the loss is the mean over a batch's users of their confidence-weighted negative
log-likelihood plus weight_decay · (‖p_u‖² of each user in the batch + (‖Q‖² or ‖V‖², ‖H‖², the
attribute tables) / n_users) — each user's own vector pays the full weight, the shared tables
their share per user.

`train_factorization` is a module-level function of plain arguments so that Spark's
`TorchDistributor` can pickle it and run it in a subprocess; it picks CUDA when present.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

Objective = Literal["softmax", "poisson", "bpr"]
UserModel = Literal["embedding", "history", "ease"]
ItemModel = Literal["embedding", "history"]


@dataclass
class FactorizationConfig:
    """Hyperparameters of the torch factorization model (saved with every run)."""

    # Defaults: tuned on the simulated try-on lake (docs/recommender.md); the MovieLens
    # benchmark uses its own tuned values (bench/recommender_movielens.py).
    objective: Objective = "softmax"  # full-catalogue softmax; "poisson": BiVAE's; "bpr": pairwise
    dim: int = 32  # embedding size of users, items and attributes
    user_model: UserModel = "embedding"  # free vectors; "history": encoded history; "ease": EASE
    item_model: ItemModel = "embedding"  # free item vectors; "history": encoded from their users
    epochs: int = 60  # passes over the users (softmax, poisson) or the positive pairs (bpr)
    batch_size: int = 128  # users per step (softmax, poisson) or positive pairs per step (bpr)
    lr: float = 5e-3  # Adam learning rate
    weight_decay: float = 300.0  # L2 weight; a user's own vector pays it in full (see below)
    dropout: float = 0.0  # while training: on user vectors, or on the history encoders' inputs
    negatives: int = 8  # bpr only: uniform negative items per positive pair
    use_confidence: bool = True  # weight each pair's loss by its confidence
    init_std: float = 0.05  # std of the normal initialisation of the embeddings
    use_features: bool = True  # add user/item attribute embeddings when codes are given
    seed: int = 0  # seeds initialisation, shuffling and negative sampling
    device: str | None = None  # "cuda" / "cpu"; None: CUDA when available
    threads: int = 0  # CPU threads for torch; 0 keeps torch's default

    def __post_init__(self) -> None:
        for name, kind in (("objective", Objective), ("user_model", UserModel),
                           ("item_model", ItemModel)):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; use one of "
                                 f"{', '.join(map(repr, get_args(kind)))}")
        if self.user_model == "ease" and self.weight_decay <= 0:
            raise ValueError("user_model 'ease' needs weight_decay > 0 (its λ)")
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


def _cardinalities(codes: np.ndarray | None) -> list[int]:
    """Distinct values per column of an int code matrix (−1 = missing)."""
    if codes is None or codes.size == 0:
        return []
    return [int(column.max()) + 1 if (column >= 0).any() else 0 for column in codes.T]


class MatrixFactorization(nn.Module):
    """score(u, i) = ⟨p_u, q_i⟩ + b_i, with optional side features on both sides.

    q_i = Q_i (free embedding) or the encoded users ‖y_i‖⁻¹ y_i V (y_i: the item's column of
    users), plus Σ_f F_f[code_f(i)]; b_i = b_i + Σ_f c_f[code_f(i)] (item attributes such as
    category, shade family, finish); p_u = P_u (free embedding) or the encoded history
    ‖x_u‖⁻¹ x_u H (asymmetric MF), plus Σ_g G_g[code_g(u)] (user attributes such as a consented
    skin tone). Missing codes (−1) add nothing. Without features this is plain MF.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float, *,
                 history: bool, user_cards: list[int], item_cards: list[int],
                 item_history: bool = False) -> None:
        super().__init__()
        self.users = None if history else nn.Embedding(n_users, dim)
        self.history = nn.Embedding(n_items, dim) if history else None
        self.items = None if item_history else nn.Embedding(n_items, dim)
        self.item_encoder = nn.Embedding(n_users, dim) if item_history else None
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        # one extra row per table for "missing", kept at zero (padding_idx)
        self.user_features = nn.ModuleList(
            nn.Embedding(card + 1, dim, padding_idx=card) for card in user_cards)
        self.item_features = nn.ModuleList(
            nn.Embedding(card + 1, dim, padding_idx=card) for card in item_cards)
        self.item_feature_bias = nn.ModuleList(
            nn.Embedding(card + 1, 1, padding_idx=card) for card in item_cards)
        for table in [self.users, self.history, self.items, self.item_encoder,
                      *self.user_features, *self.item_features]:
            if table is not None:
                nn.init.normal_(table.weight, std=init_std)
                if table.padding_idx is not None:
                    with torch.no_grad():
                        table.weight[table.padding_idx].zero_()
        for table in self.item_feature_bias:
            nn.init.zeros_(table.weight)

    @staticmethod
    def _codes(codes: torch.Tensor, tables: nn.ModuleList) -> torch.Tensor:
        """(n, fields) codes with −1 missing → Σ over fields of the rows, (n, width)."""
        total = 0
        for field_index, table in enumerate(tables):
            column = codes[:, field_index]
            total = total + table(torch.where(column < 0, table.padding_idx, column))
        return total

    def item_vectors(self, item_codes: torch.Tensor | None,
                     columns: torch.Tensor | None = None) -> torch.Tensor:
        """(n_items, dim); `columns`: the (n_items, n_users) sparse, row-normalised item→user
        matrix that the `history` item model encodes."""
        if self.item_encoder is None:
            vectors = self.items.weight
        else:
            vectors = torch.sparse.mm(columns, self.item_encoder.weight)
        if item_codes is None or not len(self.item_features):
            return vectors
        return vectors + self._codes(item_codes, self.item_features)

    def item_biases(self, item_codes: torch.Tensor | None) -> torch.Tensor:
        """(n_items,)."""
        if item_codes is None or not len(self.item_feature_bias):
            return self.item_bias
        return self.item_bias + self._codes(item_codes, self.item_feature_bias).squeeze(1)

    def user_vectors(self, users: torch.Tensor, rows: torch.Tensor | None,
                     user_codes: torch.Tensor | None, dropout: nn.Module) -> torch.Tensor:
        """(batch,) user indices and their (batch, n_items) history rows → (batch, dim)."""
        if self.history is None:
            vectors = dropout(self.users(users))
        else:
            kept = dropout(rows)  # drops history items while training
            norm = kept.pow(2).sum(dim=1, keepdim=True).clamp_min(1e-12).sqrt()
            vectors = (kept / norm) @ self.history.weight
        if user_codes is not None and len(self.user_features):
            vectors = vectors + self._codes(user_codes[users], self.user_features)
        return vectors

    def squared_norm(self) -> torch.Tensor:
        """Σ of squared weights of the shared tables (the per-user part is added per batch)."""
        tables = [self.items, self.history, self.item_encoder, *self.user_features,
                  *self.item_features]
        return sum(table.weight.pow(2).sum() for table in tables if table is not None)


def pick_device(requested: str | None = None) -> torch.device:
    """`requested`, else CUDA when PyTorch sees a GPU, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _item_columns(items: torch.Tensor, users: torch.Tensor, kept: torch.Tensor,
                  n_items: int, n_users: int) -> torch.Tensor:
    """Sparse (n_items, n_users) item→user matrix of the pairs, each row L2-normalised;
    `kept`: (pairs,) the pairs' values after dropout (0 where dropped)."""
    norm = torch.zeros(n_items, device=kept.device).index_add_(0, items, kept.pow(2))
    values = kept / norm.clamp_min(1e-12).sqrt()[items]
    return torch.sparse_coo_tensor(torch.stack([items, users]), values, (n_items, n_users),
                                   check_invariants=False)  # indices valid by construction


def ease_item_weights(history: torch.Tensor, l2: float, dropout: float = 0.0) -> torch.Tensor:
    """EASE's closed form: (n_items, n_items) B with zero diagonal, scores = history @ B.

    `history`: the dense (n_users, n_items) matrix X. G = XᵀX; P = (G + Λ)⁻¹ with
    Λ = diag(l2 + dropout/(1 − dropout)·diag G); B = −P / diag(P) per column, diagonal 0.
    Solved in float64 on `history`'s device.
    """
    matrix = history.double()
    gram = matrix.T @ matrix  # (n_items, n_items)
    penalty = l2 + dropout / (1.0 - dropout) * torch.diagonal(gram)  # (n_items,)
    inverse = torch.linalg.inv(gram + torch.diag(penalty))
    weights = -inverse / torch.diagonal(inverse)[None, :]
    weights.fill_diagonal_(0.0)
    return weights


def _train_ease(users: np.ndarray, items: np.ndarray, values: np.ndarray, n_users: int,
                n_items: int, cfg: FactorizationConfig, device: torch.device,
                started: float) -> FactorizationResult:
    """EASE as factors: user u → its history row x_u, item i → column i of B (bias 0)."""
    history = torch.zeros(n_users, n_items, device=device)  # (n_users, n_items)
    history[torch.as_tensor(users, device=device), torch.as_tensor(items, device=device)] = (
        torch.as_tensor(values, device=device))
    weights = ease_item_weights(history, cfg.weight_decay, cfg.dropout)  # (n_items, n_items)
    return FactorizationResult(
        user_factors=history.cpu().numpy(),
        item_factors=weights.T.float().contiguous().cpu().numpy(),  # row i = B[:, i]
        item_bias=np.zeros(n_items, np.float32),
        device=str(device),
        train_s=time.perf_counter() - started,
    )


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


def train_factorization(
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray | None,
    n_users: int,
    n_items: int,
    config: dict[str, Any],
    user_codes: np.ndarray | None = None,
    item_codes: np.ndarray | None = None,
    on_epoch: Callable[[int, Callable[[], FactorizationResult]], bool] | None = None,
) -> FactorizationResult:
    """Fit the model on positive pairs; `config` is `asdict(FactorizationConfig)` (picklable).

    `users`, `items`: (pairs,) int indices in [0, n_users) and [0, n_items), each pair once.
    `weights`: (pairs,) confidences, or None for all ones. `user_codes`: (n_users, fields) and
    `item_codes`: (n_items, fields) integer attribute codes, −1 where unknown (optional).
    `on_epoch(epoch, snapshot)`: called after each epoch (1-based); `snapshot()` returns the
    factors as they are now (eval mode, the same export as the final result). Returning True
    stops training there (early stopping on a validation metric: the bench's tuning); the
    result is then the model as of that epoch. `user_model="ease"` is solved in closed form:
    no epochs, no `on_epoch` calls, no attributes, empty `losses`.
    """
    cfg = FactorizationConfig.from_dict(config)
    started = time.perf_counter()
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.user_model == "ease":
        values = (np.ones(len(users), np.float32) if weights is None or not cfg.use_confidence
                  else np.asarray(weights, dtype=np.float32))
        return _train_ease(np.asarray(users, np.int64), np.asarray(items, np.int64), values,
                           n_users, n_items, cfg, device, started)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(cfg.seed)
    use_codes = cfg.use_features
    user_cards = _cardinalities(user_codes) if use_codes else []
    item_cards = _cardinalities(item_codes) if use_codes else []
    model = MatrixFactorization(n_users, n_items, cfg.dim, cfg.init_std,
                                history=cfg.user_model == "history", user_cards=user_cards,
                                item_cards=item_cards,
                                item_history=cfg.item_model == "history").to(device)
    user_codes_t = (torch.as_tensor(np.asarray(user_codes, np.int64), device=device)
                    if user_cards else None)  # (n_users, user fields)
    item_codes_t = (torch.as_tensor(np.asarray(item_codes, np.int64), device=device)
                    if item_cards else None)  # (n_items, item fields)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    dropout = nn.Dropout(cfg.dropout)
    history = model.history is not None

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

    def columns(train: bool) -> torch.Tensor | None:
        """The `history` item model's (n_items, n_users) input, pairs dropped while training."""
        if model.item_encoder is None:
            return None
        kept = dropout(binary) if train else binary
        return _item_columns(indices, pair_users, kept, n_items, n_users)

    losses: list[float] = []

    def snapshot() -> FactorizationResult:
        """The factors as of now (eval mode; training mode restored after)."""
        model.eval()
        dropout.eval()
        with torch.no_grad():
            user_factors = torch.zeros(n_users, cfg.dim, device=device)  # no positives: 0
            everyone = torch.arange(n_users, device=device)
            for start in range(0, n_users, 1024):
                u = everyone[start:start + 1024]
                rows = _user_rows(indptr, indices, binary, u, n_items) if history else None
                user_factors[u] = model.user_vectors(u, rows, user_codes_t, dropout)
            result = FactorizationResult(
                user_factors=user_factors.cpu().numpy().astype(np.float32),
                item_factors=model.item_vectors(item_codes_t, columns(False)).cpu().numpy()
                .astype(np.float32),
                item_bias=model.item_biases(item_codes_t).cpu().numpy().astype(np.float32),
                losses=list(losses),
                device=str(device),
                train_s=time.perf_counter() - started,
            )
        model.train()
        dropout.train()
        return result

    model.train()
    dropout.train()
    for epoch in range(1, cfg.epochs + 1):
        total, count = 0.0, 0
        if cfg.objective != "bpr":  # softmax, poisson: batches of users
            batches = active[torch.randperm(len(active), device=device, generator=generator)]
        else:
            batches = torch.randperm(len(pair_users), device=device, generator=generator)
        for start in range(0, len(batches), cfg.batch_size):
            batch = batches[start:start + cfg.batch_size]
            u = pair_users[batch] if cfg.objective == "bpr" else batch
            rows = _user_rows(indptr, indices, binary, u, n_items) if history else None
            user_vectors = model.user_vectors(u, rows, user_codes_t, dropout)  # (batch, dim)
            item_vectors = model.item_vectors(item_codes_t, columns(True))  # (n_items, dim)
            item_bias = model.item_biases(item_codes_t)  # (n_items,)
            if cfg.objective != "bpr":
                target = _user_rows(indptr, indices, values_t, u, n_items)  # (batch, n_items)
                logits = user_vectors @ item_vectors.T + item_bias  # (batch, n_items)
                if cfg.objective == "softmax":
                    loss = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
                else:  # poisson: x log σ(s) − σ(s), log σ through the stable logsigmoid
                    loss = -(target * nn.functional.logsigmoid(logits)
                             - torch.sigmoid(logits)).sum(dim=1).mean()
            else:
                i, w = indices[batch], values_t[batch]
                sampled = torch.randint(0, n_items, (len(batch), cfg.negatives), device=device,
                                        generator=generator)  # (batch, negatives)
                candidates = torch.cat([i[:, None], sampled], dim=1)  # (batch, 1 + negatives)
                scores = (torch.einsum("bd,bmd->bm", user_vectors, item_vectors[candidates])
                          + item_bias[candidates])  # (batch, 1 + negatives)
                pair_loss = -nn.functional.logsigmoid(scores[:, :1] - scores[:, 1:]).mean(dim=1)
                loss = (pair_loss * w).sum() / w.sum()
            if cfg.weight_decay:
                reg = model.squared_norm()
                if model.users is not None:  # free user rows: scaled up to all users
                    reg = reg + model.users(u).pow(2).sum() * len(active) / len(u)
                loss = loss + cfg.weight_decay * reg / len(active)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
        losses.append(total / max(1, count))
        if on_epoch is not None and on_epoch(epoch, snapshot):
            break
    return snapshot()


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
