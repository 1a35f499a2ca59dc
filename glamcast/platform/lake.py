"""The Parquet lake: dataset names, column schemas, file layout, atomic writes and readers.

Layout (DESIGN "Lake")::

    <lake>/<dataset>/date=YYYY-MM-DD/<topic>-p<partition>-<first_offset>-<last_offset>.parquet

`date` is the UTC date of the event time (`ts`). A file holds the events of one topic partition
from one stream batch; its name is its offset range, so a batch replayed with the same boundaries
rewrites the same file. Boundaries are not always the same after a crash (batches also close on
time), so readers deduplicate by `event_id`: `read_dataset` returns each event once.

Files are written to a hidden temporary name beside the target, fsynced, then renamed into place
(`os.replace`), so a reader or a crash never sees half a file. On an object store, where a single
PUT is already atomic, the file is written directly. Hidden (``.``) and ``_`` files are never read.
Erasure and retention change the lake the same way: `remove_people` rewrites each file that names
a person (`PERSON_COLUMNS`) without their rows, `clear_columns` empties face columns, and
`drop_partition` hides a date folder (one rename) before deleting it.

Schemas are explicit (`SCHEMAS`): `ts` is ``timestamp[us, UTC]``; try-on `face` is flattened into
`face_skin_tone`, `face_undertone`, `face_shape`; commerce keeps the REES46 columns and adds `ts`
(= `event_time`); every event dataset ends with `kafka_partition` and `kafka_offset`, where the
record was read. `trend_counts` holds weighted counts per hour and term
(see `streams.trend_counts`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pydantic import BaseModel

from glamcast.core import topics
from glamcast.core.names import (
    CATALOG,
    COMMERCE,
    DATE_COL,
    EVENT_ID_COL,
    EVENTS_COL,
    PREFERENCE,
    SOCIAL,
    TERM_COL,
    TERM_TYPE_COL,
    TREND_COUNTS,
    TRYON,
    TS_COL,
)
from glamcast.core.settings import Settings

# --- names -------------------------------------------------------------------------------------


#: The dataset each input topic lands in (topic names without `topic_prefix`).
TOPIC_DATASETS: dict[str, str] = {
    topics.TRYON: TRYON,
    topics.SOCIAL: SOCIAL,
    topics.COMMERCE: COMMERCE,
    topics.CATALOG: CATALOG,
    topics.PREFERENCE: PREFERENCE,
}

PARTITION_COL = "kafka_partition"
OFFSET_COL = "kafka_offset"
HOUR_COL = "hour"
SOURCE_COL = "source"
WEIGHT_COL = "weight"

TIMESTAMP = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_PROVENANCE = [pa.field(PARTITION_COL, pa.int32()), pa.field(OFFSET_COL, pa.int64())]

SCHEMAS: dict[str, pa.Schema] = {
    TRYON: pa.schema(
        [
            pa.field(EVENT_ID_COL, _STR, nullable=False),
            pa.field(TS_COL, TIMESTAMP, nullable=False),
            ("user_id", _STR),
            ("session_id", _STR),
            ("action", _STR),
            ("product_id", _STR),
            ("category", _STR),
            ("shade_hex", _STR),
            ("finish", _STR),
            ("dwell_ms", pa.int64()),
            ("look_id", _STR),
            ("face_skin_tone", pa.int8()),
            ("face_undertone", _STR),
            ("face_shape", _STR),
            ("platform", _STR),
            ("app_version", _STR),
            *_PROVENANCE,
        ]
    ),
    SOCIAL: pa.schema(
        [
            pa.field(EVENT_ID_COL, _STR, nullable=False),
            pa.field(TS_COL, TIMESTAMP, nullable=False),
            ("platform", _STR),
            ("post_id", _STR),
            ("author_id", _STR),
            ("hashtags", pa.list_(_STR)),
            ("brands", pa.list_(_STR)),
            ("product_ids", pa.list_(_STR)),
            ("likes", pa.int64()),
            ("comments", pa.int64()),
            ("shares", pa.int64()),
            ("views", pa.int64()),
            ("lang", _STR),
            *_PROVENANCE,
        ]
    ),
    COMMERCE: pa.schema(
        [
            ("event_time", TIMESTAMP),
            ("event_type", _STR),
            ("product_id", _STR),
            ("category_id", _STR),
            ("category_code", _STR),
            ("brand", _STR),
            ("price", pa.float64()),
            ("user_id", _STR),
            ("user_session", _STR),
            pa.field(EVENT_ID_COL, _STR, nullable=False),
            pa.field(TS_COL, TIMESTAMP, nullable=False),
            *_PROVENANCE,
        ]
    ),
    CATALOG: pa.schema(
        [
            pa.field(EVENT_ID_COL, _STR, nullable=False),
            pa.field(TS_COL, TIMESTAMP, nullable=False),
            ("product_id", _STR),
            ("brand", _STR),
            ("name", _STR),
            ("category", _STR),
            ("shade_hex", _STR),
            ("finish", _STR),
            ("price", pa.float64()),
            ("launched_at", TIMESTAMP),
            *_PROVENANCE,
        ]
    ),
    PREFERENCE: pa.schema(
        [
            pa.field(EVENT_ID_COL, _STR, nullable=False),
            pa.field(TS_COL, TIMESTAMP, nullable=False),
            ("user_id", _STR),
            ("boldness", pa.float64()),
            ("price_cap", pa.float64()),
            ("never_categories", pa.list_(_STR)),
            *_PROVENANCE,
        ]
    ),
    TREND_COUNTS: pa.schema(
        [
            pa.field(HOUR_COL, TIMESTAMP, nullable=False),
            pa.field(TERM_TYPE_COL, _STR, nullable=False),
            pa.field(TERM_COL, _STR, nullable=False),
            pa.field(SOURCE_COL, _STR, nullable=False),
            pa.field(WEIGHT_COL, pa.float64(), nullable=False),
            pa.field(EVENTS_COL, pa.int64(), nullable=False),
        ]
    ),
}

#: The column each dataset is partitioned and filtered by (its event time).
TIME_COLUMNS: dict[str, str] = {TREND_COUNTS: HOUR_COL}

_EPOCH_DAY_US = 86_400_000_000


class LakeError(RuntimeError):
    """The lake holds something this code cannot read as the dataset's schema."""


