"""`POST /v1/looks/generate`: new makeup looks for a face from the champion look GAN, as products.

In: face attributes (Monk skin tone, undertone, optional face shape), optional trend terms of the
lips (shade family, finish), an optional boldness (natural 0 … bold 1), how many looks and a
seed (the same request answers the same looks). Out: the looks, each with one product per region
(the in-stock catalogue product nearest the generated shade by CIEDE2000, of the same category
and, when the catalogue has one, the same finish; `models.shoppable_looks`).

The model is ``models:/<look_gan_model_name setting>@champion`` (`models.look_gan_pyfunc`), loaded
once per champion version: the alias is looked up again at most every `RECHECK_S` seconds, so a
promotion is picked up without a restart. Answers: 422 for a request outside the vocabulary or
the bounds (unknown fields too), and for boldness asked of a champion trained without it; 404
while no champion is registered; 503 when the model registry cannot be reached.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from glamcast.core.settings import Settings
from glamcast.core.shades import SHADE_FAMILIES

log = logging.getLogger(__name__)

RECHECK_S = 30.0  # how stale the champion version may be before the registry is asked again
MAX_LOOKS = 24  # looks per request
NO_CHAMPION = "No champion look GAN is registered yet: run `glamcast train look-gan` first."

Undertone = Literal["cool", "neutral", "warm"]
FaceShape = Literal["oval", "round", "square", "heart", "oblong", "diamond"]
Finish = Literal["matte", "satin", "gloss", "shimmer", "metallic"]
ShadeFamily = Literal[tuple(SHADE_FAMILIES)]  # type: ignore[valid-type]


class GenerateRequest(BaseModel):
    """What looks are asked for: a face, optional trend terms and boldness, how many."""

    model_config = ConfigDict(extra="forbid")

    skin_tone: int = Field(ge=1, le=10, description="Monk skin tone, 1 (lightest) to 10.")
    undertone: Undertone
    face_shape: FaceShape | None = Field(default=None, description="Default: any face shape.")
    shade_family: ShadeFamily | None = Field(  # type: ignore[valid-type]
        default=None, description="Trend term: the lips' shade family (default: any).")
    finish: Finish | None = Field(default=None, description="Trend term: the lips' finish (default: any).")
    boldness: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False,
                                   description="Natural 0 … bold 1 (default: any).")
    count: int = Field(default=6, ge=1, le=MAX_LOOKS, description="Looks to generate.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Same seed, same looks.")


class RegionProduct(BaseModel):
    """The product that makes one region of a generated look."""

    region: str = Field(description="lips, eyes, cheeks or brows.")
    category: str
    product_id: str | None = Field(description="Null: the catalogue has no product of the category.")
    brand: str | None
    name: str | None
    shade_hex: str | None = Field(description="The product's shade.")
    generated_hex: str = Field(description="The shade the GAN generated for the region.")
    finish: str = Field(description="The generated finish (the product's when `finish_matched`).")
    finish_matched: bool = Field(description="False: no product of this category in that finish.")
    intensity: float = Field(description="How strongly to apply it, 0–1.")
    price: float | None
    delta_e: float | None = Field(description="CIEDE2000 between the generated and the product's shade.")


class GeneratedLook(BaseModel):
    look: int = Field(description="Number of the look within the answer, from 0.")
    mean_intensity: float = Field(description="Mean intensity over the regions (how bold it is).")
    price: float | None = Field(description="The products' total price (null if one has none).")
    products: list[RegionProduct]


class GenerateAnswer(BaseModel):
    model: str = Field(description="`<registered name> v<version>` of the champion that answered.")
    request: GenerateRequest
    looks: list[GeneratedLook]


# --- the champion --------------------------------------------------------------------------------


@dataclass
class ChampionCache:
    """The loaded champion pyfunc, by version; the alias is checked every `RECHECK_S`."""

    version: int | None = None
    model: Any = None
    checked_at: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, settings: Settings) -> tuple[int, Any]:
        from glamcast.platform.model_registry import champion_version, load_model

        with self.lock:
            now = time.monotonic()
            if self.model is None or now - self.checked_at >= RECHECK_S:
                try:
                    version = champion_version(settings, settings.look_gan_model_name)
                    if version is not None and version != self.version:
                        self.model = load_model(settings, settings.look_gan_model_name, version)
                        self.version = version
                    elif version is None:
                        self.model, self.version = None, None
                except Exception as exc:  # the registry is down or the model cannot be read
                    log.warning("look GAN champion unavailable: %s", exc)
                    raise HTTPException(503, f"the model registry cannot be reached ({type(exc).__name__})"
                                        ) from exc
                self.checked_at = now
            if self.model is None or self.version is None:
                raise HTTPException(404, NO_CHAMPION)
            return self.version, self.model


def _cache(request: Request) -> ChampionCache:
    state = request.app.state
    if not hasattr(state, "look_gan_cache"):
        state.look_gan_cache = ChampionCache()
    return state.look_gan_cache


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def looks_from_frame(frame: pd.DataFrame) -> list[GeneratedLook]:
    """The pyfunc's table (one row per look and region) → looks with their products."""
    from models.look_space import REGIONS

    looks = []
    for look, rows in frame.groupby("look", sort=True):
        records = sorted(rows.to_dict("records"), key=lambda r: REGIONS.index(r["region"])
                         if r["region"] in REGIONS else len(REGIONS))
        products = [
            RegionProduct(
                region=str(r["region"]), category=str(r["category"]),
                product_id=_text(r.get("product_id")), brand=_text(r.get("brand")),
                name=_text(r.get("name")), shade_hex=_text(r.get("product_hex")),
                generated_hex=str(r["shade_hex"]), finish=str(r["finish"]),
                finish_matched=bool(r.get("finish_matched", True)),
                intensity=round(float(r["intensity"]), 4), price=_number(r.get("price")),
                delta_e=_number(r.get("delta_e")))
            for r in records
        ]
        prices = [p.price for p in products]
        looks.append(GeneratedLook(
            look=int(look),
            mean_intensity=round(sum(p.intensity for p in products) / max(len(products), 1), 4),
            price=None if any(p is None for p in prices) else round(sum(prices), 2),  # type: ignore[arg-type]
            products=products))
    return looks


