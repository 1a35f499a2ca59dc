// Face attributes from one photo and its mesh: Monk skin tone, undertone, face shape, each with
// a confidence in 0–1. Pure functions of { data, width, height } (RGBA bytes, as ImageData) and
// the mesh; docs/mirror.md explains each step and how it was checked.

import { LINEAR_OF_CODE, deltaE2000, labFromHex, labFromLinear, lchFromLab } from "./color.js";
import { CHIN, EYES, FACE_TOP, WIDTHS, distance, eyeCentres, forEachPixelIn, forEachSkinPixel,
  pick } from "./regions.js";

/** The Monk Skin Tone scale's ten swatches, 1 (lightest) to 10. */
export const MONK_SWATCHES = ["#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56",
  "#825c43", "#604134", "#3a312a", "#292420"];
export const MONK_LAB = MONK_SWATCHES.map(labFromHex);

/** The knobs of the attribute estimates, in one object (docs/mirror.md says where each came from). */
export const ATTRIBUTE_CONFIG = {
  irisMargin: 1.15, // sclera pixels lie this many iris radii or more from the iris centre
  scleraKeep: 0.4, // the brightest share of the eye's pixels taken as sclera
  minScleraPixels: 3, // fewer sclera pixels in an eye than this: no white balance
  scleraSupersample: 4, // each eye sampled on a grid this many times finer than the pixels
  scleraAgreement: 1.35, // the two eyes' whites may differ by this factor in any channel's share
  // The sclera as measured here in camera-balanced photos, relative (luminance 1): warm, as the
  // brightest eye pixels of a small face include lid and lashes. The median over the faces of the
  // development set (bench/face_analysis.py --development); without it every photo turned bluer.
  scleraTint: [1.59, 0.86, 0.69],
  maxCast: 10, // a sclera whose channels differ more than 2,700 K light makes them is not white
  // Exposure from the sclera's luminance: off. On the development set half-strength (0.5 towards
  // 0.21, their median) cut the lightness error at ×0.7 and 3,000 K but not the Monk errors, and
  // the sclera's luminance in real photos spans 0.015–0.99: too unreliable to trust.
  scleraTarget: 0.21, // linear luminance a sclera is brought towards (see exposureStrength)
  exposureStrength: 0, // 0: exposure not corrected; 1: fully, to scleraTarget
  maxExposureGain: 1.5, // the exposure correction stays within this factor either way
  trim: [0.15, 0.9], // skin pixels kept between these lightness quantiles (shadows, highlights out)
  monkTemperature: 1.5, // softmax temperature over CIEDE2000 distances for the Monk confidence
  // CIEDE2000's kL for the nearest swatch: lightness counts half, as for textured samples (a
  // photo's skin lightness follows exposure more than its hue and chroma do). Chosen on the
  // development set: within ±1 0.94 → 0.97, worst Monk group 0.60 → 0.82 (kL 1 → 2).
  monkLightnessWeight: 2,
  undertoneBand: 6, // degrees of hue off the Monk swatch of the same depth that make cool or warm
};

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
const median = (values) => quantile(Float64Array.from(values).sort(), 0.5);

/** The two irises as circles { cx, cy, r }: Human numbers them 468–472 and 473–477, in the
 *  opposite order to MediaPipe, so each is matched to the eye whose centre it is nearest. */
export function irisCircles(mesh) {
  if (mesh.length < 478) return [];
  const sets = [mesh.slice(468, 473), mesh.slice(473, 478)].map((points) => {
    const cx = points.reduce((s, p) => s + p[0], 0) / 5, cy = points.reduce((s, p) => s + p[1], 0) / 5;
    return { cx, cy, r: Math.max(...points.map((p) => Math.hypot(p[0] - cx, p[1] - cy))) };
  });
  const eyes = eyeCentres(mesh);
  const nearRight = Math.hypot(sets[0].cx - eyes.right[0], sets[0].cy - eyes.right[1])
    <= Math.hypot(sets[1].cx - eyes.right[0], sets[1].cy - eyes.right[1]);
  return nearRight ? sets : [sets[1], sets[0]];
}

/** The whites of the eyes: the sclera of each eye (its contour minus a margin around the
 *  iris), its brightest part (`scleraKeep`: lashes, lid shadow and the skin at the corners are
 *  darker), per-channel median in linear RGB, then the mean of the two eyes. Returns { rgb,
 *  luminance, pixels }; rgb is null when an eye has fewer than `minScleraPixels` (closed, a tiny
 *  face) or the two eyes disagree in colour by more than `scleraAgreement` (a reflection, a
 *  shadow, tinted glasses): then the photo has no trustworthy white. */
