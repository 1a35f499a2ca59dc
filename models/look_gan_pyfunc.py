"""The servable look generator: an MLflow pyfunc from a face (and trend terms) to shoppable looks.

Input: a DataFrame with ``skin_tone`` (Monk 1–10) and ``undertone`` (cool, neutral, warm), and
optionally ``face_shape``, ``shade_family`` and ``finish`` (the trend terms of the lips; empty:
any), ``n`` (looks per row, default `DEFAULT_LOOKS`), ``seed`` (default 0: the same request
gives the same looks) and ``boldness`` (natural 0 … bold 1; empty: any; a generator trained
without boldness refuses a value). Output: one row per look and region: ``request`` (input row), ``look``
(number within the request) and `models.shoppable_looks.SHOPPABLE_COLUMNS` (the generated shade,
the matched product, its ΔE00).

Artifacts: `GENERATOR_ARTIFACT` (a `LookGenerator` file) and `CATALOG_ARTIFACT` (the products the
matcher picks from, Parquet, as the catalogue stood when the model was trained).
"""

from __future__ import annotations

from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd

from models.look_gan import LookGenerator
from models.look_space import Conditions
from models.shoppable_looks import SHOPPABLE_COLUMNS, ProductMatcher

GENERATOR_ARTIFACT = "generator"
CATALOG_ARTIFACT = "catalog"
DEFAULT_LOOKS = 6
REQUEST_COLUMNS = (
    "skin_tone", "undertone", "face_shape", "shade_family", "finish", "n", "seed", "boldness"
)
OUTPUT_COLUMNS = ("request", *SHOPPABLE_COLUMNS)


def request_schema() -> Any:
    """The pyfunc's input schema: skin tone and undertone required, the rest optional."""
    from mlflow.types import ColSpec, Schema

    return Schema(
        [
            ColSpec("long", "skin_tone"),
            ColSpec("string", "undertone"),
            ColSpec("string", "face_shape", required=False),
            ColSpec("string", "shade_family", required=False),
            ColSpec("string", "finish", required=False),
            ColSpec("long", "n", required=False),
            ColSpec("long", "seed", required=False),
            ColSpec("double", "boldness", required=False),
        ]
    )


def signature(example_output: pd.DataFrame) -> Any:
    """The pyfunc's signature: `request_schema` in, the columns of `example_output` (what
    `generate_shoppable` returns for the logged example) out.

    MLflow's schema inference warns about every integer column ("cannot represent missing
    values"); ``request`` and ``look`` are row and look numbers, never missing, so that hint is
    silenced here and only here."""
    import warnings

    from mlflow.models import ModelSignature, infer_signature

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Hint: Inferred schema contains integer column")
        outputs = infer_signature(example_output).inputs  # the schema of that frame
    return ModelSignature(request_schema(), outputs)


def _column(frame: pd.DataFrame, name: str, default: Any) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=object)
    return frame[name].to_numpy(dtype=object)


def generate_shoppable(
    generator: LookGenerator, matcher: ProductMatcher, requests: pd.DataFrame
) -> pd.DataFrame:
    """Requests (`REQUEST_COLUMNS`) → shoppable looks (`OUTPUT_COLUMNS`)."""
    missing = [name for name in ("skin_tone", "undertone") if name not in requests.columns]
    if missing:
        raise ValueError(f"look requests need column(s) {missing}")
    requests = requests.reset_index(drop=True)
    counts = np.asarray(
        [
            int(v) if v is not None and not pd.isna(v) else DEFAULT_LOOKS
            for v in _column(requests, "n", DEFAULT_LOOKS)
        ]
    )
    seeds = [
        int(v) if v is not None and not pd.isna(v) else 0 for v in _column(requests, "seed", 0)
    ]
    frames = []
    for row, (count, seed) in enumerate(zip(counts, seeds, strict=True)):
        conditions = Conditions.of(
            requests["skin_tone"].iloc[row],
            requests["undertone"].iloc[row],
            _column(requests, "face_shape", None)[row],
            _column(requests, "shade_family", None)[row],
            _column(requests, "finish", None)[row],
            n=count,
        )
        bold = _column(requests, "boldness", None)[row]
        bold = None if bold is None or pd.isna(bold) else float(bold)
        looks = generator.generate(conditions, seed=seed, boldness=bold)
        table = matcher.match(looks)
        table.insert(0, "request", row)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(OUTPUT_COLUMNS)]


class LookGanModel(mlflow.pyfunc.PythonModel):
    """The champion look GAN behind ``models:/glamcast-look-gan@champion``."""

    def load_context(self, context: Any) -> None:
        self.generator = LookGenerator.load(context.artifacts[GENERATOR_ARTIFACT])
        self.matcher = ProductMatcher(pd.read_parquet(context.artifacts[CATALOG_ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return generate_shoppable(self.generator, self.matcher, model_input)


def generate_from_model(tracking_uri: str, model_uri: str, request: dict[str, Any]) -> pd.DataFrame:
    """Load a registered look GAN (e.g. ``models:/glamcast-look-gan@champion``) from the tracking
    server and generate the looks of one request (`REQUEST_COLUMNS`)."""
    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(model_uri)
    return model.predict(pd.DataFrame([{k: v for k, v in request.items() if v is not None}]))
