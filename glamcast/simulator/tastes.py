"""Latent tastes: how much each person likes each product — the truth a recommender should learn.

In: the people and the catalogue. Out: `Tastes`, holding per-person affinities (shade families,
finishes, categories, brands, price sensitivity) and the resulting utility of every
(person, product) pair, as arrays and as truth DataFrames.

Utility of product j for person u (all terms documented with their constants below):

    U[u, j] = family[u, family_j]                        shade family taste (non-complexion)
            + DEPTH_WEIGHT · depth_u · (50 − L*_j) / 25  deeper skin → richer, darker shades
            − COMPLEXION_MATCH · |tone_u − tone_j|       foundation/concealer must match skin
            + finish[u, finish_j] + brand[u, brand_j] + quality_j
            − price_sensitivity_u · log(price_j / median price of the category)
            + ε[u, j]                                    idiosyncratic, N(0, PAIR_NOISE)

`family[u, f]` = undertone prior + skin-depth prior + personal noise. `z[u, j]` is U standardized
within the person's options of the category; choices and reactions use `z`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from glamcast.core.shades import SHADE_FAMILIES, lab_from_hex_array
from glamcast.simulator.catalog import BRANDS, CATEGORIES, COMPLEXION, FINISHES

#: Shade-family taste by undertone: warm leans coral/orange/brown, cool leans berry/pink/plum.
UNDERTONE_FAMILY_PRIOR: dict[str, dict[str, float]] = {
    "warm": {"coral": 0.9, "orange": 0.8, "brown": 0.7, "nude": 0.3, "gold": 0.5, "red": 0.1,
             "berry": -0.5, "plum": -0.5, "pink": -0.4, "mauve": -0.3, "silver": -0.4},
    "cool": {"berry": 0.8, "pink": 0.7, "plum": 0.7, "mauve": 0.4, "red": 0.2, "silver": 0.5,
             "purple": 0.3, "coral": -0.6, "orange": -0.7, "brown": -0.4, "gold": -0.3},
    "neutral": {"red": 0.5, "nude": 0.5, "mauve": 0.4, "pink": 0.1, "coral": 0.1, "berry": 0.1},
}
#: Extra family taste per unit of skin depth (depth = (tone − 5.5) / 4.5, from −1 to +1).
DEPTH_FAMILY_PRIOR = {"berry": 0.5, "plum": 0.5, "brown": 0.4, "red": 0.3, "pink": -0.4,
                      "coral": -0.2, "mauve": -0.2}
DEPTH_WEIGHT = 0.5
COMPLEXION_MATCH = 1.2
#: Spread of personal deviations from the priors.
FAMILY_NOISE = 0.45
FINISH_PRIOR = {"matte": 0.2, "satin": 0.1, "gloss": 0.0, "shimmer": -0.1, "metallic": -0.3}
FINISH_NOISE = 0.5
BRAND_NOISE = 0.3
BRAND_POPULARITY_WEIGHT = 0.3
PAIR_NOISE = 0.35
#: Concentration of personal category interest around the catalogue mix (Dirichlet).
CATEGORY_CONCENTRATION = 6.0
_BLOCK_USERS = 8_192


@dataclass
class Tastes:
    """Latent tastes of all people; rows follow the people table, columns the catalogue."""

    family: np.ndarray  # (users, families)
    finish: np.ndarray  # (users, finishes)
    category: np.ndarray  # (users, categories), rows sum to 1
    brand: np.ndarray  # (users, brands)
    price_sensitivity: np.ndarray  # (users,)
    utility: np.ndarray  # (users, products) float32
    z: np.ndarray  # (users, products) float32, standardized within each category

    def truth_frames(self, users: pd.DataFrame, catalog: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Per-person affinities (wide) and per-(person, product) utility (long)."""
        people = users[["user_id", "skin_tone", "undertone", "face_shape", "consented",
                        "platform", "sessions_per_week", "shop_sessions_per_week"]].copy()
        people["price_sensitivity"] = self.price_sensitivity
        for index, family in enumerate(SHADE_FAMILIES):
            people[f"family_{family}"] = self.family[:, index]
        for index, finish in enumerate(FINISHES):
            people[f"finish_{finish.value}"] = self.finish[:, index]
        for index, category in enumerate(CATEGORIES):
            people[f"category_{category.value}"] = self.category[:, index]
        n_users, n_products = self.utility.shape
        utility = pd.DataFrame(
            {
                "user_id": np.repeat(users["user_id"].to_numpy(), n_products),
                "product_id": np.tile(catalog["product_id"].to_numpy(), n_users),
                "utility": self.utility.ravel(),
                "z": self.z.ravel(),
            }
        )
        return {"users": people, "utility": utility}


