"""Trend looks (pure pandas/numpy): looks of the look GAN kept for the terms a forecast calls rising.

The loop of issue 19 is trend → look → feed. The look GAN is conditioned on the face only
(skin tone × undertone: `models.look_gan_pyfunc.REQUEST_COLUMNS` it is called with), so a look
is tied to a trend by **oversampling and keeping**: per face condition the champion generates
`oversample` looks (one `model.predict` call with its current input columns), every region is
matched to the current catalogue (`models.shoppable_looks.ProductMatcher`, nearest shade by ΔE00
within category and finish), and a look is kept for a rising term when one of its matched
products is of that shade family or finish. Per (term, condition) the `per_condition` looks with
the most regions of the term, then the smallest mean ΔE00, are kept. A term the GAN never makes
for a condition gets no look there (counted, not forced).

Functions, in the order the job calls them:

- `look_terms(rising)`: the rising and breakout shade families and finishes of a ranked list;
- `audience_shares(faces)`: share of consented people per (skin tone, undertone);
- `look_requests(conditions, oversample, seed)`: the GAN's input rows;
- `rematch(generated, matcher)`: the generated regions matched to the current catalogue;
- `select_trend_looks(...)`: the kept looks as `TREND_LOOK_COLUMNS` rows (one per look and region).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from glamcast.core.shades import lab_from_hex_array
from glamcast.core.trend_terms import FINISH, SHADE_FAMILY
from models.shoppable_looks import ProductMatcher
from models.trend_forecast import BREAKOUT, RISING

#: Term types a look can carry (a look is made of shades and finishes, not of hashtags or brands).
LOOK_TERM_TYPES = (SHADE_FAMILY, FINISH)
#: Classes a look is generated for.
LOOK_CLASSES = (BREAKOUT, RISING)
UNDERTONES = ("cool", "neutral", "warm")

#: Columns of a trend-looks table (the `trend_looks` lake dataset): one row per look and region.
TREND_LOOK_COLUMNS = (
    "look_id", "term", "term_type", "trend_class", "skin_tone", "undertone", "audience_share",
    "look_rank", "region", "category", "product_id", "brand", "name", "shade_hex", "finish",
    "intensity", "price", "delta_e", "product_family", "model_version", "run_id", "origin",
    "generated_at",
)


def look_terms(rising: pd.DataFrame, max_terms: int = 6) -> pd.DataFrame:
    """The rising and breakout shade families and finishes of a ranked list (`term_type`, `term`,
    `trend_class`; breakouts first, then in the list's order), at most `max_terms`."""
    if rising is None or rising.empty:
        return pd.DataFrame(columns=["term_type", "term", "trend_class"])
    chosen = rising[rising["term_type"].isin(LOOK_TERM_TYPES)
                    & rising["trend_class"].isin(LOOK_CLASSES)]
    order = chosen["trend_class"].map({BREAKOUT: 0, RISING: 1})
    chosen = chosen.assign(_order=order).sort_values("_order", kind="stable")
    return chosen[["term_type", "term", "trend_class"]].head(max_terms).reset_index(drop=True)


def audience_shares(faces: pd.DataFrame) -> pd.DataFrame:
    """Per (skin_tone, undertone) the share of consented people with that face among all
    consented people. `faces`: one row per person (`skin_tone` Monk 1..10, `undertone`); rows
    without both, or outside the scale, are not consented faces and are left out."""
    columns = ["skin_tone", "undertone", "audience_share"]
    if faces is None or faces.empty:
        return pd.DataFrame(columns=columns)
    tone = pd.to_numeric(faces["skin_tone"], errors="coerce")
    valid = tone.between(1, 10) & faces["undertone"].isin(UNDERTONES)
    known = pd.DataFrame({"skin_tone": tone[valid].astype(int),
                          "undertone": faces["undertone"][valid].astype(str)})
    if known.empty:
        return pd.DataFrame(columns=columns)
    counts = known.value_counts().rename("n").reset_index()
    counts["audience_share"] = counts["n"] / counts["n"].sum()
    return counts.sort_values(["skin_tone", "undertone"]).reset_index(drop=True)[columns]


def look_requests(conditions: pd.DataFrame, oversample: int, seed: int) -> pd.DataFrame:
    """The look GAN's input: one row per condition (`skin_tone`, `undertone`) asking for
    `oversample` looks with `seed` (the pyfunc's current input columns only)."""
    return pd.DataFrame({
        "skin_tone": conditions["skin_tone"].astype(int).to_numpy(),
        "undertone": conditions["undertone"].astype(str).to_numpy(),
        "n": int(oversample), "seed": int(seed),
    })


def rematch(generated: pd.DataFrame, matcher: ProductMatcher) -> pd.DataFrame:
    """The generated regions (pyfunc output: `category`, `finish`, `shade_hex` per look and
    region) matched again to `matcher`'s catalogue: `product_id`, `brand`, `name`, `price`,
    `product_hex`, `product_family`, `delta_e` replaced (None where the catalogue has no product
    of the category). The model's own match is against the catalogue it was trained with."""
    out = generated.reset_index(drop=True).copy()
    rows = np.full(len(out), -1)
    delta = np.full(len(out), np.nan)
    keys = out[["category", "finish"]].astype(str)
    for (category, finish), index in keys.groupby(["category", "finish"], sort=False).indices.items():
        found, distance, _ = matcher.nearest(category, finish,
                                             lab_from_hex_array(out["shade_hex"].iloc[index]))
        rows[index], delta[index] = found, distance
    known = rows >= 0
    picked = matcher.products.iloc[np.where(known, rows, 0)].reset_index(drop=True)
    for name, source in (("product_id", "product_id"), ("brand", "brand"), ("name", "name"),
                         ("price", "price"), ("product_hex", "shade_hex")):
        values = picked[source].to_numpy(dtype=object).copy()
        values[~known] = None
        out[name] = values
    families = matcher.family[np.where(known, rows, 0)].astype(object)
    families[~known] = None
    out["product_family"] = families
    out["delta_e"] = np.round(delta, 2)
    return out


def select_trend_looks(
    generated: pd.DataFrame,
    requests: pd.DataFrame,
    terms: pd.DataFrame,
    audience: pd.DataFrame,
    *,
    per_condition: int,
    model_version: int,
    run_id: str | None = None,
    origin: str | None = None,
    generated_at: str | None = None,
    finish_of_product: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Looks kept per rising term and face condition (`TREND_LOOK_COLUMNS`).

    `generated`: the look GAN's output for `requests` (`request`, `look`, `region`, `category`,
    `finish`, `intensity`, `shade_hex` and the matched product columns, see `rematch`); `terms`:
    `look_terms`; `audience`: `audience_shares`. A look is kept for a shade family when one of its
    matched products is of that family, for a finish when one of them has that finish (the
    product's own finish from `finish_of_product` when given, else the region's). Looks with a
    region the catalogue could not match are never kept. `look_id` is
    ``trend-v<version>-<term>-t<tone>-<undertone>-<rank>``, unique and stable for a run;
    `shade_hex` is the matched product's shade and `delta_e` its ΔE00 to the generated one."""
    if generated.empty or terms.empty:
        return pd.DataFrame(columns=list(TREND_LOOK_COLUMNS))
    frame = generated.copy()
    if "product_hex" in frame:  # the product's own shade: what is sold and what the SDK renders
        frame["shade_hex"] = frame["product_hex"].where(frame["product_hex"].notna(),
                                                        frame["shade_hex"])
    frame["skin_tone"] = requests["skin_tone"].to_numpy()[frame["request"].to_numpy()]
    frame["undertone"] = requests["undertone"].to_numpy()[frame["request"].to_numpy()]
    if finish_of_product:
        product_finish = frame["product_id"].map(finish_of_product)
        frame["finish"] = product_finish.where(product_finish.notna(), frame["finish"])
    whole = frame.groupby(["request", "look"])["product_id"].transform(lambda ids: ids.notna().all())
    frame = frame[whole.astype(bool)]
    shares = {(int(t), str(u)): float(s) for t, u, s in audience[
        ["skin_tone", "undertone", "audience_share"]].itertuples(index=False)}
    kept = []
    for term_type, term, trend_class in terms[["term_type", "term", "trend_class"]].itertuples(
            index=False):
        column = "product_family" if term_type == SHADE_FAMILY else "finish"
        hits = frame.assign(_hit=(frame[column] == term).astype(int))
        per_look = hits.groupby(["request", "look"]).agg(
            hits=("_hit", "sum"), delta=("delta_e", "mean"),
            skin_tone=("skin_tone", "first"), undertone=("undertone", "first")).reset_index()
        per_look = per_look[per_look["hits"] > 0].sort_values(
            ["request", "hits", "delta", "look"], ascending=[True, False, True, True])
        best = per_look.groupby("request").head(per_condition)
        best = best.assign(look_rank=best.groupby("request").cumcount())
        if best.empty:
            continue
        rows = hits.merge(best[["request", "look", "look_rank"]], on=["request", "look"])
        slug = str(term).replace(" ", "_")
        rows = rows.assign(
            term=term, term_type=term_type, trend_class=trend_class,
            look_id=[f"trend-v{model_version}-{slug}-t{int(t)}-{u}-{int(r)}" for t, u, r in zip(
                rows["skin_tone"], rows["undertone"], rows["look_rank"], strict=True)],
            audience_share=[shares.get((int(t), str(u)), 0.0) for t, u in zip(
                rows["skin_tone"], rows["undertone"], strict=True)],
        )
        kept.append(rows)
    if not kept:
        return pd.DataFrame(columns=list(TREND_LOOK_COLUMNS))
    out = pd.concat(kept, ignore_index=True).assign(
        model_version=int(model_version), run_id=run_id, origin=origin, generated_at=generated_at)
    for name in TREND_LOOK_COLUMNS:
        if name not in out.columns:
            out[name] = None
    out["skin_tone"] = out["skin_tone"].astype(int)
    out["look_rank"] = out["look_rank"].astype(int)
    return out.sort_values(["term", "skin_tone", "undertone", "look_rank", "region"],
                           kind="stable").reset_index(drop=True)[list(TREND_LOOK_COLUMNS)]


def trend_look_conditions(audience: pd.DataFrame, min_share: float = 0.0) -> pd.DataFrame:
    """The face conditions looks are generated for: those of consented people (share above
    `min_share`); every condition when nobody consented yet."""
    if audience is None or audience.empty:
        return pd.DataFrame([(tone, undertone) for tone in range(1, 11) for undertone in UNDERTONES],
                            columns=["skin_tone", "undertone"])
    chosen = audience[audience["audience_share"] > min_share]
    return chosen[["skin_tone", "undertone"]].reset_index(drop=True)


def regions_in_face_order(products: Sequence[dict]) -> list[dict]:
    """A look's products in face order (lips, eyes, cheeks, brows), the contract's order."""
    from models.look_space import REGIONS

    order = {region: i for i, region in enumerate(REGIONS)}
    return sorted(products, key=lambda entry: order.get(entry.get("region"), len(order)))
