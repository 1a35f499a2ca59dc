// Makeup transfer: a look extracted from a reference photo (a post, a celebrity), on the device.
//
//   const reference = await mirror.analyse(photo);           // the face in the reference photo
//   const look = extractLook(pixelsOf(photo), reference.mesh); // [{ region, shade_hex, lab, finish, intensity, ... }]
//   mirror.render(canvas, myPhoto, myFace, look);              // the look on the person's own face
//   const products = await matchLook("", apiKey, look);       // POST /v1/looks/match: numbers only
//
// The extraction inverts the renderer (render.js), whose forward model is known exactly: per
// pixel, in sRGB codes, observed = (1 − w)·skin + w·made, with w = mask × intensity × the
// region's opacity cap (lips 1, eyes 0.7, cheeks 0.45, brows 0.75) and made = the shade's a*b*
// at the shade's L* plus the finish's share of the skin's own lightness deviation (and the
// finish's highlights and sparkles). Per region:
// - the skin under the product (`fitSkinUnder`): per face side, a robust least-squares fit over
//   the region's footprint, feather and surroundings included, of every pixel's code as a plane
//   in the face (the skin and its light) plus the mask times a second plane (the product):
//   observed ≈ S(x, y) + mask · D(x, y). The feathered edge gives every mask value between 0 and
//   1, so the skin under the region (S, where the mask is ~1) is separated from the product (D);
//   eyes, lashes, the mouth and the other regions are left out of the fit. The cheeks' wide,
//   soft mask lets the planes trade the cheek's own light for product: there the skin is the
//   ring's median instead (`ringBase`). The lids' mask is first registered on the photo
//   (`registerRegion`): landmarks found on a made-up face sit a pixel or so off;
// - the shade: each region pixel (mask ≥ 0.5, the renderer's own reference set) unmixed from
//   S at its weight w, then the median CIELAB (the renderer's lightness is the shade's at the
//   median pixel, so the median recovers it; the cheeks from their densest pixels only, where a
//   skin error is least amplified); on lips and brows again over the pixels on that
//   median's hue only (`shadeOf`: every product pixel has the shade's a*b*, skin under a mask
//   the re-found landmarks moved does not);
// - the intensity: NOT identifiable from one photo. The fit identifies only
//   intensity × (shade − skin): a sheer deep shade and a dense pale one give the same pixels.
//   The extraction therefore returns the shade that reproduces the region at full intensity
//   (`assumedIntensity`, 1): on a look applied at full intensity it is the applied shade; on a
//   sheer one it is the colour a person sees, which re-rendered at intensity 1 gives the same
//   picture (docs/mirror.md, "Makeup transfer": measured as appearance ΔE);
// - the finish (`finishFeatures`, `finishOf`): statistics of what the renderer's finishes do,
//   normalised by the weight so they do not depend on the region's opacity: sparkles (share of
//   pixels jumping above their 8 neighbours by a share of the sparkle gain, beyond the skin's own
//   share) and texture (the unmixed lightness spread against the skin's); the nearest of the
//   renderer's finishes' prototypes (`FINISH_PROTOTYPES`, measured on the development looks).
//   Highlights are left out: the renderer barely lifts anything on these faces (finishFeatures).
// The photo's pixels stay in the page: only the look's numbers are sent (matchLook).

import { LINEAR_OF_CODE, deltaE2000, hexFromRgb, labFromLinear, rgbFromLab } from "./color.js";
import { EYES, FACE_OVAL, LIPS_INNER, NOSE_BRIDGE, faceFrame, pick, polygonMask, scaledPolygon } from "./regions.js";
import { REGIONS, REGION_STYLE, regionMask } from "./render.js";

/** The renderer's own finishes as seen by `finishFeatures` (feature order FINISH_FEATURES), as
 *  printed by `bench/look_transfer.py --calibrate --looks 8` (the development looks: seed 0, the
 *  astronaut and Grace Hopper, full intensity; 64 regions): per region each feature's mean and
 *  spread (`standardise`), per finish the mean standardised features, and the pooled spread. */
