"""The `prod` profile on one machine, on real processes: ``glamcast up --profile prod-local``.

`up(state_dir)` starts, each as its own process group recorded in ``<state_dir>/prod_local.json``:

- a Spark standalone cluster: pyspark's own ``spark-class ...deploy.master.Master`` and one
  ``...deploy.worker.Worker`` registered with it (free ports; the worker runs this virtualenv's
  Python for its executors);
- an S3-compatible object store: moto's server mode (``moto_server``), with the buckets
  ``glamcast-lake`` and ``glamcast-mlflow``;
- an MLflow tracking server whose backend is a new PostgreSQL database and whose artifacts go
  to ``s3://glamcast-mlflow/`` on that store (served through the server, so clients need no S3
  credentials for MLflow);
- the embedded Kafka broker (`glamcast.platform.stack`'s Tansu; no Kafka distribution installs
  here), used with the prod client settings.

and uses the machine's PostgreSQL (a new database for the Feast SQL registry, one for MLflow) and
Redis (a Feast project of its own, so its keys are its own) as the `prod` profile's stores.
`ProdLocal.settings()` / `ProdLocal.env()` are the `prod` settings that point at all of it;
`down(state_dir)` stops exactly what `up` recorded, drops the two databases and deletes the
project's Redis keys.

The lake: ``s3a://glamcast-lake/lake`` when pyspark's jars hold hadoop-aws and the AWS SDK bundle
(what ``infra/docker/fetch_s3a_jars.py`` adds to the image); otherwise a directory under the
state dir, which the driver, the executors and the stream workers share as a cluster shares a
mounted volume. The development machines cannot fetch those jars (Maven Central is out of reach
and no PyPI, Debian or npm package ships hadoop-aws for pyspark's Hadoop), so there the lake is
the directory and the object store holds the MLflow artifacts (docs/runbook.md, "prod-local").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from glamcast.core.settings import Settings
from glamcast.platform import stack

STATE_FILE = "prod_local.json"
#: Spark property that marks a submitted application (`spark_submit_command`'s `tag`).
TAG_PROPERTY = "spark.glamcast.tag"
#: The machine's services (DESIGN.md: PostgreSQL with trust auth on database `test`, Redis).
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LAKE_BUCKET, MLFLOW_BUCKET = "glamcast-lake", "glamcast-mlflow"
#: moto accepts any credentials; these name the local store's user, they protect nothing.
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION = "prodlocal", "prodlocal-secret", "us-east-1"
#: Process parts in start order (stopped in reverse).
PARTS = ("s3", "spark-master", "spark-worker", "broker", "mlflow")
START_TIMEOUT_S = {"s3": 60.0, "spark-master": 90.0, "spark-worker": 90.0, "broker": 30.0,
                   "mlflow": 180.0}


@dataclass
class ProdLocal:
    """Addresses and names of one prod-local stack (what `up` recorded)."""

    state_dir: str
    name: str  # unique suffix of the databases and the Feast project
    spark_master: str  # spark://127.0.0.1:PORT
    spark_master_ui: str
    spark_worker_ui: str
    s3_endpoint: str
    kafka_bootstrap: str
    mlflow_tracking_uri: str
    postgres_url: str  # the server's maintenance URL the databases were created from
    mlflow_db_url: str
    registry_db_url: str
    redis_url: str
    feast_project: str
    lake_uri: str
    event_log_dir: str
    worker_cores: int
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def s3a_lake(self) -> bool:
        return self.lake_uri.startswith("s3a://")

    def env(self) -> dict[str, str]:
        """The environment of a `prod` process on this stack: GLAMCAST_* and the S3 client's."""
        env = {
            "GLAMCAST_PROFILE": "prod",
            "GLAMCAST_STATE_DIR": self.state_dir,
            "GLAMCAST_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "GLAMCAST_MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "GLAMCAST_SPARK_MASTER": self.spark_master,
            "GLAMCAST_LAKE_URI": self.lake_uri,
            "GLAMCAST_REDIS_URL": self.redis_url,
            "GLAMCAST_REGISTRY_DB_URL": self.registry_db_url,
            "GLAMCAST_FEAST_PROJECT": self.feast_project,
            # Local dev keys are refused by `prod`; the stack gets one key per scope.
            "GLAMCAST_API_KEYS": json.dumps(api_keys()),
        }
        env.update(s3_client_env(self.s3_endpoint))
        return env

    def settings(self, **overrides: Any) -> Settings:
        """`prod` settings on this stack (`overrides` as Settings fields)."""
        values: dict[str, Any] = {
            "profile": "prod", "state_dir": Path(self.state_dir),
            "kafka_bootstrap": self.kafka_bootstrap,
            "mlflow_tracking_uri": self.mlflow_tracking_uri, "spark_master": self.spark_master,
            "lake_uri": self.lake_uri, "redis_url": self.redis_url,
            "registry_db_url": self.registry_db_url, "feast_project": self.feast_project,
            "api_keys": api_keys(),
        }
        values.update(overrides)
        return Settings(**values)

    def spark_submit_command(self, job: str, args: Sequence[str] = (), *,
                             tag: str | None = None,
                             conf: Mapping[str, str] | None = None) -> list[str]:
        """``spark-submit --master spark://... --deploy-mode client jobs/<job>.py args``: the
        executors on the worker, the event log under `event_log_dir` (executor ids per task).
        `tag` is recorded as the property ``spark.glamcast.tag`` (`event_log_tasks` finds the
        application by it: the jobs name their applications themselves)."""
        spark_conf = {
            **({TAG_PROPERTY: tag} if tag else {}),
            "spark.executor.cores": str(self.worker_cores),
            "spark.executor.memory": "1g",
            "spark.driver.host": "127.0.0.1",
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": Path(self.event_log_dir).as_uri(),
            # One plain JSON-lines file per application (`event_log_tasks` reads it).
            "spark.eventLog.rolling.enabled": "false",
            "spark.eventLog.compress": "false",
            "spark.ui.showConsoleProgress": "false",
            # One worker of a few cores: Spark's 200 shuffle partitions are ~200 task launches
            # per shuffle (765 tasks for a small forecast run); a few per core, as `local[*]`.
            "spark.sql.shuffle.partitions": str(max(2, 2 * self.worker_cores)),
            **spark_s3a_conf(self.s3_endpoint, enabled=self.s3a_lake),
            **(conf or {}),
        }
        command = [str(spark_bin("spark-submit")), "--master", self.spark_master,
                   "--deploy-mode", "client"]
        for key, value in spark_conf.items():
            command += ["--conf", f"{key}={value}"]
        return [*command, str(job_file(job)), *args]

    def spark_submit(self, job: str, args: Sequence[str] = (), *, timeout_s: float = 900.0,
                     env: Mapping[str, str] | None = None, tag: str | None = None,
                     conf: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run `spark_submit_command` to its end with this stack's environment (output
        captured; the caller checks the return code). Past `timeout_s` the whole process group
        (spark-submit's JVM and the Python driver it started) is killed and
        `subprocess.TimeoutExpired` raised."""
        child = {key: value for key, value in os.environ.items() if not key.startswith("GLAMCAST_")}
        child.update(spark_env(Path(self.state_dir)))
        child.update(self.env())
        child.update(env or {})
        command = self.spark_submit_command(job, args, tag=tag, conf=conf)
        with subprocess.Popen(command, env=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True,
                              start_new_session=True) as process:
            try:
                out, err = process.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise
        return subprocess.CompletedProcess(command, process.returncode, out, err)


# --- pieces ----------------------------------------------------------------------------------------


def api_keys() -> list[dict[str, str]]:
    """One key per scope, ``prodlocal-<scope>`` (hashes only, as `prod` wants them)."""
    from glamcast.core.settings import KeyScope, api_key_sha256

    return [{"name": f"prodlocal-{scope.value}", "scope": scope.value,
             "sha256": api_key_sha256(f"prodlocal-{scope.value}")} for scope in KeyScope]


def s3_client_env(endpoint: str) -> dict[str, str]:
    """What boto3 (MLflow's S3 artifact store) and pyarrow's S3 filesystem read."""
    return {
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "AWS_DEFAULT_REGION": S3_REGION, "AWS_REGION": S3_REGION,
        "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
    }


def spark_s3a_conf(endpoint: str, *, enabled: bool) -> dict[str, str]:
    """Hadoop's s3a settings for the local store (path-style, plain HTTP), or nothing."""
    if not enabled:
        return {}
    return {
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.access.key": S3_ACCESS_KEY,
        "spark.hadoop.fs.s3a.secret.key": S3_SECRET_KEY,
        "spark.hadoop.fs.s3a.endpoint.region": S3_REGION,
    }


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_bin(name: str) -> Path:
    """pyspark's launcher script `name` (spark-class, spark-submit)."""
    return spark_home() / "bin" / name


def s3a_jars() -> list[str]:
    """hadoop-aws and AWS SDK bundle jars in pyspark's jars/ (empty: Spark has no s3a)."""
    jars = spark_home() / "jars"
    found = [p.name for p in jars.glob("*.jar")
             if re.match(r"(org\.apache\.hadoop_)?hadoop-aws-", p.name)
             or re.match(r"(software\.amazon\.awssdk_)?bundle-", p.name)]
    return sorted(found) if len(found) >= 2 else []


def job_file(job: str) -> Path:
    """The file of ``jobs/<job>.py`` that spark-submit runs (found without importing jobs)."""
    import importlib.util

    spec = importlib.util.find_spec("jobs")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the `jobs` package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{job}.py"
    if not path.exists():
        raise FileNotFoundError(path)
    return path


def spark_env(state_dir: Path) -> dict[str, str]:
    """Environment of the Spark daemons and spark-submit: this pyspark, this Python, loopback."""
    return {
        "SPARK_HOME": str(spark_home()),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(state_dir / "logs" / "spark"),
        "SPARK_NO_DAEMONIZE": "1",
        "SPARK_DAEMON_MEMORY": "384m",  # master and worker only schedule: a small heap
    }


def master_info(ui: str) -> dict[str, Any] | None:
    """The master's JSON status (workers, applications), or None when it does not answer."""
    try:
        response = httpx.get(f"{ui}/json/", timeout=2.0)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _alive_workers(ui: str) -> int:
    info = master_info(ui) or {}
    return sum(1 for worker in info.get("workers", []) if worker.get("state") == "ALIVE")


def _s3_healthy(endpoint: str) -> bool:
    try:
        return httpx.get(f"{endpoint}/moto-api/", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _postgres(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def _database_url(server_url: str, database: str) -> str:
    base = server_url.rsplit("/", 1)[0] if server_url.count("/") >= 3 else server_url
    return f"{base}/{database}"


def _create_database(server_url: str, database: str) -> str:
    from psycopg import sql

    with _postgres(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return _database_url(server_url, database)


def _drop_database(server_url: str, database: str) -> None:
    from psycopg import sql

    with _postgres(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))


def delete_redis_keys(redis_url: str, project: str) -> int:
    """Delete the Feast online rows of `project` (Feast's Redis keys end with the project name)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deleted = 0
    try:
        batch = []
        for key in client.scan_iter(match=f"*{project}", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    finally:
        client.close()
    return deleted


def _create_buckets(endpoint: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                      aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)
    for bucket in (LAKE_BUCKET, MLFLOW_BUCKET):
        s3.create_bucket(Bucket=bucket)


def s3_objects(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    """Keys under `prefix` in `bucket` of the stack's object store."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                      aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


# --- up / down -------------------------------------------------------------------------------------


def read_state(state_dir: Path) -> ProdLocal | None:
    path = Path(state_dir).resolve() / STATE_FILE
    return ProdLocal(**json.loads(path.read_text())) if path.exists() else None


def _write_state(stack_: ProdLocal) -> None:
    path = Path(stack_.state_dir) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(stack_), indent=2))
    os.replace(tmp, path)


def up(state_dir: Path, *, postgres_url: str = DEFAULT_POSTGRES_URL,
       redis_url: str = DEFAULT_REDIS_URL, worker_cores: int = 2, worker_memory: str = "2g",
       on_event: Callable[[str, str], None] = lambda part, msg: None) -> ProdLocal:
    """Start the stack described above under `state_dir` and wait until every part answers.

    Anything started is stopped again (databases dropped) when a part fails to start.
    A stack already recorded in `state_dir` is an error: `down` it first.
    """
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    if read_state(state) is not None:
        raise stack.StackStartError(f"a prod-local stack is recorded in {state}; run down first")
    name = uuid.uuid4().hex[:10]
    logs = state / "logs"
    ports = {part: stack.free_port() for part in ("s3", "master", "master-ui", "worker-ui", "mlflow")}
    spark_environment = {**spark_env(state), "SPARK_WORKER_DIR": str(state / "spark-work")}
    event_logs = state / "spark-events"
    event_logs.mkdir(parents=True, exist_ok=True)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    current = ProdLocal(
        state_dir=str(state), name=name,
        spark_master=f"spark://127.0.0.1:{ports['master']}",
        spark_master_ui=f"http://127.0.0.1:{ports['master-ui']}",
        spark_worker_ui=f"http://127.0.0.1:{ports['worker-ui']}",
        s3_endpoint=endpoint, kafka_bootstrap="", mlflow_tracking_uri=f"http://127.0.0.1:{ports['mlflow']}",
        postgres_url=postgres_url, mlflow_db_url="", registry_db_url="", redis_url=redis_url,
        feast_project=f"prodlocal_{name}",
        lake_uri=f"s3a://{LAKE_BUCKET}/lake" if s3a_jars() else str(state / "lake"),
        event_log_dir=str(event_logs), worker_cores=worker_cores,
    )
    _write_state(current)
    try:
        on_event("postgres", f"databases glamcast_{name}_mlflow, glamcast_{name}_registry")
        current.mlflow_db_url = _create_database(postgres_url, f"glamcast_{name}_mlflow")
        current.registry_db_url = _create_database(postgres_url, f"glamcast_{name}_registry")
        _write_state(current)

        def start(part: str, command: list[str], env: Mapping[str, str],
                  healthy: Callable[[], bool]) -> None:
            record = stack._spawn(command, logs / f"{part}.log", env=dict(env))
            current.records[part] = record
            _write_state(current)
            on_event(part, f"starting (pid {record['pid']})")
            stack._wait_until(lambda: healthy() or stack._process(record) is None,
                              START_TIMEOUT_S[part], part, record["log"])
            if stack._process(record) is None:
                raise stack.StackStartError(f"{part} exited during start-up; see {record['log']}")
            on_event(part, "healthy")

        start("s3", [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                     "-p", str(ports["s3"])], {}, lambda: _s3_healthy(endpoint))
        _create_buckets(endpoint)
        start("spark-master",
              [str(spark_bin("spark-class")), "org.apache.spark.deploy.master.Master",
               "--host", "127.0.0.1", "--port", str(ports["master"]),
               "--webui-port", str(ports["master-ui"])],
              spark_environment, lambda: master_info(current.spark_master_ui) is not None)
        start("spark-worker",
              [str(spark_bin("spark-class")), "org.apache.spark.deploy.worker.Worker",
               "--host", "127.0.0.1", "--cores", str(worker_cores), "--memory", worker_memory,
               "--webui-port", str(ports["worker-ui"]), "--work-dir", str(state / "spark-work"),
               current.spark_master],
              spark_environment, lambda: _alive_workers(current.spark_master_ui) >= 1)
        broker_record = stack._start_broker(Settings(state_dir=state))
        current.records["broker"] = broker_record
        current.kafka_bootstrap = broker_record["address"]
        _write_state(current)
        on_event("broker", f"starting at {current.kafka_bootstrap}")
        stack._wait_until(lambda: stack.broker_healthy(current.kafka_bootstrap),
                          START_TIMEOUT_S["broker"], "broker", broker_record["log"])
        start("mlflow",
              [sys.executable, "-m", "mlflow", "server",
               "--backend-store-uri", _sqlalchemy_url(current.mlflow_db_url),
               "--artifacts-destination", f"s3://{MLFLOW_BUCKET}/artifacts",
               "--host", "127.0.0.1", "--port", str(ports["mlflow"]), "--workers", "1"],
              {**s3_client_env(endpoint), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
              lambda: stack.mlflow_healthy(current.mlflow_tracking_uri))
    except BaseException:
        down(state)
        raise
    return current


def _sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def down(state_dir: Path, *, purge: bool = False) -> list[str]:
    """Stop what `up` recorded (reverse order), drop its databases, delete its Redis keys;
    with `purge`, remove the state dir. Returns what was stopped or removed."""
    state = Path(state_dir).resolve()
    current = read_state(state)
    done: list[str] = []
    if current is not None:
        for part in reversed(PARTS):
            record = current.records.get(part)
            if record and stack._stop(record):
                done.append(part)
        for database in (f"glamcast_{current.name}_mlflow", f"glamcast_{current.name}_registry"):
            try:
                _drop_database(current.postgres_url, database)
                done.append(f"database {database}")
            except Exception as error:  # noqa: BLE001 — report, keep cleaning up
                done.append(f"database {database} not dropped: {error}")
        try:
            deleted = delete_redis_keys(current.redis_url, current.feast_project)
            done.append(f"{deleted} redis keys")
        except Exception as error:  # noqa: BLE001
            done.append(f"redis keys not deleted: {error}")
        (state / STATE_FILE).unlink(missing_ok=True)
    if purge and state.exists():
        shutil.rmtree(state)
    return done


# --- proof of where tasks ran ----------------------------------------------------------------------


def event_log_tasks(event_log_dir: str | Path, tag: str, *,
                    barrier_only: bool = False) -> dict[str, int]:
    """Successful tasks per executor id in the event log of the application submitted with
    `tag` (or named `tag`; the newest such log): ``{"0": 12}`` on a cluster; ``"driver"`` would
    mean local mode.
    `barrier_only`: tasks of barrier stages only (TorchDistributor's training on a cluster)."""
    found: list[tuple[float, dict[str, int]]] = []
    for path in Path(event_log_dir).iterdir():
        if not path.is_file() or path.name.endswith(".inprogress"):
            continue
        counts: dict[str, int] = {}
        barrier_stages: set[int] = set()
        name = None
        with open(path, errors="replace") as lines:
            for line in lines:
                event = json.loads(line)
                kind = event.get("Event")
                if kind == "SparkListenerApplicationStart" and name is None:
                    name = event.get("App Name")
                elif kind == "SparkListenerEnvironmentUpdate":
                    name = event.get("Spark Properties", {}).get(TAG_PROPERTY) or name
                elif kind == "SparkListenerStageSubmitted":
                    stage = event.get("Stage Info", {})
                    if any(rdd.get("Barrier") for rdd in stage.get("RDD Info", [])):
                        barrier_stages.add(stage.get("Stage ID"))
                elif kind == "SparkListenerTaskEnd":
                    if barrier_only and event.get("Stage ID") not in barrier_stages:
                        continue
                    info = event.get("Task Info", {})
                    if event.get("Task End Reason", {}).get("Reason") == "Success":
                        executor = str(info.get("Executor ID"))
                        counts[executor] = counts.get(executor, 0) + 1
        if name == tag:
            found.append((path.stat().st_mtime, counts))
    if not found:
        raise FileNotFoundError(f"no finished event log of {tag!r} in {event_log_dir}")
    return max(found, key=lambda item: item[0])[1]
