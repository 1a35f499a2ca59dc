"""Curated looks: whole-face looks made of catalogue products, who likes which, who tries which.

In: the catalogue, the people and their tastes. Out: `LookCatalog` (each look one product per
region of `models.look_space.REGIONS`, with an intensity), `LookTastes` (how much each person
likes each look) and, per day, `LookChains`: the looks tab of the app, where people try looks,
swap to other looks, and settle on their favourite (`tryon_sessions` turns them into try-on
events carrying `look_id`).

Looks are drawn from eight styles (`LOOK_STYLES`: a natural look, coral sunset, berry glam,
classic red, smoky night, golden hour, pink candy, ice queen). Each style says, per region, which
categories, shade families and finishes it uses and how intense it is; a look picks real
products that fit (products on sale from the first day, so every look can be bought) and jitters
the intensities. Appeal of look k for person u (constants below):

    A[u, k] = Σ_r REGION_WEIGHTS[r] · family[u, family of region r]   the person's shade-family
                                                                         taste (undertone and skin
                                                                         depth priors + noise)
            + LOOK_DEPTH_WEIGHT · depth_u · (50 − L*_lips) / 25       deeper skin → deeper lips
            − INTENSITY_MATCH · |mean intensity_k − preferred_u|     preferred = 0.5 + 0.2·depth
                                                                         + N(0, 0.1): bolder looks
                                                                         on deeper skin
            + FACE_SHAPE_WEIGHT · [cheek category = FACE_SHAPE_CHEEKS[shape_u]]
            + LIP_FINISH_WEIGHT · finish[u, finish of the lips]
            + style[u, style_k] + quality_k + ε[u, k]

`z` is A standardized within each person's looks. People pick looks by a softmax over
`choice_sharpness · z` plus the trend pull of the look's products, exactly as they pick products.

`write_looks_dataset` writes the look catalogue to the lake dataset `looks` (one row per look and
region, `models.look_space.LOOK_COLUMNS`), where `jobs/train_look_gan.py` reads the composition
of the looks that try-on events name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from glamcast.core.names import CATALOG, EVENT_ID_COL, LOOKS, TRYON, TS_COL
from glamcast.core.settings import Settings
from glamcast.core.shades import SHADE_FAMILIES, lab_from_hex_array
from glamcast.platform import lake
from glamcast.simulator.catalog import FINISHES
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.rhythms import sample_times_of_day_ms
from models.look_space import LOOK_COLUMNS, REGION_CATEGORIES, REGIONS

if TYPE_CHECKING:
    from glamcast.simulator.tastes import Tastes
    from glamcast.simulator.world import World


@dataclass(frozen=True)
class RegionStyle:
    """How a style dresses one region: category, shade family and finish weights, intensity."""

    categories: dict[str, float]
    families: dict[str, float]
    finishes: dict[str, float]  # finishes not listed weigh OTHER_FINISH_WEIGHT
    intensity: float  # mean intensity, 0..1


@dataclass(frozen=True)
class LookStyle:
    name: str
    title: str  # looks are named "<title> <number>"
    share: float  # share of the look catalogue
    regions: dict[str, RegionStyle]


def _style(name: str, title: str, share: float, **regions: tuple) -> LookStyle:
    return LookStyle(
        name, title, share, {region: RegionStyle(*spec) for region, spec in regions.items()}
    )


LOOK_STYLES: tuple[LookStyle, ...] = (
    _style(
        "natural",
        "Barely There",
        0.16,
        lips=(
            {"lipstick": 0.5, "lip_gloss": 0.5},
            {"nude": 0.6, "pink": 0.25, "mauve": 0.15},
            {"satin": 1, "gloss": 1, "matte": 0.5},
            0.35,
        ),
        eyes=(
            {"eyeshadow": 1},
            {"nude": 0.5, "brown": 0.4, "gold": 0.1},
            {"matte": 1, "satin": 1},
            0.3,
        ),
        cheeks=(
            {"blush": 0.7, "highlighter": 0.3},
            {"pink": 0.4, "nude": 0.4, "gold": 0.2},
            {"satin": 1, "matte": 1},
            0.3,
        ),
        brows=({"brow": 1}, {"brown": 0.85, "black": 0.15}, {"matte": 1}, 0.35),
    ),
    _style(
        "coral",
        "Coral Sunset",
        0.13,
        lips=(
            {"lipstick": 0.6, "lip_gloss": 0.4},
            {"coral": 0.65, "orange": 0.25, "nude": 0.1},
            {"satin": 1, "gloss": 1, "matte": 0.6},
            0.7,
        ),
        eyes=(
            {"eyeshadow": 0.85, "eyeliner": 0.15},
            {"gold": 0.5, "brown": 0.4, "nude": 0.1},
            {"shimmer": 1, "metallic": 0.6},
            0.55,
        ),
        cheeks=(
            {"blush": 0.6, "bronzer": 0.4},
            {"coral": 0.5, "orange": 0.25, "brown": 0.25},
            {"matte": 1, "satin": 1},
            0.5,
        ),
        brows=({"brow": 1}, {"brown": 0.9, "black": 0.1}, {"matte": 1}, 0.45),
    ),
    _style(
        "berry",
        "Berry Glam",
        0.13,
        lips=(
            {"lipstick": 0.85, "lip_gloss": 0.15},
            {"berry": 0.6, "plum": 0.3, "red": 0.1},
            {"matte": 1, "satin": 0.6},
            0.8,
        ),
        eyes=(
            {"eyeshadow": 0.7, "eyeliner": 0.3},
            {"plum": 0.45, "purple": 0.3, "black": 0.25},
            {"shimmer": 1, "matte": 0.7},
            0.6,
        ),
        cheeks=({"blush": 1}, {"berry": 0.5, "mauve": 0.5}, {"matte": 1, "satin": 1}, 0.45),
        brows=({"brow": 1}, {"brown": 0.6, "black": 0.4}, {"matte": 1}, 0.55),
    ),
    _style(
        "red",
        "Classic Red",
        0.12,
        lips=({"lipstick": 1}, {"red": 1}, {"matte": 1, "satin": 0.5}, 0.9),
        eyes=(
            {"eyeliner": 0.75, "eyeshadow": 0.25},
            {"black": 0.8, "brown": 0.2},
            {"matte": 1, "gloss": 0.5},
            0.7,
        ),
        cheeks=(
            {"blush": 0.6, "highlighter": 0.4},
            {"pink": 0.4, "nude": 0.3, "gold": 0.3},
            {"matte": 1, "satin": 1, "shimmer": 0.5},
            0.35,
        ),
        brows=({"brow": 1}, {"brown": 0.6, "black": 0.4}, {"matte": 1}, 0.6),
    ),
    _style(
        "smoky",
        "Smoky Night",
        0.12,
        lips=(
            {"lipstick": 0.8, "lip_gloss": 0.2},
            {"nude": 0.4, "mauve": 0.3, "brown": 0.3},
            {"matte": 1, "satin": 1},
            0.5,
        ),
        eyes=(
            {"eyeshadow": 0.8, "eyeliner": 0.2},
            {"black": 0.4, "plum": 0.2, "silver": 0.2, "brown": 0.2},
            {"shimmer": 1, "metallic": 1, "matte": 0.5},
            0.9,
        ),
        cheeks=(
            {"bronzer": 0.6, "highlighter": 0.4},
            {"brown": 0.5, "silver": 0.3, "nude": 0.2},
            {"matte": 1, "shimmer": 1},
            0.55,
        ),
        brows=({"brow": 1}, {"black": 0.5, "brown": 0.5}, {"matte": 1}, 0.7),
    ),
    _style(
        "golden",
        "Golden Hour",
        0.12,
        lips=(
            {"lip_gloss": 0.6, "lipstick": 0.4},
            {"nude": 0.5, "coral": 0.25, "brown": 0.25},
            {"gloss": 1, "shimmer": 0.7, "satin": 0.5},
            0.55,
        ),
        eyes=(
            {"eyeshadow": 0.85, "eyeliner": 0.15},
            {"gold": 0.7, "brown": 0.3},
            {"metallic": 1, "shimmer": 1},
            0.7,
        ),
        cheeks=(
            {"highlighter": 0.6, "bronzer": 0.4},
            {"gold": 0.6, "brown": 0.25, "orange": 0.15},
            {"shimmer": 1, "metallic": 1, "satin": 0.5},
            0.65,
        ),
        brows=({"brow": 1}, {"brown": 1}, {"matte": 1}, 0.45),
    ),
    _style(
        "pink",
        "Pink Candy",
        0.11,
        lips=(
            {"lip_gloss": 0.6, "lipstick": 0.4},
            {"pink": 0.8, "mauve": 0.2},
            {"gloss": 1, "satin": 0.7, "shimmer": 0.5},
            0.6,
        ),
        eyes=(
            {"eyeshadow": 1},
            {"pink": 0.6, "nude": 0.25, "silver": 0.15},
            {"shimmer": 1, "matte": 0.6},
            0.45,
        ),
        cheeks=(
            {"blush": 0.85, "highlighter": 0.15},
            {"pink": 0.85, "white": 0.15},
            {"satin": 1, "shimmer": 0.6},
            0.55,
        ),
        brows=({"brow": 1}, {"brown": 1}, {"matte": 1}, 0.35),
    ),
    _style(
        "ice",
        "Ice Queen",
        0.11,
        lips=(
            {"lipstick": 0.7, "lip_gloss": 0.3},
            {"mauve": 0.45, "pink": 0.3, "berry": 0.25},
            {"satin": 1, "shimmer": 0.6, "metallic": 0.4},
            0.55,
        ),
        eyes=(
            {"eyeshadow": 0.75, "eyeliner": 0.25},
            {"silver": 0.4, "blue": 0.4, "purple": 0.2},
            {"metallic": 1, "shimmer": 1},
            0.7,
        ),
        cheeks=(
            {"highlighter": 0.6, "blush": 0.4},
            {"silver": 0.4, "white": 0.2, "mauve": 0.4},
            {"shimmer": 1, "satin": 0.6},
            0.5,
        ),
        brows=({"brow": 1}, {"black": 0.5, "brown": 0.5}, {"matte": 1}, 0.5),
    ),
)
#: Weight of a product whose finish the style does not list (it may still be picked).
OTHER_FINISH_WEIGHT = 0.05
#: Spread of a look's intensities around its style: per region, and one shift per look.
INTENSITY_NOISE = 0.12
INTENSITY_SHIFT = 0.08

# --- appeal ------------------------------------------------------------------------------------

#: Weight of each region's shade-family taste (REGIONS order: lips, eyes, cheeks, brows).
REGION_WEIGHTS = (1.0, 0.6, 0.5, 0.2)
LOOK_DEPTH_WEIGHT = 0.6
INTENSITY_MATCH = 2.0
#: Preferred mean intensity = INTENSITY_BASE + INTENSITY_DEPTH · depth + N(0, INTENSITY_TASTE).
INTENSITY_BASE = 0.5
INTENSITY_DEPTH = 0.2
INTENSITY_TASTE = 0.1
#: The cheek product each face shape is flattered by (contour, blush or highlight).
FACE_SHAPE_CHEEKS = {
    "round": "bronzer",
    "square": "bronzer",
    "heart": "blush",
    "oblong": "blush",
    "oval": "highlighter",
    "diamond": "highlighter",
}
FACE_SHAPE_WEIGHT = 0.5
LIP_FINISH_WEIGHT = 0.5
STYLE_NOISE = 0.4
LOOK_PAIR_NOISE = 0.35
_BLOCK_ROWS = 4_096


@dataclass
class LookCatalog:
    """The curated looks; rows follow `look_ids`, columns `REGIONS`."""

    look_ids: list[str]
    names: list[str]
    style: np.ndarray  # (looks,) index into LOOK_STYLES
    products: np.ndarray  # (looks, regions) product index into the catalogue
    intensity: np.ndarray  # (looks, regions) float in [0.1, 1]

    def __len__(self) -> int:
        return len(self.look_ids)

    @property
    def hero(self) -> np.ndarray:
        """(looks,) the lip product, which try-on events of the look carry."""
        return self.products[:, 0]

    def frame(self, catalog: pd.DataFrame) -> pd.DataFrame:
        """One row per look and region, `LOOK_COLUMNS` plus the hidden `style`."""
        n, n_regions = self.products.shape
        product = self.products.ravel()
        rows = catalog.iloc[product]
        lab = lab_from_hex_array(rows["shade_hex"])
        return pd.DataFrame(
            {
                "look_id": np.repeat(self.look_ids, n_regions),
                "look_name": np.repeat(self.names, n_regions),
                "region": np.tile(REGIONS, n),
                "product_id": rows["product_id"].to_numpy(),
                "category": rows["category"].to_numpy(),
                "shade_hex": rows["shade_hex"].to_numpy(),
                "L": lab[:, 0],
                "a": lab[:, 1],
                "b": lab[:, 2],
                "finish": rows["finish"].to_numpy(),
                "intensity": self.intensity.ravel(),
                "style": np.repeat([LOOK_STYLES[s].name for s in self.style], n_regions),
            }
        )


def make_looks(
    config: SimulationConfig, catalog: pd.DataFrame, rng: np.random.Generator
) -> LookCatalog:
    """`config.looks` curated looks from the products on sale on the first day."""
    on_sale = catalog["launched_at_ms"].to_numpy() <= config.start_ms
    category = catalog["category"].to_numpy()
    family = catalog["shade_family"].to_numpy()
    finish = catalog["finish"].to_numpy()
    shares = np.array([style.share for style in LOOK_STYLES])
    styles = rng.choice(len(LOOK_STYLES), size=config.looks, p=shares / shares.sum())
    products = np.zeros((config.looks, len(REGIONS)), dtype=np.int64)
    intensity = np.zeros((config.looks, len(REGIONS)))
    shift = rng.normal(0.0, INTENSITY_SHIFT, config.looks)
    for k, s in enumerate(styles):
        for r, region in enumerate(REGIONS):
            spec = LOOK_STYLES[s].regions[region]
            names = [name for name in spec.categories if name in REGION_CATEGORIES[region]]
            probs = np.array([spec.categories[name] for name in names])
            chosen = names[int(rng.choice(len(names), p=probs / probs.sum()))]
            candidates = np.flatnonzero(on_sale & (category == chosen))
            weights = np.array([spec.families.get(f, 0.0) for f in family[candidates]])
            if weights.sum() == 0:  # none of the style's families in this small catalogue
                weights = np.ones(candidates.size)
            weights = weights * np.array(
                [spec.finishes.get(f, OTHER_FINISH_WEIGHT) for f in finish[candidates]]
            )
            products[k, r] = candidates[int(rng.choice(candidates.size, p=weights / weights.sum()))]
            intensity[k, r] = spec.intensity + shift[k] + rng.normal(0.0, INTENSITY_NOISE)
    counters = np.zeros(len(LOOK_STYLES), dtype=int)
    names = []
    for s in styles:
        counters[s] += 1
        names.append(f"{LOOK_STYLES[s].title} {counters[s]:02d}")
    return LookCatalog(
        look_ids=[f"look{k:04d}" for k in range(config.looks)],
        names=names,
        style=styles,
        products=products,
        intensity=np.round(np.clip(intensity, 0.1, 1.0), 2),
    )


# --- tastes --------------------------------------------------------------------------------------


@dataclass
class LookTastes:
    """How much each person likes each look; rows follow the people, columns the looks."""

    utility: np.ndarray  # (users, looks) float32
    z: np.ndarray  # (users, looks) float32, standardized within each person


def make_look_tastes(
    users: pd.DataFrame,
    tastes: Tastes,
    catalog: pd.DataFrame,
    looks: LookCatalog,
    rng: np.random.Generator,
) -> LookTastes:
    """The appeal of every look to every person (module docstring)."""
    n_users, n_looks = len(users), len(looks)
    if n_looks == 0:
        empty = np.zeros((n_users, 0), dtype=np.float32)
        return LookTastes(empty, empty)
    family_index = {name: i for i, name in enumerate(SHADE_FAMILIES)}
    region_family = catalog["shade_family"].map(family_index).to_numpy()[looks.products]
    lips = lab_from_hex_array(catalog["shade_hex"].to_numpy()[looks.hero])
    finish_index = {finish.value: i for i, finish in enumerate(FINISHES)}
    lip_finish = catalog["finish"].map(finish_index).to_numpy()[looks.hero]
    cheeks = catalog["category"].to_numpy()[looks.products[:, REGIONS.index("cheeks")]]
    quality = catalog["quality"].to_numpy()[looks.products].mean(axis=1)
    depth = (users["skin_tone"].to_numpy() - 5.5) / 4.5
    preferred = INTENSITY_BASE + INTENSITY_DEPTH * depth + rng.normal(0, INTENSITY_TASTE, n_users)
    flattering = users["face_shape"].map(FACE_SHAPE_CHEEKS).to_numpy()
    style = rng.normal(0.0, STYLE_NOISE, (n_users, len(LOOK_STYLES)))
    mean_intensity = looks.intensity.mean(axis=1)
    utility = np.empty((n_users, n_looks), dtype=np.float32)
    for lo in range(0, n_users, _BLOCK_ROWS):
        rows = slice(lo, min(n_users, lo + _BLOCK_ROWS))
        family = tastes.family[rows]
        block = sum(
            weight * family[:, region_family[:, r]] for r, weight in enumerate(REGION_WEIGHTS)
        )
        block = block + LOOK_DEPTH_WEIGHT * np.outer(depth[rows], (50.0 - lips[:, 0]) / 25.0)
        block -= INTENSITY_MATCH * np.abs(mean_intensity[None, :] - preferred[rows, None])
        block += FACE_SHAPE_WEIGHT * (cheeks[None, :] == flattering[rows, None])
        block += LIP_FINISH_WEIGHT * tastes.finish[rows][:, lip_finish]
        block += style[rows][:, looks.style] + quality[None, :]
        utility[rows] = block + rng.normal(0.0, LOOK_PAIR_NOISE, block.shape)
    std = utility.std(axis=1, keepdims=True)
    z = (utility - utility.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return LookTastes(utility, z.astype(np.float32))


# --- one day in the looks tab ----------------------------------------------------------------------


@dataclass
class LookChains:
    """One day's look sessions: chains of looks tried (a look, then swaps to other looks)."""

    session_user: np.ndarray  # (sessions,)
    session_start_ms: np.ndarray  # (sessions,) int64
    chain_session: np.ndarray  # (chains,) index into this day's look sessions
    chain_user: np.ndarray  # (chains,)
    views: np.ndarray  # (chains,) looks shown in the chain (≥ 1)
    view_chain: np.ndarray  # (views,) chain of each view
    view_look: np.ndarray  # (views,) look index
    view_z: np.ndarray  # (views,) standardized appeal of the look to the person