export const FINISH_FEATURES = ["sparkleLow", "sparkleHigh", "texture"];
export const FINISH_PROTOTYPES = {
  standardise: {
    lips: { mean: [0.0173, 0.006, 2.0182], std: [0.0257, 0.0109, 0.4575] },
    eyes: { mean: [0.0832, 0.0557, 2.5097], std: [0.0372, 0.0391, 0.4497] },
    cheeks: { mean: [-0.0327, -0.0105, 1.0199], std: [0.0285, 0.0184, 0.1923] },
    brows: { mean: [0.0111, 0.0051, 0.9997], std: [0.0265, 0.0107, 0.1419] },
  },
  matte: [-0.951, -0.959, -0.616],
  satin: [-0.425, -0.326, -0.222],
  gloss: [-0.582, -0.367, 0.006],
  shimmer: [0.512, 1.106, -0.14],
  metallic: [1.244, 0.415, 0.844],
  scale: [0.58, 0.703, 0.872],
};

/** The knobs of the extraction, in one object (docs/mirror.md says how each was set). */
export const TRANSFER_CONFIG = {
  body: 0.5, // region pixels: mask from here (the renderer's reference set)
  core: 0.8, // finish statistics: mask from here × its peak
  otherMask: 0.02, // the fit leaves out pixels where another region's mask exceeds this
  eyeGrow: 1.3, // ... and the eyes (lashes), grown about their centre by this
  ovalShrink: 0.96, // ... and whatever lies outside the face oval shrunk by this
  // regions whose skin is the ring's median (per side), not the fit's plane (seed-0 development:
  // cheeks 16.2 → 9.0 ΔE00; the lids were worse with the ring, 9.1 → 14.6)
  ringBase: ["cheeks"],
  register: [1, 0.5], // coarse-to-fine steps (pixels) of the mask shifts tried to register a region's mask
  registerRegions: ["eyes"], // lips and brows: their landmarks move in shape, not place (registering hurt on seed 0)
  ringBand: [0, 0.02], // the ring: fit pixels whose own mask lies in this band
  bodyOf: {}, // per region, a body threshold other than `body`
  iterations: 5, // robust (Tukey) reweighting rounds of the fit
  tukey: 4.0, // residuals beyond this many robust spreads get no weight
  assumedIntensity: 1, // intensity is not identifiable: the shade is the full-intensity equivalent
  minWeight: 0.08, // pixels whose weight (mask × opacity × intensity) is below this are not unmixed
  sparkleZ: [0.6, 1.25], // sparkle thresholds, in units of 12 L* × the pixel's weight
  minChroma: 4, // below this chroma (a*b*) a shade has no hue: no hue filter (`shadeOf`)
  minPixels: 20, // fewest pixels a subset of a region (densest, on-hue, non-sparkle) must keep to stand for it
  // per region, the hue tolerance (a*b* at weight 1) of the shade's pixels (`shadeOf`); seed-0
  // development: lips 3.91 → 2.65, brows 5.92 → 5.39 ΔE00; on lids and cheeks it did not help
  shadeHueTolerance: { lips: 8, brows: 5 },
  // per region, the shade from the pixels whose mask is at least this (× its peak at most 0.9):
  // a skin error δ comes back × (1 − w) / w, smallest where w is largest (seed-0 development:
  // cheeks 8.93 → 7.63 ΔE00; the lids were worse from 0.6 up, 9.1 → 13–15)
  shadeBodyOf: { cheeks: 0.8 },
  prototypes: FINISH_PROTOTYPES,
};

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
const sortedOf = (values) => Float64Array.from(values).sort();
const median = (values) => (values.length ? quantile(sortedOf(values), 0.5) : NaN);
const labOfCodes = (r, g, b) => labFromLinear(LINEAR_OF_CODE[r], LINEAR_OF_CODE[g], LINEAR_OF_CODE[b]);
const clampCode = (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** Masks of every region over the image: { region: { bounds, alpha } }. */
export function regionMasks(mesh, width, height) {
  return Object.fromEntries(REGIONS.map((region) => [region, regionMask(mesh, region, width, height)]));
}

function maskAt(mask, x, y) {
  const { bounds, alpha } = mask;
  const u = x - bounds.x, v = y - bounds.y;
  if (u < 0 || v < 0 || u >= bounds.width || v >= bounds.height) return 0;
  return alpha[v * bounds.width + u];
}

/** Pixels that are never skin under a product: the eyes (grown, lashes), the mouth's opening,
 *  and outside the face oval. A Uint8Array over the image, 1 = left out. */
export function nonSkinMask(mesh, width, height, config = TRANSFER_CONFIG) {
  const out = polygonMask([scaledPolygon(pick(mesh, EYES.right), config.eyeGrow),
    scaledPolygon(pick(mesh, EYES.left), config.eyeGrow), pick(mesh, LIPS_INNER)], width, height);
  const inside = polygonMask([scaledPolygon(pick(mesh, FACE_OVAL), config.ovalShrink)], width, height);
  for (let i = 0; i < out.length; i++) if (!inside[i]) out[i] = 1;
  return out;
}

/** Solve the symmetric system A x = b (n × n, row-major arrays) by Gaussian elimination with
 *  partial pivoting; null when singular. */
function solve(A, b, n) {
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (Math.abs(M[p][c]) < 1e-12) return null;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** The skin under a region and the product over it, per face side (lips: one fit): a robust
 *  least-squares fit of each pixel's sRGB codes over the region's bounds (the mask's footprint,
 *  its feather and 3 feathers around it), leaving out other regions and non-skin, as
 *  observed = S(u, v) + m · D(u, v), S and D planes in face coordinates (u, v in inter-ocular
 *  distances), m the region's mask. Returns { sides: [{ centre, S: [3 × 3], D: [3 × 3], n }],
 *  sideOf(x), skinAt(x, y) → [r, g, b] codes }. */
export function fitSkinUnder(pixels, mesh, masks, region, excluded, config = TRANSFER_CONFIG) {
  const { data, width } = pixels;
  const { bounds, alpha } = masks[region];
  const { iod } = faceFrame(mesh);
  const split = region === "lips" ? null : mesh[NOSE_BRIDGE][0];
  const sideOf = (x) => (split === null ? 0 : x < split ? 0 : 1);
  const rows = [[], []];
  for (let v = 0; v < bounds.height; v++) {
    for (let u = 0; u < bounds.width; u++) {
      const x = bounds.x + u, y = bounds.y + v;
      if (excluded[y * width + x]) continue;
      let other = false;
      for (const name of REGIONS) if (name !== region && maskAt(masks[name], x, y) > config.otherMask) other = true;
      if (other) continue;
      const i = 4 * (y * width + x);
      rows[sideOf(x)].push([x, y, alpha[v * bounds.width + u], data[i], data[i + 1], data[i + 2]]);
    }
  }
  const sides = rows.map((list) => {
    if (list.length < 30) return null;
    const cx = list.reduce((s, r) => s + r[0], 0) / list.length, cy = list.reduce((s, r) => s + r[1], 0) / list.length;
    const X = list.map(([x, y, m]) => { const p = (x - cx) / iod, q = (y - cy) / iod; return [1, p, q, m, m * p, m * q]; });
    const weights = new Float64Array(list.length).fill(1);
    let beta = null;
    for (let round = 0; round < config.iterations; round++) {
      const A = Array.from({ length: 6 }, () => new Array(6).fill(0));
      const B = [0, 1, 2].map(() => new Array(6).fill(0));
      for (let k = 0; k < list.length; k++) {
        const w = weights[k];
        if (!w) continue;
        const row = X[k];
        for (let a = 0; a < 6; a++) {
          for (let b = a; b < 6; b++) A[a][b] += w * row[a] * row[b];
          for (let c = 0; c < 3; c++) B[c][a] += w * row[a] * list[k][3 + c];
        }
      }
      for (let a = 0; a < 6; a++) { A[a][a] += 1e-6; for (let b = 0; b < a; b++) A[a][b] = A[b][a]; }
      const next = B.map((rhs) => solve(A, rhs, 6));
      if (next.some((x) => x === null)) break;
      beta = next;
      const residuals = list.map((r, k) => Math.hypot(...[0, 1, 2].map((c) => r[3 + c] - X[k].reduce((s, x, j) => s + x * beta[c][j], 0))));
      const scale = Math.max(1, 1.4826 * median(residuals)) * config.tukey;
      residuals.forEach((e, k) => { const t = e / scale; weights[k] = t < 1 ? (1 - t * t) ** 2 : 0; });
    }
    if (!beta) return null;
    const residuals = list.map((r, k) => Math.hypot(...[0, 1, 2].map((c) => r[3 + c] - X[k].reduce((s, x, j) => s + x * beta[c][j], 0))));
    return { centre: [cx, cy], S: beta.map((c) => c.slice(0, 3)), D: beta.map((c) => c.slice(3)), n: list.length,
      spread: 1.4826 * median(residuals) };
  });
  // the ring: per side, the median codes of the fit's pixels outside the region's mask
  const ringBase = rows.map((list) => {
    const outside = list.filter((r) => r[2] >= config.ringBand[0] && r[2] < config.ringBand[1]);
    return outside.length < 10 ? null : [3, 4, 5].map((c) => median(outside.map((r) => r[c])));
  });
  const useRing = config.ringBase?.includes(region);
  const skinAt = (x, y) => {
    if (useRing) return ringBase[sideOf(x)] ?? ringBase[1 - sideOf(x)] ?? ringBase[0];
    const side = sides[sideOf(x)] ?? sides[1 - sideOf(x)] ?? sides[0];
    if (!side) return null;
    const p = (x - side.centre[0]) / iod, q = (y - side.centre[1]) / iod;
    return side.S.map((s) => s[0] + s[1] * p + s[2] * q);
  };
  return { sides, sideOf, skinAt, ringBase };
}

/** Lightness of the pixel (x, y) minus the median of its 8 neighbours'. */
function jumpAt(lightness, width, height, x, y) {
  if (x < 1 || y < 1 || x >= width - 1 || y >= height - 1) return 0;
  const around = [];
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) if (dx || dy) around.push(lightness(x + dx, y + dy));
  around.sort((p, q) => p - q);
  return lightness(x, y) - (around[3] + around[4]) / 2;
}

