"""Fixtures for the emulator tests: one real emulator process for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from domino_emulator.harness import EmulatorProcess

from tests.emulator.helpers import MAX_CONCURRENT_PER_TIER, make_projects_dir


@pytest.fixture(scope="session")
def projects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_projects_dir(tmp_path_factory.mktemp("projects"))


@pytest.fixture(scope="session")
def emulator(projects_dir: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        projects_dir=projects_dir,
        proxy=True,
        extra_args=["--max-concurrent-per-tier", str(MAX_CONCURRENT_PER_TIER)],
    ) as process:
        yield process


@pytest.fixture(autouse=True)
def _reset_emulator(request: pytest.FixtureRequest) -> Iterator[None]:
    """Leave the shared emulator as we found it: no running jobs, no faults, the original key."""
    yield
    if "emulator" not in request.fixturenames:
        return
    emulator: EmulatorProcess = request.getfixturevalue("emulator")
    if emulator.pid is None:
        return
    emulator.set_keys([emulator.api_key])
    emulator.clear_faults()
    emulator.reset_settings()
    emulator.stop_all_jobs()


@pytest.fixture(scope="session")
def project_id(emulator: EmulatorProcess) -> str:
    return emulator.project_id("acme", "churn")
