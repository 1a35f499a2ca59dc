// The /mirror page: the SDK on a selfie, a sample face or the camera; the person's feed drawn
// on their face; each tap posted as a try-on event. No image is ever sent.

import {
  CATEGORIES, REGION_OF_CATEGORY, createMirror, exportTutorialWebm, extractLook, faceField, matchLook, pixelsOf,
  playTutorial, postPreference, postTryOns, preferenceEvent, tryOnEvent, tutorialFrames,
} from "/sdk/mirror.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
// the ingest key posts events; the person token reads this person's feed and nobody else's
const apiKey = params.get("key") || meta("glamcast-ingest-key");
const feedToken = params.get("token") || meta("glamcast-feed-token");
const sessionId = `web-${Date.now().toString(36)}`;
const MAX_SIDE = 640; // photos are analysed and drawn at most this large
const INTENSITY = 0.9;

const state = { mirror: null, source: null, face: null, full: document.createElement("canvas"), look: {}, triedAt: {}, feed: [], products: {}, accepted: 0,
  transferred: null, tutorial: null };
window.glamcastMirror = state; // for the browser tests: the tutorial's frames, the transferred look

function setStatus(text, pageState) {
  $("status").textContent = text;
  if (pageState) document.body.dataset.state = pageState;
}

function attributes() {
  return { skinTone: Number($("skin-tone").value), undertone: $("undertone").value, faceShape: $("face-shape").value };
}

/** The square around the face that the mirror shows: [left, top, side] in photo pixels. */
function faceCrop() {
  const [x, y, w, h] = state.face.box;
  const side = Math.min(Math.max(w, h) * 2, state.face.width, state.face.height);
  const left = Math.min(Math.max(0, x + w / 2 - side / 2), state.face.width - side);
  const top = Math.min(Math.max(0, y + h * 0.45 - side / 2), state.face.height - side);
  return [left, top, side];
}

function draw() {
  if (!state.face) return;
  const items = state.transferred ?? Object.values(state.look).map(({ product }) => ({
    region: REGION_OF_CATEGORY[product.category], shade_hex: product.shade_hex,
    finish: product.finish, intensity: INTENSITY }));
  state.mirror.render(state.full, state.source, state.face, items);
  // the mirror shows the face: a square around it, made up at the photo's full resolution
  const [left, top, side] = faceCrop();
  const canvas = $("face");
  canvas.width = canvas.height = 512;
  canvas.getContext("2d").drawImage(state.full, left, top, side, side, 0, 0, 512, 512);
  document.body.dataset.renders = String(Number(document.body.dataset.renders) + 1);
}

async function bitmapOf(blob) {
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  if (scale === 1) return bitmap;
  return createImageBitmap(bitmap, { resizeWidth: Math.round(bitmap.width * scale),
    resizeHeight: Math.round(bitmap.height * scale), resizeQuality: "high" });
}

async function useImage(blob) {
  setStatus("Finding your face…", "analysing");
  state.source = await bitmapOf(blob);
  const started = performance.now();
  state.face = await state.mirror.analyse(state.source);
  if (!state.face) {
    const canvas = $("face");
    canvas.width = state.source.width; canvas.height = state.source.height;
    canvas.getContext("2d").drawImage(state.source, 0, 0);
    setStatus("No face found: try a photo facing the camera, in even light.", "no-face");
    return;
  }
  const { skinTone, undertone, faceShape } = state.face.attributes;
  $("skin-tone").value = String(skinTone.value);
  $("undertone").value = undertone.value;
  $("face-shape").value = faceShape.value;
  $("skin-tone-confidence").textContent = `${Math.round(100 * skinTone.confidence)} % sure`;
  $("undertone-confidence").textContent = `${Math.round(100 * undertone.confidence)} % sure`;
  $("face-shape-confidence").textContent = `${Math.round(100 * faceShape.confidence)} % sure`;
  draw();
  setStatus(`Face found in ${Math.round(performance.now() - started)} ms. Tap a look to try it.`, "face");
  await refreshFeed();
}

async function send(action, item, lookId = null) {
  const face = $("consent").checked ? faceField(attributes()) : null;
  const products = item.look_id ? (item.products || []).map((id) => state.products[id]).filter(Boolean)
    : [state.products[item.product_id]].filter(Boolean);
  const events = products.map((product) => tryOnEvent({
    userId: $("user").value, sessionId, action, product, lookId: lookId ?? item.look_id ?? null, face,
    dwellMs: state.triedAt[product.product_id] ? performance.now() - state.triedAt[product.product_id] : 0 }));
  if (!events.length) return;
  const answer = await postTryOns("", apiKey, events);
  if (answer.status === 202) {
    state.accepted += answer.body.accepted;
    document.body.dataset.eventsAccepted = String(state.accepted);
  } else {
    setStatus(`The gateway refused the events (${answer.status}).`);
  }
}

