"""Event contracts: the pydantic models of every topic, and decoding of raw Kafka values.

`decode_event(topic, raw)` turns the bytes of a record into its model, or into a `Rejection`
whose `reason` is one of `REJECTION_REASONS` and whose `message` names the field, the value and
the rule it broke (``shade_hex: '#12345' does not match #RRGGBB``). Extra fields are ignored, so
producers can add fields before consumers know them (additive evolution within a `.v1` topic).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from glamcast.core import topics

# --- vocabularies ------------------------------------------------------------------------------


class Action(StrEnum):
    TRY_ON = "try_on"
    SHADE_SWAP = "shade_swap"
    LIKE = "like"
    SAVE = "save"
    SHARE = "share"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    DISMISS = "dismiss"


class Category(StrEnum):
    LIPSTICK = "lipstick"
    LIP_GLOSS = "lip_gloss"
    LIP_LINER = "lip_liner"
    EYESHADOW = "eyeshadow"
    EYELINER = "eyeliner"
    MASCARA = "mascara"
    BROW = "brow"
    BLUSH = "blush"
    BRONZER = "bronzer"
    HIGHLIGHTER = "highlighter"
    FOUNDATION = "foundation"
    CONCEALER = "concealer"


class Finish(StrEnum):
    MATTE = "matte"
    SATIN = "satin"
    GLOSS = "gloss"
    SHIMMER = "shimmer"
    METALLIC = "metallic"


class Undertone(StrEnum):
    COOL = "cool"
    NEUTRAL = "neutral"
    WARM = "warm"


class FaceShape(StrEnum):
    OVAL = "oval"
    ROUND = "round"
    SQUARE = "square"
    HEART = "heart"
    OBLONG = "oblong"
    DIAMOND = "diamond"


class AppPlatform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class SocialPlatform(StrEnum):
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    XIAOHONGSHU = "xiaohongshu"
    WEIBO = "weibo"
    YOUTUBE = "youtube"


class CommerceEventType(StrEnum):
    VIEW = "view"
    CART = "cart"
    REMOVE_FROM_CART = "remove_from_cart"
    PURCHASE = "purchase"


# --- field types -------------------------------------------------------------------------------

#: Events older than this are rejected as bad timestamps (a zeroed or epoch clock).
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)

# Every field is bounded by what the lake (Arrow int64, float64), Feast and the models store, so
# whatever validates can be written and pushed (tests/unit/core/test_event_bounds.py proves it
# with hypothesis). The bounds are named in the rejection message ("less than or equal to ...").

#: A count of reactions (likes, views...): far above any real post, far below int64's 9.2e18.
MAX_COUNT = 10**12
#: A dwell time: one day in milliseconds; a longer "dwell" is a stuck client clock.
MAX_DWELL_MS = 86_400_000
#: A price in the shop's currency.
MAX_PRICE = 1_000_000.0
#: Free text of shop exports (category codes, brands, sessions).
MAX_TEXT = 256
#: Items of one list field (hashtags, brands, products of a post).
MAX_LIST_ITEMS = 64

Id = Annotated[str, Field(min_length=1, max_length=128)]
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST_TS)]
ShadeHex = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
DwellMs = Annotated[int, Field(ge=0, le=MAX_DWELL_MS)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)]
Tag = Annotated[str, Field(max_length=100)]


def _rees46_time(value: Any) -> Any:
    """REES46 writes ``2019-10-01 00:00:00 UTC``; turn it into ISO 8601 with an offset."""
    if isinstance(value, str) and value.endswith(" UTC"):
        return value[:-4].replace(" ", "T") + "+00:00"
    return value


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


Rees46Time = Annotated[Timestamp, BeforeValidator(_rees46_time)]
OptionalText = Annotated[Annotated[str, Field(max_length=MAX_TEXT)] | None, BeforeValidator(_blank_to_none)]


class Event(BaseModel):
    """Base of every event: a unique `event_id` and a UTC timestamp in `TIME_FIELD`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TOPIC: ClassVar[str]
    TIME_FIELD: ClassVar[str] = "ts"

    event_id: Id

    @property
    def occurred_at(self) -> datetime:
        return getattr(self, self.TIME_FIELD)


# --- topic models ------------------------------------------------------------------------------


