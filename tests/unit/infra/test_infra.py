"""infra/: the compose file validates, and every Glamcast container gets a working `prod` setup.

These tests need no running service: `docker compose config` parses, merges and interpolates
the file without an engine. They call the Compose v2 client as the Docker CLI plugin
(`docker compose`), or a standalone `docker-compose` that reports version 2; infra/system-deps.sh
installs the plugin. Without either they fail, never skip: CI must validate the file.
"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from glamcast.core import topics
from glamcast.core.events import TOPIC_MODELS, Rejection, decode_event
from glamcast.core.settings import PROD_REQUIRED, KeyScope, Profile, Settings
from streams.validated_events import dead_letter

REPO = Path(__file__).resolve().parents[3]
INFRA = REPO / "infra"
COMPOSE_FILE = INFRA / "compose.yaml"
GLAMCAST_IMAGE = "glamcast:latest"

#: Services `docker compose up` starts; those only `docker compose run` starts (profile jobs);
#: and the optional monitoring (profile monitoring).
UP_SERVICES = {
    "kafka", "postgres", "redis", "minio", "minio-init", "spark-master", "spark-worker",
    "mlflow", "topics", "feast-apply", "stream", "api",
}
JOB_SERVICES = {"train-recommender", "train-look-gan", "forecast-trends", "materialize", "cli"}
MONITORING_SERVICES = {"prometheus"}
#: Services that run the Glamcast image, and so build `Settings` from their environment.
GLAMCAST_SERVICES = {
    "spark-worker", "mlflow", "topics", "feast-apply", "stream", "api", *JOB_SERVICES,
}


def compose_command() -> list[str]:
    """`docker compose`, else a `docker-compose` of version 2 (v1 reads files differently)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        done = subprocess.run([*command, "version", "--short"], capture_output=True, text=True,
                              check=False)
        if done.returncode == 0 and done.stdout.strip().lstrip("v").startswith("2."):
            return command
    pytest.fail("no Docker Compose v2 client: run infra/system-deps.sh as root")


