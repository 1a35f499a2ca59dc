"""Both pyfuncs log to MLflow as the jobs log them without a warning: the recommender's signature
is its type hint's and its input example a served payload; the look GAN's output schema is
inferred without the integer-column hint. Each logged model loads and answers its example."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import glamcast.platform.model_registry  # noqa: F401 — installs the pickle-notice filter
from models.look_gan import Generator, LookGanConfig, LookGenerator
from models.look_gan_pyfunc import (
    CATALOG_ARTIFACT,
    GENERATOR_ARTIFACT,
    LookGanModel,
    generate_shoppable,
    signature,
)
from models.look_space import LookArrays, LookSpace
from models.recommender_pyfunc import (
    ARTIFACT_KEY,
    FactorRecommender,
    RecommenderModel,
    input_example,
)
from models.shoppable_looks import ProductMatcher

CATALOG = pd.DataFrame({
    "product_id": ["red-matte", "coral-matte", "pink-gloss", "brown-brow"],
    "category": ["lipstick", "lipstick", "lip_gloss", "brow"],
    "shade_hex": ["#B22234", "#F27F5E", "#F4A6C0", "#6B4A3A"],
    "finish": ["matte", "matte", "gloss", "matte"],
    "brand": ["A", "B", "D", "E"], "name": ["Red", "Coral", "Pink", "Brow"],
    "price": [10.0, 11.0, 13.0, 14.0],
})


@pytest.fixture
def tracking(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """A file-backed tracking store, every MLflow log record and Python warning captured."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    # an experiment of this store: the process may hold another test's active experiment id
    mlflow.set_experiment("pyfunc-signatures")
    caplog.set_level(logging.INFO, logger="mlflow")
    logging.getLogger("mlflow").addHandler(caplog.handler)  # mlflow does not propagate
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield tmp_path, caught
    finally:
        logging.getLogger("mlflow").removeHandler(caplog.handler)
        mlflow.set_tracking_uri(previous)


def _no_warnings(caplog: pytest.LogCaptureFixture, caught: list) -> None:
    assert [r.getMessage()[:200] for r in caplog.records if r.levelno >= logging.WARNING] == []
    # what a user sees: UserWarnings (deprecations, e.g. SQLAlchemy's under the test's SQLite
    # store, print only with -W; the demo's server store has none)
    assert [str(w.message)[:200] for w in caught if issubclass(w.category, UserWarning)] == []


def test_the_recommender_logs_with_its_type_hint_signature_and_a_valid_example(
    tracking, caplog: pytest.LogCaptureFixture
) -> None:
    directory, caught = tracking
    recommender = FactorRecommender.build(
        ["u1", "u2", "u3"], ["p1", "p2", "p3", "p4"], np.eye(3, 2), np.eye(4, 2) + 0.1, None,
        np.array([0, 1]), np.array([0, 1]), np.array([3.0, 2.0, 1.0, 0.5]))
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=RecommenderModel(),
            artifacts={ARTIFACT_KEY: str(recommender.save(directory / "r.npz"))},
            input_example=input_example(["u1", "u2"], k=3), pip_requirements=["numpy"])
    _no_warnings(caplog, caught)
    inputs = info.signature.inputs.to_dict()
    assert inputs == [{"type": "object", "required": True, "properties": {
        "k": {"type": "long", "required": False}, "user_id": {"type": "string",
                                                               "required": True}}}]
    model = mlflow.pyfunc.load_model(info.model_uri)
    out = model.predict(pd.DataFrame({"user_id": ["u1", "nobody"], "k": [2, 1]}))
    assert out["user_id"].tolist() == ["u1", "u1", "nobody"]
    assert out["source"].tolist() == ["model", "model", "popularity"]


def test_the_look_gan_logs_its_request_and_output_schema_without_a_warning(
    tracking, caplog: pytest.LogCaptureFixture
) -> None:
    directory, caught = tracking
    rng = np.random.default_rng(0)
    looks = LookArrays(np.zeros((32, 4), np.int64), rng.normal(50, 10, (32, 4, 3)),
                       np.zeros((32, 4), np.int64), rng.uniform(0.2, 0.8, (32, 4)))
    config = LookGanConfig(latent_dim=8, hidden=32, generator_layers=2, critic_layers=2,
                           skeleton=False)
    generator = LookGenerator(config, LookSpace.fit(looks), Generator(config).state_dict())
    CATALOG.to_parquet(directory / "catalog.parquet", index=False)
    example = pd.DataFrame({"skin_tone": [7], "undertone": ["warm"], "face_shape": ["oval"],
                            "shade_family": ["coral"], "finish": ["satin"], "n": [2],
                            "seed": [0]})
    output = generate_shoppable(generator, ProductMatcher(CATALOG), example)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=LookGanModel(),
            artifacts={GENERATOR_ARTIFACT: str(generator.save(directory / "g.pt")),
                       CATALOG_ARTIFACT: str(directory / "catalog.parquet")},
            signature=signature(output), input_example=example, pip_requirements=["numpy"])
    _no_warnings(caplog, caught)
    assert info.signature.outputs.input_names() == list(output.columns)
    answered = mlflow.pyfunc.load_model(info.model_uri).predict(example)
    assert len(answered) == len(output)
