"""`/readyz` asks the broker on every call: an embedded broker of this test's own (not the
session's, which other tests use) is stopped, and `/readyz` says `"broker": false` within 5 s;
started again on the same port, `true` again."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from testkit import eventually

from glamcast.core.settings import Settings
from glamcast.platform import stack
from glamcast.platform.stack import free_port
from glamcast.serving.app import create_app

pytestmark = pytest.mark.integration


def broker_check_is(client: TestClient, value: bool) -> Callable[[], Response | None]:
    def check() -> Response | None:
        answer = client.get("/readyz")
        return answer if answer.json()["checks"]["broker"] is value else None

    return check


def test_readyz_says_broker_false_within_5_s_of_the_broker_stopping(tmp_path, monkeypatch):
    # MLflow is named external and unreachable, so `up` starts the broker only, and the feed
    # engine's start-up fails at once instead of retrying (it is not what this test is about).
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    settings = Settings(state_dir=tmp_path / "state", kafka_port=free_port(),
                        mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    stack.up(settings)
    try:
        with TestClient(create_app(settings)) as client:
            eventually(broker_check_is(client, True), 30, "/readyz to see the broker")
            assert stack.down(settings) == ["broker"]
            stopped = time.monotonic()
            down = eventually(broker_check_is(client, False), 5, "/readyz to report the broker down",
                              every_s=0.1)
            assert down.status_code == 503 and down.json()["ready"] is False
            assert time.monotonic() - stopped < 5
            stack.up(settings)  # the same port: the producer reconnects
            eventually(broker_check_is(client, True), 30, "/readyz to see the broker again")
    finally:
        stack.down(settings)
