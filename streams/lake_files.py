"""Lake sink stage: validated batches → Parquet files in the lake (`glamcast.platform.lake` layout).

One batch of one topic partition becomes one file per event date, named by its offset range and
written atomically. The ingestion service writes a batch's files concurrently (a thread pool:
Arrow encoding and fsync release the GIL, and parallel fsyncs cost about what one does) and
commits the batch's offsets only once every file is in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa

from glamcast.platform import lake
from streams import metrics
from streams.validated_events import ValidatedBatch


class LakeFile(NamedTuple):
    """A file to write: lake-relative path, rows and schema metadata."""

    path: str
    table: pa.Table
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class PreparedBatch:
    """A validated batch as lake rows (for the stages after) and the files that hold them."""

    dataset: str
    table: pa.Table
    files: list[LakeFile]


def prepare_batch(batch: ValidatedBatch) -> PreparedBatch:
    """The lake table of a batch's valid events and its files, one per event date."""
    dataset = lake.TOPIC_DATASETS[batch.base_topic]
    table = lake.table_from_events(
        dataset, batch.events, partition=batch.partition, offsets=batch.offsets
    )
    files = [
        LakeFile(path, rows)
        for path, rows in lake.event_batch_files(dataset, batch.topic, batch.partition, table)
    ]
    return PreparedBatch(dataset, table, files)


def write_lake_file(root: str, file: LakeFile) -> str:
    """Write one file atomically and durably (`glamcast.platform.lake.write_file`); returns its path."""
    return lake.write_file(root, file.path, file.table, metadata=file.metadata)


def count_landed(batches: list[PreparedBatch]) -> None:
    """Metrics of batches whose files are all written."""
    for batch in batches:
        if batch.files:
            metrics.LAKE_FILES.labels(batch.dataset).inc(len(batch.files))
            metrics.LAKE_ROWS.labels(batch.dataset).inc(batch.table.num_rows)
