"""Looks as products and as tutorials: `POST /v1/looks/match`, `GET /v1/looks/{look_id}/tutorial`.

- `POST /v1/looks/match`: a look as JSON (one item per region: `region`, a shade as `shade_hex`
  or CIELAB `lab`, `finish`, `intensity`, optionally `category`) → per region the `k` nearest
  real catalogue products by CIEDE2000 (`models.shoppable_looks.ProductMatcher`'s colour table:
  same category and finish first; the nearest of any finish when the catalogue has none, flagged
  `finish_matched: false`), with brand, name, shade, finish, price and `delta_e`; and the look's
  tutorial steps with the best products. What the mirror asks after extracting a look from a
  reference photo on the device (static/sdk/transfer.js): only the look's numbers travel, never
  the photo. Scope: `ingest` (the key the mirror page embeds; rate-limited like the gateway),
  `service`, `admin`: the answer is public catalogue data, nothing about a person.
- `GET /v1/looks/{look_id}/tutorial`: the steps of a known look (`models.look_tutorial`), in
  application order. Look ids: the curated looks of the lake dataset `looks`, the looks the feed
  engine generated with the champion look GAN (`look-v…`, as in the feed), and the trend looks
  of `/v1/trend-looks` (`trend-v…`, when glamcast.serving.trends keeps any). Unknown → 404 with a
  message naming the sources. Scope: `ingest`, `service`, `marketing`, `admin` (the mirror and
  the dashboard read it).

Hostile input never gives a 5xx: every field is bounded and typed (pydantic, `extra="forbid"`),
so a malformed look is a 422 naming the field.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from glamcast.core.names import LOOK_ID_COL, LOOKS
from glamcast.core.settings import Settings
from glamcast.core.shades import delta_e_2000, hex_from_rgb, hex_to_lab, rgb_from_lab
from glamcast.platform import lake
from glamcast.serving.mirror import CatalogCache
from models.look_space import FINISHES, REGION_CATEGORIES, REGIONS
from models.look_tutorial import DEFAULT_CATEGORY, tutorial_steps
from models.shoppable_looks import ProductMatcher

log = logging.getLogger(__name__)

MAX_MATCHES = 5
#: Intensity of a generated look's products in its tutorial (the feed keeps only the products;
#: the mirror draws feed looks at this intensity too: static/mirror/page.js `INTENSITY`).
FEED_LOOK_INTENSITY = 0.9
CURATED_TTL_S = 60.0
HEX_PATTERN = r"^#[0-9A-Fa-f]{6}$"

Region = Literal["lips", "eyes", "cheeks", "brows"]
FinishName = Literal["matte", "satin", "gloss", "shimmer", "metallic"]
assert set(FinishName.__args__) == set(FINISHES) and set(Region.__args__) == set(REGIONS)  # type: ignore[attr-defined]


class LookItem(BaseModel):
    """One region of a look: its shade (`shade_hex`, or `lab` = [L*, a*, b*]), finish, intensity
    and, optionally, the product category (else every category the region may use)."""

    model_config = ConfigDict(extra="forbid")

    region: Region
    shade_hex: str | None = Field(None, pattern=HEX_PATTERN)
    lab: tuple[Annotated[float, Field(ge=0, le=100)], Annotated[float, Field(ge=-128, le=128)],
               Annotated[float, Field(ge=-128, le=128)]] | None = None
    finish: FinishName = "matte"
    intensity: float = Field(1.0, ge=0.0, le=1.0)
    category: str | None = Field(None, max_length=32)

    @model_validator(mode="after")
    def _one_shade(self) -> LookItem:
        if (self.shade_hex is None) == (self.lab is None):
            raise ValueError("give the shade as exactly one of `shade_hex` or `lab`")
        if self.category is not None and self.category not in REGION_CATEGORIES[self.region]:
            raise ValueError(f"region {self.region} takes categories {REGION_CATEGORIES[self.region]}")
        return self

    def shade_lab(self) -> np.ndarray:
        return np.asarray(self.lab if self.lab is not None else hex_to_lab(self.shade_hex or ""), float)


class LookToMatch(BaseModel):
    """A look: one item per region (at most the four regions, each once)."""

    model_config = ConfigDict(extra="forbid")

    items: list[LookItem] = Field(min_length=1, max_length=len(REGIONS))
    k: int = Field(3, ge=1, le=MAX_MATCHES, description="Products per region.")

    @model_validator(mode="after")
    def _regions_once(self) -> LookToMatch:
        regions = [item.region for item in self.items]
        if len(set(regions)) != len(regions):
            raise ValueError("each region at most once")
        return self


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return value.item() if hasattr(value, "item") else value


PRODUCT_FIELDS = ("product_id", "brand", "name", "category", "shade_hex", "finish", "price")


def nearest_products(matcher: ProductMatcher, item: LookItem, k: int) -> tuple[list[dict[str, Any]], bool]:
    """The `k` products nearest to the item's shade (CIEDE2000) among its category (or its
    region's categories), of its finish when the catalogue has one; and whether the finish matched."""
    categories = [item.category] if item.category else list(REGION_CATEGORIES[item.region])
    in_category = np.isin(matcher.products["category"].to_numpy(dtype=object), categories)
    same_finish = in_category & (matcher.products["finish"].to_numpy(dtype=object) == item.finish)
    finish_matched = bool(same_finish.any())
    candidates = np.flatnonzero(same_finish if finish_matched else in_category)
    if candidates.size == 0:
        return [], False
    distance = delta_e_2000(item.shade_lab()[None, :], matcher.lab[candidates])  # (candidates,)
    order = np.argsort(distance, kind="stable")[:k]
    found = []
    for position in order:
        row = matcher.products.iloc[int(candidates[position])]
        product = {name: _plain(row.get(name)) for name in PRODUCT_FIELDS}
        product["delta_e"] = round(float(distance[position]), 2)
        found.append(product)
    return found, finish_matched


