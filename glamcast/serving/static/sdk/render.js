// The look renderer: one product per region (lips, eyes, cheeks, brows), each a shade, a finish
// and an intensity, drawn onto a canvas that holds the photo or the camera frame.
//
// Region masks come from the mesh (outer minus inner lips; lids between the eye and the brow;
// cheek ellipses; brows), feathered by a blur. Colour is applied in CIELAB: the region's own
// lightness variation (texture, light, shadow) is kept around the shade's lightness, the shade
// gives the chroma, and the finish decides the highlights (matte flattens, gloss adds a
// specular highlight, shimmer and metallic sparkle). Intensity is the opacity of the result.

import { LINEAR_OF_CODE, codeOfLinear, labFromHex, labFromLinear, linearFromLab } from "./color.js";
import { browPolygon, cheekEllipse, ellipsePolygon, faceFrame, lidPolygon, lipPolygons } from "./regions.js";

export const REGIONS = ["lips", "eyes", "cheeks", "brows"];

/** Per region: feather (blur radius, in inter-ocular distances) and the opacity at intensity 1
 *  (eyeshadow and blush are sheer; lipstick and brow colour cover). */
export const REGION_STYLE = {
  lips: { feather: 0.012, opacity: 1.0 },
  eyes: { feather: 0.05, opacity: 0.7 },
  cheeks: { feather: 0.12, opacity: 0.45 },
  brows: { feather: 0.012, opacity: 0.75 },
};

/** Per finish: texture (how much of the skin's own lightness variation is kept), highlight
 *  (how far the brightest pixels are lifted towards white) and sparkle (density, strength). */
export const FINISH_STYLE = {
  matte: { texture: 0.7, highlight: 0.0, sparkle: 0.0, sparkleGain: 0 },
  satin: { texture: 0.85, highlight: 0.25, sparkle: 0.0, sparkleGain: 0 },
  gloss: { texture: 1.0, highlight: 0.6, sparkle: 0.0, sparkleGain: 0 },
  shimmer: { texture: 0.9, highlight: 0.3, sparkle: 0.04, sparkleGain: 18 },
  metallic: { texture: 1.2, highlight: 0.5, sparkle: 0.08, sparkleGain: 12 },
};

/** A stable pseudo-random number in [0, 1) for a pixel position (sparkles that stay put). */
export function pixelHash(x, y) {
  let h = (Math.imul(x, 374761393) + Math.imul(y, 668265263)) | 0;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** The made-up colour of one pixel: `lab` the pixel's CIELAB, `reference` the region's median
 *  lightness and its spread, `shade` the product's CIELAB, `finish` a FINISH_STYLE entry,
 *  `sparkle` a number in [0, 1) for the pixel. Returns [L*, a*, b*]. */
export function shadePixel(lab, reference, shade, finish, sparkle = 1) {
  const deviation = lab[0] - reference.lightness;
  let lightness = shade[0] + finish.texture * deviation;
  let a = shade[1], b = shade[2];
  if (finish.highlight > 0) {
    // the pixels well above the region's median are where the light falls: lift them to white
    const spread = Math.max(2, reference.spread);
    const s = Math.min(1, Math.max(0, (deviation - spread) / (2 * spread)));
    const lift = finish.highlight * s * s * (3 - 2 * s);
    lightness += lift * (100 - lightness);
    a *= 1 - lift;
    b *= 1 - lift;
  }
  if (finish.sparkle > 0 && sparkle < finish.sparkle) lightness += finish.sparkleGain;
  return [Math.min(100, Math.max(0, lightness)), a, b];
}

/** The paths of a region as polygons to fill, and those to cut out. */
export function regionPaths(mesh, region) {
  if (region === "lips") {
    const { outer, inner } = lipPolygons(mesh);
    return { fill: [outer], cut: [inner] };
  }
  if (region === "eyes") return { fill: [lidPolygon(mesh, "right"), lidPolygon(mesh, "left")], cut: [] };
  if (region === "brows") return { fill: [browPolygon(mesh, "right"), browPolygon(mesh, "left")], cut: [] };
  if (region === "cheeks") {
    return { fill: ["right", "left"].map((side) => ellipsePolygon(cheekEllipse(mesh, side))), cut: [] };
  }
  throw new Error(`unknown region ${region}`);
}

function boundsOf(polygons, margin, width, height) {
  const xs = polygons.flat().map((p) => p[0]), ys = polygons.flat().map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs) - margin));
  const y0 = Math.max(0, Math.floor(Math.min(...ys) - margin));
  const x1 = Math.min(width, Math.ceil(Math.max(...xs) + margin));
  const y1 = Math.min(height, Math.ceil(Math.max(...ys) + margin));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

