"""The look GAN job end to end: simulated lake → Spark → TorchDistributor → MLflow → registry →
`glamcast looks generate` from the champion in a fresh process.

One real MLflow server (the session stack) and the session SparkSession. A small world with busy
looks tabs is written to a lake with the lake's writers (try-ons, catalogue, looks). The first
run trains a few steps through TorchDistributor, registers version 1 and takes the champion
alias; a second run through the CLI (in this process, no TorchDistributor) registers version 2
and moves the alias only if it scores better on the same held-out looks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from glamcast.cli import app
from glamcast.core.names import CATALOG, CHAMPION, TRYON
from glamcast.core.settings import Settings
from glamcast.platform import lake
from glamcast.platform.model_registry import tracking_uri
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import write_world_lake
from jobs.train_look_gan import TrainLookGanConfig, train_look_gan_job
from models.look_gan import LookGanConfig

pytestmark = pytest.mark.integration

SIMULATION = SimulationConfig(
    users=160,
    days=7,
    start=date(2026, 3, 2),
    seed=23,
    products=120,
    looks=48,
    look_sessions_per_user_per_week=6.0,
    posts_per_day=10,
)
#: A GAN small enough to train in seconds on a busy CPU.
FAST_GAN = {
    "steps": 40,
    "hidden": 32,
    "latent_dim": 8,
    "generator_layers": 2,
    "critic_layers": 2,
    "batch_size": 64,
    "pac": 2,
    "n_critic": 2,
    "log_every": 10,
    "checkpoint_every": 20,
}


@pytest.fixture(scope="module")
def lake_settings(stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("look-gan-lake")
    counts = write_world_lake(str(root), World.build(SIMULATION))
    assert counts[TRYON] > 2_000 and counts["looks"] == 4 * SIMULATION.looks
    return stack_settings.model_copy(update={"lake_uri": str(root)})


def test_job_trains_logs_registers_and_looks_generate_uses_the_champion(
    spark, lake_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    checkpoints = tmp_path / "checkpoints"
    config = TrainLookGanConfig(gan=LookGanConfig(**FAST_GAN), checkpoint_dir=checkpoints,
                                palette_looks=3)
    stages: list[str] = []
    result = train_look_gan_job(
        spark, lake_settings, config, on_progress=lambda stage, done, total: stages.append(stage)
    )

    # data: pairs from the lake, split by look
    rows = result.rows
    assert rows["rows.pairs"] == (
        rows["rows.train_pairs"] + rows["rows.validation_pairs"] + rows["rows.heldout_pairs"]
    )
    assert rows["rows.train_pairs"] > 100 and rows["rows.heldout_pairs"] > 10
    assert (
        rows["rows.positive_with_face"] <= rows["rows.positive_events"] <= rows["rows.look_events"]
    )
    assert (
        rows["rows.looks"] == SIMULATION.looks
        and rows["rows.catalog_products"] == SIMULATION.products
    )
    assert "training look GAN (generator steps)" in stages
    assert result.fit.steps == 40 and result.fit.device == "cpu"
    assert sorted(p.name for p in checkpoints.glob("*.pt")) == [
        "look_gan-step0000020.pt",
        "look_gan-step0000040.pt",
    ]

    # evaluation: every model and condition, with the metrics the issue asks for
    table = result.evaluation.table
    assert set(table["model"]) == {"gan", "gaussian", "mixture", "nearest"}
    assert -1.0 <= result.evaluation.facts["boldness_spearman"] <= 1.0
    overall = table[table["group"] == "all"].set_index("model")
    assert overall.loc["nearest", "novelty"] == 0.0
    assert overall[["precision", "recall"]].notna().all().all()
    assert len(result.evaluation.term_fidelity) == 5

    # MLflow: params, metrics, loss curves, palettes, the model, the registry
    client = mlflow.MlflowClient(tracking_uri(lake_settings))
    run = client.get_run(result.run_id)
    assert run.data.params["gan.steps"] == "40" and run.data.params["heldout_share"] == "0.25"
    for key in (
        "gan.precision",
        "gaussian.recall",
        "mixture.precision",
        "nearest.novelty",
        "boldness_spearman",
        "gan.novelty.warm/medium",
        "samples_per_s",
        "rows.train_pairs",
        "novelty_threshold",
        "term_fidelity.coral",
    ):
        assert key in run.data.metrics, key
    assert len(client.get_metric_history(result.run_id, "train.wasserstein")) == 4
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"plots", "evaluation", "samples", "config"} <= artifacts
    assert {a.path for a in client.list_artifacts(result.run_id, "plots")} == {
        "plots/losses.png",
        "plots/palettes.png",
    }
    # names from the settings: the run's params and result record them
    model_name = lake_settings.look_gan_model_name
    assert client.get_experiment(run.info.experiment_id).name == lake_settings.look_gan_experiment
    assert run.data.params["registered_model"] == model_name == "glamcast-look-gan"
    assert result.config.experiment == "look_gan"
    registration = result.registration
    assert registration.model_name == model_name
    assert registration.version == 1 and registration.promoted
    assert registration.score == result.metrics["champion_score"]
    assert run.data.tags["promoted"] == "true" and run.data.tags["registered_version"] == "1"
    assert client.get_model_version_by_alias(model_name, CHAMPION).version == "1"

    # a second run through the CLI: registered, promoted only when it beats the champion
    monkeypatch.setenv("GLAMCAST_LAKE_URI", lake_settings.lake_root)
    monkeypatch.setenv("GLAMCAST_STATE_DIR", str(lake_settings.state_dir))
    outcome = CliRunner().invoke(
        app,
        [
            "train",
            "look-gan",
            "--steps",
            "10",
            "--hidden",
            "32",
            "--batch-size",
            "64",
            "--pac",
            "2",
            "--n-critic",
            "1",
            "--no-distributed",
            "--checkpoint-every",
            "0",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert "registered glamcast-look-gan v2" in outcome.output
    versions = client.search_model_versions(f"name='{model_name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    second = client.get_run(next(v.run_id for v in versions if v.version == "2"))
    # the old champion was scored on the new run's held-out looks
    assert "champion_before.precision" in second.data.metrics
    champion = client.get_model_version_by_alias(model_name, CHAMPION).version
    assert second.data.tags["promoted"] in ("true", "false")
    assert champion == ("2" if second.data.tags["promoted"] == "true" else "1")

    # looks generate, from the registered champion, in a fresh process
    palette = tmp_path / "palette.png"
    env = {**os.environ, "GLAMCAST_STATE_DIR": str(lake_settings.state_dir), "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "glamcast.cli",
            "looks",
            "generate",
            "--skin-tone",
            "7",
            "--undertone",
            "warm",
            "--n",
            "3",
            "--out",
            str(palette),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    products = lake.read_dataset(lake_settings, CATALOG)["product_id"]
    named = [product for product in products if product in done.stdout]
    assert len(named) >= 3, done.stdout  # a look is a list of real products
    assert palette.stat().st_size > 2_000