export function scleraWhite(pixels, mesh, config = ATTRIBUTE_CONFIG) {
  const { data, width, height } = pixels;
  const irises = irisCircles(mesh);
  // an eye of a small face is a few hundred pixels: sample it on a finer grid (bilinear), so
  // the brightest share and its median are taken over enough samples
  const k = config.scleraSupersample;
  const linearAt = (x, y, c) => {
    const x0 = Math.max(0, Math.min(width - 2, Math.floor(x))), y0 = Math.max(0, Math.min(height - 2, Math.floor(y)));
    const fx = Math.min(1, Math.max(0, x - x0)), fy = Math.min(1, Math.max(0, y - y0));
    const at = (xx, yy) => LINEAR_OF_CODE[data[4 * (yy * width + xx) + c]];
    return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
  };
  const eyes = ["right", "left"].map((side, e) => {
    const iris = irises[e];
    const samples = [];
    const fine = pick(mesh, EYES[side]).map(([x, y]) => [x * k, y * k]);
    forEachPixelIn(fine, width * k, height * k, (fx, fy) => {
      const x = (fx + 0.5) / k, y = (fy + 0.5) / k; // the sample's position in image pixels
      if (iris && Math.hypot(x - iris.cx, y - iris.cy) < iris.r * config.irisMargin) return;
      const rgb = [0, 1, 2].map((c) => linearAt(x - 0.5, y - 0.5, c));
      samples.push([luminanceOf(rgb), rgb]);
    });
    samples.sort((p, q) => q[0] - p[0]);
    const bright = samples.slice(0, Math.round(samples.length * config.scleraKeep));
    const pixels = bright.length / (k * k);
    return pixels < config.minScleraPixels ? null
      : { rgb: [0, 1, 2].map((c) => median(bright.map(([, value]) => value[c]))), pixels };
  });
  const pixelCount = eyes.reduce((n, eye) => n + (eye ? eye.pixels : 0), 0);
  if (!eyes[0] || !eyes[1]) return { rgb: null, luminance: NaN, pixels: pixelCount };
  const chromaticity = (rgb) => rgb.map((v) => Math.max(v, 1e-4) / Math.max(luminanceOf(rgb), 1e-4));
  const [right, left] = eyes.map((eye) => chromaticity(eye.rgb));
  const disagreement = Math.max(...right.map((v, c) => Math.abs(Math.log(v / left[c]))));
  const agreement = Math.exp(disagreement);
  if (agreement > config.scleraAgreement) return { rgb: null, luminance: NaN, pixels: pixelCount, agreement };
  const rgb = [0, 1, 2].map((c) => (eyes[0].rgb[c] + eyes[1].rgb[c]) / 2);
  return { rgb, luminance: luminanceOf(rgb), pixels: pixelCount, agreement };
}

const luminanceOf = ([r, g, b]) => 0.2126729 * r + 0.7151522 * g + 0.072175 * b;

/** White balance on the sclera: per-channel gains that give it the colour the sclera measures
 *  in balanced photos (`scleraTint`: so a balanced photo is left as it is, and a colour cast of
 *  the light cancels) and bring its luminance towards `scleraTarget` by `exposureStrength`
 *  (0: exposure left alone; 1: the sclera always at the target). No white eye (too few pixels,
 *  or a cast beyond `maxCast`: tinted glasses, a squint) gives [1, 1, 1]. */
export function scleraGains(pixels, mesh, config = ATTRIBUTE_CONFIG) {
  const white = scleraWhite(pixels, mesh, config);
  if (!white.rgb || !(white.luminance > 0)) return [1, 1, 1];
  const gains = white.rgb.map((v, c) => (white.luminance * config.scleraTint[c]) / Math.max(v, 1e-4));
  // a cast stronger than warm 2,700 K light gives is not a white eye
  if (Math.max(...gains) / Math.min(...gains) > config.maxCast) return [1, 1, 1];
  const exposure = Math.min(config.maxExposureGain, Math.max(1 / config.maxExposureGain,
    (config.scleraTarget / white.luminance) ** config.exposureStrength));
  return gains.map((gain) => gain * exposure);
}

/** The skin's colour: CIELAB of the white-balanced pixels of cheeks, nose and forehead,
 *  trimmed by lightness (shadow, hair and highlight out), then the per-channel median.
 *  Returns { lab, spread (lightness interquartile range), pixels (count kept) }. */
export function skinLab(pixels, mesh, gains, config = ATTRIBUTE_CONFIG) {
  const { data, width, height } = pixels;
  const labs = [];
  forEachSkinPixel(mesh, width, height, (x, y) => {
    const i = 4 * (y * width + x);
    labs.push(labFromLinear(LINEAR_OF_CODE[data[i]] * gains[0], LINEAR_OF_CODE[data[i + 1]] * gains[1],
      LINEAR_OF_CODE[data[i + 2]] * gains[2]));
  });
  if (!labs.length) return { lab: [NaN, NaN, NaN], spread: NaN, pixels: 0 };
  const lightness = Float64Array.from(labs, (lab) => lab[0]).sort();
  const [lo, hi] = config.trim.map((q) => quantile(lightness, q));
  const kept = labs.filter((lab) => lab[0] >= lo && lab[0] <= hi);
  return {
    lab: [0, 1, 2].map((c) => median(kept.map((lab) => lab[c]))),
    spread: quantile(lightness, 0.75) - quantile(lightness, 0.25),
    pixels: kept.length,
  };
}

