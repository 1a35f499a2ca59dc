"""The `glamcast` command line: a thin layer that parses, calls the core, and prints.

Every command reads the settings from the environment (GLAMCAST_*); the work lives in the
modules it calls, which tests call directly. The jobs own their commands (`jobs/*.py: command`,
options generated from each job's config dataclass); this module only mounts them.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.progress import Progress
from rich.table import Table
from typer.core import TyperGroup

from glamcast.core.settings import KeyScope, Settings, get_settings
from glamcast.platform import stack
from glamcast.platform.commands import console, run_command_line, single_command_app


class JobGroup(TyperGroup):
    """A command group that mounts commands owned by other modules (the jobs') and imports each
    only when it is run or its help is shown, so `glamcast status` does not load torch."""

    mounted: dict[str, str] = {}  # command name → "module:function"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.mounted]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.mounted:
            return super().get_command(ctx, name)
        module, function = self.mounted[name].split(":")
        return typer.main.get_command(
            single_command_app(getattr(import_module(module), function), name))


def mounting(**commands: str) -> type[JobGroup]:
    """A JobGroup class with `commands` (keyword: the command name with _ for -)."""
    return type("JobGroup", (JobGroup,), {
        "mounted": {name.replace("_", "-"): spec for name, spec in commands.items()}})


app = typer.Typer(help="Glamcast: real-time beauty recommendations and trend forecasting.",
                  no_args_is_help=True, add_completion=False,
                  cls=mounting(forecast="jobs.forecast_trends:command",
                               replay="jobs.replay:command"))
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
schema_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(schema_app, name="schema")


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
def up(
    profile: Annotated[str, typer.Option(
        help="local: the embedded broker and MLflow server. prod-local: the prod profile on "
        "real processes (Spark master + worker, S3 server, MLflow on PostgreSQL + S3, the "
        "machine's PostgreSQL and Redis, the embedded broker) under <state_dir>/prod-local; "
        "prints the environment of its prod settings.")] = "local",
) -> None:
    """Start the embedded broker and MLflow server (or use the configured external ones); with
    `--profile prod-local`, the prod profile on real processes (docs/runbook.md, prod-local)."""
    if profile == "prod-local":
        from glamcast.platform import prod_local

        started = prod_local.up(get_settings().state_path / "prod-local",
                                on_event=lambda part, msg: console.print(f"{part}: {msg}"))
        console.print(f"Spark master {started.spark_master} (UI {started.spark_master_ui}), "
                      f"S3 {started.s3_endpoint}, MLflow {started.mlflow_tracking_uri}, "
                      f"broker {started.kafka_bootstrap}, lake {started.lake_uri}")
        for key, value in started.env().items():
            print(f"export {key}='{value}'")
        return
    if profile != "local":
        raise typer.BadParameter("--profile must be local or prod-local")
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
def down(purge: Annotated[bool, typer.Option(help="Also delete the state dir.")] = False,
         profile: Annotated[str, typer.Option(help="local or prod-local (what `up` started)."
                                              )] = "local") -> None:
    """Stop exactly what `up` started."""
    settings = get_settings()
    if profile == "prod-local":
        from glamcast.platform import prod_local

        done = prod_local.down(settings.state_path / "prod-local", purge=purge)
        console.print(f"stopped: {', '.join(done) or 'nothing was running'}")
        return
    stopped = stack.down(settings, purge=purge)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    if purge:
        console.print(f"removed {settings.state_path}")


@topics_app.command("create")
def topics_create() -> None:
    """Create the platform's topics; existing ones are left as they are."""
    from glamcast.core.topics import TOPICS
    from glamcast.platform.broker import create_topics

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
    """The main job end to end on the local stack, with a summary at the end; then serves, with
    the stream workers live (events posted while serving reach the lake, features and feeds)."""
    from glamcast.demo import DemoConfig, live_streams, run_demo

    settings = get_settings()
    run_demo(settings, DemoConfig.quick() if quick else DemoConfig(), console)
    if serve:
        console.print("serving until Ctrl-C (`glamcast demo --no-serve` stops after the summary)")
        with live_streams(settings, console):
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
    from glamcast.serving.app import create_app
    from glamcast.serving.server import serve as serve_api

    serve_api(create_app(settings), settings, host, port)


# --- keys
keys_app = typer.Typer(help="API keys (scopes: docs/serving.md).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def keys_new(
    scope: Annotated[KeyScope, typer.Option(help="What the key may call.")],
    name: Annotated[str, typer.Option(help="Who holds the key (letters, digits, . _ -).")],
) -> None:
    """Make a key: prints it once, and the GLAMCAST_API_KEYS entry (its hash) to add to the settings."""
    import json

    from pydantic import ValidationError

    from glamcast.serving.security import new_key, settings_entry

    key = new_key(scope)
    try:
        entry = settings_entry(key, scope, name)
    except ValidationError as exc:
        raise typer.BadParameter("letters, digits, '.', '_' or '-', at most 64",
                                 param_hint="--name") from exc
    typer.echo(f"key (shown once, give it to {name}): {key}")
    typer.echo(f"GLAMCAST_API_KEYS entry: {json.dumps(entry, separators=(',', ':'))}")
# --- end keys


# --- erasure and retention
@app.command()
def erase(
    user_ids: Annotated[list[str], typer.Argument(help="The people to erase (user ids).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipts as JSON lines.")] = False,
) -> None:
    """Erase people from every store (lake, Feast online and offline, embeddings, feed topic) and
    print the receipt of each; erasing someone again prints their first receipt."""
    import json

    from glamcast.platform.erasure import erase as erase_people

    try:
        results = erase_people(get_settings(), user_ids, "cli")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="USER_IDS") from exc
    for result in results:
        if as_json:
            typer.echo(json.dumps(result.as_dict(), separators=(",", ":")))
            continue
        receipt = result.receipt
        note = " (erased before: first receipt)" if result.repeated else ""
        table = Table(title=f"erased {receipt.user_id}{note}")
        table.add_column("removed from")
        table.add_column("count", justify="right")
        for place, count in receipt.removed.items():
            table.add_row(place, str(count))
        table.add_row("[bold]total[/]", f"[bold]{result.total}[/]")
        console.print(table)
        if result.repeated:
            console.print("found again: " + (", ".join(
                f"{place} {count}" for place, count in result.found_again.items()) or "nothing"))


