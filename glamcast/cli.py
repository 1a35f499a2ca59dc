"""The `glamcast` command line: a thin layer that parses, calls the core, and prints.

Every command reads the settings from the environment (GLAMCAST_*); the work lives in the
modules it calls, which tests call directly.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from glamcast.platform import stack
from glamcast.core.settings import Settings, get_settings

app = typer.Typer(help="Glamcast: real-time beauty recommendations and trend forecasting.",
                  no_args_is_help=True, add_completion=False)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
schema_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(schema_app, name="schema")

console = Console()


def progress_bar(transient: bool = False) -> Progress:
    """The shared progress display on this command line's console."""
    from glamcast.core.progress import progress_bar as shared_progress_bar

    return shared_progress_bar(console, transient)


def print_parts(parts: list[stack.PartStatus]) -> None:
    table = Table(title="Glamcast local stack")
    for column in ("part", "address", "pid", "state"):
        table.add_column(column)
    for part in parts:
        if part.healthy:
            state = "[green]healthy[/]"
        elif part.running:
            state = "[yellow]running, not answering[/]"
        else:
            state = f"[red]{part.note or 'down'}[/]"
        pid = "external" if part.external else (str(part.pid) if part.pid else "-")
        table.add_row(part.name, part.address or "-", pid, state)
    console.print(table)


@app.command()
def up() -> None:
    """Start the embedded broker and MLflow server (or use the configured external ones)."""
    parts = stack.up(get_settings(), on_event=lambda part, msg: console.print(f"{part}: {msg}"))
    print_parts(parts)


@app.command()
def status() -> None:
    """Report each part of the local stack; exit 1 when one is not healthy."""
    parts = stack.status(get_settings())
    print_parts(parts)
    if not all(part.healthy for part in parts):
        raise typer.Exit(1)


@app.command()
def down(purge: Annotated[bool, typer.Option(help="Also delete the state dir.")] = False) -> None:
    """Stop exactly what `up` started."""
    settings = get_settings()
    stopped = stack.down(settings, purge=purge)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    if purge:
        console.print(f"removed {settings.state_path}")


@topics_app.command("create")
def topics_create() -> None:
    """Create the platform's topics; existing ones are left as they are."""
    from glamcast.platform.broker import create_topics
    from glamcast.core.topics import TOPICS

    outcome = create_topics(get_settings())
    table = Table(title="Topics")
    for column in ("topic", "partitions", "compacted", "result"):
        table.add_column(column)
    for name, result in outcome.items():
        spec = TOPICS[name]
        table.add_row(name, str(spec.partitions), "yes" if spec.compacted else "no", result)
    console.print(table)


