// Face landmarks on the device: @vladmandic/human (468-point MediaPipe mesh + 10 iris points)
// on tfjs's WASM backend, its models and .wasm files served by the platform from the installed
// npm packages (`/vendor/...`), never from a CDN. The WebGL backend is not used: on a software GL
// it falls back to a ~1.5 s CPU path (measurements in docs/mirror.md).

/** Human's configuration: one object, every path explicit, every unused model off. */
export function humanConfig(vendor = "/vendor", overrides = {}) {
  return {
    backend: "wasm",
    wasmPath: `${vendor}/tfjs-backend-wasm/`,
    modelBasePath: `${vendor}/human/models/`,
    debug: false,
    async: true,
    warmup: "none",
    cacheSensitivity: 0, // a new photo never reuses the previous result
    skipAllowed: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: { rotation: false, maxDetected: overrides.maxFaces ?? 1, skipFrames: 0, minConfidence: 0.3, return: false },
      mesh: { enabled: true },
      iris: { enabled: true },
      attention: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  };
}

/** A detector: `await createDetector({ vendor })`, then `await detector.detect(image)` → faces
 *  [{ mesh: [[x, y], ...478], box: [x, y, w, h], score }], largest first. */
export async function createDetector({ vendor = "/vendor", maxFaces = 1 } = {}) {
  const { Human } = await import(`${vendor}/human/dist/human.esm.js`);
  const human = new Human(humanConfig(vendor, { maxFaces }));
  await human.load();
  return {
    human,
    backend: () => human.tf.getBackend(),
    async detect(input) {
      const result = await human.detect(input);
      return result.face
        .filter((face) => face.mesh && face.mesh.length >= 468)
        .map((face) => ({ mesh: face.mesh.map(([x, y]) => [x, y]), box: face.box, score: face.score }))
        .sort((p, q) => q.box[2] * q.box[3] - p.box[2] * p.box[3]);
    },
  };
}
