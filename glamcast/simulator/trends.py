"""Trend curves: background hashtags, and planted terms whose shapes are the truth to measure.

In: the window (start date, days) and a random generator. Out: `TrendCurves`: per hashtag and day
its weight in social posts, per planted brand and day its mention rate, per shade family,
category and finish a multiplier (1 = ordinary) that the try-on generator turns into extra pull,
and `planted`: the truth table (term, shape, window) saved with the world.

Two kinds of terms:

- **background hashtags** (`#makeup`, `#redlips`...): drawn 1–8 per post by weight (Gumbel
  top-k), each weight a mild log random walk (`FLAT_VOLATILITY`). Their truth shape is
  `random_walk`.
- **planted try-on terms** (`PLANTED_TRYON_TERMS`: shade families and finishes, issue 19): a
  rising or fading curve (the shapes below) multiplies the family's or finish's try-on pull, so
  people's choices drift toward or away from its products and the try-on counts follow.
- **planted terms** (`PLANTED_TERMS`: hashtags and social-only brands): each post mentions each
  planted term independently with probability rate × curve(day), so one term's boom never takes
  share from the others (a Gumbel draw would: ten rising terms would make every other term fade).
  Shapes (parameters drawn per run from the seed, placed relative to the window so every run
  shows them):

  | shape | curve (relative level, peak 1) | expected reading |
  |---|---|---|
  | `steady_rise` | ×3–×5 exponential growth over the window | rising |
  | `breakout` | a ×10–×20 jump within two days at 60–85 % of the window, then flat | breakout |
  | `saturating_rise` | logistic ×4–×10, centred at 45–60 % of the window (flattens at the end) | rising |
  | `fade` | ×3.5–×6 exponential decay over the window | fading |
  | `holiday_spike` | 1 % floor plus the bump of one shopping holiday (`rhythms.holiday_bumps`) | seasonal spike, when the holiday is in the window |
  | `weekly_seasonal` | flat level with a ±30–50 % weekly cycle | steady |
  | `random_walk` | log random walk, σ = 0.03 a day | steady |

Three planted hashtags pull try-ons toward shade families, categories or finishes, as before
this truth was planted: `#coralcrush` → coral, `#glassskin` → highlighter, foundation and gloss,
`#valentinesmakeup` → red; the try-on generator follows them through the multipliers. (Linking
more would make families compete: with pink, brown and berry booming too, coral's share of
try-ons would not rise.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from glamcast.core.shades import SHADE_FAMILIES
from glamcast.core.trend_terms import (
    BRAND,
    FINISH,
    HASHTAG,
    SHADE_FAMILY,
    normalize_brand,
    normalize_hashtag,
)
from glamcast.simulator.catalog import CATEGORIES, FINISHES
from glamcast.simulator.rhythms import holiday_bumps, holiday_dates

STEADY_RISE = "steady_rise"
BREAKOUT = "breakout"
SATURATING_RISE = "saturating_rise"
FADE = "fade"
HOLIDAY_SPIKE = "holiday_spike"
WEEKLY_SEASONAL = "weekly_seasonal"
RANDOM_WALK = "random_walk"
#: Every planted shape, in the order the truth lists them.
SHAPES = (STEADY_RISE, BREAKOUT, SATURATING_RISE, FADE, HOLIDAY_SPIKE, WEEKLY_SEASONAL, RANDOM_WALK)

RISING_TERM = "#coralcrush"  # a planted saturating rise
FADING_TERM = "#glassskin"  # a planted fade
#: Weight of a holiday term outside its season, relative to its peak.
HOLIDAY_FLOOR = 0.01
#: Day-to-day volatility of random-walk terms (sigma of the log random walk).
FLAT_VOLATILITY = 0.03
#: How much harder a planted term pulls try-ons toward its families, categories and finishes
#: than its share of posts says (a trend is what people talk about), against background tags'
#: draw weights.
PLANTED_PULL = 4.0
#: Exponent on a planted shade family's or finish's curve (÷ its mean) in the family's or
#: finish's try-on multiplier: with the default `trend_influence` 0.6 a small family's share of
#: try-ons follows its curve to the power 0.9 (less for one that already holds much of its
#: category, as satin does).
TRYON_PULL = 3.5
#: Days before and after a holiday's date that its truth window spans (the simulated ramp).
HOLIDAY_TRUTH_WINDOW = (-12, 4)


@dataclass(frozen=True)
class TrendTerm:
    term: str  # as posted: "#coralcrush", or a brand's display name
    weight: float  # background: weight in hashtag draws; planted: share of posts at the peak
    shape: str = RANDOM_WALK  # one of SHAPES
    term_type: str = HASHTAG  # hashtag, brand, shade_family or finish
    holiday: str | None = None  # holiday_spike: the holiday of `rhythms.holiday_dates`
    families: tuple[str, ...] = ()  # shade families it pulls toward
    categories: tuple[str, ...] = ()  # categories it pulls toward
    finishes: tuple[str, ...] = ()  # finishes it pulls toward


_T = TrendTerm
BACKGROUND_TERMS: tuple[TrendTerm, ...] = (
    _T("#makeup", 1.0), _T("#beauty", 0.8), _T("#motd", 0.5),
    _T("#grwm", 0.45), _T("#makeuptutorial", 0.35), _T("#makeuplook", 0.4),
    _T("#virtualtryon", 0.25),
    _T("#lipstick", 0.5, categories=("lipstick",)),
    _T("#lipgloss", 0.25, categories=("lip_gloss",)),
    _T("#lipliner", 0.12, categories=("lip_liner",)),
    _T("#eyeshadow", 0.35, categories=("eyeshadow",)),
    _T("#eyeliner", 0.2, categories=("eyeliner",)),
    _T("#mascara", 0.2, categories=("mascara",)),
    _T("#brows", 0.2, categories=("brow",)),
    _T("#blush", 0.25, categories=("blush",)),
    _T("#bronzer", 0.12, categories=("bronzer",)),
    _T("#highlighter", 0.18, categories=("highlighter",)),
    _T("#foundation", 0.3, categories=("foundation",)),
    _T("#concealer", 0.15, categories=("concealer",)),
    _T("#nudelips", 0.3, families=("nude",)),
    _T("#redlips", 0.3, families=("red",)),
    _T("#pinklips", 0.2, families=("pink",)),
    _T("#corallips", 0.12, families=("coral",)),
    _T("#berrylips", 0.15, families=("berry",)),
    _T("#plumlips", 0.1, families=("plum",)),
    _T("#brownlips", 0.1, families=("brown",)),
    _T("#orangelips", 0.06, families=("orange",)),
    _T("#mauvelips", 0.08, families=("mauve",)),
    _T("#mattelips", 0.2, finishes=("matte",)),
    _T("#glossylips", 0.18, finishes=("gloss",)),
    _T("#shimmer", 0.12, finishes=("shimmer",)),
)
#: Planted hashtags: the peak share of posts that carry them, then their shape.
PLANTED_HASHTAGS: tuple[TrendTerm, ...] = (
    _T("#latteblush", 0.10, STEADY_RISE),
    _T("#skinimalism", 0.08, STEADY_RISE),
    _T("#cleangirlmakeup", 0.12, STEADY_RISE),
    _T("#strawberrymakeup", 0.12, BREAKOUT),
    _T("#mochaglaze", 0.10, BREAKOUT),
    _T("#douyinmakeup", 0.09, BREAKOUT),
    _T(RISING_TERM, 0.15, SATURATING_RISE, families=("coral",)),
    _T("#cherrycola", 0.10, SATURATING_RISE),
    _T("#bronzedgoddess", 0.08, SATURATING_RISE),
    _T(FADING_TERM, 0.15, FADE, categories=("highlighter", "foundation"), finishes=("gloss",)),
    _T("#cutcrease", 0.10, FADE),
    _T("#bakedlook", 0.08, FADE),
    _T("#valentinesmakeup", 0.30, HOLIDAY_SPIKE, holiday="valentines", families=("red",)),
    _T("#valentinesglam", 0.15, HOLIDAY_SPIKE, holiday="valentines"),
    _T("#618sale", 0.25, HOLIDAY_SPIKE, holiday="618"),
    _T("#618haul", 0.12, HOLIDAY_SPIKE, holiday="618"),
    _T("#singlesday", 0.30, HOLIDAY_SPIKE, holiday="singles_day"),
    _T("#1111haul", 0.15, HOLIDAY_SPIKE, holiday="singles_day"),
    _T("#blackfriday", 0.30, HOLIDAY_SPIKE, holiday="black_friday"),
    _T("#blackfridaybeauty", 0.15, HOLIDAY_SPIKE, holiday="black_friday"),
    _T("#sundayreset", 0.08, WEEKLY_SEASONAL),
    _T("#fridaynightlook", 0.10, WEEKLY_SEASONAL),
    _T("#mondaymakeup", 0.06, WEEKLY_SEASONAL),
    _T("#makeupjunkie", 0.10, RANDOM_WALK),
    _T("#beautyhaul", 0.08, RANDOM_WALK),
    _T("#dupealert", 0.06, RANDOM_WALK),
)
#: Planted brands: social-only indie brands (not in the catalogue), mentioned by posts.
PLANTED_BRANDS: tuple[TrendTerm, ...] = (
    _T("Lumen Rouge", 0.05, STEADY_RISE, BRAND),
    _T("Petalcraft", 0.04, STEADY_RISE, BRAND),
    _T("Velvet Koi", 0.05, BREAKOUT, BRAND),
    _T("Halo Haus", 0.04, BREAKOUT, BRAND),
    _T("Sol Atelier", 0.05, SATURATING_RISE, BRAND),
    _T("Maison Mauve", 0.04, SATURATING_RISE, BRAND),
    _T("Neon Nymph", 0.05, FADE, BRAND),
    _T("Frost Fable", 0.04, FADE, BRAND),
    _T("Cupid & Co", 0.06, HOLIDAY_SPIKE, BRAND, holiday="valentines"),
    _T("Sixeighteen Beauty", 0.06, HOLIDAY_SPIKE, BRAND, holiday="618"),
    _T("Gala Gloss", 0.06, HOLIDAY_SPIKE, BRAND, holiday="singles_day"),
    _T("Friday Flush", 0.06, HOLIDAY_SPIKE, BRAND, holiday="black_friday"),
    _T("Weekend Muse", 0.05, WEEKLY_SEASONAL, BRAND),
    _T("Brunch Club Beauty", 0.04, WEEKLY_SEASONAL, BRAND),
    _T("Drift Cosmetics", 0.05, RANDOM_WALK, BRAND),
    _T("Wander Lash", 0.04, RANDOM_WALK, BRAND),
)
#: Planted shade families and finishes: no posts name them; their curve shifts everyone's
#: try-on choices toward (or away from) the family's or finish's products (`TRYON_PULL`), so
#: the try-on counts of `streams/trend_counts.py` show the shape. The weight is unused (1).
#: Few, and chosen so that they do not pull against each other or against `#coralcrush`'s coral:
#: mauve rises in coral's categories (lipstick, blush, gloss) while pink, the largest lip family,
#: fades in them; a fading plum was hidden by its metallic eyeshadows; a rising satin finish
#: (a fifth of the catalogue) barely moved its own share; a breakout gold family (×50 in share)
#: swamped taste, so the recommender's per-skin-tone bound failed. Tuned on seeds 101–103.
PLANTED_TRYON_TERMS: tuple[TrendTerm, ...] = (
    _T("mauve", 1.0, STEADY_RISE, SHADE_FAMILY),
    _T("pink", 1.0, FADE, SHADE_FAMILY),
    _T("metallic", 1.0, STEADY_RISE, FINISH),
)
#: Every hashtag, background first: the order of `TrendCurves.weights`.
TREND_TERMS: tuple[TrendTerm, ...] = BACKGROUND_TERMS + PLANTED_HASHTAGS
TERMS: tuple[str, ...] = tuple(term.term for term in TREND_TERMS)
#: Every planted term (hashtags, brands, then shade families and finishes): the rows of the
#: truth table.
PLANTED_TERMS: tuple[TrendTerm, ...] = PLANTED_HASHTAGS + PLANTED_BRANDS + PLANTED_TRYON_TERMS
N_BACKGROUND = len(BACKGROUND_TERMS)

#: Columns of the truth table `TrendCurves.planted`.
PLANTED_COLUMNS = ("term_type", "term", "posted_as", "shape", "holiday", "window_start",
                   "window_end", "factor", "peak_rate")


@dataclass(frozen=True)
class TrendCurves:
    weights: np.ndarray  # (hashtags, days): background rows are draw weights, planted rows the
    # probability that a post carries the tag
    brand_rates: np.ndarray  # (planted brands, days) probability that a post names the brand
    family: np.ndarray  # (families, days) multiplier, 1 = ordinary buzz
    category: np.ndarray  # (categories, days)
    finish: np.ndarray  # (finishes, days)
    planted: pd.DataFrame  # PLANTED_COLUMNS, one row per planted term: the truth


@dataclass(frozen=True)
class _Shape:
    curve: np.ndarray  # (days,) relative level, peak 1
    reference: np.ndarray  # (days,) its ordinary level (for the try-on pull)
    window: tuple[int, int] | None  # first and last day of the change, None when outside
    factor: float  # size of the change (peak ÷ floor), 1 for flat shapes


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _shape(term: TrendTerm, start: date, days: int, bumps: dict[str, np.ndarray],
           rng: np.random.Generator) -> _Shape:
    """The term's curve, drawn from its shape's parameter ranges."""
    t = np.arange(days, dtype=np.float64)
    last = max(days - 1, 1)
    if term.shape == STEADY_RISE:
        factor = rng.uniform(3.0, 5.0)
        curve = factor ** (t / last - 1.0)
        return _Shape(curve, np.full(days, curve.mean()), (0, days - 1), factor)
    if term.shape == BREAKOUT:
        factor, jump = rng.uniform(10.0, 20.0), rng.uniform(0.60, 0.85) * days
        curve = 1 / factor + (1 - 1 / factor) * _logistic((t - jump) / 0.5)
        day = round(jump)
        return _Shape(curve, np.full(days, curve.mean()), (day - 2, day + 2), factor)
    if term.shape == SATURATING_RISE:
        factor, centre = rng.uniform(4.0, 10.0), rng.uniform(0.45, 0.60) * days
        width = 0.09 * days
        curve = 1 / factor + (1 - 1 / factor) * _logistic((t - centre) / width)
        return _Shape(curve, np.full(days, curve.mean()),
                      (max(0, int(centre - 3 * width)), days - 1), factor)
    if term.shape == FADE:
        factor = rng.uniform(3.5, 6.0)
        curve = factor ** (-t / last)
        return _Shape(curve, np.full(days, curve.mean()), (0, days - 1), factor)
    if term.shape == HOLIDAY_SPIKE:
        assert term.holiday is not None
        curve = HOLIDAY_FLOOR + (1 - HOLIDAY_FLOOR) * bumps[term.holiday]
        return _Shape(curve, np.full(days, HOLIDAY_FLOOR), _holiday_window(term.holiday, start, days),
                      1 / HOLIDAY_FLOOR)
    if term.shape == WEEKLY_SEASONAL:
        amplitude, peak = rng.uniform(0.3, 0.5), rng.integers(7)
        weekday = (start.weekday() + t) % 7
        curve = (1 + amplitude * np.cos(2 * np.pi * (weekday - peak) / 7)) / (1 + amplitude)
        return _Shape(curve, np.full(days, curve.mean()), None, 1.0)
    walk = np.exp(np.cumsum(rng.normal(0, FLAT_VOLATILITY, days)))
    return _Shape(walk / walk.max(), np.full(days, walk.mean() / walk.max()), None, 1.0)


def _holiday_window(holiday: str, start: date, days: int) -> tuple[int, int] | None:
    """Days of the window (relative to `start`) that hold the holiday's truth window, if any."""
    end = start + timedelta(days=days - 1)
    for year in range(start.year - 1, end.year + 2):
        day = holiday_dates(year)[holiday]
        first = (day - start).days + HOLIDAY_TRUTH_WINDOW[0]
        last = (day - start).days + HOLIDAY_TRUTH_WINDOW[1]
        if last >= 0 and first <= days - 1:
            return max(first, 0), min(last, days - 1)
    return None


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


