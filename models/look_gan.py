"""The look GAN: a conditional Wasserstein GAN with gradient penalty that generates makeup looks.

G(z, c) → look vector (`models.look_space`: per region a category, a CIELAB shade, a finish and
an intensity); c = face (Monk skin tone, undertone, face shape or unknown) + optional trend terms
(shade family and finish of the lips, or "any"). Categorical blocks leave the generator through
straight-through Gumbel-softmax (temperature `gumbel_tau`: exactly one-hot forward, soft
gradients back), continuous ones linearly, so the critic sees real and fake looks in the same
space and cannot tell fakes by soft categories. The critic D(x, c) may judge `pac` samples at
once (PacGAN); its gradient penalty (λ = `gp_weight`) keeps it 1-Lipschitz (Gulrajani et al.
2017). Trend terms and the face shape are hidden at random while training (`term_dropout`,
`face_shape_dropout`), so one generator answers "any look for this face" as well as "coral looks
for warm undertones". docs/look_gan.md gives the measurements behind the defaults.

`train_look_gan(x, c, config)` is the training function (plain arrays in, `LookGanFit` out), the
one `TorchDistributor` runs; it picks CUDA when present, appends progress lines to a JSON-lines
file and writes periodic checkpoints it can resume from. `LookGenerator` wraps a trained generator
with its look space for inference (`generate(conditions, seed)`), saved as one ``.pt`` file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from models.look_space import (
    BLOCKS,
    CONDITION_SPACE,
    FINISHES,
    LOOK_DIM,
    ONE_HOT_SCALE,
    Conditions,
    LookArrays,
    LookSpace,
)

CHECKPOINT_PREFIX = "look_gan-step"
#: Checkpoints kept on disk (the oldest are deleted).
CHECKPOINTS_KEPT = 2


@dataclass
class LookGanConfig:
    """Hyperparameters of the look GAN; saved with every run and checkpoint."""

    latent_dim: int = 32  # size of the noise z ~ N(0, I)
    hidden: int = 128  # width of the hidden layers of generator and critic
    generator_layers: int = 3  # hidden layers of the generator
    generator_norm: bool = False  # batch normalization between generator layers
    critic_layers: int = 3  # hidden layers of the critic
    pac: int = 1  # samples the critic judges together (PacGAN); batch_size must divide by it
    critic_dropout: float = 0.0  # dropout between critic layers
    gumbel_tau: float = 0.2  # Gumbel-softmax temperature of category and finish blocks
    straight_through: bool = True  # one-hot forward, soft gradient (fakes not told by softness)
    n_critic: int = 5  # critic steps per generator step
    gp_weight: float = 10.0  # λ of the gradient penalty
    lr_generator: float = 2e-4  # Adam learning rates
    lr_critic: float = 2e-4
    beta1: float = 0.5  # Adam betas, as in WGAN-GP
    beta2: float = 0.9
    batch_size: int = 256  # real looks per critic step
    steps: int = 3_000  # generator steps
    term_dropout: float = 0.5  # chance each trend term (lip family, lip finish) is hidden
    face_shape_dropout: float = 0.2  # chance the face shape is hidden (asked for as unknown)
    instance_noise: float = 0.3  # std of Gaussian noise on real continuous values (z-units)
    seed: int = 42
    device: str = "auto"  # "auto": CUDA when available, else CPU; or a torch device string
    threads: int = 1  # torch CPU threads (0: torch default); more only contend on small layers
    log_every: int = 20  # generator steps between loss records and progress lines
    checkpoint_every: int = 500  # generator steps between checkpoints; 0: none
    boldness: bool = True  # condition on boldness (natural 0 ↔ bold 1; see `boldness_of`)
    boldness_dropout: float = 0.3  # chance boldness is hidden while training (asked as "any")
    ema_decay: float = 0.999  # EMA of generator weights served and evaluated (0: the last weights)
    diversity_weight: float = 0.0  # mode-seeking term (Mao et al. 2019): λ of −‖ΔG‖ / ‖Δz‖
    skeleton: bool = True  # condition on the look's categories and finishes (drawn at generation)

    def __post_init__(self) -> None:
        if self.batch_size % self.pac:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of pac {self.pac}")
        if self.steps < 1 or self.n_critic < 1:
            raise ValueError("steps and n_critic must be ≥ 1")

    def to_params(self, prefix: str = "gan.") -> dict[str, Any]:
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LookGanConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


#: Extra condition inputs with boldness: (2·b − 1 when asked, else 0; 1 when asked, else 0).
BOLDNESS_INPUTS = 2
#: Columns of a look vector that are one-hot (every region's category and finish): the look's
#: skeleton, a condition of a `skeleton` generator (as encoded: 0 or `ONE_HOT_SCALE`).
SKELETON_COLUMNS = np.array([c for b in BLOCKS if b.one_hot for c in range(b.start, b.stop)])
SKELETON_DIM = int(SKELETON_COLUMNS.size)


def condition_width(config: LookGanConfig) -> int:
    """Width of the networks' condition input: the condition space, plus boldness, plus the
    skeleton."""
    return (
        CONDITION_SPACE.dim
        + (BOLDNESS_INPUTS if config.boldness else 0)
        + (SKELETON_DIM if config.skeleton else 0)
    )


def boldness_of(intensity: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Boldness in [0, 1] of looks from their intensities (n, regions): the share of `reference`
    looks (default: the same looks) whose mean intensity is below the look's, ties counted half.
    0 is as natural as the most natural looks, 1 as bold as the boldest."""
    mean = np.asarray(intensity, dtype=np.float64).reshape(len(intensity), -1).mean(axis=1)
    ref = mean if reference is None else np.asarray(reference, dtype=np.float64)
    ref = np.sort(ref.reshape(len(ref), -1).mean(axis=1) if ref.ndim > 1 else ref)
    below = np.searchsorted(ref, mean, side="left")
    upto = np.searchsorted(ref, mean, side="right")
    return (below + upto) / (2.0 * max(len(ref), 1))


