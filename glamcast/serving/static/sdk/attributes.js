// Face attributes from one photo and its mesh: Monk skin tone, undertone, face shape, each with
// a confidence in 0–1. Pure functions of { data, width, height } (RGBA bytes, as ImageData) and
// the mesh; docs/mirror.md explains each step and how it was checked.

import { LINEAR_OF_CODE, deltaE2000, labFromHex, labFromLinear, lchFromLab, linearFromLab } from "./color.js";
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
  minScleraPixels: 3, // fewer sclera pixels in an eye than this: that eye is not used
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
  // Chosen on the development set (docs/mirror.md, "Round 2"): softmax temperature over the Monk
  // distances, the NLL optimum (1.25–2 within 0.015); mean confidence 0.70 against 0.69 exact.
  monkTemperature: 1.5,
  // The lightness term's kL in the Monk distance (monkDistance): lightness counts 1/1.5, as for
  // textured samples (a photo's skin lightness follows exposure more than its colour does).
  // Development set, all lights: worst group 0.867 (kL 1.5) against 0.864 (kL 2); kL 3, tried
  // before gainsAtLeastOne, was level with kL 2 (0.793 against 0.787) and worse on undertone.
  monkLightnessWeight: 1.5,
  // Monk distance on the skin's chromaticity brought to each swatch's luminance, plus the
  // lightness term (false: plain CIEDE2000 with kL, as in round 1).
  matchedLuminance: true,
  clipCode: 250, // a skin pixel with a channel at or above this code has lost its colour to clipping
  // Eyes that disagree (`scleraAgreement`) still balance, on the geometric mean of the two whites
  // and one eye too small leaves the other (round 1 left both unbalanced: 10 of the 22
  // development faces, whose light's cast then stayed).
  scleraFallback: true,
  // Gains scaled so the smallest is 1, as a camera's raw white balance is: a coloured light that
  // dimmed two channels gets them back (round 1 kept the sclera's luminance, so 3,000 K light left
  // the skin 14 L* darker). Exposure itself (×0.7, ×1.3) stays uncorrected.
  gainsAtLeastOne: true,
  skinBelowMouth: true, // the skin sample includes the chin and jaw below the mouth corners
  undertoneReference: "monk", // hue reference: the Monk swatch found ("depth": nearest in L*, C*)
  undertoneBand: 6, // degrees of hue off the reference swatch that make cool or warm
  // The a*b* noise of a skin measurement, for the undertone's confidence (its hue noise is this
  // over the chroma): 3 on the development set (NLL 1.20, minimum 1.18 at 4; mean confidence 0.63
  // against accuracy 0.67). Round 1's tanh margin said 0.91 on average for 0.58 right.
  undertoneNoise: 3,
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
 *  darker), per-channel median in linear RGB, then the mean of the two eyes; when they disagree
 *  in colour by more than `scleraAgreement` (a reflection, a shadow on one side), their geometric
 *  mean (with `scleraFallback`; without it, no white). An eye with fewer than `minScleraPixels`
 *  (closed, a tiny face) is left out. Returns { rgb, luminance, pixels, agreement, eyes }; rgb is
 *  null when neither eye counts. */
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
  const valid = eyes.filter(Boolean);
  if (!valid.length) return { rgb: null, luminance: NaN, pixels: pixelCount };
  const chromaticity = (rgb) => rgb.map((v) => Math.max(v, 1e-4) / Math.max(luminanceOf(rgb), 1e-4));
  let agreement = NaN;
  if (valid.length === 2) {
    const [right, left] = valid.map((eye) => chromaticity(eye.rgb));
    agreement = Math.exp(Math.max(...right.map((v, c) => Math.abs(Math.log(v / left[c])))));
  }
  if (valid.length === 2 && agreement > config.scleraAgreement && !config.scleraFallback) {
    return { rgb: null, luminance: NaN, pixels: pixelCount, agreement };
  }
  // eyes that agree: their mean; eyes that disagree (a reflection, a shadow on one side): the
  // per-channel geometric mean, and the Planckian fit (scleraGains) keeps only a light's colour
  const rgb = valid.length === 1 ? valid[0].rgb
    : agreement <= config.scleraAgreement ? [0, 1, 2].map((c) => (valid[0].rgb[c] + valid[1].rgb[c]) / 2)
      : [0, 1, 2].map((c) => Math.sqrt(valid[0].rgb[c] * valid[1].rgb[c]));
  return { rgb, luminance: luminanceOf(rgb), pixels: pixelCount, agreement, eyes: valid.length };
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
  let gains = white.rgb.map((v, c) => (white.luminance * config.scleraTint[c]) / Math.max(v, 1e-4));
  // a cast stronger than warm 2,700 K light gives is not a white eye
  if (Math.max(...gains) / Math.min(...gains) > config.maxCast) return [1, 1, 1];
  if (config.gainsAtLeastOne) {
    // as a camera's white balance does (raw multipliers scaled so the smallest is 1): no channel
    // is darkened, so a coloured light that dimmed the others gets them back
    const least = Math.min(...gains);
    gains = gains.map((gain) => gain / least);
  }
  const exposure = Math.min(config.maxExposureGain, Math.max(1 / config.maxExposureGain,
    (config.scleraTarget / white.luminance) ** config.exposureStrength));
  return gains.map((gain) => gain * exposure);
}

