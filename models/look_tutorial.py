"""Make-up tutorials: a look as steps in application order, each in plain words.

`tutorial_steps(items)` takes a look as one item per region (`region`, `category`, `finish`,
`intensity`, and optionally `shade_hex`, `product_id`, `brand`, `name`, `price`) and returns the
steps in the order make-up is put on: prep → base → brows → eyes → cheeks → lips. Prep and base
come first in every tutorial (no product: cleanse and moisturise; an even base); each region of
the look then gets one step with its product, its region and the technique, derived from the
category, the finish and the intensity (e.g. "tap the shimmer shade on the centre of the lid").

Pure: no I/O. The HTTP route (`GET /v1/looks/{look_id}/tutorial`, glamcast.serving.looks) and
the mirror's frame renderer (static/sdk/tutorial.js: one rendered frame per region step) read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Application order of the stages; a region's stage is its own name.
STAGES: tuple[str, ...] = ("prep", "base", "brows", "eyes", "cheeks", "lips")
#: Stages with no region of a look (done on the whole face, whatever the look).
FACE_STAGES: dict[str, str] = {
    "prep": "Cleanse, then moisturise and let it sink in for a minute: make-up sits evenly on "
            "smooth, hydrated skin.",
    "base": "Even out the skin with a thin layer of your foundation or tinted moisturiser, "
            "blended outwards from the centre of the face; conceal only where needed.",
}

#: How much product, by intensity (0–1): the words for light, medium and full coverage.
AMOUNT = ((0.4, "a sheer wash of"), (0.75, "a light layer of"), (1.01, "a full layer of"))
#: Per category: the tool and the movement, in plain words.
TECHNIQUE: dict[str, str] = {
    "lipstick": "line the edge of the lips with the bullet, then fill in from the centre outwards",
    "lip_gloss": "dab it on the centre of the lower lip and press the lips together",
    "lip_liner": "trace the natural lip line in short strokes, then soften it inwards",
    "eyeshadow": "sweep it across the lid from the lash line up to the crease",
    "eyeliner": "draw a thin line along the upper lash line, from the inner to the outer corner",
    "mascara": "wiggle the wand from the lash roots to the tips",
    "brow": "fill the sparse areas with short, hair-like strokes, following the brow's growth",
    "blush": "smile and tap it on the apples of the cheeks, blending up towards the temples",
    "bronzer": "sweep it under the cheekbones and along the temples in a loose '3'",
    "highlighter": "tap it on the top of the cheekbones, where the light falls",
}
#: Per finish: how the technique changes (shimmer and metallic are tapped, not swept, to keep
#: their sparkle; gloss goes on last and light).
FINISH_NOTE: dict[str, str] = {
    "matte": "blend the edges until no line shows",
    "satin": "build it up in thin layers for a soft sheen",
    "gloss": "keep it to the centre so the shine catches the light",
    "shimmer": "tap the shimmer shade on the centre of the lid (or of the area) with a fingertip "
               "so the sparkle stays",
    "metallic": "press the metallic shade on with a damp brush for the most foil-like shine",
}
REGION_WORDS = {"lips": "lips", "eyes": "eyelids", "cheeks": "cheeks", "brows": "brows"}
#: The category a region uses when a look item does not name one.
DEFAULT_CATEGORY = {"lips": "lipstick", "eyes": "eyeshadow", "cheeks": "blush", "brows": "brow"}


class TutorialError(ValueError):
    """A look item names an unknown region or carries an unusable intensity."""


def amount_words(intensity: float) -> str:
    """Plain words for how much product an intensity in [0, 1] is."""
    for bound, words in AMOUNT:
        if intensity < bound:
            return words
    return AMOUNT[-1][1]


def technique(region: str, category: str, finish: str, intensity: float) -> str:
    """The technique of one step in plain words, from its category, finish and intensity."""
    finish_note = FINISH_NOTE.get(finish, FINISH_NOTE["matte"])
    if finish in ("shimmer", "metallic") and region == "eyes":
        how = finish_note  # the tap replaces the sweep: a shimmer lid is pressed, not swept
    else:
        how = f"{TECHNIQUE.get(category, TECHNIQUE[DEFAULT_CATEGORY[region]])}; {finish_note}"
    return f"Use {amount_words(intensity)} {finish} {category.replace('_', ' ')}: {how}."


def tutorial_steps(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps of a look (one item per region; a repeated region keeps its last item).

    Returns ``[{step, stage, region, title, technique, product}]`` in application order;
    `region` and `product` are None for prep and base; `product` holds the item's product fields
    that are present (`product_id`, `brand`, `name`, `category`, `shade_hex`, `finish`,
    `intensity`, `price`). Raises TutorialError for an unknown region or an intensity outside
    [0, 1]."""
    by_region: dict[str, Mapping[str, Any]] = {}
    for item in items:
        region = item.get("region")
        if region not in REGION_WORDS:
            raise TutorialError(f"unknown region {region!r}; regions: {sorted(REGION_WORDS)}")
        by_region[region] = item
    steps: list[dict[str, Any]] = []
    for stage in STAGES:
        if stage in FACE_STAGES:
            steps.append({"stage": stage, "region": None, "title": stage.capitalize(),
                          "technique": FACE_STAGES[stage], "product": None})
            continue
        item = by_region.get(stage)
        if item is None:
            continue
        intensity = float(item.get("intensity", 1.0) if item.get("intensity") is not None else 1.0)
        if not 0.0 <= intensity <= 1.0:
            raise TutorialError(f"intensity {intensity} of {stage} is outside [0, 1]")
        category = item.get("category") or DEFAULT_CATEGORY[stage]
        finish = item.get("finish") or "matte"
        product = {key: item[key] for key in ("product_id", "brand", "name", "category", "shade_hex",
                                              "finish", "intensity", "price")
                   if item.get(key) is not None}
        product.setdefault("category", category)
        product.setdefault("finish", finish)
        product["intensity"] = round(intensity, 2)
        label = " ".join(str(item[key]) for key in ("brand", "name") if item.get(key)) or category.replace("_", " ")
        steps.append({"stage": stage, "region": stage,
                      "title": f"{REGION_WORDS[stage].capitalize()}: {label}",
                      "technique": technique(stage, category, finish, intensity), "product": product})
    for number, step in enumerate(steps, start=1):
        step["step"] = number
    return [{"step": s["step"], **{k: v for k, v in s.items() if k != "step"}} for s in steps]
