"""`streams.batch_stage.BatchStage`, the loop of every stream stage, against an in-memory consumer:
commits only after a batch is durable and in order, a refused commit, revocation, assignment and
the stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Container, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from glamcast.core.settings import Settings
from streams import batch_stage
from streams.batch_stage import BatchStage, Records

TP0 = TopicPartition("t", 0)
TP1 = TopicPartition("t", 1)


def fetch(tp: TopicPartition, first: int, count: int) -> Records:
    return {tp: [SimpleNamespace(offset=o, value=b"") for o in range(first, first + count)]}


class MemoryConsumer:
    """What a stage uses of an AIOKafkaConsumer: fetches are queued by the test, rebalances are
    eager (every assigned partition is revoked first, as aiokafka does)."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.fetches: list[Records] = []
        self.assigned: set[TopicPartition] = set()
        self.committed: list[dict[TopicPartition, int]] = []
        self.refuse_commits = False
        self.listener: Any = None
        self.stopped = False
        self.start_gate = asyncio.Event()
        self.start_gate.set()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        await self.start_gate.wait()
        await self.rebalance({TP0, TP1})

    async def rebalance(self, partitions: set[TopicPartition]) -> None:
        await self.listener.on_partitions_revoked(set(self.assigned))
        self.assigned = set(partitions)
        await self.listener.on_partitions_assigned(set(partitions))

    async def getmany(self, timeout_ms: int) -> Records:
        if self.fetches:
            return self.fetches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.refuse_commits:
            raise CommitFailedError("the group rebalanced")
        self.committed.append({tp: meta.offset for tp, meta in offsets.items()})
        self.events.append("commit")

    async def stop(self) -> None:
        self.stopped = True
        self.events.append("left the group")


