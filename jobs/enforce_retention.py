"""Retention of the lake: date partitions past their dataset's retention go, face attributes go
sooner.

Reads
    The date partitions (``<lake>/<dataset>/date=YYYY-MM-DD/``) of every dataset named in the
    settings' `retention_days`, and the offline user feature table (``features/user_activity``).

Does
    Selects (`retention_plan`, pure): for each dataset in `retention_days`, the partitions dated
    before ``today - retention_days[dataset]``; for the datasets with face-derived columns
    (`glamcast.platform.lake.FACE_COLUMNS`: try-on events), the partitions still kept but dated
    before ``today - face_retention_days``. Then deletes the first (`lake.drop_partition`: the
    folder is renamed hidden, atomically, then deleted) and empties the face columns of the
    second, file by file (`lake.clear_columns`: each file replaced atomically), and of the
    offline user features whose `event_timestamp` is before the face cut-off. A dataset not in
    `retention_days` (the catalogue, the looks) is kept. With `dry_run`, only selects.

Writes
    The lake, in place. Logs (and prints) the cut-offs, the partitions and files removed per
    dataset and the rows whose face attributes were emptied; nothing to MLflow.

Entry points: ``glamcast retention enforce [--now ISO] [--dry-run]`` (daily, from cron or the
scheduler; docs/runbook.md) and ``python jobs/enforce_retention.py``; tests call
`enforce_retention` and `retention_plan`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from glamcast.core.names import EVENT_TIMESTAMP_COL
from glamcast.core.progress import ProgressCallback
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.commands import console, job_command, run_command_line

log = logging.getLogger(__name__)

#: The offline feature table that carries face attributes (its rows have an event time).
USER_FEATURES_TABLE = "features/user_activity"


@dataclass
class EnforceRetentionConfig:
    """One run of the retention job."""

    now: datetime | None = None  # the moment retention counts back from (UTC); default: now
    dry_run: bool = False  # only list what would be removed


@dataclass(frozen=True)
class RetentionPlan:
    """What a run removes: partition dates per dataset."""

    drop: dict[str, list[date]]  # whole partitions
    clear_face: dict[str, list[date]]  # partitions that keep their rows, not their face columns
    face_cutoff: date  # face attributes dated before this go


@dataclass
class RetentionResult:
    """What a run removed (or would remove, with `dry_run`)."""

    today: str
    plan: RetentionPlan
    dropped_files: dict[str, int] = field(default_factory=dict)  # dataset → files deleted
    face_rows: dict[str, int] = field(default_factory=dict)  # table → rows emptied
    dry_run: bool = False


def retention_plan(partitions: Mapping[str, Sequence[date]], retention_days: Mapping[str, int],
                   face_retention_days: int, today: date,
                   face_datasets: Sequence[str] = tuple(lake.FACE_COLUMNS)) -> RetentionPlan:
    """Which partitions go and which lose their face attributes on `today` (module doc).

    `partitions`: dataset → its partition dates. A partition that goes is not also cleared; a
    dataset without a retention keeps every partition (its face attributes still go)."""
    drop = {dataset: lake.expired_dates(dates, today, retention_days[dataset])
            for dataset, dates in partitions.items() if dataset in retention_days}
    face_cutoff = today - timedelta(days=face_retention_days)
    clear = {}
    for dataset, dates in partitions.items():
        if dataset in face_datasets:
            gone = set(drop.get(dataset, ()))
            clear[dataset] = sorted(day for day in dates if day < face_cutoff and day not in gone)
    return RetentionPlan({name: days for name, days in drop.items() if days},
                         {name: days for name, days in clear.items() if days}, face_cutoff)


def enforce_retention(settings: Settings, config: EnforceRetentionConfig,
                      on_progress: ProgressCallback | None = None) -> RetentionResult:
    """Select (`retention_plan`) and remove; returns what was removed."""
    report = on_progress or (lambda stage, done, total: None)
    moment = (config.now or datetime.now(UTC)).astimezone(UTC)
    today = moment.date()
    root = settings.lake_root
    datasets = sorted({*settings.retention_days, *lake.FACE_COLUMNS} - {USER_FEATURES_TABLE})
    partitions = {dataset: lake.partition_dates(root, dataset) for dataset in datasets}
    plan = retention_plan(partitions, settings.retention_days, settings.face_retention_days,
                          today, [name for name in lake.FACE_COLUMNS if name in partitions])
    result = RetentionResult(today.isoformat(), plan, dry_run=config.dry_run)
    log.info("retention on %s (face attributes before %s): drop %s; clear face columns of %s",
             today, plan.face_cutoff, {k: len(v) for k, v in plan.drop.items()},
             {k: len(v) for k, v in plan.clear_face.items()})
    if config.dry_run:
        return result
    total = sum(map(len, plan.drop.values())) + sum(map(len, plan.clear_face.values())) + 1
    done = 0
    for dataset, days in plan.drop.items():
        for day in days:
            files = lake.drop_partition(root, dataset, day)
            result.dropped_files[dataset] = result.dropped_files.get(dataset, 0) + files
            done += 1
            report(f"dropping {dataset}", done, total)
    for dataset, days in plan.clear_face.items():
        for day in days:
            for relative in lake.list_files(root, lake.partition_dir(dataset, day)):
                rows = lake.clear_columns(root, relative, lake.FACE_COLUMNS[dataset])
                if rows:
                    result.face_rows[dataset] = result.face_rows.get(dataset, 0) + rows
            done += 1
            report(f"face attributes of {dataset}", done, total)
    cutoff = datetime.combine(plan.face_cutoff, time(), tzinfo=UTC)
    for relative in lake.list_files(root, USER_FEATURES_TABLE) + lake.list_files(
            root, f"{USER_FEATURES_TABLE}.parquet"):
        rows = lake.clear_columns(root, relative, lake.FACE_COLUMNS[USER_FEATURES_TABLE],
                                  before=cutoff, time_column=EVENT_TIMESTAMP_COL)
        if rows:
            result.face_rows[USER_FEATURES_TABLE] = (
                result.face_rows.get(USER_FEATURES_TABLE, 0) + rows)
    report("done", total, total)
    log.info("retention removed files %s, emptied face attributes of rows %s",
             result.dropped_files, result.face_rows)
    return result


def run_command(settings: Settings, config: EnforceRetentionConfig) -> RetentionResult:
    """Run the job and print what it removed."""
    result = enforce_retention(settings, config)
    plan = result.plan
    verb = "would drop" if result.dry_run else "dropped"
    console.print(f"retention on {result.today}; face attributes kept from {plan.face_cutoff}")
    for dataset, days in plan.drop.items():
        console.print(f"{verb} {dataset}: {len(days)} partitions ({days[0]} .. {days[-1]}), "
                      f"{result.dropped_files.get(dataset, 0)} files")
    for dataset, days in plan.clear_face.items():
        console.print(f"face attributes of {dataset}: {len(days)} partitions, "
                      f"{result.face_rows.get(dataset, 0)} rows emptied")
    if USER_FEATURES_TABLE in result.face_rows:
        console.print(f"face attributes of {USER_FEATURES_TABLE}: "
                      f"{result.face_rows[USER_FEATURES_TABLE]} rows emptied")
    if not plan.drop and not plan.clear_face and not result.face_rows:
        console.print("nothing past its retention")
    return result


#: `glamcast retention enforce`.
command = job_command(
    EnforceRetentionConfig,
    ["now", "dry_run"],
    run_command,
    doc="Delete lake partitions past their dataset's retention; empty face attributes sooner.",
)


def main(argv: Sequence[str] | None = None) -> None:
    """``python jobs/enforce_retention.py [--now ISO] [--dry-run]``."""
    logging.basicConfig(level=logging.INFO)
    run_command_line(command, argv, prog_name="enforce_retention.py")


if __name__ == "__main__":
    main()
