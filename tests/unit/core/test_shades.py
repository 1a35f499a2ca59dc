"""Shade families and colour maths: exact reference values, known shades, and a real catalogue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glamcast.core.shades import (
    FAMILY_CENTRES,
    SHADE_FAMILIES,
    delta_e_2000,
    hex_from_rgb,
    hex_to_lab,
    lab_from_hex_array,
    lab_from_lch,
    rgb_from_lab,
    shade_families_from_hex_array,
    shade_family,
)

# Sharma, Wu & Dalal (2005), Table 1: (Lab1, Lab2, ΔE00).
SHARMA_PAIRS = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    # Pair 14 lies exactly on the 180° hue discontinuity; float rounding decides its side.
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0012, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_delta_e_2000_matches_sharma_table(lab1, lab2, expected):
    # Pair 14 sits on the discontinuity; both published sides are values of the formula.
    tolerance = 0.06 if expected == 4.7461 else 1e-4
    assert delta_e_2000(lab1, lab2) == pytest.approx(expected, abs=tolerance)
    assert delta_e_2000(lab2, lab1) == pytest.approx(delta_e_2000(lab1, lab2), abs=1e-12)


def test_delta_e_2000_vectorized_equals_scalar():
    first = np.array([pair[0] for pair in SHARMA_PAIRS])
    second = np.array([pair[1] for pair in SHARMA_PAIRS])
    batch = delta_e_2000(first, second)
    assert batch.shape == (len(SHARMA_PAIRS),)
    assert batch == pytest.approx([delta_e_2000(a, b) for a, b, _ in SHARMA_PAIRS], abs=1e-12)
    assert delta_e_2000((50.0, 10.0, -20.0), (50.0, 10.0, -20.0)) == 0.0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("#000000", (0.0, 0.0, 0.0)),
        ("#FFFFFF", (100.0, 0.0, 0.0)),
        ("#FF0000", (53.24, 80.09, 67.20)),
        ("#00FF00", (87.73, -86.18, 83.18)),
        ("#0000FF", (32.30, 79.19, -107.86)),
    ],
)
def test_hex_to_lab_reference_primaries(code, expected):
    assert hex_to_lab(code) == pytest.approx(expected, abs=0.01)


def test_lab_from_hex_array_matches_scalar_and_round_trips():
    codes = ["#C0392B", "#ff7f50", "#5E2750", "#F4A6C0", "#000000"]
    labs = lab_from_hex_array(codes)
    assert labs.shape == (5, 3)
    for code, row in zip(codes, labs, strict=True):
        assert tuple(row) == pytest.approx(hex_to_lab(code), abs=1e-12)
    assert hex_from_rgb(rgb_from_lab(labs)) == [code.upper() for code in codes]


def test_bad_hex_is_rejected_with_its_value():
    with pytest.raises(ValueError, match="#12345"):
        hex_to_lab("#12345")


@pytest.mark.parametrize(
    ("code", "family"),
    [
        ("#C0392B", "red"),
        ("#B22222", "red"),
        ("#FF0000", "red"),
        ("#FF7F50", "coral"),
        ("#D2A38C", "nude"),
        ("#E0B0A0", "nude"),
        ("#8E2A4E", "berry"),
        ("#5E2750", "plum"),
        ("#F4A6C0", "pink"),
        ("#FF69B4", "pink"),
        ("#6F4E37", "brown"),
        ("#FFA500", "orange"),
        ("#915F6D", "mauve"),
        ("#000000", "black"),
        ("#808080", "grey"),
        ("#C0C0C0", "silver"),
        ("#FFFFFF", "white"),
        ("#D4AF37", "gold"),
        ("#1F4E9C", "blue"),
        ("#2E8B57", "green"),
        ("#6A4C9C", "purple"),
    ],
)
def test_known_shades(code, family):
    assert shade_family(code) == family


def test_every_family_centre_falls_in_its_family():
    assert set(FAMILY_CENTRES) == set(SHADE_FAMILIES)
    for family, lch in FAMILY_CENTRES.items():
        code = hex_from_rgb(rgb_from_lab(lab_from_lch(np.array([lch]))))[0]
        assert shade_family(code) == family, (family, code)


def test_every_colour_gets_one_family_and_array_agrees_with_scalar():
    rng = np.random.default_rng(7)
    codes = hex_from_rgb(rng.integers(0, 256, size=(2_000, 3), dtype=np.uint8))
    families = shade_families_from_hex_array(codes)
    assert set(families) <= set(SHADE_FAMILIES)
    assert list(families[:200]) == [shade_family(code) for code in codes[:200]]


# --- real catalogue ----------------------------------------------------------------------------

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _named_shades(data_dir: Path) -> pd.DataFrame:
    """Every (product_type, hex, colour name) of the Makeup API dump, deduplicated."""
    path = data_dir / "makeup-api-products" / "makeup_api_products.csv"
    products = pd.read_csv(path, usecols=["product_type", "product_colors"])
    rows = []
    for product_type, colours in zip(products.product_type, products.product_colors, strict=True):
        if not isinstance(colours, str):
            continue
        for colour in ast.literal_eval(colours):
            code = (colour.get("hex_value") or "").strip()
            if _HEX.match(code):
                rows.append((product_type, code, (colour.get("colour_name") or "").lower()))
    shades = pd.DataFrame(rows, columns=["product_type", "hex", "name"]).drop_duplicates()
    shades["family"] = shade_families_from_hex_array(shades["hex"])
    return shades


@pytest.fixture(scope="module")
def named_shades(data_dir: Path) -> pd.DataFrame:
    return _named_shades(data_dir)


def _named(shades: pd.DataFrame, word: str) -> pd.DataFrame:
    return shades[shades["name"].str.contains(rf"\b{word}\b", regex=True)]


# Lower bounds on the share of shades named "<word>" that land in family <word>; measured
# (2024 dump): red 0.76, nude 0.71, pink 0.65, brown 0.61, black 0.71, blue 0.64, green 0.72.
AGREEMENT_FLOORS = {
    "red": 0.70, "nude": 0.65, "pink": 0.60, "brown": 0.55,
    "black": 0.65, "blue": 0.55, "green": 0.60,
}


@pytest.mark.parametrize(("word", "floor"), AGREEMENT_FLOORS.items())
def test_catalogue_names_agree_with_families(named_shades, word, floor):
    named = _named(named_shades, word)
    assert len(named) >= 30, f"too few shades named {word!r} to measure"
    agreement = float((named["family"] == word).mean())
    assert agreement >= floor, f"{word}: {agreement:.2f} of {len(named)} shades agree"


@pytest.mark.parametrize("word", ["red", "coral", "nude", "berry", "pink", "brown"])
def test_catalogue_names_most_often_land_in_their_family(named_shades, word):
    counts = _named(named_shades, word)["family"].value_counts()
    assert counts.index[0] == word, counts.head(3).to_dict()


def test_catalogue_plum_names_are_dark_red_violets(named_shades):
    # Catalogue "plum" shades are mostly wine-coloured (median hue ≈ 26°), so they land in
    # plum or its neighbour berry, or are called pink when light; rarely anything else.
    plums = _named(named_shades, "plum")
    near = float(plums["family"].isin(["plum", "berry", "pink", "mauve", "purple"]).mean())
    assert near >= 0.6, plums["family"].value_counts().to_dict()


def test_lip_products_agree_overall(named_shades):
    lips = named_shades[named_shades["product_type"].isin(["lipstick", "lip_liner"])]
    words = ["red", "coral", "nude", "berry", "plum", "pink"]
    hits = total = 0
    for word in words:
        named = _named(lips, word)
        hits += int((named["family"] == word).sum())
        total += len(named)
    assert total >= 150
    assert hits / total >= 0.55, f"{hits}/{total}"