def trend_term_name(term: TrendTerm) -> str:
    """The trend term the streams count it under (`glamcast.core.trend_terms`)."""
    if term.term_type in (SHADE_FAMILY, FINISH):
        return term.term
    name = normalize_hashtag(term.term) if term.term_type == HASHTAG else normalize_brand(term.term)
    assert name is not None
    return name


def make_trend_curves(start: date, days: int, rng: np.random.Generator) -> TrendCurves:
    bumps = holiday_bumps(start, days)
    weights = np.empty((len(TREND_TERMS), days))
    brand_rates = np.empty((len(PLANTED_BRANDS), days))
    by_family: dict[str, list] = {}
    by_category: dict[str, list] = {}
    by_finish: dict[str, list] = {}
    truth = []
    # Every term draws its parameters in a fixed order, so adding a planted term does not
    # change the others' draws beyond it.
    for index, term in enumerate(TREND_TERMS + PLANTED_BRANDS):
        shape = _shape(term, start, days, bumps, rng)
        if index < len(TREND_TERMS):
            weights[index] = term.weight * shape.curve
        else:
            brand_rates[index - len(TREND_TERMS)] = term.weight * shape.curve
        pull = term.weight * (PLANTED_PULL if index >= N_BACKGROUND else 1.0)
        level = (pull * shape.curve, pull * shape.reference)
        for family in term.families:
            by_family.setdefault(family, []).append(level)
        for category in term.categories:
            by_category.setdefault(category, []).append(level)
        for finish in term.finishes:
            by_finish.setdefault(finish, []).append(level)
        if index >= N_BACKGROUND:
            window = shape.window
            truth.append((term.term_type, trend_term_name(term), term.term, term.shape, term.holiday,
                          None if window is None else start + timedelta(days=window[0]),
                          None if window is None else start + timedelta(days=window[1]),
                          float(shape.factor), float(term.weight)))
    family = _multipliers(by_family, SHADE_FAMILIES, days)
    finish_names = tuple(f.value for f in FINISHES)
    finish = _multipliers(by_finish, finish_names, days)
    # Drawn after every hashtag and brand, so their draws are those of a world without these.
    for term in PLANTED_TRYON_TERMS:
        shape = _shape(term, start, days, bumps, rng)
        rows, names = (family, SHADE_FAMILIES) if term.term_type == SHADE_FAMILY else (finish, finish_names)
        rows[names.index(term.term)] *= (shape.curve / shape.reference) ** TRYON_PULL
        window = shape.window
        truth.append((term.term_type, trend_term_name(term), term.term, term.shape, term.holiday,
                      None if window is None else start + timedelta(days=window[0]),
                      None if window is None else start + timedelta(days=window[1]),
                      float(shape.factor), float("nan")))
    planted = pd.DataFrame(truth, columns=list(PLANTED_COLUMNS))
    for column in ("window_start", "window_end"):
        planted[column] = pd.to_datetime(planted[column])
    return TrendCurves(
        weights=weights, brand_rates=brand_rates, family=family,
        category=_multipliers(by_category, tuple(c.value for c in CATEGORIES), days),
        finish=finish, planted=planted,
    )


def background_truth() -> pd.DataFrame:
    """The background hashtags as truth rows (shape random_walk, no window)."""
    rows = [(HASHTAG, trend_term_name(term), term.term, RANDOM_WALK, None, pd.NaT, pd.NaT, 1.0,
             float(term.weight)) for term in BACKGROUND_TERMS]
    return pd.DataFrame(rows, columns=list(PLANTED_COLUMNS))
