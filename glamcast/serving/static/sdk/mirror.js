// The Glamcast mirror SDK: `import { createMirror } from "/sdk/mirror.js"`.
//
//   const mirror = await createMirror();            // loads the landmark model (WASM, local)
//   const face = await mirror.analyse(image);       // mesh + Monk tone, undertone, face shape
//   mirror.render(canvas, image, face, lookItems);  // the look drawn on the face
//
// Everything runs in the page: the image never leaves the device. Only events (events.js) are
// sent, and the face only as attributes, with consent.

import { analyseFace } from "./attributes.js";
import { createDetector } from "./landmarks.js";
import { renderLook } from "./render.js";

export * from "./attributes.js";
export * from "./color.js";
export * from "./events.js";
export * from "./regions.js";
export * from "./render.js";
export * from "./skin.js";
export * from "./transfer.js";
export * from "./tutorial.js";
export { createDetector, humanConfig } from "./landmarks.js";

/** Pixels of an image, bitmap, video frame or canvas as ImageData (at its natural size). */
export function pixelsOf(source) {
  const width = source.naturalWidth ?? source.videoWidth ?? source.width;
  const height = source.naturalHeight ?? source.videoHeight ?? source.height;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

/** A mirror: { analyse(source), render(canvas, source, face, items), detector }. */
export async function createMirror({ vendor = "/vendor", maxFaces = 1 } = {}) {
  const detector = await createDetector({ vendor, maxFaces });
  return {
    detector,
    /** The largest face of an image: { mesh, box, score, attributes } or null when none. */
    async analyse(source) {
      const pixels = source instanceof ImageData ? source : pixelsOf(source);
      const faces = await detector.detect(pixels);
      if (!faces.length) return null;
      return { ...faces[0], attributes: analyseFace(pixels, faces[0].mesh), width: pixels.width, height: pixels.height };
    },
    /** Draw the source, then the look, on the canvas (sized to the source). */
    render(canvas, source, face, items) {
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      if (source instanceof ImageData) {
        canvas.width = source.width; canvas.height = source.height;
        ctx.putImageData(source, 0, 0);
      } else {
        canvas.width = face.width; canvas.height = face.height;
        ctx.drawImage(source, 0, 0, face.width, face.height);
      }
      renderLook(ctx, face.mesh, items);
    },
  };
}