@schema_app.command("export")
def schema_export(directory: Annotated[Path, typer.Argument(help="Where to write the files.")]) -> None:
    """Write one JSON Schema file per topic, for producers in any language."""
    from glamcast.core.events import export_schemas

    for path in export_schemas(directory):
        console.print(f"wrote {path}")


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or CSV.gz export.")],
    format: Annotated[str, typer.Option("--format", help="Export format.")] = "rees46",
) -> None:
    """Stream a real shop export into the commerce topic; bad rows are reported and skipped."""
    from glamcast.platform.broker import producer
    from jobs.replay import replay_rees46

    if format != "rees46":
        raise typer.BadParameter(f"unknown format {format!r}; supported: rees46", param_hint="--format")
    settings = get_settings()
    kafka = producer(settings)
    with progress_bar() as progress:
        task = progress.add_task(f"replaying {file.name}", total=None, rate="")
        report = replay_rees46(file, kafka, on_progress=lambda rows: progress.update(task, completed=rows))
    kafka.close()
    for line, message in report.errors:
        console.print(f"[red]rejected[/] {message}")
    if report.bad > len(report.errors):
        console.print(f"... and {report.bad - len(report.errors)} more rejected rows")
    console.print(f"good rows: {report.good}  bad rows: {report.bad}")


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="People in the world.")] = 2_000,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 7,
    start: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="First UTC day; default: today minus --days.")] = None,
    rate: Annotated[Optional[float], typer.Option(help="Events per second into the broker; default: as fast as it takes them.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write files here instead of producing to Kafka.")] = None,
    format: Annotated[str, typer.Option("--format", help="File format with --out: jsonl or parquet.")] = "jsonl",
) -> None:
    """Simulate the seeded world of try-ons, shop events and social posts (same seed, same events)."""
    from glamcast.simulator.config import SimulationConfig
    from glamcast.simulator.writers import simulate_to_files, simulate_to_kafka

    config = SimulationConfig(users=users, days=days, seed=seed, start=start.date() if start else None)
    if out is not None:
        if format not in ("jsonl", "parquet"):
            raise typer.BadParameter("expected jsonl or parquet", param_hint="--format")
        counts = simulate_to_files(config, out, format)
    else:
        counts = simulate_to_kafka(get_settings(), config, rate=rate, progress=True)
    table = Table(title="Simulated events")
    table.add_column("topic")
    table.add_column("events", justify="right")
    for name, count in sorted(counts.items()):
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total", f"[bold]{sum(counts.values()):,}")
    console.print(table)


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="A small world, for a first look in a few minutes.")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the API and dashboard after the batch part, until Ctrl-C.")] = True,
) -> None:
    """The main job end to end on the local stack, with a summary at the end; then serves."""
    from glamcast.demo import DemoConfig, run_demo

    settings = get_settings()
    run_demo(settings, DemoConfig.quick() if quick else DemoConfig(), console)
    if serve:
        console.print("serving until Ctrl-C (`glamcast demo --no-serve` stops after the summary)")
        _serve(settings, settings.api_host, settings.api_port)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface; default GLAMCAST_API_HOST.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port; default GLAMCAST_API_PORT.")] = None,
) -> None:
    """Run the HTTP service: event ingest, health, metrics, OpenAPI docs at /docs."""
    settings = get_settings()
    _serve(settings, host or settings.api_host, port or settings.api_port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from glamcast.serving.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


# --- streams
#: `glamcast stream --stages` names → the settings that switch each stage on.
STREAM_STAGES = {"ingest": "streams_ingest", "features": "streams_features", "feed": "streams_feed"}


@app.command()
def stream(
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes; the partitions are spread over them.")] = 1,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l", help="crit, error, warn, info or debug.")] = "info",
    stages: Annotated[str | None, typer.Option(help="Comma-separated stages these workers run: ingest (lake sink), features, feed (default: ingest, and features and feed once Feast is applied).")] = None,
) -> None:
    """Run the stream workers (validation, dead letters, lake, trend counts) until SIGTERM or Ctrl-C."""
    from streams.worker import run

    settings = get_settings()
    if stages is not None:
        chosen = {name.strip() for name in stages.split(",") if name.strip()}
        unknown = chosen - set(STREAM_STAGES)
        if unknown or not chosen:
            raise typer.BadParameter(f"stages are {', '.join(STREAM_STAGES)}; got {stages!r}",
                                     param_hint="--stages")
        settings = settings.model_copy(update={
            field: name in chosen for name, field in STREAM_STAGES.items()})
    console.print(f"{workers} stream worker(s), app {settings.streams_app_id}, lake {settings.lake_root}; "
                  f"metrics on port {settings.streams_web_port or 'auto'}+i at /metrics")
    raise typer.Exit(run(settings, workers=workers, loglevel=loglevel))
# --- end streams


