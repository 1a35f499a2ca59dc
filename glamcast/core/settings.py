"""One typed settings object for every part of Glamcast.

Values come from environment variables prefixed ``GLAMCAST_`` (``GLAMCAST_PROFILE=prod``,
``GLAMCAST_KAFKA_BOOTSTRAP=broker:9092``...). The ``local`` profile needs nothing set: it runs the
embedded stack under the state dir. The ``prod`` profile refuses to start while a required
address or secret is missing, rather than falling back to an empty default.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Profile(StrEnum):
    LOCAL = "local"
    PROD = "prod"


#: Settings a `prod` deployment must set (as GLAMCAST_<NAME>); infra/ checks its env files against it.
PROD_REQUIRED = (
    "kafka_bootstrap",
    "mlflow_tracking_uri",
    "spark_master",
    "lake_uri",
    "redis_url",
    "registry_db_url",
    "api_keys",
)


class MissingSettingError(ValueError):
    """A setting the active profile needs is not set."""


class Settings(BaseSettings):
    """Glamcast configuration; every field reads ``GLAMCAST_<FIELD>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="GLAMCAST_", extra="ignore")

    profile: Profile = Field(Profile.LOCAL, description="`local` (embedded stack) or `prod`.")
    state_dir: Path = Field(
        Path(".glamcast"),
        description="Where the local profile keeps its stack state, lake, MLflow store and logs.",
    )
    data_dir: Path = Field(
        Path("../shared/data"),
        description="Real data sets for tests and benchmarks (MovieLens, REES46, Prophet series).",
    )

    # --- Kafka -----------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        None,
        description="Bootstrap servers of an existing cluster; when unset, `local` uses the "
        "embedded broker recorded by `glamcast up`.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client (kafka-python, aiokafka, Faust) talks to the "
        "cluster; managed clusters usually want SASL_SSL. The embedded broker: PLAINTEXT.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism (with a SASL_* protocol)."
    )
    kafka_sasl_username: str | None = Field(
        None, description="SASL user; required with a SASL_* protocol."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with a SASL_* protocol."
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="CA bundle (PEM) that signed the brokers' certificates (SSL, SASL_SSL); "
        "unset: the system's trusted CAs.",
    )
    kafka_port: int = Field(0, description="Port of the embedded broker; 0 picks a free one.")
    replication_factor: int = Field(1, description="Replication factor of created topics.")
    session_timeout_ms: int = Field(
        6_000,
        description="Consumer session timeout. Short locally: the embedded broker joins a "
        "group in about the rebalance timeout.",
    )
    max_event_bytes: int = Field(
        64 * 1024, description="Largest accepted event payload; larger ones go to the DLQ."
    )
    max_future_skew_s: int = Field(
        86_400, description="How far in the future an event timestamp may lie (clock skew)."
    )

    # --- MLflow ----------------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(
        None, description="Tracking server; when unset, `local` uses the one `glamcast up` started."
    )
    mlflow_port: int = Field(0, description="Port of the local MLflow server; 0 picks a free one.")
    recommender_model_name: str = Field(
        "glamcast-recommender",
        description="Registered recommender: `train recommender` registers its versions, and the "
        "feed serves its `champion`.",
    )
    look_gan_model_name: str = Field(
        "glamcast-look-gan",
        description="Registered look generator: `train look-gan` registers its versions; its "
        "`champion` makes the looks of the feed, the dashboard and `looks generate` (none "
        "registered: the feed has no looks, the dashboard shows curated ones).",
    )
    recommender_experiment: str = Field(
        "recommender", description="MLflow experiment of `train recommender` runs."
    )
    look_gan_experiment: str = Field(
        "look_gan", description="MLflow experiment of `train look-gan` runs."
    )
    forecast_experiment: str = Field(
        "trend_forecast", description="MLflow experiment of `forecast` (trend forecast) runs."
    )

    # --- Spark, lake and stores ----------------------------------------------------------------
    spark_master: str | None = Field(
        None,
        description="Spark master URL for the batch jobs run by `glamcast` commands; `local` "
        "uses local[*]. Under spark-submit its --master wins.",
    )
    lake_uri: str | None = Field(
        None, description="Root of the Parquet lake; `local` defaults to <state_dir>/lake."
    )
    redis_url: str | None = Field(None, description="Feast online store (prod).")
    registry_db_url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the Feast SQL registry (prod); holds a password."
    )

    # --- API ---------------------------------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Interface `glamcast serve` binds to.")
    api_port: int = Field(8000, description="Port of `glamcast serve`.")
    api_max_request_bytes: int = Field(
        4 * 1024 * 1024, description="Largest ingest request body; larger ones get 413."
    )
    api_max_batch_events: int = Field(
        5_000, description="Most events one ingest request may carry; more get 413."
    )
    api_produce_timeout_s: float = Field(
        10.0, description="How long ingest waits for the broker to confirm a batch before 503."
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys accepted in X-API-Key by the ingest gateway; `local` adds `dev-key`.",
    )

    # --- Streams (Faust workers) -----------------------------------------------------------------
    topic_prefix: str = Field(
        "",
        description="Prepended to every topic name (`topic_name`), so tests and side-by-side "
        "stacks can share one broker without seeing each other's records.",
    )
    streams_app_id: str = Field(
        "glamcast-streams",
        description="Faust app id: the consumer group of the stream workers and the prefix of "
        "their internal topics.",
    )
    streams_web_port: int = Field(
        6066,
        description="Web port (/metrics, /trending-now/) of the first stream worker; worker i "
        "listens on this + i; 0 picks free ports.",
    )
    streams_ingest: bool = Field(
        True,
        description="Whether stream workers run the lake sink (validation, dead letters, the "
        "lake, trend counts); false for workers that only run the feature and feed stages, so "
        "that those get a process (and a core) of their own.",
    )
    streams_batch_events: int = Field(
        20_000,
        description="Records a stream worker buffers before it writes a lake batch.",
    )
    streams_flush_s: float = Field(
        2.0, description="Longest a buffered record waits for its lake batch (seconds)."
    )
    rebalance_timeout_ms: int | None = Field(
        None,
        description="Consumer-group rebalance timeout; unset: the session timeout in `local` "
        "(the embedded broker joins a group in about this long), 60 s in `prod`.",
    )

    # --- Features (Feast) --------------------------------------------------------------------------
    feast_project: str = Field(
        "glamcast",
        description="Feast project name; keys in the online store and registry rows are scoped "
        "by it, so side-by-side stacks (tests) use their own.",
    )
    feature_repo_dir: Path | None = Field(
        None, description="The Feast repository; unset: `feature_repo/` beside the package."
    )
    feast_dir: Path | None = Field(
        None,
        description="Registry and SQLite online store of the `local` profile; unset: "
        "<state_dir>/feast.",
    )
    streams_features: bool | None = Field(
        None,
        description="Whether stream workers keep and push the user/product features; unset: "
        "on once the Feast repository is applied (`glamcast features apply`).",
    )
    features_flush_s: float = Field(
        0.1,
        description="Longest a try-on event waits before its features are pushed (seconds). A "
        "push writes each touched key once, and at 2,000 events/s over 5,000 people few keys "
        "repeat within 0.25 s, so a shorter interval costs little more work (measured: +19 % "
        "worker CPU at 0.1 against 0.25 s, p99 freshness 0.62 against 0.66–0.72 s).",
    )
    features_offline_flush_s: float = Field(
        5.0,
        description="How often the feature stage appends the rows it pushed online to the offline "
        "store and then commits their offsets (seconds); the offline store lags by up to this.",
    )
    feast_online_store: str | None = Field(
        None,
        description="Feast online store, `sqlite` or `redis`; unset: the profile's (`local` "
        "SQLite, `prod` Redis). "
        "`redis` in `local` uses `GLAMCAST_REDIS_URL` (benchmarks compare the two).",
    )

    # --- Feed (GET /v1/feed, streams/feed_updates) ------------------------------------------------
    feed_reload_poll_s: float = Field(
        30.0, description="How often the feed asks the registry whether `champion` moved (seconds)."
    )
    feed_pool_refresh_s: float = Field(
        30.0,
        description="How often the feed re-reads term trends and product popularity from the "
        "online store into its in-memory candidate pools (seconds).",
    )
    feed_candidates: int = Field(
        100, description="Candidates per source (model, trending, favourite shade) before ranking."
    )
    feed_max_k: int = Field(100, description="Largest `k` a feed request may ask for.")
    feed_looks_per_condition: int = Field(
        3, ge=1, description="Looks the look GAN champion generates for the feed per (skin tone, "
        "undertone), once per champion version: the generated-look candidates.",
    )
    feed_weight_affinity: float = Field(0.6, description="Weight of affinity in the feed score.")
    feed_weight_trend: float = Field(0.25, description="Weight of the trend score in the feed score.")
    feed_weight_freshness: float = Field(
        0.15, description="Weight of freshness (product launch age) in the feed score."
    )
    feed_freshness_half_life_days: float = Field(
        30.0, description="Launch age at which a product's freshness halves (days)."
    )
    feed_affinity_taste: float = Field(
        0.55,
        description="Weight, inside affinity, of taste: the percentile of the recommender's "
        "score (known person) or of popularity (anyone else). The four affinity weights sum to 1.",
    )
    feed_affinity_family: float = Field(
        0.25,
        description="Weight, inside affinity, of the product's shade family being the person's "
        "favourite of the last 7 days.",
    )
    feed_affinity_category: float = Field(
        0.15,
        description="Weight, inside affinity, of the share of the person's 7 d tries in the "
        "product's category.",
    )
    feed_affinity_finish: float = Field(
        0.05,
        description="Weight, inside affinity, of the product's finish being the person's "
        "favourite of the last 7 days.",
    )
    feed_full_trend_score: float = Field(
        4.0,
        description="Term trend score (this hour's weight over its baseline) at which a "
        "product counts as fully trending (trend = 1; trend = log(score) / log(this)).",
    )
    feed_rising_trend_score: float = Field(
        1.5,
        description="Term trend score from which a feed item gets the reason `rising: <term>`.",
    )
    feed_taste_reason_percentile: float = Field(
        0.9,
        description="Taste percentile from which a product gets the reason `matches your "
        "taste` (0.9: the recommender's top decile).",
    )
    feed_new_in_freshness: float = Field(
        0.8,
        description="Freshness from which a product gets the reason `new in` (0.8: launched "
        "in the last 9.7 days at a 30-day half-life).",
    )
    feed_debounce_s: float = Field(
        2.0,
        description="The feed stage recomputes a person's feed this long after their last "
        "try-on event (a burst of events gives one update).",
    )
    feed_max_delay_s: float = Field(
        10.0, description="Longest a person's pending feed update waits however busy they are."
    )
    streams_feed: bool | None = Field(
        None,
        description="Whether stream workers run the feed stage (glamcast.feed.v1); unset: on "
        "once the Feast repository is applied, like the feature stage.",
    )

    @model_validator(mode="after")
    def _require_prod_settings(self) -> Settings:
        if self.profile is Profile.PROD:
            missing = [name for name in PROD_REQUIRED if not getattr(self, name)]
            if missing:
                names = ", ".join(f"GLAMCAST_{name.upper()}" for name in missing)
                raise MissingSettingError(f"profile 'prod' needs {names}")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise MissingSettingError(
                f"GLAMCAST_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "GLAMCAST_KAFKA_SASL_USERNAME and GLAMCAST_KAFKA_SASL_PASSWORD"
            )
        return self

    @cached_property
    def state_path(self) -> Path:
        """Absolute state dir (resolved once, so a later chdir does not move it)."""
        return self.state_dir.expanduser().resolve()

    @property
    def lake_root(self) -> str:
        """Root of the lake as a path or URI."""
        return self.lake_uri or str(self.state_path / "lake")

    def topic_name(self, name: str) -> str:
        """The broker-side name of a topic from `glamcast.core.topics` (with `topic_prefix`)."""
        return self.topic_prefix + name

    @property
    def rebalance_timeout(self) -> int:
        """Rebalance timeout in ms for consumer groups (see `rebalance_timeout_ms`)."""
        if self.rebalance_timeout_ms is not None:
            return self.rebalance_timeout_ms
        return self.session_timeout_ms if self.profile is Profile.LOCAL else 60_000

    @property
    def spark_master_url(self) -> str:
        return self.spark_master or "local[*]"

    @property
    def accepted_api_keys(self) -> list[str]:
        keys = [key.get_secret_value() for key in self.api_keys]
        return keys if keys or self.profile is Profile.PROD else ["dev-key"]


def get_settings() -> Settings:
    """Read the settings from the environment now (tests change it between calls)."""
    return Settings()
