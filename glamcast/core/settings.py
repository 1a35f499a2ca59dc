"""One typed settings object for every part of Glamcast.

Values come from environment variables prefixed ``GLAMCAST_`` (``GLAMCAST_PROFILE=prod``,
``GLAMCAST_KAFKA_BOOTSTRAP=broker:9092``...). The ``local`` profile needs nothing set: it runs the
embedded stack under the state dir. The ``prod`` profile refuses to start while a required
address or secret is missing, rather than falling back to an empty default.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
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


#: Default `retention_days`: behaviour a year and a month (a season of history and its
#: holidays), shop events two years, trend counts three (the forecasts' seasons), served
#: recommendations 90 days. The catalogue and the looks are not about people: kept.
DEFAULT_RETENTION_DAYS = {
    "tryon": 395,
    "social": 395,
    "commerce": 730,
    "trend_counts": 1095,
    "forecasts": 730,
    "recommendations": 90,
}


class MissingSettingError(ValueError):
    """A setting the active profile needs is not set."""


class KeyScope(StrEnum):
    """What an API key may call (`glamcast.serving.security` maps routes to scopes; `admin` may
    call everything, no other scope implies another)."""

    INGEST = "ingest"  # what an app or a browser page embeds: the ingest gateway, rate-limited
    SERVICE = "service"  # backend services: feeds and person-bound feed tokens
    MARKETING = "marketing"  # the dashboard and the trends API
    ADMIN = "admin"  # erasure, replays, and every other route
    METRICS = "metrics"  # the Prometheus scraper: /metrics


def api_key_sha256(key: str) -> str:
    """The hex SHA-256 under which settings store a key. Keys are 256-bit random tokens
    (`glamcast keys new`), not passwords, so no salt or slow hash is needed against guessing."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    """One accepted API key, stored as its SHA-256, never the key itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Who holds the key (a label in logs and rate limits).")
    scope: KeyScope = Field(description="What the key may call.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the key.")
    rate_per_s: float | None = Field(
        None, gt=0, description="Ingest keys: requests per second; unset: `api_ingest_rate_per_s`.")
    burst: int | None = Field(
        None, ge=1, description="Ingest keys: requests at once; unset: `api_ingest_burst`.")


