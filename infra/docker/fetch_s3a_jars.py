"""Put hadoop-aws (Spark's ``s3a://`` filesystem) and its AWS SDK bundle into pyspark's jars.

Run once while the image is built: ``python fetch_s3a_jars.py IVY_DIR``. The pyspark wheel
carries the Hadoop client but not hadoop-aws, whose version must equal that client's; so the
version is read from the bundled ``hadoop-client-api-<version>.jar`` rather than pinned by hand,
and Spark's own Ivy resolution (``spark.jars.packages``) picks the AWS SDK bundle that version
was built against. Copied into pyspark's ``jars/``, they are on the class path of every JVM the
image starts: drivers, `spark-submit`, and the Spark workers.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

#: Ivy names the resolved files ``<organisation>_<module>-<version>.jar``; these two are needed.
WANTED = ("org.apache.hadoop_hadoop-aws-", "software.amazon.awssdk_bundle-")


def hadoop_version(jars: Path) -> str:
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if len(found) != 1:
        raise SystemExit(f"expected one hadoop-client-api jar in {jars}, found {found}")
    return found[0].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def main(ivy_dir: str) -> None:
    jars = Path(pyspark.__file__).parent / "jars"
    version = hadoop_version(jars)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.jars.packages", f"org.apache.hadoop:hadoop-aws:{version}")
        .config("spark.jars.ivy", ivy_dir)
        .getOrCreate()
    )
    spark.stop()
    for prefix in WANTED:
        resolved = sorted((Path(ivy_dir) / "jars").glob(f"{prefix}*.jar"))
        if not resolved:
            raise SystemExit(f"Ivy resolved no {prefix}*.jar for hadoop-aws {version}")
        for jar in resolved:
            shutil.copy(jar, jars / jar.name)
            print(f"added {jar.name} to {jars}")


if __name__ == "__main__":
    main(sys.argv[1])
