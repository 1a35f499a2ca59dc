"""Per-person and per-product features: window definitions, the store for a profile, training sets.

Windows (DESIGN "Features"). For one user, let ``T`` be the event time of the user's latest
try-on event seen so far. The window ``w`` (1 h, 24 h, 7 d) holds the user's events with
``T - w < ts <= T`` — sliding, anchored at the user's own latest event, not at wall time, so a
replay or a backfill gives the same values. Every row carries ``event_timestamp = T``: a
training-set row at time ``t`` sees the latest row with ``T <= t``, so only events before ``t``.

Per user (`user_activity_features`):

- ``tries_<w>`` (``try_on`` + ``shade_swap``), ``likes_<w>``, ``carts_<w>`` (``add_to_cart``),
  ``purchases_<w>`` for each window;
- ``tries_7d_<category>`` and ``purchases_7d_<category>`` for each category;
- ``events_7d``; ``fav_shade_family_7d`` and ``fav_finish_7d``: the most frequent value over the
  7 d window, all actions counted, ties to the alphabetically first; ``mean_dwell_ms_7d``;
- ``skin_tone`` and ``undertone``: from the latest event in the 7 d window that carries consented
  face attributes (null when none does); ``last_event_ms``: ``T`` in epoch milliseconds.

Per product (`product_popularity_features`), anchored at the product's latest event the same
way: ``product_tries_<w>``, ``product_likes_<w>``, ``product_carts_<w>``,
``product_purchases_<w>`` for 24 h and 7 d, and ``product_conversion_7d`` =
purchases / tries over 7 d (0 without tries).

The Feast store of the active profile comes from `feature_store(settings)`: the repository's
``feature_store.<profile>.yaml`` with its ``${...}`` placeholders filled from the settings, never
by editing files. `apply`, `training_set`, `push_features`, `write_online` and `write_offline`
are the helpers the CLI, the jobs and the streams use.
"""

from __future__ import annotations

import importlib.util
import string
import sys
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from glamcast.events import Action, Category
from glamcast.settings import Profile, Settings
from glamcast.shades import shade_families_from_hex_array

if TYPE_CHECKING:
    from feast import FeatureStore

# --- names -------------------------------------------------------------------------------------

USER_COL = "user_id"
PRODUCT_COL = "product_id"
TERM_COL = "term"
EVENT_TIMESTAMP_COL = "event_timestamp"

USER_ACTIVITY_PUSH_SOURCE = "user_activity_push_source"
USER_ACTIVITY_VIEW = "user_activity_fv"
PRODUCT_POPULARITY_VIEW = "product_popularity_fv"
PRODUCT_POPULARITY_PUSH_SOURCE = "product_popularity_push_source"
#: Pushed by the feed stage (streams/feed_updates): what a person bought, for the feed's filter.
USER_HISTORY_PUSH_SOURCE = "user_history_push_source"
FEED_RANKING_SERVICE = "feed_ranking_v1"

#: Windows of the user features, (suffix, length).
USER_WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
)
PRODUCT_WINDOWS: tuple[tuple[str, timedelta], ...] = USER_WINDOWS[1:]
LONGEST_WINDOW = timedelta(days=7)

#: Counted kinds of action, (feature name stem, actions).
ACTION_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("tries", frozenset({Action.TRY_ON.value, Action.SHADE_SWAP.value})),
    ("likes", frozenset({Action.LIKE.value})),
    ("carts", frozenset({Action.ADD_TO_CART.value})),
    ("purchases", frozenset({Action.PURCHASE.value})),
)
CATEGORY_KINDS = ("tries", "purchases")
CATEGORIES = tuple(category.value for category in Category)

#: Try-on lake columns the aggregates read.
EVENT_COLUMNS = (
    "event_id",
    "ts",
    USER_COL,
    PRODUCT_COL,
    "action",
    "category",
    "shade_hex",
    "finish",
    "dwell_ms",
    "face_skin_tone",
    "face_undertone",
)

