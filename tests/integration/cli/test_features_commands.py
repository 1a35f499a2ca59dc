"""`glamcast features apply` and `glamcast features materialize`, in-process through the CLI,
on a state dir, lake and Feast project of their own (`local` profile)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from glamcast.cli import app
from glamcast.core.names import TREND_COUNTS
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.features import feature_store

pytestmark = pytest.mark.integration


def test_apply_then_materialize_through_the_cli(tmp_path: Path, unique: str) -> None:
    env = {
        "GLAMCAST_STATE_DIR": str(tmp_path / "state"),
        "GLAMCAST_LAKE_URI": str(tmp_path / "lake"),
        "GLAMCAST_FEAST_PROJECT": f"cli{unique}",
        "COLUMNS": "400",
    }
    runner = CliRunner()
    applied = runner.invoke(app, ["features", "apply"], env=env)
    assert applied.exit_code == 0, applied.output
    assert f"to Feast project cli{unique} (local)" in applied.output
    assert "feed_ranking_v1" in applied.output and "user_activity_fv" in applied.output

    end = datetime(2025, 3, 9, 12, 30, tzinfo=UTC)
    hours = [end.replace(minute=0) - timedelta(hours=h) for h in range(1, 49)]
    lake.write_file(
        env["GLAMCAST_LAKE_URI"],
        "trend_counts/date=2025-03-09/tryon-p0.parquet",
        pa.table(
            {
                "hour": pa.array(hours, lake.TIMESTAMP),
                "term_type": ["finish"] * len(hours),
                "term": ["matte"] * len(hours),
                "source": ["tryon"] * len(hours),
                "weight": [4.0] + [1.0] * (len(hours) - 1),  # up in the last complete hour
                "events": [1] * len(hours),
            },
            schema=lake.SCHEMAS[TREND_COUNTS],
        ),
    )
    done = runner.invoke(app, ["features", "materialize", "--end", "2025-03-09T12:30:00"], env=env)
    assert done.exit_code == 0, done.output
    assert f"scored hour {hours[0].isoformat()}: 1 terms" in done.output
    assert "materialized term_trends_fv, user_embedding_fv, item_embedding_fv" in done.output

    settings = Settings(
        state_dir=Path(env["GLAMCAST_STATE_DIR"]),
        lake_uri=env["GLAMCAST_LAKE_URI"],
        feast_project=env["GLAMCAST_FEAST_PROJECT"],
    )
    online = feature_store(settings).get_online_features(
        features=["term_trends_fv:trend_weight"], entity_rows=[{"term": "finish:matte"}]
    )
    assert online.to_dict()["trend_weight"] == [4.0]