def choose_looks(world: World, users: np.ndarray, day: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) look per chooser: softmax over sharpness · z plus the pull of the looks' products."""
    looks = world.looks
    pull = world.boost[looks.products, day].mean(axis=1)  # (looks,) trends of its products
    chosen = np.empty(users.size, dtype=np.int64)
    for lo in range(0, users.size, _BLOCK_ROWS):
        rows = slice(lo, min(users.size, lo + _BLOCK_ROWS))
        logits = (
            world.config.choice_sharpness * world.look_tastes.z[users[rows]]
            + pull
            + rng.gumbel(size=(users[rows].size, len(looks)))
        )
        chosen[rows] = np.argmax(logits, axis=1)
    return chosen


def generate_look_chains(world: World, day: int, rng: np.random.Generator) -> LookChains:
    """The day's look sessions: people open the looks tab in proportion to their activity."""
    config = world.config
    empty = np.zeros(0, dtype=np.int64)
    if len(world.looks) == 0 or config.look_sessions_per_user_per_week <= 0:
        return LookChains(empty, empty, empty, empty, empty, empty, empty, np.zeros(0, np.float32))
    ratio = config.look_sessions_per_user_per_week / config.sessions_per_user_per_week
    per_user = rng.poisson(world.session_rate * ratio * world.activity[day])
    session_user = np.repeat(np.arange(per_user.size), per_user)
    day_ms = config.start_ms + day * 86_400_000
    session_start = day_ms + sample_times_of_day_ms(rng, session_user.size)
    tries = 1 + rng.poisson(max(0.0, config.looks_per_session - 1), session_user.size)
    chain_session = np.repeat(np.arange(session_user.size), tries)
    chain_user = session_user[chain_session]
    views = 1 + rng.poisson(config.shade_swaps_per_try_on, chain_session.size)
    view_chain = np.repeat(np.arange(chain_session.size), views)
    view_look = choose_looks(world, chain_user[view_chain], day, rng)
    view_z = world.look_tastes.z[chain_user[view_chain], view_look]
    return LookChains(
        session_user,
        np.asarray(session_start, dtype=np.int64),
        chain_session,
        chain_user,
        views,
        view_chain,
        view_look,
        view_z,
    )