# --- storage -----------------------------------------------------------------------------------


def lake_root(settings_or_root: Settings | str | Path) -> str:
    """The lake root of settings, or a root given directly."""
    if isinstance(settings_or_root, Settings):
        return settings_or_root.lake_root
    return str(settings_or_root)


def filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding `root` and the root's path on it (local paths or URIs).

    Spark's ``s3a://`` scheme is read as ``s3://``, so both sides can share one setting.
    """
    if "://" not in root:
        return pafs.LocalFileSystem(), str(Path(root).expanduser().resolve())
    if root.startswith("s3a://"):
        root = "s3://" + root[len("s3a://") :]
    fs, path = pafs.FileSystem.from_uri(root)
    return fs, path.rstrip("/")


def partition_dir(dataset: str, day: date) -> str:
    """``<dataset>/date=YYYY-MM-DD``, relative to the root."""
    return f"{dataset}/{DATE_COL}={day.isoformat()}"


def batch_file_name(topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    """The file of one batch of one topic partition, named by its offset range."""
    return f"{topic}-p{partition}-{first_offset}-{last_offset}.parquet"


def write_file(
    root: str, relative_path: str, table: pa.Table, *, metadata: Mapping[str, str] | None = None
) -> str:
    """Write `table` to ``<root>/<relative_path>`` atomically; returns the full path.

    Local: temp file in the target directory, fsync, `os.replace`, fsync of the directory, so the
    file is durable once this returns. Object stores: one PUT, which is atomic already.
    """
    if metadata:
        merged = {
            **(table.schema.metadata or {}),
            **{k.encode(): v.encode() for k, v in metadata.items()},
        }
        table = table.replace_schema_metadata(merged)
    fs, base = filesystem(root)
    target = f"{base}/{relative_path}"
    directory = target.rsplit("/", 1)[0]
    if isinstance(fs, pafs.LocalFileSystem):
        os.makedirs(directory, exist_ok=True)
        temp = f"{directory}/.{target.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
        try:
            with open(temp, "wb") as handle:
                pq.write_table(table, handle, compression="zstd")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    else:
        fs.create_dir(directory, recursive=True)
        with fs.open_output_stream(target) as out:
            pq.write_table(table, out, compression="zstd")
    return target


def read_file(root: str, relative_path: str) -> pa.Table | None:
    """One lake file as written (with its schema metadata), or None when it does not exist."""
    fs, base = filesystem(root)
    path = f"{base}/{relative_path}"
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    return pq.read_table(path, filesystem=fs)


def remove_temp_files(root: str, older_than_s: float = 3600.0) -> int:
    """Delete temp files left by writers killed mid-write (local lakes); returns how many."""
    fs, base = filesystem(root)
    if not isinstance(fs, pafs.LocalFileSystem) or not os.path.isdir(base):
        return 0
    cutoff = datetime.now().timestamp() - older_than_s
    removed = 0
    for directory, _, names in os.walk(base):
        for name in names:
            path = os.path.join(directory, name)
            if name.startswith(".") and name.endswith(".tmp") and os.path.getmtime(path) < cutoff:
                os.unlink(path)
                removed += 1
    return removed


# --- events to Arrow ---------------------------------------------------------------------------


#: Columns not read from the model field of the same name: column → (field, attribute of the
#: nested model in that field, or None for the field itself).
_SOURCES: dict[str, dict[str, tuple[str, str | None]]] = {
    TRYON: {
        "face_skin_tone": ("face", "skin_tone"),
        "face_undertone": ("face", "undertone"),
        "face_shape": ("face", "face_shape"),
    },
    COMMERCE: {TS_COL: ("event_time", None)},
}


def table_from_events(
    dataset: str,
    events: Sequence[BaseModel],
    *,
    partition: int | None = None,
    offsets: Sequence[int] | None = None,
) -> pa.Table:
    """Validated events of one dataset → an Arrow table in the dataset's schema.

    Built column by column: the models' field dicts are transposed in one pass (`itemgetter`,
    `zip`), with no per-row dicts or DataFrames. `partition` and `offsets` fill the provenance
    columns; left out, they are null.
    """
    schema = SCHEMAS[dataset]
    sources = _SOURCES.get(dataset, {})
    n = len(events)
    wanted = {
        column.name: sources.get(column.name, (column.name, None))
        for column in schema
        if column.name not in (PARTITION_COL, OFFSET_COL)
    }
    fields = list(dict.fromkeys(field for field, _ in wanted.values()))
    rows = map(itemgetter(*fields, fields[0]), (event.__dict__ for event in events))  # ≥ 2 keys
    values = dict(zip(fields, zip(*rows, strict=False), strict=False)) if n else {}
    arrays = []
    for column in schema:
        if column.name == PARTITION_COL:
            arrays.append(pa.array([partition] * n, column.type))
        elif column.name == OFFSET_COL:
            arrays.append(pa.array(offsets if offsets is not None else [None] * n, column.type))
        else:
            field, attribute = wanted[column.name]
            data = values.get(field, ())
            if attribute is not None:
                data = [None if nested is None else getattr(nested, attribute) for nested in data]
            arrays.append(pa.array(data, column.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _days(timestamps: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Days since the epoch (UTC) of a timestamp[us, UTC] column."""
    micros = pc.cast(timestamps, pa.int64()).to_numpy(zero_copy_only=False)
    return micros // _EPOCH_DAY_US


