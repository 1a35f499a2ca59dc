"""The one way every Glamcast job gets its SparkSession.

`spark_session(settings)` builds (or returns the already running) session: master from
``settings.spark_master_url`` (GLAMCAST_SPARK_MASTER; ``local[*]`` in the local profile), Arrow
for pandas conversions and pandas UDFs, few shuffle partitions on a local master, and Spark's
own logging down to warnings. Under ``spark-submit`` the master chosen on its command line (or
its default) is kept, whatever GLAMCAST_SPARK_MASTER says: the same job file then runs on any
cluster it is submitted to, and the setting is for the ``glamcast`` commands.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from glamcast.core.settings import Settings

#: Spark log level once the session is up (`spark.sparkContext.setLogLevel`).
SPARK_LOG_LEVEL = "WARN"

#: Log4j2 configuration for the driver JVM: warnings only, to stderr, without the start-up notes
#: Spark prints before `setLogLevel` can act (native Hadoop libraries, default profile).
LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.hadoop_native.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop_native.level = error
logger.spark_utils.name = org.apache.spark.util.Utils
logger.spark_utils.level = error
logger.plan_strings.name = org.apache.spark.util.SparkStringUtils
logger.plan_strings.level = error
logger.session.name = org.apache.spark.sql.classic.SparkSession
logger.session.filter.reuse.type = RegexFilter
logger.session.filter.reuse.regex = Using an existing Spark session.*
logger.session.filter.reuse.onMatch = DENY
logger.session.filter.reuse.onMismatch = NEUTRAL
logger.task_sets.name = org.apache.spark.scheduler.TaskSetManager
logger.task_sets.filter.task_size.type = RegexFilter
logger.task_sets.filter.task_size.regex = .*contains a task of very large size.*
logger.task_sets.filter.task_size.onMatch = DENY
logger.task_sets.filter.task_size.onMismatch = NEUTRAL
"""
# The notes silenced above, all understood and none a user can act on: SparkStringUtils only
# says that a plan's text was cut for the log (spark.sql.debug.maxToStringFields); a job
# after the first in one process (the demo) gets the running session, whose static settings
# it cannot change; a task of a few MB is a pandas frame Spark ships to its local executors.
# Every other warning of those loggers (a lost task, say) still prints.


def _log4j2_file(settings: Settings) -> Path:
    path = settings.state_path / "spark" / "log4j2.properties"
    if not path.exists() or path.read_text() != LOG4J2_PROPERTIES:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOG4J2_PROPERTIES)
    return path


def local_cores(master: str) -> int | None:
    """Cores of a ``local``/``local[n]``/``local[*]`` master; None for a cluster master."""
    if master == "local":
        return 1
    found = re.fullmatch(r"local\[(\*|\d+)(?:,\s*\d+)?\]", master)
    if not found:
        return None
    return (os.cpu_count() or 1) if found.group(1) == "*" else int(found.group(1))


def _under_spark_submit() -> bool:
    """spark-submit starts the Python driver with the address of its JVM in the environment."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def spark_session(
    settings: Settings,
    app_name: str = "glamcast",
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Build or get the SparkSession for `settings`.

    `master` overrides the settings and spark-submit (benchmarks pin ``local[2]``); `conf` adds
    Spark properties.
    An existing session is returned with `conf` applied where Spark allows it at runtime.
    """
    if master is None and not _under_spark_submit():
        master = settings.spark_master_url
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    cores = local_cores(master) if master else None
    if cores is not None:
        builder = builder.config("spark.ui.enabled", "false")
        # List a lake's many date=... directories on the driver: a Spark job per listing costs
        # seconds on one machine, where the parallel listing buys nothing.
        builder = builder.config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        builder = builder.config(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_log4j2_file(settings)}"
        )
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Local Python workers must run this interpreter (the virtualenv), not the python3 on
        # PATH; PySpark reads only the environment variable when it starts them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(SPARK_LOG_LEVEL)
    cores = local_cores(session.sparkContext.master)
    if cores is not None and "spark.sql.shuffle.partitions" not in (conf or {}):
        # A few tasks per core: the default 200 shuffle partitions only add overhead on one machine.
        session.conf.set("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
    return session


def spark_gpu_conf(settings: Settings) -> dict[str, str]:
    """Spark properties that hand the driver its GPUs (for TorchDistributor's use_gpu), or
    nothing when PyTorch sees no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        return {}
    script = settings.state_path / "spark" / "gpu_discovery.sh"
    script.parent.mkdir(parents=True, exist_ok=True)
    addresses = ",".join(f'"{index}"' for index in range(torch.cuda.device_count()))
    script.write_text(f"#!/bin/sh\necho '{{\"name\": \"gpu\", \"addresses\": [{addresses}]}}'\n")
    script.chmod(0o755)
    return {"spark.driver.resource.gpu.amount": str(torch.cuda.device_count()),
            "spark.driver.resource.gpu.discoveryScript": str(script)}


def torch_distributor(spark: SparkSession, num_processes: int = 1) -> Any:
    """The `TorchDistributor` that fits where `spark` runs.

    On a ``local`` master: local mode, `num_processes` processes beside the driver, use_gpu when
    the driver holds GPUs (`spark_gpu_conf`). On a cluster master (standalone, k8s, YARN):
    ``local_mode=False``, so the training runs as `num_processes` barrier tasks in the executors,
    not in the driver; use_gpu when the tasks are given GPUs (``spark.task.resource.gpu.amount``,
    set with the executors' GPU resources), else CPU processes on the workers. The train
    function and its arguments travel to the executors pickled, and its result comes back the
    same way, so it must not depend on files of the driver's machine.
    """
    from pyspark.ml.torch.distributor import TorchDistributor

    context = spark.sparkContext
    if local_cores(context.master) is not None:
        return TorchDistributor(num_processes=num_processes, local_mode=True,
                                use_gpu="gpu" in context.resources)
    task_gpus = float(context.getConf().get("spark.task.resource.gpu.amount", "0") or 0)
    return TorchDistributor(num_processes=num_processes, local_mode=False, use_gpu=task_gpus > 0)
