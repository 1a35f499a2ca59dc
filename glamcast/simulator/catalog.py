"""The product catalogue of the synthetic world.

In: a `SimulationConfig` and a random generator. Out: a pandas DataFrame, one row per product
(one shade of one product line), with the public catalogue fields (`CATALOG_COLUMNS`) and the
hidden ones the simulation needs (`quality`, `tone`).

Shades are drawn in CIELAB around the family centres of `glamcast.core.shades` and kept only when they
land in the intended family, so a "coral" lipstick is coral for the trend pipeline too. Foundation
and concealer shades follow the Monk Skin Tone swatches, one tone per product, so people find (and
prefer) the shade that matches their skin. Prices follow category and brand tier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from glamcast.core.events import Category, Finish
from glamcast.core.shades import (
    FAMILY_CENTRES,
    SHADE_FAMILIES,
    family_codes_from_lab,
    hex_from_rgb,
    lab_from_hex_array,
    lab_from_lch,
    lab_from_rgb,
    lch_from_lab,
    rgb_from_lab,
)
from glamcast.simulator.config import SimulationConfig

CATALOG_COLUMNS = (
    "product_id", "brand", "name", "category", "shade_hex", "finish", "price", "launched_at_ms",
)

#: Invented brands: (name, tier 0 drugstore / 1 mid / 2 prestige, relative popularity).
BRANDS: tuple[tuple[str, int, float], ...] = (
    ("Lumière Lab", 2, 1.0), ("Velvet Theory", 1, 1.6), ("Maison Rougé", 2, 0.9),
    ("Petal & Pigment", 1, 1.2), ("Nova Beauty", 0, 2.2), ("Aurora Cosmetics", 1, 1.0),
    ("Bloom & Co", 0, 1.8), ("Cherry Atelier", 2, 0.7), ("Dune Beauty", 1, 0.9),
    ("Ember Lane", 1, 0.8), ("Fable Face", 0, 1.4), ("Gilded Muse", 2, 0.8),
    ("Halo Hue", 1, 1.1), ("Iris & Ivy", 1, 0.7), ("Juniper Glow", 0, 1.3),
    ("Kindred Color", 1, 0.9), ("Luxe Lacquer", 2, 0.6), ("Mira Makeup", 0, 1.5),
    ("Noir Nectar", 2, 0.5), ("Opal Oasis", 1, 0.7), ("Pout Parlour", 0, 1.2),
    ("Rosewood Rituals", 1, 0.8), ("Siren Shade", 1, 1.0), ("Umber & Co", 1, 0.9),
)
#: Price multiplier per brand tier.
TIER_PRICE = (0.55, 1.0, 1.9)


@dataclass(frozen=True)
class CategoryProfile:
    """How products of one category look: catalogue share, shade families, finishes, price."""

    share: float  # share of the catalogue
    families: dict[str, float]  # shade family → probability ({} for skin-matched complexion)
    finishes: dict[str, float]  # finish → probability
    median_price: float  # USD, mid-tier brand
    label: str  # category as written in product names
    rees46_code: str  # REES46 category_code


CATEGORY_PROFILES: dict[Category, CategoryProfile] = {
    Category.LIPSTICK: CategoryProfile(
        0.22,
        {"nude": 0.19, "pink": 0.16, "red": 0.15, "berry": 0.10, "coral": 0.11, "plum": 0.08,
         "brown": 0.09, "mauve": 0.08, "orange": 0.04},
        {"matte": 0.40, "satin": 0.35, "gloss": 0.10, "shimmer": 0.10, "metallic": 0.05},
        18.0, "Lipstick", "beauty.makeup.lipstick",
    ),
    Category.LIP_GLOSS: CategoryProfile(
        0.09,
        {"pink": 0.28, "nude": 0.24, "coral": 0.16, "red": 0.10, "berry": 0.10, "mauve": 0.12},
        {"gloss": 0.70, "shimmer": 0.20, "metallic": 0.10},
        16.0, "Lip Gloss", "beauty.makeup.lip_gloss",
    ),
    Category.LIP_LINER: CategoryProfile(
        0.06,
        {"nude": 0.28, "brown": 0.20, "red": 0.15, "pink": 0.14, "berry": 0.12, "plum": 0.11},
        {"matte": 0.80, "satin": 0.20},
        12.0, "Lip Liner", "beauty.makeup.lip_liner",
    ),
    Category.EYESHADOW: CategoryProfile(
        0.12,
        {"brown": 0.24, "gold": 0.15, "nude": 0.14, "plum": 0.10, "purple": 0.08, "black": 0.05,
         "silver": 0.05, "green": 0.06, "blue": 0.07, "pink": 0.06},
        {"matte": 0.40, "shimmer": 0.35, "metallic": 0.20, "satin": 0.05},
        24.0, "Eyeshadow", "beauty.makeup.eyeshadow",
    ),
    Category.EYELINER: CategoryProfile(
        0.06,
        {"black": 0.55, "brown": 0.20, "blue": 0.08, "purple": 0.07, "green": 0.05, "gold": 0.05},
        {"matte": 0.60, "gloss": 0.20, "metallic": 0.20},
        14.0, "Eyeliner", "beauty.makeup.eyeliner",
    ),
    Category.MASCARA: CategoryProfile(
        0.05, {"black": 0.80, "brown": 0.15, "blue": 0.05}, {"matte": 0.55, "gloss": 0.45},
        17.0, "Mascara", "beauty.makeup.mascara",
    ),
    Category.BROW: CategoryProfile(
        0.05, {"brown": 0.80, "black": 0.20}, {"matte": 0.90, "satin": 0.10},
        16.0, "Brow Pencil", "beauty.makeup.eyebrow",
    ),
    Category.BLUSH: CategoryProfile(
        0.08,
        {"pink": 0.34, "coral": 0.25, "berry": 0.08, "mauve": 0.15, "orange": 0.06, "nude": 0.12},
        {"matte": 0.45, "satin": 0.30, "shimmer": 0.25},
        20.0, "Blush", "beauty.makeup.blush",
    ),
    Category.BRONZER: CategoryProfile(
        0.05, {"brown": 0.60, "nude": 0.25, "orange": 0.15},
        {"matte": 0.60, "shimmer": 0.30, "satin": 0.10},
        24.0, "Bronzer", "beauty.makeup.bronzer",
    ),
    Category.HIGHLIGHTER: CategoryProfile(
        0.06, {"gold": 0.40, "nude": 0.20, "pink": 0.15, "silver": 0.15, "white": 0.10},
        {"shimmer": 0.60, "metallic": 0.25, "satin": 0.15},
        26.0, "Highlighter", "beauty.makeup.highlighter",
    ),
    Category.FOUNDATION: CategoryProfile(
        0.10, {}, {"matte": 0.45, "satin": 0.45, "gloss": 0.10},
        32.0, "Foundation", "beauty.makeup.foundation",
    ),
    Category.CONCEALER: CategoryProfile(
        0.06, {}, {"matte": 0.60, "satin": 0.40},
        22.0, "Concealer", "beauty.makeup.concealer",
    ),
}
CATEGORIES: tuple[Category, ...] = tuple(CATEGORY_PROFILES)
FINISHES: tuple[Finish, ...] = tuple(Finish)
#: Complexion categories: their shade is matched to a Monk skin tone instead of a family.
COMPLEXION = frozenset({Category.FOUNDATION, Category.CONCEALER})

#: Monk Skin Tone scale swatches 1..10 (skintone.google).
MONK_SWATCHES = (
    "#F6EDE4", "#F3E7DB", "#F7EAD0", "#EADABA", "#D7BD96",
    "#A07E56", "#825C43", "#604134", "#3A312A", "#292420",
)

_FINISH_WORDS = {
    "matte": "Velvet Matte", "satin": "Silk Satin", "gloss": "Glass Shine",
    "shimmer": "Starlit Shimmer", "metallic": "Liquid Metal",
}
_SHADE_WORDS = {
    "nude": ("Bare", "Latte", "Biscuit", "Sand", "Toffee", "Buff"),
    "pink": ("Petal", "Blossom", "Rosé", "Candy", "Peony", "Ballet"),
    "coral": ("Coral Reef", "Papaya", "Sunset", "Melon", "Hibiscus", "Lagoon"),
    "red": ("Ruby", "Cherry", "Scarlet", "Flame", "Cardinal", "Poppy"),
    "berry": ("Raspberry", "Mulberry", "Cranberry", "Boysenberry", "Jam", "Sangria"),
    "plum": ("Plum", "Damson", "Aubergine", "Fig", "Velvet Night", "Merlot"),
    "brown": ("Cocoa", "Mocha", "Chestnut", "Cinnamon", "Espresso", "Walnut"),
    "orange": ("Tangerine", "Apricot", "Saffron", "Marigold", "Clementine", "Ember"),
    "mauve": ("Mauve", "Heather", "Dusk", "Lilac Smoke", "Antique Rose", "Orchid"),
    "black": ("Onyx", "Jet", "Ink", "Midnight", "Raven", "Obsidian"),
    "grey": ("Slate", "Smoke", "Ash", "Pewter", "Graphite", "Flint"),
    "white": ("Pearl", "Snow", "Ivory", "Moonbeam", "Frost", "Opaline"),
    "gold": ("Gold Rush", "Champagne", "Honey", "Gilded", "Brass", "Sunbeam"),
    "silver": ("Silver", "Platinum", "Starlight", "Mercury", "Chrome", "Tinsel"),
    "blue": ("Sapphire", "Cobalt", "Denim", "Azure", "Navy", "Teal Wave"),
    "green": ("Emerald", "Jade", "Olive", "Moss", "Sage", "Pine"),
    "purple": ("Violet", "Amethyst", "Grape", "Lavender", "Iris", "Ultraviolet"),
}


def _rees46_category_id(index: int) -> str:
    """A stable 19-digit id in the style of REES46 `category_id`."""
    return str(2_053_013_555_000_000_000 + 17 * index)


def _sample_family_shades(rng: np.random.Generator, family: str, n: int) -> np.ndarray:
    """(n, 3) Lab shades around the family centre that stay inside the family."""
    target = SHADE_FAMILIES.index(family)
    centre = np.asarray(FAMILY_CENTRES[family])
    spread = np.array([7.0, 7.0, 6.0])  # L*, C*, hue°
    shades = np.repeat(lab_from_lch(centre[None, :]), n, axis=0)
    missing = np.arange(n)
    for _ in range(30):  # rejection sampling; a handful of rounds is plenty
        lch = centre + rng.normal(0.0, 1.0, size=(missing.size, 3)) * spread
        lch[:, 1] = np.abs(lch[:, 1])
        # Round-trip through 8-bit sRGB so the check sees the colour the event will carry.
        lab = lab_from_rgb(rgb_from_lab(lab_from_lch(lch)))
        ok = family_codes_from_lab(lab) == target
        shades[missing[ok]] = lab[ok]
        missing = missing[~ok]
        if missing.size == 0:
            break
    return shades


def _complexion_shades(rng: np.random.Generator, tones: np.ndarray) -> np.ndarray:
    """(n, 3) Lab foundation shades near the Monk swatch of each product's tone (1..10)."""
    swatches = lab_from_hex_array(MONK_SWATCHES)
    lch = lch_from_lab(swatches[tones - 1] + rng.normal(0.0, 1.5, size=(tones.size, 3)))
    lch[:, 0] = np.clip(lch[:, 0], 18.0, 92.0)  # keep the darkest and lightest off black/white
    lch[:, 1] = np.maximum(lch[:, 1], 9.0)  # a foundation always has some warmth or rosiness
    return lab_from_lch(lch)