def boldness_inputs(boldness: np.ndarray | float | None, n: int) -> np.ndarray:
    """(n, BOLDNESS_INPUTS) float32 network inputs of asked boldness (None / NaN: any)."""
    values = np.full(n, np.nan) if boldness is None else np.broadcast_to(
        np.asarray(boldness, dtype=np.float64), (n,)
    )
    values = np.asarray(values, dtype=np.float64)
    asked = ~np.isnan(values)
    if asked.any() and (np.nanmin(values) < 0.0 or np.nanmax(values) > 1.0):
        raise ValueError("boldness must be in [0, 1]")
    out = np.zeros((n, BOLDNESS_INPUTS), dtype=np.float32)
    out[asked, 0] = 2.0 * values[asked] - 1.0
    out[asked, 1] = 1.0
    return out


def device_is_cpu(name: str) -> bool:
    return pick_device(name).type == "cpu"


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


# --- networks ------------------------------------------------------------------------------------


def _mlp(
    width_in: int, hidden: int, layers: int, slope: float, dropout: float = 0.0, norm: bool = False
) -> nn.Sequential:
    parts: list[nn.Module] = []
    for _ in range(layers):
        parts.append(nn.Linear(width_in, hidden))
        if norm:
            parts.append(nn.BatchNorm1d(hidden))
        parts.append(nn.LeakyReLU(slope))
        if dropout:
            parts.append(nn.Dropout(dropout))
        width_in = hidden
    return nn.Sequential(*parts)


class Generator(nn.Module):
    """G(z, c) → look vector (batch, LOOK_DIM)."""

    def __init__(self, config: LookGanConfig, cond_dim: int | None = None) -> None:
        super().__init__()
        cond_dim = condition_width(config) if cond_dim is None else cond_dim
        self.latent_dim, self.tau = config.latent_dim, config.gumbel_tau
        self.straight_through = config.straight_through
        self.skeleton = config.skeleton
        # where the given skeleton goes in the output; a buffer, so it follows .to(device)
        self.register_buffer(
            "skeleton_columns", torch.as_tensor(SKELETON_COLUMNS), persistent=False
        )
        self.body = _mlp(
            config.latent_dim + cond_dim,
            config.hidden,
            config.generator_layers,
            0.2,
            norm=config.generator_norm,
        )
        self.head = nn.Linear(config.hidden, LOOK_DIM)
        self._blocks = [(b.start, b.stop, b.one_hot) for b in BLOCKS]

    def forward(
        self, z: torch.Tensor, cond: torch.Tensor, hard: bool | None = None
    ) -> torch.Tensor:
        """Look vectors; `hard` one-hot blocks (default: `straight_through`)."""
        hard = self.straight_through if hard is None else hard
        raw = self.head(self.body(torch.cat([z, cond], dim=1)))  # (batch, LOOK_DIM)
        if self.skeleton:  # categories and finishes are given: the last SKELETON_DIM inputs
            out = raw.clone()
            out[:, self.skeleton_columns] = cond[:, -SKELETON_DIM:]
            return out
        parts = [
            ONE_HOT_SCALE * F.gumbel_softmax(raw[:, start:stop], tau=self.tau, hard=hard)
            if one_hot
            else raw[:, start:stop]
            for start, stop, one_hot in self._blocks
        ]
        return torch.cat(parts, dim=1)


