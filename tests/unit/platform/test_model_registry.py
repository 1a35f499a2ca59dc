"""The champion protocol against an in-process MLflow registry (SQLite file, no server).

Each test registers tiny pyfuncs that carry a label, so a test can see which model the
protocol handed to the job's champion scorer.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import pytest

from glamcast.core.names import CHAMPION
from glamcast.core.settings import Settings
from glamcast.platform import stack
from glamcast.platform.model_registry import (
    Registration,
    champion_version,
    load_model,
    pip_requirements,
    register_and_promote,
    spark_has_gpu,
    tracking_uri,
    use_experiment,
)

EXPERIMENT = "model-registry-unit"


class Labelled(mlflow.pyfunc.PythonModel):
    """A pyfunc that answers its label for every row."""

    def __init__(self, label: str) -> None:
        self.label = label

    def predict(self, context: Any, model_input: Any, params: Any = None) -> list[str]:
        return [self.label] * len(model_input)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("registry")
    settings = Settings(state_dir=root / "state",
                        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    previous = mlflow.get_tracking_uri()
    mlflow.MlflowClient(settings.mlflow_tracking_uri).create_experiment(
        EXPERIMENT, artifact_location=(root / "artifacts").as_uri())
    use_experiment(settings, EXPERIMENT)
    yield settings
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def model_name() -> str:
    return f"unit-model-{uuid.uuid4().hex[:8]}"


def challenge(settings: Settings, model_name: str, label: str, score: float,
              champion_score: float = 0.0, *, greater_is_better: bool = True,
              ) -> tuple[Registration, list[str], Any]:
    """Log a `Labelled(label)` pyfunc in a new run and run the protocol on it.

    Returns the outcome, the labels of the champions the scorer was handed, and the run."""
    scored: list[str] = []

    def score_champion(champion: Any) -> float:
        scored.append(champion.unwrap_python_model().label)
        return champion_score

    with mlflow.start_run() as run:
        logged = mlflow.pyfunc.log_model(name="model", python_model=Labelled(label),
                                         pip_requirements=[])
        outcome = register_and_promote(
            settings, model_name, logged.model_uri, score, score_champion,
            greater_is_better=greater_is_better, score_name="ndcg_at_10",
            version_tags={"model": label},
        )
    return outcome, scored, mlflow.MlflowClient().get_run(run.info.run_id)


def test_first_version_becomes_champion_and_the_run_says_so(settings: Settings,
                                                            model_name: str) -> None:
    assert champion_version(settings, model_name) is None  # no such registered model yet

    outcome, scored, run = challenge(settings, model_name, "first", 0.30)

    assert outcome == Registration(model_name, 1, 0.30, None, None, True)
    assert scored == []  # nothing to score without a champion
    assert champion_version(settings, model_name) == 1
    assert run.data.tags["registered_version"] == "1"
    assert run.data.tags["promoted"] == "true"
    assert "champion_before.ndcg_at_10" not in run.data.metrics
    client = mlflow.MlflowClient()
    assert client.get_model_version(model_name, "1").tags["model"] == "first"


def test_alias_moves_only_when_the_challenger_beats_the_champion_on_the_same_data(
        settings: Settings, model_name: str) -> None:
    challenge(settings, model_name, "first", 0.30)

    worse, scored, run = challenge(settings, model_name, "worse", 0.20, champion_score=0.30)
    assert scored == ["first"]  # the scorer got the champion's own model
    assert worse == Registration(model_name, 2, 0.20, 1, 0.30, False)
    assert champion_version(settings, model_name) == 1
    assert run.data.tags["promoted"] == "false" and run.data.tags["registered_version"] == "2"
    assert run.data.metrics["champion_before.ndcg_at_10"] == pytest.approx(0.30)

    tie, _, _ = challenge(settings, model_name, "tie", 0.30, champion_score=0.30)
    assert not tie.promoted and champion_version(settings, model_name) == 1

    better, scored, run = challenge(settings, model_name, "better", 0.40, champion_score=0.30)
    assert scored == ["first"]
    assert better.promoted and better.version == 4 and better.champion_before == 1
    assert champion_version(settings, model_name) == 4
    assert run.data.tags["promoted"] == "true"
    assert load_model(settings, model_name).unwrap_python_model().label == "better"
    assert load_model(settings, model_name, 2).unwrap_python_model().label == "worse"


def test_smaller_wins_when_greater_is_not_better(settings: Settings, model_name: str) -> None:
    challenge(settings, model_name, "first", 0.5, greater_is_better=False)
    larger, _, _ = challenge(settings, model_name, "larger", 0.6, champion_score=0.5,
                             greater_is_better=False)
    smaller, _, _ = challenge(settings, model_name, "smaller", 0.4, champion_score=0.5,
                              greater_is_better=False)
    assert not larger.promoted and smaller.promoted
    assert champion_version(settings, model_name) == 3


def test_a_non_finite_score_never_wins_and_is_never_logged(settings: Settings,
                                                           model_name: str) -> None:
    """A job's floor: a score under it is -inf (or NaN), which never takes the alias, not even
    from nobody; a champion under the floor loses to any finite challenger."""
    floored, _, run = challenge(settings, model_name, "copier", -math.inf)
    assert floored == Registration(model_name, 1, -math.inf, None, None, False)
    assert champion_version(settings, model_name) is None
    assert run.data.tags["promoted"] == "false"

    challenge(settings, model_name, "first", 0.1)
    nan, _, _ = challenge(settings, model_name, "nan", math.nan, champion_score=0.1)
    assert not nan.promoted and champion_version(settings, model_name) == 2

    client = mlflow.MlflowClient()
    client.set_registered_model_alias(model_name, CHAMPION, "1")  # the floored one, by hand
    finite, _, run = challenge(settings, model_name, "finite", 0.01, champion_score=-math.inf)
    assert finite.promoted and finite.champion_score_before == -math.inf
    assert "champion_before.ndcg_at_10" not in run.data.metrics


def test_tracking_uri_prefers_the_setting_then_the_stack_state(tmp_path: Path) -> None:
    assert tracking_uri(Settings(state_dir=tmp_path, mlflow_tracking_uri="http://mlflow:5000")) \
        == "http://mlflow:5000"
    local = Settings(state_dir=tmp_path)
    with pytest.raises(stack.StackNotRunningError, match="glamcast up"):
        tracking_uri(local)
    (tmp_path / stack.STATE_FILE).write_text('{"mlflow": {"address": "http://127.0.0.1:5123"}}')
    assert tracking_uri(local) == "http://127.0.0.1:5123"


def test_pip_requirements_pin_the_base_the_job_extras_and_glamcast() -> None:
    pins = pip_requirements("torch")
    assert pins == [f"{name}=={version(name)}"
                    for name in ("mlflow", "numpy", "pandas", "torch", "glamcast")]


@pytest.mark.parametrize(("resources", "expected"), [({}, False), ({"gpu": object()}, True)])
def test_spark_has_gpu_reads_the_driver_resources(resources: dict, expected: bool) -> None:
    spark: Any = SimpleNamespace(sparkContext=SimpleNamespace(resources=resources))
    assert spark_has_gpu(spark) is expected