def _family_priors(users: pd.DataFrame) -> np.ndarray:
    """(users, families) undertone and skin-depth priors."""
    prior = np.zeros((len(users), len(SHADE_FAMILIES)))
    undertones = users["undertone"].to_numpy()
    depth = (users["skin_tone"].to_numpy() - 5.5) / 4.5
    for undertone, table in UNDERTONE_FAMILY_PRIOR.items():
        rows = undertones == undertone
        for family, weight in table.items():
            prior[rows, SHADE_FAMILIES.index(family)] += weight
    for family, weight in DEPTH_FAMILY_PRIOR.items():
        prior[:, SHADE_FAMILIES.index(family)] += weight * depth
    return prior


def make_tastes(users: pd.DataFrame, catalog: pd.DataFrame, rng: np.random.Generator) -> Tastes:
    """Draw everyone's affinities and compute the utility of every (person, product)."""
    n_users, n_products = len(users), len(catalog)
    family = _family_priors(users) + rng.normal(0, FAMILY_NOISE, (n_users, len(SHADE_FAMILIES)))
    finish_prior = np.array([FINISH_PRIOR[finish.value] for finish in FINISHES])
    finish = finish_prior + rng.normal(0, FINISH_NOISE, (n_users, len(FINISHES)))
    mix = catalog["category"].value_counts(normalize=True)
    category_mix = np.array([mix.get(category.value, 0.0) for category in CATEGORIES])
    category = rng.dirichlet(CATEGORY_CONCENTRATION * category_mix * len(CATEGORIES), n_users)
    popularity = np.log([weight for _, _, weight in BRANDS])
    brand = BRAND_POPULARITY_WEIGHT * (popularity - popularity.mean()) + rng.normal(
        0, BRAND_NOISE, (n_users, len(BRANDS))
    )
    price_sensitivity = rng.lognormal(np.log(0.5), 0.4, n_users)

    codes = _product_codes(catalog)
    depth = (users["skin_tone"].to_numpy() - 5.5) / 4.5
    tones = users["skin_tone"].to_numpy()
    lightness = lab_from_hex_array(catalog["shade_hex"])[:, 0]
    complexion = codes["complexion"]
    utility = np.empty((n_users, n_products), dtype=np.float32)
    # In blocks of people: the float64 temporaries of a large world would not fit at once.
    for lo in range(0, n_users, _BLOCK_USERS):
        rows = slice(lo, min(n_users, lo + _BLOCK_USERS))
        utility[rows] = (
            np.where(complexion, 0.0, family[rows][:, codes["family"]])
            + np.where(complexion, 0.0,
                       DEPTH_WEIGHT * np.outer(depth[rows], (50.0 - lightness) / 25.0))
            - np.where(complexion,
                       COMPLEXION_MATCH * np.abs(tones[rows, None] - codes["tone"]), 0.0)
            + finish[rows][:, codes["finish"]]
            + brand[rows][:, codes["brand"]]
            + catalog["quality"].to_numpy()
            - np.outer(price_sensitivity[rows], codes["log_relative_price"])
            + rng.normal(0, PAIR_NOISE, (utility[rows].shape[0], n_products))
        )
    return Tastes(
        family=family, finish=finish, category=category, brand=brand,
        price_sensitivity=price_sensitivity, utility=utility,
        z=standardize_within_categories(utility, codes["category"]),
    )


def _product_codes(catalog: pd.DataFrame) -> dict[str, np.ndarray]:
    """Integer codes of each product's family, finish, brand and category, plus tone and price."""
    category = catalog["category"].map({c.value: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    median = catalog.groupby("category")["price"].transform("median").to_numpy()
    return {
        "family": catalog["shade_family"].map(SHADE_FAMILIES.index).to_numpy(),
        "finish": catalog["finish"].map({f.value: i for i, f in enumerate(FINISHES)}).to_numpy(),
        "brand": catalog["brand"].map({b[0]: i for i, b in enumerate(BRANDS)}).to_numpy(),
        "category": category,
        "tone": catalog["tone"].to_numpy(),
        "complexion": catalog["category"].isin([c.value for c in COMPLEXION]).to_numpy(),
        "log_relative_price": np.log(catalog["price"].to_numpy() / median),
    }


def standardize_within_categories(utility: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """(users, products) → the same, centred and scaled per person within each category."""
    z = np.empty_like(utility)
    for category in np.unique(categories):
        columns = np.flatnonzero(categories == category)
        block = utility[:, columns]
        std = block.std(axis=1, keepdims=True)
        z[:, columns] = (block - block.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return z