class Critic(nn.Module):
    """D(x, c) → score per pack of `pac` samples (batch / pac,)."""

    def __init__(self, config: LookGanConfig, cond_dim: int | None = None) -> None:
        super().__init__()
        cond_dim = condition_width(config) if cond_dim is None else cond_dim
        self.pac = config.pac
        width = config.pac * (LOOK_DIM + cond_dim)
        self.body = _mlp(width, config.hidden, config.critic_layers, 0.2, config.critic_dropout)
        self.head = nn.Linear(config.hidden, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        packed = torch.cat([x, cond], dim=1).reshape(x.shape[0] // self.pac, -1)
        return self.head(self.body(packed)).squeeze(1)


def gradient_penalty(
    critic: Critic, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇D(x̂, c)‖ − 1)²] at random interpolates x̂ of real and fake looks (one α per pack)."""
    packs = real.shape[0] // critic.pac
    alpha = torch.rand(packs, 1, 1, device=real.device).expand(packs, critic.pac, 1)
    alpha = alpha.reshape(real.shape[0], 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(mixed, cond)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    norms = grad.reshape(packs, -1).norm(dim=1)
    return ((norms - 1.0) ** 2).mean()


# --- training ------------------------------------------------------------------------------------


@dataclass
class LookGanFit:
    """What training returns: the generator's weights, the loss history and the speed."""

    generator_state: dict[str, torch.Tensor]  # CPU tensors
    config: dict[str, Any]  # LookGanConfig as a dict
    history: dict[str, list[float]]  # step, wasserstein, critic_loss, generator_loss, gp, elapsed_s
    device: str
    train_s: float  # seconds in the training loop (this call: without start-up, with resumes)
    steps: int  # generator steps done in total
    samples_per_s: float  # real looks through the critic per second (batch × n_critic per step)
    resumed_from: int = 0  # the checkpoint step training resumed from (0: none)


def _mask_conditions(cond: torch.Tensor, config: LookGanConfig) -> torch.Tensor:
    """Hide trend terms and face shapes at random (zeros = "any" / unknown)."""
    space = CONDITION_SPACE
    batch = cond.shape[0]
    out = cond.clone()
    for part, rate in (
        (space.family, config.term_dropout),
        (space.finish, config.term_dropout),
        (space.face_shape, config.face_shape_dropout),
    ):
        if rate > 0:
            hide = torch.rand(batch, 1, device=cond.device) < rate
            out[:, part] = out[:, part] * (~hide)
    if config.boldness and config.boldness_dropout > 0:
        part = slice(space.dim, space.dim + BOLDNESS_INPUTS)
        hide = torch.rand(batch, 1, device=cond.device) < config.boldness_dropout
        out[:, part] = out[:, part] * (~hide)
    return out


def _checkpoints(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{CHECKPOINT_PREFIX}*.pt"))


def _save_checkpoint(directory: Path, state: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{CHECKPOINT_PREFIX}{state['step']:07d}.pt"
    temp = path.with_suffix(".tmp")
    torch.save(state, temp)
    os.replace(temp, path)
    for old in _checkpoints(directory)[:-CHECKPOINTS_KEPT]:
        old.unlink(missing_ok=True)
    return path


def latest_checkpoint(directory: Path | str | None) -> Path | None:
    """The newest checkpoint in `directory`, or None."""
    if directory is None or not Path(directory).is_dir():
        return None
    found = _checkpoints(Path(directory))
    return found[-1] if found else None


def train_look_gan(
    x: np.ndarray,
    cond: np.ndarray,
    config: dict[str, Any] | LookGanConfig,
    checkpoint_dir: str | None = None,
    progress_path: str | None = None,
    resume: bool = False,
    boldness: np.ndarray | None = None,
) -> LookGanFit:
    """Train G and D on real looks `x` (n, LOOK_DIM) with their full conditions `cond` (n, C).

    With `config.boldness`, each look's boldness in [0, 1] (`boldness_of` its intensities; default:
    the same rank of the mean of its intensity coordinates in `x`) is a condition too, hidden at
    random (`boldness_dropout`). The returned generator weights are the exponential moving average
    (`ema_decay`) of the trained ones when that is on.

    Writes a checkpoint every `checkpoint_every` steps into `checkpoint_dir` (keeping the last
    two) and, with `resume`, continues from the newest one there. Appends one JSON line per
    `log_every` steps to `progress_path` (step, steps, losses, elapsed_s). Runs in the process
    that calls it: `TorchDistributor` calls it in its own.
    """
    config = config if isinstance(config, LookGanConfig) else LookGanConfig.from_dict(config)
    if config.threads and device_is_cpu(config.device):
        torch.set_num_threads(config.threads)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    if len(x) < config.batch_size // 4:
        raise ValueError(f"{len(x)} training looks are too few for batches of {config.batch_size}")
    x = np.asarray(x, dtype=np.float32)
    cond = np.asarray(cond, dtype=np.float32)
    if config.boldness:
        if boldness is None:
            columns = [b.start for b in BLOCKS if b.kind == "intensity"]
            boldness = boldness_of(x[:, columns])
        cond = np.concatenate([cond, boldness_inputs(np.asarray(boldness), len(x))], axis=1)
    if config.skeleton:
        cond = np.concatenate([cond, x[:, SKELETON_COLUMNS]], axis=1)
    real_all = torch.as_tensor(x, device=device)
    cond_all = torch.as_tensor(cond, device=device)
    continuous = torch.zeros(LOOK_DIM, dtype=torch.bool, device=device)
    for block in BLOCKS:
        if not block.one_hot:
            continuous[block.start : block.stop] = True
    generator, critic = Generator(config).to(device), Critic(config).to(device)
    ema = {key: value.detach().clone() for key, value in generator.state_dict().items()}
    opt_g = torch.optim.Adam(
        generator.parameters(), lr=config.lr_generator, betas=(config.beta1, config.beta2)
    )
    opt_d = torch.optim.Adam(
        critic.parameters(), lr=config.lr_critic, betas=(config.beta1, config.beta2)
    )
    history: dict[str, list[float]] = {
        name: []
        for name in ("step", "wasserstein", "critic_loss", "generator_loss", "gp", "elapsed_s")
    }
    start_step, resumed_from = 0, 0
    found = latest_checkpoint(checkpoint_dir) if resume else None
    if found is not None:
        state = torch.load(found, map_location=device, weights_only=False)
        generator.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_generator"])
        opt_d.load_state_dict(state["opt_critic"])
        ema = {k: v.to(device) for k, v in state.get("generator_ema", state["generator"]).items()}
        history = state["history"]
        start_step = resumed_from = int(state["step"])
    n, batch = real_all.shape[0], config.batch_size
    progress = open(progress_path, "a", encoding="utf-8") if progress_path else None  # noqa: SIM115
    started = time.perf_counter()
    elapsed_before = history["elapsed_s"][-1] if history["elapsed_s"] else 0.0
    try:
        for step in range(start_step + 1, config.steps + 1):
            for _ in range(config.n_critic):
                rows = torch.randint(0, n, (batch,), device=device)
                real, c = real_all[rows], _mask_conditions(cond_all[rows], config)
                if config.instance_noise:
                    real = real + continuous * config.instance_noise * torch.randn_like(real)
                with torch.no_grad():
                    fake = generator(torch.randn(batch, config.latent_dim, device=device), c)
                real_score, fake_score = critic(real, c).mean(), critic(fake, c).mean()
                gp = gradient_penalty(critic, real, fake, c)
                critic_loss = fake_score - real_score + config.gp_weight * gp
                opt_d.zero_grad(set_to_none=True)
                critic_loss.backward()
                opt_d.step()
            rows = torch.randint(0, n, (batch,), device=device)
            c = _mask_conditions(cond_all[rows], config)
            z = torch.randn(batch, config.latent_dim, device=device)
            fake = generator(z, c)
            generator_loss = -critic(fake, c).mean()
            loss = generator_loss
            if config.diversity_weight:
                # mode seeking: two noises for the same conditions should give different looks
                z2 = torch.randn_like(z)
                fake2 = generator(z2, c)
                ratio = (fake - fake2).abs().mean(1) / (z - z2).abs().mean(1)
                loss = loss - config.diversity_weight * ratio.mean()
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            with torch.no_grad():
                decay = min(config.ema_decay, (1.0 + step) / (10.0 + step))
                for key, value in generator.state_dict().items():
                    if value.dtype.is_floating_point:
                        ema[key].mul_(decay).add_(value.detach(), alpha=1.0 - decay)
                    else:
                        ema[key].copy_(value)
            if step % config.log_every == 0 or step == config.steps:
                record = {
                    "step": float(step),
                    "wasserstein": (real_score - fake_score).item(),
                    "critic_loss": critic_loss.item(),
                    "generator_loss": generator_loss.item(),
                    "gp": gp.item(),
                    "elapsed_s": elapsed_before + time.perf_counter() - started,
                }
                for key, value in record.items():
                    history[key].append(value)
                if progress is not None:
                    progress.write(
                        json.dumps({**record, "steps": config.steps, "device": str(device)}) + "\n"
                    )
                    progress.flush()
            if (
                checkpoint_dir
                and config.checkpoint_every
                and (step % config.checkpoint_every == 0 or step == config.steps)
            ):
                _save_checkpoint(
                    Path(checkpoint_dir),
                    {
                        "step": step,
                        "generator": generator.state_dict(),
                        "generator_ema": ema,
                        "critic": critic.state_dict(),
                        "opt_generator": opt_g.state_dict(),
                        "opt_critic": opt_d.state_dict(),
                        "history": history,
                        "config": asdict(config),
                    },
                )
    finally:
        if progress is not None:
            progress.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - started
    done = config.steps - start_step
    return LookGanFit(
        generator_state={
            key: value.detach().cpu()
            for key, value in (ema if config.ema_decay > 0 else generator.state_dict()).items()
        },
        config=asdict(config),
        history=history,
        device=str(device),
        train_s=train_s,
        steps=config.steps,
        samples_per_s=done * config.n_critic * batch / train_s if train_s > 0 else float("nan"),
        resumed_from=resumed_from,
    )


# --- open conditions -------------------------------------------------------------------------------


#: Positions, within the skeleton, of the lips' finish one-hot.
_LIPS_FINISH_COLUMNS = np.array(
    [
        int(np.flatnonzero(SKELETON_COLUMNS == c)[0])
        for b in BLOCKS
        if b.kind == "finish" and b.region == 0
        for c in range(b.start, b.stop)
    ]
)


@dataclass
class ConditionPrior:
    """What a request leaves open (the lips' trend terms, the boldness and, for a `skeleton`
    generator, the look's categories and finishes) drawn the way people of the face's condition
    group chose it: from one training pair of that group.

    A generator asked for "any look for this face" with the terms and boldness zeroed samples
    the mixture over all of them in one pass, and GANs drop modes of such mixtures (measured,
    docs/look_gan.md: the lips' category and finish marginals 0.10–0.15 off in total variation,
    recall far below the Gaussian's at the temperature it was trained with). Sampling the open
    conditions first and the look given them (ancestral sampling: p(look | face) =
    Σ p(terms, boldness | face) · p(look | face, terms, boldness)) asks the generator only the
    narrower questions it answers well, and the terms then follow the group's own shares.
    Asked terms stay as asked and narrow the draw (a coral request draws the finish and boldness
    of the group's coral looks; when the group has none, of the whole group).
    """

    groups: np.ndarray  # (n,) condition group of each training pair
    family: np.ndarray  # (n,) the lips' shade family of its look
    finish: np.ndarray  # (n,) the lips' finish of its look
    boldness: np.ndarray  # (n,) float: the look's boldness (`boldness_of`)
    skeleton: np.ndarray | None = None  # (n, SKELETON_DIM) its look's one-hot columns

    @classmethod
    def from_pairs(
        cls, conditions: Conditions, boldness: np.ndarray, x: np.ndarray | None = None
    ) -> ConditionPrior:
        """From the training pairs: their conditions (with the looks' lip terms), boldness and,
        given their look vectors `x`, the looks' skeletons."""
        return cls(
            np.asarray(conditions.groups(), dtype=object),
            np.asarray(conditions.family, dtype=object),
            np.asarray(conditions.finish, dtype=object),
            np.asarray(boldness, dtype=np.float64),
            None if x is None else np.asarray(x, dtype=np.float32)[:, SKELETON_COLUMNS],
        )

    def __len__(self) -> int:
        return int(self.groups.size)

    def fill(
        self, conditions: Conditions, boldness: np.ndarray, rng: np.random.Generator
    ) -> tuple[Conditions, np.ndarray, np.ndarray | None]:
        """(conditions, boldness, skeletons) with each open term (None) and open boldness (NaN)
        drawn from one training pair of the row's group that agrees with the row's asked terms;
        with skeletons, every row draws one (its lips' finish set to an asked finish)."""
        n = len(conditions)
        family = np.asarray(conditions.family, dtype=object).copy()
        finish = np.asarray(conditions.finish, dtype=object).copy()
        boldness = np.asarray(boldness, dtype=np.float64).copy()
        open_family, open_finish = pd.isna(family), pd.isna(finish)
        draws = open_family | open_finish | np.isnan(boldness)
        if self.skeleton is not None:
            draws = np.ones(n, dtype=bool)
        if len(self) == 0 or not draws.any():
            return conditions, boldness, None
        keys = pd.DataFrame(
            {
                "g": np.asarray(conditions.groups(), dtype=object),
                "f": np.where(open_family, "", family),
                "x": np.where(open_finish, "", finish),
            }
        ).astype(str)
        picks = np.zeros(n, dtype=np.int64)
        for (group, fam, fin), index in keys.groupby(["g", "f", "x"], sort=True).indices.items():
            index = index[draws[index]]
            if index.size == 0:
                continue
            mine = self.groups == group
            pool = np.flatnonzero(
                mine
                & ((self.family == fam) if fam else True)
                & ((self.finish == fin) if fin else True)
            )
            if pool.size == 0:
                pool = np.flatnonzero(mine) if mine.any() else np.arange(len(self))
            picks[index] = rng.choice(pool, size=index.size)
        family[open_family] = self.family[picks[open_family]]
        finish[open_finish] = self.finish[picks[open_finish]]
        open_boldness = np.isnan(boldness)
        boldness[open_boldness] = self.boldness[picks[open_boldness]]
        skeleton = None
        if self.skeleton is not None:
            skeleton = self.skeleton[picks].copy()
            asked = ~open_finish
            if asked.any():  # the asked finish wins over the drawn look's (a fallback draw)
                lips = _LIPS_FINISH_COLUMNS
                skeleton[np.ix_(asked, lips)] = 0.0
                codes = pd.Index(FINISHES).get_indexer(finish[asked])
                skeleton[np.flatnonzero(asked), lips[codes]] = ONE_HOT_SCALE
        filled = Conditions(
            conditions.skin_tone, conditions.undertone, conditions.face_shape, family, finish
        )
        return filled, boldness, skeleton

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": self.groups.tolist(),
            "family": self.family.tolist(),
            "finish": self.finish.tolist(),
            "boldness": self.boldness.tolist(),
            "skeleton": None if self.skeleton is None else self.skeleton.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionPrior:
        skeleton = data.get("skeleton")
        return cls(
            np.asarray(data["groups"], dtype=object),
            np.asarray(data["family"], dtype=object),
            np.asarray(data["finish"], dtype=object),
            np.asarray(data["boldness"], dtype=np.float64),
            None if skeleton is None else np.asarray(skeleton, dtype=np.float32),
        )


# --- inference -----------------------------------------------------------------------------------


@dataclass
class LookGenerator:
    """A trained generator with the look space it writes in: conditions → looks.

    `temperature` is the standard deviation of the noise z at generation: 1 samples as trained;
    above 1 spreads the looks (recall and novelty up, precision down), below 1 concentrates them
    (the "truncation trick"). `group_temperatures` may override it per evaluation condition
    (`models.look_space.condition_groups`: undertone × skin-depth band). The job calibrates both
    on validation looks. With a `prior` (`ConditionPrior`), the conditions a request leaves open
    (lip terms, boldness) are drawn first, as the face's group chose them, and the look is
    generated for them; without one (a generator saved before it existed) they stay "any".
    """

    config: LookGanConfig
    space: LookSpace
    generator_state: dict[str, torch.Tensor] = field(repr=False)
    temperature: float = 1.0
    group_temperatures: dict[str, float] = field(default_factory=dict)
    prior: ConditionPrior | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._net = Generator(self.config)
        self._net.load_state_dict(self.generator_state)
        self._net.eval()

    @classmethod
    def from_fit(
        cls, fit: LookGanFit, space: LookSpace, prior: ConditionPrior | None = None
    ) -> LookGenerator:
        return cls(LookGanConfig.from_dict(fit.config), space, fit.generator_state, prior=prior)

    def with_temperature(self, temperature: float) -> LookGenerator:
        return replace(self, temperature=temperature,
                       group_temperatures=dict(self.group_temperatures))

    def with_group_temperatures(self, temperatures: dict[str, float]) -> LookGenerator:
        """The same generator with per-condition temperatures (others: `temperature`)."""
        return replace(self, group_temperatures={str(k): float(v) for k, v in temperatures.items()})

    def with_prior(self, prior: ConditionPrior | None) -> LookGenerator:
        """The same generator drawing open conditions from `prior` (None: leaving them open)."""
        return replace(self, prior=prior)

    def temperatures_of(self, conditions: Conditions) -> np.ndarray:
        """(n,) the noise spread each condition row is sampled with."""
        out = np.full(len(conditions), self.temperature, dtype=np.float32)
        if self.group_temperatures:
            groups = conditions.groups()
            for group, value in self.group_temperatures.items():
                out[groups == group] = value
        return out

    def generate_vectors(
        self, conditions: Conditions, seed: int = 0, boldness: np.ndarray | float | None = None
    ) -> np.ndarray:
        """(n, LOOK_DIM) look vectors, one per condition row (hard one-hot blocks). `boldness`
        (a value in [0, 1] or one per row; None or NaN: any) needs a generator trained with it.
        Open conditions are drawn from the `prior` first (class docstring)."""
        n = len(conditions)
        asked = np.broadcast_to(
            np.asarray(np.nan if boldness is None else boldness, dtype=np.float64), (n,)
        )
        if not self.config.boldness and not np.isnan(asked).all():
            raise ValueError("this look generator was trained without a boldness condition")
        skeleton = None
        if self.prior is not None:
            if not self.config.boldness:
                asked = np.zeros(n)  # nothing to draw: the network has no boldness input
            conditions, asked, skeleton = self.prior.fill(
                conditions, asked, np.random.default_rng(seed)
            )
        cond = CONDITION_SPACE.encode(conditions)
        if self.config.boldness:
            cond = np.concatenate([cond, boldness_inputs(asked, n)], axis=1)
        if self.config.skeleton:
            if skeleton is None:
                raise ValueError("a skeleton look generator needs its condition prior")
            cond = np.concatenate([cond, skeleton.astype(np.float32)], axis=1)
        cond = torch.as_tensor(cond)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            spread = torch.as_tensor(self.temperatures_of(conditions))[:, None]
            z = spread * torch.randn(len(conditions), self.config.latent_dim)
            return self._net(z, cond, hard=True).numpy()

    def generate(
        self, conditions: Conditions, seed: int = 0, boldness: np.ndarray | float | None = None
    ) -> LookArrays:
        """One look per condition row (repeat rows for more), reproducible for a seed."""
        return self.space.decode(self.generate_vectors(conditions, seed, boldness))

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        torch.save(
            {
                "config": asdict(self.config),
                "space": self.space.as_dict(),
                "generator": self.generator_state,
                "temperature": self.temperature,
                "group_temperatures": self.group_temperatures,
                "condition_prior": None if self.prior is None else self.prior.as_dict(),
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: Path | str) -> LookGenerator:
        state = torch.load(path, map_location="cpu", weights_only=False)
        # a generator saved before boldness existed has no boldness input
        return cls(
            LookGanConfig.from_dict({"boldness": False, "skeleton": False, **state["config"]}),
            LookSpace.from_dict(state["space"]),
            state["generator"],
            float(state.get("temperature", 1.0)),
            dict(state.get("group_temperatures", {})),
            None
            if state.get("condition_prior") is None
            else ConditionPrior.from_dict(state["condition_prior"]),
        )
