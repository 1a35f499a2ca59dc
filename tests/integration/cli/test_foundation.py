"""The foundation through the real CLI: up, topics, simulate into the broker, read back, down.

Every simulated event must arrive on its topic and validate, with exactly the event ids the same
seed gives when simulated to files; `down` must leave no process of the stack behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date

import psutil
import pytest

from glamcast.core import topics
from glamcast.core.events import TOPIC_MODELS, decode_event
from glamcast.core.settings import Settings
from glamcast.platform import broker
from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.writers import simulate_to_files

pytestmark = pytest.mark.integration


def glamcast(state_dir, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GLAMCAST_STATE_DIR": str(state_dir), "COLUMNS": "200"}
    env.pop("GLAMCAST_KAFKA_BOOTSTRAP", None)
    env.pop("GLAMCAST_MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, "-m", "glamcast.cli", *args], env=env,
                            capture_output=True, text=True, timeout=240)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def recorded_processes(state_dir) -> dict[str, psutil.Process]:
    state = json.loads((state_dir / "stack.json").read_text())
    return {name: psutil.Process(state[name]["pid"]) for name in ("broker", "mlflow")}


WORLD = {"users": 300, "days": 14, "seed": 11, "start": "2026-10-01"}


def expected_event_ids(tmp_path) -> dict[str, set[str]]:
    config = SimulationConfig(users=WORLD["users"], days=WORLD["days"], seed=WORLD["seed"],
                              start=date.fromisoformat(WORLD["start"]))
    out = tmp_path / "files"
    simulate_to_files(config, out)
    ids = {}
    for topic_name in topics.INPUT_TOPICS:
        path = out / f"{topic_name}.jsonl"
        ids[topic_name] = {json.loads(line)["event_id"] for line in path.read_text().splitlines()}
    return ids


def test_up_topics_simulate_read_back_down(tmp_path, monkeypatch):
    state_dir = tmp_path / "state"
    glamcast(state_dir, "up")
    processes = recorded_processes(state_dir)
    family = [p for proc in processes.values() for p in (proc, *proc.children(recursive=True))]
    assert all(proc.is_running() for proc in family)
    # a lean stack: the MLflow server and its one worker, no job-queue consumers (docs/runbook.md)
    mlflow_family = [processes["mlflow"], *processes["mlflow"].children(recursive=True)]
    assert len(mlflow_family) <= 2, [" ".join(p.cmdline()[:4]) for p in mlflow_family]
    assert not [p for p in mlflow_family if "huey" in " ".join(p.cmdline())]

    again = glamcast(state_dir, "up")
    assert again.stdout.count("already running") == 2
    assert recorded_processes(state_dir).keys() == processes.keys()
    assert {n: p.pid for n, p in recorded_processes(state_dir).items()} == {
        n: p.pid for n, p in processes.items()}

    assert glamcast(state_dir, "status").stdout.count("healthy") == 2
    assert glamcast(state_dir, "topics", "create").stdout.count("created") == len(topics.TOPICS)
    assert glamcast(state_dir, "topics", "create").stdout.count("exists") == len(topics.TOPICS)

    glamcast(state_dir, "simulate", *(f"--{name}={value}" for name, value in WORLD.items()))
    monkeypatch.setenv("GLAMCAST_STATE_DIR", str(state_dir))
    arrived: dict[str, list[str]] = defaultdict(list)
    for record in broker.read_all(Settings(), topics.INPUT_TOPICS):
        event = decode_event(TOPIC_MODELS[record.topic], record.value)
        assert isinstance(event, TOPIC_MODELS[record.topic]), event
        arrived[record.topic].append(event.event_id)
    expected = expected_event_ids(tmp_path)
    assert sum(len(ids) for ids in arrived.values()) >= 20_000
    for topic_name in topics.INPUT_TOPICS:
        assert len(arrived[topic_name]) == len(expected[topic_name]), topic_name
        assert set(arrived[topic_name]) == expected[topic_name], topic_name

    down = glamcast(state_dir, "down", "--purge")
    assert "stopped: broker, mlflow" in down.stdout
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == []
    assert not state_dir.exists()


def test_status_fails_when_nothing_runs(tmp_path):
    result = glamcast(tmp_path / "empty", "status", check=False)
    assert result.returncode == 1
    assert result.stdout.count("not started") == 2


def test_down_does_not_kill_a_process_that_reused_a_recorded_pid(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        fake = {"pid": bystander.pid, "create_time": 1.0, "address": "127.0.0.1:1", "log": "x"}
        (state_dir / "stack.json").write_text(json.dumps({"broker": fake}))
        assert "nothing was running" in glamcast(state_dir, "down").stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
