"""Look GAN quality on a simulated world: the GAN against two baselines, per condition, and its
training speed.

Simulates a world (default 3,000 people × 60 days, 400 curated looks, 1.5 visits to the looks tab
per person-week), writes its try-ons, catalogue and looks to a temporary lake with the lake's own
writers, then runs the job's core (`jobs.train_look_gan.train_look_gan_job`: Spark ``local[2]``
reads and aggregates the lake, TorchDistributor trains, the temperature is calibrated on
validation looks, the evaluation runs on held-out looks) without MLflow. Baselines: a Gaussian
per condition, and the training look of the nearest face.

Prints the evaluation table (precision, recall, novelty per condition for gan, gaussian and
nearest), the conditions where the GAN fails (precision or recall not above the Gaussian's,
novelty ≤ 0.5), how often the lips follow an asked shade family, the training speed (samples/s:
real looks through the critic per second) and the device; then, as its last line,
``RESULT {"gan": {"precision", "recall", "novelty", ...}, "gaussian": {...}, "nearest": {...},
...}``. Palettes and loss curves are kept under --report-dir.

    .venv/bin/python bench/look_gan_quality.py [--users 3000] [--days 60] [--steps 3000] [--gan-seed N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from glamcast.core.progress import rich_progress
from glamcast.core.settings import Settings
from glamcast.platform.spark import spark_session
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import write_world_lake
from jobs.train_look_gan import (
    ALL,
    MODELS,
    TrainLookGanConfig,
    evaluation_table,
    failed_checks,
    train_look_gan_job,
)
from models.look_gan import LookGanConfig
from models.look_space import CONDITION_GROUPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--looks", type=int, default=400)
    parser.add_argument(
        "--look-sessions", type=float, default=1.5, help="visits to the looks tab per person-week"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="generator steps (default: the job's)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the world")
    parser.add_argument(
        "--gan-seed", type=int, default=None, help="seed of the GAN (default: the job's)"
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="keep palettes, loss curves and tables here (default: a temp dir)",
    )
    args = parser.parse_args()
    console = Console(width=170)  # the table is wide; logs are not terminals

    scratch = Path(tempfile.mkdtemp(prefix="look-gan-bench-"))
    settings = Settings(state_dir=scratch)
    world_config = SimulationConfig(
        users=args.users,
        days=args.days,
        start=date(2025, 1, 6),
        seed=args.seed,
        looks=args.looks,
        look_sessions_per_user_per_week=args.look_sessions,
    )
    started = time.perf_counter()
    counts = write_world_lake(settings, World.build(world_config))
    lake_s = time.perf_counter() - started
    console.print(f"simulated lake: {counts} in {lake_s:.0f} s ({scratch / 'lake'})")

    report_dir = args.report_dir or scratch / "report"
    config = TrainLookGanConfig(gan=LookGanConfig(steps=args.steps, seed=args.gan_seed),
                                report_dir=report_dir, register=False)
    spark = spark_session(settings, app_name="look-gan-bench", master="local[2]")
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            result = train_look_gan_job(
                spark, settings, config, on_progress=rich_progress(progress), log_to_mlflow=False
            )
    finally:
        spark.stop()

    evaluation, fit = result.evaluation, result.fit
    console.print(evaluation_table(evaluation, "Look GAN vs baselines on held-out looks"))
    failures = {
        group: failed_checks(evaluation, group)
        for group in (ALL, *CONDITION_GROUPS)
        if ((evaluation.table["model"] == "gan") & (evaluation.table["group"] == group)).any()
    }
    failures = {group: checks for group, checks in failures.items() if checks}
    if failures:
        for group, checks in failures.items():
            console.print(f"[red]GAN fails in {group}:[/] {', '.join(checks)}")
    else:
        console.print(
            "[green]The GAN beats the Gaussian on precision and recall, with novelty "
            "above 0.5, overall and in every condition.[/]"
        )
    terms = evaluation.term_fidelity
    console.print(
        "lips follow the asked shade family: "
        + ", ".join(
            f"{row.family} {row.share_matching:.0%}" for row in terms.itertuples(index=False)
        )
    )
    steps_per_s = (fit.steps - fit.resumed_from) / fit.train_s
    console.print(
        f"training on {fit.device}: {fit.steps} steps in {fit.train_s:.0f} s = "
        f"{steps_per_s:.1f} steps/s, {fit.samples_per_s:,.0f} samples/s "
        f"(batch {config.gan.batch_size} × {config.gan.n_critic} critic steps); "
        f"temperature {result.metrics['temperature']}; figures in {report_dir}"
    )
    console.print("CUDA: not measured (no GPU on this machine)" if fit.device == "cpu" else "")

    def overall(model: str) -> dict[str, float]:
        return {key: round(value, 4) for key, value in evaluation.overall(model).items()}

    table = evaluation.table
    by_condition = {
        group: {
            model: {
                metric: round(float(row[metric]), 4)
                for metric in ("precision", "recall", "novelty")
            }
            for model in MODELS
            for _, row in table[(table["model"] == model) & (table["group"] == group)].iterrows()
        }
        for group in CONDITION_GROUPS
        if (table["group"] == group).any()
    }
    payload = {
        **{model: overall(model) for model in MODELS},
        "by_condition": by_condition,
        "failed_conditions": failures,
        "term_fidelity": {
            row.family: round(row.share_matching, 4) for row in terms.itertuples(index=False)
        },
        "novelty_threshold": round(evaluation.facts["novelty_threshold"], 4),
        "temperature": result.metrics["temperature"],
        "device": fit.device,
        "samples_per_s": round(fit.samples_per_s, 1),
        "steps_per_s": round(steps_per_s, 2),
        "train_s": round(fit.train_s, 1),
        "steps": fit.steps,
        "rows": result.rows,
        "world": {
            "users": args.users,
            "days": args.days,
            "looks": args.looks,
            "look_sessions_per_user_per_week": args.look_sessions,
        },
    }
    print("RESULT " + json.dumps(payload))


if __name__ == "__main__":
    main()
