"""The Faust app of the stream workers, made from the settings; the stages register on it.

`create_app(settings)` configures Faust for the profile's broker. Against the embedded Tansu
broker (measured, see docs/streams.md) it needs short session/rebalance timeouts (a group joins
in about the rebalance timeout), no idempotent or transactional producer (`at_least_once`; Tansu
has no InitProducerId) and topics created before the worker starts (`ensure_topics`). The leader
topic and standby replicas would work but serve nothing here, so they are off. Tables live in
memory and are recovered from their changelog topics at start.

`worker_app(settings)` is the app a worker runs: the ingestion service (validation, lake sink,
trend counts; streams.ingestion), the live trend table with its agent and page
(streams.trend_counts), the feature and feed stages when enabled (streams.features,
streams.feed_updates), and Prometheus metrics at ``/metrics``. With `streams_ingest` off a
worker runs only the feature and feed stages: each stage has its own consumer group, so a
deployment can give the latency-bound stages processes of their own (``glamcast stream
--stages``) instead of sharing one interpreter with the lake sink's batch work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import faust.auth

from glamcast.core import topics
from glamcast.core.settings import Profile, Settings
from glamcast.platform.broker import bootstrap_servers, client_security, create_topics
from glamcast.platform.stack import free_port
from streams import metrics
from streams.features import register_features
from streams.feed_updates import register_feed_updates
from streams.ingestion import IngestionService
from streams.trend_counts import increments_topic, register_live_table


def broker_urls(settings: Settings) -> list[str]:
    """``kafka://host:port`` URLs of the bootstrap servers, as Faust wants them."""
    return [f"kafka://{server.strip()}" for server in bootstrap_servers(settings).split(",")]


def broker_credentials(settings: Settings) -> faust.auth.Credentials | None:
    """Faust's form of `glamcast.platform.broker.client_security`: None for PLAINTEXT."""
    options = client_security(settings)
    if not options:
        return None
    if "sasl_mechanism" not in options:
        return faust.SSLCredentials(options["ssl_context"])
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=options.get("ssl_context"),
    )


def create_app(settings: Settings, **overrides: Any) -> faust.App:
    """A Faust app for the settings' broker and profile; `overrides` are Faust settings."""
    session_s = settings.session_timeout_ms / 1000
    options: dict[str, Any] = {
        "broker": broker_urls(settings),
        "store": "memory://",
        "processing_guarantee": "at_least_once",  # exactly_once needs transactions: not on Tansu
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": session_s,
        "broker_heartbeat_interval": max(0.5, session_s / 6),
        "broker_rebalance_timeout": settings.rebalance_timeout / 1000,
        "topic_replication_factor": settings.replication_factor,
        "topic_partitions": 1,  # internal topics; the input topics have their own layouts
        "topic_disable_leader": True,
        "table_standby_replicas": 0,
        "web_port": settings.streams_web_port or free_port(),  # `--web-port` overrides it
        "web_bind": "127.0.0.1" if settings.profile is Profile.LOCAL else "0.0.0.0",
        "web_host": "127.0.0.1" if settings.profile is Profile.LOCAL else None,
        "datadir": settings.state_path / "streams" / settings.streams_app_id,
        "broker_credentials": broker_credentials(settings),
    }
    options.update(overrides)
    Path(options["datadir"]).mkdir(parents=True, exist_ok=True)  # Faust creates only the leaf
    if options["web_host"] is None:
        del options["web_host"]
    return faust.App(settings.streams_app_id, **options)


def ensure_topics(settings: Settings) -> dict[str, str]:
    """Create the topics a worker reads and writes, where missing: the input topics, the
    dead-letter, feed and erasure topics (with `topic_prefix`) and the live table's one-partition increments topic.

    Run before the worker starts: a topic that a consumer or producer touches first would be
    auto-created with the broker's default partition count, which Faust's tables refuse.
    """
    specs = [
        topics.TopicSpec(
            settings.topic_name(name), spec.partitions, spec.key, spec.compacted, spec.configs
        )
        for name, spec in topics.TOPICS.items()
        if name in (*topics.INPUT_TOPICS, topics.PREFERENCE, topics.DLQ, topics.FEED,
                    topics.ERASURE)
    ]
    specs.append(topics.TopicSpec(increments_topic(settings), partitions=1, key="term"))
    return create_topics(settings, specs)


def worker_app(settings: Settings, **overrides: Any) -> faust.App:
    """The app a stream worker runs, with its stages registered: the lake sink unless
    `streams_ingest` is off, the feature and feed stages when enabled. The live trend table is
    in every worker: it is Faust's, in the app's one consumer group, so whichever worker owns its
    partition serves it (and the Faust consumer always has a topic)."""
    app = create_app(settings, **overrides)
    live = register_live_table(app, settings)
    if settings.streams_ingest:
        app.service(IngestionService(app, settings, live))  # an instance: it needs the settings
    register_features(app, settings)  # user/product features → Feast, once it is applied
    register_feed_updates(app, settings)  # recomputed feeds → glamcast.feed.v1

    @app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        body, content_type = metrics.exposition()
        return web.bytes(body, headers={"Content-Type": content_type})

    return app
