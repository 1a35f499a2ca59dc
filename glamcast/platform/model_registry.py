"""The MLflow side of every model: where runs go, which version is champion, and the one protocol
that registers a challenger and moves the `champion` alias only when it wins.

- `tracking_uri`, `use_experiment`: the configured tracking server, or the one `glamcast up`
  started.
- `champion_version`, `load_model`: the version behind a registered model's `champion` alias
  (None when there is none) and a version's pyfunc.
- `register_and_promote`: the champion protocol of every training job. The job logs its model,
  says how to score a champion on the challenger's held-out data and which direction is better;
  this registers the new version, scores the champion on that same data, moves the alias only on
  a win, tags the run, and returns a `Registration` for the job's result.
- `pip_requirements`, `spark_has_gpu`: what a job's pyfunc pins; whether Spark handed the driver
  a GPU (TorchDistributor's `use_gpu`).

Registered model and experiment names come from the settings (`recommender_model_name`,
`look_gan_model_name`, `*_experiment`). MLflow is imported inside the functions: the API and the
stream workers import this module and pay for MLflow only when they ask the registry something.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glamcast.core.names import CHAMPION
from glamcast.core.settings import Settings
from glamcast.platform import stack

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
    from pyspark.sql import SparkSession

#: Packages every Glamcast pyfunc pins; a job adds its own before `glamcast`.
BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas")


class _PickledModelNotice(logging.Filter):
    """Drops MLflow's warning on every `log_model(python_model=<object>)` that the object is
    pickled (loading a pickle runs code): Glamcast's pyfuncs are its own classes, loaded only
    from its own registry, and the notice is the same on every run, so nobody can act on it.
    (Models-from-code, the alternative MLflow suggests, would log a source file per model.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passing a Python object as `python_model`")


logging.getLogger("mlflow.pyfunc").addFilter(_PickledModelNotice())


def tracking_uri(settings: Settings) -> str:
    """GLAMCAST_MLFLOW_TRACKING_URI when set, else the local stack's server from its state file.

    Raises StackNotRunningError when neither exists (run `glamcast up` first).
    """
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    record = stack.read_state(settings).get("mlflow")
    if not record or not record.get("address"):
        raise stack.StackNotRunningError(
            f"no MLflow server recorded under {settings.state_path}; run `glamcast up` "
            "or set GLAMCAST_MLFLOW_TRACKING_URI"
        )
    return record["address"]


def use_experiment(settings: Settings, experiment: str) -> Any:
    """Point the MLflow client at the tracking server and select (creating) `experiment`."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(settings))
    return mlflow.set_experiment(experiment)


# --- champions ---------------------------------------------------------------------------------


def champion_version(settings: Settings, model_name: str) -> int | None:
    """The version `model_name`'s `champion` alias points at; None when the registered model or
    the alias does not exist. Other registry errors (server down) propagate."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=tracking_uri(settings))
    try:
        return int(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def load_model(settings: Settings, model_name: str, version: int | str | None = None
               ) -> PyFuncModel:
    """The pyfunc of `model_name` at `version`, or of its champion when `version` is None.

    Raises MlflowException when there is no such version or alias.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(settings))
    reference = f"@{CHAMPION}" if version is None else f"/{version}"
    return mlflow.pyfunc.load_model(f"models:/{model_name}{reference}")


# --- the champion protocol ---------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """What `register_and_promote` did; jobs keep it in their result."""

    model_name: str
    version: int  # the version just registered
    score: float  # the challenger's score on its held-out data
    champion_before: int | None  # the champion version before this run; None: there was none
    champion_score_before: float | None  # that champion's score on the same held-out data
    promoted: bool  # whether `champion` now points at `version`


def register_and_promote(
    settings: Settings,
    model_name: str,
    model_uri: str,
    score: float,
    score_champion: Callable[[PyFuncModel], float],
    *,
    greater_is_better: bool,
    score_name: str,
    version_tags: Mapping[str, str] | None = None,
) -> Registration:
    """Register `model_uri` as a new version of `model_name`; move `champion` to it only on a win.

    Call it inside the job's active MLflow run. `score` is the challenger's score on the job's
    held-out data; `score_champion(pyfunc)` scores the current champion on that SAME data (it may
    log details of its own). The champion's score is logged as `champion_before.<score_name>`
    when finite. The challenger wins when its score is finite and there is no champion, or its
    score is greater (smaller with `greater_is_better=False`) than the champion's: a job puts a
    floor on the score by returning -inf or NaN under it. The new version gets `version_tags`;
    the run gets the tags `registered_version` and `promoted` ("true" or "false") and the metric
    `promoted` (1 or 0).
    """
    import mlflow

    champion = champion_version(settings, model_name)
    score_before = None
    if champion is not None:
        score_before = float(score_champion(load_model(settings, model_name, champion)))
        if math.isfinite(score_before):
            mlflow.log_metric(f"champion_before.{score_name}", score_before)
    registered = mlflow.register_model(model_uri, model_name)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri(settings))
    for key, value in (version_tags or {}).items():
        client.set_model_version_tag(model_name, registered.version, key, value)
    promoted = math.isfinite(score) and (
        score_before is None
        or (score > score_before if greater_is_better else score < score_before)
    )
    if promoted:
        client.set_registered_model_alias(model_name, CHAMPION, registered.version)
    mlflow.set_tags({"registered_version": str(registered.version),
                     "promoted": str(promoted).lower()})
    mlflow.log_metric("promoted", float(promoted))
    return Registration(model_name, int(registered.version), score, champion, score_before,
                        promoted)


# --- what training jobs share --------------------------------------------------------------------


def pip_requirements(*extra: str) -> list[str]:
    """Pinned requirements of a Glamcast pyfunc: `BASE_REQUIREMENTS`, the job's `extra`
    packages, and glamcast itself (given, not inferred: inference would load the model again)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in (*BASE_REQUIREMENTS, *extra, "glamcast")]


def spark_has_gpu(spark: SparkSession) -> bool:
    """Whether the driver was given GPU resources (TorchDistributor's use_gpu needs them)."""
    return "gpu" in spark.sparkContext.resources
