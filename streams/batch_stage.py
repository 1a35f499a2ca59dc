"""The at-least-once loop every stream stage runs, written once: consume → batch → durable sink →
commit, with rebalances and the stop.

A stage (the lake sink in streams/ingestion.py, the feature stage in streams/features.py, the feed
stage in streams/feed_updates.py) is a `BatchStage`: a `mode.Service` that the worker's Faust app
starts and stops, with an aiokafka consumer of its own (`glamcast.platform.broker.stage_consumer`)
in a consumer group of its own, reading raw batches with `getmany` (docs/streams.md says why not
a Faust agent). The stage says what a batch is and how it becomes durable; this module decides
when offsets are committed:

1. fetch; records fetched while the stage's `on_assigned` still runs (a state rebuild, say) wait
   for it, since aiokafka fetches for a new assignment before its listener returns;
2. `add` the records of the partitions still assigned;
3. when the stage says a batch is `due`: `prepare` it (on the event loop), wait until the batch
   before it is committed, then `land` it — make it durable — and commit the offsets `land`
   returned. With `lands_in_background` that runs while the next batch is fetched and prepared
   (one batch in flight at most, commits in order); otherwise before the next fetch;
4. a commit refused because the group moved on (`CommitFailedError`, `IllegalStateError`) is
   logged and the loop goes on: the partitions' new owner re-reads them from the last commit;
5. on revocation, land and commit everything held for the revoked partitions before they are
   given up, then `on_revoked` drops the stage's state of them;
6. on stop (SIGTERM), let the current pass (or the consumer's start) end, land and commit
   everything, then leave the group.

A crash anywhere before a commit replays from the last commit, so each stage's sink tolerates a
batch written twice (the lake deduplicates by `event_id`, an online push and a feed overwrite).

No record can stall a partition: a stage runs its per-record work through `isolate_failures`,
which, when a batch fails with one of `RECORD_ERRORS` (an error a record's content can cause:
a value no sink can hold, a bug met by one input), splits the batch in halves down to the single
records that fail, hands those to the stage's `reject` (the lake stage sends them to the
dead-letter topic with the error) and goes on with the rest, so the offsets move past them and
a restart never replays into the same failure. Any other error (`OSError`: a full disk, a lost
mount; `KafkaError`; cancellation) is the platform's, not a record's: it stops the worker
uncommitted, to be retried on restart, since splitting would send every record to the
dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from mode import Service

from glamcast.core.settings import Settings
from glamcast.platform.broker import stage_consumer

log = logging.getLogger(__name__)

Batch = TypeVar("Batch")
Item = TypeVar("Item")
Result = TypeVar("Result")

#: What a record's content can make a stage's code raise (Arrow's errors derive from these).
#: Everything else is an outage or a cancellation, and is never blamed on a record.
RECORD_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    ArithmeticError,
    LookupError,
    AttributeError,
    AssertionError,
    RecursionError,
    NotImplementedError,
)

#: Fetched records of one pass, per partition: only assigned partitions, never an empty list.
Records = dict[TopicPartition, list[ConsumerRecord]]

#: Seconds the stop waits for the current pass (or the consumer's start) before it lands what
#: the stage holds.
STOP_WAIT_S = 10


async def isolate_failures(
    items: Sequence[Item],
    attempt: Callable[[Sequence[Item]], Awaitable[Result]],
    reject: Callable[[Item, BaseException], None],
) -> list[Result]:
    """`attempt(items)`, or, when it raises one of `RECORD_ERRORS`, the attempts of each half,
    recursively: the results of the parts that succeeded, in order. A single item that fails is
    given to `reject` with its error. k bad items among n cost about 2·k·log2(n) attempts.

    `attempt` must leave nothing behind when it raises, or tolerate being retried on a part.
    """
    if not items:
        return []
    try:
        return [await attempt(items)]
    except RECORD_ERRORS as exc:
        if len(items) == 1:
            log.warning("a record failed on its own and is set aside: %s: %s",
                        type(exc).__name__, exc)
            reject(items[0], exc)
            return []
        log.info("a batch of %d failed (%s: %s); splitting it to find the record",
                 len(items), type(exc).__name__, exc)
        middle = len(items) // 2
        head = await isolate_failures(items[:middle], attempt, reject)
        return head + await isolate_failures(items[middle:], attempt, reject)


class _EveryPartition:
    def __contains__(self, tp: object) -> bool:
        return True


#: What `prepare` is asked for on a regular pass and at the stop: every partition held.
EVERY_PARTITION: Container[TopicPartition] = _EveryPartition()


def _describe(partitions: Iterable[TopicPartition]) -> str:
    """``topic[0, 1], other[2]`` for log lines, or ``none``."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return ", ".join(f"{name}{sorted(parts)}" for name, parts in sorted(by_topic.items())) or "none"


