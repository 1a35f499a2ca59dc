"""Curated looks in the synthetic world: the catalogue, look try-ons, appeal by face, the lake.

One module-scoped world (500 people, 21 days, 120 looks, frequent visits to the looks tab) serves
the distribution tests; bounds leave a few standard errors of room.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glamcast.core import topics
from glamcast.core.names import LOOKS
from glamcast.core.shades import hex_to_lab, shade_family
from glamcast.platform import lake
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import FACE_SHAPE_CHEEKS, LOOK_STYLES, write_looks_dataset
from models.look_space import REGION_CATEGORIES, REGIONS, looks_from_frame

START = date(2025, 3, 3)
CONFIG = SimulationConfig(
    users=500,
    days=21,
    start=START,
    seed=13,
    products=200,
    looks=120,
    look_sessions_per_user_per_week=3.0,
    posts_per_day=50,
)
POSITIVE = ("like", "save", "share", "add_to_cart", "purchase")


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(CONFIG)


@pytest.fixture(scope="module")
def tryons(world: World) -> pd.DataFrame:
    rows = [json.loads(record.value) for record in world.records() if record.topic == topics.TRYON]
    frame = pd.DataFrame(rows)
    face = frame["face"].map(lambda f: f if isinstance(f, dict) else {})
    frame["skin_tone"] = face.map(lambda f: f.get("skin_tone"))
    frame["undertone"] = face.map(lambda f: f.get("undertone"))
    frame["face_shape"] = face.map(lambda f: f.get("face_shape"))
    return frame


@pytest.fixture(scope="module")
def looks_frame(world: World) -> pd.DataFrame:
    return world.looks.frame(world.catalog)


def test_looks_are_made_of_real_products_on_sale_from_the_first_day(world: World, looks_frame):
    assert len(world.looks) == CONFIG.looks and len(looks_frame) == 4 * CONFIG.looks
    assert looks_frame.groupby("look_id")["region"].apply(tuple).map(lambda r: r == REGIONS).all()
    for region, categories in REGION_CATEGORIES.items():
        assert set(looks_frame.loc[looks_frame["region"] == region, "category"]) <= set(categories)
    catalog = world.catalog.set_index("product_id")
    assert (catalog.loc[looks_frame["product_id"], "launched_at_ms"] <= CONFIG.start_ms).all()
    assert (
        catalog.loc[looks_frame["product_id"], "shade_hex"].to_numpy()
        == looks_frame["shade_hex"].to_numpy()
    ).all()
    assert looks_frame["intensity"].between(0.1, 1.0).all()
    assert looks_frame.drop_duplicates("look_id")["look_name"].is_unique
    assert set(looks_frame["style"]) == {style.name for style in LOOK_STYLES}
    again = World.build(CONFIG).looks.frame(World.build(CONFIG).catalog)
    pd.testing.assert_frame_equal(again, looks_frame)  # seeded: the same looks every time


def test_coral_looks_have_coral_lips(looks_frame):
    lips = looks_frame[looks_frame["region"] == "lips"]
    coral = lips[lips["style"] == "coral"]
    assert coral["shade_hex"].map(shade_family).isin(["coral", "orange", "nude"]).mean() > 0.9


def test_look_try_ons_carry_the_look_and_its_lip_product(world: World, tryons, looks_frame):
    looks = tryons.dropna(subset=["look_id"])
    assert 0.1 < len(looks) / len(tryons) < 0.6
    lips = looks_frame[looks_frame["region"] == "lips"].set_index("look_id")
    assert set(looks["look_id"]) <= set(lips.index)
    assert (
        looks["product_id"].to_numpy() == lips.loc[looks["look_id"], "product_id"].to_numpy()
    ).all()
    assert (
        looks["shade_hex"].to_numpy() == lips.loc[looks["look_id"], "shade_hex"].to_numpy()
    ).all()
    assert set(looks["action"]) == {
        "try_on",
        "shade_swap",
        "like",
        "save",
        "share",
        "add_to_cart",
        "purchase",
        "dismiss",
    }
    # look sessions are visits to the looks tab: no product try-ons in them
    per_session = tryons.groupby("session_id")["look_id"].agg(lambda s: s.notna().mean())
    assert per_session.isin([0.0, 1.0]).all()
    actions = looks["action"].value_counts()
    assert actions["shade_swap"] / actions["try_on"] == pytest.approx(
        CONFIG.shade_swaps_per_try_on, rel=0.1
    )  # swaps to other looks
    assert actions["like"] / actions["try_on"] == pytest.approx(0.12, rel=0.25)


def test_look_appeal_depends_on_the_face(tryons, looks_frame):
    positive = tryons[
        tryons["action"].isin(POSITIVE) & tryons["look_id"].notna() & tryons["skin_tone"].notna()
    ].drop_duplicates(["user_id", "look_id"])
    assert len(positive) > 500
    by_region = looks_frame.pivot(index="look_id", columns="region", values="shade_hex")
    lips_hex = positive["look_id"].map(by_region["lips"])
    family = lips_hex.map(shade_family)
    warm, cool = positive["undertone"] == "warm", positive["undertone"] == "cool"
    warm_lips = family.isin(["coral", "orange", "brown"])
    cool_lips = family.isin(["berry", "plum", "pink"])
    assert warm_lips[warm].mean() > warm_lips[cool].mean() + 0.2
    assert cool_lips[cool].mean() > cool_lips[warm].mean() + 0.2
    lightness = lips_hex.map(lambda code: hex_to_lab(code)[0])
    deep, light = positive["skin_tone"] >= 7, positive["skin_tone"] <= 3
    assert lightness[deep].mean() < lightness[light].mean() - 5
    intensity = positive["look_id"].map(looks_frame.groupby("look_id")["intensity"].mean())
    assert intensity[deep].mean() > intensity[light].mean() + 0.03
    cheeks = positive["look_id"].map(
        looks_frame[looks_frame["region"] == "cheeks"].set_index("look_id")["category"]
    )
    flattering = positive["face_shape"].map(FACE_SHAPE_CHEEKS)
    matches = (cheeks == flattering).mean()
    baseline = np.mean([(cheeks == category).mean() for category in flattering])
    assert matches > baseline + 0.04  # people pick looks whose cheeks flatter their face shape


@pytest.mark.parametrize("knob", [{"looks": 0}, {"look_sessions_per_user_per_week": 0.0}])
def test_no_looks_no_look_events(knob):
    config = SimulationConfig(users=60, days=3, start=START, seed=2, posts_per_day=20, **knob)
    assert not any(b'"look_id"' in record.value for record in World.build(config).records())


def test_looks_dataset_round_trips_through_the_lake(world: World, looks_frame, tmp_path: Path):
    first = write_looks_dataset(str(tmp_path), world)
    assert write_looks_dataset(str(tmp_path), world) == first  # rewritten, not duplicated
    stored = lake.read_dataset(str(tmp_path), LOOKS)
    assert len(stored) == len(looks_frame)
    assert stored["event_id"].is_unique and str(stored["ts"].dt.tz) == "UTC"
    ids, arrays = looks_from_frame(stored)
    assert ids.tolist() == sorted(world.looks.look_ids)
    _, expected = looks_from_frame(looks_frame)
    np.testing.assert_allclose(arrays.lab, expected.lab)
    np.testing.assert_array_equal(arrays.category, expected.category)
