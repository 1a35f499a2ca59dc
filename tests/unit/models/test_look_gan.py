"""The look GAN on CPU: shapes, gradient penalty, a short training run on a toy distribution,
checkpoints and resume, the inference wrapper, and the two baselines."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from glamcast.core.shades import hex_to_lab
from models.look_baselines import GaussianLooks, MixtureLooks, NearestLooks
from models.look_gan import (
    BOLDNESS_INPUTS,
    SKELETON_COLUMNS,
    SKELETON_DIM,
    ConditionPrior,
    Critic,
    Generator,
    LookGanConfig,
    LookGanFit,
    LookGenerator,
    boldness_inputs,
    boldness_of,
    condition_width,
    gradient_penalty,
    latest_checkpoint,
    train_look_gan,
)
from models.look_space import (
    BLOCKS,
    CONDITION_SPACE,
    LOOK_DIM,
    ONE_HOT_SCALE,
    Conditions,
    LookArrays,
    LookSpace,
    lip_terms,
)

TOY = LookGanConfig(
    latent_dim=8,
    hidden=64,
    generator_layers=2,
    critic_layers=2,
    pac=2,
    batch_size=64,
    n_critic=3,
    steps=160,
    lr_generator=1e-3,
    lr_critic=1e-3,
    log_every=10,
    checkpoint_every=0,
    seed=3,
    skeleton=False,  # the generator draws categories and finishes itself (skeleton: own tests)
    instance_noise=0.0,  # the toy looks barely vary: noise of 0.3 z-units would blur them
)


def _toy(n: int = 512, seed: int = 0) -> tuple[LookArrays, Conditions]:
    """Warm faces wear coral lipstick, cool faces berry gloss; the lips' shades and intensity
    vary a little, the other regions not at all."""
    rng = np.random.default_rng(seed)
    warm = np.arange(n) % 2 == 0
    lab = np.zeros((n, 4, 3)) + np.array([60.0, 10.0, 10.0])
    lab[warm, 0] = np.array(hex_to_lab("#F27F5E")) + rng.normal(0, 1.5, (warm.sum(), 3))
    lab[~warm, 0] = np.array(hex_to_lab("#7A1F3D")) + rng.normal(0, 1.5, ((~warm).sum(), 3))
    category = np.zeros((n, 4), dtype=np.int64)
    category[~warm, 0] = 1  # lip_gloss
    finish = np.zeros((n, 4), dtype=np.int64)
    intensity = np.full((n, 4), 0.5)
    intensity[:, 0] = np.clip(rng.normal(0.6, 0.1, n), 0, 1)
    looks = LookArrays(category, lab, finish, intensity)
    families, finishes = lip_terms(looks)
    conditions = Conditions(
        np.where(warm, 6, 3),
        np.where(warm, "warm", "cool").astype(object),
        np.full(n, "oval", dtype=object),
        families,
        finishes,
    )
    return looks, conditions


def _critic_wasserstein(real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor) -> float:
    """W1 estimate of an independent critic trained from scratch to tell `real` from `fake`."""
    torch.manual_seed(0)
    config = LookGanConfig(
        hidden=64, critic_layers=2, pac=1, batch_size=64, boldness=False, skeleton=False
    )
    critic = Critic(config)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(150):
        rows = torch.randint(0, len(real), (64,))
        loss = (
            critic(fake[rows], cond[rows]).mean()
            - critic(real[rows], cond[rows]).mean()
            + 10 * gradient_penalty(critic, real[rows], fake[rows], cond[rows])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(critic(real, cond).mean() - critic(fake, cond).mean())


@dataclass
class ToyRun:
    space: LookSpace
    x: np.ndarray
    c: np.ndarray
    conditions: Conditions
    before: LookGenerator  # the generator as initialized
    after: LookGenerator  # and as trained
    fit: LookGanFit


@pytest.fixture(scope="module")
def toy_run() -> ToyRun:
    looks, conditions = _toy()
    space = LookSpace.fit(looks)
    x, c = space.encode(looks), CONDITION_SPACE.encode(conditions)
    torch.manual_seed(TOY.seed)  # the same initial weights as the trained run
    before = LookGenerator(TOY, space, Generator(TOY).state_dict())
    fit = train_look_gan(x, c, TOY)
    return ToyRun(space, x, c, conditions, before, LookGenerator.from_fit(fit, space), fit)


def test_generator_and_critic_shapes():
    config = LookGanConfig(latent_dim=8, hidden=32, pac=4, batch_size=8, skeleton=False)
    generator, critic = Generator(config), Critic(config)
    z, c = torch.randn(8, 8), torch.zeros(8, condition_width(config))
    assert condition_width(config) == CONDITION_SPACE.dim + BOLDNESS_INPUTS
    soft = generator(z, c)
    hard = generator(z, c, hard=True)
    assert soft.shape == hard.shape == (8, LOOK_DIM)
    for block in BLOCKS:
        if block.one_hot:
            sums = soft[:, block.start : block.stop].sum(dim=1)
            torch.testing.assert_close(sums, torch.full((8,), ONE_HOT_SCALE))
            values = hard[:, block.start : block.stop].detach()
            assert ((values == 0) | ((values - ONE_HOT_SCALE).abs() < 1e-6)).all()
            assert ((values > 0).sum(dim=1) == 1).all()
    assert critic(soft, c).shape == (2,)  # one score per pack of 4
    penalty = gradient_penalty(critic, hard.detach(), soft.detach(), c)
    assert penalty.ndim == 0 and penalty.item() >= 0
    with pytest.raises(ValueError, match="multiple of pac"):
        LookGanConfig(batch_size=10, pac=4)


def test_training_reduces_the_wasserstein_estimate_on_a_toy_distribution(toy_run: ToyRun):
    real, cond, fit = torch.as_tensor(toy_run.x), torch.as_tensor(toy_run.c), toy_run.fit
    untrained = torch.as_tensor(toy_run.before.generate_vectors(toy_run.conditions, seed=1))
    trained = torch.as_tensor(toy_run.after.generate_vectors(toy_run.conditions, seed=1))
    w_before = _critic_wasserstein(real, untrained, cond)
    w_after = _critic_wasserstein(real, trained, cond)
    assert w_after < 0.5 * w_before, (w_before, w_after)
    assert fit.history["step"] == [float(s) for s in range(10, 161, 10)]
    assert fit.device == "cpu" and fit.samples_per_s > 0
    # and the critic's own running estimate comes down from its peak
    assert np.mean(fit.history["wasserstein"][-3:]) < max(fit.history["wasserstein"])


def test_the_trained_generator_answers_its_condition(toy_run: ToyRun):
    asked = Conditions.of(np.array([6] * 100 + [3] * 100), ["warm"] * 100 + ["cool"] * 100, "oval")
    looks = toy_run.after.generate(asked, seed=2)
    lipstick = looks.category[:, 0] == 0
    assert lipstick[:100].mean() > 0.8 and lipstick[100:].mean() < 0.2
    families, _ = lip_terms(looks)
    assert (families[:100] == "coral").mean() > 0.5


def test_generation_is_reproducible_and_survives_save_and_load(toy_run: ToyRun, tmp_path):
    after, space = toy_run.after, toy_run.space
    asked = Conditions.of(5, "warm", n=6)
    first = after.generate_vectors(asked, seed=4)
    np.testing.assert_array_equal(first, after.generate_vectors(asked, seed=4))
    assert not np.array_equal(first, after.generate_vectors(asked, seed=5))
    loaded = LookGenerator.load(after.save(tmp_path / "g.pt"))
    np.testing.assert_allclose(loaded.generate_vectors(asked, seed=4), first)
    assert loaded.config == after.config and loaded.space.as_dict() == space.as_dict()
    hotter = loaded.with_temperature(2.0)
    assert LookGenerator.load(hotter.save(tmp_path / "h.pt")).temperature == 2.0
    assert np.abs(hotter.generate_vectors(asked, seed=4) - first).max() > 0


def test_checkpoints_progress_and_resume(tmp_path):
    looks, conditions = _toy(64)
    space = LookSpace.fit(looks)
    x, c = space.encode(looks), CONDITION_SPACE.encode(conditions)
    config = LookGanConfig(
        latent_dim=4,
        hidden=16,
        generator_layers=1,
        critic_layers=1,
        pac=1,
        batch_size=16,
        n_critic=1,
        steps=6,
        log_every=2,
        checkpoint_every=2,
    )
    progress = tmp_path / "progress.jsonl"
    fit = train_look_gan(
        x,
        c,
        {**config.__dict__, "steps": 4},
        checkpoint_dir=str(tmp_path / "ck"),
        progress_path=str(progress),
    )
    assert fit.steps == 4 and latest_checkpoint(tmp_path / "ck").name == "look_gan-step0000004.pt"
    assert len(list((tmp_path / "ck").glob("*.pt"))) == 2  # the oldest is gone
    lines = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4] and lines[0]["steps"] == 4
    resumed = train_look_gan(x, c, config, checkpoint_dir=str(tmp_path / "ck"), resume=True)
    assert resumed.resumed_from == 4 and resumed.steps == 6
    assert resumed.history["step"] == [2.0, 4.0, 6.0]


def test_gaussian_baseline_samples_around_each_group():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (200, 3)), rng.normal(10, 1, (200, 3))])
    groups = np.array(["a"] * 200 + ["b"] * 200, dtype=object)
    baseline = GaussianLooks.fit(x, groups)
    draws = baseline.sample(np.array(["a"] * 500 + ["b"] * 500 + ["zzz"] * 500), rng)
    assert abs(draws[:500].mean()) < 0.2 and abs(draws[500:1000].mean() - 10) < 0.2
    assert abs(draws[1000:].mean() - 5) < 0.6  # an unknown group: the pooled fit
    assert draws[:500].std() == pytest.approx(1.0, abs=0.15)


def test_nearest_baseline_copies_a_look_of_the_nearest_face():
    x = np.arange(12, dtype=float).reshape(4, 3)
    train = Conditions.of(
        [2, 2, 8, 5], ["warm", "cool", "cool", "warm"], ["oval", "oval", "round", None]
    )
    baseline = NearestLooks.fit(x, train)
    rng = np.random.default_rng(0)
    asked = Conditions.of(
        [2, 7, 4, 2], ["cool", "cool", "warm", "warm"], ["oval", None, None, "heart"]
    )
    copies = baseline.sample(asked, rng)
    np.testing.assert_array_equal(copies, x[[1, 2, 3, 0]])


# --- boldness, EMA, the mixture baseline ---------------------------------------------------------


def test_boldness_is_the_rank_of_mean_intensity():
    intensity = np.array([[0.2, 0.2], [0.8, 0.6], [0.5, 0.5], [0.5, 0.5]])
    # means 0.2, 0.7, 0.5, 0.5: shares below (ties half) of four looks
    np.testing.assert_allclose(boldness_of(intensity), [0.125, 0.875, 0.5, 0.5])
    np.testing.assert_allclose(boldness_of(np.array([[0.0, 0.0], [1.0, 1.0]]), intensity), [0, 1])
    inputs = boldness_inputs(np.array([0.0, 1.0, np.nan]), 3)
    np.testing.assert_allclose(inputs, [[-1, 1], [1, 1], [0, 0]])
    np.testing.assert_allclose(boldness_inputs(None, 2), np.zeros((2, 2)))
    np.testing.assert_allclose(boldness_inputs(0.75, 2), [[0.5, 1], [0.5, 1]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        boldness_inputs(1.5, 1)


def test_the_generator_follows_the_boldness_it_is_asked():
    # every region's intensity spread evenly over 0.1–0.9 (the same for all regions of a look):
    # boldness ranks the looks by it
    looks, conditions = _toy(400, seed=5)
    rng = np.random.default_rng(5)
    looks.intensity = np.tile(rng.uniform(0.1, 0.9, (len(looks), 1)), (1, looks.intensity.shape[1]))
    space = LookSpace.fit(looks)
    config = LookGanConfig(**{**TOY.__dict__, "pac": 1, "n_critic": 2, "steps": 150, "seed": 1})
    fit = train_look_gan(space.encode(looks), CONDITION_SPACE.encode(conditions), config)
    generator = LookGenerator.from_fit(fit, space)
    asked = Conditions.of(np.array([3] * 200), ["cool"] * 200, "oval")
    natural = generator.generate(asked, seed=3, boldness=0.0).intensity.mean()
    bold = generator.generate(asked, seed=3, boldness=1.0).intensity.mean()
    anything = generator.generate(asked, seed=3).intensity.mean()
    assert bold - natural > 0.12, (natural, bold)
    assert natural < anything < bold


def test_a_generator_saved_before_boldness_loads_and_refuses_boldness(toy_run: ToyRun, tmp_path):
    config = LookGanConfig(**{**TOY.__dict__, "boldness": False})
    old = LookGenerator(config, toy_run.space, Generator(config).state_dict())
    path = old.save(tmp_path / "old.pt")
    state = torch.load(path, weights_only=False)
    del state["config"]["boldness"]  # as saved before the field existed
    torch.save(state, path)
    loaded = LookGenerator.load(path)
    assert loaded.config.boldness is False
    asked = Conditions.of(5, "warm", n=3)
    assert loaded.generate_vectors(asked).shape == (3, LOOK_DIM)
    with pytest.raises(ValueError, match="without a boldness"):
        loaded.generate(asked, boldness=0.5)


def test_the_served_weights_are_the_moving_average(toy_run: ToyRun):
    x, c = toy_run.x, toy_run.c
    short = LookGanConfig(**{**TOY.__dict__, "steps": 20, "ema_decay": 0.9})
    raw = LookGanConfig(**{**TOY.__dict__, "steps": 20, "ema_decay": 0.0})
    averaged, last = train_look_gan(x, c, short), train_look_gan(x, c, raw)
    # the same training run (same seed), only what is returned differs
    for key in ("wasserstein", "critic_loss", "generator_loss", "gp"):
        assert averaged.history[key] == last.history[key]
    different = [
        key
        for key, value in averaged.generator_state.items()
        if not torch.equal(value, last.generator_state[key])
    ]
    assert different


def test_mixture_baseline_finds_the_modes_and_chooses_its_size_on_validation():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])

    def draw(n: int) -> np.ndarray:
        return centres[rng.integers(0, 3, n)] + rng.normal(0, 0.5, (n, 2))

    x, x_val = draw(600), draw(300)
    groups, groups_val = np.full(600, "a", dtype=object), np.full(300, "a", dtype=object)
    model, scores = MixtureLooks.fit_validated(
        x, groups, x_val, groups_val, components=(1, 3), reg_covars=(0.01,)
    )
    assert model.n_components == 3 and scores[(3, 0.01)] > scores[(1, 0.01)]
    draws = model.sample(np.full(900, "a", dtype=object), rng)
    nearest = np.linalg.norm(draws[:, None, :] - centres[None], axis=2).argmin(axis=1)
    assert np.bincount(nearest, minlength=3).min() > 200  # every mode, about a third each
    assert np.linalg.norm(draws - centres[nearest], axis=1).mean() < 1.0
    unknown = model.sample(np.full(10, "zzz", dtype=object), rng)  # the pooled fit
    assert unknown.shape == (10, 2)


def _prior() -> ConditionPrior:
    """Warm/medium people chose coral matte (bold) three times as often as berry gloss (natural);
    cool/light people only nude satin."""
    n = 400
    warm = np.arange(n) < 300
    coral = np.arange(n) < 225
    return ConditionPrior.from_pairs(
        Conditions(
            np.where(warm, 5, 2),
            np.where(warm, "warm", "cool").astype(object),
            np.full(n, None, dtype=object),
            np.where(coral, "coral", np.where(warm, "berry", "nude")).astype(object),
            np.where(coral, "matte", np.where(warm, "gloss", "satin")).astype(object),
        ),
        np.where(coral, 0.9, np.where(warm, 0.1, 0.5)),
    )


def test_the_prior_draws_open_conditions_as_the_group_chose_them():
    prior, n = _prior(), 20_000
    rng = np.random.default_rng(0)
    filled, bold, _ = prior.fill(Conditions.of(6, "warm", n=n), np.full(n, np.nan), rng)
    coral = filled.family == "coral"
    assert abs(coral.mean() - 0.75) < 0.02  # the group's share, not the pooled 0.5625
    assert set(filled.family) == {"coral", "berry"}  # never the cool group's nude
    # terms and boldness come from one pair: coral looks are matte and bold together
    assert (filled.finish[coral] == "matte").all() and (bold[coral] == 0.9).all()
    assert (filled.finish[~coral] == "gloss").all() and (bold[~coral] == 0.1).all()
    cool, _, _ = prior.fill(Conditions.of(2, "cool", n=50), np.full(50, np.nan), rng)
    assert set(cool.family) == {"nude"} and set(cool.finish) == {"satin"}


def test_asked_conditions_stay_and_narrow_the_draw():
    prior, rng = _prior(), np.random.default_rng(1)
    asked = Conditions.of(5, "warm", family="berry", n=200)
    filled, bold, _ = prior.fill(asked, np.full(200, np.nan), rng)
    assert set(filled.family) == {"berry"} and set(filled.finish) == {"gloss"}
    assert (bold == 0.1).all()
    # an asked boldness is kept; a family the group never chose falls back to the whole group
    filled, bold, _ = prior.fill(Conditions.of(5, "warm", family="red", n=200), np.full(200, 0.3), rng)
    assert set(filled.family) == {"red"} and set(filled.finish) == {"matte", "gloss"}
    assert (bold == 0.3).all()
    # nothing open: returned as asked
    both = Conditions.of(5, "warm", family="red", finish="metallic", n=3)
    same, bold, _ = prior.fill(both, np.full(3, 0.5), rng)
    assert same is both and (bold == 0.5).all()


def test_a_generator_with_a_prior_is_seeded_and_keeps_it_through_save_and_load(
    toy_run: ToyRun, tmp_path
):
    looks, conditions = _toy()
    prior = ConditionPrior.from_pairs(conditions, boldness_of(looks.intensity))
    with_prior = toy_run.after.with_prior(prior).with_temperature(1.25)
    asked = Conditions.of(np.array([6] * 60 + [3] * 60), ["warm"] * 60 + ["cool"] * 60, "oval")
    first = with_prior.generate_vectors(asked, seed=4)
    np.testing.assert_array_equal(first, with_prior.generate_vectors(asked, seed=4))
    loaded = LookGenerator.load(with_prior.save(tmp_path / "p.pt"))
    assert loaded.prior is not None and len(loaded.prior) == len(prior)
    assert loaded.temperature == 1.25
    np.testing.assert_allclose(loaded.generate_vectors(asked, seed=4), first)
    # the drawn terms are the group's: warm faces get the coral lipstick of the warm pairs
    families, _ = lip_terms(loaded.generate(asked, seed=4))
    assert (families[:60] == "coral").mean() > 0.5
    assert LookGenerator.load(toy_run.after.save(tmp_path / "np.pt")).prior is None


def test_a_skeleton_generator_keeps_the_drawn_categories_and_finishes(tmp_path):
    config = LookGanConfig(latent_dim=8, hidden=32, pac=2, batch_size=8)
    assert config.skeleton and condition_width(config) == (
        CONDITION_SPACE.dim + BOLDNESS_INPUTS + SKELETON_DIM
    )
    looks, conditions = _toy(256, seed=2)
    space = LookSpace.fit(looks)
    x = space.encode(looks)
    skeleton = torch.as_tensor(x[:8, SKELETON_COLUMNS])
    c = torch.cat([torch.zeros(8, CONDITION_SPACE.dim + BOLDNESS_INPUTS), skeleton], dim=1)
    out = Generator(config)(torch.randn(8, 8), c)
    torch.testing.assert_close(out[:, SKELETON_COLUMNS], skeleton)  # given, not generated
    # trained with the skeleton as a condition; generating needs the prior that draws it
    trained = LookGenerator.from_fit(
        train_look_gan(x, CONDITION_SPACE.encode(conditions), {**TOY.__dict__, "skeleton": True}),
        space,
    )
    asked = Conditions.of(np.array([6] * 100 + [3] * 100), ["warm"] * 100 + ["cool"] * 100, "oval")
    with pytest.raises(ValueError, match="condition prior"):
        trained.generate(asked)
    prior = ConditionPrior.from_pairs(conditions, boldness_of(looks.intensity), x)
    generator = LookGenerator.load(trained.with_prior(prior).save(tmp_path / "s.pt"))
    made = generator.generate(asked, seed=1)
    # warm faces only ever chose coral lipstick, cool ones berry gloss: the drawn skeletons say so
    assert (made.category[:100, 0] == 0).all() and (made.category[100:, 0] == 1).all()
    # an asked lip finish wins over a drawn skeleton's
    metallic = generator.generate(asked.with_terms(finish="metallic"), seed=1)
    assert (metallic.finish_names()[:, 0] == "metallic").all()
