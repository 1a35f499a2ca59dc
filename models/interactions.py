"""Implicit-feedback interactions: one row per (user, item) from raw events, and the splits.

In: an event table (try-on actions from the lake, REES46 shop events, or MovieLens ratings), one
row per event with user, item, action, time and optionally dwell. Out: one row per (user, item)
pair with

- ``weight``: the sum of the action weights (try_on < like/save/share < add_to_cart < purchase;
  dwell on a try-on adds up to `dwell_cap`; dismiss subtracts),
- ``strength``: sign(weight) · log(1 + |weight| / epsilon) — the damped signal,
- ``confidence``: 1 + alpha · |strength| — how sure we are of the preference, as in
  implicit-feedback ALS (Hu, Koren & Volinsky 2008, their logarithmic variant),
- ``preference``: 1 where the net weight is positive, else 0 (a dismissed item is a known miss),
- ``events``, ``first_ts``, ``last_ts``.

Spark's ALS with ``implicitPrefs=True`` computes 1 + alpha·|r| and the preference r > 0 from the
rating it is given, so it is given ``strength``; the torch model trains on the positive pairs
weighted by ``confidence``. The same builder serves every source: only the weight table changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from glamcast.core.events import Action, CommerceEventType
from glamcast.core.names import EVENTS_COL, PRODUCT_COL, USER_COL

ACTION_COL = "action"
TIME_COL = "ts"
DWELL_COL = "dwell_ms"
RATING_COL = "rating"
WEIGHT_COL = "weight"
STRENGTH_COL = "strength"
CONFIDENCE_COL = "confidence"
PREFERENCE_COL = "preference"
FIRST_TS_COL = "first_ts"
LAST_TS_COL = "last_ts"
#: The action MovieLens ratings are read as: every rating is one interaction.
RATED = "rated"

#: Weight of each try-on action; dwell adds to try_on and shade_swap (`InteractionWeights`).
TRYON_ACTION_WEIGHTS: dict[str, float] = {
    Action.TRY_ON.value: 1.0,
    Action.SHADE_SWAP.value: 0.5,
    Action.LIKE.value: 3.0,
    Action.SAVE.value: 3.0,
    Action.SHARE.value: 3.0,
    Action.ADD_TO_CART.value: 6.0,
    Action.PURCHASE.value: 10.0,
    Action.DISMISS.value: -4.0,
}
#: Weight of each REES46 shop event type.
COMMERCE_EVENT_WEIGHTS: dict[str, float] = {
    CommerceEventType.VIEW.value: 1.0,
    CommerceEventType.CART.value: 6.0,
    CommerceEventType.REMOVE_FROM_CART.value: -3.0,
    CommerceEventType.PURCHASE.value: 10.0,
}


@dataclass(frozen=True)
class InteractionWeights:
    """How events turn into an interaction's weight and confidence."""

    actions: Mapping[str, float] = field(default_factory=lambda: dict(TRYON_ACTION_WEIGHTS))
    # actions whose dwell counts: the views (reaction rows repeat the view's dwell)
    dwell_actions: tuple[str, ...] = (Action.TRY_ON.value, Action.SHADE_SWAP.value)
    dwell_unit_ms: float = 10_000.0  # each 10 s on screen adds one weight unit ...
    dwell_cap: float = 2.0  # ... up to two per event
    epsilon: float = 1.0  # strength = log(1 + |weight| / epsilon)
    alpha: float = 4.0  # confidence = 1 + alpha · |strength|


#: Weights for sources with one kind of event and no dwell (MovieLens ratings).
RATING_WEIGHTS = InteractionWeights(actions={RATED: 1.0}, dwell_actions=())
COMMERCE_WEIGHTS = InteractionWeights(actions=dict(COMMERCE_EVENT_WEIGHTS), dwell_actions=())


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}")


def event_weights(
    events: pd.DataFrame,
    weights: InteractionWeights,
    *,
    action_col: str = ACTION_COL,
    dwell_col: str | None = DWELL_COL,
) -> np.ndarray:
    """(events,) weight of each event: its action's weight plus capped dwell on views."""
    _require(events, [action_col], "events")
    base = events[action_col].map(weights.actions)
    unknown = sorted(events.loc[base.isna(), action_col].astype(str).unique())
    if unknown:
        raise ValueError(f"no weight for action(s) {unknown}; known: {sorted(weights.actions)}")
    values = base.to_numpy(dtype=np.float64)
    if dwell_col is not None and dwell_col in events.columns and weights.dwell_actions:
        dwell = events[dwell_col].fillna(0).to_numpy(dtype=np.float64)
        bonus = np.minimum(np.maximum(dwell, 0.0) / weights.dwell_unit_ms, weights.dwell_cap)
        values = values + np.where(events[action_col].isin(weights.dwell_actions), bonus, 0.0)
    return values