class FaceAttributes(BaseModel):
    """Consented face attributes derived on the device; never an image."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    skin_tone: int = Field(ge=1, le=10, description="Monk Skin Tone scale, 1 (lightest) to 10.")
    undertone: Undertone
    face_shape: FaceShape


class TryOnEvent(Event):
    """A person tried, swapped, liked, saved, shared, carted, bought or dismissed a shade."""

    TOPIC: ClassVar[str] = topics.TRYON

    ts: Timestamp
    user_id: Id
    session_id: Id
    action: Action
    product_id: Id
    category: Category
    shade_hex: ShadeHex
    finish: Finish
    dwell_ms: DwellMs
    look_id: Id | None = None
    face: FaceAttributes | None = None
    platform: AppPlatform
    app_version: Annotated[str, Field(max_length=32)]


class SocialEvent(Event):
    """A social-media post mentioning beauty terms; keyed by `post_id`."""

    TOPIC: ClassVar[str] = topics.SOCIAL

    ts: Timestamp
    platform: SocialPlatform
    post_id: Id
    author_id: Id
    hashtags: list[Tag] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    brands: list[Tag] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    product_ids: list[Id] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    likes: Count = 0
    comments: Count = 0
    shares: Count = 0
    views: Count = 0
    lang: Annotated[str, Field(min_length=2, max_length=16)]


class CommerceEvent(Event):
    """A shop event in the REES46 export format, plus a deterministic `event_id`.

    Numeric ids of real exports are kept as strings; a missing `event_id` is derived from the
    row's content (uuid5), so replaying the same export twice produces the same ids.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    TIME_FIELD: ClassVar[str] = "event_time"
    TOPIC: ClassVar[str] = topics.COMMERCE

    event_time: Rees46Time
    event_type: CommerceEventType
    product_id: Id
    category_id: OptionalText = None
    category_code: OptionalText = None
    brand: OptionalText = None
    price: Price
    user_id: Id
    user_session: OptionalText = None

    @model_validator(mode="before")
    @classmethod
    def _derive_event_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("event_id"):
            key = "|".join(
                str(data.get(name, ""))
                for name in ("event_time", "event_type", "product_id", "user_id", "user_session")
            )
            data = {**data, "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "rees46:" + key))}
        return data


class CatalogEvent(Event):
    """The current state of one product; the topic is compacted by `product_id`."""

    TOPIC: ClassVar[str] = topics.CATALOG

    ts: Timestamp
    product_id: Id
    brand: Annotated[str, Field(min_length=1, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    category: Category
    shade_hex: ShadeHex
    finish: Finish
    price: Price
    launched_at: Timestamp


class PreferenceEvent(Event):
    """A person's explicit feed preferences, set in the mirror; keyed by `user_id` on a compacted
    topic. Each event carries the whole set and replaces the one before (a field left out is its
    default: no shift, no cap, nothing hidden)."""

    TOPIC: ClassVar[str] = topics.PREFERENCE

    ts: Timestamp
    user_id: Id
    boldness: float = Field(
        0.5, ge=0, le=1, allow_inf_nan=False,
        description="The natural ↔ bold slider: 0 natural, 1 bold, 0.5 no preference.")
    price_cap: Price | None = Field(
        None, description="Highest price to show, in the shop's currency; none: no cap.")
    never_categories: list[Category] = Field(
        default_factory=list, max_length=len(Category),
        description="Categories never to show.")


class DeadLetter(Event):
    """A rejected input record, with everything needed to inspect and replay it."""

    TOPIC: ClassVar[str] = topics.DLQ

    ts: Timestamp
    source_topic: str
    partition: int
    offset: int
    error_class: str
    error_message: str
    original_b64: str = Field(description="The record value exactly as received, base64.")


class FeedItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: Id | None = None
    look_id: Id | None = None
    score: Annotated[float, Field(allow_inf_nan=False)]
    reasons: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_target(self) -> FeedItem:
        if (self.product_id is None) == (self.look_id is None):
            raise ValueError("a feed item has exactly one of product_id and look_id")
        return self


class FeedUpdate(BaseModel):
    """A person's freshly ranked feed, published to the feed topic."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TOPIC: ClassVar[str] = topics.FEED

    user_id: Id
    generated_at: Timestamp
    items: list[FeedItem]
    model_version: str


class ErasureRequest(BaseModel):
    """A person's erasure on the compacted erasure topic (keyed by `user_id`): first recorded as
    `requested`, then replaced by the same request `completed` with its receipt (what was removed
    where, `glamcast.platform.erasure`). The latest record of a person is kept forever."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TOPIC: ClassVar[str] = topics.ERASURE

    user_id: Id
    requested_at: Timestamp
    requested_by: Annotated[str, Field(max_length=64)] = Field(
        description="Who asked: `cli` or `api` (the key's scope), for the audit trail.")
    status: Literal["requested", "completed"]
    completed_at: Timestamp | None = None
    removed: dict[Annotated[str, Field(max_length=200)], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Rows, keys or vectors removed per place (`lake/tryon`, "
        "`online_store/user_activity_fv`, `model/<name>`, `feed_topic`...), by the first "
        "completed run.")


class TrendAlert(BaseModel):
    """A trend alert of the forecast job (`jobs/forecast_trends.py`), keyed by `alert_id`: a
    `breakout`, or a `band_exit` (at least 3 of the last 7 actuals above or below the forecast
    band). Each alert is published once (`glamcast.platform.alerts`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TOPIC: ClassVar[str] = topics.ALERTS

    alert_id: Id
    ts: Timestamp = Field(description="When the alert was raised.")
    kind: Literal["breakout", "band_exit"]
    direction: Literal["up", "down"]
    term_type: Annotated[str, Field(max_length=64)]
    term: Annotated[str, Field(max_length=200)]
    origin: date = Field(description="Last day of history of the forecast run that raised it.")
    run_id: Annotated[str, Field(max_length=64)] | None = None
    trend_class: Annotated[str, Field(max_length=32)]
    detail: Annotated[str, Field(max_length=300)] = Field(description="What happened, in words.")


#: The model of each topic's values.
TOPIC_MODELS: dict[str, type[BaseModel]] = {
    model.TOPIC: model
    for model in (TryOnEvent, SocialEvent, CommerceEvent, CatalogEvent, DeadLetter, FeedUpdate,
                  ErasureRequest, TrendAlert, PreferenceEvent)
}


# --- decoding ----------------------------------------------------------------------------------

REJECTION_REASONS = (
    "oversize",
    "not_utf8",
    "not_json",
    "missing_field",
    "wrong_type",
    "unknown_enum",
    "bad_timestamp",
    "bad_shade",
    "negative_value",
    "out_of_range",
    "too_long",
    "not_finite",
    "processing_error",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record was refused: a reason from REJECTION_REASONS and a precise message."""

    reason: str
    message: str


_TIME_FIELDS = frozenset({"ts", "event_time", "launched_at", "generated_at"})
_ENUM_ERRORS = frozenset({"enum", "literal_error"})
_BOUND_ERRORS = frozenset({"greater_than_equal", "greater_than", "less_than_equal", "less_than"})
_LENGTH_ERRORS = frozenset({"string_too_long", "too_long", "bytes_too_long"})


def _classify(error: dict[str, Any]) -> str:
    kind = error["type"]
    field = error["loc"][0] if error["loc"] else ""
    if kind == "missing":
        return "missing_field"
    if kind == "json_invalid":
        return "not_json"
    if field in _TIME_FIELDS:
        return "bad_timestamp"
    if field == "shade_hex":
        return "bad_shade"
    if kind in _ENUM_ERRORS:
        return "unknown_enum"
    if kind in _LENGTH_ERRORS:
        return "too_long"
    if kind == "finite_number":
        return "not_finite"
    if kind in _BOUND_ERRORS:
        return "negative_value" if error.get("ctx", {}).get("ge") == 0 else "out_of_range"
    return "wrong_type"


def _shown(value: Any) -> str:
    """A short repr of a rejected value; never raises (an int past Python's digit limit)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, (str, bytes)):
        value = value[:60]  # a repr of a megabyte is never built
    elif isinstance(value, (dict, list)):
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        shown = repr(value)
    except ValueError:
        return f"<{type(value).__name__}>"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "<record>"
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    shown = _shown(error.get("input"))
    rule = error["msg"]
    if error["type"] == "string_pattern_mismatch" and where.endswith("shade_hex"):
        rule = "does not match #RRGGBB"
    return f"{where}: {shown} {rule}"


def explain(exc: ValidationError) -> Rejection:
    """The reason of the first error and a message naming every failing field."""
    errors = exc.errors(include_url=False)
    return Rejection(_classify(errors[0]), "; ".join(_describe(error) for error in errors))


def decode_event(
    model: type[BaseModel],
    raw: bytes | None,
    *,
    max_bytes: int = 64 * 1024,
    max_future_skew: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> BaseModel | Rejection:
    """Validate one raw record value against `model`; never raises on bad input."""
    if raw is None:
        return Rejection("not_json", "<record>: empty value (tombstone) where an event was expected")
    if len(raw) > max_bytes:
        return Rejection("oversize", f"<record>: {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("not_utf8", f"<record>: not UTF-8 at byte {exc.start}")
    try:
        event = model.model_validate_json(text)
    except ValidationError as exc:
        return explain(exc)
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:  # never seen; never fatal
        return Rejection("processing_error", f"<record>: {type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(event, Event):
        moment = event.occurred_at
        if moment > (now or datetime.now(UTC)) + max_future_skew:
            return Rejection(
                "bad_timestamp",
                f"{event.TIME_FIELD}: '{moment.isoformat()}' lies more than "
                f"{int(max_future_skew.total_seconds())} s in the future",
            )
    return event


def encode_event(event: BaseModel) -> bytes:
    """The JSON value written to Kafka for `event` (UTF-8, no nulls for absent optionals)."""
    return event.model_dump_json(exclude_none=True).encode()


def export_schemas(directory: Path) -> list[Path]:
    """Write one JSON Schema file per topic into `directory`; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic, model in TOPIC_MODELS.items():
        path = directory / f"{topic}.schema.json"
        schema = {"$id": f"urn:glamcast:{topic}", **model.model_json_schema()}
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    return written