class FiniteErrorsRoute(APIRoute):
    """A route whose 422 never echoes the input: a body such as ``{"skin_tone": 1e999}`` parses
    to infinity, which the default 422 would try to write back as JSON and fail on (a 500)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [
                    {key: value for key, value in error.items() if key in ("type", "loc", "msg")}
                    for error in exc.errors()
                ]
                return JSONResponse({"detail": errors}, status_code=422)

        return guarded


router = APIRouter(tags=["looks"], route_class=FiniteErrorsRoute)


@router.post(
    "/v1/looks/generate",
    response_model=GenerateAnswer,
    summary="Generate shoppable looks for a face",
    responses={
        404: {"description": "No champion look GAN is registered yet."},
        422: {"description": "The request is outside the vocabulary or the bounds, or asks a "
                             "boldness of a champion trained without it."},
        503: {"description": "The model registry cannot be reached."},
    },
)
def generate_looks(body: GenerateRequest, request: Request) -> GenerateAnswer:
    """`count` new looks for the face (and trend terms, boldness), each product per region."""
    settings: Settings = request.app.state.settings
    version, model = _cache(request).get(settings)
    row = {"skin_tone": body.skin_tone, "undertone": body.undertone, "n": body.count,
           "seed": body.seed}
    for name in ("face_shape", "shade_family", "finish", "boldness"):
        value = getattr(body, name)
        if value is not None:
            row[name] = value
    try:
        frame = model.predict(pd.DataFrame([row]))
    except ValueError as exc:  # e.g. boldness asked of a generator trained without it
        raise HTTPException(422, str(exc)) from exc
    return GenerateAnswer(model=f"{settings.look_gan_model_name} v{version}", request=body,
                          looks=looks_from_frame(frame))
