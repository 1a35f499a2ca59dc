"""Helpers every test tier shares (on the path through pytest's `pythonpath = ["tests"]`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from glamcast.core.names import EVENTS_COL, TERM_COL, TERM_TYPE_COL, TREND_COUNTS
from glamcast.platform import broker, lake

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from kafka.producer.future import RecordMetadata

    from glamcast.core.settings import Settings
    from streams.worker import WorkerProcess

T = TypeVar("T")


def eventually(
    condition: Callable[[], T],
    timeout_s: float,
    what: str,
    *,
    every_s: float = 0.2,
    abort: Callable[[], str | None] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy and return that value.

    Fails the test naming `what` after `timeout_s`, or as soon as `abort()` returns a message
    (a worker process that died, say): a wait on a condition, never a fixed sleep.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        reason = abort() if abort is not None else None
        if reason:
            raise AssertionError(f"gave up waiting for {what}: {reason}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not seen within {timeout_s:g} s")
        time.sleep(every_s)


# --- stream workers on a real broker (integration tier) -------------------------------------------


def produce(
    settings: Settings, records: Iterable[tuple[str, bytes | None, bytes | None]]
) -> list[RecordMetadata]:
    """Send ``(topic, key, value)`` records to the settings' (prefixed) topics and wait for every
    acknowledgement; returns where each record landed, in order."""
    producer = broker.producer(settings, linger_ms=20, batch_size=1024 * 1024)
    try:
        futures = [
            producer.send(settings.topic_name(topic), key=key, value=value)
            for topic, key, value in records
        ]
        producer.flush()
        return [future.get(timeout=30) for future in futures]
    finally:
        producer.close()


def end_offsets(metadata: Iterable[RecordMetadata]) -> dict[tuple[str, int], int]:
    """``{(topic, partition): offset after the last of the records}`` for `produce`'s result."""
    ends: dict[tuple[str, int], int] = {}
    for meta in metadata:
        key = (meta.topic, meta.partition)
        ends[key] = max(ends.get(key, 0), meta.offset + 1)
    return ends


def log_tail(workers: Iterable[WorkerProcess], chars: int = 3000) -> str:
    """The end of each worker's log file, headed by its index."""
    return "\n".join(
        f"--- worker {worker.index} ---\n{worker.log.read_text(errors='replace')[-chars:]}"
        for worker in workers
        if worker.log is not None and worker.log.exists()
    )


def worker_exited(workers: list[WorkerProcess]) -> Callable[[], str | None]:
    """An `abort` for `eventually`: once a worker process has exited, which one, with the logs."""

    def exited() -> str | None:
        dead = [worker for worker in workers if worker.process.poll() is not None]
        if not dead:
            return None
        return f"worker {dead[0].index} exited ({dead[0].process.returncode})\n{log_tail(workers)}"

    return exited


def wait_committed(
    settings: Settings,
    groups: Iterable[str],
    ends: dict[tuple[str, int], int],
    timeout_s: float,
    *,
    abort: Callable[[], str | None] | None = None,
) -> None:
    """Until every consumer group in `groups` has committed `ends` (`end_offsets`): what a stage
    commits is durable in its sink, so the test can read the sink."""
    names = list(groups)
    admin = broker.admin_client(settings)

    def committed() -> bool:
        for group in names:
            offsets = admin.list_group_offsets(group).get(group, {})
            done = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
            if any(done.get(tp, 0) < end for tp, end in ends.items()):
                return False
        return True

    try:
        eventually(
            committed,
            timeout_s,
            f"{', '.join(names)} to commit {sum(ends.values())} records",
            every_s=0.1,
            abort=abort,
        )
    finally:
        admin.close()


# --- planted trend counts (the forecast job's and the trends API's integration tests) -----------

#: Two seasons of daily counts with Valentine's Day inside.
PLANTED_FIRST_DAY, PLANTED_LAST_DAY = date(2024, 9, 1), date(2025, 3, 31)
#: The Valentine's Day spike of shade family `red`.
PLANTED_SPIKE = 250.0