/** A region's feathered mask over its bounds: { bounds, alpha (Float32Array 0–1) }. */
export function regionMask(mesh, region, width, height) {
  const { iod } = faceFrame(mesh);
  const feather = Math.max(0.5, REGION_STYLE[region].feather * iod);
  const { fill, cut } = regionPaths(mesh, region);
  const bounds = boundsOf(fill, 3 * feather + 2, width, height);
  const canvas = makeCanvas(bounds.width, bounds.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.filter = `blur(${feather.toFixed(2)}px)`;
  const trace = (polygon) => {
    ctx.moveTo(polygon[0][0] - bounds.x, polygon[0][1] - bounds.y);
    for (const [x, y] of polygon.slice(1)) ctx.lineTo(x - bounds.x, y - bounds.y);
    ctx.closePath();
  };
  ctx.beginPath();
  fill.forEach(trace);
  cut.forEach(trace);
  ctx.fillStyle = "#fff";
  ctx.fill("evenodd"); // the cut (the inner lips) lies inside the fill: even-odd removes it
  const rgba = ctx.getImageData(0, 0, bounds.width, bounds.height).data;
  const alpha = new Float32Array(bounds.width * bounds.height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3] / 255;
  return { bounds, alpha };
}

/** Median lightness and interquartile spread of the pixels where the mask is at least 0.5. */
export function regionReference(labs, alpha) {
  const values = [];
  for (let i = 0; i < alpha.length; i++) if (alpha[i] >= 0.5) values.push(labs[3 * i]);
  if (!values.length) return { lightness: 50, spread: 0 };
  values.sort((a, b) => a - b);
  const q = (p) => values[Math.round(p * (values.length - 1))];
  return { lightness: q(0.5), spread: q(0.75) - q(0.25) };
}

/** Draw one look item onto the canvas context (which holds the photo or frame).
 *  item: { region, shade_hex, finish, intensity (0–1) }. */
export function renderItem(ctx, mesh, item) {
  const { width, height } = ctx.canvas;
  const { bounds, alpha } = regionMask(mesh, item.region, width, height);
  const image = ctx.getImageData(bounds.x, bounds.y, bounds.width, bounds.height);
  const data = image.data;
  const labs = new Float32Array(3 * alpha.length);
  for (let i = 0; i < alpha.length; i++) {
    if (alpha[i] <= 0) continue;
    const lab = labFromLinear(LINEAR_OF_CODE[data[4 * i]], LINEAR_OF_CODE[data[4 * i + 1]], LINEAR_OF_CODE[data[4 * i + 2]]);
    labs[3 * i] = lab[0]; labs[3 * i + 1] = lab[1]; labs[3 * i + 2] = lab[2];
  }
  const reference = regionReference(labs, alpha);
  const shade = labFromHex(item.shade_hex);
  const finish = FINISH_STYLE[item.finish] ?? FINISH_STYLE.matte;
  const opacity = Math.min(1, Math.max(0, item.intensity ?? 1)) * REGION_STYLE[item.region].opacity;
  for (let i = 0; i < alpha.length; i++) {
    const weight = alpha[i] * opacity;
    if (weight <= 0) continue;
    const x = bounds.x + (i % bounds.width), y = bounds.y + Math.floor(i / bounds.width);
    const made = shadePixel([labs[3 * i], labs[3 * i + 1], labs[3 * i + 2]], reference, shade, finish, pixelHash(x, y));
    const rgb = linearFromLab(made[0], made[1], made[2]);
    for (let c = 0; c < 3; c++) {
      const j = 4 * i + c;
      data[j] = data[j] + (codeOfLinear(rgb[c]) - data[j]) * weight;
    }
  }
  ctx.putImageData(image, bounds.x, bounds.y);
}

/** Draw a look (its items, one per region) onto the canvas context, lips last. */
export function renderLook(ctx, mesh, items) {
  const order = ["cheeks", "eyes", "brows", "lips"];
  [...items].sort((p, q) => order.indexOf(p.region) - order.indexOf(q.region))
    .forEach((item) => renderItem(ctx, mesh, item));
}