def run_compose(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    # A bare environment: Compose would interpolate ${...} from this process's variables.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **variables}
    return subprocess.run(
        [*compose_command(), "-f", str(COMPOSE_FILE), *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """The resolved compose model with every profile on (every service)."""
    done = run_compose("--profile", "jobs", "--profile", "monitoring", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file as written (no expansion), comments and blanks skipped."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def glamcast_settings(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> Settings:
    """`Settings` as a container with `environment` (and nothing else of ours) would build it."""
    for name in list(os.environ):
        if name.startswith("GLAMCAST_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


# --- the file validates ----------------------------------------------------------------------------


def test_compose_file_validates_with_and_without_its_profiles():
    plain = run_compose("config", "--services")
    assert plain.returncode == 0, plain.stderr
    assert set(plain.stdout.split()) == UP_SERVICES
    everything = run_compose("--profile", "jobs", "--profile", "monitoring", "config", "--services")
    assert everything.returncode == 0, everything.stderr
    assert set(everything.stdout.split()) == UP_SERVICES | JOB_SERVICES | MONITORING_SERVICES


def test_an_environment_file_outside_the_repository_replaces_the_placeholders(tmp_path):
    secret_file = tmp_path / "prod.env"
    secret_file.write_text((INFRA / "env" / "prod.env").read_text().replace(
        "POSTGRES_PASSWORD=CHANGE_ME_postgres_password", "POSTGRES_PASSWORD=s3cret"))
    done = run_compose("config", "--format", "json", GLAMCAST_ENV_FILE=str(secret_file))
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    for name in ("postgres", "api", "mlflow"):
        assert services[name]["environment"]["POSTGRES_PASSWORD"] == "s3cret", name
    assert services["api"]["environment"]["GLAMCAST_REGISTRY_DB_URL"] == (
        "postgresql://glamcast:s3cret@postgres:5432/glamcast")


def test_glamcast_services_run_the_image_built_from_the_repository(config):
    glamcast = {name for name, service in config["services"].items()
                if service.get("image") == GLAMCAST_IMAGE}
    assert glamcast == GLAMCAST_SERVICES
    for name in GLAMCAST_SERVICES:
        build = config["services"][name]["build"]
        assert (Path(build["context"]), build["dockerfile"]) == (REPO, "Dockerfile"), name


# --- what `prod` requires is set, and it names the services of this file ---------------------------


@pytest.mark.parametrize("service", sorted(GLAMCAST_SERVICES))
def test_every_prod_required_setting_is_set_and_validates(config, monkeypatch, service):
    environment = config["services"][service]["environment"]
    missing = [f"GLAMCAST_{name.upper()}" for name in PROD_REQUIRED
               if not environment.get(f"GLAMCAST_{name.upper()}")]
    assert missing == [], f"{service} lacks {missing}"
    settings = glamcast_settings(monkeypatch, environment)
    assert settings.profile is Profile.PROD
    keys = settings.effective_api_keys
    assert {key.scope for key in keys} == set(KeyScope)
    assert all(key.name.startswith("CHANGE_ME_") for key in keys)


def test_prod_addresses_point_at_the_compose_services(config, monkeypatch):
    services = config["services"]
    settings = glamcast_settings(monkeypatch, services["api"]["environment"])
    assert settings.kafka_bootstrap == "kafka:9092"
    assert "PLAINTEXT://kafka:9092" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert services["mlflow"]["command"][:6] == ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
    assert settings.spark_master == "spark://spark-master:7077"
    assert services["spark-master"]["command"][-4:] == ["--port", "7077", "--webui-port", "8080"]
    assert services["spark-worker"]["command"][-1] == settings.spark_master
    assert settings.redis_url == "redis://:CHANGE_ME_redis_password@redis:6379/0"

    registry = urlsplit(settings.registry_db_url.get_secret_value())
    postgres = services["postgres"]["environment"]
    assert (registry.hostname, registry.port, registry.path) == ("postgres", 5432, "/glamcast")
    assert (registry.username, registry.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert postgres["POSTGRES_DB"] == "glamcast"

    mlflow = services["mlflow"]["environment"]
    backend = urlsplit(mlflow["MLFLOW_BACKEND_STORE_URI"])
    assert (backend.scheme, backend.hostname, backend.path) == ("postgresql+psycopg", "postgres", "/mlflow")
    assert (INFRA / "postgres" / "create-databases.sql").read_text().strip().endswith(
        "CREATE DATABASE mlflow;")

    # Spark reads the lake as s3a://, pyarrow as s3:// through AWS_ENDPOINT_URL; both name the
    # bucket that minio-init creates and the Glamcast S3 user may use.
    lake = urlsplit(settings.lake_uri)
    assert (lake.scheme, lake.netloc, lake.path) == ("s3a", "glamcast-lake", "/lake")
    init = services["minio-init"]["environment"]
    assert (init["LAKE_BUCKET"], init["MLFLOW_BUCKET"]) == ("glamcast-lake", "glamcast-mlflow")
    assert mlflow["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://glamcast-mlflow/artifacts"
    assert services["api"]["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_stream_workers_append_offline_features_in_process_not_on_the_cluster(config, monkeypatch):
    settings = glamcast_settings(monkeypatch, config["services"]["stream"]["environment"])
    assert settings.spark_master_url == "local[1]"
    assert config["services"]["stream"]["command"] == ["glamcast", "stream", "--workers", "2"]


def test_the_glamcast_s3_user_may_use_exactly_the_two_buckets():
    policy = json.loads((INFRA / "minio" / "glamcast-buckets-policy.json").read_text())
    resources = {resource for statement in policy["Statement"] for resource in statement["Resource"]}
    assert resources == {
        "arn:aws:s3:::glamcast-lake", "arn:aws:s3:::glamcast-mlflow",
        "arn:aws:s3:::glamcast-lake/*", "arn:aws:s3:::glamcast-mlflow/*",
    }


def test_secrets_in_the_prod_env_file_are_placeholders():
    written = env_file(INFRA / "env" / "prod.env")
    secrets = {key: value for key, value in written.items()
               if re.search(r"PASSWORD|SECRET|API_KEYS", key)}
    assert set(secrets) == {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD",
                            "AWS_SECRET_ACCESS_KEY", "GLAMCAST_API_KEYS"}
    assert all("CHANGE_ME" in value for value in secrets.values()), secrets
    # Every other mention of a password refers to one of these, never repeats its value.
    for key, value in written.items():
        if key not in secrets and "CHANGE_ME" in value:
            pytest.fail(f"{key} repeats a secret; refer to it as ${{NAME}}")


# --- start-up order ----------------------------------------------------------------------------------


def test_dependencies_wait_on_health_checks_and_finished_one_shots(config):
    services = config["services"]
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            elif rule["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{target} must run once"
            else:
                pytest.fail(f"{name} → {target}: {rule['condition']} waits for nothing")
    long_running = UP_SERVICES - {"minio-init", "topics", "feast-apply"}
    assert {name for name in long_running if "healthcheck" not in services[name]} == set()


def test_batch_jobs_are_spark_submit_entry_points_on_the_master(config):
    for job, script in (("train-recommender", "train_recommender.py"),
                        ("train-look-gan", "train_look_gan.py"),
                        ("forecast-trends", "forecast_trends.py"),
                        ("materialize", "materialize.py")):
        assert config["services"][job]["entrypoint"] == [
            "/opt/glamcast/bin/entrypoint.sh", "spark-submit", "--master",
            "spark://spark-master:7077", f"/opt/glamcast/app/jobs/{script}",
        ]
        assert (REPO / "jobs" / script).is_file()


# --- the image ---------------------------------------------------------------------------------------


def test_spark_master_image_matches_the_pyspark_the_image_installs(config):
    pin = re.search(r"^pyspark==(\S+)$", (INFRA / "constraints.txt").read_text(), re.MULTILINE)
    assert pin is not None, "infra/constraints.txt pins no pyspark"
    assert config["services"]["spark-master"]["image"] == f"apache/spark:{pin.group(1)}"


def test_the_image_copies_what_exists_and_the_build_context_keeps_secrets_out():
    dockerfile = (REPO / "Dockerfile").read_text()
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", ".glamcast", "infra/env"} <= set(ignored)
    sources = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from=") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    assert "glamcast" in sources and "infra/docker/entrypoint.sh" in sources
    for source in sources:
        assert (REPO / source).exists(), source
        parents = [str(Path(*Path(source).parts[:n])) for n in range(1, len(Path(source).parts) + 1)]
        assert not [(part, pattern) for part in parents for pattern in ignored
                    if fnmatch.fnmatch(part, pattern)], source
    # The last stage runs as a numeric, non-root user.
    users = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_entrypoint_writes_spark_s3a_defaults_from_the_environment(tmp_path):
    env = {"PATH": os.environ["PATH"], "SPARK_CONF_DIR": str(tmp_path),
           "AWS_ENDPOINT_URL": "http://minio:9000", "AWS_REGION": "eu-west-1"}
    done = subprocess.run(["sh", str(INFRA / "docker" / "entrypoint.sh"), "echo", "ran"],
                          capture_output=True, text=True, env=env, check=False)
    assert (done.returncode, done.stdout) == (0, "ran\n")
    assert (tmp_path / "spark-defaults.conf").read_text().splitlines() == [
        "# written by the glamcast entrypoint",
        "spark.sql.session.timeZone UTC",
        "spark.hadoop.fs.s3a.endpoint http://minio:9000",
        "spark.hadoop.fs.s3a.endpoint.region eu-west-1",
        "spark.hadoop.fs.s3a.path.style.access true",
    ]
    # A file someone mounted is theirs: left as it is.
    (tmp_path / "spark-defaults.conf").write_text("spark.master local[2]\n")
    subprocess.run(["sh", str(INFRA / "docker" / "entrypoint.sh"), "true"], check=True, env=env)
    assert (tmp_path / "spark-defaults.conf").read_text() == "spark.master local[2]\n"


def load_script(path: Path) -> Any:
    """A script of infra/ as a module (infra/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"infra_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_s3a_jars_follow_the_hadoop_version_pyspark_bundles():
    module = load_script(INFRA / "docker" / "fetch_s3a_jars.py")
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    version = module.hadoop_version(jars)
    assert (jars / f"hadoop-client-runtime-{version}.jar").is_file()


# --- the local profile's env file ----------------------------------------------------------------


def test_local_env_lists_real_settings_at_their_defaults(monkeypatch):
    written = env_file(INFRA / "env" / "local.env")
    settings = glamcast_settings(monkeypatch, written)
    assert settings.profile is Profile.LOCAL
    for key in written:
        field = key.removeprefix("GLAMCAST_").lower()
        assert field in Settings.model_fields, key
        assert getattr(settings, field) == Settings.model_fields[field].default, key


# --- DLQ replay (infra/scripts/replay_dlq.py) -----------------------------------------------------

REJECTED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rejected_letter(topic: str, offset: int, raw: bytes) -> Any:
    """The dead letter the stream workers would have written for `raw` at REJECTED_AT."""
    base_topic = topic.split("glamcast.", 1)[1]
    outcome = decode_event(TOPIC_MODELS["glamcast." + base_topic], raw, now=REJECTED_AT)
    assert isinstance(outcome, Rejection)
    return dead_letter(topic, 0, offset, raw, outcome, REJECTED_AT)


def test_dlq_replay_resends_what_passes_now_byte_for_byte_with_the_topic_key(monkeypatch):
    replay = load_script(INFRA / "scripts" / "replay_dlq.py")
    settings = glamcast_settings(monkeypatch, {"GLAMCAST_TOPIC_PREFIX": "t1-"})
    # Two days ahead of REJECTED_AT: too far in the future then, in the past a week later.
    tryon = json.dumps({
        "event_id": "t-1", "ts": "2026-11-03T12:00:00Z", "user_id": "u1", "session_id": "s1",
        "action": "like", "product_id": "p1", "category": "lipstick", "shade_hex": "#C04A5B",
        "finish": "matte", "dwell_ms": 1200, "platform": "ios", "app_version": "3.2.1",
        "unknown_field": "kept as sent",
    }).encode()
    social = json.dumps({
        "event_id": "s-1", "ts": "2026-11-03T12:00:00Z", "platform": "tiktok", "post_id": "post9",
        "author_id": "a7", "hashtags": ["#CoralCrush"], "brands": [], "product_ids": [],
        "likes": 1, "comments": 0, "shares": 0, "views": 3, "lang": "en",
    }).encode()
    broken = b'{"event_id": "t-2", "ts": '
    letters = [rejected_letter("t1-" + topics.TRYON, 10, tryon),
               rejected_letter("t1-" + topics.SOCIAL, 11, social),
               rejected_letter("t1-" + topics.TRYON, 12, broken)]
    assert [letter.error_class for letter in letters] == ["bad_timestamp", "bad_timestamp", "not_json"]

    plan = replay.plan_replay(letters, settings, now=REJECTED_AT + timedelta(days=7))
    assert [(item.topic, item.key, item.value) for item in plan.resend] == [
        ("t1-" + topics.TRYON, b"u1", tryon), ("t1-" + topics.SOCIAL, b"post9", social),
    ]
    assert [(letter.offset, rejection.reason) for letter, rejection in plan.rejected] == [(12, "not_json")]
    assert plan.summary() == {
        ("t1-" + topics.SOCIAL, "bad_timestamp", "pass"): 1,
        ("t1-" + topics.TRYON, "bad_timestamp", "pass"): 1,
        ("t1-" + topics.TRYON, "not_json", "not_json"): 1,
    }


def test_dlq_replay_filters_by_reason_topic_and_dead_letter_time(tmp_path):
    replay = load_script(INFRA / "scripts" / "replay_dlq.py")
    letter = rejected_letter(topics.TRYON, 12, b"not json")
    assert replay.selected(letter)
    assert replay.selected(letter, reasons=["not_json", "oversize"], source_topic=topics.TRYON)
    assert not replay.selected(letter, reasons=["bad_shade"])
    assert not replay.selected(letter, source_topic=topics.SOCIAL)
    assert replay.selected(letter, since=REJECTED_AT, until=REJECTED_AT + timedelta(seconds=1))
    assert not replay.selected(letter, until=REJECTED_AT)  # until is exclusive

    plan = replay.ReplayPlan(rejected=[(letter, Rejection("not_json", "<record>: bad"))])
    replay.export_rejected(plan, tmp_path / "rejected.jsonl")
    assert json.loads((tmp_path / "rejected.jsonl").read_text()) == {
        "source_topic": topics.TRYON, "partition": 0, "offset": 12, "reason": "not_json",
        "message": "<record>: bad", "original": "not json",
    }
    assert base64.b64decode(letter.original_b64) == b"not json"


# --- docs/runbook.md names only metrics the code defines -------------------------------------------


def exposed_metric_names() -> set[str]:
    """Every series name the code's Prometheus metrics expose (counters with `_total`)."""
    names: set[str] = set()
    for folder in ("glamcast", "streams", "jobs", "models"):
        for path in (REPO / folder).rglob("*.py"):
            for kind, name in re.findall(r'\b(Counter|Gauge|Histogram|Summary)\(\s*"(glamcast_\w+)"',
                                         path.read_text()):
                if kind == "Counter":
                    names.add(name.removesuffix("_total") + "_total")
                elif kind in ("Histogram", "Summary"):
                    names.update({name, f"{name}_sum", f"{name}_count", f"{name}_bucket"})
                else:
                    names.add(name)
    return names


def test_runbook_names_only_metrics_the_code_exposes():
    named = set(re.findall(r"\bglamcast_[a-z_]+\b", (REPO / "docs" / "runbook.md").read_text()))
    exposed = exposed_metric_names()
    assert "glamcast_stream_rejected_total" in exposed  # the scan finds the stream metrics
    assert named - exposed == set()


def test_prometheus_scrapes_every_stream_worker_port_and_the_api(config):
    scrape = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    processes = int(config["services"]["stream"]["command"][-1])
    first = int(config["services"]["stream"]["environment"]["GLAMCAST_STREAMS_WEB_PORT"])
    assert sorted(entry["port"] for entry in jobs["glamcast-stream"]["dns_sd_configs"]) == [
        first + worker for worker in range(processes)
    ]
    assert {entry["names"][0] for entry in jobs["glamcast-stream"]["dns_sd_configs"]} == {"stream"}
    port = config["services"]["api"]["command"][-1]
    assert jobs["glamcast-api"]["static_configs"][0]["targets"] == [f"api:{port}"]
