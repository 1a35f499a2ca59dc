"""Looks on faces, makeup transfer and tutorials in a real browser (Debian Chromium, Playwright).

The app runs under uvicorn over a lake that holds a small catalogue and one forecast run's trend
looks (written by `glamcast.platform.trend_looks.write_trend_looks`, the forecast job's writer,
so the dashboard reads them through the `/v1/trend-looks` store).

- The dashboard draws every trend look with the mirror SDK on scikit-image's astronaut, her skin
  recoloured to the look's Monk group: one card per look, labelled "skin recoloured to Monk N",
  with its products (brand, name, shade, price) and audience share; faces of different Monk
  groups differ. Screenshot: test-artifacts/dashboard-looks.png.
- The mirror copies the look of a reference photo (Grace Hopper, from matplotlib, made up in the
  page with a known look by the SDK and handed to the page's file input) onto the astronaut, and
  the lips' nearest product is the lipstick applied; it lists the matched products of each region
  and the tutorial; the tutorial's frames
  are one per step, and each frame differs from the one before only inside its step's region
  mask (prep and base change nothing); the WebM export makes a video in the page. The network
  log proves no request carries image bytes: the only POST is the look's numbers to
  `/v1/looks/match`. Screenshot: test-artifacts/mirror-transfer.png.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Request, sync_playwright
from testkit import (
    CHROMIUM,
    ServedApp,
    isolated_app_settings,
    launch_chromium,
    wait_for,
    write_catalogue,
)

from glamcast.core.settings import Settings
from glamcast.platform.trend_looks import write_trend_looks
from glamcast.serving.app import create_app
from streams.app import ensure_topics

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts"
IMAGE_MARKERS = (b"\x89PNG", b"\xff\xd8\xff", b"data:image", b"RIFF", b"base64", b"webm")
CATALOGUE = [  # (product_id, category, shade, finish, price)
    ("tl-lip-1", "lipstick", "#B0303F", "matte", 19.0),
    ("tl-lip-2", "lipstick", "#C98B8B", "satin", 22.5),
    ("tl-eye-1", "eyeshadow", "#8A6F5C", "shimmer", 29.0),
    ("tl-cheek-1", "blush", "#E07A7A", "satin", 21.0),
    ("tl-brow-1", "brow", "#4A3426", "matte", 17.0),
]
#: (look id, term, Monk tone, undertone, audience share, [(region, product id, intensity)])
TREND_LOOKS = [
    ("trend-v1-red-t2-cool-0", "red", 2, "cool", 0.08,
     [("lips", "tl-lip-1", 0.9), ("eyes", "tl-eye-1", 0.7), ("cheeks", "tl-cheek-1", 0.6), ("brows", "tl-brow-1", 0.7)]),
    ("trend-v1-red-t6-warm-0", "red", 6, "warm", 0.17, [("lips", "tl-lip-1", 0.9), ("cheeks", "tl-cheek-1", 0.6)]),
    ("trend-v1-nude-t9-neutral-0", "nude", 9, "neutral", 0.05, [("lips", "tl-lip-2", 0.8), ("eyes", "tl-eye-1", 0.8)]),
]


def trend_looks_frame() -> pd.DataFrame:
    products = {p: (category, shade, finish, price) for p, category, shade, finish, price in CATALOGUE}
    rows = []
    for look_id, term, tone, undertone, share, items in TREND_LOOKS:
        for region, product, intensity in items:
            category, shade, finish, price = products[product]
            rows.append({"look_id": look_id, "term": term, "term_type": "shade_family",
                         "trend_class": "rising", "skin_tone": tone, "undertone": undertone,
                         "audience_share": share, "look_rank": 0, "region": region, "category": category,
                         "product_id": product, "brand": "Glam", "name": f"{category} {shade}",
                         "shade_hex": shade, "finish": finish, "intensity": intensity, "price": price,
                         "delta_e": 1.0, "product_family": term, "model_version": 1, "run_id": "r" * 32,
                         "origin": date(2026, 12, 1), "generated_at": datetime(2026, 12, 1, 6, tzinfo=UTC)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def app_url(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert Path(CHROMIUM).exists(), "chromium missing: run infra/system-deps.sh (root, apt)"
    root = tmp_path_factory.mktemp("looks-browser")
    settings = isolated_app_settings(stack_settings, root, "looks")
    write_catalogue(settings, CATALOGUE)
    write_trend_looks(settings, trend_looks_frame(), date(2026, 12, 1))
    ensure_topics(settings)
    with ServedApp(create_app(settings)) as url:
        yield url


def test_the_dashboard_draws_trend_looks_on_faces_across_the_monk_scale(app_url: str) -> None:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(viewport={"width": 1360, "height": 1000},
                                      http_credentials={"username": "marketing", "password": "dev-marketing"})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{app_url}/dashboard")
        wait_for(page, "document.body.dataset.faceLooksRendered || document.body.dataset.faceLooksError", 90)
        assert page.evaluate("document.body.dataset.faceLooksError") is None
        assert page.evaluate("document.body.dataset.faceLooksRendered") == str(len(TREND_LOOKS))
        cards = page.locator("[data-testid=face-look]")
        assert [cards.nth(i).get_attribute("data-look-id") for i in range(cards.count())] == [
            look_id for look_id, *_ in sorted(TREND_LOOKS, key=lambda look: (look[1], -look[4]))]
        monk = page.locator("[data-testid=face-look-monk]").all_inner_texts()
        assert sorted(monk) == sorted(f"skin recoloured to Monk {tone} · {undertone} undertone"
                                      for _, _, tone, undertone, *_ in TREND_LOOKS)
        shares = page.locator("[data-testid=face-look-share]").all_inner_texts()
        assert sorted(shares) == sorted(f"audience share: {100 * share:.1f} %" for *_, share, _ in TREND_LOOKS)
        products = page.locator("[data-testid=face-look-product]").all_inner_texts()
        assert len(products) == sum(len(items) for *_, items in TREND_LOOKS)
        assert "lips: Glam lipstick #B0303F #B0303F matte · 19.00" in products
        # each face is drawn (not blank) and a face of another Monk group differs
        images = page.evaluate("""() => [...document.querySelectorAll('[data-testid=face-look-canvas]')].map((c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
            return { mean: sum / (d.length / 4 * 3), url: c.toDataURL() }; })""")
        assert all(20 < image["mean"] < 240 for image in images), [image["mean"] for image in images]
        assert len({image["url"] for image in images}) == len(images)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("[data-testid=section-face-looks]").screenshot(path=str(ARTIFACTS / "dashboard-looks.png"))
        # a trend look has a tutorial
        answer = page.request.get(f"{app_url}/v1/looks/{TREND_LOOKS[0][0]}/tutorial",
                                  headers={"X-API-Key": "dev-ingest"})
        assert answer.status == 200
        steps = answer.json()["steps"]
        assert [s["stage"] for s in steps] == ["prep", "base", "brows", "eyes", "cheeks", "lips"]
        assert steps[-1]["product"]["product_id"] == "tl-lip-1" and answer.json()["source"] == "trend"
        browser.close()
    assert not errors, errors


#: The look the reference photo wears (drawn by the SDK on Grace Hopper before the test copies it).
REFERENCE_LOOK = [
    {"region": "lips", "shade_hex": "#B0303F", "finish": "matte", "intensity": 0.95},
    {"region": "eyes", "shade_hex": "#8A6F5C", "finish": "shimmer", "intensity": 0.9},
    {"region": "cheeks", "shade_hex": "#E07A7A", "finish": "satin", "intensity": 0.8},
    {"region": "brows", "shade_hex": "#4A3426", "finish": "matte", "intensity": 0.8},
]
MAKE_REFERENCE = """async (look) => {
  const sdk = await import('/sdk/mirror.js');
  const bitmap = await createImageBitmap(await (await fetch('/mirror/samples/grace-hopper.jpg')).blob());
  const face = await window.glamcastMirror.mirror.analyse(bitmap);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  sdk.renderLook(ctx, face.mesh, look);
  const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(text);
}"""

FRAME_CHECK = """() => {
  const state = window.glamcastMirror;
  return import('/sdk/mirror.js').then((sdk) => {
    const frames = state.tutorial.frames;
    const { width, height } = frames[0].image;
    return frames.map((frame, i) => {
      const before = i ? frames[i - 1].image.data : null;
      if (!before) return { region: frame.region, changed: -1, outside: 0 };
      const mask = frame.region ? sdk.regionMask(state.face.mesh, frame.region, width, height) : null;
      let changed = 0, outside = 0;
      for (let p = 0; p < width * height; p++) {
        const j = 4 * p;
        if (before[j] === frame.image.data[j] && before[j + 1] === frame.image.data[j + 1]
            && before[j + 2] === frame.image.data[j + 2]) continue;
        changed += 1;
        const x = p % width, y = Math.floor(p / width);
        const u = mask ? x - mask.bounds.x : -1, v = mask ? y - mask.bounds.y : -1;
        const inside = mask && u >= 0 && v >= 0 && u < mask.bounds.width && v < mask.bounds.height
          && mask.alpha[v * mask.bounds.width + u] > 0;
        if (!inside) outside += 1;
      }
      return { region: frame.region, changed, outside };
    });
  });
}"""


def test_the_mirror_copies_a_look_from_a_photo_and_plays_its_tutorial(app_url: str) -> None:
    person = f"u-looks-{uuid.uuid4().hex[:6]}"
    requests: list[Request] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.on("request", lambda request: requests.append(request))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{app_url}/mirror?user={person}")
        wait_for(page, "document.body.dataset.state === 'ready'", 60)
        page.select_option("[data-testid=sample]", "/mirror/samples/astronaut.png")
        page.click("[data-testid=use-sample]")
        wait_for(page, "['face', 'no-face'].includes(document.body.dataset.state)", 60)
        assert page.evaluate("document.body.dataset.state") == "face"
        before = page.evaluate("document.getElementById('face').toDataURL()")

        # the reference: Grace Hopper made up with a known look by the SDK in this page, handed
        # to the page's file input (as a person picks a photo): it never leaves the browser
        reference = base64.b64decode(page.evaluate(MAKE_REFERENCE, REFERENCE_LOOK))
        page.set_input_files("[data-testid=reference]", files=[
            {"name": "reference.png", "mimeType": "image/png", "buffer": reference}])
        page.click("[data-testid=use-reference]")
        wait_for(page, "document.body.dataset.transfer", 60)
        assert page.evaluate("document.body.dataset.transfer") == "done", page.inner_text("#transfer-status")
        assert page.evaluate("document.getElementById('face').toDataURL()") != before  # drawn on her face
        look = page.evaluate("window.glamcastMirror.transferred")
        assert sorted(item["region"] for item in look) == ["brows", "cheeks", "eyes", "lips"]
        products = page.locator("[data-testid=transfer-product]").all_inner_texts()
        assert len(products) == 4, products
        lips = next(text for text in products if text.startswith("lips:"))
        assert lips.startswith("lips: Glam lipstick #B0303F #B0303F · matte · 19"), products  # the applied one
        steps = page.locator("[data-testid=tutorial-step]").all_inner_texts()
        assert len(steps) == 6 and steps[0].startswith("Prep") and steps[-1].startswith("Lips")

        page.click("[data-testid=tutorial-play]")
        wait_for(page, "document.body.dataset.tutorialFrames", 60)
        checks = page.evaluate(FRAME_CHECK)
        assert len(checks) == len(steps) == int(page.evaluate("document.body.dataset.tutorialFrames"))
        assert [c["region"] for c in checks] == [None, None, "brows", "eyes", "cheeks", "lips"]
        assert checks[1] == {"region": None, "changed": 0, "outside": 0}  # base: nothing drawn
        for check in checks[2:]:
            assert check["changed"] > 0 and check["outside"] == 0, check
        page.click("[data-testid=tutorial-export]")
        wait_for(page, "Number(document.body.dataset.tutorialWebmBytes) > 0", 60)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mirror-transfer.png"))
        browser.close()
    assert not errors, errors

    posts = [request for request in requests if request.method != "GET"]
    assert [request.url for request in posts] == [f"{app_url}/v1/looks/match"]
    body = json.loads(posts[0].post_data_buffer or b"")
    assert set(body) == {"items", "k"} and len(body["items"]) == 4
    assert all(set(item) == {"region", "shade_hex", "finish", "intensity"} for item in body["items"])
    assert len(posts[0].post_data_buffer or b"") < 1024
    for request in requests:
        payload = request.post_data_buffer or b""
        assert request.method == "POST" or not payload
        assert not any(marker in payload for marker in IMAGE_MARKERS), request.url
        assert request.url.startswith((app_url, "data:", "blob:")) and (
            len(request.url) <= 512 or request.url.startswith("blob:")), request.url[:200]
