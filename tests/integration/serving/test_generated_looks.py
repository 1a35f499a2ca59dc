"""`POST /v1/looks/generate` against a real champion: a small look GAN (the real pyfunc,
`models.look_gan_pyfunc.LookGanModel`) trained here on a toy look distribution, registered in the
session's MLflow under a test name and aliased `champion`; the app loads it from the registry.

Checks the answer's shape (count looks × one product per region, in face order, from the
catalogue), that a seed repeats its looks, that boldness is accepted and steers intensity, that a
missing champion is a 404 and hostile JSON a 4xx (never a 5xx).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from glamcast.core.settings import Settings
from glamcast.platform.model_registry import tracking_uri
from glamcast.serving.app import create_app
from models.look_gan import (
    ConditionPrior,
    LookGanConfig,
    LookGenerator,
    boldness_of,
    train_look_gan,
)
from models.look_gan_pyfunc import CATALOG_ARTIFACT, GENERATOR_ARTIFACT, LookGanModel
from models.look_space import (
    CONDITION_SPACE,
    FINISHES,
    REGION_CATEGORIES,
    REGIONS,
    Conditions,
    LookArrays,
    LookSpace,
    lip_terms,
)

pytestmark = pytest.mark.integration

SERVICE_KEY = "dev-service"  # the local profile's service key
SHADES = ("#B33A3A", "#E07A5F", "#8E5572", "#D9A38C", "#6B4F3A", "#F2C6B4")


def _catalogue() -> pd.DataFrame:
    """Every category in every finish, a few shades each."""
    rows = []
    for categories in REGION_CATEGORIES.values():
        for category in categories:
            for finish in FINISHES:
                for i, shade in enumerate(SHADES):
                    rows.append({"product_id": f"{category}-{finish}-{i}", "brand": "Glam",
                                 "name": f"{category} {i}", "category": category,
                                 "shade_hex": shade, "finish": finish, "price": 10.0 + i})
    return pd.DataFrame(rows)


def _toy_looks(n: int = 400) -> tuple[LookArrays, Conditions]:
    """Warm faces: lipstick; cool faces: gloss; intensity spread evenly in every region."""
    rng = np.random.default_rng(0)
    warm = np.arange(n) % 2 == 0
    category = np.zeros((n, len(REGIONS)), dtype=np.int64)
    category[~warm, 0] = 1
    lab = np.tile(np.array([55.0, 30.0, 20.0]), (n, len(REGIONS), 1)) + rng.normal(0, 3, (n, 4, 3))
    finish = rng.integers(0, len(FINISHES), (n, len(REGIONS)))
    intensity = np.tile(rng.uniform(0.1, 0.9, (n, 1)), (1, len(REGIONS)))
    looks = LookArrays(category, lab, finish, intensity)
    families, finishes = lip_terms(looks)
    conditions = Conditions(np.where(warm, 7, 3), np.where(warm, "warm", "cool").astype(object),
                            np.full(n, None, dtype=object), families, finishes)
    return looks, conditions


@pytest.fixture(scope="module")
def champion(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A trained look GAN pyfunc registered under a test name, aliased `champion`."""
    looks, conditions = _toy_looks()
    space = LookSpace.fit(looks)
    config = LookGanConfig(latent_dim=8, hidden=64, generator_layers=2, critic_layers=2,
                           batch_size=64, n_critic=2, steps=300, lr_generator=1e-3,
                           lr_critic=1e-3, checkpoint_every=0, seed=1)
    x = space.encode(looks)
    fit = train_look_gan(x, CONDITION_SPACE.encode(conditions), config)
    folder = tmp_path_factory.mktemp("look-gan-model")
    # as the job serves it: open conditions and the skeleton drawn from the training pairs
    prior = ConditionPrior.from_pairs(conditions, boldness_of(looks.intensity), x)
    generator_path = LookGenerator.from_fit(fit, space, prior).save(Path(folder) / "generator.pt")
    catalog_path = Path(folder) / "catalog.parquet"
    _catalogue().to_parquet(catalog_path, index=False)
    name = f"test-generate-looks-{uuid.uuid4().hex[:8]}"  # not the real name: other tests own it
    mlflow.set_tracking_uri(tracking_uri(stack_settings))
    mlflow.set_experiment(f"generate-looks-test-{name}")
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=LookGanModel(), registered_model_name=name,
                                artifacts={GENERATOR_ARTIFACT: str(generator_path),
                                           CATALOG_ARTIFACT: str(catalog_path)},
                                pip_requirements=[])
    mlflow.MlflowClient(tracking_uri(stack_settings)).set_registered_model_alias(name, "champion", "1")
    yield name