def build_interactions(
    events: pd.DataFrame,
    weights: InteractionWeights = InteractionWeights(),
    *,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
    action_col: str = ACTION_COL,
    time_col: str = TIME_COL,
    dwell_col: str | None = DWELL_COL,
) -> pd.DataFrame:
    """Events → one row per (user, item): weight, strength, confidence, preference, events,
    first_ts, last_ts (sorted by user, then item)."""
    _require(events, [user_col, item_col, action_col, time_col], "events")
    columns = [user_col, item_col, WEIGHT_COL, STRENGTH_COL, CONFIDENCE_COL, PREFERENCE_COL,
               EVENTS_COL, FIRST_TS_COL, LAST_TS_COL]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=events[name].dtype if name in events else float)
                             for name in columns})
    frame = pd.DataFrame({
        user_col: events[user_col].to_numpy(),
        item_col: events[item_col].to_numpy(),
        WEIGHT_COL: event_weights(events, weights, action_col=action_col, dwell_col=dwell_col),
        time_col: events[time_col].to_numpy(),
    })
    pairs = frame.groupby([user_col, item_col], sort=True, observed=True).agg(
        **{WEIGHT_COL: (WEIGHT_COL, "sum"), EVENTS_COL: (WEIGHT_COL, "size"),
           FIRST_TS_COL: (time_col, "min"), LAST_TS_COL: (time_col, "max")}
    ).reset_index()
    weight = pairs[WEIGHT_COL].to_numpy()
    strength = np.sign(weight) * np.log1p(np.abs(weight) / weights.epsilon)
    pairs[STRENGTH_COL] = strength
    pairs[CONFIDENCE_COL] = 1.0 + weights.alpha * np.abs(strength)
    pairs[PREFERENCE_COL] = (weight > 0).astype(np.int8)
    return pairs[columns]


def tryon_interactions(events: pd.DataFrame, weights: InteractionWeights = InteractionWeights()
                       ) -> pd.DataFrame:
    """Interactions from lake `tryon` rows (user_id, product_id, action, dwell_ms, ts)."""
    return build_interactions(events, weights)


def commerce_interactions(events: pd.DataFrame, weights: InteractionWeights = COMMERCE_WEIGHTS
                          ) -> pd.DataFrame:
    """Interactions from REES46 / lake `commerce` rows (event_type is the action)."""
    _require(events, ["event_type"], "commerce events")
    time_col = TIME_COL if TIME_COL in events.columns else "event_time"
    return build_interactions(events, weights, action_col="event_type", time_col=time_col,
                              dwell_col=None)


def rating_interactions(ratings: pd.DataFrame) -> pd.DataFrame:
    """Interactions from explicit ratings (MovieLens): every rating is one interaction."""
    return build_interactions(ratings.assign(**{ACTION_COL: RATED}), RATING_WEIGHTS,
                              dwell_col=None)


def read_movielens_100k(directory: Path) -> pd.DataFrame:
    """``u.data`` of MovieLens-100k → user_id, product_id (str), rating, ts (UTC)."""
    path = Path(directory) / "u.data"
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens-100k not found: {path} (set GLAMCAST_DATA_DIR)")
    raw = pd.read_csv(path, sep="\t", names=["user", "item", RATING_COL, "unix"],
                      dtype={"user": str, "item": str, RATING_COL: np.float64, "unix": np.int64})
    return pd.DataFrame({
        USER_COL: raw["user"], PRODUCT_COL: raw["item"], RATING_COL: raw[RATING_COL],
        TIME_COL: pd.to_datetime(raw["unix"], unit="s", utc=True),
    })


# --- splits ------------------------------------------------------------------------------------