class BatchStage(Service, Generic[Batch]):
    """A stream stage: its consumer, its group and the at-least-once loop (module doc).

    A subclass sets `name` and passes its group, topics and fetch settings to `__init__`, and
    supplies the batch: `add`, `due`, `prepare`, `land`; where it needs them, `after_commit`,
    `on_assigned`, `on_revoked` and `after_pass`. It sets up what those need in `on_start` before
    calling ``super().on_start()``, and releases it after ``super().on_stop()``.
    """

    #: The stage in log lines: ``<name> partitions assigned: ...``.
    name: ClassVar[str]
    #: Whether a batch lands and commits in the background while the next one is fetched. False
    #: when `add` must never run beside a landing (the landing reads what `add` changes).
    lands_in_background: ClassVar[bool] = True

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        *,
        group: str,
        topics: list[str],
        fetch_timeout_ms: int = 100,
        consumer_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """`group` is also the consumer's client id; `fetch_timeout_ms` is how long a `getmany`
        waits for records; `consumer_options` go to `stage_consumer` (fetch sizes and waits)."""
        super().__init__(**kwargs)
        self.app = app
        self.settings = settings
        self.group = group
        self.topics = topics
        self.fetch_timeout_ms = fetch_timeout_ms
        self.consumer_options = consumer_options or {}
        self.consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()  # one landing decided at a time (a pass, a revocation, the stop)
        self._in_flight: asyncio.Task | None = None  # the batch being landed and committed
        self._assignment_ready = asyncio.Event()  # set once `on_assigned` of the assignment ran
        self._idle = asyncio.Event()  # set while neither the consumer's start nor a pass runs
        self._idle.set()

    # --- what a stage supplies -------------------------------------------------------------------

    def add(self, records: Records) -> None:
        """Take the records of one fetch into the stage's buffers or state."""
        raise NotImplementedError

    def due(self) -> bool:
        """Whether a batch should be landed now (checked after each fetch)."""
        raise NotImplementedError

    async def prepare(self, partitions: Container[TopicPartition], *, drain: bool) -> Batch | None:
        """The next batch, from what the stage holds for `partitions`: what is due, or with `drain`
        everything it holds (the partitions are being revoked, or the worker stops). None: nothing
        to land. Runs on the event loop, before the batch in flight is committed."""
        raise NotImplementedError

    async def land(self, batch: Batch) -> dict[TopicPartition, int]:
        """Make `batch` durable; returns the next offset to read of each partition it settled,
        which the loop then commits."""
        raise NotImplementedError

    def after_commit(
        self, batch: Batch, offsets: dict[TopicPartition, int], committed: bool
    ) -> None:
        """After the commit of `offsets` was tried (`committed`: it succeeded)."""

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Partitions were assigned; their records are taken only once this returns."""

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Partitions were revoked, after what the stage held for them was landed and committed:
        drop what is left of them (records fetched meanwhile are read again by the next owner)."""

    async def after_pass(self) -> None:
        """Periodic work of the stage, after each pass of the loop (not while stopping)."""

    # --- the loop ----------------------------------------------------------------------------------

    @property
    def landing(self) -> bool:
        """Whether a batch is being landed and committed in the background."""
        return self._in_flight is not None and not self._in_flight.done()

    async def on_start(self) -> None:
        self._idle.clear()
        try:
            consumer = stage_consumer(
                self.settings, self.group, self.group, **self.consumer_options
            )
            consumer.subscribe(self.topics, listener=_Rebalance(self))
            self.consumer = consumer  # the first assignment (and `on_assigned`) comes within start()
            try:
                await consumer.start()
            except BaseException:
                self.consumer = None  # nothing was consumed: the stop has nothing to land
                raise
        finally:
            self._idle.set()

    @Service.task
    async def _consume(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        self._idle.clear()
        try:
            while not self.should_stop:
                fetched = await consumer.getmany(timeout_ms=self.fetch_timeout_ms)
                while fetched and not self._assignment_ready.is_set() and not self.should_stop:
                    await asyncio.sleep(0.02)  # the new assignment's `on_assigned` still runs
                if not self._assignment_ready.is_set():
                    continue  # stopping before it ended: uncommitted, read again by the next owner
                assignment = consumer.assignment()
                self.add(
                    {tp: records for tp, records in fetched.items() if tp in assignment and records}
                )  # a partition revoked while it was being fetched is left out
                if not self.should_stop:
                    if self.due():
                        async with self._lock:
                            await self._land(
                                EVERY_PARTITION, drain=False, wait=not self.lands_in_background
                            )
                    await self.after_pass()
        finally:
            self._idle.set()

    async def on_stop(self) -> None:
        """Land and commit everything the stage holds, then leave the group (the others take over).

        Waits for the pass under way, or for the consumer's start (a stop during the start would
        otherwise leave a consumer running); a pass scheduled but not begun sees the stop and
        consumes nothing."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=STOP_WAIT_S)
        except TimeoutError:
            log.warning(
                "%s loop did not stop within %d s; landing what it holds", self.name, STOP_WAIT_S
            )
        consumer = self.consumer
        if consumer is None:
            return
        try:
            async with self._lock:
                await self._land(EVERY_PARTITION, drain=True, wait=True)
        finally:
            self.consumer = None
            await consumer.stop()

    async def _revoke(self, revoked: set[TopicPartition]) -> None:
        self._assignment_ready.clear()
        if revoked:
            log.info("%s partitions revoked: %s", self.name, _describe(revoked))
        async with self._lock:
            if self.consumer is not None:
                await self._land(revoked, drain=True, wait=True)
            await self.on_revoked(revoked)

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        log.info("%s partitions assigned: %s", self.name, _describe(assigned))
        try:
            await self.on_assigned(assigned)
        finally:
            self._assignment_ready.set()

    async def _land(
        self, partitions: Container[TopicPartition], *, drain: bool, wait: bool
    ) -> None:
        """Prepare a batch, then land and commit it after the batch before it: in the background
        unless `wait` (the caller holds the lock)."""
        batch = await self.prepare(partitions, drain=drain)
        await self._landed()
        if batch is not None:
            self._in_flight = asyncio.ensure_future(self._land_and_commit(batch))
        if wait:
            await self._landed()

    async def _landed(self) -> None:
        """Wait for the batch in flight, if any (its failure is raised here)."""
        if self._in_flight is not None:
            task, self._in_flight = self._in_flight, None
            await task

    async def _land_and_commit(self, batch: Batch) -> None:
        offsets = await self.land(batch)
        committed = await self._commit(offsets) if offsets else True
        self.after_commit(batch, offsets, committed)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> bool:
        consumer = self.consumer
        assert consumer is not None  # the stop and a revocation wait for the landing first
        try:
            await consumer.commit(
                {tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()}
            )
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on (this worker lost the partitions): whoever owns them now re-reads
            # from the last commit, and every sink here tolerates a batch written twice.
            log.warning("%s commit failed (%s); the events will be re-read", self.name, exc)
            return False
        return True


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, stage: BatchStage[Any]) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.stage._revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self.stage._assign(set(assigned))