/** The skin's colour: CIELAB of the white-balanced pixels of cheeks, nose and forehead,
 *  trimmed by lightness (shadow, hair and highlight out): the median luminance, with the median
 *  chromaticity of the kept pixels that have no channel clipped (`clipCode`). Returns { lab,
 *  spread (lightness interquartile range), pixels (count kept), clipped (share left out) }. */
export function skinLab(pixels, mesh, gains, config = ATTRIBUTE_CONFIG) {
  const { data, width, height } = pixels;
  const samples = []; // [L*, r, g, b (balanced linear), clipped]
  forEachSkinPixel(mesh, width, height, (x, y) => {
    const i = 4 * (y * width + x);
    const rgb = [0, 1, 2].map((c) => LINEAR_OF_CODE[data[i + c]] * gains[c]);
    const clipped = Math.max(data[i], data[i + 1], data[i + 2]) >= config.clipCode;
    samples.push([labFromLinear(rgb[0], rgb[1], rgb[2])[0], rgb, clipped]);
  }, { belowMouth: config.skinBelowMouth });
  if (!samples.length) return { lab: [NaN, NaN, NaN], spread: NaN, pixels: 0 };
  const lightness = Float64Array.from(samples, (sample) => sample[0]).sort();
  const [lo, hi] = config.trim.map((q) => quantile(lightness, q));
  const kept = samples.filter(([l]) => l >= lo && l <= hi);
  // the colour (chromaticity) from the pixels no channel of which is clipped: a clipped pixel
  // has lost its colour towards white; its luminance still counts
  const unclipped = kept.filter((sample) => !sample[2]);
  const chromaSource = unclipped.length >= Math.max(20, 0.05 * kept.length) ? unclipped : kept;
  const chroma = [0, 1, 2].map((c) => median(chromaSource.map(([, rgb]) => rgb[c] / Math.max(luminanceOf(rgb), 1e-6))));
  const luminance = median(kept.map(([, rgb]) => luminanceOf(rgb)));
  const scale = luminance / Math.max(luminanceOf(chroma), 1e-6);
  return {
    lab: labFromLinear(chroma[0] * scale, chroma[1] * scale, chroma[2] * scale),
    spread: quantile(lightness, 0.75) - quantile(lightness, 0.25),
    pixels: kept.length,
    clipped: 1 - unclipped.length / kept.length,
  };
}