/** The statistics of one region of a made-up photo: the shade (median CIELAB of its pixels
 *  unmixed from the fitted skin), the finish features, and the fit. `excluded`: nonSkinMask. */
export function regionStatistics(pixels, mesh, masks, region, excluded, config = TRANSFER_CONFIG) {
  const { data, width, height } = pixels;
  const { bounds, alpha } = masks[region];
  const fit = fitSkinUnder(pixels, mesh, masks, region, excluded, config);
  const opacity = REGION_STYLE[region].opacity;
  const intensity = config.assumedIntensity;
  let peak = 0;
  for (let i = 0; i < alpha.length; i++) peak = Math.max(peak, alpha[i]);
  const order = ["cheeks", "eyes", "brows", "lips"]; // the renderer's drawing order
  const later = order.slice(order.indexOf(region) + 1);
  const cache = new Map();
  const lightness = (x, y) => {
    const key = y * width + x;
    let l = cache.get(key);
    if (l === undefined) { const i = 4 * key; l = labOfCodes(data[i], data[i + 1], data[i + 2])[0]; cache.set(key, l); }
    return l;
  };
  const made = []; // [L, a, b, z (sparkle jump / its expected size), core?, w, mask]
  const ring = []; // jumps of the skin around (mask < 0.02), for the skin's own sparkle share
  const ringL = [];
  let coreWeight = 0, coreCount = 0;
  for (let v = 0; v < bounds.height; v++) {
    for (let u = 0; u < bounds.width; u++) {
      const m = alpha[v * bounds.width + u];
      const x = bounds.x + u, y = bounds.y + v;
      if (excluded[y * width + x]) continue;
      if (m < 0.02) {
        if ((u + v) % 2 === 0) { ring.push([x, y]); ringL.push(lightness(x, y)); }
        continue;
      }
      if (m < Math.min(config.bodyOf?.[region] ?? config.body, 0.9 * peak)) continue;
      if (later.some((name) => maskAt(masks[name], x, y) > config.otherMask)) continue; // drawn over
      const w = m * opacity * intensity;
      if (w < config.minWeight) continue;
      const skin = fit.skinAt(x, y);
      if (!skin) continue;
      const i = 4 * (y * width + x);
      const codes = [0, 1, 2].map((c) => clampCode((data[i + c] - (1 - w) * skin[c]) / w));
      const lab = labOfCodes(...codes);
      const core = m >= config.core * peak;
      const z = core ? jumpAt(lightness, width, height, x, y) / (12 * w) : 0;
      if (core) { coreWeight += w; coreCount += 1; }
      made.push([lab[0], lab[1], lab[2], z, core, w, m]);
    }
  }
  if (!made.length) return { pixels: 0, fit };
  // the shade from the pixels with the least amplified skin error, (1 − w) / w, where asked
  const shadeBody = Math.min(config.shadeBodyOf?.[region] ?? 0, 0.9 * peak);
  const dense = made.filter((p) => p[6] >= shadeBody);
  const shadeLab = shadeOf(dense.length >= config.minPixels ? dense : made, config.shadeHueTolerance?.[region], config);
  const features = finishFeatures(made, ring, ringL, coreWeight / Math.max(1, coreCount), lightness, pixels, config);
  return { shadeLab, features, opacity, intensity, pixels: made.length, core: coreCount, fit };
}