def split_by_date(table: pa.Table, time_column: str = TS_COL) -> dict[date, pa.Table]:
    """Rows grouped by the UTC date of `time_column`, in row order within each date."""
    if table.num_rows == 0:
        return {}
    days = _days(table[time_column])
    epoch = date(1970, 1, 1)
    unique = np.unique(days)
    if len(unique) == 1:
        return {epoch + timedelta(days=int(unique[0])): table}
    return {epoch + timedelta(days=int(day)): table.filter(pa.array(days == day)) for day in unique}


def event_batch_files(
    dataset: str, topic: str, partition: int, table: pa.Table
) -> list[tuple[str, pa.Table]]:
    """The files of one partition's batch of events: one per event date, as (lake-relative
    path, rows). Each file is named by the offset range of the rows it holds (`batch_file_name`)."""
    files = []
    for day, rows in split_by_date(table).items():
        offsets = rows[OFFSET_COL]
        name = batch_file_name(topic, partition, pc.min(offsets).as_py(), pc.max(offsets).as_py())
        files.append((f"{partition_dir(dataset, day)}/{name}", rows))
    return files


def write_event_batch(
    root: str, dataset: str, topic: str, partition: int, table: pa.Table
) -> list[str]:
    """Write one partition's batch of events (`event_batch_files`); returns the paths."""
    return [
        write_file(root, path, rows)
        for path, rows in event_batch_files(dataset, topic, partition, table)
    ]