/** The standard normal distribution function (Abramowitz & Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(z) {
  const x = Math.abs(z) / Math.SQRT2, t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Softmax of -distance / temperature: the weight of each candidate. */
export function softmin(distances, temperature) {
  const best = Math.min(...distances);
  const weights = distances.map((d) => Math.exp(-(d - best) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

/** Monk tone of a skin colour: the nearest swatch by monkDistance (ITA° bands alone cannot tell
 *  Monk 1–4 apart). { value: 1–10, confidence, distances }. */
export function monkTone(lab, config = ATTRIBUTE_CONFIG) {
  const distances = MONK_LAB.map((swatch) => monkDistance(lab, swatch, config));
  const weights = softmin(distances, config.monkTemperature);
  const index = distances.indexOf(Math.min(...distances));
  return { value: index + 1, confidence: weights[index], distances };
}

/** The distance of a skin colour to a swatch: CIEDE2000 of the skin brought to the swatch's
 *  luminance (its chromaticity kept: exposure scales linear RGB and leaves chromaticity alone),
 *  combined with the lightness difference weighted down by `monkLightnessWeight` (CIEDE2000's
 *  own lightness term with kL = that weight). */
export function monkDistance(lab, swatch, config = ATTRIBUTE_CONFIG) {
  const kL = config.monkLightnessWeight;
  if (!config.matchedLuminance) return deltaE2000(lab, swatch, kL);
  const rgb = linearFromLab(lab[0], lab[1], lab[2]).map((v) => Math.max(v, 0));
  const target = linearFromLab(swatch[0], 0, 0)[1];
  const y = Math.max(luminanceOf(rgb), 1e-6);
  const matched = labFromLinear(...rgb.map((v) => (v * target) / y));
  const colour = deltaE2000(matched, swatch, 1);
  const meanL = (lab[0] + swatch[0]) / 2;
  const sL = 1 + (0.015 * (meanL - 50) ** 2) / Math.sqrt(20 + (meanL - 50) ** 2);
  return Math.hypot(colour, (lab[0] - swatch[0]) / (kL * sL));
}

/** Undertone from the skin's hue angle, against the hue of the Monk swatch the skin matches
 *  (monkTone; `undertoneReference: "depth"`: nearest in lightness and chroma): the scale's own hue
 *  drifts from 89° at Monk 3 to 49° at Monk 8, so one absolute hue threshold would call every
 *  deep skin cool. More than `undertoneBand` degrees redder is cool, more than that yellower is
 *  warm. Confidence: the probability of the chosen class under `undertoneNoise` a*b* units of
 *  measurement noise. { value, confidence, hueOffset, reference (Monk 1–10), chroma }. */
export function undertone(lab, config = ATTRIBUTE_CONFIG) {
  const [lightness, chroma, hue] = lchFromLab(lab);
  let reference;
  if (config.undertoneReference === "monk") {
    reference = monkTone(lab, config).value - 1;
  } else {
    const depth = MONK_LAB.map((swatch) => {
      const [l, c] = lchFromLab(swatch);
      return Math.hypot(l - lightness, c - chroma);
    });
    reference = depth.indexOf(Math.min(...depth));
  }
  const offset = ((hue - lchFromLab(MONK_LAB[reference])[2] + 540) % 360) - 180;
  const band = config.undertoneBand;
  const value = offset < -band ? "cool" : offset > band ? "warm" : "neutral";
  // the measured hue is the true one plus noise of `undertoneNoise` a*b* units, i.e. that many
  // over the chroma in radians: the probability that the true offset lies in the chosen class
  const sigma = Math.max(1e-3, (config.undertoneNoise / Math.max(chroma, 1e-3)) * (180 / Math.PI));
  const below = normalCdf((-band - offset) / sigma), above = 1 - normalCdf((band - offset) / sigma);
  const confidence = value === "cool" ? below : value === "warm" ? above : 1 - below - above;
  return { value, confidence, hueOffset: offset, reference: reference + 1, chroma };
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