class MemorySink(BatchStage[dict[TopicPartition, list[int]]]):
    """Buffers offsets per partition; a batch of `batch_records` is due; `land` waits for `gate`."""

    name = "memory"

    def __init__(self, settings: Settings, *, background: bool = True) -> None:
        super().__init__(None, settings, group="g", topics=["t"], fetch_timeout_ms=5)  # type: ignore[arg-type]
        self.lands_in_background = background  # type: ignore[misc]
        self.batch_records = 3
        self.held: dict[TopicPartition, list[int]] = {}
        self.durable: list[dict[TopicPartition, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.assignment_gate = asyncio.Event()
        self.assignment_gate.set()
        self.events: list[str] = []
        self.tried: list[tuple[dict[TopicPartition, int], bool]] = []
        self.landings_started = 0

    def add(self, records: Records) -> None:
        for tp, fetched in records.items():
            self.held.setdefault(tp, []).extend(r.offset for r in fetched)
            self.events.append(f"add {tp.partition}")

    def due(self) -> bool:
        return sum(map(len, self.held.values())) >= self.batch_records

    async def prepare(
        self, partitions: Container[TopicPartition], *, drain: bool
    ) -> dict[TopicPartition, list[int]] | None:
        batch = {tp: self.held.pop(tp) for tp in list(self.held) if tp in partitions}
        return batch or None

    async def land(self, batch: dict[TopicPartition, list[int]]) -> dict[TopicPartition, int]:
        self.landings_started += 1
        await self.gate.wait()
        self.durable.append(batch)
        self.events.append("durable")
        return {tp: offsets[-1] + 1 for tp, offsets in batch.items()}

    def after_commit(self, batch: Any, offsets: dict[TopicPartition, int], committed: bool) -> None:
        self.tried.append((offsets, committed))

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.assignment_gate.wait()
        self.events.append(f"assigned {sorted(tp.partition for tp in assigned)}")

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self.held.pop(tp, None)
        self.events.append(f"revoked {sorted(tp.partition for tp in revoked)}")


async def until(condition: Callable[[], object], what: str, timeout_s: float = 10) -> None:
    """Wait on the event loop until `condition()` holds (the stage's tasks run meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not seen within {timeout_s:g} s")
        await asyncio.sleep(0.005)


Scenario = Callable[[MemorySink, MemoryConsumer], Coroutine[Any, Any, None]]


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, **options: Any) -> None:
    """Start a `MemorySink` on a `MemoryConsumer`, play `scenario`, stop the stage if it runs."""

    async def main() -> None:
        stage = MemorySink(Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9"), **options)
        consumer = MemoryConsumer(stage.events)
        monkeypatch.setattr(batch_stage, "stage_consumer", lambda *args, **kwargs: consumer)
        await stage.start()
        try:
            await scenario(stage, consumer)
        finally:
            stage.gate.set()
            await stage.stop()

    asyncio.run(main())


def test_a_batch_is_committed_only_once_it_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        stage.gate.clear()
        consumer.fetches.append(fetch(TP0, 0, 3))
        await until(lambda: stage.landings_started == 1, "the batch landing")
        assert consumer.committed == [] and stage.durable == []
        stage.gate.set()
        await until(lambda: consumer.committed, "the commit")
        assert stage.durable == [{TP0: [0, 1, 2]}]
        assert consumer.committed == [{TP0: 3}]
        assert stage.tried == [({TP0: 3}, True)]

    run(tmp_path, monkeypatch, scenario)


def test_one_batch_in_flight_and_commits_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        stage.gate.clear()
        consumer.fetches += [fetch(TP0, 0, 3), fetch(TP0, 3, 3), fetch(TP1, 0, 3)]
        await until(lambda: not stage.held and len(consumer.fetches) == 1, "the second batch")
        # the second batch is prepared and waits for the first: the loop fetches no more
        assert stage.landings_started == 1 and len(consumer.fetches) == 1
        stage.gate.set()
        await until(lambda: len(consumer.committed) == 3, "three commits")
        assert consumer.committed == [{TP0: 3}, {TP0: 6}, {TP1: 3}]

    run(tmp_path, monkeypatch, scenario)


def test_a_stage_landing_in_the_foreground_fetches_nothing_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        stage.gate.clear()
        consumer.fetches += [fetch(TP0, 0, 3), fetch(TP0, 3, 1)]
        await until(lambda: stage.landings_started == 1, "the batch landing")
        assert len(consumer.fetches) == 1  # the loop waits for the landing
        stage.gate.set()
        await until(lambda: stage.held == {TP0: [3]}, "the next fetch")
        assert consumer.committed == [{TP0: 3}]

    run(tmp_path, monkeypatch, scenario, background=False)


def test_a_refused_commit_is_logged_and_the_loop_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        consumer.refuse_commits = True
        consumer.fetches.append(fetch(TP0, 0, 3))
        await until(lambda: stage.tried, "the commit attempt")
        assert stage.tried == [({TP0: 3}, False)] and consumer.committed == []
        consumer.refuse_commits = False
        consumer.fetches.append(fetch(TP0, 3, 3))
        await until(lambda: consumer.committed, "the next commit")
        assert consumer.committed == [{TP0: 6}]

    with caplog.at_level(logging.WARNING, logger="streams.batch_stage"):
        run(tmp_path, monkeypatch, scenario)
    assert "memory commit failed (CommitFailedError" in caplog.text


def test_revoked_partitions_are_landed_and_committed_before_they_are_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        consumer.fetches += [fetch(TP0, 0, 1), fetch(TP1, 0, 1)]
        await until(lambda: len(stage.held) == 2, "both partitions buffered")
        stage.events.clear()
        await consumer.rebalance({TP1})
        assert consumer.committed == [{TP0: 1, TP1: 1}]
        assert stage.events == ["durable", "commit", "revoked [0, 1]", "assigned [1]"]
        assert stage.held == {}

    run(tmp_path, monkeypatch, scenario)


def test_records_fetched_while_on_assigned_runs_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        stage.assignment_gate.clear()
        rebalance = asyncio.ensure_future(consumer.rebalance({TP0}))
        await until(lambda: "revoked [0, 1]" in stage.events, "the revocation")
        consumer.fetches.append(fetch(TP0, 0, 1))
        await until(lambda: not consumer.fetches, "the fetch")
        assert stage.held == {}  # fetched, not taken: the assignment is not ready
        stage.assignment_gate.set()
        await rebalance
        await until(lambda: stage.held, "the records taken")
        assert stage.events.index("assigned [0]") < stage.events.index("add 0")

    run(tmp_path, monkeypatch, scenario)


def test_stop_lands_and_commits_everything_then_leaves_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(stage: MemorySink, consumer: MemoryConsumer) -> None:
        consumer.fetches += [fetch(TP0, 0, 1), fetch(TP1, 0, 1)]  # not a batch yet
        await until(lambda: len(stage.held) == 2, "both partitions buffered")
        stage.events.clear()
        await stage.stop()
        assert consumer.committed == [{TP0: 1, TP1: 1}]
        assert stage.events == ["durable", "commit", "left the group"]

    run(tmp_path, monkeypatch, scenario)


def test_a_stop_during_the_consumer_start_waits_for_it_then_leaves_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        stage = MemorySink(Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9"))
        consumer = MemoryConsumer(stage.events)
        consumer.start_gate.clear()
        monkeypatch.setattr(batch_stage, "stage_consumer", lambda *args, **kwargs: consumer)
        monkeypatch.setattr(batch_stage, "STOP_WAIT_S", 600)
        starting = asyncio.ensure_future(stage.start())
        await until(lambda: consumer.listener is not None, "the subscription")
        stopping = asyncio.ensure_future(stage.stop())
        await until(lambda: stage.should_stop, "the stop")
        await asyncio.sleep(0.05)  # room for a wrong stop to go ahead
        assert not consumer.stopped  # not while it starts
        consumer.start_gate.set()
        await asyncio.wait_for(stopping, 10)  # without waiting for a pass that never runs
        await starting
        assert consumer.stopped and stage.events[-1] == "left the group"

    asyncio.run(main())
