// What the mirror sends: try-on events (glamcast.tryon.v1, the TryOnEvent contract of
// glamcast/core/events.py) as JSON to the ingest gateway. Never an image: a face is only ever
// its derived attributes, and only with the person's consent.

export const SDK_VERSION = "mirror-1";
export const ACTIONS = ["try_on", "shade_swap", "like", "save", "share", "add_to_cart", "purchase", "dismiss"];
/** The region a category is drawn on (foundation and concealer are not drawn). */
export const REGION_OF_CATEGORY = {
  lipstick: "lips", lip_gloss: "lips", lip_liner: "lips",
  eyeshadow: "eyes", eyeliner: "eyes", mascara: "eyes",
  blush: "cheeks", bronzer: "cheeks", highlighter: "cheeks",
  brow: "brows",
};

const newId = () => (globalThis.crypto?.randomUUID ? crypto.randomUUID()
  : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`);

/** The `face` field of an event from analysed (or corrected) attributes. */
export function faceField(attributes) {
  return { skin_tone: attributes.skinTone, undertone: attributes.undertone, face_shape: attributes.faceShape };
}

/** One try-on event. product: { product_id, category, shade_hex, finish }; face: the output of
 *  faceField, or null without consent (then the event has no `face`). */
export function tryOnEvent({ userId, sessionId, action, product, dwellMs = 0, lookId = null, face = null, now = new Date() }) {
  if (!ACTIONS.includes(action)) throw new Error(`unknown action ${action}`);
  const event = {
    event_id: newId(),
    ts: now.toISOString(),
    user_id: userId,
    session_id: sessionId,
    action,
    product_id: product.product_id,
    category: product.category,
    shade_hex: product.shade_hex,
    finish: product.finish,
    dwell_ms: Math.max(0, Math.round(dwellMs)),
    platform: "web",
    app_version: SDK_VERSION,
  };
  if (lookId) event.look_id = lookId;
  if (face) event.face = face;
  return event;
}

/** POST events to the gateway (`{base}/v1/events/tryon`) as a JSON array; resolves to the
 *  gateway's answer { status, body }. */
export async function postTryOns(base, apiKey, events) {
  const response = await fetch(`${base}/v1/events/tryon`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": apiKey },
    body: JSON.stringify(events),
  });
  return { status: response.status, body: await response.json() };
}

/** Every product category (the `Category` vocabulary of glamcast/core/events.py). */
export const CATEGORIES = ["lipstick", "lip_gloss", "lip_liner", "eyeshadow", "eyeliner", "mascara",
  "brow", "blush", "bronzer", "highlighter", "foundation", "concealer"];

/** A preference event (glamcast.preference.v1, the PreferenceEvent contract): the person's whole
 *  set of explicit preferences, replacing the one before. boldness: 0 natural … 1 bold (0.5: no
 *  preference); priceCap: the highest price to show, or null for none; never: categories never
 *  to show. */
export function preferenceEvent({ userId, boldness = 0.5, priceCap = null, never = [], now = new Date() }) {
  const unknown = never.filter((category) => !CATEGORIES.includes(category));
  if (unknown.length) throw new Error(`unknown categories ${unknown.join(", ")}`);
  const event = {
    event_id: newId(),
    ts: now.toISOString(),
    user_id: userId,
    boldness: Math.min(1, Math.max(0, Number(boldness))),
    never_categories: [...new Set(never)],
  };
  if (priceCap !== null && priceCap !== undefined) event.price_cap = Number(priceCap);
  return event;
}

/** POST one preference event to the gateway (`{base}/v1/events/preference`) as a JSON object;
 *  resolves to the gateway's answer { status, body }. */
export async function postPreference(base, apiKey, event) {
  const response = await fetch(`${base}/v1/events/preference`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": apiKey },
    body: JSON.stringify(event),
  });
  return { status: response.status, body: await response.json() };
}