async function tryItem(item) {
  state.transferred = null; // a tap on the feed replaces a copied look
  const products = item.look_id ? (item.products || []).map((id) => state.products[id]).filter(Boolean)
    : [state.products[item.product_id]].filter(Boolean);
  let swapped = false;
  for (const product of products) {
    const region = REGION_OF_CATEGORY[product.category];
    if (!region) continue;
    swapped ||= Boolean(state.look[region]);
    state.look[region] = { product, item };
    state.triedAt[product.product_id] = performance.now();
  }
  draw();
  document.querySelectorAll("#feed li").forEach((li) => li.classList.toggle("active", li.dataset.key === keyOf(item)));
  await send(swapped ? "shade_swap" : "try_on", item);
}

const keyOf = (item) => item.look_id ?? item.product_id;

function renderFeed(feed) {
  const list = $("feed");
  list.replaceChildren();
  for (const item of feed.items) {
    const ids = item.look_id ? item.products || [] : [item.product_id];
    const products = ids.map((id) => state.products[id]).filter(Boolean);
    if (!products.length) continue;
    const li = document.createElement("li");
    li.dataset.key = keyOf(item);
    li.dataset.testid = "feed-item";
    const swatches = document.createElement("div");
    swatches.className = "swatches";
    for (const product of products) {
      const swatch = document.createElement("div");
      swatch.className = "swatch";
      swatch.style.background = product.shade_hex;
      swatch.title = `${product.category}: ${product.shade_hex} ${product.finish}`;
      swatches.append(swatch);
    }
    const body = document.createElement("div");
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = item.look_id ? `Look ${item.look_id}` : `${products[0].brand} ${products[0].name}`;
    const reasons = document.createElement("div");
    reasons.className = "reasons";
    reasons.dataset.testid = "reasons";
    reasons.textContent = item.reasons.join(" · ");
    const actions = document.createElement("div");
    actions.className = "actions";
    for (const [label, action] of [["Try", "try"], ["Like", "like"], ["Save", "save"], ["Add to cart", "add_to_cart"], ["Not for me", "dismiss"]]) {
      const button = document.createElement("button");
      button.textContent = label;
      button.dataset.action = action;
      button.onclick = async () => {
        if (action === "try") return tryItem(item);
        await send(action, item);
        if (action === "dismiss") li.remove();
        followFeed(); // the stream workers update the feed: show the new reasons
      };
      actions.append(button);
    }
    if (item.look_id) {
      const button = document.createElement("button");
      button.textContent = "Tutorial";
      button.dataset.action = "tutorial";
      button.onclick = () => loadTutorial(item.look_id);
      actions.append(button);
    }
    body.append(name, reasons, actions);
    li.append(swatches, body);
    list.append(li);
  }
  $("feed-note").textContent = feed.personalized ? `Ranked for you at ${feed.generated_at}`
    : "Trending now (your taps make it yours)";
  document.body.dataset.feedGeneratedAt = feed.generated_at;
}

// After a tap the stream workers update the person's features within about a second (docs/mirror.md):
// read the feed every FOLLOW_EVERY_MS until it changes (items or reasons), for at most FOLLOW_MS.
const FOLLOW_EVERY_MS = 200;
const FOLLOW_MS = 5000;
const feedKey = (items) => JSON.stringify(items.map((item) => [keyOf(item), item.reasons]));
let following = 0;

async function followFeed() {
  const mine = ++following; // a newer tap takes over
  const before = feedKey(state.feed);
  const until = performance.now() + FOLLOW_MS;
  while (mine === following && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_EVERY_MS));
    await refreshFeed();
    if (feedKey(state.feed) !== before) break;
  }
}

async function refreshFeed() {
  const user = encodeURIComponent($("user").value);
  const response = await fetch(`/v1/feed/${user}?k=12`, { headers: { Authorization: `Bearer ${feedToken}` } });
  if (!response.ok) {
    $("feed-note").textContent = `The feed is not available (${response.status}).`;
    return;
  }
  const feed = await response.json();
  const ids = new Set(feed.items.flatMap((item) => (item.look_id ? item.products || [] : [item.product_id])));
  const missing = [...ids].filter((id) => !state.products[id]);
  if (missing.length) {
    const answer = await fetch(`/v1/products?ids=${encodeURIComponent(missing.join(","))}`);
    if (answer.ok) for (const product of (await answer.json()).products) state.products[product.product_id] = product;
  }
  state.feed = feed.items;
  renderFeed(feed);
}

async function startCamera() {
  const video = $("video");
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, facingMode: "user" } });
  await video.play();
  const frame = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  frame.getContext("2d").drawImage(video, 0, 0);
  video.srcObject.getTracks().forEach((track) => track.stop());
  await useImage(await frame.convertToBlob());
}

// --- copy a look from a photo: extracted here, drawn on the person's face; only numbers are sent ---

