// Face regions from the 478-point mesh (MediaPipe numbering; "right" is the subject's right,
// the image's left): polygons and ellipses for the look renderer and the skin sampler, and the
// scanline fill both use. Pure functions of point arrays ([x, y] pairs in pixels).

export const LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146];
export const LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95];
export const EYES = {
  right: [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
  left: [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249],
};
/** Upper eye contour, outer corner → inner corner. */
export const EYE_UPPER = {
  right: [33, 246, 161, 160, 159, 158, 157, 173, 133],
  left: [263, 466, 388, 387, 386, 385, 384, 398, 362],
};
/** Brows, outer end → inner end. */
export const BROW_UPPER = { right: [70, 63, 105, 66, 107], left: [300, 293, 334, 296, 336] };
export const BROW_LOWER = { right: [46, 53, 52, 65, 55], left: [276, 283, 282, 295, 285] };
/** Blush centres (the common placements on the cheek's apple). */
export const CHEEK_CENTRE = { right: 50, left: 280 };
export const FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
  400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109];
export const FOREHEAD_CENTRE = 151;
export const NOSE_BRIDGE = 168;
export const CHIN = 152;
export const FACE_TOP = 10;
/** Widest points of the face at the cheekbones, the jaw angles, the temples, and the lower jaw. */
export const WIDTHS = {
  cheekbones: [234, 454], jaw: [172, 397], forehead: [54, 284], lowerJaw: [150, 379],
};

const lerp = (p, q, t) => [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t];
export const distance = (p, q) => Math.hypot(q[0] - p[0], q[1] - p[1]);
const mean = (points) => [
  points.reduce((s, p) => s + p[0], 0) / points.length,
  points.reduce((s, p) => s + p[1], 0) / points.length,
];
export const pick = (mesh, indices) => indices.map((i) => mesh[i]);

/** Centres of the two eyes (the mean of each contour): { right, left }. */
export function eyeCentres(mesh) {
  return { right: mean(pick(mesh, EYES.right)), left: mean(pick(mesh, EYES.left)) };
}

/** The face's scale and roll: the inter-ocular distance in pixels and the eye line's angle. */
export function faceFrame(mesh) {
  const { right, left } = eyeCentres(mesh);
  return { iod: distance(right, left), roll: Math.atan2(left[1] - right[1], left[0] - right[0]) };
}

/** A point along a polyline at fraction t (0 = first point, 1 = last), by arc length. */
export function alongPolyline(points, t) {
  const lengths = points.slice(1).map((p, i) => distance(points[i], p));
  let remaining = t * lengths.reduce((a, b) => a + b, 0);
  for (let i = 0; i < lengths.length; i++) {
    if (remaining <= lengths[i] || i === lengths.length - 1) {
      return lerp(points[i], points[i + 1], lengths[i] ? Math.min(1, remaining / lengths[i]) : 0);
    }
    remaining -= lengths[i];
  }
  return points[0];
}

/** The upper lid: the upper eye contour, and above it `reach` of the way up to the brow. */
export function lidPolygon(mesh, side, reach = 0.55) {
  const upper = pick(mesh, EYE_UPPER[side]);
  const brow = pick(mesh, BROW_LOWER[side]);
  const top = upper.map((p, i) => lerp(p, alongPolyline(brow, i / (upper.length - 1)), reach));
  return [...upper, ...top.reverse()];
}

/** A brow: the upper edge outer → inner, then the lower edge inner → outer. */
export function browPolygon(mesh, side) {
  return [...pick(mesh, BROW_UPPER[side]), ...pick(mesh, BROW_LOWER[side]).reverse()];
}

/** The lips as two polygons, drawn outer minus inner. */
export function lipPolygons(mesh) {
  return { outer: pick(mesh, LIPS_OUTER), inner: pick(mesh, LIPS_INNER) };
}

/** A cheek (blush) ellipse { cx, cy, rx, ry, angle } sized by the inter-ocular distance. */
export function cheekEllipse(mesh, side, scale = 1) {
  const { iod, roll } = faceFrame(mesh);
  const [cx, cy] = mesh[CHEEK_CENTRE[side]];
  return { cx, cy, rx: 0.3 * iod * scale, ry: 0.2 * iod * scale, angle: roll };
}

