"""Settings: one object, one profile switch, prod refuses to start without its secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from glamcast.core.settings import PROD_REQUIRED, Profile, Settings

PROD_ENV = {
    "GLAMCAST_PROFILE": "prod",
    "GLAMCAST_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092",
    "GLAMCAST_MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "GLAMCAST_SPARK_MASTER": "spark://spark-master:7077",
    "GLAMCAST_LAKE_URI": "s3a://glamcast-lake/lake",
    "GLAMCAST_REDIS_URL": "redis://redis:6379/0",
    "GLAMCAST_REGISTRY_DB_URL": "postgresql://feast:s3cret@postgres:5432/feast",
    "GLAMCAST_API_KEYS": '["k1", "k2"]',
}


@pytest.fixture
def clean_env(monkeypatch):
    for name in PROD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GLAMCAST_STATE_DIR", raising=False)
    return monkeypatch


def test_local_profile_needs_nothing_set(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    settings = Settings()
    assert settings.profile is Profile.LOCAL
    assert settings.state_path == tmp_path / ".glamcast"
    assert settings.lake_root == str(tmp_path / ".glamcast" / "lake")
    assert settings.spark_master_url == "local[*]"
    assert settings.accepted_api_keys == ["dev-key"]


def test_state_dir_comes_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("GLAMCAST_STATE_DIR", str(tmp_path / "s"))
    assert Settings().state_path == tmp_path / "s"


def test_prod_with_everything_set(clean_env):
    for name, value in PROD_ENV.items():
        clean_env.setenv(name, value)
    settings = Settings()
    assert settings.profile is Profile.PROD
    assert settings.lake_root == "s3a://glamcast-lake/lake"
    assert settings.accepted_api_keys == ["k1", "k2"]
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize("missing", PROD_REQUIRED)
def test_prod_names_each_missing_setting(clean_env, missing):
    for name, value in PROD_ENV.items():
        if name != f"GLAMCAST_{missing.upper()}":
            clean_env.setenv(name, value)
    with pytest.raises(ValidationError, match=f"GLAMCAST_{missing.upper()}"):
        Settings()


def test_prod_never_falls_back_to_the_dev_key(clean_env):
    for name, value in PROD_ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("GLAMCAST_API_KEYS", "[]")
    with pytest.raises(ValidationError, match="GLAMCAST_API_KEYS"):
        Settings()
