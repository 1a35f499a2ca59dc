"""Window aggregates of try-on events (pure pandas): the definitions of the per-user and
per-product features in `glamcast.core.features`, computed from all events at once.

The stream stage (`streams/features.py`) keeps the same values incrementally; the unit tests hold
both to each other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from glamcast.core.features import (
    ACTION_KINDS,
    CATEGORIES,
    CATEGORY_KINDS,
    EVENT_COLUMNS,
    LONGEST_WINDOW,
    PRODUCT_FEATURES,
    PRODUCT_WINDOWS,
    USER_FEATURES,
    USER_WINDOWS,
    pandas_dtype,
)
from glamcast.core.names import EVENT_TIMESTAMP_COL, PRODUCT_COL, USER_COL
from glamcast.core.shades import shade_families_from_hex_array


def _require(events: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [name for name in columns if name not in events.columns]
    if missing:
        raise KeyError(f"try-on events lack column(s) {missing}")


# --- window aggregates (pure) --------------------------------------------------------------------


def _anchored(events: pd.DataFrame, key: str) -> tuple[pd.DataFrame, pd.Series]:
    """Events within the longest window of their key's latest event, with `age` = T - ts."""
    latest = events.groupby(key, sort=True)["ts"].max()
    frame = events.assign(_anchor=events[key].map(latest))
    frame["_age"] = frame["_anchor"] - frame["ts"]
    return frame[frame["_age"] < LONGEST_WINDOW], latest


def _mode(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Most frequent value of `column` per key, ties to the alphabetically first."""
    counts = frame.groupby([key, column], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[column]


def _count(frame: pd.DataFrame, key: str, mask: np.ndarray, index: pd.Index) -> pd.Series:
    return frame.loc[mask].groupby(key).size().reindex(index, fill_value=0).astype("int64")


def user_activity_features(events: pd.DataFrame) -> pd.DataFrame:
    """Try-on events (lake columns, `EVENT_COLUMNS`) → one feature row per user, as of the user's
    latest event: ``user_id, event_timestamp`` and `USER_FEATURES` (see the module docstring)."""
    _require(events, EVENT_COLUMNS)
    columns = [USER_COL, EVENT_TIMESTAMP_COL, *USER_FEATURES]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=pandas_dtype(name)) for name in columns})
    events = events.drop_duplicates("event_id")
    frame, latest = _anchored(events, USER_COL)
    index = latest.index
    out = pd.DataFrame(index=index)
    out[EVENT_TIMESTAMP_COL] = latest
    action = frame["action"].to_numpy()
    age = frame["_age"].to_numpy()
    for suffix, length in USER_WINDOWS:
        inside = age < np.timedelta64(length)
        for kind, actions in ACTION_KINDS:
            out[f"{kind}_{suffix}"] = _count(
                frame, USER_COL, inside & np.isin(action, list(actions)), index
            )
    category = frame["category"].to_numpy()
    kinds = dict(ACTION_KINDS)
    for kind in CATEGORY_KINDS:
        of_kind = np.isin(action, list(kinds[kind]))
        for name in CATEGORIES:
            out[f"{kind}_7d_{name}"] = _count(frame, USER_COL, of_kind & (category == name), index)
    out["events_7d"] = frame.groupby(USER_COL).size().reindex(index, fill_value=0).astype("int64")
    families = frame.assign(_family=shade_families_from_hex_array(frame["shade_hex"].to_numpy()))
    out["fav_shade_family_7d"] = _mode(families, USER_COL, "_family").reindex(index)
    out["fav_finish_7d"] = _mode(frame, USER_COL, "finish").reindex(index)
    out["mean_dwell_ms_7d"] = (
        frame.groupby(USER_COL)["dwell_ms"].mean().reindex(index).astype("float64")
    )
    faces = frame[frame["face_skin_tone"].notna()].sort_values(["ts", "event_id"])
    last_face = faces.drop_duplicates(USER_COL, keep="last").set_index(USER_COL)
    out["skin_tone"] = last_face["face_skin_tone"].reindex(index).astype("Int64")
    out["undertone"] = last_face["face_undertone"].reindex(index).astype(object)
    out["last_event_ms"] = (latest.astype("datetime64[us, UTC]").astype("int64") // 1000).astype(
        "int64"
    )
    return out.rename_axis(USER_COL).reset_index()[columns]


def product_popularity_features(events: pd.DataFrame) -> pd.DataFrame:
    """Try-on events → one row per product, as of the product's latest event:
    ``product_id, event_timestamp`` and `PRODUCT_FEATURES`."""
    _require(events, EVENT_COLUMNS)
    columns = [PRODUCT_COL, EVENT_TIMESTAMP_COL, *PRODUCT_FEATURES]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=pandas_dtype(name)) for name in columns})
    events = events.drop_duplicates("event_id")
    frame, latest = _anchored(events, PRODUCT_COL)
    index = latest.index
    out = pd.DataFrame(index=index)
    out[EVENT_TIMESTAMP_COL] = latest
    action = frame["action"].to_numpy()
    age = frame["_age"].to_numpy()
    for suffix, length in PRODUCT_WINDOWS:
        inside = age < np.timedelta64(length)
        for kind, actions in ACTION_KINDS:
            out[f"product_{kind}_{suffix}"] = _count(
                frame, PRODUCT_COL, inside & np.isin(action, list(actions)), index
            )
    tries = out["product_tries_7d"].to_numpy()
    out["product_conversion_7d"] = np.where(
        tries > 0, out["product_purchases_7d"].to_numpy() / np.maximum(tries, 1), 0.0
    )
    return out.rename_axis(PRODUCT_COL).reset_index()[columns]


