"""Shade families: name the colour family of a ``#RRGGBB`` shade through CIELAB.

In: hex codes (``"#C0392B"``), one at a time or as arrays. Out: CIELAB coordinates (D65, 2°
observer), CIEDE2000 colour differences, and a family name from `SHADE_FAMILIES`.

Conversion: sRGB (gamma-encoded, 0–255) → linear RGB (IEC 61966-2-1 transfer curve) → XYZ (D65,
sRGB matrix) → CIELAB (reference white D65) → LCh (lightness L*, chroma C* = √(a²+b²), hue angle
h = atan2(b, a) in degrees, 0–360). The maths is a few lines of numpy; a colour library would add
a heavy dependency for it. `delta_e_2000` follows Sharma, Wu & Dalal (2005) and is tested against
their published test pairs.

Families come from `SHADE_RULES`, an ordered table over (hue, chroma, lightness): the first rule
whose three ranges contain the colour names its family. In words:

- achromatic (C* < 6): black below L* 25, white from L* 90, silver from L* 65, grey between;
  anything with L* < 15 is black whatever its hue (mascara, liner);
- cool hues: green 105–200°, blue 200–295°, purple 295–320°;
- red: hue 15–50° with strong chroma (C* ≥ 50) and mid/dark lightness (L* < 55);
- magenta band 320–345°: plum when dark (L* < 45), mauve when muted (C* < 35), else pink;
- pink–red band 345–25°: berry when dark and saturated (L* < 45, C* ≥ 30), brown when dark and
  dull (L* < 35, C* < 15), plum when otherwise dark (L* < 35), mauve when muted (C* < 32,
  L* < 70), else pink;
- warm band 25–105°: coral (25–50°, C* ≥ 40, L* ≥ 55), orange (50–75°, C* ≥ 50, L* ≥ 45),
  gold (75–105°, C* ≥ 30, L* ≥ 45), otherwise nude when light (L* ≥ 48) and brown when dark.

The hue bands cover the whole circle, so every colour gets exactly one family. The boundaries
were set from the named shades of the Makeup API catalogue (tests/unit/core/test_shades.py measures the
agreement); names in real catalogues are marketing (many a "plum" blush is a soft pink), so they
agree for a clear majority of red, nude and pink shades and only partly for plum or orange.
`FAMILY_CENTRES` gives one typical LCh colour per family for generators (the simulator samples
shades around them); each centre falls in its own family.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SHADE_FAMILIES: tuple[str, ...] = (
    # lip and cheek families
    "nude", "pink", "coral", "red", "berry", "plum", "brown", "orange", "mauve",
    # eye, brow and face families
    "black", "grey", "white", "gold", "silver", "blue", "green", "purple",
)

#: Chroma below which a colour is treated as achromatic (black, grey, silver, white).
ACHROMATIC_CHROMA = 6.0

_HEX = re.compile(r"^#?([0-9A-Fa-f]{6})$")

# sRGB (D65) linear RGB → XYZ, IEC 61966-2-1.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_EPSILON = 216 / 24389  # CIE constants, exact rational forms
_KAPPA = 24389 / 27


# --- conversions -------------------------------------------------------------------------------


def _hex_digits(code: str) -> str:
    match = _HEX.match(code.strip())
    if not match:
        raise ValueError(f"{code!r} is not a #RRGGBB colour")
    return match.group(1)


def rgb_from_hex_array(codes: Iterable[str]) -> np.ndarray:
    """``#RRGGBB`` codes → uint8 array of shape (n, 3)."""
    digits = "".join(_hex_digits(code) for code in codes)
    return np.frombuffer(bytes.fromhex(digits), dtype=np.uint8).reshape(-1, 3)


