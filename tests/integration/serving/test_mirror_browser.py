"""The mirror in a real browser: Debian's Chromium, headless, driven by Playwright.

The app (`create_app`) runs under uvicorn on the session's embedded broker, over a lake that holds
a small catalogue (no recommender champion: the person gets the trending feed). The page opens
for one person, picks scikit-image's astronaut (served from the installed package: no face photo
is kept in git), finds the face and its attributes with the SDK in the browser, draws the feed's
look on the face (brows, blush, eyeshadow, a lipstick, then a second lipstick over the first)
and posts every tap (four try-ons, a shade swap, a like) to the ingest gateway, which accepts
each (202). The network log of the whole visit proves that no request carries image bytes: the only
request bodies are JSON arrays of try-on events, and the one preference event (bold, a price cap,
never blush) the page's preference controls send, that pass the gateway's contract, each below
`MAX_BODY_BYTES`, and no URL is long enough to smuggle an image. A screenshot of the made-up face
goes to test-artifacts/mirror.png (the README's picture).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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

from glamcast.core.events import (
    PreferenceEvent,
    Rejection,
    TryOnEvent,
    decode_event,
)
from glamcast.core.settings import Settings
from glamcast.serving.app import create_app
from streams.app import ensure_topics

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO_ROOT / "test-artifacts"
MAX_BODY_BYTES = 4_096  # a tap's events; an image would be hundreds of kilobytes
MAX_URL_CHARS = 512
IMAGE_MARKERS = (b"\x89PNG", b"\xff\xd8\xff", b"data:image", b"RIFF", b"base64")
#: tapped "Try" in this order: brows, cheeks, eyes, a lipstick, then another lipstick (a swap)
TRIES = ["mirror-brow-1", "mirror-cheek-1", "mirror-eye-1", "mirror-lip-2", "mirror-lip-1"]
CATALOGUE = [  # (product_id, category, shade, finish, price)
    ("mirror-lip-1", "lipstick", "#B0303F", "matte", 19.0),
    ("mirror-lip-2", "lipstick", "#E8735A", "gloss", 24.0),
    ("mirror-eye-1", "eyeshadow", "#8A6F5C", "shimmer", 29.0),
    ("mirror-cheek-1", "blush", "#F2A48C", "satin", 21.0),
    ("mirror-brow-1", "brow", "#4A3426", "matte", 17.0),
]


@pytest.fixture(scope="module")
def mirror_url(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert Path(CHROMIUM).exists(), "chromium missing: run infra/system-deps.sh (root, apt)"
    root = tmp_path_factory.mktemp("mirror")
    settings = isolated_app_settings(stack_settings, root, "mirror")
    write_catalogue(settings, CATALOGUE)
    ensure_topics(settings)
    with ServedApp(create_app(settings)) as url:
        yield url


def body_of(request: Request) -> bytes:
    return request.post_data_buffer or b""


def test_the_mirror_makes_up_a_face_in_the_browser_and_sends_only_events(mirror_url: str) -> None:
    started = time.monotonic()
    person = f"u-mirror-{uuid.uuid4().hex[:6]}"
    requests: list[Request] = []
    ingest_statuses: list[int] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.on("request", lambda request: requests.append(request))
        page.on("response", lambda response: ingest_statuses.append(response.status)
                if "/v1/events/" in response.url else None)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{mirror_url}/mirror?user={person}")
        wait_for(page, "document.body.dataset.state === 'ready'", 60)

        page.select_option("[data-testid=sample]", "/mirror/samples/astronaut.png")
        page.click("[data-testid=use-sample]")
        wait_for(page, "['face', 'no-face'].includes(document.body.dataset.state)", 60)
        assert page.evaluate("document.body.dataset.state") == "face", page.inner_text("#status")
        tone = int(page.input_value("[data-testid=skin-tone]"))
        assert 1 <= tone <= 10
        assert page.input_value("[data-testid=undertone]") in {"cool", "neutral", "warm"}
        assert page.input_value("[data-testid=face-shape]") in {
            "oval", "round", "square", "heart", "oblong", "diamond"}
        assert "% sure" in page.inner_text("#skin-tone-confidence")

        wait_for(page, "document.querySelectorAll('#feed li').length === 5", 30)
        page.check("[data-testid=consent]")
        # a full look, one region at a time, then another lipstick over the first (a swap)
        for taps, product in enumerate(TRIES, start=1):
            before = page.evaluate("document.getElementById('face').toDataURL()")
            item = page.locator(f"#feed li[data-key='{product}']")
            item.locator("button[data-action=try]").click()
            wait_for(page, f"Number(document.body.dataset.eventsAccepted) >= {taps}", 20)
            assert page.evaluate("document.getElementById('face').toDataURL()") != before, product
        page.locator("#feed li[data-key='mirror-lip-1'] button[data-action=like]").click()
        wait_for(page, f"Number(document.body.dataset.eventsAccepted) >= {len(TRIES) + 1}", 20)
        # explicit preferences: bold, at most 25, never blush (one preference event)
        page.fill("[data-testid=boldness]", "1")
        page.fill("[data-testid=price-cap]", "25")
        page.check("[data-testid=never-blush]")
        page.click("[data-testid=save-preferences]")
        wait_for(page, "document.body.dataset.preferencesAccepted === '1'", 20)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mirror.png"))
        browser.close()
    assert not errors, errors

    # every tap reached the gateway and was accepted
    posts = [request for request in requests if request.method != "GET"]
    assert ingest_statuses == [202] * (len(TRIES) + 2)
    assert [request.url for request in posts] == [
        *[f"{mirror_url}/v1/events/tryon"] * (len(TRIES) + 1), f"{mirror_url}/v1/events/preference"]
    sent, preferences = [], []
    for request in posts:
        body = body_of(request)
        assert request.headers["content-type"] == "application/json"
        assert len(body) <= MAX_BODY_BYTES, f"{len(body)} bytes posted"
        model = PreferenceEvent if request.url.endswith("/preference") else TryOnEvent
        items = json.loads(body)
        for item in items if isinstance(items, list) else [items]:
            decoded = decode_event(model, json.dumps(item).encode())
            assert not isinstance(decoded, Rejection), decoded
            (preferences if model is PreferenceEvent else sent).append(decoded)
    assert [(p.user_id, p.boldness, p.price_cap, p.never_categories) for p in preferences] == [
        (person, 1.0, 25.0, ["blush"])]
    assert [(event.action, event.product_id, event.user_id) for event in sent] == [
        *[("try_on", product, person) for product in TRIES[:-1]],
        ("shade_swap", "mirror-lip-1", person), ("like", "mirror-lip-1", person)]
    assert all(event.face is not None and event.face.skin_tone == tone for event in sent)  # consent
    # nothing else carried a body, and no URL could hold an image
    for request in requests:
        body = body_of(request)
        assert request.method == "POST" or not body, f"{request.method} {request.url} has a body"
        assert not any(marker in body for marker in IMAGE_MARKERS), request.url
        assert request.url.startswith((mirror_url, "data:")) and len(request.url) <= MAX_URL_CHARS \
            or request.url.startswith("blob:"), request.url[:200]
    print(f"mirror browser test: {time.monotonic() - started:.1f} s")
