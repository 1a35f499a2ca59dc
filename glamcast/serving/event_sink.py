"""Where the ingest gateway puts accepted events: Kafka, acknowledged by all in-sync replicas.

`KafkaEventSink.send_all` returns only once the broker has confirmed every record of the batch;
any failure (broker unreachable, no confirmation within the timeout) raises `BrokerUnavailable`,
which the API answers with 503 and Retry-After. A retried batch may repeat records that did
arrive; they carry the same `event_id`, and every consumer deduplicates by it.

`ready` asks the broker for its metadata on every call (bounded by `api_ready_timeout_s`): the
producer's own view of the cluster would still say "up" long after the broker stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from glamcast.core.settings import Settings
from glamcast.platform.broker import bootstrap_servers, client_security
from glamcast.platform.stack import StackNotRunningError


class BrokerUnavailable(RuntimeError):
    """The broker could not take or confirm a batch; the client should retry later."""


class KafkaEventSink:
    """A lazily started aiokafka producer shared by all requests of one API process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            try:
                producer = AIOKafkaProducer(
                    bootstrap_servers=bootstrap_servers(self._settings),
                    acks="all",
                    enable_idempotence=False,  # the embedded broker has no InitProducerId
                    linger_ms=2,
                    max_batch_size=256 * 1024,
                    request_timeout_ms=int(self._settings.api_produce_timeout_s * 1000),
                    client_id="glamcast-api",
                    **client_security(self._settings),
                )
            except StackNotRunningError as exc:
                raise BrokerUnavailable(str(exc)) from exc
            try:
                await asyncio.wait_for(producer.start(), self._settings.api_produce_timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                await producer.stop()
                raise BrokerUnavailable(f"broker unreachable: {exc!r}") from exc
            except asyncio.CancelledError:  # a caller's deadline (readyz): leave nothing running
                await producer.stop()
                raise
            self._producer = producer
            return producer

    async def send_all(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send (key, value) records and wait until the broker confirmed each one."""
        producer = await self._started()
        try:
            pending = [await producer.send(topic, value=value, key=key) for key, value in records]
            await asyncio.wait_for(asyncio.gather(*pending), self._settings.api_produce_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"broker did not confirm the batch: {exc!r}") from exc

    async def ready(self) -> bool:
        """Whether the broker answers a metadata request now, within `api_ready_timeout_s`."""
        try:
            async with asyncio.timeout(self._settings.api_ready_timeout_s):
                producer = await self._started()
                await producer.client.fetch_all_metadata()
        except (BrokerUnavailable, KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
