#!/bin/sh
# Entry point of the Glamcast image: writes Spark's defaults for the object store, then runs the
# command. Spark takes the s3a endpoint from its configuration, not from the environment that
# pyarrow and boto3 read (AWS_ENDPOINT_URL), so the file is made from that environment at start;
# credentials stay in the environment (s3a's default provider chain reads AWS_ACCESS_KEY_ID).
# A spark-defaults.conf mounted into SPARK_CONF_DIR is left as it is.
set -eu

conf_dir="${SPARK_CONF_DIR:?SPARK_CONF_DIR must be set}"
conf="$conf_dir/spark-defaults.conf"
marker="# written by the glamcast entrypoint"

if [ ! -e "$conf" ] || [ "$(head -n 1 "$conf")" = "$marker" ]; then
  mkdir -p "$conf_dir"
  {
    echo "$marker"
    echo "spark.sql.session.timeZone UTC"
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
      # MinIO and most S3-compatible stores serve buckets as paths, not as subdomains.
      echo "spark.hadoop.fs.s3a.endpoint $AWS_ENDPOINT_URL"
      echo "spark.hadoop.fs.s3a.endpoint.region ${AWS_REGION:-us-east-1}"
      echo "spark.hadoop.fs.s3a.path.style.access true"
    fi
  } >"$conf"
fi

exec "$@"