def _category_counts(total: int) -> np.ndarray:
    """Products per category: the profile shares of `total`, at least two each, summing exactly."""
    shares = np.array([profile.share for profile in CATEGORY_PROFILES.values()])
    counts = np.maximum(2, np.floor(shares / shares.sum() * total)).astype(int)
    while counts.sum() > total:  # the floor of two pushed small catalogues over: trim the largest
        counts[np.argmax(counts)] -= 1
    order = np.argsort(-shares, kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def make_catalog(config: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    """The catalogue DataFrame (one row per product), sorted by `product_id`."""
    brand_names = np.array([name for name, _, _ in BRANDS], dtype=object)
    brand_tiers = np.array([tier for _, tier, _ in BRANDS])
    brand_popularity = np.array([popularity for _, _, popularity in BRANDS])

    frames = []
    for (category, profile), count in zip(
        CATEGORY_PROFILES.items(), _category_counts(config.products), strict=True
    ):
        brands = rng.choice(len(BRANDS), size=count, p=brand_popularity / brand_popularity.sum())
        finish_names = list(profile.finishes)
        finish_probs = np.array(list(profile.finishes.values()))
        finishes = rng.choice(finish_names, size=count, p=finish_probs / finish_probs.sum())
        if category in COMPLEXION:
            tones = rng.integers(1, 11, size=count)
            lab = _complexion_shades(rng, tones)
            families = np.asarray(SHADE_FAMILIES, dtype=object)[family_codes_from_lab(lab)]
        else:
            tones = np.zeros(count, dtype=int)
            names = list(profile.families)
            probs = np.array(list(profile.families.values()))
            families = rng.choice(names, size=count, p=probs / probs.sum()).astype(object)
            lab = np.zeros((count, 3))
            for family in np.unique(families):
                rows = np.flatnonzero(families == family)
                lab[rows] = _sample_family_shades(rng, str(family), rows.size)
        price = (
            profile.median_price
            * np.asarray(TIER_PRICE)[brand_tiers[brands]]
            * rng.lognormal(0.0, 0.15, size=count)
        )
        frames.append(
            pd.DataFrame(
                {
                    "brand": brand_names[brands],
                    "category": category.value,
                    "shade_hex": hex_from_rgb(rgb_from_lab(lab)),
                    "shade_family": families,
                    "finish": finishes,
                    "price": np.maximum(np.round(price) - 0.01, 2.99),  # shelf prices: x.99
                    "tone": tones,
                    "line": [f"{_FINISH_WORDS[f]} {profile.label}" for f in finishes],
                }
            )
        )
    catalog = pd.concat(frames, ignore_index=True)
    count = len(catalog)
    catalog.insert(0, "product_id", [f"p{index:05d}" for index in range(count)])
    catalog["name"] = [
        _product_name(rng, line, family, tone)
        for line, family, tone in zip(catalog["line"], catalog["shade_family"], catalog["tone"],
                                      strict=True)
    ]
    catalog["quality"] = rng.normal(0.0, 0.35, size=count)  # hidden: how well-made it is
    catalog["launched_at_ms"] = _launch_times(config, rng, count)
    # Every category keeps one product on sale from the first day, whatever the launch draw.
    first_of_category = ~catalog["category"].duplicated()
    catalog.loc[first_of_category, "launched_at_ms"] = np.minimum(
        catalog.loc[first_of_category, "launched_at_ms"], config.start_ms - 30 * 86_400_000
    )
    codes = {category.value: profile.rees46_code for category, profile in CATEGORY_PROFILES.items()}
    catalog["category_code"] = catalog["category"].map(codes)
    ids = {category.value: _rees46_category_id(i) for i, category in enumerate(CATEGORIES)}
    catalog["category_id"] = catalog["category"].map(ids)
    return catalog.drop(columns="line")


def _product_name(rng: np.random.Generator, line: str, family: str, tone: int) -> str:
    if tone:  # complexion shades are numbered by depth, as brands do
        return f"{line} {tone * 10 + int(rng.integers(0, 10))}{'CNW'[int(rng.integers(0, 3))]}"
    words = _SHADE_WORDS[family]
    return f"{line} {words[int(rng.integers(0, len(words)))]} {int(rng.integers(1, 100)):02d}"


def _launch_times(config: SimulationConfig, rng: np.random.Generator, count: int) -> np.ndarray:
    """Launch instants in epoch ms: most products are older, a few launch during the window."""
    day_ms = 86_400_000
    new = rng.random(count) < config.new_launch_share
    older = config.start_ms - rng.integers(14 * day_ms, 3 * 365 * day_ms, size=count)
    # New launches are announced in the catalogue at the start and go on sale on their day.
    newer = config.start_ms + rng.integers(1, max(2, config.days), size=count) * day_ms
    return np.where(new, newer, older).astype(np.int64)