/** Softmax of -distance / temperature: the weight of each candidate. */
export function softmin(distances, temperature) {
  const best = Math.min(...distances);
  const weights = distances.map((d) => Math.exp(-(d - best) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Monk tone of a skin colour: the nearest swatch by CIEDE2000 (ITA° bands alone cannot tell
 *  Monk 1–4 apart). { value: 1–10, confidence, distances }. */
export function monkTone(lab, config = ATTRIBUTE_CONFIG) {
  const distances = MONK_LAB.map((swatch) => deltaE2000(lab, swatch, config.monkLightnessWeight));
  const weights = softmin(distances, config.monkTemperature);
  const index = distances.indexOf(Math.min(...distances));
  return { value: index + 1, confidence: weights[index], distances };
}

/** Undertone from the skin's hue angle, against the hue of the Monk swatch of the same depth
 *  (nearest in lightness and chroma: the scale's own hue drifts from 89° at Monk 3 to 49° at
 *  Monk 8, so one absolute hue threshold would call every deep skin cool). More than
 *  `undertoneBand` degrees redder is cool, more than that yellower is warm.
 *  { value, confidence, hueOffset, reference (Monk 1–10 whose hue is the reference) }. */
export function undertone(lab, config = ATTRIBUTE_CONFIG) {
  const [lightness, chroma, hue] = lchFromLab(lab);
  const depth = MONK_LAB.map((swatch) => {
    const [l, c] = lchFromLab(swatch);
    return Math.hypot(l - lightness, c - chroma);
  });
  const reference = depth.indexOf(Math.min(...depth));
  const offset = ((hue - lchFromLab(MONK_LAB[reference])[2] + 540) % 360) - 180;
  const band = config.undertoneBand;
  const value = offset < -band ? "cool" : offset > band ? "warm" : "neutral";
  const margin = value === "neutral" ? band - Math.abs(offset) : Math.abs(offset) - band;
  return { value, confidence: 0.5 + 0.5 * Math.tanh(margin / (band / 2)), hueOffset: offset, reference: reference + 1 };
}

/** Width and length ratios of the face, all relative to the cheekbone width, so that scale,
 *  rotation and mirroring leave them unchanged. */
export function faceRatios(mesh) {
  const width = (pair) => distance(mesh[pair[0]], mesh[pair[1]]);
  const cheekbones = width(WIDTHS.cheekbones);
  return {
    length: distance(mesh[FACE_TOP], mesh[CHIN]) / cheekbones,
    jaw: width(WIDTHS.jaw) / cheekbones,
    forehead: width(WIDTHS.forehead) / cheekbones,
    lowerJaw: width(WIDTHS.lowerJaw) / cheekbones,
  };
}

/** Face-shape prototypes in ratio space: a shape is the nearest prototype, after scaling each
 *  ratio by its spread. Set from the mesh of faces in Human's samples (not the bench's photos):
 *  `oval` is their typical face; each other shape moves the ratios its definition names
 *  (oblong: longer; round: shorter with a soft jaw; square: shorter with a wide jaw; heart:
 *  wide forehead, narrow jaw; diamond: narrow forehead and jaw). */
export const FACE_SHAPES = {
  oval: { length: 1.1, jaw: 0.82, forehead: 0.84, lowerJaw: 0.58 },
  oblong: { length: 1.24, jaw: 0.82, forehead: 0.85, lowerJaw: 0.58 },
  round: { length: 0.98, jaw: 0.84, forehead: 0.85, lowerJaw: 0.62 },
  square: { length: 1.02, jaw: 0.89, forehead: 0.87, lowerJaw: 0.66 },
  heart: { length: 1.1, jaw: 0.77, forehead: 0.9, lowerJaw: 0.52 },
  diamond: { length: 1.12, jaw: 0.77, forehead: 0.78, lowerJaw: 0.54 },
};
export const FACE_SHAPE_SPREAD = { length: 0.06, jaw: 0.03, forehead: 0.03, lowerJaw: 0.04 };

/** The face shape: { value, confidence, ratios }. */
export function faceShape(mesh, shapes = FACE_SHAPES, spread = FACE_SHAPE_SPREAD) {
  const ratios = faceRatios(mesh);
  const names = Object.keys(shapes);
  const distances = names.map((name) => Math.hypot(
    ...Object.keys(spread).map((key) => (ratios[key] - shapes[name][key]) / spread[key])));
  const weights = softmin(distances, 1);
  const index = distances.indexOf(Math.min(...distances));
  return { value: names[index], confidence: weights[index], ratios };
}

/** Every attribute of one face: { skinTone, undertone, faceShape, skin, gains }, in the shape of
 *  the try-on events' `face` field plus the confidences and the measurements behind them. */
export function analyseFace(pixels, mesh, config = ATTRIBUTE_CONFIG) {
  const gains = scleraGains(pixels, mesh, config);
  const skin = skinLab(pixels, mesh, gains, config);
  return {
    skinTone: monkTone(skin.lab, config),
    sclera: scleraWhite(pixels, mesh, config).luminance,
    undertone: undertone(skin.lab, config),
    faceShape: faceShape(mesh),
    skin,
    gains,
  };
}
