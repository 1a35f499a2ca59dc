"""The mirror SDK's pure functions (glamcast/serving/static/sdk/*.js) under Node.js, no browser.

The JavaScript is the one implementation of the face and render math; these tests hold it to
exact expectations and to the Python contracts it must agree with: the colour conversions and
CIEDE2000 of `glamcast.core.shades` (tested there against Sharma et al.'s pairs), and the
`TryOnEvent` model that the ingest gateway validates its events with.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from testkit import node_probe

from glamcast.core.events import Category, PreferenceEvent, Rejection, TryOnEvent, decode_event
from glamcast.core.shades import delta_e_2000, lab_from_rgb, rgb_from_lab

PROBE = Path(__file__).with_name("mirror_sdk_probe.mjs")
MONK = ["#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56", "#825c43", "#604134",
        "#3a312a", "#292420"]


def probe(request: dict) -> dict:
    return node_probe(PROBE, request)


def monk_lab() -> np.ndarray:
    return lab_from_rgb(np.array([[int(code[i:i + 2], 16) for i in (1, 3, 5)] for code in MONK]))


def test_colour_conversions_and_ciede2000_agree_with_the_python_shades_module() -> None:
    rng = np.random.default_rng(16)
    rgb = rng.integers(0, 256, size=(200, 3))
    labs = rng.uniform([0, -90, -90], [100, 90, 90], size=(200, 2, 3))
    labs[:5, 1] = labs[:5, 0]  # identical pairs: 0
    labs[5:10, :, 1:] = 0  # achromatic pairs: the hue convention
    answer = probe({"rgb": rgb.tolist(), "lab": lab_from_rgb(rgb).tolist(), "pairs": labs.tolist()})
    assert np.asarray(answer["lab"]) == pytest.approx(lab_from_rgb(rgb), abs=1e-9)
    assert np.asarray(answer["rgb"]) == pytest.approx(rgb, abs=0)  # round trip to the same codes
    assert rgb_from_lab(lab_from_rgb(rgb)) == pytest.approx(rgb, abs=0)
    assert np.asarray(answer["deltaE"]) == pytest.approx(delta_e_2000(labs[:, 0], labs[:, 1]), abs=1e-9)
    assert answer["deltaE"][:5] == [0, 0, 0, 0, 0]


def test_each_monk_swatch_is_its_own_tone_and_undertone_follows_the_hue() -> None:
    swatches = monk_lab()
    chroma, hue = np.hypot(swatches[:, 1], swatches[:, 2]), np.arctan2(swatches[:, 2], swatches[:, 1])
    turned = {shift: np.stack([swatches[:, 0], chroma * np.cos(hue + math.radians(shift)),
                               chroma * np.sin(hue + math.radians(shift))], axis=1)
              for shift in (-12, 0, 12)}
    answer = probe({"monk": swatches.tolist(),
                    "undertone": [*turned[-12].tolist(), *turned[0].tolist(), *turned[12].tolist()]})
    assert answer["monk"] == list(range(1, 11))
    assert answer["undertone"] == ["cool"] * 10 + ["neutral"] * 10 + ["warm"] * 10


def test_confidences_are_probabilities_and_fall_where_the_evidence_is_thin() -> None:
    swatches = monk_lab()
    chroma, hue = np.hypot(swatches[:, 1], swatches[:, 2]), np.arctan2(swatches[:, 2], swatches[:, 1])
    warm = np.stack([swatches[:, 0], chroma * np.cos(hue + math.radians(12)),
                     chroma * np.sin(hue + math.radians(12))], axis=1)
    answer = probe({"undertoneDetail": warm.tolist(), "monkDetail": swatches.tolist()})
    confidences = [u["confidence"] for u in answer["undertoneDetail"]]
    assert all(u["value"] == "warm" for u in answer["undertoneDetail"])
    assert all(0 < c < 1 for c in confidences)  # never "100 % sure"
    # the same 12° turn is fewer a*b* units on pale, low-chroma skin: less sure there
    assert confidences[0] < confidences[5] and confidences[1] < confidences[6]
    for k, monk in enumerate(answer["monkDetail"]):
        assert monk["value"] == k + 1 and 0.3 < monk["confidence"] < 1
        assert sum(1 for d in monk["distances"] if d < monk["distances"][k]) == 0


def test_face_shape_ratios_do_not_change_with_scale_rotation_or_mirroring() -> None:
    rng = np.random.default_rng(3)
    mesh = rng.uniform(100, 400, size=(478, 2))
    angle = math.radians(17)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    variants = [mesh, mesh * 2.5 + 30, mesh @ rotation.T, mesh * [-1, 1] + [600, 0]]
    shapes = probe({"meshes": [variant.tolist() for variant in variants]})["shapes"]
    for shape in shapes[1:]:
        assert shape["value"] == shapes[0]["value"]
        assert shape["ratios"] == pytest.approx(shapes[0]["ratios"], abs=1e-9)
        assert shape["confidence"] == pytest.approx(shapes[0]["confidence"], abs=1e-9)


def test_scanline_fill_takes_the_pixels_whose_centres_lie_inside() -> None:
    square = [[1, 1], [5, 1], [5, 4], [1, 4]]  # 4 × 3 pixel centres inside
    triangle = [[0, 0], [10, 0], [0, 10]]  # centres with x + y + 1 < 10: 45 pixels
    clipped = [[-5, -5], [3, -5], [3, 3], [-5, 3]]  # only the part inside the image
    answer = probe({"polygons": [{"polygon": square, "width": 20, "height": 20},
                                 {"polygon": triangle, "width": 20, "height": 20},
                                 {"polygon": clipped, "width": 2, "height": 2}]})
    assert sorted(map(tuple, answer["pixels"][0])) == [(x, y) for x in range(1, 5) for y in range(1, 4)]
    assert len(answer["pixels"][1]) == 45
    assert sorted(map(tuple, answer["pixels"][2])) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_a_pixel_takes_the_shade_and_keeps_its_texture_by_finish() -> None:
    shade = [45.0, 50.0, 30.0]
    reference = {"lightness": 60.0, "spread": 4.0}
    cases = [
        {"lab": [60.0, 20.0, 10.0], "finish": "matte", "sparkle": 0.5},  # the median pixel
        {"lab": [50.0, 20.0, 10.0], "finish": "matte", "sparkle": 0.5},  # 10 darker
        {"lab": [50.0, 20.0, 10.0], "finish": "gloss", "sparkle": 0.5},  # no highlight below
        {"lab": [72.0, 20.0, 10.0], "finish": "gloss", "sparkle": 0.5},  # well above: lifted
        {"lab": [60.0, 20.0, 10.0], "finish": "shimmer", "sparkle": 0.01},  # a sparkle
    ]
    made = probe({"shadePixel": [{**case, "reference": reference, "shade": shade} for case in cases]})["shadePixel"]
    assert made[0] == pytest.approx(shade)
    assert made[1] == pytest.approx([45.0 - 0.7 * 10, 50.0, 30.0])
    assert made[2] == pytest.approx([45.0 - 10, 50.0, 30.0])
    lift = 0.6  # highlight 0.6 at full strength (deviation 12 ≥ 3 spreads)
    assert made[3] == pytest.approx([57.0 + lift * 43.0, 50.0 * (1 - lift), 30.0 * (1 - lift)])
    assert made[4][0] == pytest.approx(45.0 + 18.0) and made[4][1:] == pytest.approx([50.0, 30.0])


def test_try_on_events_pass_the_gateways_contract_and_carry_a_face_only_with_consent() -> None:
    product = {"product_id": "p00017", "category": "lipstick", "shade_hex": "#C04A5B", "finish": "matte"}
    face = {"skin_tone": 6, "undertone": "warm", "face_shape": "oval"}
    specs = [{"userId": "u-1", "sessionId": "s-1", "action": "try_on", "product": product,
              "dwellMs": 1234.4, "now": "2026-12-06T05:00:00Z"},
             {"userId": "u-1", "sessionId": "s-1", "action": "like", "product": product,
              "face": face, "lookId": "look-7", "now": "2026-12-06T05:00:01Z"}]
    first, second = probe({"events": specs})["events"]
    for event in (first, second):
        decoded = decode_event(TryOnEvent, json.dumps(event).encode())
        assert not isinstance(decoded, Rejection), decoded
        assert decoded.platform == "web" and decoded.product_id == "p00017"
    assert "face" not in first and first["dwell_ms"] == 1234 and first["ts"] == "2026-12-06T05:00:00.000Z"
    assert second["face"] == face and second["look_id"] == "look-7" and second["action"] == "like"
    assert first["event_id"] != second["event_id"]


def test_preference_events_pass_the_gateways_contract() -> None:
    specs = [{"userId": "u-1", "boldness": 0.85, "priceCap": 25, "never": ["blush", "blush", "mascara"],
              "now": "2026-12-06T05:00:00Z"},
             {"userId": "u-1", "boldness": 3, "now": "2026-12-06T05:00:01Z"}]
    answers = probe({"preferences": specs})
    assert answers["categories"] == [category.value for category in Category]
    capped, plain = answers["preferences"]
    decoded = [decode_event(PreferenceEvent, json.dumps(event).encode()) for event in (capped, plain)]
    assert [(e.user_id, e.boldness, e.price_cap, e.never_categories) for e in decoded] == [
        ("u-1", 0.85, 25.0, ["blush", "mascara"]), ("u-1", 1.0, None, [])]  # clamped; no cap
    assert "price_cap" not in plain and capped["event_id"] != plain["event_id"]
