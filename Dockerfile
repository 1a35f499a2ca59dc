# syntax=docker/dockerfile:1
# The Glamcast image, one for every Glamcast process of infra/compose.yaml: the CLI and its
# one-shot jobs, the stream workers, the API, the Spark driver *and* the Spark workers (Prophet
# and torch run inside the executors, so they need this Python and these packages), and the
# MLflow server (same MLflow as its clients). Build from the repository root:
#   docker build -t glamcast:latest .
ARG PYTHON_VERSION=3.11

# --- build: a virtualenv with pinned dependencies, the project, and Spark's s3a jars ------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG TORCH_VERSION=2.13.0
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/glamcast/venv/bin:$PATH
# Java runs Spark once below, to resolve the hadoop-aws jars with Ivy.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
# The CPU wheel: PyPI's default torch is the CUDA build, gigabytes larger. A GPU image swaps
# this index for a CUDA one; the code picks CUDA whenever torch sees it.
RUN python -m venv /opt/glamcast/venv \
    && pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"
# Dependencies before the source, so that a code change reuses this layer. boto3 is for the
# MLflow server's S3 artifact store only (clients upload through the server).
COPY infra/constraints.txt /tmp/constraints.txt
RUN pip install -r /tmp/constraints.txt \
    && pip install -c /tmp/constraints.txt "boto3>=1.34,<2"
COPY infra/docker/fetch_s3a_jars.py /tmp/fetch_s3a_jars.py
RUN python /tmp/fetch_s3a_jars.py /tmp/ivy && rm -rf /tmp/ivy
# The source lives where it runs: `spark-submit /opt/glamcast/app/jobs/<job>.py` takes a file,
# the Feast repository is not part of the distribution, and the installation is editable because
# a wheel of this pyproject.toml leaves out the packages' data files (the dashboard's templates
# and static files).
COPY pyproject.toml README.md /opt/glamcast/app/
COPY glamcast /opt/glamcast/app/glamcast
COPY streams /opt/glamcast/app/streams
COPY jobs /opt/glamcast/app/jobs
COPY models /opt/glamcast/app/models
COPY feature_repo /opt/glamcast/app/feature_repo
COPY infra/scripts /opt/glamcast/app/infra/scripts
RUN pip install --no-deps -e /opt/glamcast/app \
    && python -m compileall -q /opt/glamcast/app

# --- runtime: Python, a Java runtime for PySpark, the virtualenv, a non-root user --------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin glamcast \
    && mkdir -p /var/lib/glamcast /opt/glamcast/spark-conf \
    && chown glamcast:glamcast /var/lib/glamcast /opt/glamcast/spark-conf
# Both owned by root: the service user can read and run them, not change them.
COPY --from=build /opt/glamcast/venv /opt/glamcast/venv
COPY --from=build /opt/glamcast/app /opt/glamcast/app
COPY --chmod=0755 infra/docker/entrypoint.sh /opt/glamcast/bin/entrypoint.sh
ENV PATH=/opt/glamcast/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYSPARK_PYTHON=/opt/glamcast/venv/bin/python \
    SPARK_CONF_DIR=/opt/glamcast/spark-conf \
    SPARK_WORKER_DIR=/var/lib/glamcast/spark-work \
    GLAMCAST_STATE_DIR=/var/lib/glamcast \
    GLAMCAST_FEATURE_REPO_DIR=/opt/glamcast/app/feature_repo
# Numeric, so that a runtime (Kubernetes runAsNonRoot) can tell it is not root.
USER 10001:10001
WORKDIR /var/lib/glamcast
ENTRYPOINT ["/opt/glamcast/bin/entrypoint.sh"]
CMD ["glamcast", "--help"]
