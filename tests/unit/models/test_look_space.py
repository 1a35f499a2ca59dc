"""Look vectors, conditions, the product matcher and the quality metrics, on tiny exact inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from glamcast.core.shades import delta_e_2000, hex_to_lab
from models.look_quality import (
    ConditionClassifier,
    evaluate_generators,
    knn_radii,
    novelty,
    novelty_threshold,
    precision_recall,
)
from models.look_space import (
    BLOCKS,
    CONDITION_SPACE,
    LOOK_DIM,
    REGIONS,
    Conditions,
    LookArrays,
    LookDataError,
    LookSpace,
    condition_groups,
    frame_from_looks,
    lip_terms,
    looks_from_frame,
)
from models.shoppable_looks import PaletteRow, ProductMatcher, plot_palettes


def _looks(n: int, seed: int = 0) -> LookArrays:
    rng = np.random.default_rng(seed)
    category = np.stack([rng.integers(0, size, n) for size in (2, 2, 3, 1)], axis=1)
    lab = np.stack(
        [rng.uniform(20, 80, (n, 4)), rng.uniform(-20, 60, (n, 4)), rng.uniform(-30, 40, (n, 4))],
        axis=2,
    )
    return LookArrays(category, lab, rng.integers(0, 5, (n, 4)), rng.uniform(0.1, 1.0, (n, 4)))


# --- vectors -----------------------------------------------------------------------------------


def test_layout_has_one_block_per_part_and_region():
    assert LOOK_DIM == 11 + 11 + 12 + 9  # brows have a single category: no category block
    assert [b.kind for b in BLOCKS if b.region == 0] == ["category", "lab", "finish", "intensity"]
    assert [b.kind for b in BLOCKS if b.region == 3] == ["lab", "finish", "intensity"]
    assert all(a.stop == b.start for a, b in itertools.pairwise(BLOCKS))


def test_encode_decode_round_trip():
    looks = _looks(50)
    space = LookSpace.fit(looks)
    x = space.encode(looks)
    assert x.shape == (50, LOOK_DIM) and x.dtype == np.float32
    back = space.decode(x)
    np.testing.assert_array_equal(back.category, looks.category)
    np.testing.assert_array_equal(back.finish, looks.finish)
    np.testing.assert_allclose(back.lab, looks.lab, atol=1e-3)
    np.testing.assert_allclose(back.intensity, looks.intensity, atol=1e-5)
    lab_block = next(b for b in BLOCKS if b.kind == "lab" and b.region == 0)
    assert x[:, lab_block.start].mean() == pytest.approx(0.0, abs=1e-5)
    assert x[:, lab_block.start].std() == pytest.approx(1.0, abs=1e-3)


def test_another_finish_or_category_adds_exactly_one_to_the_squared_distance():
    looks = _looks(1)
    space = LookSpace.fit(_looks(20))
    other = looks.take([0])
    other.finish = other.finish.copy()
    other.finish[0, 0] = (other.finish[0, 0] + 1) % 5
    other.category = other.category.copy()
    other.category[0, 2] = (other.category[0, 2] + 1) % 3
    d2 = ((space.encode(looks) - space.encode(other)) ** 2).sum()
    assert d2 == pytest.approx(2.0, abs=1e-6)


def test_decode_clips_intensity_and_lightness():
    space = LookSpace.fit(_looks(20))
    x = np.zeros((1, LOOK_DIM), dtype=np.float32)
    for block in BLOCKS:
        if block.kind == "intensity":
            x[0, block.start] = 50.0
        if block.kind == "lab":
            x[0, block.start] = -50.0
    back = space.decode(x)
    assert (back.intensity == 1.0).all() and (back.lab[..., 0] == 0.0).all()


def test_frame_round_trip_and_errors():
    looks = _looks(3)
    frame = frame_from_looks(looks, ["b", "a", "c"])
    assert len(frame) == 12 and list(frame["region"][:4]) == list(REGIONS)
    ids, back = looks_from_frame(frame.sample(frac=1.0, random_state=1))
    assert ids.tolist() == ["a", "b", "c"]  # sorted by id
    np.testing.assert_array_equal(back.category, looks.category[[1, 0, 2]])
    np.testing.assert_allclose(back.lab, looks.lab[[1, 0, 2]])
    with pytest.raises(LookDataError, match="lack a region"):
        looks_from_frame(frame[~((frame["look_id"] == "a") & (frame["region"] == "eyes"))])
    bad = frame.copy()
    bad.loc[bad["region"] == "brows", "category"] = "lipstick"
    with pytest.raises(LookDataError, match="brows"):
        looks_from_frame(bad)
    with pytest.raises(LookDataError, match="intensity"):
        looks_from_frame(frame.drop(columns="intensity"))


def test_lip_terms_name_the_family_and_finish_of_the_lips():
    looks = _looks(2)
    looks.lab[0, 0] = hex_to_lab("#F27F5E")  # a coral
    looks.finish[0, 0] = 0
    families, finishes = lip_terms(looks)
    assert families[0] == "coral" and finishes[0] == "matte"


# --- conditions --------------------------------------------------------------------------------


def test_condition_vectors_and_unknown_parts():
    conditions = Conditions.of(
        [1, 10], ["cool", "warm"], ["oval", None], [None, "coral"], ["matte", None]
    )
    c = CONDITION_SPACE.encode(conditions)
    space = CONDITION_SPACE
    assert c.shape == (2, space.dim)
    assert c[0, space.skin_tone].argmax() == 0 and c[1, space.skin_tone].argmax() == 9
    assert c[:, space.depth.start].tolist() == [pytest.approx(-1.0), pytest.approx(1.0)]
    assert c[0, space.undertone].tolist() == [1, 0, 0]
    assert c[1, space.face_shape].sum() == 0  # unknown face shape
    assert c[0, space.family].sum() == 0 and c[1, space.family].sum() == 1  # any / coral
    assert c[0, space.finish].sum() == 1 and c[1, space.finish].sum() == 0
    with pytest.raises(ValueError, match="undertone"):
        Conditions.of(3, "golden")
    with pytest.raises(ValueError, match="skin_tone"):
        Conditions.of(11, "warm")
    assert len(Conditions.of(4, "warm", n=5)) == 5


def test_condition_groups_are_undertone_by_depth_band():
    groups = condition_groups(np.array([1, 3, 4, 6, 7, 10]), np.array(["cool"] * 3 + ["warm"] * 3))
    assert groups.tolist() == [
        "cool/light",
        "cool/light",
        "cool/medium",
        "warm/medium",
        "warm/deep",
        "warm/deep",
    ]


# --- product matcher -------------------------------------------------------------------------------


CATALOG = pd.DataFrame(
    {
        "product_id": ["red-matte", "coral-matte", "red-satin", "pink-gloss", "brown-brow"],
        "category": ["lipstick", "lipstick", "lipstick", "lip_gloss", "brow"],
        "shade_hex": ["#B22234", "#F27F5E", "#B3303A", "#F4A6C0", "#6B4A3A"],
        "finish": ["matte", "matte", "satin", "gloss", "matte"],
        "brand": ["A", "B", "C", "D", "E"],
        "name": ["Red", "Coral", "Red satin", "Pink", "Brow"],
        "price": [10.0, 11.0, 12.0, 13.0, 14.0],
    }
)


def test_matcher_returns_the_delta_e_nearest_product_of_the_category_and_finish():
    matcher = ProductMatcher(CATALOG)
    asked = np.array([hex_to_lab("#B4283A"), hex_to_lab("#EE8060")])
    rows, distance, matched = matcher.nearest("lipstick", "matte", asked)
    assert CATALOG["product_id"][rows].tolist() == ["red-matte", "coral-matte"]
    assert matched
    expected = delta_e_2000(asked[0], hex_to_lab("#B22234"))
    assert distance[0] == pytest.approx(expected)
    # "red-satin" is nearer to this red than "red-matte" is, but its finish is not the one asked
    near_satin = np.array([hex_to_lab("#B3303A")])
    rows, _, _ = matcher.nearest("lipstick", "matte", near_satin)
    assert CATALOG["product_id"][rows].tolist() == ["red-matte"]
    rows, _, _ = matcher.nearest("lipstick", "satin", near_satin)
    assert CATALOG["product_id"][rows].tolist() == ["red-satin"]
    # no metallic lipstick: the nearest lipstick of any finish, flagged
    rows, _, matched = matcher.nearest("lipstick", "metallic", asked[:1])
    assert CATALOG["product_id"][rows].tolist() == ["red-matte"] and not matched
    rows, distance, matched = matcher.nearest("eyeliner", "matte", asked[:1])
    assert rows.tolist() == [-1] and np.isnan(distance[0])


def test_matched_looks_are_lists_of_products(tmp_path):
    looks = _looks(2)
    looks.category[:, 0] = 0  # lipstick
    looks.finish[:, 0] = 0  # matte
    looks.lab[:, 0] = [hex_to_lab("#B4283A"), hex_to_lab("#EE8060")]
    table = ProductMatcher(CATALOG).match(looks)
    assert len(table) == 8
    lips = table[table["region"] == "lips"]
    assert lips["product_id"].tolist() == ["red-matte", "coral-matte"]
    assert lips["brand"].tolist() == ["A", "B"] and lips["price"].tolist() == [10.0, 11.0]
    brows = table[table["region"] == "brows"]
    assert brows["product_id"].tolist() == ["brown-brow"] * 2
    path = plot_palettes([PaletteRow("test", 7, table)], tmp_path / "p.png")
    assert path.stat().st_size > 1_000


# --- metrics -----------------------------------------------------------------------------------


def test_knn_radii_and_precision_recall_on_exact_points():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0]
    assert knn_radii(points, k=5).tolist() == [3.0, 2.0, 3.0]  # fewer than k others
    assert precision_recall(points, points, k=1) == (1.0, 1.0)
    far = points + 100.0
    assert precision_recall(points, far, k=1) == (0.0, 0.0)
    # repeats do not shrink the balls to zero, and count with their weight in recall
    real = np.array([[0.0, 0.0]] * 7 + [[1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])
    fake = np.array([[0.1, 0.0], [0.2, 0.0], [10.0, 0.0], [10.1, 0.0]])
    precision, recall = precision_recall(real, fake, k=1)
    assert precision == pytest.approx(2 / 4)  # real radii 1, 1, 2, 3: 10 and 10.1 are outside
    assert recall == pytest.approx(7 / 10)  # the fake balls (radius 0.1) hold the 7 repeats only
    # a larger set is subsampled to the other's number of distinct points, reproducibly
    many = np.random.default_rng(1).normal(0, 3, (200, 2))
    assert precision_recall(real, many, k=1) == precision_recall(real, many, k=1)
    assert precision_recall(real, many, k=1, seed=5) != precision_recall(real, many, k=1, seed=6)


def test_novelty_threshold_from_heldout_distances():
    train = np.array([[0.0], [10.0]])
    heldout = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    assert novelty_threshold(heldout, train, quantile=0.0) == pytest.approx(1.0)
    assert novelty_threshold(heldout, train, quantile=1.0) == pytest.approx(5.0)
    fake = np.array([[0.5], [9.0], [5.0], [0.0]])
    assert novelty(fake, train, threshold=1.0) == pytest.approx(0.25)


def test_condition_classifier_and_the_evaluation_table():
    rng = np.random.default_rng(0)
    centres = {"cool/light": [0, 0], "warm/deep": [6, 6]}
    labels = np.array(["cool/light"] * 60 + ["warm/deep"] * 60, dtype=object)
    x = np.array([centres[g] for g in labels]) + rng.normal(0, 0.5, (120, 2))
    classifier = ConditionClassifier.fit(x, labels)
    assert classifier.balanced_accuracy(x, labels) == 1.0
    heldout = np.array([centres[g] for g in labels]) + rng.normal(0, 0.5, (120, 2))
    copies = x.copy()  # a generator that copies training looks
    swapped = np.array([centres[g] for g in labels[::-1]]) + rng.normal(0, 0.5, (120, 2))
    table, facts = evaluate_generators(
        x, labels, heldout, labels, {"copy": copies, "swapped": swapped}, k=3
    )
    overall = table[table["group"] == "all"].set_index("model")
    assert overall.loc["copy", "novelty"] == 0.0
    assert overall.loc["copy", "fidelity"] == pytest.approx(1.0)
    assert overall.loc["swapped", "fidelity_accuracy"] == 0.0  # answers the other condition
    assert overall.loc["copy", "precision"] > 0.9
    assert set(table["group"]) == {"all", "cool/light", "warm/deep"}
    assert facts["novelty_threshold"] > 0
    with pytest.raises(ValueError, match="generated looks"):
        evaluate_generators(x, labels, heldout, labels, {"short": x[:5]})
