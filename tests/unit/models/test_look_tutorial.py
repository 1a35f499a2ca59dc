"""Tutorial steps of a look: application order, products, plain-word techniques."""

from __future__ import annotations

import pytest

from models.look_tutorial import STAGES, TutorialError, amount_words, technique, tutorial_steps

LOOK = [  # deliberately out of order
    {"region": "lips", "category": "lipstick", "shade_hex": "#B0303F", "finish": "matte",
     "intensity": 0.9, "product_id": "p-1", "brand": "Glam", "name": "Ruby", "price": 19.0},
    {"region": "cheeks", "category": "blush", "shade_hex": "#F2A48C", "finish": "satin", "intensity": 0.3},
    {"region": "eyes", "category": "eyeshadow", "shade_hex": "#8A6F5C", "finish": "shimmer", "intensity": 0.6},
    {"region": "brows", "category": "brow", "shade_hex": "#4A3426", "finish": "matte", "intensity": 0.7},
]


def test_steps_follow_the_application_order_with_prep_and_base_first() -> None:
    steps = tutorial_steps(LOOK)
    assert [s["stage"] for s in steps] == list(STAGES)
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert [s["region"] for s in steps] == [None, None, "brows", "eyes", "cheeks", "lips"]
    assert steps[0]["product"] is None and steps[1]["product"] is None
    lips = steps[-1]
    assert lips["title"] == "Lips: Glam Ruby"
    assert lips["product"] == {"product_id": "p-1", "brand": "Glam", "name": "Ruby", "category": "lipstick",
                               "shade_hex": "#B0303F", "finish": "matte", "intensity": 0.9, "price": 19.0}


def test_technique_words_come_from_category_finish_and_intensity() -> None:
    steps = {s["stage"]: s["technique"] for s in tutorial_steps(LOOK)}
    assert "tap the shimmer shade on the centre of the lid" in steps["eyes"]
    assert steps["eyes"].startswith("Use a light layer of shimmer eyeshadow")
    assert steps["cheeks"].startswith("Use a sheer wash of satin blush: smile and tap it on the apples")
    assert steps["lips"].startswith("Use a full layer of matte lipstick: line the edge of the lips")
    assert amount_words(0.0) == "a sheer wash of" and amount_words(1.0) == "a full layer of"
    assert "foil-like" in technique("lips", "lip_gloss", "metallic", 0.5)


def test_a_partial_look_has_only_its_regions_and_bad_items_are_refused() -> None:
    steps = tutorial_steps([{"region": "lips", "shade_hex": "#B0303F"}])
    assert [s["stage"] for s in steps] == ["prep", "base", "lips"]
    assert steps[-1]["product"]["category"] == "lipstick" and steps[-1]["product"]["intensity"] == 1.0
    with pytest.raises(TutorialError, match="unknown region"):
        tutorial_steps([{"region": "nails"}])
    with pytest.raises(TutorialError, match="outside"):
        tutorial_steps([{"region": "lips", "intensity": 1.5}])
