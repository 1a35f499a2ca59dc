"""Look vectors: what a makeup look is, how it becomes a vector for the GAN, and back.

A look is one product per face region (`REGIONS`: lips, eyes, cheeks, brows). Each region has a
category from `REGION_CATEGORIES`, a shade in CIELAB, a finish and an intensity in [0, 1] (how
strongly the mirror applies it). `LookArrays` holds n looks column by column;
`looks_from_frame` / `frame_from_looks` convert the long table of the lake dataset `looks` (one
row per look and region, `LOOK_COLUMNS`).

`LookSpace`, fitted on training looks, maps looks to vectors and back. Per region, in order:

    [category one-hot / √2]   (regions with more than one category)
    [L*, a*, b* z-scores]
    [finish one-hot / √2]
    [intensity z-score]

The one-hot blocks are scaled by 1/√2 so that another category or finish adds exactly 1 to the
squared distance, as much as one standard deviation of a colour coordinate. The same vectors are
the GAN's data and the "standardized look space" of the evaluation metrics (`look_quality`).

`ConditionSpace` encodes what a look is asked for: the face (Monk skin tone one-hot and depth,
undertone, face shape; the shape may be unknown) and the optional trend terms (the shade family
and the finish of the lips; "any" when not asked) as one vector. `condition_groups` names the
evaluation conditions: undertone × skin-depth band (light 1–3, medium 4–6, deep 7–10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from glamcast.core.events import FaceShape, Finish, Undertone
from glamcast.core.names import LOOK_ID_COL
from glamcast.core.shades import SHADE_FAMILIES, family_codes_from_lab, hex_from_rgb, rgb_from_lab

#: Face regions of a look, in vector order; the first one (lips) names the look's trend terms.
REGIONS: tuple[str, ...] = ("lips", "eyes", "cheeks", "brows")
#: Product categories a region may use (values of `glamcast.core.events.Category`).
REGION_CATEGORIES: dict[str, tuple[str, ...]] = {
    "lips": ("lipstick", "lip_gloss"),
    "eyes": ("eyeshadow", "eyeliner"),
    "cheeks": ("blush", "bronzer", "highlighter"),
    "brows": ("brow",),
}
FINISHES: tuple[str, ...] = tuple(finish.value for finish in Finish)
UNDERTONES: tuple[str, ...] = tuple(undertone.value for undertone in Undertone)
FACE_SHAPES: tuple[str, ...] = tuple(shape.value for shape in FaceShape)
SKIN_TONES: tuple[int, ...] = tuple(range(1, 11))
#: Skin-depth bands of the Monk scale used to group evaluation conditions.
DEPTH_BANDS: dict[str, tuple[int, int]] = {"light": (1, 3), "medium": (4, 6), "deep": (7, 10)}
#: Scale of one-hot blocks: a different category or finish adds 1 to the squared distance.
ONE_HOT_SCALE = 1.0 / math.sqrt(2.0)

# --- the lake dataset `looks` --------------------------------------------------------------------

#: Lake dataset of curated looks: one row per look and region.
REGION_COL = "region"
#: Columns of the `looks` dataset (besides `event_id`, `ts` and provenance).
LOOK_COLUMNS = (
    LOOK_ID_COL,
    "look_name",
    REGION_COL,
    "product_id",
    "category",
    "shade_hex",
    "L",
    "a",
    "b",
    "finish",
    "intensity",
)


class LookDataError(ValueError):
    """A looks table is missing columns, regions or known categories."""


@dataclass
class LookArrays:
    """n looks, column by column (region axis in `REGIONS` order)."""

    category: np.ndarray  # (n, regions) int: index into REGION_CATEGORIES[region]
    lab: np.ndarray  # (n, regions, 3) float: CIELAB shade
    finish: np.ndarray  # (n, regions) int: index into FINISHES
    intensity: np.ndarray  # (n, regions) float in [0, 1]

    def __len__(self) -> int:
        return int(self.category.shape[0])

    def take(self, rows: np.ndarray | Sequence[int]) -> LookArrays:
        rows = np.asarray(rows)
        return LookArrays(
            self.category[rows], self.lab[rows], self.finish[rows], self.intensity[rows]
        )

    @classmethod
    def concat(cls, parts: Sequence[LookArrays]) -> LookArrays:
        return cls(
            np.concatenate([p.category for p in parts]),
            np.concatenate([p.lab for p in parts]),
            np.concatenate([p.finish for p in parts]),
            np.concatenate([p.intensity for p in parts]),
        )

    def category_names(self) -> np.ndarray:
        """(n, regions) category names."""
        out = np.empty(self.category.shape, dtype=object)
        for r, region in enumerate(REGIONS):
            out[:, r] = np.asarray(REGION_CATEGORIES[region], dtype=object)[self.category[:, r]]
        return out

    def finish_names(self) -> np.ndarray:
        return np.asarray(FINISHES, dtype=object)[self.finish]

    def shade_hex(self) -> np.ndarray:
        """(n, regions) ``#RRGGBB`` of each shade (clipped into sRGB)."""
        flat = self.lab.reshape(-1, 3)
        codes = np.asarray(hex_from_rgb(rgb_from_lab(flat)), dtype=object)
        return codes.reshape(self.category.shape)

    def family_codes(self, region: str = REGIONS[0]) -> np.ndarray:
        """(n,) shade family index (into `SHADE_FAMILIES`) of one region."""
        return family_codes_from_lab(self.lab[:, REGIONS.index(region)]).astype(np.int64)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise LookDataError(f"{what} has no column(s) {missing}; found {list(frame.columns)}")


