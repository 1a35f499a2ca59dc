// Colour math of the mirror: sRGB <-> CIELAB (D65, 2° observer) and CIEDE2000.
//
// The same conversions as glamcast/core/shades.py (IEC 61966-2-1 transfer curve, sRGB matrix,
// reference white D65); CIEDE2000 after Sharma, Wu & Dalal (2005), tested on their published
// pairs (tests/unit/serving/test_mirror_sdk.py runs sdk/tests/ under node). Pure functions of
// numbers and arrays: no DOM, so node and the browser run the same code.

const WHITE = [0.95047, 1.0, 1.08883];
const EPSILON = 216 / 24389;
const KAPPA = 24389 / 27;

/** sRGB channel 0–255 → linear 0–1. */
export function srgbToLinear(value) {
  const v = value / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** Linear 0–1 → sRGB channel 0–255 (float, clipped to the gamut). */
export function linearToSrgb(value) {
  const v = Math.min(1, Math.max(0, value));
  return 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
}

/** The 256 linear values of the sRGB codes, for per-pixel loops. */
export const LINEAR_OF_CODE = Float32Array.from({ length: 256 }, (_, code) => srgbToLinear(code));

const LINEAR_STEPS = 4096;
/** sRGB codes of LINEAR_STEPS + 1 evenly spaced linear values, for per-pixel loops. */
export const CODE_OF_LINEAR = Uint8ClampedArray.from(
  { length: LINEAR_STEPS + 1 }, (_, step) => Math.round(linearToSrgb(step / LINEAR_STEPS)));

/** Linear 0–1 → sRGB code through the table (within half a code of linearToSrgb). */
export function codeOfLinear(value) {
  const v = value <= 0 ? 0 : value >= 1 ? 1 : value;
  return CODE_OF_LINEAR[Math.round(v * LINEAR_STEPS)];
}

function labF(t) {
  return t > EPSILON ? Math.cbrt(t) : (KAPPA * t + 16) / 116;
}

/** Linear RGB 0–1 → [L*, a*, b*]. */
export function labFromLinear(r, g, b) {
  const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / WHITE[0];
  const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / WHITE[2];
  const fx = labF(x), fy = labF(y), fz = labF(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** sRGB 0–255 → [L*, a*, b*]. */
export function labFromRgb(r, g, b) {
  return labFromLinear(srgbToLinear(r), srgbToLinear(g), srgbToLinear(b));
}

/** [L*, a*, b*] → linear RGB 0–1 (unclipped: out-of-gamut values leave 0–1). */
export function linearFromLab(lightness, a, b) {
  const fy = (lightness + 16) / 116;
  const fx = fy + a / 500, fz = fy - b / 200;
  const inv = (f) => (f ** 3 > EPSILON ? f ** 3 : (116 * f - 16) / KAPPA);
  const x = inv(fx) * WHITE[0], y = inv(fy) * WHITE[1], z = inv(fz) * WHITE[2];
  return [
    3.2404542 * x - 1.5371385 * y - 0.4985314 * z,
    -0.969266 * x + 1.8760108 * y + 0.041556 * z,
    0.0556434 * x - 0.2040259 * y + 1.0572252 * z,
  ];
}

/** [L*, a*, b*] → sRGB codes 0–255 (rounded, clipped). */
export function rgbFromLab(lightness, a, b) {
  return linearFromLab(lightness, a, b).map((v) => Math.round(linearToSrgb(v)));
}

/** "#RRGGBB" → [r, g, b]. */
export function rgbFromHex(hex) {
  const match = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!match) throw new Error(`${hex} is not a #RRGGBB colour`);
  const n = parseInt(match[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** [r, g, b] → "#RRGGBB" (upper case). */
export function hexFromRgb([r, g, b]) {
  return "#" + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** "#RRGGBB" → [L*, a*, b*]. */
export function labFromHex(hex) {
  return labFromRgb(...rgbFromHex(hex));
}

/** [L*, a*, b*] → [L*, C*, h° in 0–360). */
export function lchFromLab([lightness, a, b]) {
  const hue = (Math.atan2(b, a) * 180) / Math.PI;
  return [lightness, Math.hypot(a, b), (hue + 360) % 360];
}

const rad = (deg) => (deg * Math.PI) / 180;

/** CIEDE2000 difference of two [L*, a*, b*] colours (Sharma, Wu & Dalal 2005); kL is the
 *  standard's parametric lightness factor (1 by default; 2 for textured samples such as textiles). */
export function deltaE2000([l1, a1, b1], [l2, a2, b2], kL = 1) {
  const cMean = (Math.hypot(a1, b1) + Math.hypot(a2, b2)) / 2;
  const g = 0.5 * (1 - Math.sqrt(cMean ** 7 / (cMean ** 7 + 25 ** 7)));
  const a1p = (1 + g) * a1, a2p = (1 + g) * a2;
  const c1p = Math.hypot(a1p, b1), c2p = Math.hypot(a2p, b2);
  const hueOf = (b, a) => (a === 0 && b === 0 ? 0 : ((Math.atan2(b, a) * 180) / Math.PI + 360) % 360);
  const h1p = hueOf(b1, a1p), h2p = hueOf(b2, a2p);
  const both = c1p * c2p !== 0;
  let dh = h2p - h1p;
  if (dh > 180) dh -= 360;
  else if (dh < -180) dh += 360;
  if (!both) dh = 0;
  const dH = 2 * Math.sqrt(c1p * c2p) * Math.sin(rad(dh / 2));
  const lMean = (l1 + l2) / 2, cpMean = (c1p + c2p) / 2;
  let hMean = h1p + h2p;
  if (both) {
    hMean = Math.abs(h1p - h2p) <= 180 ? hMean / 2 : hMean < 360 ? (hMean + 360) / 2 : (hMean - 360) / 2;
  }
  const t = 1 - 0.17 * Math.cos(rad(hMean - 30)) + 0.24 * Math.cos(rad(2 * hMean))
    + 0.32 * Math.cos(rad(3 * hMean + 6)) - 0.2 * Math.cos(rad(4 * hMean - 63));
  const dTheta = 30 * Math.exp(-(((hMean - 275) / 25) ** 2));
  const rC = 2 * Math.sqrt(cpMean ** 7 / (cpMean ** 7 + 25 ** 7));
  const sL = 1 + (0.015 * (lMean - 50) ** 2) / Math.sqrt(20 + (lMean - 50) ** 2);
  const sC = 1 + 0.045 * cpMean;
  const sH = 1 + 0.015 * cpMean * t;
  const rT = -Math.sin(rad(2 * dTheta)) * rC;
  const tl = (l2 - l1) / (kL * sL), tc = (c2p - c1p) / sC, th = dH / sH;
  return Math.sqrt(tl * tl + tc * tc + th * th + rT * tc * th);
}
