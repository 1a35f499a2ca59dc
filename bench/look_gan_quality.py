"""Look GAN quality on a simulated world, over several GAN seeds: the GAN against three baselines,
per condition, how it follows boldness, and its training speed.

Simulates a world (default 3,000 people × 60 days, 400 curated looks, 1.5 visits to the looks tab
per person-week), writes its try-ons, catalogue and looks to a temporary lake with the lake's own
writers, reads it once with the job's Spark reader (``local[2]``), then per GAN seed (`--seeds`,
default 0,1,2) runs the job's core (`jobs.train_look_gan.train_look_gan_on`: TorchDistributor
trains, the temperatures are calibrated on validation looks, the evaluation runs on held-out
looks) without MLflow. Baselines (fitted once, shared by the seeds): a Gaussian per condition, a
Gaussian mixture per condition (its size chosen on the validation looks), and the training look
of the nearest face (copies: a reference, not a rival).

Prints per seed the evaluation table (precision, recall, novelty per condition for every model),
the conditions where the GAN fails (precision or recall not above the Gaussian's or the
mixture's, novelty ≤ 0.5), the boldness response (Spearman correlation of asked boldness and the
generated looks' mean intensity, and the mean intensity per asked level), how often the lips
follow an asked shade family, the training speed and the device; then a summary table over the
seeds and, as its last line, ``RESULT {"seeds": {"0": {"gan": {...}, "gaussian": {...},
"mixture": {...}, "nearest": {...}, "conditions_won": 9, "failed_conditions": {...},
"boldness_spearman": ..., ...}, ...}, "all_seeds_pass": true, ...}``. Palettes and loss curves
are kept under --report-dir/seed-<n>.

    .venv/bin/python bench/look_gan_quality.py [--users 3000] [--days 60] [--steps 3000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from glamcast.core.progress import rich_progress
from glamcast.core.settings import Settings
from glamcast.platform.spark import spark_session
from glamcast.simulator import SimulationConfig, World
from glamcast.simulator.looks import write_world_lake
from jobs.train_look_gan import (
    ALL,
    MODELS,
    TrainLookGanConfig,
    TrainLookGanResult,
    evaluation_table,
    failed_checks,
    read_looks,
    read_positive_pairs,
    read_products,
    train_look_gan_on,
)
from models.look_gan import LookGanConfig
from models.look_space import CONDITION_GROUPS

#: Targets of issue 17: boldness response, conditions the GAN must win (of 9), novelty floor.
BOLDNESS_TARGET = 0.8
CONDITIONS_TARGET = 8


def seed_report(console: Console, seed: int, result: TrainLookGanResult) -> dict:
    """Print one seed's tables; return its RESULT entry."""
    evaluation, fit = result.evaluation, result.fit
    console.print(evaluation_table(evaluation, f"GAN seed {seed}: look GAN vs baselines on held-out looks"))
    failures = {
        group: failed_checks(evaluation, group)
        for group in (ALL, *CONDITION_GROUPS)
        if ((evaluation.table["model"] == "gan") & (evaluation.table["group"] == group)).any()
    }
    failures = {group: checks for group, checks in failures.items() if checks}
    for group, checks in failures.items():
        console.print(f"[red]seed {seed}: GAN fails in {group}:[/] {', '.join(checks)}")
    facts = evaluation.facts
    levels = {
        key.split(".", 1)[1]: round(value, 3)
        for key, value in facts.items()
        if key.startswith("boldness_intensity.")
    }
    console.print(
        f"boldness: Spearman ρ(asked, mean intensity) = {facts['boldness_spearman']:.3f}; "
        f"mean intensity per asked level {levels}"
    )
    terms = evaluation.term_fidelity
    console.print(
        "lips follow the asked shade family: "
        + ", ".join(f"{row.family} {row.share_matching:.0%}" for row in terms.itertuples(index=False))
    )
    steps_per_s = (fit.steps - fit.resumed_from) / fit.train_s
    console.print(
        f"training on {fit.device}: {fit.steps} steps in {fit.train_s:.0f} s = "
        f"{steps_per_s:.1f} steps/s, {fit.samples_per_s:,.0f} samples/s; temperature "
        f"{result.metrics['temperature']} (per condition: {result.generator.group_temperatures})"
    )
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
    won = sum(1 for group in by_condition if group not in failures)
    return {
        **{
            model: {key: round(value, 4) for key, value in evaluation.overall(model).items()}
            for model in MODELS
        },
        "conditions_won": won,
        "conditions": len(by_condition),
        "failed_conditions": failures,
        "boldness_spearman": round(facts["boldness_spearman"], 4),
        "boldness_intensity": levels,
        "term_fidelity": {
            row.family: round(row.share_matching, 4) for row in terms.itertuples(index=False)
        },
        "novelty_threshold": round(facts["novelty_threshold"], 4),
        "temperature": result.metrics["temperature"],
        "group_temperatures": result.generator.group_temperatures,
        "by_condition": by_condition,
        "device": fit.device,
        "samples_per_s": round(fit.samples_per_s, 1),
        "train_s": round(fit.train_s, 1),
        "steps": fit.steps,
    }


