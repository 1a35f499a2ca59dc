"""Job commands: options generated from a job's config dataclass, one way to run a Spark job.

A job owns its command (STYLE 13): it lists which fields of its config dataclass are options,
and this module turns them into a typer command whose defaults and help come from the dataclass
— the default as written in the field, the help from the field's trailing comment — so each is
written once. `glamcast.cli` only mounts the jobs' commands; under ``spark-submit`` a job's
`main()` runs the same command through `run_command_line`, never through the CLI module.

`run_spark_job` is the one block that starts (or reuses) the Spark session, shows the job's
progress, maps the job's input error to exit code 1 and stops the session it started.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import os
import sys
import textwrap
import tokenize
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import typer
from pydantic import ValidationError
from rich.console import Console

from glamcast.core.progress import ProgressCallback, progress_bar, rich_progress
from glamcast.core.settings import Settings, get_settings
from glamcast.platform import stack

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The console every command prints to (the CLI's too).
console = Console()

C = TypeVar("C")
R = TypeVar("R")

_FROM_FIELD: Any = object()  # sentinel: take the default or help from the dataclass field


@dataclass(frozen=True)
class Opt:
    """A command-line option bound to a field of a job's config (a dotted path into nested
    config dataclasses, e.g. ``"als.rank"``)."""

    path: str
    flag: str | None = None  # option name without "--"; default: the field name with dashes
    also: tuple[str, ...] = ()  # further fields set to the same value (one --seed for all)
    help: str | None = None  # default: the field's trailing comment
    default: Any = _FROM_FIELD  # default: the field's default; None: "not given"
    parse: Callable[[Any], Any] | None = None  # command-line value → field value
    kind: Any = None  # the option's type when `parse` takes something else than the field's
    typer: Mapping[str, Any] = field(default_factory=dict)  # min, max, exists, formats...

    @property
    def name(self) -> str:
        return (self.flag or self.path.rsplit(".", 1)[-1]).replace("-", "_")


def comma_list(value: str) -> tuple[str, ...]:
    """``"als, torch"`` → ``("als", "torch")``."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


# --- fields of (nested) config dataclasses ------------------------------------------------------


@cache
def field_comments(cls: type) -> dict[str, str]:
    """Each dataclass field's trailing comment (its help), read from the class source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a frozen build): options without help
        return {}
    lines = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            lines[token.start[0]] = token.string.lstrip("#").strip()
    comments = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment = lines.get(node.end_lineno or node.lineno)
            if comment:
                comments[node.target.id] = comment
    return comments


@dataclass(frozen=True)
class _Field:
    owner: type
    name: str
    annotation: Any
    default: Any
    help: str


def resolve_field(cls: type, path: str) -> _Field:
    """The field at a dotted `path` of config class `cls`, with its type, default and help."""
    *parents, name = path.split(".")
    owner = cls
    for part in parents:
        owner = get_type_hints(owner)[part]
        if not dataclasses.is_dataclass(owner):
            raise TypeError(f"{path}: {part} is not a nested config dataclass")
    spec = next((f for f in dataclasses.fields(owner) if f.name == name), None)
    if spec is None:
        raise KeyError(f"{owner.__name__} has no field {name!r} (option path {path!r})")
    if spec.default is not dataclasses.MISSING:
        default = spec.default
    elif spec.default_factory is not dataclasses.MISSING:
        default = spec.default_factory()
    else:
        default = ...
    return _Field(owner, name, get_type_hints(owner)[name], default,
                  field_comments(owner).get(name, ""))


def build_config(cls: type[C], values: Mapping[str, Any]) -> C:
    """An instance of config class `cls` from ``{dotted path: value}``; paths left out keep
    the dataclass defaults, nested configs are built from their own fields."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    hints = get_type_hints(cls)
    for head, sub in nested.items():
        top[head] = build_config(hints[head], sub)
    return cls(**top)


# --- the command ---------------------------------------------------------------------------------


