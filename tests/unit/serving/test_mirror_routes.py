"""The mirror router alone (no broker): what it serves, and what it keeps private."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from glamcast.core import topics
from glamcast.core.events import CatalogEvent
from glamcast.core.names import CATALOG
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.serving import mirror


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(state_dir=tmp_path, lake_uri=str(tmp_path / "lake"))
    now = datetime.now(UTC)
    events = [CatalogEvent(event_id=f"c{i}", ts=now, product_id=f"p{i}", brand="Glam", name=f"n{i}",
                           category="lipstick", shade_hex=f"#C0392{i}", finish="gloss", price=9.5,
                           launched_at=now) for i in range(3)]
    table = lake.table_from_events(CATALOG, events, partition=0, offsets=[0, 1, 2])
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)
    app = FastAPI()
    app.state.settings = settings
    app.include_router(mirror.router)
    return TestClient(app)


def test_the_page_names_the_samples_and_the_local_key(client: TestClient) -> None:
    page = client.get("/mirror?user=u-7")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'value="u-7"' in page.text and 'src="/mirror/assets/page.js"' in page.text
    assert "/mirror/samples/grace-hopper.jpg" in page.text and "/mirror/samples/astronaut.png" in page.text
    assert 'name="glamcast-ingest-key" content="dev-' in page.text
    assert "cdn" not in page.text.lower() and 'data-testid="note-vendor"' not in page.text


def test_sdk_vendor_files_and_samples_are_served_with_their_types(client: TestClient) -> None:
    sdk = client.get("/sdk/mirror.js")
    assert sdk.status_code == 200 and sdk.headers["content-type"].startswith("text/javascript")
    wasm = client.get("/vendor/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm" and "max-age" in wasm.headers["cache-control"]
    assert client.get("/vendor/human/dist/human.esm.js").status_code == 200
    model = client.get("/vendor/human/models/facemesh.json")
    assert model.status_code == 200 and model.json()["format"] == "graph-model"
    sample = client.get("/mirror/samples/astronaut.png")
    assert sample.status_code == 200 and sample.content[:4] == b"\x89PNG"


@pytest.mark.parametrize("path", [
    "/vendor/human/package.json",  # only dist/ and models/ of the package
    "/vendor/human/src/human.ts",
    "/vendor/human/dist/../package.json",
    "/vendor/human/dist/%2e%2e/package.json",
    "/vendor/seedrandom/index.js",  # not a served package
    "/sdk/..%2fmirror.py",
    "/sdk/regions.ts",
    "/mirror/assets/..%2f..%2fmirror.py",
    "/mirror/samples/passwd",
])
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_products_answers_the_catalogue_fields_of_known_ids_in_order(client: TestClient) -> None:
    answer = client.get("/v1/products?ids=p2,nope,p0")
    assert answer.status_code == 200
    assert answer.json() == {"products": [
        {"product_id": f"p{i}", "brand": "Glam", "name": f"n{i}", "category": "lipstick",
         "shade_hex": f"#C0392{i}", "finish": "gloss", "price": 9.5} for i in (2, 0)]}