def passes(entry: dict) -> bool:
    """Issue 17's target for one seed: overall ahead of both rivals on both measures, at least
    `CONDITIONS_TARGET` conditions won, boldness ρ ≥ `BOLDNESS_TARGET`, novelty > 0.5."""
    gan = entry["gan"]
    ahead = all(
        gan[metric] > entry[rival][metric]
        for rival in ("gaussian", "mixture")
        for metric in ("precision", "recall")
    )
    return (
        ahead
        and entry["conditions_won"] >= CONDITIONS_TARGET
        and entry["boldness_spearman"] >= BOLDNESS_TARGET
        and gan["novelty"] > 0.5
    )


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
        "--seeds", type=str, default="0,1,2", help="GAN seeds, comma-separated (one run each)"
    )
    parser.add_argument(
        "--gan-seed", type=int, default=None, help="one GAN seed (overrides --seeds)"
    )
    parser.add_argument(
        "--lake",
        type=Path,
        default=None,
        help="a state dir whose lake already holds this world (skips the simulation; e.g. one "
        "bench process per seed sharing one lake)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="keep palettes, loss curves and tables here, per seed (default: a temp dir)",
    )
    args = parser.parse_args()
    seeds = [args.gan_seed] if args.gan_seed is not None else [
        int(part) for part in args.seeds.split(",") if part.strip()
    ]
    console = Console(width=240)  # the table is wide; logs are not terminals

    scratch = Path(tempfile.mkdtemp(prefix="look-gan-bench-"))
    settings = Settings(state_dir=scratch)
    if args.lake is not None:
        settings = Settings(state_dir=scratch, lake_uri=str(args.lake.resolve() / "lake"))
    world_config = SimulationConfig(
        users=args.users,
        days=args.days,
        start=date(2025, 1, 6),
        seed=args.seed,
        looks=args.looks,
        look_sessions_per_user_per_week=args.look_sessions,
    )
    started = time.perf_counter()
    if args.lake is None:
        counts = write_world_lake(settings, World.build(world_config))
        lake_s = time.perf_counter() - started
        console.print(f"simulated lake: {counts} in {lake_s:.0f} s ({scratch / 'lake'})")
    else:
        lake_s = 0.0
        console.print(f"the lake of {args.lake} (written before for {world_config})")

    report_root = args.report_dir or scratch / "report"
    gan_defaults = LookGanConfig()
    base = TrainLookGanConfig(register=False)
    spark = spark_session(settings, app_name="look-gan-bench", master="local[2]")
    entries: dict[str, dict] = {}
    try:
        pairs, rows, window = read_positive_pairs(spark, settings, base)
        looks_frame = read_looks(settings)
        products = read_products(settings, looks_frame)
        baselines = None
        for seed in seeds:
            gan = replace(gan_defaults, seed=seed, steps=args.steps or gan_defaults.steps)
            config = replace(base, gan=gan, report_dir=report_root / f"seed-{seed}",
                             checkpoint_dir=scratch / "checkpoints" / f"seed-{seed}")
            seed_started = time.perf_counter()
            with Progress(
                TextColumn(f"[bold]seed {seed}: " + "{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                result = train_look_gan_on(
                    spark, settings, config, pairs, looks_frame, products, rows, window,
                    rich_progress(progress), log_to_mlflow=False, baselines=baselines,
                )
            baselines = result.baselines
            entry = seed_report(console, seed, result)
            entry["seed_s"] = round(time.perf_counter() - seed_started, 1)
            entry["passes"] = passes(entry)
            entries[str(seed)] = entry
            rows = result.rows
    finally:
        spark.stop()

    summary = Table(title="Look GAN over seeds (overall precision / recall / novelty)")
    for column in ("seed", "gan", "gaussian", "mixture", "nearest", "conditions won",
                   "boldness ρ", "passes"):
        summary.add_column(column)
    for seed, entry in entries.items():
        cells = [
            f"{entry[m]['precision']:.3f} / {entry[m]['recall']:.3f} / {entry[m]['novelty']:.3f}"
            for m in MODELS
        ]
        summary.add_row(seed, *cells, f"{entry['conditions_won']} / {entry['conditions']}",
                        f"{entry['boldness_spearman']:.3f}",
                        "[green]yes[/]" if entry["passes"] else "[red]no[/]")
    console.print(summary)
    payload = {
        "seeds": entries,
        "all_seeds_pass": all(entry["passes"] for entry in entries.values()),
        "rows": rows,
        "world": {
            "users": args.users,
            "days": args.days,
            "looks": args.looks,
            "look_sessions_per_user_per_week": args.look_sessions,
            "seed": args.seed,
            "lake_s": round(lake_s, 1),
        },
    }
    print("RESULT " + json.dumps(payload))


if __name__ == "__main__":
    main()