def job_command(
    config_cls: type[C],
    options: Sequence[Opt | str],
    run: Callable[[Settings, C], Any],
    *,
    doc: str,
    make_config: Callable[[dict[str, Any]], C] | None = None,
) -> Callable[..., Any]:
    """A typer command function whose options are `options` of `config_cls`.

    The command collects the given values as ``{path: value}`` (an option whose default is None
    and that was not given is left out), builds the config with `make_config` (default:
    `build_config`), maps a ValueError of that step to a usage error, and calls
    ``run(settings, config)``.
    """
    opts = [Opt(o) if isinstance(o, str) else o for o in options]
    parameters = []
    for opt in opts:
        spec = resolve_field(config_cls, opt.path)
        default = spec.default if opt.default is _FROM_FIELD else opt.default
        kind = opt.kind or (spec.annotation if default is not None else spec.annotation | None)
        if dataclasses.is_dataclass(kind):
            raise TypeError(f"{opt.path} is a nested config; list its fields instead")
        flag = opt.name.replace("_", "-")
        decl = f"--{flag}/--no-{flag}" if kind is bool else f"--{flag}"
        info = typer.Option(decl, help=opt.help or spec.help, **dict(opt.typer))
        parameters.append(inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=default, annotation=Annotated[kind, info]))

    def command(**given: Any) -> None:
        values: dict[str, Any] = {}
        for opt in opts:
            value = given[opt.name]
            if value is None and opt.default is None:
                continue
            if opt.parse is not None and value is not None:
                value = opt.parse(value)
            for path in (opt.path, *opt.also):
                values[path] = value
        try:
            config = (make_config or (lambda v: build_config(config_cls, v)))(values)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        run(get_settings(), config)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = doc
    command.__name__ = config_cls.__name__
    # What the command was made of, for a test or a tool to rebuild it with another `run`.
    command.spec = (config_cls, tuple(opts), make_config)  # type: ignore[attr-defined]
    return command


def run_spark_job(
    settings: Settings,
    app_name: str,
    job: Callable[[SparkSession, ProgressCallback], R],
    *,
    input_error: type[Exception] = ValueError,
    gpu: bool = False,
    keep_session: bool = False,
    out: Console = console,
) -> R:
    """Run ``job(spark, on_progress)`` with a progress display on `out`.

    Checks the MLflow server first (before Spark starts), reuses an active session or starts
    one (with the GPU settings when `gpu`), turns `input_error` into a message and exit code 1,
    and stops a session it started unless `keep_session` (the demo runs several jobs on one).
    """
    from pyspark.sql import SparkSession

    from glamcast.platform.model_registry import tracking_uri
    from glamcast.platform.spark import spark_gpu_conf, spark_session

    tracking_uri(settings)  # fail before Spark starts when no MLflow server is up
    owns_spark = SparkSession.getActiveSession() is None  # leave a caller's session running
    spark = spark_session(settings, app_name=app_name,
                          conf=spark_gpu_conf(settings) if gpu else None)
    try:
        with progress_bar(out) as progress:
            return job(spark, rich_progress(progress))
    except input_error as exc:
        out.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        if owns_spark and not keep_session:
            spark.stop()


def single_command_app(function: Callable[..., Any], name: str | None = None) -> typer.Typer:
    """A typer app of one command function (a job's `command`): run as a program, or turned
    into a click command (`typer.main.get_command`) where a group mounts it."""
    single = typer.Typer(add_completion=False)
    single.command(name)(function)
    return single


def run_command_line(app: typer.Typer | Callable[..., Any], argv: Sequence[str] | None = None,
                     prog_name: str | None = None) -> None:
    """Run a typer app or a single command function as a program: click handles usage errors
    and Ctrl-C; a stack that is not running exits 1, a configuration error 2."""
    # MLflow's tqdm bar per artifact download would interleave with the rich output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    program = app if isinstance(app, typer.Typer) else single_command_app(app)
    try:
        program(args=None if argv is None else list(argv), prog_name=prog_name)
    except (stack.StackNotRunningError, stack.StackStartError) as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except ValidationError as exc:  # settings: a missing prod secret or a malformed value
        console.print(f"[red]configuration error:[/] {exc}")
        sys.exit(2)
