"""Shared fixtures: one embedded stack (broker + MLflow) per test session, on its own state dir.

When GLAMCAST_KAFKA_BOOTSTRAP is set the tests use that cluster instead of starting a broker.
Integration fixtures never skip: a service that cannot start fails the run loudly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from glamcast.core.settings import Settings
from glamcast.platform import stack

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data sets (GLAMCAST_DATA_DIR, default ../shared/data)."""
    path = Path(os.environ.get("GLAMCAST_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    assert path.is_dir(), f"real data not found at {path}; set GLAMCAST_DATA_DIR"
    return path


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a running embedded stack, shared by the whole session, stopped at the end."""
    state_dir = tmp_path_factory.mktemp("glamcast-state")
    previous = os.environ.get("GLAMCAST_STATE_DIR")
    os.environ["GLAMCAST_STATE_DIR"] = str(state_dir)
    settings = Settings()
    stack.up(settings)
    try:
        yield settings
    finally:
        stack.down(settings)
        if previous is None:
            os.environ.pop("GLAMCAST_STATE_DIR", None)
        else:
            os.environ["GLAMCAST_STATE_DIR"] = previous


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names of one test."""
    return uuid.uuid4().hex[:10]


from typing import TYPE_CHECKING  # the spark fixture only needs the name for its annotation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One SparkSession for the whole test session (GLAMCAST_SPARK_MASTER, else local[2]), stopped at the end."""
    from glamcast.platform.spark import spark_session

    settings = Settings(state_dir=tmp_path_factory.mktemp("spark-state"))
    session = spark_session(settings, app_name="glamcast-tests", master=settings.spark_master or "local[2]")
    try:
        yield session
    finally:
        session.stop()
