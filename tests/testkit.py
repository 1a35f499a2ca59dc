"""Helpers every test tier shares (on the path through pytest's `pythonpath = ["tests"]`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from glamcast.platform import broker

if TYPE_CHECKING:
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