def stratified_split(
    frame: pd.DataFrame, ratio: float = 0.75, seed: int = 42, *, user_col: str = USER_COL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random split: round(ratio · n) of each user's rows train, the rest test.

    The protocol of Microsoft Recommenders' `python_stratified_split` (the MovieLens benchmark
    table): every user keeps the same share in both parts. Rows keep their columns and order.
    """
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must lie in (0, 1), got {ratio}")
    _require(frame, [user_col], "frame")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(frame))
    users = frame[user_col].to_numpy()[shuffled]
    order = pd.Series(users).groupby(users, sort=False).cumcount().to_numpy()
    sizes = pd.Series(users).map(pd.Series(users).value_counts()).to_numpy()
    in_train = np.empty(len(frame), dtype=bool)
    in_train[shuffled] = order < np.round(ratio * sizes)
    return frame[in_train], frame[~in_train]


@dataclass(frozen=True)
class TimeHoldout:
    """A time-based holdout: events before `cutoff` train, events from it on test."""

    train_events: pd.DataFrame
    test_events: pd.DataFrame
    cutoff: pd.Timestamp


def time_holdout(
    events: pd.DataFrame,
    *,
    cutoff: pd.Timestamp | None = None,
    test_fraction: float = 0.2,
    time_col: str = TIME_COL,
) -> TimeHoldout:
    """Split events at `cutoff`, or where the last `test_fraction` of the time span begins."""
    _require(events, [time_col], "events")
    if events.empty:
        raise ValueError("no events to split")
    if cutoff is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        first, last = events[time_col].min(), events[time_col].max()
        cutoff = first + (last - first) * (1.0 - test_fraction)
    before = (events[time_col] < cutoff).to_numpy()
    return TimeHoldout(events[before], events[~before], pd.Timestamp(cutoff))


def holdout_truth(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    user_col: str = USER_COL,
    item_col: str = PRODUCT_COL,
) -> pd.DataFrame:
    """The relevant (user, item) pairs of a holdout: test interactions with preference 1, of
    users known in training, on items the user did not interact with in training (those are
    excluded from every ranking, so they could never be hits)."""
    _require(test, [user_col, item_col], "test")
    positive = test[test[PREFERENCE_COL] == 1] if PREFERENCE_COL in test.columns else test
    known = positive[positive[user_col].isin(train[user_col].unique())]
    seen = train[[user_col, item_col]].drop_duplicates().assign(_seen=True)
    merged = known[[user_col, item_col]].drop_duplicates().merge(
        seen, on=[user_col, item_col], how="left")
    return merged.loc[merged["_seen"].isna(), [user_col, item_col]].reset_index(drop=True)


# --- side attributes ---------------------------------------------------------------------------

#: Item attributes the torch model can use, read from the try-on events themselves.
ITEM_ATTRIBUTES = ("category", "finish", "shade_family")
#: User attributes (consented face attributes) the torch model can use.
USER_ATTRIBUTES = ("face_skin_tone", "face_undertone")


def add_shade_family(events: pd.DataFrame, *, hex_col: str = "shade_hex") -> pd.DataFrame:
    """`events` with a ``shade_family`` column (CIELAB family of ``shade_hex``)."""
    from glamcast.core.shades import shade_families_from_hex_array

    if hex_col not in events.columns or "shade_family" in events.columns:
        return events
    hexes = events[hex_col]
    families = np.full(len(events), None, dtype=object)
    known = hexes.notna().to_numpy()
    if known.any():
        # one CIELAB conversion per distinct shade, not per event
        unique = pd.unique(hexes[known])
        lookup = dict(zip(unique, shade_families_from_hex_array(unique), strict=True))
        families[known] = hexes[known].map(lookup).to_numpy()
    return events.assign(shade_family=families)


def attribute_table(events: pd.DataFrame, key_col: str, columns: Sequence[str]) -> pd.DataFrame:
    """One row per key: the most frequent non-null value of each present column (None if never
    seen). Columns missing from `events` are left out."""
    present = [column for column in columns if column in events.columns]
    keys = pd.Index(events[key_col].astype(str).unique(), name=key_col)
    table = pd.DataFrame(index=keys)
    for column in present:
        known = events.loc[events[column].notna(), [key_col, column]]
        if known.empty:
            table[column] = None
            continue
        counts = known.groupby([known[key_col].astype(str), column], observed=True).size()
        best = counts.reset_index(name="n").sort_values(
            [key_col, "n", column], ascending=[True, False, True]).drop_duplicates(key_col)
        table[column] = best.set_index(key_col)[column].reindex(keys).astype(object)
    return table


def encode_attributes(table: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, list[list]]:
    """(len(keys), columns) int codes aligned with `keys` (−1: unknown) and each column's
    vocabulary (code → value)."""
    aligned = table.reindex(pd.Index([str(key) for key in keys]))
    codes = np.full((len(aligned), len(aligned.columns)), -1, dtype=np.int64)
    vocabularies = []
    for position, column in enumerate(aligned.columns):
        values = aligned[column]
        vocabulary = sorted(values.dropna().unique().tolist(), key=str)
        lookup = {value: code for code, value in enumerate(vocabulary)}
        codes[:, position] = values.map(lookup).fillna(-1).to_numpy(dtype=np.int64)
        vocabularies.append(vocabulary)
    return codes, vocabularies


#: Item attributes from the catalogue (lake dataset `catalog`), when the lake has it.
CATALOG_ATTRIBUTES = ("brand", "price_band")
#: Price bands per category (quantiles): cheap .. premium.
PRICE_BANDS = 5


def catalog_attributes(catalog: pd.DataFrame, *, item_col: str = PRODUCT_COL) -> pd.DataFrame:
    """Catalogue rows (product_id, brand, category, price; the latest row per product wins) →
    one row per product: ``brand`` and ``price_band`` (0 = cheapest fifth of its category)."""
    _require(catalog, [item_col, "brand", "category", "price"], "catalog")
    latest = catalog.drop_duplicates(item_col, keep="last").copy()
    latest[item_col] = latest[item_col].astype(str)
    ranks = latest.groupby("category")["price"].rank(method="first", pct=True)
    latest["price_band"] = np.clip(np.ceil(ranks * PRICE_BANDS).astype(int) - 1, 0, PRICE_BANDS - 1)
    return latest.set_index(item_col)[list(CATALOG_ATTRIBUTES)]
