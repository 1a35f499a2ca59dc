"""The wheel as a user installs it (fixtures in conftest.py): what it holds, and that its packages
import from the fresh venv, not from the checkout. The quick demo itself runs from this wheel in
test_demo.py (one demo run serves both: the demo's checks are the wheel's).
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

PACKAGES = ("glamcast", "models", "streams", "jobs", "feature_repo", "infra")
#: What code finds by path inside the installed packages, and must therefore be in the wheel.
DATA_FILES = (
    "feature_repo/feature_store.local.yaml",
    "feature_repo/feature_store.prod.yaml",
    "glamcast/serving/templates/mirror.html",
    "glamcast/serving/static/sdk/mirror.js",
    "infra/compose.yaml",
    "infra/docker/fetch_s3a_jars.py",
    "infra/scripts/replay_dlq.py",
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_the_wheel_holds_the_packages_and_their_data_files_and_no_node_modules(wheel) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names or any(
            name.startswith(f"{package}/") for name in names), package
    for path in DATA_FILES:
        assert path in names, path
    assert not [name for name in names if "node_modules" in name or "__pycache__" in name
                or name.startswith(("tests/", "bench/", "web/"))]


def test_the_installed_packages_import_from_the_venv_not_the_checkout(
    wheel_venv, tmp_path, clean_env
) -> None:
    code = ("import glamcast, models, streams, jobs, feature_repo, infra;"
            "from glamcast.core.settings import Settings;"
            "from glamcast.platform.features import repo_dir;"
            "print(glamcast.__file__, feature_repo.__file__, repo_dir(Settings()), sep='\\n')")
    completed = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", code], cwd=tmp_path,
                               env=clean_env, capture_output=True, text=True, timeout=600,
                               check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for line in completed.stdout.split():
        assert Path(line).resolve().is_relative_to(wheel_venv.resolve()), line
