"""Schemathesis against the app's own OpenAPI schema: every route, generated and mutated requests.

Checks per response: no server error (5xx), a documented status code, the documented content
type and headers, and a body that matches the documented schema. The app runs with its real
dependencies (the session's broker, with this module's topics, and MLflow), a small forecast run
in its lake (so the trends routes have data to answer with) and the local admin key
`X-API-Key: dev-admin` (every route); a bounded number of examples per operation keeps the run short.
`/readyz` answers 503 by contract while a dependency is missing (no champion model in a fresh
stack), so only that route is exempt from the no-5xx check; its 503 must still be documented.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from glamcast.core import topics
from glamcast.core.names import FORECASTS
from glamcast.core.settings import Settings
from glamcast.platform import broker, lake
from glamcast.platform.forecasts import FORECAST_DATASET_COLUMNS
from glamcast.platform.model_registry import tracking_uri
from glamcast.serving.app import create_app

pytestmark = pytest.mark.integration

KEY = {"X-API-Key": "dev-admin"}  # admin: every route, never rate-limited
#: The erasure route gets a key it refuses (403, documented): one generated erasure takes
#: `erasure_settle_s` and a sweep, 40 of them minutes; the erasure has its own tests.
KEY_FOR = {"DELETE /v1/people/{user_id}": {"X-API-Key": "dev-service"}}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
READY_BY_CONTRACT = "/readyz"
RUN_ID = "e" * 32
EXAMPLES = 20  # per operation and mode: 8 operations × 2 modes × 20 requests


def write_forecast_run(settings: Settings) -> None:
    """A small run in the `forecasts` layout with its ranked list, so the trends routes answer 200
    with data (one term with an undefined MASE and no anomaly, one with a spike)."""
    days = pd.date_range("2026-10-01", periods=60, freq="D")
    origin, rows, ranked = days[-15].date(), [], []
    for rank, (term, cls, score) in enumerate([("coral", "rising", 0.6), ("matte", "steady", 0.1)]):
        level = np.linspace(10, 20, len(days))
        rows.append(pd.DataFrame({
            "term_type": "shade_family" if term == "coral" else "finish", "term": term,
            "ds": days.date, "y": np.where(days.date > origin, np.nan, level + 1), "yhat": level,
            "yhat_lower": level - 2, "yhat_upper": level + 2, "trend": level, "weekly": 0.0,
            "yearly": 0.0, "holidays": 0.0, "holiday": [None] * 40 + ["black_friday"] + [None] * 19,
            "is_forecast": days.date > origin, "origin": origin, "run_id": RUN_ID,
            "generated_at": pd.Timestamp("2026-11-15T06:00:00Z")}))
        ranked.append({"rank": rank + 1, "term_type": rows[-1]["term_type"][0], "term": term,
                       "trend_class": cls, "growth_score": score, "level_change": 0.3, "trend_change": 0.2,
                       "p_up": 0.8, "recent_level": 19.0, "baseline_level": 15.0, "last_actual": 19.0,
                       "anomaly": "spike" if term == "coral" else None, "anomaly_outside": 3,
                       "prophet_mase": math.nan if term == "matte" else 0.7, "seasonal_naive_mase": 1.0,
                       "naive_mase": 1.2, "prophet_smape": 9.0, "seasonal_naive_smape": 12.0,
                       "naive_smape": 14.0, "prophet_coverage": 0.8, "beats_seasonal_naive": term == "coral",
                       "n_periods": 45, "n_filled": 0})
    table = pa.Table.from_pandas(pd.concat(rows, ignore_index=True)[list(FORECAST_DATASET_COLUMNS)],
                                 preserve_index=False)
    lake.write_file(settings.lake_root, f"{FORECASTS}/date={origin}/source=trend_counts/part-0.parquet",
                    table)
    report = settings.state_path / "reports" / "forecast_trends" / f"{origin}-trend_counts"
    report.mkdir(parents=True)
    (report / "rising.json").write_text(json.dumps({"run_id": RUN_ID, "since": "2026-10-01", "terms": ranked}))


@pytest.fixture(scope="module")
def app(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("schema-state")
    settings = stack_settings.model_copy(update={
        "topic_prefix": "schema-test.", "state_dir": state, "lake_uri": str(state / "lake"),
        "mlflow_tracking_uri": tracking_uri(stack_settings)})
    write_forecast_run(settings)
    broker.create_topics(settings, [topics.TopicSpec(settings.topic_name(spec.name), spec.partitions, spec.key)
                                    for spec in topics.TOPICS.values()])
    application = create_app(settings)
    with TestClient(application):  # runs the lifespan (start-up and shutdown) around the module
        yield application


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def operations(api_schema) -> list:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_trends_routes_answer_with_data(app) -> None:
    with TestClient(app, headers=KEY) as client:
        assert [t["term"] for t in client.get("/v1/trends").json()["terms"]] == ["coral", "matte"]
        matte = client.get("/v1/trends/matte").json()
        assert matte["summary"]["quality"]["prophet_mase"] is None  # NaN in the run: null, not an error
        assert client.get("/v1/trends/coral").json()["holidays"][0]["name"] == "black_friday"


def test_schema_lists_every_route(api_schema) -> None:
    labels = {operation.label for operation in operations(api_schema)}
    assert labels == {"POST /v1/events/{kind}", "GET /v1/feed/{user_id}", "GET /v1/trends",
                      "GET /v1/trends/{term}", "GET /dashboard", "GET /healthz", "GET /readyz",
                      "GET /metrics", "POST /v1/feed-tokens", "DELETE /v1/people/{user_id}",
                      "GET /v1/trends.csv", "GET /v1/trends/{term}/forecast.csv", "GET /mirror",
                      "GET /v1/products", "GET /v1/trend-looks", "POST /v1/looks/generate",
                      "POST /v1/looks/match", "GET /v1/looks/{look_id}/tutorial"}


def check_operation(operation, mode: GenerationMode) -> None:
    """EXAMPLES generated requests to one operation, each response validated."""
    checks = [c for c in CHECKS if not (c is not_a_server_error and operation.path == READY_BY_CONTRACT)]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case) -> None:
        case.call_and_validate(headers=KEY_FOR.get(operation.label, KEY), checks=checks)

    call()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_route_conforms_to_its_schema(api_schema, mode: GenerationMode) -> None:
    """Valid (positive) and schema-violating (negative) requests to every operation."""
    failures: dict[str, str] = {}
    for operation in operations(api_schema):
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) \
                and not operation.get_request_payload_content_types():
            continue  # nothing to get wrong in a request with no parameters and no body
        try:
            check_operation(operation, mode)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect all, then report
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
