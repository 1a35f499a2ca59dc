"""The pure parts of the look GAN job: the look split, training pairs, the champion score."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jobs.train_look_gan import (
    HELDOUT,
    TRAIN,
    VALIDATION,
    LookGanInputError,
    TrainLookGanConfig,
    champion_score,
    distance_error,
    look_split,
    palette_requests,
    prepare_training_data,
)
from models.look_space import LookArrays, frame_from_looks


def _looks_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    looks = LookArrays(
        np.zeros((n, 4), dtype=int),
        rng.uniform(20, 80, (n, 4, 3)),
        rng.integers(0, 5, (n, 4)),
        rng.uniform(0.1, 1, (n, 4)),
    )
    return frame_from_looks(looks, [f"look{i:04d}" for i in range(n)])


def _pairs(n: int, looks: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "look_id": [f"look{i:04d}" for i in rng.integers(0, looks, n)],
            "skin_tone": rng.integers(1, 11, n),
            "undertone": rng.choice(["cool", "warm"], n),
            "face_shape": rng.choice(["oval", "round"], n),
            "n_positive": 1,
        }
    )


def test_look_split_is_stable_disjoint_and_near_the_shares():
    ids = [f"look{i:04d}" for i in range(4_000)]
    split = look_split(ids, 0.25, 0.15)
    assert (split == look_split(ids, 0.25, 0.15)).all()
    shares = pd.Series(split).value_counts(normalize=True)
    assert shares[HELDOUT] == pytest.approx(0.25, abs=0.03)
    assert shares[VALIDATION] == pytest.approx(0.75 * 0.15, abs=0.03)
    # more validation never moves a look in or out of the test looks
    assert ((look_split(ids, 0.25, 0.3) == HELDOUT) == (split == HELDOUT)).all()
    assert set(look_split(ids, 0.25, 0.0)) == {TRAIN, HELDOUT}


def test_training_pairs_are_split_by_look_and_carry_lip_terms():
    data = prepare_training_data(
        _pairs(600, 60).assign(look_id=lambda f: f["look_id"].where(f.index % 50 != 0, "unknown")),
        _looks_frame(60),
        0.25,
        0.15,
    )
    assert data.rows["rows.pairs_unknown_look"] == 12 and len(data.pairs) == 588
    assert (
        data.rows["rows.train_pairs"]
        + data.rows["rows.validation_pairs"]
        + data.rows["rows.heldout_pairs"]
        == 588
    )
    by_look = data.pairs.groupby("look_id")["split"].nunique()
    assert (by_look == 1).all()  # a look is in one split only
    assert data.x.shape == (588, data.space.dim)
    assert all(value is not None for value in data.conditions.family)  # the lips' terms
    assert all(value is None for value in data.faces(np.arange(3)).family)  # faces ask for any
    train_lab = data.looks.lab[data.train]
    np.testing.assert_allclose(data.space.lab_mean, train_lab.mean(axis=0))  # fitted on training


def test_too_few_pairs_is_an_input_error():
    with pytest.raises(LookGanInputError, match="too few"):
        prepare_training_data(_pairs(20, 60), _looks_frame(60), 0.25, 0.15, min_pairs=64)


def test_champion_score_needs_novelty():
    assert champion_score(0.8, 0.6, 0.9, 0.5) == pytest.approx(0.7)
    assert champion_score(0.99, 0.99, 0.2, 0.5) == -math.inf  # a copier never becomes champion
    assert champion_score(float("nan"), 0.5, 0.9, 0.5) == -math.inf


def test_config_validation_and_palette_rows():
    with pytest.raises(ValueError, match="heldout_share"):
        TrainLookGanConfig(heldout_share=1.0)
    with pytest.raises(ValueError, match="temperatures"):
        TrainLookGanConfig(temperatures=(0.0,))
    with pytest.raises(ValueError, match="calibration"):
        TrainLookGanConfig(calibration="guess")
    params = TrainLookGanConfig().as_params()
    assert params["gan.steps"] == 3000 and params["calibration"] == "distance"
    assert params["temperatures"] == ",".join(str(0.75 + 0.125 * i) for i in range(19))
    rows = palette_requests(4)
    assert len(rows) == 11 and all(request["n"] == 4 for _, request in rows)


def test_distance_error_compares_how_far_from_training_two_sets_lie():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(200, 4))
    new = train[:100] + rng.normal(0, 0.5, (100, 4))  # new looks, about 0.5·√4 from training
    assert distance_error(new, new, train) == 0.0
    near = train[:100] + rng.normal(0, 0.1, (100, 4))  # too close: nearly copies
    far = train[:100] + rng.normal(0, 1.5, (100, 4))  # strays too far
    errors = [distance_error(fake, new, train) for fake in (near, new[::-1], far)]
    assert errors[1] == 0.0 and errors[0] > 0.3 and errors[2] > 0.3
    assert math.isnan(distance_error(new[:0], new, train))