USER_COUNT_FEATURES = (
    tuple(f"{kind}_{suffix}" for suffix, _ in USER_WINDOWS for kind, _ in ACTION_KINDS)
    + tuple(f"{kind}_7d_{category}" for kind in CATEGORY_KINDS for category in CATEGORIES)
    + ("events_7d",)
)
#: Every user feature with its Feast type name (feature_repo maps the names to Feast types).
USER_FEATURES: dict[str, str] = {
    **dict.fromkeys(USER_COUNT_FEATURES, "Int64"),
    "fav_shade_family_7d": "String",
    "fav_finish_7d": "String",
    "mean_dwell_ms_7d": "Float64",
    "skin_tone": "Int64",
    "undertone": "String",
    "last_event_ms": "Int64",
}
PRODUCT_COUNT_FEATURES = tuple(
    f"product_{kind}_{suffix}" for suffix, _ in PRODUCT_WINDOWS for kind, _ in ACTION_KINDS
)
PRODUCT_FEATURES: dict[str, str] = {
    **dict.fromkeys(PRODUCT_COUNT_FEATURES, "Int64"),
    "product_conversion_7d": "Float64",
}
TERM_FEATURES: dict[str, str] = {"trend_score": "Float64", "trend_weight": "Float64"}
#: Products the user bought within the 7 d window of their latest event (streams/feed_updates).
USER_HISTORY_FEATURES: dict[str, str] = {"purchased_products_7d": "Array(String)"}
#: Embedding views read the champion recommender's tables (jobs/train_recommender) as written:
#: feature name → (Feast type, column in the table).
USER_EMBEDDING_FEATURES: dict[str, str] = {
    "user_embedding": "Array(Float32)",
    "user_model_version": "Int32",
}
ITEM_EMBEDDING_FEATURES: dict[str, str] = {
    "item_embedding": "Array(Float32)",
    "item_bias": "Float32",
    "item_model_version": "Int32",
}
EMBEDDING_COLUMNS = {
    "user_embedding": "embedding",
    "user_model_version": "model_version",
    "item_embedding": "embedding",
    "item_bias": "bias",
    "item_model_version": "model_version",
}

_FEAST_NUMPY = {"Int64": "Int64", "Float64": "float64", "String": "object"}


