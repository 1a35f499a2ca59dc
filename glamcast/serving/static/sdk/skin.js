// Sample faces across the Monk scale: a face's skin moved to a target colour, texture kept.
//
// The skin (the face oval without the eyes, brows and lips, feathered, and beyond the oval every
// pixel near the face whose colour is the face's own skin colour: jaw, neck, ears; a face-only
// recolour reads as a mask) is moved in CIELAB to the target, each pixel keeping its offset from
// the skin's median, so shading, pores and light stay (`recolourSkin`). A page that shows looks "on
// a Monk 8 face" from one sample photo says so: the skin is recoloured, not a different person.

import { LINEAR_OF_CODE, codeOfLinear, labFromLinear, labFromRgb, linearFromLab, labFromHex } from "./color.js";
import { EYES, FACE_OVAL, LIPS_INNER, faceFrame, forEachSkinPixel, pick, scaledPolygon } from "./regions.js";

/** The per-channel median of the skin sample (regions.js `forEachSkinPixel`) in linear RGB,
 *  over the pixels between the 15th and 90th lightness percentiles (no shadow or highlight). */
export function skinMedianLinear(pixels, mesh) {
  const { data, width, height } = pixels;
  const samples = [];
  forEachSkinPixel(mesh, width, height, (x, y) => {
    const i = 4 * (y * width + x);
    samples.push([labFromRgb(data[i], data[i + 1], data[i + 2])[0], data[i], data[i + 1], data[i + 2]]);
  }, { belowMouth: true });
  samples.sort((p, q) => p[0] - q[0]);
  const kept = samples.slice(Math.floor(0.15 * samples.length), Math.ceil(0.9 * samples.length));
  return [1, 2, 3].map((c) => {
    const values = kept.map((s) => LINEAR_OF_CODE[s[c]]).sort((p, q) => p - q);
    return values[values.length >> 1];
  });
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  return canvas;
}

/** The skin mask (0–1 per pixel, Float32Array): the face oval (grown 4 %, feathered by 8 % of
 *  the inter-ocular distance: no hard edge at the jaw or hairline) times one minus the eye and
 *  mouth openings (feathered by 0.6 %). Given the photo
 *  (`pixels`) and its skin colour (`skinLab`), also the pixels near the face (`SKIN_REACH`) whose
 *  colour is within `SKIN_COLOUR_DELTA` of it (full weight below the first bound, none past the
 *  second, lightness counted 0.4: shading is not a different colour). */