@pytest.fixture(scope="module")
def api(stack_settings: Settings, champion: str, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("generate-state")
    settings = stack_settings.model_copy(update={
        "state_dir": folder, "lake_uri": str(folder / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings), "look_gan_model_name": champion})
    with TestClient(create_app(settings), headers={"X-API-Key": SERVICE_KEY}) as client:
        yield client


def test_generated_looks_are_shoppable(api: TestClient, champion: str) -> None:
    answer = api.post("/v1/looks/generate", json={"skin_tone": 7, "undertone": "warm", "count": 5,
                                                 "shade_family": "red", "seed": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == f"{champion} v1"
    assert [look["look"] for look in body["looks"]] == [0, 1, 2, 3, 4]
    catalogue = _catalogue().set_index("product_id")
    for look in body["looks"]:
        assert [p["region"] for p in look["products"]] == list(REGIONS)
        for product in look["products"]:
            assert product["category"] in REGION_CATEGORIES[product["region"]]
            row = catalogue.loc[product["product_id"]]  # a real catalogue product
            assert (row["category"], row["shade_hex"], row["price"]) == (
                product["category"], product["shade_hex"], product["price"])
            assert product["finish_matched"] and product["finish"] == row["finish"]
            assert 0.0 <= product["intensity"] <= 1.0 and product["delta_e"] >= 0.0
        assert look["price"] == pytest.approx(sum(p["price"] for p in look["products"]))
        assert look["mean_intensity"] == pytest.approx(
            np.mean([p["intensity"] for p in look["products"]]), abs=1e-3)
    # the same request answers the same looks; another seed other looks
    assert api.post("/v1/looks/generate", json=body["request"]).json()["looks"] == body["looks"]
    other = api.post("/v1/looks/generate", json={**body["request"], "seed": 4}).json()
    assert other["looks"] != body["looks"]


def test_boldness_steers_intensity(api: TestClient) -> None:
    def mean_intensity(boldness: float) -> float:
        answer = api.post("/v1/looks/generate", json={"skin_tone": 3, "undertone": "cool",
                                                     "count": 24, "boldness": boldness})
        assert answer.status_code == 200, answer.text
        return float(np.mean([look["mean_intensity"] for look in answer.json()["looks"]]))

    natural, bold = mean_intensity(0.0), mean_intensity(1.0)
    assert bold - natural > 0.15, (natural, bold)


HOSTILE = [
    {"skin_tone": 11, "undertone": "warm"},
    {"skin_tone": 0, "undertone": "warm"},
    {"skin_tone": "seven", "undertone": "warm"},
    {"skin_tone": 5, "undertone": "purple"},
    {"skin_tone": 5},
    {"skin_tone": 5, "undertone": "warm", "face_shape": "triangle"},
    {"skin_tone": 5, "undertone": "warm", "shade_family": "plaid"},
    {"skin_tone": 5, "undertone": "warm", "finish": "velvet"},
    {"skin_tone": 5, "undertone": "warm", "boldness": 1.5},
    {"skin_tone": 5, "undertone": "warm", "boldness": -0.1},
    {"skin_tone": 5, "undertone": "warm", "boldness": "NaN"},
    {"skin_tone": 5, "undertone": "warm", "count": 0},
    {"skin_tone": 5, "undertone": "warm", "count": 10_000},
    {"skin_tone": 5, "undertone": "warm", "seed": -1},
    {"skin_tone": 5, "undertone": "warm", "seed": 2**80},
    {"skin_tone": 5, "undertone": "warm", "image": "data:image/png;base64,AAAA"},
    [{"skin_tone": 5, "undertone": "warm"}],
    "warm",
    None,
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_json_is_a_4xx(api: TestClient, body: object) -> None:
    answer = api.post("/v1/looks/generate", json=body)
    assert answer.status_code == 422, answer.text


def test_hostile_bytes_are_a_4xx(api: TestClient) -> None:
    for content in (b"{", b"\xff\xfe", b'{"skin_tone": 1e999, "undertone": "warm"}'):
        answer = api.post("/v1/looks/generate", content=content,
                          headers={"Content-Type": "application/json"})
        assert 400 <= answer.status_code < 500, (content, answer.status_code)


def test_no_champion_is_a_404(stack_settings: Settings, tmp_path: Path) -> None:
    settings = stack_settings.model_copy(update={
        "state_dir": tmp_path, "lake_uri": str(tmp_path / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings),
        "look_gan_model_name": f"no-look-gan-{uuid.uuid4().hex[:8]}"})
    with TestClient(create_app(settings), headers={"X-API-Key": SERVICE_KEY}) as client:
        answer = client.post("/v1/looks/generate", json={"skin_tone": 4, "undertone": "neutral"})
    assert answer.status_code == 404 and "glamcast train look-gan" in answer.json()["detail"]