def matcher_of(catalog: pd.DataFrame) -> ProductMatcher | None:
    """A ProductMatcher over a catalogue frame; None for an empty catalogue."""
    if catalog.empty or "category" not in catalog:
        return None
    return ProductMatcher(catalog.reset_index(drop=True))


def match_look(catalog: pd.DataFrame | ProductMatcher | None, look: LookToMatch) -> dict[str, Any]:
    """The answer of `POST /v1/looks/match` for a catalogue frame (or its matcher)."""
    matcher = catalog if isinstance(catalog, ProductMatcher) or catalog is None else matcher_of(catalog)
    regions = []
    for item in sorted(look.items, key=lambda i: REGIONS.index(i.region)):
        products, finish_matched = nearest_products(matcher, item, look.k) if matcher else ([], False)
        regions.append({"region": item.region,
                        "asked": {"shade_hex": item.shade_hex or hex_from_rgb(rgb_from_lab(item.shade_lab()[None, :]))[0],
                                  "lab": [round(float(v), 2) for v in item.shade_lab()],
                                  "finish": item.finish, "intensity": item.intensity},
                        "finish_matched": finish_matched, "products": products})
    best = []
    for item, region in zip(sorted(look.items, key=lambda i: REGIONS.index(i.region)), regions, strict=True):
        top = region["products"][0] if region["products"] else {}
        best.append({**top, "region": item.region, "intensity": item.intensity,
                     "category": top.get("category") or item.category or DEFAULT_CATEGORY[item.region],
                     "finish": top.get("finish") or item.finish,
                     "shade_hex": top.get("shade_hex") or region["asked"]["shade_hex"]})
    note = None if matcher else "The catalogue is empty: no products to match yet."
    return {"regions": regions, "tutorial": tutorial_steps(best), "note": note}


# --- looks by id ----------------------------------------------------------------------------------