retention_app = typer.Typer(help="Lake retention (settings: retention_days, face_retention_days).",
                            no_args_is_help=True,
                            cls=mounting(enforce="jobs.enforce_retention:command"))
app.add_typer(retention_app, name="retention")
# --- end erasure and retention


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




# --- train
train_app = typer.Typer(help="Train models and register them in MLflow.", no_args_is_help=True,
                        cls=mounting(recommender="jobs.train_recommender:command",
                                     look_gan="jobs.train_look_gan:command",
                                     ranker="jobs.train_ranker:command"))
app.add_typer(train_app, name="train")
# --- end train


# --- looks
looks_app = typer.Typer(help="Curated and generated makeup looks.", no_args_is_help=True)
app.add_typer(looks_app, name="looks")


@looks_app.command("generate")
def looks_generate(
    skin_tone: Annotated[int, typer.Option(min=1, max=10, help="Monk skin tone, 1 (lightest) to 10.")],
    undertone: Annotated[str, typer.Option(help="cool, neutral or warm.")],
    face_shape: Annotated[str | None, typer.Option(help="oval, round, square, heart, oblong or diamond (default: any).")] = None,
    shade_family: Annotated[str | None, typer.Option(help="Trend term: shade family of the lips, e.g. coral (default: any).")] = None,
    finish: Annotated[str | None, typer.Option(help="Trend term: finish of the lips, e.g. matte (default: any).")] = None,
    n: Annotated[int, typer.Option(min=1, max=48, help="Looks to generate.")] = 6,
    boldness: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Natural 0 … bold 1 (default: any).")] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same looks.")] = 0,
    model_uri: Annotated[str | None, typer.Option(help="MLflow model URI (default: models:/<look_gan_model_name setting>@champion).")] = None,
    out: Annotated[Path | None, typer.Option(help="Palette PNG (default: <state_dir>/reports/looks/).")] = None,
) -> None:
    """Generate new looks for a face with the champion look GAN, as products to buy, plus a palette PNG."""
    from glamcast.core.names import CHAMPION
    from glamcast.platform.model_registry import tracking_uri
    from models.look_gan_pyfunc import generate_from_model
    from models.shoppable_looks import PaletteRow, plot_palettes

    settings = get_settings()
    request = {"skin_tone": skin_tone, "undertone": undertone, "face_shape": face_shape,
               "shade_family": shade_family, "finish": finish, "n": n, "seed": seed,
               "boldness": boldness}
    try:
        looks = generate_from_model(
            tracking_uri(settings),
            model_uri or f"models:/{settings.look_gan_model_name}@{CHAMPION}", request)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    terms = " ".join(f"{value}" for value in (shade_family, finish) if value)
    label = f"{terms + ' · ' if terms else ''}{undertone} · Monk {skin_tone}" + (
        f" · {face_shape}" if face_shape else "") + (f" · boldness {boldness:.2f}" if boldness is not None else "")
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
features_app = typer.Typer(help="Feast features: apply the repository, materialize.", no_args_is_help=True,
                           cls=mounting(materialize="jobs.materialize:command"))
app.add_typer(features_app, name="features")


@features_app.command("apply")
def features_apply() -> None:
    """feast apply of feature_repo/ for the active profile (GLAMCAST_PROFILE)."""
    from glamcast.platform.features import apply

    settings = get_settings()
    names = apply(settings)
    console.print(f"applied {len(names)} objects to Feast project "
                  f"[bold]{settings.feast_project}[/] ({settings.profile.value}): {', '.join(names)}")


# --- end features


def main() -> None:
    """Entry point: click handles usage errors and Ctrl-C; configuration errors get exit codes."""
    run_command_line(app)


if __name__ == "__main__":
    main()