def looks_from_frame(frame: pd.DataFrame) -> tuple[np.ndarray, LookArrays]:
    """The long `looks` table → (look ids, LookArrays), looks sorted by id.

    Every look must have each region exactly once, with a category of that region.
    """
    _require(
        frame,
        (LOOK_ID_COL, REGION_COL, "category", "L", "a", "b", "finish", "intensity"),
        "looks table",
    )
    rows = frame.drop_duplicates([LOOK_ID_COL, REGION_COL], keep="last")
    unknown_regions = sorted(set(rows[REGION_COL]) - set(REGIONS))
    if unknown_regions:
        raise LookDataError(f"unknown region(s) {unknown_regions}; regions are {REGIONS}")
    look_ids = np.sort(rows[LOOK_ID_COL].unique())
    complete = rows.groupby(LOOK_ID_COL)[REGION_COL].nunique()
    partial = complete[complete < len(REGIONS)]
    if len(partial):
        raise LookDataError(f"{len(partial)} look(s) lack a region, e.g. {partial.index[0]!r}")
    n = look_ids.size
    look_index = pd.Index(look_ids)
    li = look_index.get_indexer(rows[LOOK_ID_COL])
    ri = rows[REGION_COL].map({region: r for r, region in enumerate(REGIONS)}).to_numpy()
    category = np.zeros((n, len(REGIONS)), dtype=np.int64)
    finish = np.zeros((n, len(REGIONS)), dtype=np.int64)
    lab = np.zeros((n, len(REGIONS), 3))
    intensity = np.zeros((n, len(REGIONS)))
    categories = rows["category"].to_numpy()
    for r, region in enumerate(REGIONS):
        mine = ri == r
        codes = pd.Index(REGION_CATEGORIES[region]).get_indexer(categories[mine])
        if (codes < 0).any():
            bad = sorted(set(categories[mine][codes < 0]))
            raise LookDataError(
                f"region {region!r} cannot use category {bad}; allowed: {REGION_CATEGORIES[region]}"
            )
        category[li[mine], r] = codes
    finish_codes = pd.Index(FINISHES).get_indexer(rows["finish"])
    if (finish_codes < 0).any():
        raise LookDataError(f"unknown finish(es) {sorted(set(rows['finish'][finish_codes < 0]))}")
    finish[li, ri] = finish_codes
    lab[li, ri] = rows[["L", "a", "b"]].to_numpy(dtype=float)
    intensity[li, ri] = rows["intensity"].to_numpy(dtype=float)
    return look_ids, LookArrays(category, lab, finish, intensity)


