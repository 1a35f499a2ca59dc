"""Shoppable looks: each generated region matched to the nearest real product, and palettes.

`ProductMatcher` holds a catalogue (product_id, category, shade_hex, finish, and optionally brand,
name, price). For every region of a look it returns the product of the same category and finish
whose shade is nearest by CIEDE2000 (ΔE00); when the catalogue has no product of that category
with that finish, the nearest of the category with any finish (`finish_matched` False). So a
generated look becomes a list of products a person can buy.

`shoppable_looks` turns looks into that table (`SHOPPABLE_COLUMNS`, one row per look and region);
`plot_palettes` draws a PNG grid of looks per condition: each look is a card on the skin colour of
the condition (its Monk swatch) with one band per region, the product's shade laid over the skin
at the look's intensity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glamcast.core.shades import (
    delta_e_2000,
    hex_to_lab,
    lab_from_hex_array,
    shade_families_from_hex_array,
)
from models.look_space import REGIONS, LookArrays

PRODUCT_COLUMNS = ("product_id", "category", "shade_hex", "finish")
OPTIONAL_PRODUCT_COLUMNS = ("brand", "name", "price")
#: Columns of `shoppable_looks`.
SHOPPABLE_COLUMNS = (
    "look",
    "region",
    "category",
    "finish",
    "intensity",
    "shade_hex",
    "product_id",
    "brand",
    "name",
    "price",
    "product_hex",
    "product_family",
    "delta_e",
    "finish_matched",
)
#: Monk Skin Tone swatches 1..10 (skintone.google), the card backgrounds of palettes.
MONK_SWATCHES = (
    "#F6EDE4",
    "#F3E7DB",
    "#F7EAD0",
    "#EADABA",
    "#D7BD96",
    "#A07E56",
    "#825C43",
    "#604134",
    "#3A312A",
    "#292420",
)


class ProductMatcher:
    """Nearest catalogue product by ΔE00 within category and finish."""

    def __init__(self, products: pd.DataFrame) -> None:
        missing = [name for name in PRODUCT_COLUMNS if name not in products.columns]
        if missing:
            raise ValueError(f"product catalogue has no column(s) {missing}")
        products = products.drop_duplicates("product_id", keep="last").reset_index(drop=True)
        for name in OPTIONAL_PRODUCT_COLUMNS:
            if name not in products.columns:
                products[name] = None
        self.products = products
        self.lab = lab_from_hex_array(products["shade_hex"])
        self.family = shade_families_from_hex_array(products["shade_hex"])
        self._category = products["category"].to_numpy()
        self._finish = products["finish"].to_numpy()

    def nearest(
        self, category: str, finish: str, lab: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """(product rows, ΔE00, finish matched) for shades (n, 3) of one category and finish;
        rows are −1 when the catalogue has no product of the category."""
        lab = np.atleast_2d(lab)
        candidates = np.flatnonzero((self._category == category) & (self._finish == finish))
        matched = candidates.size > 0
        if not matched:
            candidates = np.flatnonzero(self._category == category)
        if candidates.size == 0:
            return np.full(len(lab), -1), np.full(len(lab), np.nan), False
        distance = delta_e_2000(
            lab[:, None, :], self.lab[candidates][None, :, :]
        )  # (n, candidates)
        best = distance.argmin(axis=1)
        return candidates[best], distance[np.arange(len(lab)), best], matched

    def match(self, looks: LookArrays) -> pd.DataFrame:
        """One row per look and region: the asked shade and the matched product."""
        n, n_regions = looks.category.shape
        categories, finishes = looks.category_names(), looks.finish_names()
        rows = np.full((n, n_regions), -1)
        delta = np.full((n, n_regions), np.nan)
        matched = np.zeros((n, n_regions), dtype=bool)
        for r in range(n_regions):
            keys = pd.DataFrame({"c": categories[:, r], "f": finishes[:, r]})
            for (category, finish), index in keys.groupby(["c", "f"], sort=False).indices.items():
                found, distance, ok = self.nearest(category, finish, looks.lab[index, r])
                rows[index, r], delta[index, r], matched[index, r] = found, distance, ok
        flat = rows.ravel()
        known = flat >= 0
        picked = self.products.iloc[np.where(known, flat, 0)].reset_index(drop=True)

        def column(name: str) -> np.ndarray:
            values = picked[name].to_numpy(dtype=object).copy()
            values[~known] = None
            return values

        families = self.family[np.where(known, flat, 0)].astype(object)
        families[~known] = None
        return pd.DataFrame(
            {
                "look": np.repeat(np.arange(n), n_regions),
                "region": np.tile(np.asarray(REGIONS, dtype=object), n),
                "category": categories.ravel(),
                "finish": finishes.ravel(),
                "intensity": np.round(looks.intensity.ravel(), 2),
                "shade_hex": looks.shade_hex().ravel(),
                "product_id": column("product_id"),
                "brand": column("brand"),
                "name": column("name"),
                "price": column("price"),
                "product_hex": column("shade_hex"),
                "product_family": families,
                "delta_e": np.round(delta.ravel(), 2),
                "finish_matched": matched.ravel(),
            }
        )[list(SHOPPABLE_COLUMNS)]


def shoppable_looks(matcher: ProductMatcher, looks: LookArrays) -> pd.DataFrame:
    """Looks as products to buy (`SHOPPABLE_COLUMNS`)."""
    return matcher.match(looks)


# --- palettes ----------------------------------------------------------------------------------------


@dataclass
class PaletteRow:
    """One row of a palette grid: a condition and its looks (rows of `shoppable_looks`)."""

    label: str
    skin_tone: int
    looks: pd.DataFrame


def _blend(product_hex: str, skin_hex: str, intensity: float) -> tuple[float, float, float]:
    """The product laid over the skin at `intensity`, as an RGB triple in [0, 1]."""
    product = np.array([int(product_hex[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    skin = np.array([int(skin_hex[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    alpha = float(np.clip(0.25 + 0.75 * intensity, 0.0, 1.0))  # even a sheer wash shows
    return tuple(alpha * product + (1 - alpha) * skin)


def plot_palettes(rows: Sequence[PaletteRow], path: Path | str, title: str | None = None) -> Path:
    """A PNG grid: one row per condition, one card per look (bands: lips, eyes, cheeks, brows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_cols = max((row.looks["look"].nunique() for row in rows), default=1)
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(1.45 * n_cols + 1.8, 1.35 * len(rows) + 0.6), squeeze=False
    )
    for ax, row in zip(axes[:, 0], rows, strict=True):
        skin = MONK_SWATCHES[int(np.clip(row.skin_tone, 1, 10)) - 1]
        ink = "white" if hex_to_lab(skin)[0] < 50 else "black"
        ax.set_xlim(0, n_cols)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.text(-0.05, 0.5, row.label, ha="right", va="center", fontsize=9)
        for col, (_, look) in enumerate(row.looks.groupby("look", sort=True)):
            ax.add_patch(Rectangle((col + 0.04, 0.02), 0.92, 0.96, color=skin))
            by_region = look.set_index("region")
            for band, region in enumerate(REGIONS):
                if region not in by_region.index:
                    continue
                entry = by_region.loc[region]
                shade = entry["product_hex"] or entry["shade_hex"]
                top = 0.98 - 0.24 * band
                ax.add_patch(
                    Rectangle(
                        (col + 0.30, top - 0.2),
                        0.62,
                        0.2,
                        color=_blend(shade, skin, float(entry["intensity"])),
                    )
                )
                ax.text(
                    col + 0.08, top - 0.1, region[0].upper(), fontsize=7, va="center", color=ink
                )
            lips = by_region.loc[REGIONS[0]] if REGIONS[0] in by_region.index else None
            if lips is not None and lips["product_family"]:
                ax.text(
                    col + 0.5,
                    -0.06,
                    f"{lips['product_family']} {lips['finish']}",
                    ha="center",
                    va="top",
                    fontsize=7,
                )
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
