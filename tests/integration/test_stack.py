"""The embedded stack through the real CLI: up, a harmless second up, status, down, purge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest

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


def test_up_status_down_purge_leaves_nothing_behind(tmp_path):
    state_dir = tmp_path / "state"
    glamcast(state_dir, "up")
    processes = recorded_processes(state_dir)
    family = [p for proc in processes.values() for p in (proc, *proc.children(recursive=True))]
    assert all(proc.is_running() for proc in family)

    again = glamcast(state_dir, "up")
    assert again.stdout.count("already running") == 2
    assert recorded_processes(state_dir).keys() == processes.keys()
    assert {n: p.pid for n, p in recorded_processes(state_dir).items()} == {
        n: p.pid for n, p in processes.items()}

    assert glamcast(state_dir, "status").stdout.count("healthy") == 2

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
