"""Replay a real shop export (REES46 CSV, optionally gzipped) into the commerce topic.

Each row is validated with `CommerceEvent`; a bad row is reported with its line number and
skipped, and the replay goes on. Good rows are produced keyed by `user_id` with acks=all; the
report counts only what the broker confirmed.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated

import typer
from pydantic import ValidationError

from glamcast.core import topics
from glamcast.core.events import CommerceEvent, encode_event, explain
from glamcast.core.progress import progress_bar
from glamcast.core.settings import get_settings
from glamcast.platform.commands import console

REES46_COLUMNS = (
    "event_time", "event_type", "product_id", "category_id", "category_code",
    "brand", "price", "user_id", "user_session",
)
#: How many bad-row messages a report keeps (the count is always exact).
MAX_REPORTED_ERRORS = 100


@dataclass
class ReplayReport:
    good: int = 0
    bad: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    def reject(self, line: int, message: str) -> None:
        self.bad += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, message))


def _open_text(path: Path) -> IO[str]:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def read_rees46(path: Path, report: ReplayReport) -> Iterator[CommerceEvent]:
    """Yield the valid events of a REES46 export; record each bad row in `report`."""
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        missing = [name for name in REES46_COLUMNS if header is None or name not in header]
        if missing:
            raise ValueError(f"{path}: not a REES46 export, missing columns {missing}")
        for row in reader:
            line = reader.line_num
            if len(row) != len(header):
                report.reject(line, f"line {line}: {len(row)} fields, expected {len(header)}")
                continue
            try:
                yield CommerceEvent.model_validate(dict(zip(header, row, strict=True)))
            except ValidationError as exc:
                report.reject(line, f"line {line}: {explain(exc).message}")


def replay_rees46(
    path: Path,
    producer,
    *,
    topic: str = topics.COMMERCE,
    on_progress: Callable[[int], None] = lambda rows: None,
) -> ReplayReport:
    """Produce every valid row of `path` to `topic`; returns good/bad counts and bad lines."""
    report = ReplayReport()
    failures: list[BaseException] = []
    sent = 0
    for event in read_rees46(path, report):
        future = producer.send(topic, key=event.user_id.encode(), value=encode_event(event))
        future.add_errback(failures.append)
        sent += 1
        if sent % 1000 == 0:
            on_progress(sent + report.bad)
    producer.flush()
    on_progress(sent + report.bad)
    if failures:
        raise RuntimeError(f"broker refused {len(failures)} of {sent} records: {failures[0]!r}")
    report.good = sent
    return report


def command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or CSV.gz export.")],
    format: Annotated[str, typer.Option("--format", help="Export format.")] = "rees46",
) -> ReplayReport:
    """Stream a real shop export into the commerce topic; bad rows are reported and skipped."""
    from glamcast.platform.broker import producer

    if format != "rees46":
        raise typer.BadParameter(f"unknown format {format!r}; supported: rees46", param_hint="--format")
    kafka = producer(get_settings())
    with progress_bar(console) as progress:
        task = progress.add_task(f"replaying {file.name}", total=None, rate="")
        report = replay_rees46(file, kafka, on_progress=lambda rows: progress.update(task, completed=rows))
    kafka.close()
    for _, message in report.errors:
        console.print(f"[red]rejected[/] {message}")
    if report.bad > len(report.errors):
        console.print(f"... and {report.bad - len(report.errors)} more rejected rows")
    console.print(f"good rows: {report.good}  bad rows: {report.bad}")
    return report
