"""The Feast store of a profile: the repository, apply, pushes, online and offline writes,
training sets.

What the features are (names, windows, types) is the contract in `glamcast.core.features`; the
pure window aggregates are `models.activity_features`. The store of the active profile comes
from `feature_store(settings)`: the repository's ``feature_store.<profile>.yaml`` with its
``${...}`` placeholders filled from the settings, never by editing files. `apply`,
`training_set`, `push_features`, `write_online` and `write_offline` are the helpers the CLI, the
jobs and the streams use.
"""

from __future__ import annotations

import importlib.util
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from glamcast.core.features import (
    FEED_RANKING_SERVICE,
    PRODUCT_FEATURES,
    PRODUCT_POPULARITY_VIEW,
    USER_ACTIVITY_PUSH_SOURCE,
    USER_ACTIVITY_VIEW,
    USER_FEATURES,
    feature_schema,
)
from glamcast.core.names import EVENT_TIMESTAMP_COL, PRODUCT_COL, USER_COL
from glamcast.core.settings import Profile, Settings

if TYPE_CHECKING:
    from feast import FeatureStore

# --- the Feast repository and store ----------------------------------------------------------------


def repo_dir(settings: Settings) -> Path:
    """The Feast repository directory: `Settings.feature_repo_dir`, else `feature_repo/` beside
    the `glamcast` package (the checkout's, or site-packages' where the wheel installed it)."""
    return (
        settings.feature_repo_dir or Path(__file__).resolve().parents[2] / "feature_repo"
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
            "type": "glamcast.platform.sqlite_online_store.WideSqliteOnlineStore",
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

    from glamcast.platform.lake import filesystem

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

    from glamcast.platform.sqlite_online_store import FeatureValues

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
    """Write feature rows of a stream-fed view to the online store: straight in the store's own
    layout where a direct writer knows it (Feast's Redis store: `glamcast.platform.
    redis_online_writer.RedisRowWriter`, one round trip; the `local` SQLite store:
    `glamcast.platform.sqlite_online_store.SqliteRowWriter`; both without per-row protos), on any
    other through the store's `online_write_batch` (see `online_rows`)."""
    writer = _direct_writer(store, view)
    if writer is not None:
        writer.write(rows, EVENT_TIMESTAMP_COL)
        return
    feature_view = store.get_feature_view(view)
    store.provider.online_write_batch(store.config, feature_view, online_rows(view, rows), None)


def _direct_writer(store: FeatureStore, view: str) -> Any:
    """The direct writer of `view` for `store`'s online store: a `RedisRowWriter` on Feast's
    Redis store on a single Redis server (not a cluster or sentinel), a `SqliteRowWriter` on the
    `local` store, else None. Decided once per store and view (kept on the store: its online
    config is fixed once it is built)."""
    writers = store.__dict__.setdefault("_glamcast_direct_writers", {})
    if view in writers:
        return writers[view]
    from feast.infra.online_stores.redis import RedisOnlineStore, RedisType, _versioned_fv_name

    from glamcast.platform.redis_online_writer import RedisRowWriter
    from glamcast.platform.sqlite_online_store import SqliteRowWriter, WideSqliteOnlineStore

    writer: Any = None
    online, config = store.provider.online_store, store.config
    entity, features = _STREAM_VIEWS[view]
    if type(online) is RedisOnlineStore and config.online_store.redis_type == RedisType.redis:
        writer = RedisRowWriter(
            online._get_client(config.online_store),
            project=config.project,
            key_version=config.entity_key_serialization_version,
            key_ttl_s=config.online_store.key_ttl_seconds,
            view_name=_versioned_fv_name(store.get_feature_view(view), config),
            entity=entity,
            features=features,
        )
    elif isinstance(online, WideSqliteOnlineStore):
        writer = SqliteRowWriter(online, config, store.get_feature_view(view), entity=entity,
                                 features=features)
    writers[view] = writer
    return writer


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

    from glamcast.platform import lake

    directory, name = path.rsplit("/", 1)
    fs, base = lake.filesystem(directory)
    if fs.get_file_info(f"{base}/{name}").type == pafs.FileType.File:
        existing = pq.read_table(f"{base}/{name}", filesystem=fs)
        table = pa.concat_tables(
            [existing, table.select(existing.schema.names).cast(existing.schema)]
        )
    lake.write_file(directory, name, table)


# --- erasure ------------------------------------------------------------------------------------


def user_views(store: FeatureStore) -> list[Any]:
    """The feature views keyed by `user_id` (what holds a person in the online store)."""
    return [view for view in store.list_feature_views() if view.join_keys == [USER_COL]]


def delete_online(store: FeatureStore, user_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Delete people from the online store: every user-keyed view's row of each of `user_ids`.
    Returns ``{user_id: {view: rows deleted}}``, only where something was deleted.

    The `local` SQLite store deletes its one row per (view, person); Redis, whose one hash per
    person holds every user view (a field per feature and a ``_ts:<view>`` per view), counts the
    views in the hash and deletes the key."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    from glamcast.platform.sqlite_online_store import WideSqliteOnlineStore

    keys = [EntityKey(join_keys=[USER_COL], entity_values=[Value(string_val=user)])
            for user in user_ids]
    online = store.provider.online_store
    config = store.config
    views = user_views(store)
    out: dict[str, dict[str, int]] = {}
    if isinstance(online, WideSqliteOnlineStore):
        for view in views:
            for user, count in zip(user_ids, online.delete_entity_keys(config, view, keys),
                                   strict=True):
                if count:
                    out.setdefault(user, {})[view.name] = count
        return out
    if config.online_store.type != "redis" and not type(online).__name__.startswith("Redis"):
        raise NotImplementedError(f"erasure from a {config.online_store.type} online store")
    client = online._get_client(config.online_store)
    names = {view.name for view in views}
    version = config.entity_key_serialization_version
    redis_keys = [_redis_key(config.project, key, entity_key_serialization_version=version)
                  for key in keys]
    with client.pipeline(transaction=False) as pipe:
        for redis_key in redis_keys:
            pipe.hkeys(redis_key)
        fields = pipe.execute()
    with client.pipeline(transaction=False) as pipe:
        for redis_key in redis_keys:
            pipe.delete(redis_key)
        pipe.execute()
    for user, held in zip(user_ids, fields, strict=True):
        present = {field.decode()[4:] for field in held if field.startswith(b"_ts:")}
        for name in sorted(present & names):
            out.setdefault(user, {})[name] = 1
    return out


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
