"""Trend looks: the look GAN champion's looks for the rising terms of a forecast run, stored and read.

Written by `jobs/forecast_trends.py` after each run (`publish_trend_looks`), read by
`GET /v1/trend-looks` (`glamcast.serving.trends`) and by the feed engine, which offers them as
look candidates to consented people of the look's face (`trend_looks_for_feed`).

Storage: the lake dataset `trend_looks`, one file per forecast origin,
``trend_looks/date=<origin>/trend_looks.parquet`` (`models.trend_looks.TREND_LOOK_COLUMNS`, one
row per look and region), replaced atomically when the same origin runs again; readers take the
newest partition (`latest_trend_looks`). A run that finds no rising shade family or finish, or no
look GAN champion, writes an empty file, so the newest run's answer is "no looks", not an older
run's looks. The table holds no person: the audience share is an aggregate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from glamcast.core.names import CATALOG, TREND_LOOKS, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.model_registry import champion_version, load_model
from models.shoppable_looks import ProductMatcher
from models.trend_looks import (
    TREND_LOOK_COLUMNS,
    audience_shares,
    look_requests,
    look_terms,
    rematch,
    select_trend_looks,
    trend_look_conditions,
)

log = logging.getLogger(__name__)

FILE_NAME = "trend_looks.parquet"
#: Look numbers of trend looks in the feed's look table start here (after the plain looks').
FEED_LOOK_OFFSET = 1_000_000

_STR, _F64, _I64 = pa.string(), pa.float64(), pa.int64()
SCHEMA = pa.schema([
    ("look_id", _STR), ("term", _STR), ("term_type", _STR), ("trend_class", _STR),
    ("skin_tone", _I64), ("undertone", _STR), ("audience_share", _F64), ("look_rank", _I64),
    ("region", _STR), ("category", _STR), ("product_id", _STR), ("brand", _STR), ("name", _STR),
    ("shade_hex", _STR), ("finish", _STR), ("intensity", _F64), ("price", _F64),
    ("delta_e", _F64), ("product_family", _STR), ("model_version", _I64), ("run_id", _STR),
    ("origin", _STR), ("generated_at", _STR),
])
assert tuple(SCHEMA.names) == TREND_LOOK_COLUMNS


@dataclass
class TrendLooksOutcome:
    """What one forecast run's trend-look step did."""

    looks: pd.DataFrame  # TREND_LOOK_COLUMNS
    terms: pd.DataFrame  # term_type, term, trend_class: the terms looks were asked for
    model_version: int | None
    path: str | None = None  # where they were written (None: not written)
    skipped: str | None = None  # why no looks were generated, in words
    missing: list[str] = field(default_factory=list)  # "term t5-warm": no kept look there

    @property
    def n_looks(self) -> int:
        return int(self.looks["look_id"].nunique()) if len(self.looks) else 0


def consented_faces(settings: Settings) -> pd.DataFrame:
    """One row per person who sent face attributes (`user_id`, `skin_tone`, `undertone`: their
    latest), from the lake's try-on events; empty when there are none."""
    try:
        frame = lake.read_dataset(settings, TRYON,
                                  columns=["user_id", "face_skin_tone", "face_undertone"])
    except (FileNotFoundError, lake.LakeError):
        return pd.DataFrame(columns=["user_id", "skin_tone", "undertone"])
    frame = frame.dropna(subset=["face_skin_tone", "face_undertone"])
    latest = frame.drop_duplicates("user_id", keep="last")
    return pd.DataFrame({"user_id": latest["user_id"].to_numpy(),
                         "skin_tone": latest["face_skin_tone"].to_numpy(),
                         "undertone": latest["face_undertone"].to_numpy()})


def current_catalog(settings: Settings) -> pd.DataFrame | None:
    """The lake's catalogue, latest state per product (None when there is none)."""
    try:
        frame = lake.read_dataset(settings, CATALOG)
    except (FileNotFoundError, lake.LakeError):
        return None
    if frame.empty or "product_id" not in frame:
        return None
    return frame.drop_duplicates("product_id", keep="last").reset_index(drop=True)


def generate_trend_looks(
    model: Any, version: int, rising: pd.DataFrame, faces: pd.DataFrame,
    catalog: pd.DataFrame | None, *, oversample: int, per_condition: int, max_terms: int,
    run_id: str | None = None, origin: str | None = None, generated_at: str | None = None,
) -> TrendLooksOutcome:
    """Ask `model` (the look GAN pyfunc, `predict` with its current input columns) for
    `oversample` looks per consented face condition, match them to `catalog` (the model's own
    match when None) and keep `per_condition` per rising term and condition
    (`models.trend_looks.select_trend_looks`)."""
    terms = look_terms(rising, max_terms)
    empty = pd.DataFrame(columns=list(TREND_LOOK_COLUMNS))
    if terms.empty:
        return TrendLooksOutcome(empty, terms, version, skipped="no rising shade family or finish")
    audience = audience_shares(faces)
    requests = look_requests(trend_look_conditions(audience), oversample, seed=version)
    generated = model.predict(requests)
    finishes = None
    if catalog is not None and len(catalog):
        matcher = ProductMatcher(catalog)
        generated = rematch(generated, matcher)
        finishes = dict(zip(matcher.products["product_id"], matcher.products["finish"], strict=True))
    looks = select_trend_looks(generated, requests, terms, audience, per_condition=per_condition,
                               model_version=version, run_id=run_id, origin=origin,
                               generated_at=generated_at, finish_of_product=finishes)
    have = set(zip(looks["term"], looks["skin_tone"], looks["undertone"], strict=True))
    missing = [f"{term} t{tone}-{undertone}" for term in terms["term"]
               for tone, undertone in requests[["skin_tone", "undertone"]].itertuples(index=False)
               if (term, tone, undertone) not in have]
    return TrendLooksOutcome(looks, terms, version, missing=missing)