# --- forecast
@app.command()
def forecast(
    horizon: Annotated[int | None, typer.Option(min=1, help="Periods ahead (default: 28 days; 12 with --freq MS).")] = None,
    interval_width: Annotated[float, typer.Option(min=0.01, max=0.99, help="Coverage of the forecast band.")] = 0.8,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day of history (default: two years before --until; a CSV's first day).")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day of history (default: the last complete day in the data).")] = None,
    input_csv: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="CSV export (date,term,value or ds,y) instead of the lake's trend_counts.")] = None,
    freq: Annotated[str, typer.Option(help="Series frequency: D (daily) or MS (monthly).")] = "D",
    season_length: Annotated[int | None, typer.Option(min=1, help="Seasonal-naive lag and MASE scale (default: 7 daily, 12 monthly).")] = None,
    gap_fill: Annotated[str, typer.Option(help="Missing periods: zero (counts) or interpolate (levels).")] = "zero",
    cutoffs: Annotated[int, typer.Option(min=1, help="Rolling-origin backtest cutoffs.")] = 3,
    holidays: Annotated[str | None, typer.Option(help="Comma-separated events of models.beauty_calendar, or 'none' (default: all).")] = None,
    uncertainty_samples: Annotated[int, typer.Option(min=0, help="Posterior draws for the band and P(up).")] = 200,
    value: Annotated[str, typer.Option(help="trend_counts column to forecast: weight or events.")] = "weight",
    term_type: Annotated[list[str] | None, typer.Option(help="Only this term type (repeatable).")] = None,
    top_plots: Annotated[int, typer.Option(min=0, help="Plots for this many top rising and fading terms.")] = 6,
    write_lake: Annotated[bool, typer.Option(help="Write the forecasts lake dataset.")] = True,
    verbose_stan: Annotated[bool, typer.Option(help="Show cmdstan/Prophet output.")] = False,
) -> None:
    """Forecast every trend term (Prophet on Spark), backtest it, rank rising and fading terms."""
    from glamcast.platform.mlflow_tracking import tracking_uri
    from glamcast.core.progress import rich_progress
    from glamcast.platform.spark import spark_session
    from jobs.forecast_trends import ForecastInputError, build_config, forecast_trends, print_report

    settings = get_settings()
    try:
        config = build_config(
            horizon=horizon, interval_width=interval_width, since=since.date() if since else None,
            until=until.date() if until else None, input_csv=input_csv, freq=freq,
            season_length=season_length, gap_fill=gap_fill, cutoffs=cutoffs, holidays=holidays,
            uncertainty_samples=uncertainty_samples, value_column=value, term_types=term_type or (),
            top_plots=top_plots, write_lake=write_lake, verbose_stan=verbose_stan,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    uri = tracking_uri(settings)  # fail before Spark starts when no MLflow server is up
    from pyspark.sql import SparkSession

    owns_spark = SparkSession.getActiveSession() is None  # leave a caller's session running
    spark = spark_session(settings, app_name="forecast_trends")
    try:
        with progress_bar() as progress:
            result = forecast_trends(spark, settings, config, on_progress=rich_progress(progress))
    except ForecastInputError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if owns_spark:
            spark.stop()
    print_report(result, console, tracking_uri=uri)
# --- end forecast


# --- train
train_app = typer.Typer(help="Train models and register them in MLflow.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("recommender")
def train_recommender_command(
    source: Annotated[str, typer.Option(help="tryon or commerce (lake datasets), movielens or rees46 (files).")] = "tryon",
    data_path: Annotated[Path | None, typer.Option(exists=True, help="File sources: MovieLens-100k directory or REES46 CSV (default: under GLAMCAST_DATA_DIR).")] = None,
    start: Annotated[datetime | None, typer.Option(help="Lake sources: first event time, inclusive (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="Lake sources: end of the window, exclusive (UTC).")] = None,
    split: Annotated[str | None, typer.Option(help="time or stratified (default: stratified for movielens, else time).")] = None,
    test_fraction: Annotated[float, typer.Option(min=0.01, max=0.99, help="Time holdout: the last share of the window.")] = 0.2,
    k: Annotated[int, typer.Option(min=1, help="Cut-off of the metrics and of the champion comparison.")] = 10,
    models: Annotated[str, typer.Option(help="Comma-separated models to fit: als,torch.")] = "als,torch",
    als_rank: Annotated[int | None, typer.Option(min=1, help="ALS latent factors (default 64).")] = None,
    als_iter: Annotated[int | None, typer.Option(min=1, help="ALS sweeps (default 15).")] = None,
    als_reg: Annotated[float | None, typer.Option(min=0, help="ALS regParam (default 0.05).")] = None,
    als_alpha: Annotated[float | None, typer.Option(min=0, help="ALS confidence alpha (default 10).")] = None,
    objective: Annotated[str | None, typer.Option(help="Torch loss: softmax or bpr (default softmax).")] = None,
    user_model: Annotated[str | None, typer.Option(help="Torch user vectors: embedding or history (default embedding).")] = None,
    dim: Annotated[int | None, typer.Option(min=1, help="Torch embedding size (default 32).")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Torch epochs (default 60).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Torch users (softmax) or pairs (bpr) per step (default 128).")] = None,
    lr: Annotated[float | None, typer.Option(min=0, help="Torch Adam learning rate (default 0.005).")] = None,
    weight_decay: Annotated[float | None, typer.Option(min=0, help="Torch L2 weight (default 300).")] = None,
    dropout: Annotated[float | None, typer.Option(min=0, max=0.95, help="Torch dropout of user vectors or history items (default 0).")] = None,
    negatives: Annotated[int | None, typer.Option(min=1, help="Torch BPR negatives per positive (default 8).")] = None,
    register: Annotated[bool, typer.Option(help="Register the best model; move the champion alias when it wins.")] = True,
    embeddings: Annotated[bool, typer.Option(help="Write the new champion's embeddings to the lake.")] = True,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "recommender",
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = "glamcast-recommender",
    seed: Annotated[int, typer.Option(help="Seed of the stratified split and of both models.")] = 42,
) -> None:
    """Fit implicit ALS (Spark) and the torch model, evaluate, log to MLflow, register the best."""
    from glamcast.platform.mlflow_tracking import tracking_uri
    from glamcast.core.progress import rich_progress
    from glamcast.platform.spark import spark_gpu_conf, spark_session
    from jobs.train_recommender import (
        RecommenderInputError,
        build_config,
        print_report,
        train_recommender,
    )

    settings = get_settings()
    try:
        config = build_config(
            source=source, data_path=data_path, start=start, end=end, split=split,
            test_fraction=test_fraction, k=k, models=models, register=register,
            write_embeddings=embeddings, experiment=experiment, registered_model=model_name,
            seed=seed,
            als={"rank": als_rank, "max_iter": als_iter, "reg_param": als_reg,
                 "alpha": als_alpha, "seed": seed},
            torch={"objective": objective, "user_model": user_model, "dim": dim, "epochs": epochs,
                   "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                   "dropout": dropout, "negatives": negatives, "seed": seed},
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    tracking_uri(settings)  # fail before Spark starts when no MLflow server is up
    from pyspark.sql import SparkSession

    owns_spark = SparkSession.getActiveSession() is None  # leave a caller's session running
    spark = spark_session(settings, app_name="train_recommender", conf=spark_gpu_conf(settings))
    try:
        with progress_bar() as progress:
            result = train_recommender(spark, settings, config, on_progress=rich_progress(progress))
    except RecommenderInputError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if owns_spark:
            spark.stop()
    print_report(result, config, console)
# --- end train


# --- looks
looks_app = typer.Typer(help="Curated and generated makeup looks.", no_args_is_help=True)
app.add_typer(looks_app, name="looks")


@train_app.command("look-gan")
def train_look_gan_command(
    start: Annotated[datetime | None, typer.Option(help="First event time, inclusive (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option(help="End of the window, exclusive (UTC).")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Generator steps (default 3000).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=4, help="Real looks per critic step (default 256).")] = None,
    latent_dim: Annotated[int | None, typer.Option(min=1, help="Noise size (default 32).")] = None,
    hidden: Annotated[int | None, typer.Option(min=8, help="Hidden width of generator and critic (default 128).")] = None,
    n_critic: Annotated[int | None, typer.Option(min=1, help="Critic steps per generator step (default 5).")] = None,
    gp_weight: Annotated[float | None, typer.Option(min=0, help="Gradient-penalty weight (default 10).")] = None,
    lr: Annotated[float | None, typer.Option(min=0, help="Adam learning rate of both networks (default 2e-4).")] = None,
    pac: Annotated[int | None, typer.Option(min=1, help="Samples the critic judges together (default 1).")] = None,
    term_dropout: Annotated[float | None, typer.Option(min=0, max=1, help="Chance a trend term is hidden in training (default 0.5).")] = None,
    device: Annotated[str | None, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = None,
    threads: Annotated[int | None, typer.Option(min=0, help="Torch CPU threads (default 1; 0: torch's default).")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(min=0, help="Steps between checkpoints (default 500; 0: none).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint.")] = False,
    heldout_share: Annotated[float, typer.Option(min=0.01, max=0.99, help="Share of looks held out for evaluation.")] = 0.25,
    k: Annotated[int, typer.Option(min=1, help="Neighbours of the precision/recall manifolds.")] = 3,
    distributed: Annotated[bool, typer.Option(help="Train in a TorchDistributor process.")] = True,
    register: Annotated[bool, typer.Option(help="Register the model; move the champion alias when it wins.")] = True,
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = "look_gan",
    seed: Annotated[int, typer.Option(help="Seed of the GAN.")] = 42,
) -> None:
    """Train the conditional look GAN on the lake's look engagement, evaluate it, register it."""
    from glamcast.platform.mlflow_tracking import tracking_uri
    from glamcast.core.progress import rich_progress
    from glamcast.platform.spark import spark_gpu_conf, spark_session
    from jobs.train_look_gan import (
        LookGanInputError,
        build_config,
        print_report,
        train_look_gan_job,
    )

    settings = get_settings()
    try:
        config = build_config(
            gan={"steps": steps, "batch_size": batch_size, "latent_dim": latent_dim,
                 "hidden": hidden, "n_critic": n_critic, "gp_weight": gp_weight,
                 "lr_generator": lr, "lr_critic": lr, "pac": pac, "term_dropout": term_dropout,
                 "device": device, "threads": threads, "checkpoint_every": checkpoint_every,
                 "seed": seed},
            start=start, end=end, heldout_share=heldout_share, k=k, resume=resume,
            distributed=distributed, register=register, experiment=experiment,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    tracking_uri(settings)  # fail before Spark starts when no MLflow server is up
    from pyspark.sql import SparkSession

    owns_spark = SparkSession.getActiveSession() is None  # leave a caller's session running
    spark = spark_session(settings, app_name="train_look_gan", conf=spark_gpu_conf(settings))
    try:
        with progress_bar() as progress:
            result = train_look_gan_job(spark, settings, config, on_progress=rich_progress(progress))
    except LookGanInputError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if owns_spark:
            spark.stop()
    print_report(result, console)


@looks_app.command("generate")
def looks_generate(
    skin_tone: Annotated[int, typer.Option(min=1, max=10, help="Monk skin tone, 1 (lightest) to 10.")],
    undertone: Annotated[str, typer.Option(help="cool, neutral or warm.")],
    face_shape: Annotated[str | None, typer.Option(help="oval, round, square, heart, oblong or diamond (default: any).")] = None,
    shade_family: Annotated[str | None, typer.Option(help="Trend term: shade family of the lips, e.g. coral (default: any).")] = None,
    finish: Annotated[str | None, typer.Option(help="Trend term: finish of the lips, e.g. matte (default: any).")] = None,
    n: Annotated[int, typer.Option(min=1, max=48, help="Looks to generate.")] = 6,
    seed: Annotated[int, typer.Option(help="Same seed, same looks.")] = 0,
    model_uri: Annotated[str, typer.Option(help="MLflow model URI.")] = "models:/glamcast-look-gan@champion",
    out: Annotated[Path | None, typer.Option(help="Palette PNG (default: <state_dir>/reports/looks/).")] = None,
) -> None:
    """Generate new looks for a face with the champion look GAN, as products to buy, plus a palette PNG."""
    from glamcast.platform.mlflow_tracking import tracking_uri
    from models.look_gan_pyfunc import generate_from_model
    from models.shoppable_looks import PaletteRow, plot_palettes

    settings = get_settings()
    request = {"skin_tone": skin_tone, "undertone": undertone, "face_shape": face_shape,
               "shade_family": shade_family, "finish": finish, "n": n, "seed": seed}
    try:
        looks = generate_from_model(tracking_uri(settings), model_uri, request)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    terms = " ".join(f"{value}" for value in (shade_family, finish) if value)
    label = f"{terms + ' · ' if terms else ''}{undertone} · Monk {skin_tone}" + (
        f" · {face_shape}" if face_shape else "")
    table = Table(title=f"Generated looks: {label}")
    for column in ("look", "region", "product", "shade", "finish", "ΔE00", "intensity", "price"):
        table.add_column(column, justify="right" if column in ("ΔE00", "intensity", "price") else "left")
    for row in looks.itertuples(index=False):
        swatch = f"[{row.product_hex}]██[/] {row.product_hex}" if row.product_hex else "-"
        table.add_row(str(row.look + 1) if row.region == "lips" else "", row.region,
                      f"{row.product_id} {row.brand or ''} {row.name or ''}".strip(), swatch,
                      row.finish + ("" if row.finish_matched else " (nearest finish)"),
                      f"{row.delta_e:.1f}", f"{row.intensity:.2f}",
                      "-" if row.price is None else f"{row.price:.2f}")
    console.print(table)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out or settings.state_path / "reports" / "looks" / f"looks-{stamp}.png"
    plot_palettes([PaletteRow(label, skin_tone, looks)], path, title="Generated looks")
    console.print(f"palette: {path}")


@looks_app.command("publish")
def looks_publish(
    users: Annotated[int, typer.Option(help="People in the world.")] = 2_000,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 7,
    start: Annotated[Optional[datetime], typer.Option(formats=["%Y-%m-%d"], help="First UTC day; default: today minus --days.")] = None,
) -> None:
    """Write the simulated world's look catalogue to the lake dataset `looks`.

    Takes the world options of `glamcast simulate`, so the looks match that run's try-ons.
    """
    from glamcast.simulator import SimulationConfig, World
    from glamcast.simulator.looks import write_looks_dataset

    config = SimulationConfig(users=users, days=days, seed=seed, start=start.date() if start else None)
    world = World.build(config)
    path = write_looks_dataset(get_settings(), world)
    console.print(f"{len(world.looks)} looks ({len(world.looks) * 4} rows) → {path}")
# --- end looks


# --- features
features_app = typer.Typer(help="Feast features: apply the repository, materialize.", no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("apply")
def features_apply() -> None:
    """feast apply of feature_repo/ for the active profile (GLAMCAST_PROFILE)."""
    from glamcast.platform.features import apply

    settings = get_settings()
    names = apply(settings)
    console.print(f"applied {len(names)} objects to Feast project "
                  f"[bold]{settings.feast_project}[/] ({settings.profile.value}): {', '.join(names)}")


@features_app.command("materialize")
def features_materialize(
    end: Annotated[datetime | None, typer.Option(help="End of the window (UTC); default now.")] = None,
) -> None:
    """Score trending terms and load the batch feature views into the online store (jobs/materialize)."""
    from jobs.materialize import materialize

    result = materialize(get_settings(), end)
    console.print(f"trend_counts {result.start} .. {result.end}: {result.trend_count_rows} rows; "
                  f"scored hour {result.scored_hour}: {result.term_rows} terms; "
                  f"materialized {', '.join(result.views)}")
# --- end features


def main() -> None:
    """Entry point: click handles usage errors and Ctrl-C; configuration errors get exit codes."""
    # MLflow's tqdm bar per artifact download (the feed loading a champion) would interleave
    # with the rich output; the commands show their own progress.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        app()
    except (stack.StackNotRunningError, stack.StackStartError) as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except ValidationError as exc:  # settings: a missing prod secret or a malformed value
        console.print(f"[red]configuration error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
