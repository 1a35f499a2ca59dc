"""What `glamcast.platform.prod_local` decides without starting anything: the spark-submit
command line, the settings and environment of a recorded stack, and the event-log reading that
proves where tasks ran (the services themselves: tests/integration/prod)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from glamcast.core.settings import Profile
from glamcast.platform import prod_local


def _stack(tmp_path: Path, lake_uri: str | None = None) -> prod_local.ProdLocal:
    return prod_local.ProdLocal(
        state_dir=str(tmp_path), name="abc", spark_master="spark://127.0.0.1:7001",
        spark_master_ui="http://127.0.0.1:8001", spark_worker_ui="http://127.0.0.1:8002",
        s3_endpoint="http://127.0.0.1:9001", kafka_bootstrap="127.0.0.1:9092",
        mlflow_tracking_uri="http://127.0.0.1:5001",
        postgres_url="postgresql://postgres@127.0.0.1:5432/test",
        mlflow_db_url="postgresql://postgres@127.0.0.1:5432/glamcast_abc_mlflow",
        registry_db_url="postgresql://postgres@127.0.0.1:5432/glamcast_abc_registry",
        redis_url="redis://127.0.0.1:6379/0", feast_project="prodlocal_abc",
        lake_uri=lake_uri or str(tmp_path / "lake"), event_log_dir=str(tmp_path / "events"),
        worker_cores=2,
    )


def test_jobs_are_submitted_in_client_mode_to_the_cluster_with_event_logs(tmp_path: Path) -> None:
    command = _stack(tmp_path).spark_submit_command("train_recommender", ["--epochs", "3"],
                                                    tag="run-1")
    assert command[0].endswith("spark-submit")
    assert command[1:5] == ["--master", "spark://127.0.0.1:7001", "--deploy-mode", "client"]
    assert command[-3:] == [str(prod_local.job_file("train_recommender")), "--epochs", "3"]
    pairs = [command[i + 1] for i, word in enumerate(command) if word == "--conf"]
    conf = dict(pair.split("=", 1) for pair in pairs)
    assert conf["spark.eventLog.enabled"] == "true" and conf["spark.glamcast.tag"] == "run-1"
    assert conf["spark.eventLog.dir"] == (tmp_path / "events").as_uri()
    assert conf["spark.pyspark.python"] == sys.executable
    assert not any(key.startswith("spark.hadoop.fs.s3a") for key in conf)  # a directory lake


def test_an_s3a_lake_gets_the_local_store_settings(tmp_path: Path) -> None:
    command = _stack(tmp_path, "s3a://glamcast-lake/lake").spark_submit_command("materialize")
    pairs = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--conf")
    assert pairs["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9001"
    assert pairs["spark.hadoop.fs.s3a.path.style.access"] == "true"


def test_an_unknown_job_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _stack(tmp_path).spark_submit_command("no_such_job")


def test_settings_and_env_are_the_prod_profile_on_the_stack(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    settings = stack.settings(topic_prefix="t.")
    assert settings.profile is Profile.PROD and settings.topic_prefix == "t."
    assert settings.spark_master == "spark://127.0.0.1:7001"
    assert settings.registry_db_url is not None
    assert "glamcast_abc_registry" in settings.registry_db_url.get_secret_value()
    assert {key.name for key in settings.effective_api_keys} >= {"prodlocal-service"}
    env = stack.env()
    assert env["GLAMCAST_PROFILE"] == "prod"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9001"


def _event_log(path: Path, app: str, tasks: list[tuple[int, str, str]],
               barrier_stages: tuple[int, ...] = (), tag: str | None = None) -> None:
    events: list[dict] = [{"Event": "SparkListenerEnvironmentUpdate",
                           "Spark Properties": {"spark.glamcast.tag": tag} if tag else {}},
                          {"Event": "SparkListenerApplicationStart", "App Name": app}]
    for stage in sorted({stage for stage, _, _ in tasks}):
        events.append({"Event": "SparkListenerStageSubmitted", "Stage Info": {
            "Stage ID": stage, "RDD Info": [{"Barrier": stage in barrier_stages}]}})
    events += [{"Event": "SparkListenerTaskEnd", "Stage ID": stage,
                "Task End Reason": {"Reason": reason}, "Task Info": {"Executor ID": executor}}
               for stage, executor, reason in tasks]
    path.write_text("\n".join(json.dumps(event) for event in events) + "\n")


def test_event_logs_count_successful_tasks_per_executor(tmp_path: Path) -> None:
    _event_log(tmp_path / "app-1", "job-a", [(0, "0", "Success"), (0, "0", "Success"),
                                            (1, "1", "Success"), (1, "0", "ExceptionFailure")],
               barrier_stages=(1,))
    _event_log(tmp_path / "app-2", "job-b", [(0, "driver", "Success")])
    _event_log(tmp_path / "app-4", "job-b", [(0, "0", "Success")], tag="run-4")
    (tmp_path / "app-3.inprogress").write_text("not json")  # a running application: skipped
    assert prod_local.event_log_tasks(tmp_path, "job-a") == {"0": 2, "1": 1}
    assert prod_local.event_log_tasks(tmp_path, "job-a", barrier_only=True) == {"1": 1}
    assert prod_local.event_log_tasks(tmp_path, "job-b") == {"driver": 1}
    assert prod_local.event_log_tasks(tmp_path, "run-4") == {"0": 1}  # by its tag, not its name
    with pytest.raises(FileNotFoundError):
        prod_local.event_log_tasks(tmp_path, "job-c")


def test_a_submission_past_its_timeout_is_killed_with_its_children(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    import psutil

    stack = _stack(tmp_path)
    pid_file = tmp_path / "child.pid"
    monkeypatch.setattr(prod_local.ProdLocal, "spark_submit_command",
                        lambda self, job, args=(), **_: ["sh", "-c", *args])
    done = stack.spark_submit("materialize", ["echo out; echo err >&2"])
    assert (done.returncode, done.stdout, done.stderr) == (0, "out\n", "err\n")
    with pytest.raises(subprocess.TimeoutExpired):  # a child that outlives sh: the driver
        stack.spark_submit("materialize", [f"sleep 60 & echo $! > {pid_file}; wait"],
                           timeout_s=2)
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_a_local_master_trains_beside_the_driver(spark) -> None:
    from glamcast.platform.spark import torch_distributor

    distributor = torch_distributor(spark, num_processes=1)
    assert distributor.local_mode is True and distributor.num_processes == 1
    assert distributor.use_gpu is False  # no GPU resource given to the test session's driver