# --- readers -----------------------------------------------------------------------------------

TimeBound = datetime | date | str | None


def _as_datetime(bound: TimeBound) -> datetime | None:
    if bound is None:
        return None
    if isinstance(bound, str):
        bound = datetime.fromisoformat(bound)
    if not isinstance(bound, datetime):  # a date: its midnight
        bound = datetime(bound.year, bound.month, bound.day)
    return bound if bound.tzinfo else bound.replace(tzinfo=UTC)


def _empty_frame(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas()


def read_table(
    settings_or_root: Settings | str | Path,
    dataset: str,
    start: TimeBound = None,
    end: TimeBound = None,
    columns: Iterable[str] | None = None,
) -> pa.Table:
    """Every row of a dataset with `start` <= time < `end`, as stored (duplicates included).

    `start`/`end` are datetimes (naive ones are UTC), dates (their midnight) or ISO strings.
    Only the date partitions that can hold such rows are opened.
    """
    root = lake_root(settings_or_root)
    fs, base = filesystem(root)
    schema = SCHEMAS.get(dataset)
    time_column = TIME_COLUMNS.get(dataset, TS_COL)
    wanted = list(columns) if columns is not None else None
    path = f"{base}/{dataset}"
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        if schema is None:
            return pa.table({})
        empty = schema.empty_table()
        return empty.select(wanted) if wanted else empty
    partitioning = pads.partitioning(pa.schema([(DATE_COL, _STR)]), flavor="hive")
    dataset_schema = schema.append(pa.field(DATE_COL, _STR)) if schema is not None else None
    data = pads.dataset(
        path, filesystem=fs, format="parquet", partitioning=partitioning, schema=dataset_schema
    )
    lo, hi = _as_datetime(start), _as_datetime(end)
    condition = None
    if lo is not None:
        condition = (pads.field(DATE_COL) >= lo.astimezone(UTC).date().isoformat()) & (
            pads.field(time_column) >= pa.scalar(lo, TIMESTAMP)
        )
    if hi is not None:
        upper = (pads.field(DATE_COL) <= hi.astimezone(UTC).date().isoformat()) & (
            pads.field(time_column) < pa.scalar(hi, TIMESTAMP)
        )
        condition = upper if condition is None else condition & upper
    projection = None
    if wanted:
        known = data.schema.names
        missing = [name for name in wanted if name not in known]
        if missing:
            raise LakeError(f"dataset {dataset!r} has no column(s) {missing}")
        extra = [EVENT_ID_COL] if EVENT_ID_COL in known else []
        projection = list(dict.fromkeys([*wanted, *extra]))
    table = data.to_table(columns=projection, filter=condition)
    if DATE_COL in table.column_names:
        table = table.drop_columns([DATE_COL])
    return table


def read_dataset(
    settings_or_root: Settings | str | Path,
    dataset: str,
    start: TimeBound = None,
    end: TimeBound = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """A lake dataset as a DataFrame, each event once, sorted by time.

    Event datasets are deduplicated by `event_id` (a record replayed after a crash is in two
    files). `trend_counts`, stored as partial sums per source topic partition, comes back summed
    per (hour, term_type, term, source). `start`/`end` bound the time column (`ts`, or `hour`
    for trend counts): start <= time < end. `columns` selects columns (plus `event_id`).
    """
    wanted = list(columns) if columns is not None else None
    if dataset == TREND_COUNTS:
        return trend_totals(read_table(settings_or_root, dataset, start, end))[
            wanted or slice(None)
        ]
    table = read_table(settings_or_root, dataset, start, end, wanted)
    frame = table.to_pandas()
    if frame.empty:
        return _empty_frame(table.schema) if table.num_columns else frame
    if EVENT_ID_COL in frame.columns:
        frame = frame.drop_duplicates(EVENT_ID_COL, keep="first")
    time_column = TIME_COLUMNS.get(dataset, TS_COL)
    order = [name for name in (time_column, EVENT_ID_COL) if name in frame.columns]
    if order:
        frame = frame.sort_values(order, kind="stable")
    frame = frame.reset_index(drop=True)
    return frame[wanted] if wanted else frame


def trend_totals(table: pa.Table) -> pd.DataFrame:
    """Partial trend counts (any number of files) summed per (hour, term_type, term, source)."""
    keys = [HOUR_COL, TERM_TYPE_COL, TERM_COL, SOURCE_COL]
    if table.num_rows == 0:
        return _empty_frame(SCHEMAS[TREND_COUNTS])
    summed = table.group_by(keys).aggregate([(WEIGHT_COL, "sum"), (EVENTS_COL, "sum")])
    summed = summed.rename_columns(
        [
            WEIGHT_COL
            if name == f"{WEIGHT_COL}_sum"
            else EVENTS_COL
            if name == f"{EVENTS_COL}_sum"
            else name
            for name in summed.column_names
        ]
    )
    frame = summed.select([*keys, WEIGHT_COL, EVENTS_COL]).to_pandas()
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


# --- erasure and retention ---------------------------------------------------------------------

#: Columns that name a person, in any lake table (events, offline features, embeddings).
PERSON_COLUMNS = ("user_id", "author_id")
#: Face-derived columns per table (kept shorter than the behaviour, `face_retention_days`).
FACE_COLUMNS: dict[str, tuple[str, ...]] = {
    TRYON: ("face_skin_tone", "face_undertone", "face_shape"),
    "features/user_activity": ("skin_tone", "undertone"),
}


def _visible(relative: str) -> bool:
    return not any(part.startswith((".", "_")) for part in relative.split("/"))


def list_files(root: str, under: str = "") -> list[str]:
    """Every Parquet file readers see under `root` (or its folder `under`), lake-relative and
    sorted: hidden (``.``) and ``_`` files and folders are left out, as readers leave them."""
    fs, base = filesystem(root)
    top = f"{base}/{under}".rstrip("/")
    info = fs.get_file_info(top)
    if info.type == pafs.FileType.File:
        return [under] if under.endswith(".parquet") and _visible(under) else []
    if info.type != pafs.FileType.Directory:
        return []
    found = fs.get_file_info(pafs.FileSelector(top, recursive=True))
    relative = (entry.path[len(base) + 1 :] for entry in found if entry.type == pafs.FileType.File)
    return sorted(path for path in relative if path.endswith(".parquet") and _visible(path))


def table_location(relative: str) -> str:
    """The table a lake file belongs to: its path up to the first ``date=`` folder; else a file
    one folder deep is a table of its own (``features/user_activity.parquet``, `local`'s
    single-file offline tables), and a deeper one belongs to its folder (``embeddings/users``)."""
    parts = relative.split("/")
    for index, part in enumerate(parts):
        if part.startswith(f"{DATE_COL}="):
            return "/".join(parts[:index])
    if len(parts) <= 2:
        return relative.removesuffix(".parquet")
    return "/".join(parts[:-1])


def replace_file(root: str, relative: str, table: pa.Table) -> str:
    """Replace a lake file by `table` atomically (`write_file`: a temp file renamed over it), so
    a reader sees the old rows or the new ones, never part of either. Schema metadata kept."""
    return write_file(root, relative, table)


def remove_rows(root: str, relative: str, people: Iterable[str],
                columns: Sequence[str] = PERSON_COLUMNS) -> dict[str, int]:
    """Remove from one lake file the rows whose person columns hold one of `people`; returns the
    rows removed per person (empty: none, and the file is left as it was). The file is replaced
    atomically (`replace_file`)."""
    table = read_file(root, relative)
    wanted = pa.array(sorted(set(people)), _STR)
    if table is None or len(wanted) == 0:
        return {}
    hit = None
    hits: list[pa.ChunkedArray] = []
    for name in columns:
        if name not in table.column_names:
            continue
        column = table[name]
        if not pa.types.is_string(column.type):
            column = pc.cast(column, _STR)
        match = pc.fill_null(pc.is_in(column, value_set=wanted), False)
        hits.append(pc.if_else(match, column, None))
        hit = match if hit is None else pc.or_(hit, match)
    if hit is None or not pc.any(hit).as_py():
        return {}
    removed: dict[str, int] = {}
    for values in hits:  # a row that names a person twice (user and author) counts once each
        for item in pc.value_counts(values.drop_null()).to_pylist():
            removed[item["values"]] = removed.get(item["values"], 0) + item["counts"]
    replace_file(root, relative, table.filter(pc.invert(hit)))
    return removed


def remove_people(root: str, people: Iterable[str], under: str = "") -> dict[str, dict[str, int]]:
    """Remove every row naming one of `people` from every lake file (`remove_rows`); returns
    ``{person: {table: rows removed}}`` (`table_location`), only where rows were removed.

    Each affected file is rewritten on its own, atomically; files without the people are only
    read. A reader during the sweep sees every file whole, some already without the people."""
    wanted = sorted(set(people))
    out: dict[str, dict[str, int]] = {}
    for relative in list_files(root, under):
        for person, count in remove_rows(root, relative, wanted).items():
            per_table = out.setdefault(person, {})
            location = table_location(relative)
            per_table[location] = per_table.get(location, 0) + count
    return out


def partition_dates(root: str, dataset: str) -> list[date]:
    """The dates of a dataset's visible ``date=YYYY-MM-DD`` partitions, sorted."""
    fs, base = filesystem(root)
    path = f"{base}/{dataset}"
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    prefix = f"{DATE_COL}="
    dates = []
    for entry in fs.get_file_info(pafs.FileSelector(path)):
        name = entry.base_name
        if entry.type == pafs.FileType.Directory and name.startswith(prefix):
            try:
                dates.append(date.fromisoformat(name[len(prefix) :]))
            except ValueError:
                continue
    return sorted(dates)


def expired_dates(dates: Iterable[date], today: date, keep_days: int) -> list[date]:
    """The partition dates a retention of `keep_days` removes on `today`: every date before
    ``today - keep_days`` (the partition of that day itself is still kept)."""
    cutoff = today - timedelta(days=keep_days)
    return sorted(day for day in dates if day < cutoff)


def drop_partition(root: str, dataset: str, day: date) -> int:
    """Delete one date partition; returns the files it held. Locally the folder is first renamed
    to a hidden name (atomic: readers see the whole partition or none of it), then deleted."""
    fs, base = filesystem(root)
    path = f"{base}/{partition_dir(dataset, day)}"
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return 0
    files = len(list_files(root, partition_dir(dataset, day)))
    if isinstance(fs, pafs.LocalFileSystem):
        hidden = f"{base}/{dataset}/.{DATE_COL}={day.isoformat()}.{uuid.uuid4().hex}.deleting"
        os.replace(path, hidden)
        fs.delete_dir(hidden)
    else:
        fs.delete_dir(path)
    return files


def clear_columns(root: str, relative: str, columns: Sequence[str],
                  before: datetime | None = None, time_column: str | None = None) -> int:
    """Empty (null) `columns` in one lake file, in every row or in the rows whose `time_column`
    is before `before`; returns the rows that lost a value (0: the file is left as it was).
    The file is replaced atomically."""
    table = read_file(root, relative)
    present = [name for name in columns if table is not None and name in table.column_names]
    if table is None or not present:
        return 0
    rows = pa.chunked_array([pa.array([True] * table.num_rows)]) if before is None else \
        pc.fill_null(pc.less(table[time_column], pa.scalar(before, table[time_column].type)),
                     False)
    filled = None
    for name in present:
        has = pc.and_(rows, pc.is_valid(table[name]))
        filled = has if filled is None else pc.or_(filled, has)
    changed = int(pc.sum(filled).as_py() or 0)
    if not changed:
        return 0
    for name in present:
        column = table[name]
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index),
                                 pc.if_else(rows, pa.nulls(len(column), column.type), column))
    replace_file(root, relative, table)
    return changed