/** A polygon scaled about its centroid (grown above 1, shrunk below). */
export function scaledPolygon(polygon, factor) {
  const [cx, cy] = mean(polygon);
  return polygon.map(([x, y]) => [cx + (x - cx) * factor, cy + (y - cy) * factor]);
}

/** Where skin is sampled for its tone: the cheeks, nose and forehead — the face oval (shrunk a
 *  little, off the hairline and the background) above the mouth corners, without the eyes, the
 *  brows and the lips (each grown, off lashes, brow hairs and lip liner). Chin and jaw are left
 *  out unless `belowMouth` (forEachSkinPixel; the lightness trim drops their shadow). Returns { keep: polygon, cut: [polygons],
 *  below: the y above which pixels count, per x, as a line [[x0, y0], [x1, y1]] }. */
export function skinSampleRegion(mesh) {
  const { right, left } = { right: mesh[LIPS_OUTER[0]], left: mesh[LIPS_OUTER[10]] };
  return {
    keep: scaledPolygon(pick(mesh, FACE_OVAL), 0.92),
    cut: [
      scaledPolygon(pick(mesh, EYES.right), 1.6), scaledPolygon(pick(mesh, EYES.left), 1.6),
      scaledPolygon(browPolygon(mesh, "right"), 1.3), scaledPolygon(browPolygon(mesh, "left"), 1.3),
      scaledPolygon(pick(mesh, LIPS_OUTER), 1.2),
    ],
    mouthLine: [right, left],
  };
}

/** Calls visit(x, y) for every pixel of the skin sample region (skinSampleRegion); with
 *  `belowMouth`, also the pixels below the mouth corners' line (chin and jaw). */
export function forEachSkinPixel(mesh, width, height, visit, { belowMouth = false } = {}) {
  const { keep, cut, mouthLine: [[x0, y0], [x1, y1]] } = skinSampleRegion(mesh);
  const excluded = polygonMask(cut, width, height);
  const slope = (y1 - y0) / (x1 - x0 || 1e-6);
  forEachPixelIn(keep, width, height, (x, y) => {
    if (excluded[y * width + x]) return;
    if (!belowMouth && y + 0.5 > y0 + slope * (x + 0.5 - x0)) return; // below the mouth corners' line
    visit(x, y);
  });
}

/** An ellipse as a polygon of `n` points. */
export function ellipsePolygon({ cx, cy, rx, ry, angle }, n = 32) {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  return Array.from({ length: n }, (_, i) => {
    const t = (2 * Math.PI * i) / n;
    const x = rx * Math.cos(t), y = ry * Math.sin(t);
    return [cx + x * cos - y * sin, cy + x * sin + y * cos];
  });
}

/** Scanline fill of a polygon (even-odd), sampled at pixel centres: calls visit(x, y) for
 *  every pixel inside whose centre lies in the polygon, within the image. */
export function forEachPixelIn(polygon, width, height, visit, step = 1) {
  const ys = polygon.map((p) => p[1]);
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  const crossings = [];
  for (let y = y0; y <= y1; y += step) {
    const sy = y + 0.5;
    crossings.length = 0;
    for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
      const [xi, yi] = polygon[i], [xj, yj] = polygon[j];
      if ((yi > sy) !== (yj > sy)) crossings.push(xi + ((sy - yi) * (xj - xi)) / (yj - yi));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const xa = Math.max(0, Math.ceil(crossings[k] - 0.5));
      const xb = Math.min(width - 1, Math.ceil(crossings[k + 1] - 0.5) - 1); // a centre on the edge: out
      for (let x = xa; x <= xb; x += step) visit(x, y);
    }
  }
}

/** A mask (Uint8Array, 1 inside) of the union of polygons over a width × height image. */
export function polygonMask(polygons, width, height) {
  const mask = new Uint8Array(width * height);
  for (const polygon of polygons) forEachPixelIn(polygon, width, height, (x, y) => { mask[y * width + x] = 1; });
  return mask;
}
