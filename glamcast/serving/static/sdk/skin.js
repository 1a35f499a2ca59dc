// Sample faces across the Monk scale: a face's skin moved to a target colour, texture kept.
//
// The skin (the face oval without the eyes, brows and lips, feathered) is scaled per channel in
// linear RGB by target / the skin's median, so shading, pores and light stay: the same move the
// face-analysis bench makes (bench/face_analysis.py `moved_skin`). A page that shows looks "on
// a Monk 8 face" from one sample photo says so: the skin is recoloured, not a different person.

import { LINEAR_OF_CODE, codeOfLinear, labFromRgb, linearFromLab, labFromHex } from "./color.js";
import { EYES, FACE_OVAL, LIPS_OUTER, browPolygon, faceFrame, forEachSkinPixel, pick, scaledPolygon } from "./regions.js";

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
 *  the inter-ocular distance: no hard edge at the jaw or hairline) times one minus the eyes,
 *  brows and lips (feathered by 1.5 %: no halo of the old skin around them). */
export function skinMask(mesh, width, height) {
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
  const cut = alphaOf([pick(mesh, EYES.right), pick(mesh, EYES.left), browPolygon(mesh, "right"),
    browPolygon(mesh, "left"), pick(mesh, LIPS_OUTER)], 0.015);
  const mask = new Float32Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = (face[4 * i + 3] / 255) * (1 - cut[4 * i + 3] / 255);
  return mask;
}

/** A copy of `pixels` (ImageData) whose skin is moved to `targetHex` (e.g. a Monk swatch). */
export function recolourSkin(pixels, mesh, targetHex) {
  const { data, width, height } = pixels;
  const median = skinMedianLinear(pixels, mesh);
  const target = linearFromLab(...labFromHex(targetHex));
  const gains = target.map((t, c) => Math.max(0, t) / Math.max(1e-4, median[c]));
  const mask = skinMask(mesh, width, height);
  const out = new ImageData(new Uint8ClampedArray(data), width, height);
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p];
    if (m <= 0) continue;
    for (let c = 0; c < 3; c++) {
      const i = 4 * p + c;
      out.data[i] = codeOfLinear(LINEAR_OF_CODE[data[i]] * (1 + m * (gains[c] - 1)));
    }
  }
  return out;
}
