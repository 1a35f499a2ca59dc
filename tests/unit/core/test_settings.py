"""Settings: one object, one profile switch, prod refuses to start without its secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from glamcast.core.settings import PROD_REQUIRED, KeyScope, Profile, Settings, api_key_sha256

K1, K2 = api_key_sha256("k1"), api_key_sha256("k2")

PROD_ENV = {
    "GLAMCAST_PROFILE": "prod",
    "GLAMCAST_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2:9092",
    "GLAMCAST_MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "GLAMCAST_SPARK_MASTER": "spark://spark-master:7077",
    "GLAMCAST_LAKE_URI": "s3a://glamcast-lake/lake",
    "GLAMCAST_REDIS_URL": "redis://redis:6379/0",
    "GLAMCAST_REGISTRY_DB_URL": "postgresql://feast:s3cret@postgres:5432/feast",
    "GLAMCAST_API_KEYS": f'[{{"name": "shop-app", "scope": "ingest", "sha256": "{K1}"}}, '
                         f'{{"name": "feeds", "scope": "service", "sha256": "{K2}", "burst": 5}}]',
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
    assert {(key.name, key.scope) for key in settings.effective_api_keys} == {
        ("dev-ingest", KeyScope.INGEST), ("dev-service", KeyScope.SERVICE),
        ("dev-marketing", KeyScope.MARKETING), ("dev-admin", KeyScope.ADMIN),
        ("dev-metrics", KeyScope.METRICS)}


def test_state_dir_comes_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("GLAMCAST_STATE_DIR", str(tmp_path / "s"))
    assert Settings().state_path == tmp_path / "s"


def test_prod_with_everything_set(clean_env):
    for name, value in PROD_ENV.items():
        clean_env.setenv(name, value)
    settings = Settings()
    assert settings.profile is Profile.PROD
    assert settings.lake_root == "s3a://glamcast-lake/lake"
    assert [(key.name, key.scope, key.sha256, key.burst) for key in settings.effective_api_keys] == [
        ("shop-app", KeyScope.INGEST, K1, None), ("feeds", KeyScope.SERVICE, K2, 5)]
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


def test_keys_are_hashes_with_one_name_and_one_hash_each(clean_env):
    bad_hash = '[{"name": "a", "scope": "ingest", "sha256": "k1"}]'
    same_name = (f'[{{"name": "a", "scope": "ingest", "sha256": "{K1}"}}, '
                 f'{{"name": "a", "scope": "admin", "sha256": "{K2}"}}]')
    same_hash = (f'[{{"name": "a", "scope": "ingest", "sha256": "{K1}"}}, '
                 f'{{"name": "b", "scope": "admin", "sha256": "{K1}"}}]')
    unknown_scope = f'[{{"name": "a", "scope": "root", "sha256": "{K1}"}}]'
    for value, message in [(bad_hash, "sha256"), (same_name, "own name"), (same_hash, "own name"),
                           (unknown_scope, "scope")]:
        clean_env.setenv("GLAMCAST_API_KEYS", value)
        with pytest.raises(ValidationError, match=message):
            Settings()