# --- the lake dataset ------------------------------------------------------------------------------


def looks_table(world: World) -> pa.Table:
    """The look catalogue as rows of the `looks` dataset (`event_id`, `ts`, `LOOK_COLUMNS`)."""
    frame = world.looks.frame(world.catalog)[list(LOOK_COLUMNS)]
    tag = world.run_tag
    ids = [
        f"{tag}-k-{look}-{region}"
        for look, region in zip(frame["look_id"], frame["region"], strict=True)
    ]
    ts = datetime.fromtimestamp(world.config.start_ms / 1000, UTC)
    frame.insert(0, TS_COL, pd.Timestamp(ts))
    frame.insert(0, EVENT_ID_COL, ids)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(table.schema.set(1, pa.field(TS_COL, lake.TIMESTAMP)))


def write_looks_dataset(settings_or_root: Settings | str, world: World) -> str:
    """Write the world's looks to ``<lake>/looks/date=<start>/looks-<run tag>.parquet``
    (rewritten, not duplicated, when the same world is written again); returns the path."""
    root = lake.lake_root(settings_or_root)
    relative = f"{lake.partition_dir(LOOKS, world.config.start_date)}/looks-{world.run_tag}.parquet"
    return lake.write_file(root, relative, looks_table(world))


def write_world_lake(
    settings_or_root: Settings | str,
    world: World,
    datasets: tuple[str, ...] = (TRYON, CATALOG),
) -> dict[str, int]:
    """Write the world's records of `datasets` and its `looks` dataset to a lake, with the lake's
    own writers (one file per topic and day, as if read from partition 0): a lake without a
    broker or a stream worker, for tests and benchmarks. Returns rows written per dataset."""
    from glamcast.core.events import TOPIC_MODELS

    root = lake.lake_root(settings_or_root)
    wanted = {
        topic: dataset for topic, dataset in lake.TOPIC_DATASETS.items() if dataset in datasets
    }
    offsets = dict.fromkeys(wanted, 0)
    counts = dict.fromkeys(datasets, 0)
    for batch in world.record_batches():
        by_topic: dict[str, list[bytes]] = {}
        for record in batch:
            if record.topic in wanted:
                by_topic.setdefault(record.topic, []).append(record.value)
        for topic, values in by_topic.items():
            model = TOPIC_MODELS[topic]
            events = [model.model_validate_json(value) for value in values]
            first = offsets[topic]
            table = lake.table_from_events(
                wanted[topic], events, partition=0, offsets=range(first, first + len(events))
            )
            lake.write_event_batch(root, wanted[topic], topic, 0, table)
            offsets[topic] += len(events)
            counts[wanted[topic]] += len(events)
    write_looks_dataset(root, world)
    counts[LOOKS] = len(world.looks) * len(REGIONS)
    return counts