def frame_from_looks(looks: LookArrays, look_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """LookArrays → long table (look_id, region, category, shade_hex, L, a, b, finish, intensity)."""
    n, n_regions = looks.category.shape
    ids = np.asarray(
        look_ids if look_ids is not None else [f"g{i:05d}" for i in range(n)], dtype=object
    )
    lab = looks.lab.reshape(-1, 3)
    return pd.DataFrame(
        {
            LOOK_ID_COL: np.repeat(ids, n_regions),
            REGION_COL: np.tile(np.asarray(REGIONS, dtype=object), n),
            "category": looks.category_names().ravel(),
            "shade_hex": looks.shade_hex().ravel(),
            "L": lab[:, 0],
            "a": lab[:, 1],
            "b": lab[:, 2],
            "finish": looks.finish_names().ravel(),
            "intensity": looks.intensity.ravel(),
        }
    )


# --- vectors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A slice of the look vector: a one-hot group or a run of continuous values."""

    kind: str  # "category" | "finish" (one-hot) or "lab" | "intensity" (continuous)
    region: int  # index into REGIONS
    start: int
    size: int

    @property
    def one_hot(self) -> bool:
        return self.kind in ("category", "finish")

    @property
    def stop(self) -> int:
        return self.start + self.size


def look_blocks() -> tuple[Block, ...]:
    """The layout of a look vector (see the module docstring)."""
    blocks, start = [], 0
    for r, region in enumerate(REGIONS):
        parts = [("lab", 3), ("finish", len(FINISHES)), ("intensity", 1)]
        if len(REGION_CATEGORIES[region]) > 1:
            parts.insert(0, ("category", len(REGION_CATEGORIES[region])))
        for kind, size in parts:
            blocks.append(Block(kind, r, start, size))
            start += size
    return tuple(blocks)


BLOCKS: tuple[Block, ...] = look_blocks()
LOOK_DIM = BLOCKS[-1].stop


@dataclass
class LookSpace:
    """The standardization of look vectors, fitted on training looks."""

    lab_mean: np.ndarray  # (regions, 3)
    lab_std: np.ndarray  # (regions, 3)
    intensity_mean: np.ndarray  # (regions,)
    intensity_std: np.ndarray  # (regions,)

    @classmethod
    def fit(cls, looks: LookArrays) -> LookSpace:
        if len(looks) == 0:
            raise LookDataError("cannot fit a look space on no looks")
        lab_std = looks.lab.std(axis=0)
        intensity_std = looks.intensity.std(axis=0)
        return cls(
            looks.lab.mean(axis=0),
            np.where(lab_std > 1e-6, lab_std, 1.0),
            looks.intensity.mean(axis=0),
            np.where(intensity_std > 1e-6, intensity_std, 1.0),
        )

    @property
    def dim(self) -> int:
        return LOOK_DIM

    def encode(self, looks: LookArrays) -> np.ndarray:
        """LookArrays → (n, LOOK_DIM) float32 vectors."""
        x = np.zeros((len(looks), LOOK_DIM), dtype=np.float32)
        rows = np.arange(len(looks))
        for block in BLOCKS:
            r = block.region
            if block.kind == "category":
                x[rows, block.start + looks.category[:, r]] = ONE_HOT_SCALE
            elif block.kind == "finish":
                x[rows, block.start + looks.finish[:, r]] = ONE_HOT_SCALE
            elif block.kind == "lab":
                x[:, block.start : block.stop] = (
                    looks.lab[:, r] - self.lab_mean[r]
                ) / self.lab_std[r]
            else:
                x[:, block.start] = (
                    looks.intensity[:, r] - self.intensity_mean[r]
                ) / self.intensity_std[r]
        return x

    def decode(self, x: np.ndarray) -> LookArrays:
        """(n, LOOK_DIM) vectors → LookArrays: argmax of each one-hot block, shades clipped to
        L* in [0, 100], intensity clipped to [0, 1]."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        category = np.zeros((n, len(REGIONS)), dtype=np.int64)
        finish = np.zeros((n, len(REGIONS)), dtype=np.int64)
        lab = np.zeros((n, len(REGIONS), 3))
        intensity = np.zeros((n, len(REGIONS)))
        for block in BLOCKS:
            r, values = block.region, x[:, block.start : block.stop]
            if block.kind == "category":
                category[:, r] = values.argmax(axis=1)
            elif block.kind == "finish":
                finish[:, r] = values.argmax(axis=1)
            elif block.kind == "lab":
                lab[:, r] = values * self.lab_std[r] + self.lab_mean[r]
            else:
                intensity[:, r] = values[:, 0] * self.intensity_std[r] + self.intensity_mean[r]
        lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
        return LookArrays(category, lab, finish, np.clip(intensity, 0.0, 1.0))

    def as_dict(self) -> dict[str, Any]:
        return {
            name: np.asarray(getattr(self, name)).tolist()
            for name in ("lab_mean", "lab_std", "intensity_mean", "intensity_std")
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LookSpace:
        return cls(
            **{
                name: np.asarray(data[name], dtype=np.float64)
                for name in ("lab_mean", "lab_std", "intensity_mean", "intensity_std")
            }
        )


# --- conditions ----------------------------------------------------------------------------------


@dataclass
class Conditions:
    """What n looks are asked for: a face, and optionally trend terms of the lips."""

    skin_tone: np.ndarray  # (n,) int, Monk 1..10
    undertone: np.ndarray  # (n,) str: cool | neutral | warm
    face_shape: np.ndarray  # (n,) str or None (unknown)
    family: np.ndarray  # (n,) shade family of the lips, or None (any)
    finish: np.ndarray  # (n,) finish of the lips, or None (any)

    def __post_init__(self) -> None:
        n = len(self.skin_tone)
        self.skin_tone = np.asarray(self.skin_tone, dtype=np.int64)
        for name in ("undertone", "face_shape", "family", "finish"):
            value = np.asarray(getattr(self, name), dtype=object)
            if value.shape != (n,):
                raise ValueError(f"conditions: {name} has shape {value.shape}, expected ({n},)")
            setattr(self, name, value)
        _check_vocabulary(self.skin_tone, SKIN_TONES, "skin_tone")
        _check_vocabulary(self.undertone, UNDERTONES, "undertone")
        _check_vocabulary(self.face_shape, FACE_SHAPES, "face_shape", optional=True)
        _check_vocabulary(self.family, SHADE_FAMILIES, "family", optional=True)
        _check_vocabulary(self.finish, FINISHES, "finish", optional=True)

    def __len__(self) -> int:
        return int(self.skin_tone.size)

    @classmethod
    def of(
        cls,
        skin_tone: Any,
        undertone: Any,
        face_shape: Any = None,
        family: Any = None,
        finish: Any = None,
        n: int | None = None,
    ) -> Conditions:
        """Conditions from scalars or arrays (scalars are repeated `n` times, default 1)."""
        values = [skin_tone, undertone, face_shape, family, finish]
        sizes = {np.size(v) for v in values if isinstance(v, (list, tuple, np.ndarray, pd.Series))}
        size = n if n is not None else (sizes.pop() if len(sizes) == 1 else 1)
        out = []
        for value in values:
            if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
                out.append(np.asarray(value, dtype=object))
            else:
                out.append(np.full(size, value, dtype=object))
        cleaned = [np.array([None if _missing(v) else v for v in arr], dtype=object) for arr in out]
        return cls(np.asarray(cleaned[0], dtype=np.int64), *cleaned[1:])

    def take(self, rows: np.ndarray) -> Conditions:
        return Conditions(
            self.skin_tone[rows],
            self.undertone[rows],
            self.face_shape[rows],
            self.family[rows],
            self.finish[rows],
        )

    def repeat(self, times: int) -> Conditions:
        return self.take(np.repeat(np.arange(len(self)), times))

    def with_terms(self, family: str | None = None, finish: str | None = None) -> Conditions:
        n = len(self)
        return Conditions(
            self.skin_tone,
            self.undertone,
            self.face_shape,
            np.full(n, family, dtype=object),
            np.full(n, finish, dtype=object),
        )

    def groups(self) -> np.ndarray:
        return condition_groups(self.skin_tone, self.undertone)


def _missing(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == "any"
        or (isinstance(value, float) and math.isnan(value))
    )


def _check_vocabulary(
    values: np.ndarray, allowed: Sequence[Any], name: str, optional: bool = False
) -> None:
    known = set(allowed) | ({None} if optional else set())
    bad = {value for value in values.tolist() if value not in known}
    if bad:
        raise ValueError(
            f"conditions: unknown {name} {sorted(map(str, bad))}; "
            f"expected one of {list(allowed)}{' or none' if optional else ''}"
        )


def depth_band(skin_tone: np.ndarray) -> np.ndarray:
    """(n,) band name of each Monk skin tone (`DEPTH_BANDS`)."""
    tones = np.asarray(skin_tone)
    out = np.empty(tones.shape, dtype=object)
    for band, (lo, hi) in DEPTH_BANDS.items():
        out[(tones >= lo) & (tones <= hi)] = band
    return out


def condition_groups(skin_tone: np.ndarray, undertone: np.ndarray) -> np.ndarray:
    """(n,) evaluation condition of each face: ``<undertone>/<depth band>``."""
    return np.char.add(
        np.char.add(np.asarray(undertone, dtype=str), "/"), depth_band(skin_tone).astype(str)
    ).astype(object)


#: Every evaluation condition, in report order.
CONDITION_GROUPS: tuple[str, ...] = tuple(
    f"{undertone}/{band}" for undertone in UNDERTONES for band in DEPTH_BANDS
)


class ConditionSpace:
    """The layout of condition vectors: slices of each part (see the module docstring)."""

    skin_tone = slice(0, 10)  # one-hot Monk 1..10
    depth = slice(10, 11)  # (tone − 5.5) / 4.5, from −1 to +1
    undertone = slice(11, 14)
    face_shape = slice(14, 20)  # all zero: unknown
    family = slice(20, 20 + len(SHADE_FAMILIES))  # all zero: any
    finish = slice(20 + len(SHADE_FAMILIES), 25 + len(SHADE_FAMILIES))  # all zero: any

    @property
    def dim(self) -> int:
        return self.finish.stop

    def encode(self, conditions: Conditions) -> np.ndarray:
        """Conditions → (n, dim) float32."""
        n = len(conditions)
        c = np.zeros((n, self.dim), dtype=np.float32)
        rows = np.arange(n)
        c[rows, self.skin_tone.start + conditions.skin_tone - 1] = 1.0
        c[:, self.depth.start] = (conditions.skin_tone - 5.5) / 4.5
        c[rows, self.undertone.start + pd.Index(UNDERTONES).get_indexer(conditions.undertone)] = 1.0
        parts = (
            (self.face_shape, "face_shape", FACE_SHAPES),
            (self.family, "family", SHADE_FAMILIES),
            (self.finish, "finish", FINISHES),
        )
        for part, name, vocabulary in parts:
            values = getattr(conditions, name)
            known = np.array([value is not None for value in values.tolist()], dtype=bool)
            if known.any():
                codes = pd.Index(vocabulary).get_indexer(values[known])
                c[rows[known], part.start + codes] = 1.0
        return c


CONDITION_SPACE = ConditionSpace()


def lip_terms(looks: LookArrays) -> tuple[np.ndarray, np.ndarray]:
    """(family names, finish names) of the lips of each look: the trend terms it answers to."""
    families = np.asarray(SHADE_FAMILIES, dtype=object)[looks.family_codes(REGIONS[0])]
    return families, looks.finish_names()[:, 0]
