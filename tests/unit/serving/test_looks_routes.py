"""`POST /v1/looks/match` and `GET /v1/looks/{look_id}/tutorial` over a small lake (no services)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from testkit import write_catalogue

from glamcast.core.names import LOOKS
from glamcast.core.settings import Settings
from glamcast.core.shades import delta_e_2000, hex_to_lab
from glamcast.platform import lake
from glamcast.platform.stack import free_port
from glamcast.serving.app import create_app
from models.look_space import LOOK_COLUMNS

CATALOGUE = [
    ("lip-red", "lipstick", "#B0303F", "matte", 19.0),
    ("lip-coral", "lipstick", "#E8735A", "gloss", 24.0),
    ("lip-plum", "lipstick", "#5B2C3A", "matte", 21.0),
    ("eye-brown", "eyeshadow", "#8A6F5C", "shimmer", 29.0),
    ("cheek-peach", "blush", "#F2A48C", "satin", 21.0),
]
INGEST = {"X-API-Key": "dev-ingest"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("looks")
    settings = Settings(state_dir=str(root), lake_uri=str(root / "lake"),
                        kafka_bootstrap=f"127.0.0.1:{free_port()}")
    write_catalogue(settings, CATALOGUE)
    curated = [{column: None for column in LOOK_COLUMNS} | {
        "look_id": "curated-1", "look_name": "sunset", "region": region, "product_id": product,
        "category": category, "shade_hex": shade, "finish": finish, "intensity": 0.7,
        "event_id": f"curated-1-{region}", "ts": pd.Timestamp("2026-11-01T00:00:00Z")}
        for region, product, category, shade, finish in (
            ("lips", "lip-red", "lipstick", "#B0303F", "matte"),
            ("cheeks", "cheek-peach", "blush", "#F2A48C", "satin"))]
    lake.write_file(settings.lake_root, f"{lake.partition_dir(LOOKS, date(2026, 11, 1))}/looks-test.parquet",
                    pa.Table.from_pandas(pd.DataFrame(curated), preserve_index=False))
    yield TestClient(create_app(settings))


def test_match_answers_the_nearest_products_per_region_by_ciede2000(client: TestClient) -> None:
    look = {"items": [{"region": "lips", "shade_hex": "#AA3040", "finish": "matte", "intensity": 0.9},
                      {"region": "cheeks", "lab": [75.0, 20.0, 18.0], "finish": "satin", "intensity": 0.5}],
            "k": 2}
    answer = client.post("/v1/looks/match", json=look, headers=INGEST)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    lips, cheeks = body["regions"]
    assert lips["region"] == "lips" and lips["finish_matched"] is True
    assert [p["product_id"] for p in lips["products"]] == ["lip-red", "lip-plum"]  # matte first
    expected = float(delta_e_2000(hex_to_lab("#AA3040"), hex_to_lab("#B0303F")))
    assert lips["products"][0]["delta_e"] == pytest.approx(expected, abs=0.01)
    assert lips["products"][0]["price"] == 19.0 and lips["products"][0]["brand"] == "Glam"
    assert [p["product_id"] for p in cheeks["products"]] == ["cheek-peach"]
    assert [s["stage"] for s in body["tutorial"]] == ["prep", "base", "cheeks", "lips"]
    assert body["tutorial"][-1]["product"]["product_id"] == "lip-red"


def test_a_finish_the_catalogue_lacks_falls_back_to_any_finish(client: TestClient) -> None:
    look = {"items": [{"region": "eyes", "shade_hex": "#8A6F5C", "finish": "matte"}]}
    body = client.post("/v1/looks/match", json=look, headers=INGEST).json()
    assert body["regions"][0]["finish_matched"] is False
    assert body["regions"][0]["products"][0]["product_id"] == "eye-brown"


@pytest.mark.parametrize("look", [
    {}, {"items": []}, {"items": "lips"}, {"items": [{"region": "nails", "shade_hex": "#B0303F"}]},
    {"items": [{"region": "lips"}]},  # no shade
    {"items": [{"region": "lips", "shade_hex": "#B0303F", "lab": [50, 1, 1]}]},  # two shades
    {"items": [{"region": "lips", "shade_hex": "red"}]},
    {"items": [{"region": "lips", "lab": [500, 0, 0]}]},
    {"items": [{"region": "lips", "lab": ["NaN", 0, 0]}]},
    {"items": [{"region": "lips", "shade_hex": "#B0303F", "intensity": 2}]},
    {"items": [{"region": "lips", "shade_hex": "#B0303F", "category": "blush"}]},
    {"items": [{"region": "lips", "shade_hex": "#B0303F"}] * 2},
    {"items": [{"region": "lips", "shade_hex": "#B0303F", "photo": "data:image/png;base64,AAAA"}]},
    {"items": [{"region": "lips", "shade_hex": "#B0303F"}], "k": 99},
])
def test_hostile_looks_are_refused_with_422(client: TestClient, look: dict) -> None:
    assert client.post("/v1/looks/match", json=look, headers=INGEST).status_code == 422


def test_match_needs_a_key_and_not_a_marketing_one(client: TestClient) -> None:
    look = {"items": [{"region": "lips", "shade_hex": "#B0303F"}]}
    assert client.post("/v1/looks/match", json=look).status_code == 401
    assert client.post("/v1/looks/match", json=look, headers={"X-API-Key": "dev-marketing"}).status_code == 403
    assert client.post("/v1/looks/match", content=b"{not json", headers={**INGEST, "Content-Type": "application/json"}).status_code == 422


def test_an_unknown_look_has_no_tutorial(client: TestClient) -> None:
    answer = client.get("/v1/looks/no-such-look/tutorial", headers=INGEST)
    assert answer.status_code == 404
    assert "no look 'no-such-look'" in answer.json()["detail"]


def test_a_curated_look_has_its_tutorial_in_application_order(client: TestClient) -> None:
    answer = client.get("/v1/looks/curated-1/tutorial", headers={"X-API-Key": "dev-marketing"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["look_id"] == "curated-1" and body["source"] == "curated"
    assert [(s["step"], s["stage"]) for s in body["steps"]] == [
        (1, "prep"), (2, "base"), (3, "cheeks"), (4, "lips")]
    assert body["steps"][3]["product"]["product_id"] == "lip-red"
    assert body["steps"][2]["technique"].startswith("Use a light layer of satin blush")