def publish_trend_looks(settings: Settings, rising: pd.DataFrame, origin: date,
                        run_id: str | None, write: bool = True) -> TrendLooksOutcome:
    """The trend-look step of a forecast run: the champion look GAN's looks for the run's
    rising shade families and finishes, written to `trend_looks/date=<origin>/` (when `write`).
    Without a champion (or with `trend_looks_max_terms` 0) an empty table is written, with the
    reason in `skipped`. Registry errors propagate (the job reports them)."""
    generated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    empty = pd.DataFrame(columns=list(TREND_LOOK_COLUMNS))
    terms = look_terms(rising, settings.trend_looks_max_terms)
    version = None if terms.empty else champion_version(settings, settings.look_gan_model_name)
    if settings.trend_looks_max_terms == 0:
        outcome = TrendLooksOutcome(empty, terms, None, skipped="turned off")
    elif terms.empty:
        outcome = TrendLooksOutcome(empty, terms, None, skipped="no rising shade family or finish")
    elif version is None:
        outcome = TrendLooksOutcome(empty, terms, None,
                                    skipped=f"no champion of {settings.look_gan_model_name}")
    else:
        model = load_model(settings, settings.look_gan_model_name, version)
        outcome = generate_trend_looks(
            model, version, rising, consented_faces(settings), current_catalog(settings),
            oversample=settings.trend_looks_oversample,
            per_condition=settings.trend_looks_per_condition,
            max_terms=settings.trend_looks_max_terms, run_id=run_id, origin=origin.isoformat(),
            generated_at=generated_at)
    if outcome.skipped:
        log.info("no trend looks: %s", outcome.skipped)
    if write:
        outcome.path = write_trend_looks(settings, outcome.looks, origin)
    return outcome


def write_trend_looks(settings: Settings, looks: pd.DataFrame, origin: date) -> str:
    """Write a run's trend looks to ``trend_looks/date=<origin>/trend_looks.parquet`` (replaced)."""
    frame = looks.reindex(columns=list(TREND_LOOK_COLUMNS))
    arrays = {}
    for name in TREND_LOOK_COLUMNS:
        kind = SCHEMA.field(name).type
        column = frame[name]
        if kind == _STR:
            values = [None if value is None or (isinstance(value, float) and math.isnan(value))
                      else str(value) for value in column]
        else:
            values = [None if pd.isna(value) else value for value in column]
        arrays[name] = pa.array(values, type=kind)
    table = pa.table(arrays, schema=SCHEMA)
    return lake.write_file(lake.lake_root(settings),
                           f"{lake.partition_dir(TREND_LOOKS, origin)}/{FILE_NAME}", table)


def latest_trend_looks(settings: Settings) -> pd.DataFrame:
    """The newest forecast run's trend looks (`TREND_LOOK_COLUMNS`; empty when none yet)."""
    root = lake.lake_root(settings)
    days = lake.partition_dates(root, TREND_LOOKS)
    if not days:
        return SCHEMA.empty_table().to_pandas()
    table = lake.read_file(root, f"{lake.partition_dir(TREND_LOOKS, days[-1])}/{FILE_NAME}")
    return (table if table is not None else SCHEMA.empty_table()).to_pandas()


def latest_signature(settings: Settings) -> tuple | None:
    """What identifies the newest trend-looks file (its partition and modification time), so a
    reader re-reads only when a run wrote a new one; None when there is none."""
    import pyarrow.fs as pafs

    root = lake.lake_root(settings)
    days = lake.partition_dates(root, TREND_LOOKS)
    if not days:
        return None
    fs, base = lake.filesystem(root)
    info = fs.get_file_info(f"{base}/{lake.partition_dir(TREND_LOOKS, days[-1])}/{FILE_NAME}")
    if info.type == pafs.FileType.NotFound:
        return None
    return (days[-1], info.mtime_ns, info.size)


def trend_looks_for_feed(looks: pd.DataFrame) -> pd.DataFrame:
    """Trend looks as the feed's look table (`condition_tone`, `condition_undertone`, `look`,
    `look_id`, `product_id`, `trend_term`), look numbers from `FEED_LOOK_OFFSET` so they never
    share a number with the plain looks of the same condition."""
    columns = ["condition_tone", "condition_undertone", "look", "look_id", "product_id",
               "trend_term"]
    if looks is None or looks.empty:
        return pd.DataFrame(columns=columns)
    numbers = {look_id: FEED_LOOK_OFFSET + i for i, look_id in enumerate(
        pd.unique(looks["look_id"]))}
    return pd.DataFrame({
        "condition_tone": looks["skin_tone"].astype(int).to_numpy(),
        "condition_undertone": looks["undertone"].astype(str).to_numpy(),
        "look": looks["look_id"].map(numbers).to_numpy(),
        "look_id": looks["look_id"].to_numpy(),
        "product_id": looks["product_id"].to_numpy(),
        "trend_term": looks["term"].to_numpy(),
    })
