"""Running stream workers: N `python -m streams worker` processes sharing the partitions.

`run(settings, workers)` is what ``glamcast stream --workers N`` calls: it creates the topics,
starts N worker processes (each a Faust worker with its own web port and data dir, settings
passed through GLAMCAST_* variables), forwards SIGTERM/SIGINT to them, and waits. A worker that
receives SIGTERM lands and commits what it buffered, then leaves the consumer group. If one worker
exits on its own, the others are stopped too and `run` returns its exit status, so a process
supervisor (systemd, Kubernetes) restarts the set; partitions of a dead worker move to the live
ones after the session timeout either way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pydantic import BaseModel, SecretStr

from glamcast.core.settings import Settings
from glamcast.platform.stack import free_port
from streams.app import ensure_topics

LOG_LEVELS = ("crit", "error", "warn", "info", "debug")


@dataclass
class WorkerProcess:
    """One started worker: its process, web port and log file (None: inherited output)."""

    index: int
    process: subprocess.Popen
    web_port: int
    log: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid


def _plain(value: object) -> object:
    """JSON of what settings hold beyond JSON's types: secrets in clear, models as dicts."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """GLAMCAST_* variables that rebuild `settings` in a child process (secrets included)."""
    env = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, (list, dict, BaseModel)):
            value = json.dumps(value, default=_plain)
        env[f"GLAMCAST_{name.upper()}"] = str(value)
    return env


def _child_env(settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLAMCAST_")}
    env.update(settings_env(settings))
    return env


def start_workers(
    settings: Settings,
    workers: int = 1,
    *,
    loglevel: str = "info",
    log_dir: Path | None = None,
    first_index: int = 0,
) -> list[WorkerProcess]:
    """Start `workers` worker processes and return at once (they join the group in seconds).

    Worker i listens on ``streams_web_port + i`` (free ports when that setting is 0) and keeps
    its Faust data under ``<state_dir>/streams/<app id>/worker-<i>``. With `log_dir`, each
    writes ``worker-<i>.log`` there; otherwise they share this process's output.
    """
    if loglevel not in LOG_LEVELS:
        raise ValueError(f"loglevel must be one of {LOG_LEVELS}, not {loglevel!r}")
    env = _child_env(settings)
    started = []
    for index in range(first_index, first_index + workers):
        port = settings.streams_web_port + index if settings.streams_web_port else free_port()
        datadir = settings.state_path / "streams" / settings.streams_app_id / f"worker-{index}"
        datadir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "streams",
            "--datadir",
            str(datadir),
            "--loglevel",
            loglevel,
            "worker",
            "--web-port",
            str(port),
        ]
        log = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            log = log_dir / f"worker-{index}.log"
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
        else:
            process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
        started.append(WorkerProcess(index, process, port, log))
    return started


def stop_workers(workers: list[WorkerProcess], timeout_s: float = 60.0) -> list[int | None]:
    """SIGTERM every running worker, wait for them, SIGKILL what is left; returns exit codes."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    return [worker.process.returncode for worker in workers]


def run(
    settings: Settings, workers: int = 1, *, loglevel: str = "info", log_dir: Path | None = None
) -> int:
    """Run `workers` worker processes until SIGTERM/SIGINT or until one exits; returns a status.

    0 after a requested stop; otherwise the exit status of the first worker that ended.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    ensure_topics(settings)  # once here, rather than racing in every worker
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    started = start_workers(settings, workers, loglevel=loglevel, log_dir=log_dir)
    try:
        while not stopping:
            ended = [worker for worker in started if worker.process.poll() is not None]
            if ended:
                stop_workers(started)
                return ended[0].process.returncode or 1
            time.sleep(0.2)
        codes = stop_workers(started)
        return 0 if all(code == 0 for code in codes) else 1
    finally:
        stop_workers(started)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
