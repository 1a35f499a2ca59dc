"""MLflow pyfunc of the feed ranker (`models.feed_ranker.FeedRanker`): rows of `FEATURES` → scores.

The model is one artifact, LightGBM's own text format (``ranker``), and the hyperparameters
(``config``, JSON). The feed engine unwraps it (`RankerModel.ranker`) and scores in process; the
pyfunc `predict` serves anyone else: a DataFrame with the `FEATURES` columns (NaN: unknown) →
a DataFrame with one column ``score`` (higher: earlier in the feed).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from models.feed_ranker import FEATURES, FeedRanker, RankerConfig

ARTIFACT_KEY = "ranker"
CONFIG_KEY = "config"


def save_artifacts(ranker: FeedRanker, directory: Path) -> dict[str, str]:
    """Write the ranker's artifacts into `directory`; returns ``{key: path}`` for log_model."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path, config_path = directory / "ranker.txt", directory / "config.json"
    model_path.write_text(ranker.to_string())
    config_path.write_text(json.dumps(asdict(ranker.config), indent=2))
    return {ARTIFACT_KEY: str(model_path), CONFIG_KEY: str(config_path)}


class RankerModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: a DataFrame of `FEATURES` → a DataFrame of ``score``."""

    def load_context(self, context: Any) -> None:
        config = RankerConfig(**json.loads(Path(context.artifacts[CONFIG_KEY]).read_text()))
        self.ranker = FeedRanker.from_string(
            Path(context.artifacts[ARTIFACT_KEY]).read_text(), config)

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        missing = [name for name in FEATURES if name not in model_input]
        if missing:
            raise ValueError(f"ranker input lacks feature column(s) {missing}")
        table = model_input[list(FEATURES)].apply(pd.to_numeric, errors="coerce")
        return pd.DataFrame({"score": self.ranker.score(table.to_numpy(np.float64))})
