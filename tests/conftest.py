"""Shared fixtures: one Domino emulator and one Airflow home per test session.

Airflow reads AIRFLOW_HOME when it is first imported, so the environment is set here, at import time,
before any test module imports Airflow.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

SESSION_DIR = Path(tempfile.mkdtemp(prefix="domino-provider-tests-"))
AIRFLOW_HOME = SESSION_DIR / "airflow"
DAGS_FOLDER = AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir(parents=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)
for name in ("DOMINO_API_HOST", "DOMINO_USER_API_KEY", "DOMINO_TOKEN_FILE", "DOMINO_API_PROXY"):
    os.environ.pop(name, None)

FIXTURES = Path(__file__).parent / "fixtures"
#: The secret every test's emulator accepts; tests grep captured output for it.
API_KEY = "test-key-" + secrets.token_hex(12)
PROJECT = ("acme", "churn")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """One emulator for the session, on a free loopback port, with the fixture projects."""
    yield from _session_emulator("", proxy=True)


@pytest.fixture(scope="session")
def flat_emulator() -> Iterator[EmulatorProcess]:
    """A second session emulator answering in the simplified reference's flat shapes (``--flat-shapes``).

    Started only by tests that ask for it: they prove the provider's tolerant reader still understands
    flat answers (a flat job, ``{data, ...}`` lists, ``text/plain`` logs with byte ranges).
    """
    yield from _session_emulator("flat-", flat_shapes=True)


def _session_emulator(prefix: str, **options: Any) -> Iterator[EmulatorProcess]:
    """An emulator with its own copy of the fixture projects and state file (``prefix`` names them)."""
    from domino_emulator.harness import EmulatorProcess

    projects = SESSION_DIR / f"{prefix}projects"
    shutil.copytree(FIXTURES / "projects", projects)
    with EmulatorProcess(
        api_key=API_KEY,
        projects_dir=projects,
        state_file=SESSION_DIR / f"{prefix}emulator.sqlite",
        extra_args=["--max-concurrent-per-tier", "16"],
        **options,
    ) as process:
        yield process


@pytest.fixture(scope="session")
def project_id(emulator: EmulatorProcess) -> str:
    return emulator.project_id(*PROJECT)


def _connection(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorProcess) -> str:
    conn = {
        "conn_type": "domino",
        "host": emulator.url,
        "password": API_KEY,
        "extra": {"project_id": emulator.project_id(*PROJECT)},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", json.dumps(conn))
    return "domino_default"


@pytest.fixture
def domino_conn(emulator: EmulatorProcess, project_id: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``domino_default`` pointing at the session emulator (through the environment, as users do)."""
    return _connection(monkeypatch, emulator)


@pytest.fixture
def flat_domino_conn(flat_emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """``domino_default`` pointing at the flat-shapes emulator instead."""
    return _connection(monkeypatch, flat_emulator)


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test ends with no injected faults, no list lag and the default log page cap (if it used an emulator)."""
    yield
    for name in ("emulator", "flat_emulator"):
        if name in request.fixturenames:
            emulator = request.getfixturevalue(name)
            emulator.clear_faults()
            emulator.reset_settings()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata DB in the session's Airflow home (about 6 s, once)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return AIRFLOW_HOME