def planted_trend_counts(steady: tuple[str, str] = ("category", "lipstick"), *,
                         short_and_sparse: bool = True, seed: int = 11) -> pd.DataFrame:
    """`trend_counts` rows (lake schema), one per term and day at a random hour, of planted
    terms: `glassskin` ×2 over the last 8 weeks (rising), `metallic` ×0.5 (fading), `red` with the
    Valentine's Day spike, and a `steady` term; with `short_and_sparse`, also `newbie` (too little
    history) and `rarebrand` (too sparse), which the job sets aside."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(PLANTED_FIRST_DAY, PLANTED_LAST_DAY, freq="D")
    t = np.arange(len(days))
    week = 1 + 0.2 * np.sin(2 * np.pi * t / 7)
    change = np.clip(t - (len(days) - 56), 0, None)  # the last 8 weeks
    levels = {
        ("hashtag", "glassskin"): 40 * week * np.exp(change / 80),  # ×2 over 8 weeks
        ("finish", "metallic"): 50 * week * np.exp(-change / 80),  # ×0.5
        ("shade_family", "red"): 30 * week + PLANTED_SPIKE * (days == pd.Timestamp("2025-02-14")),
        steady: 60 * week,
    }
    rows = []
    for (term_type, term), level in levels.items():
        for day, count in zip(days, rng.poisson(level), strict=True):
            if count:
                rows.append((day, term_type, term, "tryon", float(count), int(count)))
    if short_and_sparse:
        for day in days[-40:]:  # new this season: too little history
            rows.append((day, "hashtag", "newbie", "social", 3.0, 3))
        for day in days[::15]:  # seen every other fortnight: too sparse
            rows.append((day, "brand", "rarebrand", "social", 1.0, 1))
    frame = pd.DataFrame(rows, columns=[lake.HOUR_COL, TERM_TYPE_COL, TERM_COL,
                                        lake.SOURCE_COL, lake.WEIGHT_COL, EVENTS_COL])
    hours = pd.to_timedelta(rng.integers(0, 24, len(frame)), unit="h")
    frame[lake.HOUR_COL] = (frame[lake.HOUR_COL] + hours).dt.tz_localize("UTC")
    return frame


def write_trend_counts(root: str, frame: pd.DataFrame) -> None:
    """`frame` as the lake's `trend_counts` dataset under `root`, one file per day."""
    schema = lake.SCHEMAS[TREND_COUNTS]
    for day, rows in frame.groupby(frame[lake.HOUR_COL].dt.date):
        table = pa.Table.from_pandas(rows.reset_index(drop=True), schema=schema, preserve_index=False)
        lake.write_file(root, f"{lake.partition_dir(TREND_COUNTS, day)}/sim-p0-0-0.parquet", table)


class ServedApp:
    """An app under uvicorn in a thread on a free port, for a real browser:
    ``with ServedApp(create_app(settings)) as url: ...``."""

    def __init__(self, app: FastAPI) -> None:
        import uvicorn

        from glamcast.platform.stack import free_port

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


#: Debian's Chromium, which the browser tests drive (Playwright never downloads a browser here).
CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright: Any) -> Any:
    """Headless Debian Chromium under Playwright (`playwright.sync_api.sync_playwright()`)."""
    from pathlib import Path

    assert Path(CHROMIUM).exists(), "chromium missing: run infra/system-deps.sh (root, apt)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])


def wait_for(page: Any, condition: str, timeout_s: float) -> None:
    """Until the JavaScript `condition` holds in `page` (Playwright's own polling)."""
    page.wait_for_function(condition, timeout=timeout_s * 1000)


def write_catalogue(settings: Settings, rows: Iterable[tuple[str, str, str, str, float]]) -> None:
    """Catalogue products ``(product_id, category, shade_hex, finish, price)`` into the lake, as
    the stream's lake sink lands catalog events (brand "Glam", launched now)."""
    from datetime import UTC, datetime

    from glamcast.core import topics
    from glamcast.core.events import CatalogEvent
    from glamcast.core.names import CATALOG

    now = datetime.now(UTC)
    events = [CatalogEvent(event_id=f"cat-{product}", ts=now, product_id=product, brand="Glam",
                           name=f"{category} {shade}", category=category, shade_hex=shade,
                           finish=finish, price=price, launched_at=now)
              for product, category, shade, finish, price in rows]
    table = lake.table_from_events(CATALOG, events, partition=0, offsets=list(range(len(events))))
    lake.write_event_batch(settings.lake_root, CATALOG, topics.CATALOG, 0, table)


#: A library warning as Python's `warnings`, `logging`, MLflow, Spark's log4j or the JVM print it.
WARNING_LINE = r"\bWARN(ING)?\b|Warning\b"
#: The one warning line no Glamcast setting can remove: Spark's launcher always starts the driver
#: JVM with ``--add-modules=jdk.incubator.vector`` (org.apache.spark.launcher.JavaModuleOptions),
#: and the JVM prints this for any incubator module, with no option to turn it off.
JVM_INCUBATOR_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"


def warning_lines(output: str) -> list[str]:
    """The lines of a command's output that hold a warning (but `JVM_INCUBATOR_NOTICE`)."""
    import re

    pattern = re.compile(WARNING_LINE)
    return [line for line in output.splitlines()
            if pattern.search(line) and line.strip() != JVM_INCUBATOR_NOTICE]


def node_probe(script: Path, request: dict) -> dict:
    """Run a Node.js probe script of the SDK's unit tests: `request` as JSON on stdin, its answer
    as JSON on stdout."""
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    assert node, "node missing: Node.js runs the SDK's unit tests (apt-get install nodejs)"
    done = subprocess.run([node, str(script)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def isolated_app_settings(stack_settings: Settings, root: Path, name: str) -> Settings:
    """Settings for an app of one browser test module: its own topics and lake under `root`, and
    model names no registry holds (a fresh app serves trending feeds and curated looks)."""
    import uuid

    unique = uuid.uuid4().hex[:8]
    return stack_settings.model_copy(update={
        "topic_prefix": f"{name}{unique}.", "lake_uri": str(root / "lake"),
        "recommender_model_name": f"no-recommender-{unique}",
        "look_gan_model_name": f"no-look-gan-{unique}"})