def _require(events: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [name for name in columns if name not in events.columns]
    if missing:
        raise KeyError(f"try-on events lack column(s) {missing}")


# --- window aggregates (pure) --------------------------------------------------------------------


def _anchored(events: pd.DataFrame, key: str) -> tuple[pd.DataFrame, pd.Series]:
    """Events within the longest window of their key's latest event, with `age` = T - ts."""
    latest = events.groupby(key, sort=True)["ts"].max()
    frame = events.assign(_anchor=events[key].map(latest))
    frame["_age"] = frame["_anchor"] - frame["ts"]
    return frame[frame["_age"] < LONGEST_WINDOW], latest


def _mode(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Most frequent value of `column` per key, ties to the alphabetically first."""
    counts = frame.groupby([key, column], sort=False).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", column], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[column]


def _count(frame: pd.DataFrame, key: str, mask: np.ndarray, index: pd.Index) -> pd.Series:
    return frame.loc[mask].groupby(key).size().reindex(index, fill_value=0).astype("int64")


def user_activity_features(events: pd.DataFrame) -> pd.DataFrame:
    """Try-on events (lake columns, `EVENT_COLUMNS`) → one feature row per user, as of the user's
    latest event: ``user_id, event_timestamp`` and `USER_FEATURES` (see the module docstring)."""
    _require(events, EVENT_COLUMNS)
    columns = [USER_COL, EVENT_TIMESTAMP_COL, *USER_FEATURES]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in columns})
    events = events.drop_duplicates("event_id")
    frame, latest = _anchored(events, USER_COL)
    index = latest.index
    out = pd.DataFrame(index=index)
    out[EVENT_TIMESTAMP_COL] = latest
    action = frame["action"].to_numpy()
    age = frame["_age"].to_numpy()
    for suffix, length in USER_WINDOWS:
        inside = age < np.timedelta64(length)
        for kind, actions in ACTION_KINDS:
            out[f"{kind}_{suffix}"] = _count(
                frame, USER_COL, inside & np.isin(action, list(actions)), index
            )
    category = frame["category"].to_numpy()
    kinds = dict(ACTION_KINDS)
    for kind in CATEGORY_KINDS:
        of_kind = np.isin(action, list(kinds[kind]))
        for name in CATEGORIES:
            out[f"{kind}_7d_{name}"] = _count(frame, USER_COL, of_kind & (category == name), index)
    out["events_7d"] = frame.groupby(USER_COL).size().reindex(index, fill_value=0).astype("int64")
    families = frame.assign(_family=shade_families_from_hex_array(frame["shade_hex"].to_numpy()))
    out["fav_shade_family_7d"] = _mode(families, USER_COL, "_family").reindex(index)
    out["fav_finish_7d"] = _mode(frame, USER_COL, "finish").reindex(index)
    out["mean_dwell_ms_7d"] = (
        frame.groupby(USER_COL)["dwell_ms"].mean().reindex(index).astype("float64")
    )
    faces = frame[frame["face_skin_tone"].notna()].sort_values(["ts", "event_id"])
    last_face = faces.drop_duplicates(USER_COL, keep="last").set_index(USER_COL)
    out["skin_tone"] = last_face["face_skin_tone"].reindex(index).astype("Int64")
    out["undertone"] = last_face["face_undertone"].reindex(index).astype(object)
    out["last_event_ms"] = (latest.astype("datetime64[us, UTC]").astype("int64") // 1000).astype(
        "int64"
    )
    return out.rename_axis(USER_COL).reset_index()[columns]


def product_popularity_features(events: pd.DataFrame) -> pd.DataFrame:
    """Try-on events → one row per product, as of the product's latest event:
    ``product_id, event_timestamp`` and `PRODUCT_FEATURES`."""
    _require(events, EVENT_COLUMNS)
    columns = [PRODUCT_COL, EVENT_TIMESTAMP_COL, *PRODUCT_FEATURES]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in columns})
    events = events.drop_duplicates("event_id")
    frame, latest = _anchored(events, PRODUCT_COL)
    index = latest.index
    out = pd.DataFrame(index=index)
    out[EVENT_TIMESTAMP_COL] = latest
    action = frame["action"].to_numpy()
    age = frame["_age"].to_numpy()
    for suffix, length in PRODUCT_WINDOWS:
        inside = age < np.timedelta64(length)
        for kind, actions in ACTION_KINDS:
            out[f"product_{kind}_{suffix}"] = _count(
                frame, PRODUCT_COL, inside & np.isin(action, list(actions)), index
            )
    tries = out["product_tries_7d"].to_numpy()
    out["product_conversion_7d"] = np.where(
        tries > 0, out["product_purchases_7d"].to_numpy() / np.maximum(tries, 1), 0.0
    )
    return out.rename_axis(PRODUCT_COL).reset_index()[columns]


def _dtype(name: str) -> Any:
    if name == EVENT_TIMESTAMP_COL:
        return "datetime64[us, UTC]"
    kind = USER_FEATURES.get(name) or PRODUCT_FEATURES.get(name) or "String"
    return _FEAST_NUMPY.get(kind, "object")


def feature_schema(
    entity: str, features: dict[str, str], columns: dict[str, str] | None = None
) -> pa.Schema:
    """Arrow schema of an offline feature table; `columns` renames features to table columns."""
    types = {
        "Int32": pa.int32(),
        "Int64": pa.int64(),
        "Float32": pa.float32(),
        "Float64": pa.float64(),
        "String": pa.string(),
        "Array(Float32)": pa.list_(pa.float32()),
        "Array(String)": pa.list_(pa.string()),
    }
    columns = columns or {}
    return pa.schema(
        [
            (entity, pa.string()),
            (EVENT_TIMESTAMP_COL, pa.timestamp("us", tz="UTC")),
            *((columns.get(name, name), types[kind]) for name, kind in features.items()),
        ]
    )


# --- the Feast repository and store ----------------------------------------------------------------


def repo_dir(settings: Settings) -> Path:
    """The Feast repository directory (`feature_repo/`)."""
    return (
        settings.feature_repo_dir or Path(__file__).resolve().parents[1] / "feature_repo"
    ).resolve()


def feast_dir(settings: Settings) -> Path:
    """Where the local profile keeps the Feast registry and SQLite online store."""
    return (settings.feast_dir or settings.state_path / "feast").expanduser().resolve()


def _redis_connection_string(url: str) -> str:
    """``redis://[:password@]host:port/db`` → Feast's ``host:port,db=N[,password=...]``."""
    parts = urlsplit(url if "://" in url else f"redis://{url}")
    options = [f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"]
    db = parts.path.strip("/")
    if db:
        options.append(f"db={db}")
    if parts.password:
        options.append(f"password={parts.password}")
    if parts.scheme == "rediss":
        options.append("ssl=true")
    return ",".join(options)


def _sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL for SQLAlchemy with the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def repo_values(settings: Settings) -> dict[str, str]:
    """The values of the ``${...}`` placeholders in ``feature_store.<profile>.yaml``."""
    values = {
        "FEAST_PROJECT": settings.feast_project,
        "FEAST_LOCAL_DIR": str(feast_dir(settings)),
        "SPARK_MASTER": settings.spark_master_url,
        "REDIS_CONNECTION": "",
        "REGISTRY_URL": "",
    }
    if settings.profile is Profile.PROD:
        assert settings.redis_url and settings.registry_db_url  # checked by the settings
        values["REDIS_CONNECTION"] = _redis_connection_string(settings.redis_url)
        values["REGISTRY_URL"] = _sqlalchemy_url(settings.registry_db_url.get_secret_value())
    return values


def online_store_config(settings: Settings) -> dict[str, str]:
    """The ``online_store`` block that `Settings.feast_online_store` asks for."""
    kind = settings.feast_online_store
    if kind == "sqlite":
        return {
            "type": "glamcast.sqlite_online_store.WideSqliteOnlineStore",
            "path": str(feast_dir(settings) / "online_store.db"),
        }
    if kind == "redis":
        if not settings.redis_url:
            raise ValueError("GLAMCAST_FEAST_ONLINE_STORE=redis needs GLAMCAST_REDIS_URL")
        return {"type": "redis", "connection_string": _redis_connection_string(settings.redis_url)}
    raise ValueError(f"GLAMCAST_FEAST_ONLINE_STORE must be sqlite or redis, not {kind!r}")


def repo_config(settings: Settings) -> Any:
    """The Feast `RepoConfig` of the active profile, from ``feature_store.<profile>.yaml``."""
    from feast.repo_config import RepoConfig

    path = repo_dir(settings) / f"feature_store.{settings.profile.value}.yaml"
    text = string.Template(path.read_text()).substitute(repo_values(settings))
    raw = yaml.safe_load(text)
    if settings.profile is Profile.LOCAL:
        feast_dir(settings).mkdir(parents=True, exist_ok=True)
    if settings.feast_online_store is not None:
        raw["online_store"] = online_store_config(settings)
    config = RepoConfig(**raw)
    config.repo_path = repo_dir(settings)
    return config


def feature_store(settings: Settings) -> FeatureStore:
    """A Feast `FeatureStore` for the active profile (nothing is applied)."""
    from feast import FeatureStore

    return FeatureStore(config=repo_config(settings))


def load_repo(settings: Settings) -> ModuleType:
    """Import the `feature_repo` package from `repo_dir` (it is not an installed package)."""
    directory = repo_dir(settings)
    loaded = sys.modules.get("feature_repo")
    if loaded is not None and Path(loaded.__file__ or "").parent == directory:
        return loaded
    spec = importlib.util.spec_from_file_location(
        "feature_repo", directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["feature_repo"] = module
    spec.loader.exec_module(module)
    return module


def repo_objects(settings: Settings) -> list[Any]:
    """Every Feast object of the repository for the settings' profile and lake."""
    return load_repo(settings).definitions(settings.profile.value, settings.lake_root)


def _ensure_offline_files(settings: Settings) -> None:
    """Create the empty offline tables of the push and batch sources that do not exist yet
    (Feast reads a source's schema from its data, and appends pushed rows to it)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from glamcast.lake import filesystem

    repo = load_repo(settings)
    fs, base = filesystem(settings.lake_root)
    for relative, schema in repo.offline_tables(settings.profile.value).items():
        if relative.endswith(".parquet"):  # a single-file source (local push sources)
            path = f"{base}/{relative}"
            fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        else:  # a directory source: an empty part gives readers the schema
            fs.create_dir(f"{base}/{relative}", recursive=True)
            path = f"{base}/{relative}/part-00000-empty.parquet"
            if any(
                info.type == pafs.FileType.File and info.path.endswith(".parquet")
                for info in fs.get_file_info(pafs.FileSelector(f"{base}/{relative}"))
            ):
                continue
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            pq.write_table(schema.empty_table(), path, filesystem=fs)


def apply(settings: Settings) -> list[str]:
    """``feast apply`` for the active profile: registers every object of `feature_repo`,
    creates the online tables and the empty offline tables. Returns the applied names."""
    _ensure_offline_files(settings)
    objects = repo_objects(settings)
    store = feature_store(settings)
    store.apply(objects)  # the local online store sets its WAL journal itself
    return sorted(obj.name for obj in objects)


def is_applied(settings: Settings) -> bool:
    """Whether the profile's registry knows the user push source (what the stream stage needs)."""
    if settings.profile is Profile.LOCAL and not (feast_dir(settings) / "registry.db").exists():
        return False
    try:
        feature_store(settings).get_data_source(USER_ACTIVITY_PUSH_SOURCE)
    except Exception:  # noqa: BLE001 — any registry error means "not usable yet"
        return False
    return True


def push_features(
    store: FeatureStore, source: str, frame: pd.DataFrame, *, offline: bool = True
) -> None:
    """Push one feature DataFrame to a push source, online and (by default) offline (in
    `local`, offline by `append_local_offline`)."""
    from feast.data_source import PushMode

    if frame.empty:
        return
    if not offline:
        store.push(source, frame, to=PushMode.ONLINE)
        return
    files = [
        _local_offline_file(store, view)
        for view in store.list_feature_views()
        if view.stream_source is not None and view.stream_source.name == source
    ]
    if files and all(files):
        store.push(source, frame, to=PushMode.ONLINE)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for path in files:
            append_local_offline(path, table)
    else:
        store.push(source, frame, to=PushMode.ONLINE_AND_OFFLINE)


#: Feast value fields by feature type name.
_PROTO_FIELDS = {
    "Int32": "int32_val",
    "Int64": "int64_val",
    "Float32": "float_val",
    "Float64": "double_val",
    "String": "string_val",
}
#: Stream-fed views: entity column and features.
_STREAM_VIEWS: dict[str, tuple[str, dict[str, str]]] = {
    USER_ACTIVITY_VIEW: (USER_COL, USER_FEATURES),
    PRODUCT_POPULARITY_VIEW: (PRODUCT_COL, PRODUCT_FEATURES),
}


def online_rows(view: str, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Feature rows (dicts: entity, ``event_timestamp``, every feature of a stream-fed view) →
    the ``(entity key, {feature: value}, event time, created time)`` tuples of Feast's
    `OnlineStore.online_write_batch`, built value by value from the known types (Feast's
    DataFrame path converts through Arrow and pandas, about 0.3 ms a row of 43 features).

    Each row's features are set in place in one map `Value` (`FeatureValues`), which the
    `local` store writes as it is and any other store reads as a mapping."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    from glamcast.sqlite_online_store import FeatureValues

    entity, features = _STREAM_VIEWS[view]
    fields = [(name, _PROTO_FIELDS[kind]) for name, kind in features.items()]
    out = []
    for row in rows:
        value = Value()
        features_map = value.map_val.val
        for name, field in fields:
            raw = row[name]
            if raw is None:
                features_map.get_or_create(name)  # an unset Value: Feast's null
            else:
                setattr(features_map[name], field, raw)
        key = EntityKey(join_keys=[entity], entity_values=[Value(string_val=row[entity])])
        out.append((key, FeatureValues(value), row[EVENT_TIMESTAMP_COL], None))
    return out


def write_online(store: FeatureStore, view: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write feature rows of a stream-fed view to the online store (see `online_rows`)."""
    feature_view = store.get_feature_view(view)
    store.provider.online_write_batch(store.config, feature_view, online_rows(view, rows), None)


def write_offline(store: FeatureStore, view: str, rows: Sequence[dict[str, Any]]) -> None:
    """Append feature rows of a stream-fed view to its offline table, in one write (in
    `local`, by `append_local_offline`; otherwise Feast's `write_to_offline_store`)."""
    entity, features = _STREAM_VIEWS[view]
    table = pa.Table.from_pylist(list(rows), schema=feature_schema(entity, features))
    path = _local_offline_file(store, store.get_feature_view(view))
    if path:
        append_local_offline(path, table)
    else:
        store.write_to_offline_store(view, table.to_pandas(types_mapper=pd.ArrowDtype))


def _local_offline_file(store: FeatureStore, feature_view: Any) -> str | None:
    """The one Parquet file that holds `feature_view`'s offline table with the file offline
    store (`local`); None for any other store."""
    path = getattr(feature_view.batch_source, "path", "")
    local = store.config.offline_store.type == "file" and path.endswith(".parquet")
    return path if local else None


def append_local_offline(path: str, table: pa.Table) -> None:
    """Append `table` to a single-file offline table (`local`, `path` from the view's batch
    source): the whole new file is written beside the old one and renamed over it
    (`lake.write_file`).

    Feast's file offline store appends by writing the file over in place, so a worker killed
    during an append would leave a broken table on which every later append and training set
    fails. Like Feast's, the append still rewrites the whole file."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from glamcast import lake

    directory, name = path.rsplit("/", 1)
    fs, base = lake.filesystem(directory)
    if fs.get_file_info(f"{base}/{name}").type == pafs.FileType.File:
        existing = pq.read_table(f"{base}/{name}", filesystem=fs)
        table = pa.concat_tables(
            [existing, table.select(existing.schema.names).cast(existing.schema)]
        )
    lake.write_file(directory, name, table)


def training_set(
    settings: Settings,
    rows: pd.DataFrame,
    features: Sequence[str] | str = FEED_RANKING_SERVICE,
    *,
    store: FeatureStore | None = None,
) -> pd.DataFrame:
    """A point-in-time-correct training set from the offline store.

    `rows` holds ``user_id`` (and ``product_id`` when product features are asked for) and
    ``event_timestamp`` (or ``ts``): for each row, every feature comes from the latest feature
    row of its entity whose event time is at or before that timestamp, so only from events that
    happened by then. `features` is a feature service name or a list of ``view:feature`` refs.
    Returns `rows` with the feature columns added, in the order of `rows`.
    """
    store = store or feature_store(settings)
    entity_df = rows.rename(columns={"ts": EVENT_TIMESTAMP_COL}) if "ts" in rows else rows.copy()
    if EVENT_TIMESTAMP_COL not in entity_df:
        raise KeyError(f"training rows need an {EVENT_TIMESTAMP_COL!r} (or 'ts') column")
    entity_df[EVENT_TIMESTAMP_COL] = pd.to_datetime(entity_df[EVENT_TIMESTAMP_COL], utc=True)
    entity_df["_row"] = np.arange(len(entity_df))
    wanted: Any = (
        store.get_feature_service(features) if isinstance(features, str) else list(features)
    )
    result = store.get_historical_features(entity_df=entity_df, features=wanted).to_df()
    # The file offline store drops a row whose entity has feature rows, but none by its time;
    # joining back on the row number keeps every row, with nulls (nothing happened before it).
    added = [name for name in result.columns if name not in entity_df.columns]
    joined = entity_df.merge(result[["_row", *added]], on="_row", how="left")
    return joined.sort_values("_row").drop(columns="_row").reset_index(drop=True)