/** The shade of a region from its unmixed pixels (`made` rows [L, a, b, z, core, w, …]): the
 *  median CIELAB; with a `tolerance` (a*b* units at weight 1, widened as 1/w), again over the
 *  pixels whose a*b* lie within it of the ray of that median's hue only. Every product pixel has
 *  the shade's a*b* (a highlight only scales them towards 0), so pixels off the ray are not the
 *  product: skin under a mask that the landmarks re-found on the made-up photo moved. */
export function shadeOf(made, tolerance, config = TRANSFER_CONFIG) {
  const shade = [0, 1, 2].map((c) => median(made.map((p) => p[c])));
  const chroma = Math.hypot(shade[1], shade[2]);
  if (!tolerance || !(chroma > config.minChroma)) return shade;
  const [a0, b0] = [shade[1], shade[2]];
  const onRay = made.filter((p) => Math.abs(p[1] * b0 - p[2] * a0) / chroma <= tolerance / p[5]);
  return onRay.length >= config.minPixels ? [0, 1, 2].map((c) => median(onRay.map((p) => p[c]))) : shade;
}

/** The finish features of a region (FINISH_FEATURES): sparkle shares (core pixels whose jump
 *  over their neighbours exceeds sparkleZ × 12 L* × weight, less the skin ring's share at the
 *  core's mean weight) and the unmixed lightness spread of the non-sparkle core against the
 *  ring's (the texture the finish keeps). The highlights are not a feature: the renderer lifts
 *  only pixels over one interquartile range above the median, and on the development faces
 *  that left even gloss lips (mesh of the bare photo) at a measured lift ≤ 0.03; the brightest
 *  pixels' lift and chroma loss measured skin under a moved mask and sRGB clipping instead
 *  (docs/mirror.md). */
