"""Prometheus metrics of the HTTP service, in a registry of its own per app instance."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Latency buckets in seconds: the feed targets p99 ≤ 25 ms, so resolution sits below 100 ms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "glamcast_http_request_duration_seconds", "HTTP request latency by route.",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.events_produced = Counter(
            "glamcast_ingest_events_produced_total", "Events the broker confirmed, by topic.",
            ["topic"], registry=self.registry,
        )
        self.events_rejected = Counter(
            "glamcast_ingest_events_rejected_total", "Events refused by validation, by reason.",
            ["topic", "reason"], registry=self.registry,
        )
        self.broker_unavailable = Counter(
            "glamcast_ingest_broker_unavailable_total", "Requests answered 503 for the broker.",
            registry=self.registry,
        )
