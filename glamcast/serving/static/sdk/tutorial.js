// Tutorials as rendered steps: one frame per step of a look's tutorial, each adding one region,
// playable as an animation and exportable as a WebM (MediaRecorder on canvas.captureStream).
//
//   const steps = (await (await fetch(`/v1/looks/${id}/tutorial`, ...)).json()).steps;
//   const frames = tutorialFrames(source, face, steps);  // [{ step, region, image: ImageData }]
//   await playTutorial(canvas, frames, { frameMs: 900 });
//   const webm = await exportTutorialWebm(frames, { frameMs: 900 });  // a Blob, stays on the device
//
// Steps are those of GET /v1/looks/{look_id}/tutorial (models/look_tutorial.py): prep and base
// (no region: the face as it is), then brows, eyes, cheeks, lips, each with its product. Frame i
// is frame i − 1 with step i's region drawn on it, so it differs from the one before only inside
// that region's mask.

import { renderItem } from "./render.js";

/** The look item a tutorial step draws (null for prep and base). */
export function stepItem(step) {
  if (!step.region || !step.product) return null;
  return { region: step.region, shade_hex: step.product.shade_hex, finish: step.product.finish ?? "matte",
           intensity: step.product.intensity ?? 1 };
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  return canvas;
}

/** One frame per step: { step, stage, region, title, image (ImageData at the face's size) }.
 *  `source`: the photo (ImageData, bitmap, image or canvas); `face`: mirror.analyse's result. */
export function tutorialFrames(source, face, steps) {
  const width = face.width ?? source.width, height = face.height ?? source.height;
  const canvas = canvasOf(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (source instanceof ImageData) ctx.putImageData(source, 0, 0);
  else ctx.drawImage(source, 0, 0, width, height);
  return steps.map((step) => {
    const item = stepItem(step);
    if (item && item.shade_hex) renderItem(ctx, face.mesh, item);
    return { step: step.step, stage: step.stage, region: step.region, title: step.title,
             image: ctx.getImageData(0, 0, width, height) };
  });
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Show the frames on a canvas one after another (`onFrame(frame, index)` after each). */
export async function playTutorial(canvas, frames, { frameMs = 900, onFrame = () => {}, crop = null } = {}) {
  const ctx = canvas.getContext("2d");
  for (const [index, frame] of frames.entries()) {
    drawFrame(ctx, canvas, frame.image, crop);
    onFrame(frame, index);
    await pause(frameMs);
  }
}

function drawFrame(ctx, canvas, image, crop) {
  const full = canvasOf(image.width, image.height);
  full.getContext("2d").putImageData(image, 0, 0);
  const [x, y, side] = crop ?? [0, 0, Math.max(image.width, image.height)];
  if (!crop) { canvas.width = image.width; canvas.height = image.height; }
  ctx.drawImage(full, x, y, crop ? side : image.width, crop ? side : image.height, 0, 0, canvas.width, canvas.height);
}

/** The frames as a WebM video (a Blob, made and kept in the page): MediaRecorder on the
 *  canvas's captureStream, each frame held `frameMs`. Rejects where the browser has no WebM
 *  recorder. */
export async function exportTutorialWebm(frames, { frameMs = 900, canvas = null, crop = null } = {}) {
  const target = canvas ?? document.createElement("canvas");
  if (!canvas) {
    target.width = crop ? 512 : frames[0].image.width;
    target.height = crop ? 512 : frames[0].image.height;
  }
  const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"].find((t) => MediaRecorder.isTypeSupported(t));
  if (!type) throw new Error("this browser cannot record WebM");
  const stream = target.captureStream(30);
  const recorder = new MediaRecorder(stream, { mimeType: type });
  const chunks = [];
  recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  const ctx = target.getContext("2d");
  recorder.start();
  for (const frame of frames) {
    drawFrame(ctx, target, frame.image, crop);
    await pause(frameMs);
  }
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((track) => track.stop());
  return new Blob(chunks, { type: "video/webm" });
}