async function copyLook(blob) {
  if (!state.face) return setStatus("First pick your own face (a sample, an upload or a selfie).");
  $("transfer-status").textContent = "Reading the look…";
  const reference = await bitmapOf(blob);
  const face = await state.mirror.analyse(reference);
  if (!face) {
    $("transfer-status").textContent = "No face found in that photo.";
    document.body.dataset.transfer = "no-face";
    return;
  }
  const look = extractLook(pixelsOf(reference), face.mesh);
  state.transferred = look;
  draw();
  const answer = await matchLook("", apiKey, look);
  if (answer.status !== 200) {
    $("transfer-status").textContent = `No products found (${answer.status}).`;
    document.body.dataset.transfer = "unmatched";
    return;
  }
  const list = $("transfer-products");
  list.replaceChildren();
  for (const region of answer.body.regions) {
    const li = document.createElement("li");
    li.dataset.testid = "transfer-product";
    li.dataset.region = region.region;
    const best = region.products[0];
    li.innerHTML = `<span class="chip" style="background:${region.asked.shade_hex}"></span>`;
    li.append(best ? `${region.region}: ${best.brand ?? ""} ${best.name ?? best.product_id} `
      + `${best.shade_hex} · ${best.finish} · ${best.price ?? "?"} (ΔE ${best.delta_e})`
      : `${region.region}: ${region.asked.shade_hex} ${region.asked.finish} — no product in the catalogue`);
    list.append(li);
  }
  $("transfer-status").textContent = `Look copied (${look.length} regions), drawn on your face.`;
  showTutorial("of the copied look", answer.body.tutorial);
  document.body.dataset.transfer = "done";
}

$("use-reference").onclick = async () => {
  const file = $("reference").files[0];
  await copyLook(file ?? await (await fetch($("reference-sample").value)).blob());
};

// --- tutorials: one frame per step, each adding one region; played here, exported as WebM ---

async function loadTutorial(lookId) {
  const response = await fetch(`/v1/looks/${encodeURIComponent(lookId)}/tutorial`, { headers: { "X-API-Key": apiKey } });
  if (!response.ok) return setStatus(`No tutorial for ${lookId} (${response.status}).`);
  showTutorial(lookId, (await response.json()).steps);
}

function showTutorial(name, steps) {
  state.tutorial = { name, steps, frames: null };
  $("tutorial-name").textContent = name;
  const list = $("tutorial-steps");
  list.replaceChildren(...steps.map((step) => {
    const li = document.createElement("li");
    li.dataset.testid = "tutorial-step";
    li.innerHTML = step.product ? `<span class="chip" style="background:${step.product.shade_hex}"></span>` : "";
    li.append(`${step.title}: ${step.technique}`);
    return li;
  }));
  $("tutorial-play").disabled = $("tutorial-export").disabled = !state.face;
  document.body.dataset.tutorialSteps = String(steps.length);
}

function framesOfTutorial() {
  state.tutorial.frames ??= tutorialFrames(state.source, state.face, state.tutorial.steps);
  return state.tutorial.frames;
}

$("tutorial-play").onclick = async () => {
  const frames = framesOfTutorial();
  const items = [...$("tutorial-steps").children];
  await playTutorial($("face"), frames, { frameMs: 700, crop: faceCrop(),
    onFrame: (_, index) => items.forEach((li, i) => li.classList.toggle("current", i === index)) });
  document.body.dataset.tutorialFrames = String(frames.length);
};

$("tutorial-export").onclick = async () => {
  const blob = await exportTutorialWebm(framesOfTutorial(), { frameMs: 500, crop: faceCrop() });
  const link = $("tutorial-download");
  link.href = URL.createObjectURL(blob); // the video stays on the device
  link.hidden = false;
  document.body.dataset.tutorialWebmBytes = String(blob.size);
};

$("use-sample").onclick = async () => useImage(await (await fetch($("sample").value)).blob());
$("upload").onchange = async (event) => event.target.files[0] && useImage(event.target.files[0]);
$("camera").onclick = () => startCamera().catch((error) => setStatus(`No camera: ${error.message}`));
$("refresh").onclick = () => refreshFeed();

// Explicit preferences: the whole set is one event (glamcast.preference.v1); the feed filters and
// re-ranks once the stream workers have pushed it to the feature store.
const NO_CAP = 105; // the price slider's last step
const priceCap = () => (Number($("price-cap").value) >= NO_CAP ? null : Number($("price-cap").value));
$("price-cap").oninput = () => {
  $("price-cap-shown").textContent = priceCap() === null ? "no cap" : `€${priceCap()}`;
};
for (const category of CATEGORIES) {
  const label = document.createElement("label");
  label.innerHTML = `<input type="checkbox" value="${category}" data-testid="never-${category}"> ${category.replace("_", " ")}`;
  $("never").append(label);
}
$("save-preferences").onclick = async () => {
  const never = [...$("never").querySelectorAll("input:checked")].map((input) => input.value);
  const event = preferenceEvent({ userId: $("user").value, boldness: Number($("boldness").value), priceCap: priceCap(), never });
  const answer = await postPreference("", apiKey, event);
  if (answer.status !== 202) return setStatus(`The gateway refused the preferences (${answer.status}).`);
  document.body.dataset.preferencesAccepted = String(Number(document.body.dataset.preferencesAccepted || 0) + 1);
  followFeed();
};
for (const id of ["skin-tone", "undertone", "face-shape"]) $(id).onchange = () => draw();

createMirror().then((mirror) => {
  state.mirror = mirror;
  setStatus("Pick a sample face, upload a selfie or take one.", "ready");
}).catch((error) => setStatus(`The face model did not load: ${error.message}`, "error"));