def lab_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """sRGB values 0–255, shape (..., 3) → CIELAB (L*, a*, b*), same shape, float64."""
    srgb = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), (_KAPPA * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_from_hex_array(codes: Iterable[str]) -> np.ndarray:
    """``#RRGGBB`` codes → CIELAB array of shape (n, 3)."""
    return lab_from_rgb(rgb_from_hex_array(codes))


def hex_to_lab(code: str) -> tuple[float, float, float]:
    """One ``#RRGGBB`` code → (L*, a*, b*)."""
    lightness, a, b = lab_from_hex_array([code])[0]
    return float(lightness), float(a), float(b)


def rgb_from_lab(lab: np.ndarray) -> np.ndarray:
    """CIELAB, shape (..., 3) → sRGB 0–255 as uint8, clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f**3 > _EPSILON, f**3, (116 * f - 16) / _KAPPA) * _WHITE_D65
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.rint(srgb * 255).astype(np.uint8)


def hex_from_rgb(rgb: np.ndarray) -> list[str]:
    """uint8 array (n, 3) → ``#RRGGBB`` upper-case codes."""
    flat = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    return ["#" + row.tobytes().hex().upper() for row in flat]


def lch_from_lab(lab: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3) → LCh (..., 3): lightness, chroma, hue angle in degrees [0, 360)."""
    lab = np.asarray(lab, dtype=np.float64)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0
    return np.stack([lab[..., 0], chroma, hue], axis=-1)


def lab_from_lch(lch: np.ndarray) -> np.ndarray:
    """LCh (..., 3), hue in degrees → CIELAB (..., 3)."""
    lch = np.asarray(lch, dtype=np.float64)
    radians = np.radians(lch[..., 2])
    return np.stack(
        [lch[..., 0], lch[..., 1] * np.cos(radians), lch[..., 1] * np.sin(radians)], axis=-1
    )


# --- CIEDE2000 ---------------------------------------------------------------------------------


def delta_e_2000(
    lab1: np.ndarray | tuple[float, float, float],
    lab2: np.ndarray | tuple[float, float, float],
    *,
    k_l: float = 1.0,
    k_c: float = 1.0,
    k_h: float = 1.0,
) -> np.ndarray | float:
    """CIEDE2000 colour difference between Lab colours (..., 3); broadcasts like numpy.

    Returns a float for two single colours, else an array of the broadcast shape without the
    last axis. Formulas and notation from Sharma, Wu & Dalal, Color Res. Appl. 30 (2005).
    """
    lab1, lab2 = np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    # atan2(0, 0) is 0 in numpy, which is the convention the paper asks for.
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360

    dl = l2 - l1
    dc = c2p - c1p
    both = c1p * c2p != 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(both, dh, 0.0)
    dh_big = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))

    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_mean = np.where(both, h_mean, h_sum)

    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c

    terms_l = dl / (k_l * s_l)
    terms_c = dc / (k_c * s_c)
    terms_h = dh_big / (k_h * s_h)
    result = np.sqrt(terms_l**2 + terms_c**2 + terms_h**2 + r_t * terms_c * terms_h)
    return float(result) if result.ndim == 0 else result


# --- families ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShadeRule:
    """Colours whose hue, chroma and lightness lie in these half-open ranges belong to `family`.

    A hue range with ``lo > hi`` wraps through 0° (``(345, 25)`` is 345–360° and 0–25°).
    """

    family: str
    hue: tuple[float, float] = (0.0, 360.0)
    chroma: tuple[float, float] = (0.0, math.inf)
    lightness: tuple[float, float] = (-math.inf, math.inf)

    def matches(self, lch: np.ndarray) -> np.ndarray:
        """Boolean mask over LCh rows (..., 3)."""
        lightness, chroma, hue = lch[..., 0], lch[..., 1], lch[..., 2]
        lo, hi = self.hue
        in_hue = (hue >= lo) & (hue < hi) if lo <= hi else (hue >= lo) | (hue < hi)
        return (
            in_hue
            & (chroma >= self.chroma[0]) & (chroma < self.chroma[1])
            & (lightness >= self.lightness[0]) & (lightness < self.lightness[1])
        )


_GREY = (0.0, ACHROMATIC_CHROMA)

#: Ordered rules; the first match names the family (see the module docstring).
SHADE_RULES: tuple[ShadeRule, ...] = (
    ShadeRule("black", chroma=_GREY, lightness=(-math.inf, 25)),
    ShadeRule("white", chroma=_GREY, lightness=(90, math.inf)),
    ShadeRule("silver", chroma=_GREY, lightness=(65, math.inf)),
    ShadeRule("grey", chroma=_GREY),
    ShadeRule("black", lightness=(-math.inf, 15)),
    ShadeRule("green", hue=(105, 200)),
    ShadeRule("blue", hue=(200, 295)),
    ShadeRule("purple", hue=(295, 320)),
    ShadeRule("red", hue=(15, 50), chroma=(50, math.inf), lightness=(-math.inf, 55)),
    ShadeRule("plum", hue=(320, 345), lightness=(-math.inf, 45)),
    ShadeRule("mauve", hue=(320, 345), chroma=(0, 35)),
    ShadeRule("pink", hue=(320, 345)),
    ShadeRule("berry", hue=(345, 25), chroma=(30, math.inf), lightness=(-math.inf, 45)),
    ShadeRule("brown", hue=(345, 25), chroma=(0, 15), lightness=(-math.inf, 35)),
    ShadeRule("plum", hue=(345, 25), lightness=(-math.inf, 35)),
    ShadeRule("mauve", hue=(345, 25), chroma=(0, 32), lightness=(-math.inf, 70)),
    ShadeRule("pink", hue=(345, 25)),
    ShadeRule("coral", hue=(25, 50), chroma=(40, math.inf), lightness=(55, math.inf)),
    ShadeRule("orange", hue=(50, 75), chroma=(50, math.inf), lightness=(45, math.inf)),
    ShadeRule("gold", hue=(75, 105), chroma=(30, math.inf), lightness=(45, math.inf)),
    ShadeRule("nude", hue=(25, 105), lightness=(48, math.inf)),
    ShadeRule("brown", hue=(25, 105)),
)

#: A typical colour of each family as (L*, C*, h°); generators sample shades around these.
FAMILY_CENTRES: dict[str, tuple[float, float, float]] = {
    "nude": (68.0, 24.0, 52.0),
    "pink": (70.0, 38.0, 0.0),
    "coral": (65.0, 55.0, 37.0),
    "red": (44.0, 65.0, 33.0),
    "berry": (36.0, 45.0, 5.0),
    "plum": (28.0, 32.0, 333.0),
    "brown": (38.0, 22.0, 58.0),
    "orange": (64.0, 70.0, 60.0),
    "mauve": (55.0, 22.0, 355.0),
    "black": (8.0, 2.0, 60.0),
    "grey": (50.0, 2.0, 250.0),
    "white": (95.0, 2.0, 90.0),
    "gold": (70.0, 50.0, 82.0),
    "silver": (75.0, 2.0, 250.0),
    "blue": (45.0, 40.0, 260.0),
    "green": (55.0, 40.0, 150.0),
    "purple": (40.0, 45.0, 305.0),
}

_FAMILY_INDEX = {name: index for index, name in enumerate(SHADE_FAMILIES)}


def family_codes_from_lab(lab: np.ndarray) -> np.ndarray:
    """CIELAB rows (n, 3) → int8 indices into `SHADE_FAMILIES` (vectorized)."""
    lch = lch_from_lab(np.atleast_2d(lab))
    codes = np.full(lch.shape[0], -1, dtype=np.int8)
    for rule in SHADE_RULES:
        hit = (codes < 0) & rule.matches(lch)
        codes[hit] = _FAMILY_INDEX[rule.family]
    assert (codes >= 0).all(), "SHADE_RULES must cover every colour"
    return codes


def shade_families_from_hex_array(codes: Iterable[str]) -> np.ndarray:
    """``#RRGGBB`` codes → array of family names (dtype object)."""
    indices = family_codes_from_lab(lab_from_hex_array(codes))
    return np.asarray(SHADE_FAMILIES, dtype=object)[indices]


@lru_cache(maxsize=65_536)
def shade_family(hex: str) -> str:
    """The shade family of one ``#RRGGBB`` colour, e.g. ``"#C0392B"`` → ``"red"``."""
    return SHADE_FAMILIES[int(family_codes_from_lab(np.asarray([hex_to_lab(hex)]))[0])]
