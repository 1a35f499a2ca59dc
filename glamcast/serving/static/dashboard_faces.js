// Looks on faces: the dashboard's looks (#dashboard-data `face_looks`: the trend looks of
// /v1/trend-looks, else the feed's generated looks) drawn with the mirror SDK on a sample face
// (from an installed package, as /mirror serves it) whose skin is recoloured to each look's
// Monk group, each card labelled so, with its products and audience share. When every card is
// drawn, <body data-face-looks-rendered> holds their number (tests wait on it); on an error,
// <body data-face-looks-error> says why.

import { MONK_SWATCHES, createMirror, pixelsOf, recolourSkin, renderLook } from "/sdk/mirror.js";

const data = JSON.parse(document.getElementById("dashboard-data").textContent).face_looks;
const grid = document.getElementById("face-looks-grid");
const SIZE = 256; // a card's face, square, in CSS pixels

const percent = (share) => (share === null || share === undefined ? "–" : `${(100 * share).toFixed(1)} %`);
const money = (price) => (price === null || price === undefined ? "" : ` · ${Number(price).toFixed(2)}`);

function card(look) {
  const figure = document.createElement("figure");
  figure.className = "face-card";
  figure.dataset.testid = "face-look";
  figure.dataset.lookId = look.look_id;
  figure.dataset.tone = String(look.skin_tone);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIZE;
  canvas.dataset.testid = "face-look-canvas";
  const caption = document.createElement("figcaption");
  const monk = document.createElement("div");
  monk.className = "monk";
  monk.dataset.testid = "face-look-monk";
  monk.textContent = `skin recoloured to Monk ${look.skin_tone} · ${look.undertone} undertone`;
  const term = document.createElement("div");
  term.className = "term";
  term.textContent = look.term ? `${look.term} (${look.term_type?.replace("_", " ")}, ${look.trend_class})` : look.look_id;
  const share = document.createElement("div");
  share.dataset.testid = "face-look-share";
  share.textContent = `audience share: ${percent(look.audience_share)}`;
  const products = document.createElement("ul");
  for (const product of look.products) {
    const li = document.createElement("li");
    li.dataset.testid = "face-look-product";
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.style.background = product.shade_hex;
    li.append(chip, `${product.region}: ${product.brand ?? ""} ${product.name ?? product.product_id} `
      + `${product.shade_hex} ${product.finish ?? ""}${money(product.price)}`);
    products.append(li);
  }
  caption.append(monk, term, share, products);
  figure.append(canvas, caption);
  grid.append(figure);
  return canvas;
}

async function main() {
  if (!data || !data.looks.length || !data.sample) return;
  const canvases = data.looks.map(card);
  const mirror = await createMirror();
  const bitmap = await createImageBitmap(await (await fetch(data.sample)).blob());
  const photo = pixelsOf(bitmap);
  const face = await mirror.analyse(photo);
  if (!face) throw new Error("no face found in the sample");
  const [x, y, w, h] = face.box;
  const side = Math.min(Math.max(w, h) * 1.7, photo.width, photo.height);
  const left = Math.min(Math.max(0, x + w / 2 - side / 2), photo.width - side);
  const top = Math.min(Math.max(0, y + h * 0.5 - side / 2), photo.height - side);
  const recoloured = new Map(); // Monk tone → the photo with its skin moved there
  const work = new OffscreenCanvas(photo.width, photo.height);
  const ctx = work.getContext("2d", { willReadFrequently: true });
  data.looks.forEach((look, index) => {
    const tone = Math.min(10, Math.max(1, Number(look.skin_tone) || 5));
    if (!recoloured.has(tone)) recoloured.set(tone, recolourSkin(photo, face.mesh, MONK_SWATCHES[tone - 1]));
    ctx.putImageData(recoloured.get(tone), 0, 0);
    renderLook(ctx, face.mesh, look.products.filter((p) => p.region && p.shade_hex).map((p) => ({
      region: p.region, shade_hex: p.shade_hex, finish: p.finish ?? "matte", intensity: p.intensity ?? 0.9 })));
    canvases[index].getContext("2d").drawImage(work, left, top, side, side, 0, 0, SIZE, SIZE);
  });
  document.body.dataset.faceLooksRendered = String(canvases.length);
}

main().catch((error) => {
  document.body.dataset.faceLooksError = String(error.message ?? error);
  console.error(error);
});