#: Keys the `local` profile accepts when GLAMCAST_API_KEYS is unset, one per scope: `dev-<scope>`.
DEV_API_KEYS = {scope: f"dev-{scope.value}" for scope in KeyScope}


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
    ranker_model_name: str = Field(
        "glamcast-ranker",
        description="Registered feed ranker: `train ranker` registers its versions; the feed "
        "orders its candidates with its `champion` (none registered: the hand-set blend).",
    )
    ranker_experiment: str = Field(
        "ranker", description="MLflow experiment of `train ranker` runs."
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
    api_keys: list[ApiKey] = Field(
        default_factory=list,
        description="Accepted API keys, each `{name, scope, sha256}` (JSON in GLAMCAST_API_KEYS; "
        "`glamcast keys new --scope S --name N` makes one). Unset: `local` accepts the dev keys "
        "`dev-ingest`, `dev-service`, `dev-marketing`, `dev-admin`, `dev-metrics`; `prod` "
        "refuses to start.",
    )
    api_ingest_rate_per_s: float = Field(
        20.0, gt=0, description="Requests per second an `ingest` key may make on average "
        "(token bucket, per key and API process); beyond its burst: 429 with Retry-After.",
    )
    api_ingest_burst: int = Field(
        40, ge=1, description="Requests an `ingest` key may make at once (the bucket's size)."
    )
    api_token_secret: SecretStr | None = Field(
        None,
        description="HMAC secret of person-bound feed tokens (`POST /v1/feed-tokens`); unset: "
        "`local` draws one per process, `prod` issues no tokens (503). Set the same value on "
        "every API process.",
    )
    api_token_max_ttl_s: int = Field(
        900, ge=1, description="Longest lifetime of a person-bound feed token (seconds)."
    )
    api_cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API cross-origin (e.g. "
        "`[\"https://shop.example\"]`); empty: no CORS headers at all.",
    )
    api_header_timeout_s: float = Field(
        10.0, gt=0, description="A connection that has not finished its request headers this "
        "long after it opened (or after its first byte of a new request) is closed.",
    )
    api_body_timeout_s: float = Field(
        30.0, gt=0, description="A request body not received in full this long after its "
        "headers is answered 408 and its connection closed.",
    )
    api_keep_alive_timeout_s: int = Field(
        5, ge=1, description="An idle keep-alive connection is closed after this long (seconds)."
    )
    api_ready_timeout_s: float = Field(
        2.0, gt=0, description="How long each /readyz check (broker metadata, online store) may "
        "take before it counts as down (seconds).",
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
    trend_looks_oversample: int = Field(
        48, ge=1, description="Looks the look GAN champion generates per (skin tone, undertone) "
        "at each forecast run, among which those whose matched products are of a rising shade "
        "family or finish are kept (the GAN is not conditioned on trends: oversample and keep).",
    )
    trend_looks_per_condition: int = Field(
        2, ge=1, description="Trend looks kept per rising term and (skin tone, undertone).",
    )
    trend_looks_max_terms: int = Field(
        6, ge=0, description="At most this many rising/breakout shade families and finishes get "
        "trend looks per forecast run (breakouts first); 0 turns the trend looks off.",
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
    feed_weight_boldness: float = Field(
        0.3, ge=0, le=1,
        description="Most weight, at a slider end (0 or 1), of how well an item's boldness "
        "matches the person's natural ↔ bold slider: score = (1 - w·s)·blend + w·s·match, "
        "s = |2·slider - 1| (0.5: no shift).",
    )
    feed_boldness_reason: float = Field(
        0.6,
        description="Item boldness (0..1) from which an item gets `bold, as you asked` when the "
        "slider is above 0.5 (and at most 1 minus it, `natural, as you asked`, below 0.5).",
    )
    feed_currency_symbol: str = Field(
        "€", description="Currency sign of prices in feed reasons (`within your €25 budget`).",
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

    # --- Erasure and retention (glamcast.platform.erasure, jobs/enforce_retention) -------------
    erasure_refresh_s: float = Field(
        5.0,
        description="How often stream workers re-read the erasure topic for newly erased people, "
        "whose events they then drop (seconds).",
    )
    erasure_settle_s: float = Field(
        15.0,
        description="How long an erasure waits between recording its request and removing the "
        "person: every stream worker re-reads the erasure topic (`erasure_refresh_s`) and lands, "
        "appends or publishes what it held (`streams_flush_s`, `features_offline_flush_s`, "
        "`feed_max_delay_s`) (seconds).",
    )
    retention_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS),
        description="Days each date-partitioned lake dataset is kept (partition date before "
        "today minus this: deleted by `glamcast retention enforce`); a dataset left out is "
        "kept. JSON in GLAMCAST_RETENTION_DAYS.",
    )
    face_retention_days: int = Field(
        30,
        ge=1,
        description="Days face-derived attributes (skin tone, undertone, face shape) are kept, "
        "shorter than the behaviour they came with: older try-on partitions and offline user "
        "features keep their rows with these columns emptied.",
    )

    @model_validator(mode="after")
    def _require_prod_settings(self) -> Settings:
        if self.profile is Profile.PROD:
            missing = [name for name in PROD_REQUIRED if not getattr(self, name)]
            if missing:
                names = ", ".join(f"GLAMCAST_{name.upper()}" for name in missing)
                raise MissingSettingError(f"profile 'prod' needs {names}")
        names = [key.name for key in self.api_keys]
        hashes = [key.sha256 for key in self.api_keys]
        if len(set(names)) < len(names) or len(set(hashes)) < len(hashes):
            raise ValueError("GLAMCAST_API_KEYS: each key needs its own name and its own sha256")
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
    def effective_api_keys(self) -> list[ApiKey]:
        """The keys the API accepts: `api_keys`, else (`local` only) the dev keys."""
        if self.api_keys or self.profile is Profile.PROD:
            return list(self.api_keys)
        return [ApiKey(name=key, scope=scope, sha256=api_key_sha256(key))
                for scope, key in DEV_API_KEYS.items()]


def get_settings() -> Settings:
    """Read the settings from the environment now (tests change it between calls)."""
    return Settings()