export function finishFeatures(made, ring, ringL, meanWeight, lightness, pixels, config = TRANSFER_CONFIG) {
  const core = made.filter((p) => p[4]);
  if (!core.length) return [0, 0, 1];
  const ringZ = ring.map(([x, y]) => jumpAt(lightness, pixels.width, pixels.height, x, y) / (12 * Math.max(0.05, meanWeight)));
  const share = (values, t) => (values.length ? values.filter((z) => z > t).length / values.length : 0);
  const [lo, hi] = config.sparkleZ;
  const jumps = core.map((p) => p[3]);
  const sparkleLow = share(jumps, lo) - share(ringZ, lo);
  const sparkleHigh = share(jumps, hi) - share(ringZ, hi);
  const plain = core.filter((p) => p[3] <= lo);
  const body = plain.length >= config.minPixels ? plain : core;
  const Ls = sortedOf(body.map((p) => p[0])), R = sortedOf(ringL);
  const ringSpread = R.length ? quantile(R, 0.75) - quantile(R, 0.25) : 0;
  const texture = ringSpread > 0.5 ? (quantile(Ls, 0.75) - quantile(Ls, 0.25)) / ringSpread : 1;
  return [sparkleLow, sparkleHigh, texture];
}

/** The finish whose prototype (FINISH_PROTOTYPES) is nearest to the region's features: each
 *  feature standardised by the region's development mean and spread, then divided by the
 *  finish-pooled spread (`scale`). */
