"""What the provider's distribution holds: the package alone, one version, no emulator, its license.

The fast checks read pyproject.toml and the package source. ``test_built_wheel_holds_the_package_alone``
builds the wheel for real when the ``build`` package is installed (it is not part of the test extra; the
release check in CONTRIBUTING.md installs it in a separate venv).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_domino"
#: What a worker image must never get from the provider: a server, and the code that runs commands.
SERVER_DISTRIBUTIONS = ("fastapi", "uvicorn", "domino-emulator", "domino_emulator")


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_is_written_once(pyproject: dict) -> None:
    from airflow_provider_domino import __version__

    project = pyproject["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "airflow_provider_domino.__version__"
    }
    major, minor, patch = (int(part) for part in __version__.split("."))
    assert (major, minor, patch) >= (0, 2, 0)
    # The CHANGELOG's newest release is this version, with a date.
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first_release = next(line for line in changelog.splitlines() if line.startswith("## ["))
    assert first_release.startswith(f"## [{__version__}] - 20"), first_release


def test_metadata_names_license_and_urls(pyproject: dict) -> None:
    project = pyproject["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert {"Homepage", "Repository", "Changelog", "Issues"} <= set(project["urls"])
    assert (ROOT / "SECURITY.md").is_file()


def test_dependencies_name_no_server(pyproject: dict) -> None:
    requirements = " ".join(pyproject["project"]["dependencies"]).lower()
    assert not [name for name in SERVER_DISTRIBUTIONS if name in requirements]
    assert "scripts" not in pyproject["project"], "the provider installs no console script"


def test_only_the_package_is_packaged(pyproject: dict) -> None:
    from setuptools import find_packages

    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    assert "airflow_provider_domino" in packages
    assert all(name.split(".")[0] == "airflow_provider_domino" for name in packages), packages


def test_package_never_imports_the_emulator() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad = [n for n in names if n.split(".")[0] in ("domino_emulator", "fastapi", "uvicorn")]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="the 'build' package is not installed")
def test_built_wheel_holds_the_package_alone(tmp_path: Path) -> None:
    from airflow_provider_domino import __version__

    # From a copy of what the build reads, so the checkout gets no build/ or *.egg-info directories.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"airflow_provider_domino-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"airflow_provider_domino-{__version__}.dist-info/METADATA").decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"airflow_provider_domino", f"airflow_provider_domino-{__version__}.dist-info"}, tops
    requires = [line.lower() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if any(name in r for name in SERVER_DISTRIBUTIONS)]
