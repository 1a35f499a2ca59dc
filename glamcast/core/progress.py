"""Progress display shared by the long commands (CLI, demo, benches) and the jobs they run.

A job reports through an `on_progress(stage, done, total)` callback and knows nothing of the
terminal; `rich_progress` turns those calls into rich Progress lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: `on_progress(stage, done, total)`: `done`/`total` None for a stage without a count.
ProgressCallback = Callable[[str, int | None, int | None], None]


def progress_bar(console: Console, transient: bool = False) -> Progress:
    """The progress display every long command uses (a `rate` field for throughput)."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
        console=console, transient=transient,
    )


def rich_progress(progress: Progress) -> ProgressCallback:
    """An `on_progress` driving a rich Progress: one line per stage, finished when the next
    begins; the stage "done" finishes the last one."""
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int | None, total: int | None) -> None:
        for other, task in tasks.items():
            if other != stage and not progress.tasks[task].finished:
                size = progress.tasks[task].total or 1
                progress.update(task, total=size, completed=size)
        if stage == "done":
            return
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total, rate="")
        progress.update(tasks[stage], total=total, completed=done or 0)

    return update