export function finishOf(features, region, prototypes = FINISH_PROTOTYPES) {
  const norm = prototypes.standardise?.[region];
  const z = norm ? features.map((f, k) => (f - norm.mean[k]) / norm.std[k]) : features;
  let best = "matte", bestDistance = Infinity;
  for (const [finish, centre] of Object.entries(prototypes)) {
    if (finish === "scale" || finish === "standardise") continue;
    const d = centre.reduce((s, c, k) => s + ((z[k] - c) / prototypes.scale[k]) ** 2, 0);
    if (d < bestDistance) { bestDistance = d; best = finish; }
  }
  return best;
}

/** The region's mask moved by the shift (of the whole mesh, in pixels) whose fit
 *  (fitSkinUnder) leaves the smallest robust residual: landmarks found on a made-up photo sit
 *  a pixel or so off, and a product's edge is sharp (lips, brows, lids). Returns the masks with
 *  that region's replaced, and the shift. */
export function registerRegion(pixels, mesh, masks, region, excluded, config = TRANSFER_CONFIG) {
  if (!config.register || !config.registerRegions.includes(region)) return { masks, shift: [0, 0] };
  let best = { cost: Infinity, masks, shift: [0, 0] };
  const seen = new Set();
  for (const step of config.register) {
    const [cx, cy] = best.shift;
    for (const [dx, dy] of [-1, 0, 1].flatMap((i) => [-1, 0, 1].map((j) => [cx + i * step, cy + j * step]))) {
      const key = `${dx},${dy}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const moved = mesh.map(([x, y, ...rest]) => [x + dx, y + dy, ...rest]);
      const candidate = { ...masks, [region]: regionMask(moved, region, pixels.width, pixels.height) };
      const { sides } = fitSkinUnder(pixels, mesh, candidate, region, excluded, config);
      const used = sides.filter(Boolean);
      if (!used.length) continue;
      const cost = used.reduce((s, side) => s + side.spread * side.n, 0) / used.reduce((s, side) => s + side.n, 0);
      if (cost < best.cost - 1e-9) best = { cost, masks: candidate, shift: [dx, dy] };
    }
  }
  return best;
}

export function extractLook(pixels, mesh, { regions = REGIONS, config = TRANSFER_CONFIG, details = false } = {}) {
  let masks = regionMasks(mesh, pixels.width, pixels.height);
  const excluded = nonSkinMask(mesh, pixels.width, pixels.height, config);
  const look = [];
  for (const region of regions) {
    const registered = registerRegion(pixels, mesh, masks, region, excluded, config);
    masks = registered.masks;
    const stats = regionStatistics(pixels, mesh, masks, region, excluded, config);
    if (!stats.pixels) continue;
    const lab = stats.shadeLab;
    const { bounds } = masks[region];
    const skin = stats.fit.skinAt(bounds.x + bounds.width / 2, bounds.y + bounds.height / 2) ?? [128, 128, 128];
    const item = {
      region, shade_hex: hexFromRgb(rgbFromLab(...lab)), lab: lab.map((v) => Math.round(v * 100) / 100),
      finish: finishOf(stats.features, region, config.prototypes), intensity: stats.intensity,
      contrast: Math.round(deltaE2000(lab, labOfCodes(...skin.map(clampCode))) * 10) / 10,
    };
    if (details) item.details = { shift: registered.shift, features: stats.features, pixels: stats.pixels, core: stats.core, skin: skin.map(clampCode) };
    look.push(item);
  }
  return look;
}

/** Ask the platform for the nearest real products of a look (`POST {base}/v1/looks/match`,
 *  the ingest key): only the look's numbers are sent. Resolves to { status, body }. */
export async function matchLook(base, apiKey, look, k = 3) {
  const items = look.map(({ region, shade_hex, finish, intensity }) => ({ region, shade_hex, finish, intensity }));
  const response = await fetch(`${base}/v1/looks/match`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": apiKey },
    body: JSON.stringify({ items, k }),
  });
  return { status: response.status, body: await response.json() };
}
