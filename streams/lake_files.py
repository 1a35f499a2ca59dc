"""Lake sink stage: validated batches → Parquet files in the lake (`glamcast.lake` layout).

One batch of one topic partition becomes one file per event date, named by its offset range and
written atomically; the ingestion service commits the batch's offsets only after this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from glamcast import lake
from streams import metrics
from streams.validated_events import ValidatedBatch


@dataclass(frozen=True)
class LandedBatch:
    """What a batch left in the lake: its table (for the stages after) and its files."""

    dataset: str
    table: pa.Table
    paths: list[str]


def land_batch(root: str, batch: ValidatedBatch) -> LandedBatch:
    """Write the valid events of `batch` to the lake; durable when this returns."""
    dataset = lake.TOPIC_DATASETS[batch.base_topic]
    table = lake.table_from_events(dataset, batch.events, partition=batch.partition, offsets=batch.offsets)
    paths = lake.write_event_batch(root, dataset, batch.topic, batch.partition, table)
    if paths:
        metrics.LAKE_FILES.labels(dataset).inc(len(paths))
        metrics.LAKE_ROWS.labels(dataset).inc(table.num_rows)
    return LandedBatch(dataset, table, paths)
