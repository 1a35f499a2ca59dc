"""`glamcast.platform.commands`: job commands generated from config dataclasses.

The generated options must take their defaults and help from the dataclass (written once), and
the command must build exactly the config the options describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import pytest
import typer
from typer.testing import CliRunner

from glamcast.platform.commands import (
    Opt,
    build_config,
    comma_list,
    field_comments,
    job_command,
    resolve_field,
)


@dataclass
class Inner:
    """A nested config."""

    rank: int = 8  # latent factors
    seed: int = 0
    mode: Literal["fast", "slow"] = "fast"  # how hard to try


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    name: str = "demo"  # what to call the run
    models: tuple[str, ...] = ("a", "b")  # models to fit
    share: float = 0.25  # held-out share
    day: date | None = None  # first day
    register: bool = True  # register the model
    seed: int = 42  # seeds everything


def run_of(options: list[Opt | str], args: list[str], make_config=None) -> tuple[int, object, str]:
    """Invoke a command made of `options` with `args`; returns (exit code, config, output)."""
    seen: list[object] = []
    command = job_command(Outer, options, lambda settings, config: seen.append(config),
                          doc="A test command.", make_config=make_config)
    app = typer.Typer(add_completion=False)
    app.command()(command)
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return result.exit_code, (seen[0] if seen else None), result.output


def test_field_comments_are_the_help() -> None:
    assert field_comments(Outer) == {
        "name": "what to call the run", "models": "models to fit", "share": "held-out share",
        "day": "first day", "register": "register the model", "seed": "seeds everything",
    }
    assert field_comments(Inner) == {"rank": "latent factors", "mode": "how hard to try"}


def test_resolve_field_walks_nested_configs() -> None:
    spec = resolve_field(Outer, "inner.rank")
    assert (spec.owner, spec.name, spec.annotation, spec.default, spec.help) == (
        Inner, "rank", int, 8, "latent factors")
    with pytest.raises(KeyError, match="no field 'nope'"):
        resolve_field(Outer, "inner.nope")


def test_build_config_builds_nested_dataclasses_from_dotted_paths() -> None:
    assert build_config(Outer, {"inner.rank": 3, "name": "x"}) == Outer(
        inner=Inner(rank=3), name="x")
    assert build_config(Outer, {}) == Outer()


def test_no_options_given_builds_the_default_config() -> None:
    code, config, _ = run_of(["name", "inner.rank", "inner.mode", "share", "register"], [])
    assert code == 0 and config == Outer()


def test_options_set_fields_also_fields_and_parse() -> None:
    options = [
        Opt("inner.rank", flag="rank", typer={"min": 1}),
        "inner.mode",
        Opt("models", kind=str, parse=comma_list, default="a,b"),
        Opt("seed", also=("inner.seed",)),
        "register",
        Opt("day", kind=datetime, parse=lambda moment: moment.date(),
            typer={"formats": ["%Y-%m-%d"]}),
    ]
    code, config, output = run_of(
        options, ["--rank", "5", "--mode", "slow", "--models", "b, c", "--seed", "9",
                  "--no-register", "--day", "2026-03-01"])
    assert code == 0, output
    assert config == Outer(inner=Inner(rank=5, seed=9, mode="slow"), models=("b", "c"), seed=9,
                           register=False, day=date(2026, 3, 1))


def test_an_option_defaulting_to_none_is_left_to_the_config() -> None:
    seen_values: list[dict] = []

    def make(values: dict) -> Outer:
        seen_values.append(dict(values))
        return build_config(Outer, values)

    code, config, _ = run_of([Opt("share", default=None), "name"], [], make_config=make)
    assert code == 0 and seen_values == [{"name": "demo"}] and config == Outer()
    code, config, _ = run_of([Opt("share", default=None)], ["--share", "0.5"], make_config=make)
    assert seen_values[-1] == {"share": 0.5} and config == Outer(share=0.5)


def test_help_shows_the_dataclass_defaults_and_comments() -> None:
    _, _, output = run_of(["name", Opt("inner.rank", flag="rank"), "inner.mode"], ["--help"])
    assert "what to call the run" in output and "[default: demo]" in output
    assert "latent factors" in output and "[default: 8]" in output
    assert "fast|slow" in output


def test_bad_values_are_usage_errors() -> None:
    code, config, output = run_of([Opt("inner.rank", typer={"min": 1})], ["--rank", "0"])
    assert code == 2 and config is None and "Invalid value for '--rank'" in output

    def refuse(values: dict) -> Outer:
        raise ValueError("no such model 'z'")

    code, config, output = run_of(["name"], [], make_config=refuse)
    assert code == 2 and config is None and "no such model 'z'" in output


@pytest.mark.parametrize("module", ["jobs.train_recommender", "jobs.train_look_gan",
                                    "jobs.forecast_trends"])
def test_each_job_command_builds_its_default_config_without_options(module: str) -> None:
    """A job's generated command with no options gives the config its dataclass defaults
    describe (the seeds a CLI seed option fans out to aside)."""
    import importlib

    job = importlib.import_module(module)
    config_cls, options, make_config = job.command.spec
    seen: list[object] = []
    command = job_command(config_cls, options, lambda settings, config: seen.append(config),
                          doc="", make_config=make_config)
    app = typer.Typer(add_completion=False)
    app.command()(command)
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0, result.output
    expected = (make_config or (lambda values: build_config(config_cls, values)))({})
    if module == "jobs.train_recommender":  # --seed 42 also seeds both models
        expected = build_config(config_cls, {"seed": 42, "als.seed": 42, "torch.seed": 42})
    assert seen == [expected]
