"""The wheel as a user installs it, shared by the e2e tests: `pip wheel .`, installed without `-e`
into a fresh virtual environment (`wheel_venv`); the quick demo (test_demo.py) runs from it.

The fresh environment is a plain `venv` whose only link to this one is a ``.pth`` line naming
this environment's site-packages, so the large dependencies (torch, pyspark, mlflow, feast) are
reused instead of downloaded. A ``.pth`` *line* adds a directory to `sys.path` without running
the ``.pth`` files inside it, so the editable install of the checkout (``__editable__*.pth``)
stays off: `glamcast`, `feature_repo` and the others import from the installed wheel only
(test_wheel.py checks it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # No build isolation: the machines have no index for setuptools; this env already has it.
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps",
                    "--no-build-isolation", "--quiet", "--wheel-dir", str(dist)],
                   check=True, cwd=dist, timeout=300)
    (built,) = dist.glob("glamcast-*.whl")
    return built


@pytest.fixture(scope="session")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no `-e`), and this env's dependencies on its path."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=120)
    python = root / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([str(python), "-c", code], check=True, capture_output=True,
                             text=True).stdout.strip()
    Path(purelib, "glamcast-test-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    return root


@pytest.fixture(scope="session")
def clean_env() -> dict[str, str]:
    """This process's environment without Glamcast settings or a path into the checkout."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("GLAMCAST_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
