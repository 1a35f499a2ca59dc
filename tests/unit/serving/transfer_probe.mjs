// Node probe for tests/unit/serving/test_transfer_sdk.py: the makeup-transfer inversion
// (static/sdk/transfer.js) on a synthetic face patch made with the renderer's own mixing rule.
// Reads a JSON request on stdin, writes the answer as JSON on stdout. With `shadeOf` in the
// request: only `shadeOf` on the given rows.
import { readFileSync } from "node:fs";
import { labFromRgb } from "../../../glamcast/serving/static/sdk/color.js";
import { EYES, NOSE_BRIDGE } from "../../../glamcast/serving/static/sdk/regions.js";
import { REGION_STYLE } from "../../../glamcast/serving/static/sdk/render.js";
import { fitSkinUnder, regionStatistics, shadeOf } from "../../../glamcast/serving/static/sdk/transfer.js";

const request = JSON.parse(readFileSync(0, "utf8"));
if (request.shadeOf) {
  // the shade of given unmixed pixel rows [L, a, b, z, core, w], with and without a hue tolerance
  const { rows, tolerance } = request.shadeOf;
  process.stdout.write(JSON.stringify({ plain: shadeOf(rows, 0), onHue: shadeOf(rows, tolerance) }));
  process.exit(0);
}
const { width, height, sigma, skin, product, intensity } = request;
// a mesh whose eyes sit 40 px apart (iod 40) and whose nose bridge splits the image in two
const mesh = Array.from({ length: 478 }, () => [width / 2, height / 2]);
EYES.right.forEach((i) => { mesh[i] = [width / 2 - 20, height / 2]; });
EYES.left.forEach((i) => { mesh[i] = [width / 2 + 20, height / 2]; });
mesh[NOSE_BRIDGE] = [width / 2, height / 2];
// the eyes' (lids') mask: one blob per side; the other regions off the patch
const alpha = new Float32Array(width * height);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    const cx = x < width / 2 ? width / 4 : (3 * width) / 4;
    const r = Math.hypot(x - cx, y - height / 2);
    alpha[y * width + x] = Math.min(1, Math.max(0, 1.6 * Math.exp(-(r * r) / (2 * sigma * sigma)) - 0.3));
  }
}
const off = { bounds: { x: 0, y: 0, width: 1, height: 1 }, alpha: new Float32Array(1) };
const masks = { eyes: { bounds: { x: 0, y: 0, width, height }, alpha }, lips: off, cheeks: off, brows: off };
// skin: per side a plane of codes (light falling across the face); the product mixed as render.js does
const data = new Uint8ClampedArray(4 * width * height);
const w0 = intensity * REGION_STYLE.eyes.opacity;
const skinAt = (x, y) => skin[x < width / 2 ? 0 : 1].map(([c, gx, gy]) => c + gx * (x - width / 4) / 40 + gy * (y - height / 2) / 40);
for (let y = 0; y < height; y++) {
  for (let x = 0; x < width; x++) {
    const i = y * width + x, s = skinAt(x, y);
    for (let c = 0; c < 3; c++) data[4 * i + c] = s[c] + (product[c] - s[c]) * alpha[i] * w0;
    data[4 * i + 3] = 255;
  }
}
const pixels = { data, width, height };
const excluded = new Uint8Array(width * height);
const fit = fitSkinUnder(pixels, mesh, masks, "eyes", excluded);
const stats = regionStatistics(pixels, mesh, masks, "eyes", excluded);
process.stdout.write(JSON.stringify({
  skinUnder: [fit.skinAt(width / 4, height / 2), fit.skinAt((3 * width) / 4, height / 2)],
  skinTrue: [skinAt(width / 4, height / 2), skinAt((3 * width) / 4, height / 2)],
  shadeLab: stats.shadeLab, productLab: labFromRgb(...product), pixels: stats.pixels,
}));