class CuratedLooks:
    """The lake's curated looks (dataset `looks`), re-read at most every CURATED_TTL_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read_at = -CURATED_TTL_S
        self._frame = pd.DataFrame({LOOK_ID_COL: pd.Series(dtype=object)})

    def get(self, settings: Settings) -> pd.DataFrame:
        with self._lock:
            if time.monotonic() - self._read_at >= CURATED_TTL_S:
                try:
                    frame = lake.read_dataset(settings, LOOKS)
                except (FileNotFoundError, lake.LakeError):
                    frame = pd.DataFrame()
                self._frame = frame if LOOK_ID_COL in frame else pd.DataFrame(
                    {LOOK_ID_COL: pd.Series(dtype=object)})
                self._read_at = time.monotonic()
            return self._frame


def _state(request: Request, name: str, kind: type) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        value = kind()
        setattr(request.app.state, name, value)
    return value


def catalog_of(request: Request) -> pd.DataFrame:
    """The lake's catalogue indexed by product_id (the app's cache, shared with /v1/products)."""
    cache = _state(request, "mirror_catalog", CatalogCache)  # shared with /v1/products
    return cache.get(request.app.state.settings)


def product_items(catalog: pd.DataFrame, product_ids: list[str], intensity: float) -> list[dict[str, Any]]:
    """Look items (region, product fields, `intensity`) of the catalogue products among
    `product_ids` whose category a region draws; unknown ids are left out."""
    region_of = {category: region for region, categories in REGION_CATEGORIES.items()
                 for category in categories}
    region_of.update({"lip_liner": "lips", "mascara": "eyes"})
    items = []
    for product_id in product_ids:
        if product_id not in catalog.index:
            continue
        row = catalog.loc[product_id]
        row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
        region = region_of.get(row.get("category"))
        if region is None:
            continue
        items.append({"region": region, "intensity": intensity,
                      **{name: _plain(row.get(name)) for name in PRODUCT_FIELDS}})
    return items


def look_items(request: Request, look_id: str) -> tuple[str, list[dict[str, Any]]] | None:
    """(source, items) of a known look id, or None."""
    settings: Settings = request.app.state.settings
    curated = _state(request, "curated_looks", CuratedLooks).get(settings)
    rows = curated[curated[LOOK_ID_COL] == look_id]
    if not rows.empty:
        items = [{name: _plain(row.get(name)) for name in (*PRODUCT_FIELDS, "region", "intensity")}
                 for row in rows.to_dict("records")]
        return "curated", items
    for look in trend_look_items(request):  # before the feed's: the feed carries them too
        if look.get("look_id") == look_id:
            return "trend", list(look.get("products") or [])
    engine = getattr(request.app.state, "feed_engine", None)
    snapshot = getattr(engine, "snapshot", None)
    looks = getattr(snapshot, "looks", None)
    if looks is not None and len(looks.look_ids):
        hits = np.flatnonzero(looks.look_ids == look_id)
        if hits.size:
            ids = [str(snapshot.item_ids[i]) for i in looks.products[int(hits[0])]]
            return "generated", product_items(catalog_of(request), ids, FEED_LOOK_INTENSITY)
    return None


def trend_look_items(request: Request) -> list[dict[str, Any]]:
    """The trend looks of the newest forecast run, as `/v1/trend-looks` answers them
    (glamcast.serving.trends: the same store); [] when there are none."""
    from glamcast.serving.trends import trend_look_store

    return [look.model_dump(mode="json") for look in trend_look_store(request).answer().looks]


# --- routes ---------------------------------------------------------------------------------------

match_router = APIRouter(tags=["looks"])
tutorial_router = APIRouter(tags=["looks"])


@match_router.post("/v1/looks/match", summary="Nearest real products for a look (CIEDE2000, price)")
def match(request: Request, look: LookToMatch) -> dict[str, Any]:
    """Per region of the look, the `k` nearest catalogue products by CIEDE2000 within its
    category (of its finish when there is one), with brand, name, shade, finish and price; and
    the look's tutorial with the best products. Only numbers are sent: a transferred look is
    extracted from its photo on the device."""
    catalog = catalog_of(request)
    cached = getattr(request.app.state, "look_matcher", None)
    if cached is None or cached[0] is not catalog:  # the catalogue cache read a new frame
        cached = request.app.state.look_matcher = (catalog, matcher_of(catalog))
    return match_look(cached[1], look)


@tutorial_router.get("/v1/looks/{look_id}/tutorial", summary="A look's tutorial steps",
                     responses={404: {"description": "No look has this id."}})
def tutorial(request: Request,
             look_id: Annotated[str, Path(min_length=1, max_length=200)]) -> dict[str, Any]:
    """The steps of a curated, generated or trend look in application order (prep → base →
    brows → eyes → cheeks → lips), each with its product, region and technique."""
    found = look_items(request, look_id)
    if found is None:
        raise HTTPException(404, f"no look {look_id!r}: not a curated look (lake dataset `looks`), "
                                 "a look the feed's champion look GAN generated, or a trend look")
    source, items = found
    return {"look_id": look_id, "source": source, "steps": tutorial_steps(items)}