export function skinMask(mesh, width, height, pixels = null, skinLab = null) {
  const { iod } = faceFrame(mesh);
  const alphaOf = (polygons, blur) => {
    const canvas = canvasOf(width, height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.filter = `blur(${Math.max(0.5, blur * iod).toFixed(2)}px)`;
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    for (const polygon of polygons) {
      ctx.moveTo(polygon[0][0], polygon[0][1]);
      for (const [x, y] of polygon.slice(1)) ctx.lineTo(x, y);
      ctx.closePath();
    }
    ctx.fill("nonzero");
    return ctx.getImageData(0, 0, width, height).data;
  };
  const face = alphaOf([scaledPolygon(pick(mesh, FACE_OVAL), 1.04)], 0.08);
  // brows and lips move with the skin (each keeps its offset from it); only the eye openings
  // (sclera, iris) and the mouth's opening (teeth) keep their colour
  const cut = alphaOf([scaledPolygon(pick(mesh, EYES.right), 0.9),
    scaledPolygon(pick(mesh, EYES.left), 0.9), pick(mesh, LIPS_INNER)], 0.006);
  const mask = new Float32Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = face[4 * i + 3] / 255;
  if (pixels && skinLab) {
    const oval = pick(mesh, FACE_OVAL);
    const xs = oval.map((p) => p[0]), ys = oval.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const [w, h] = [x1 - x0, y1 - y0];
    const left = Math.max(0, Math.floor(x0 - SKIN_REACH.side * w));
    const right = Math.min(width - 1, Math.ceil(x1 + SKIN_REACH.side * w));
    const top = Math.max(0, Math.floor(y0 - SKIN_REACH.up * h));
    const bottom = Math.min(height - 1, Math.ceil(y1 + SKIN_REACH.down * h));
    const [near, far] = SKIN_COLOUR_DELTA;
    const { data } = pixels;
    const similar = new Float32Array(width * height);
    for (let y = top; y <= bottom; y++) {
      for (let x = left; x <= right; x++) {
        const p = y * width + x;
        const [l, a, b] = labFromRgb(data[4 * p], data[4 * p + 1], data[4 * p + 2]);
        const d = Math.hypot(0.4 * (l - skinLab[0]), a - skinLab[1], b - skinLab[2]);
        similar[p] = Math.min(1, Math.max(0, (far - d) / (far - near)));
      }
    }
    const soft = blurred(similar, width, height, Math.max(1, 0.02 * iod));
    for (let i = 0; i < mask.length; i++) mask[i] = Math.max(mask[i], soft[i]);
  }
  for (let i = 0; i < mask.length; i++) mask[i] *= 1 - cut[4 * i + 3] / 255;
  return mask;
}

/** How far past the face oval the skin is looked for (fractions of the oval's width and height). */
export const SKIN_REACH = { side: 0.35, up: 0.05, down: 0.9 };
/** CIELAB distance (lightness × 0.4) from the face's skin: full weight below, none past. */
export const SKIN_COLOUR_DELTA = [9, 15];

/** A float mask blurred by `radius` px (the canvas's Gaussian blur on an alpha channel). */
function blurred(values, width, height, radius) {
  const source = canvasOf(width, height);
  const image = new ImageData(width, height);
  for (let i = 0; i < values.length; i++) image.data[4 * i + 3] = Math.round(255 * values[i]);
  source.getContext("2d").putImageData(image, 0, 0);
  const target = canvasOf(width, height);
  const ctx = target.getContext("2d", { willReadFrequently: true });
  ctx.filter = `blur(${radius.toFixed(2)}px)`;
  ctx.drawImage(source, 0, 0);
  const data = ctx.getImageData(0, 0, width, height).data;
  const out = new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(values[i], data[4 * i + 3] / 255);
  return out;
}

/** A copy of `pixels` (ImageData) whose skin is moved to `targetHex` (e.g. a Monk swatch).
 *
 *  The move is made in CIELAB: each skin pixel keeps its offset from the skin's median colour
 *  (shading, pores, light), scaled by `contrastKept` (√ of the lightness ratio, at least
 *  0.7): a linear-RGB gain (the face-analysis bench's `moved_skin`, which must keep the camera
 *  model) flattens a light face moved to Monk 9–10 into an even dark mask, since a gain of ~0.05
 *  crushes every shade; in L* the shading stays visible. */
export function recolourSkin(pixels, mesh, targetHex) {
  const { data, width, height } = pixels;
  const skin = labFromLinear(...skinMedianLinear(pixels, mesh));
  const target = labFromHex(targetHex);
  const kept = contrastKept(skin[0], target[0]);
  const mask = skinMask(mesh, width, height, pixels, skin);
  const out = new ImageData(new Uint8ClampedArray(data), width, height);
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p];
    if (m <= 0) continue;
    const i = 4 * p;
    const lab = labFromRgb(data[i], data[i + 1], data[i + 2]);
    const moved = lab.map((value, c) => target[c] + kept * (value - skin[c]));
    const linear = linearFromLab(...moved);
    for (let c = 0; c < 3; c++) {
      const before = LINEAR_OF_CODE[data[i + c]];
      out.data[i + c] = codeOfLinear(before + m * (Math.min(1, Math.max(0, linear[c])) - before));
    }
  }
  return out;
}

/** How much of the skin's own variation a move from lightness `from` to `to` keeps. */
export function contrastKept(from, to) {
  return Math.max(0.7, Math.min(1, Math.sqrt(Math.max(1e-3, to) / Math.max(1e-3, from))));
}
