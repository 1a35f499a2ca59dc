"""Hashtag trend curves and their pull on what people try.

In: the window (start date, days) and a random generator. Out: `TrendCurves`: per term and day
the expected weight of a hashtag in social posts, and per shade family, category and finish a
multiplier (1 = ordinary) that the try-on generator turns into extra pull toward trending shades.

Term shapes: `flat` (a mild random walk, for forecasting to have something to do), `rising`
(logistic growth centred at 55 % of the window — `#coralcrush`), `fading` (exponential decay over
the window — `#glassskin`), and `holiday` (a low floor plus the bump of one shopping holiday, see
`rhythms.holiday_bumps`). Rising and fading are relative to the window, so every run shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from glamcast.core.shades import SHADE_FAMILIES
from glamcast.simulator.catalog import CATEGORIES, FINISHES
from glamcast.simulator.rhythms import holiday_bumps

RISING_TERM = "#coralcrush"
FADING_TERM = "#glassskin"
#: Holiday term → the holiday that drives it.
HOLIDAY_TERMS = {
    "#valentinesmakeup": "valentines",
    "#618sale": "618",
    "#singlesday": "singles_day",
    "#blackfriday": "black_friday",
}
#: Weight of a holiday term outside its season, relative to its peak.
HOLIDAY_FLOOR = 0.01
#: Day-to-day volatility of flat terms (sigma of the log random walk).
FLAT_VOLATILITY = 0.03


@dataclass(frozen=True)
class TrendTerm:
    term: str
    weight: float  # weight in hashtag draws on an ordinary day (at the peak for trend shapes)
    shape: str = "flat"  # flat | rising | fading | holiday
    families: tuple[str, ...] = ()  # shade families it pulls toward
    categories: tuple[str, ...] = ()  # categories it pulls toward
    finishes: tuple[str, ...] = ()  # finishes it pulls toward


TREND_TERMS: tuple[TrendTerm, ...] = (
    TrendTerm("#makeup", 1.0), TrendTerm("#beauty", 0.8), TrendTerm("#motd", 0.5),
    TrendTerm("#grwm", 0.45), TrendTerm("#makeuptutorial", 0.35), TrendTerm("#makeuplook", 0.4),
    TrendTerm("#virtualtryon", 0.25),
    TrendTerm("#lipstick", 0.5, categories=("lipstick",)),
    TrendTerm("#lipgloss", 0.25, categories=("lip_gloss",)),
    TrendTerm("#lipliner", 0.12, categories=("lip_liner",)),
    TrendTerm("#eyeshadow", 0.35, categories=("eyeshadow",)),
    TrendTerm("#eyeliner", 0.2, categories=("eyeliner",)),
    TrendTerm("#mascara", 0.2, categories=("mascara",)),
    TrendTerm("#brows", 0.2, categories=("brow",)),
    TrendTerm("#blush", 0.25, categories=("blush",)),
    TrendTerm("#bronzer", 0.12, categories=("bronzer",)),
    TrendTerm("#highlighter", 0.18, categories=("highlighter",)),
    TrendTerm("#foundation", 0.3, categories=("foundation",)),
    TrendTerm("#concealer", 0.15, categories=("concealer",)),
    TrendTerm("#nudelips", 0.3, families=("nude",)),
    TrendTerm("#redlips", 0.3, families=("red",)),
    TrendTerm("#pinklips", 0.2, families=("pink",)),
    TrendTerm("#corallips", 0.12, families=("coral",)),
    TrendTerm("#berrylips", 0.15, families=("berry",)),
    TrendTerm("#plumlips", 0.1, families=("plum",)),
    TrendTerm("#brownlips", 0.1, families=("brown",)),
    TrendTerm("#orangelips", 0.06, families=("orange",)),
    TrendTerm("#mauvelips", 0.08, families=("mauve",)),
    TrendTerm("#mattelips", 0.2, finishes=("matte",)),
    TrendTerm("#glossylips", 0.18, finishes=("gloss",)),
    TrendTerm("#shimmer", 0.12, finishes=("shimmer",)),
    TrendTerm(RISING_TERM, 0.5, "rising", families=("coral",)),
    TrendTerm(FADING_TERM, 0.5, "fading", categories=("highlighter", "foundation"),
              finishes=("gloss",)),
    TrendTerm("#valentinesmakeup", 1.2, "holiday", families=("red",)),
    TrendTerm("#618sale", 1.0, "holiday"),
    TrendTerm("#singlesday", 1.2, "holiday"),
    TrendTerm("#blackfriday", 1.2, "holiday"),
)
TERMS: tuple[str, ...] = tuple(term.term for term in TREND_TERMS)


@dataclass(frozen=True)
class TrendCurves:
    weights: np.ndarray  # (terms, days) expected weight of each term in hashtag draws
    family: np.ndarray  # (families, days) multiplier, 1 = ordinary buzz
    category: np.ndarray  # (categories, days)
    finish: np.ndarray  # (finishes, days)


def _shape(term: TrendTerm, days: int, bumps: dict[str, np.ndarray],
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(curve, reference): the term's relative level per day, and its ordinary level."""
    t = np.arange(days, dtype=np.float64)
    if term.shape == "rising":
        curve = 0.08 + 0.92 / (1 + np.exp(-(t - 0.55 * days) / max(1.0, 0.09 * days)))
        return curve, np.full(days, curve.mean())
    if term.shape == "fading":
        curve = 0.06 + 0.94 * np.exp(-3.0 * t / days)
        return curve, np.full(days, curve.mean())
    if term.shape == "holiday":
        curve = HOLIDAY_FLOOR + bumps[HOLIDAY_TERMS[term.term]]
        return curve, np.full(days, HOLIDAY_FLOOR)
    walk = np.exp(np.cumsum(rng.normal(0, FLAT_VOLATILITY, days)))
    curve = walk / walk.mean()
    return curve, np.ones(days)


def _multipliers(levels: dict[str, list[tuple[np.ndarray, np.ndarray]]],
                 names: tuple[str, ...], days: int) -> np.ndarray:
    """(names, days): Σ weight·curve / Σ weight·reference over the terms linked to each name."""
    out = np.ones((len(names), days))
    for index, name in enumerate(names):
        linked = levels.get(name)
        if linked:
            now = sum(level for level, _ in linked)
            ordinary = sum(reference for _, reference in linked)
            out[index] = np.clip(now / ordinary, 0.25, 4.0)
    return out


def make_trend_curves(start: date, days: int, rng: np.random.Generator) -> TrendCurves:
    bumps = holiday_bumps(start, days)
    weights = np.empty((len(TREND_TERMS), days))
    by_family: dict[str, list] = {}
    by_category: dict[str, list] = {}
    by_finish: dict[str, list] = {}
    for index, term in enumerate(TREND_TERMS):
        curve, reference = _shape(term, days, bumps, rng)
        weights[index] = term.weight * curve
        level = (term.weight * curve, term.weight * reference)
        for family in term.families:
            by_family.setdefault(family, []).append(level)
        for category in term.categories:
            by_category.setdefault(category, []).append(level)
        for finish in term.finishes:
            by_finish.setdefault(finish, []).append(level)
    return TrendCurves(
        weights=weights,
        family=_multipliers(by_family, SHADE_FAMILIES, days),
        category=_multipliers(by_category, tuple(c.value for c in CATEGORIES), days),
        finish=_multipliers(by_finish, tuple(f.value for f in FINISHES), days),
    )
