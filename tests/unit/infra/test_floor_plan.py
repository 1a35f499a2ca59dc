"""The floor plan is a contract (docs/architecture.md): `lint-imports` passes on the tree, and
fails on a copy of it with an import planted against each rule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("glamcast", "models", "streams", "jobs", "feature_repo")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the project's contracts, on the packages under `root`."""
    return subprocess.run([str(LINT_IMPORTS)], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "planted", "broken"), [
    ("models/look_space.py", "import glamcast.cli", "models is not allowed to import glamcast.cli"),
    ("glamcast/core/names.py", "import glamcast.platform.lake",
     "glamcast.core is not allowed to import glamcast.platform"),
    ("jobs/train_recommender.py", "import glamcast.cli", "jobs is not allowed to import glamcast.cli"),
    ("glamcast/serving/trends.py", "import jobs.forecast_trends",
     "glamcast.serving is not allowed to import jobs"),
    ("glamcast/simulator/config.py", "import glamcast.simulator.world",
     "No cycles are allowed in glamcast.simulator"),
])
def test_a_planted_violation_breaks_the_build(tmp_path: Path, module: str, planted: str,
                                              broken: str) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert broken in done.stdout
