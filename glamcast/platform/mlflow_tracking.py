"""Where runs are tracked: the configured MLflow server, or the one `glamcast up` started."""

from __future__ import annotations

from typing import Any

import mlflow

from glamcast.platform import stack
from glamcast.core.settings import Settings


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
    mlflow.set_tracking_uri(tracking_uri(settings))
    return mlflow.set_experiment(experiment)
