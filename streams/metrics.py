"""Prometheus metrics of the stream workers, served at /metrics on each worker's web port."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REJECTED = Counter(
    "glamcast_stream_rejected", "Input records sent to the dead-letter topic.", ["topic", "reason"]
)
POISON = Counter(
    "glamcast_stream_poison_records",
    "Valid records a stage could not process (its error is in the dead letter), set aside so "
    "the partition moves on.",
    ["stage", "topic"],
)
VALIDATED = Counter("glamcast_stream_validated", "Input records that passed validation.", ["topic"])
ERASED_DROPPED = Counter(
    "glamcast_stream_erased_dropped",
    "Valid events of erased people dropped before any sink (glamcast.erasure.v1).",
    ["topic"],
)
TOMBSTONES = Counter(
    "glamcast_stream_tombstones", "Empty values on compacted topics (deletes), skipped.", ["topic"]
)
LAKE_FILES = Counter(
    "glamcast_stream_lake_files", "Parquet files written to the lake.", ["dataset"]
)
LAKE_ROWS = Counter("glamcast_stream_lake_rows", "Rows written to the lake.", ["dataset"])
BATCH_SECONDS = Histogram(
    "glamcast_stream_batch_seconds",
    "Time to validate, land and commit one batch.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_RECORDS = Histogram(
    "glamcast_stream_batch_records",
    "Records per landed batch.",
    buckets=(10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000),
)
BUFFERED = Gauge("glamcast_stream_buffered_records", "Records read and waiting for their batch.")
COMMITTED = Gauge(
    "glamcast_stream_committed_offset",
    "Next offset to read, committed after the batch before it was durable.",
    ["topic", "partition"],
)


def exposition() -> tuple[bytes, str]:
    """The current metrics in the Prometheus text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
