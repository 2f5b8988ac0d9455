"""Helpers shared by the reliability and security suites: private emulators and ``dag.test()`` runs.

The session emulator in ``tests/conftest.py`` is shared by every test; the fault matrix, the restarts and
the secret greps need one of their own, so that request counts, job counts and injected faults belong to
one scenario only. ``run_dag`` here is the e2e runner without the session emulator's connection: each
test points ``AIRFLOW_CONN_DOMINO_DEFAULT`` at the emulator it chose.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import API_KEY, FIXTURES, PROJECT
from tests.dag_runner import DagResult, run_dag_test

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

#: Statuses after which a Domino job can no longer change.
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Error"})


def start_private_emulator(
    root: Path, *, api_key: str = API_KEY, concurrency: int = 16, extra_projects: tuple[str, ...] = ()
) -> EmulatorProcess:
    """A fresh emulator with its own copy of the fixture projects and its own state file under ``root``.

    :param extra_projects: more ``owner/name`` projects, each holding one ``README.md``.
    """
    from domino_emulator.harness import EmulatorProcess

    root.mkdir(parents=True, exist_ok=True)
    projects = root / "projects"
    shutil.copytree(FIXTURES / "projects", projects)
    for extra in extra_projects:
        (projects / extra).mkdir(parents=True)
        (projects / extra / "README.md").write_text(f"project {extra}\n")
    emulator = EmulatorProcess(
        api_key=api_key,
        projects_dir=projects,
        state_file=root / "state.sqlite",
        work_dir=root / "harness",
        extra_args=["--max-concurrent-per-tier", str(concurrency)],
    )
    return emulator.start()


def connection_json(
    url: str, *, password: str | None = API_KEY, project_id: str | None = None, **extra: Any
) -> str:
    """An ``AIRFLOW_CONN_*`` value for a domino connection."""
    extras = dict(extra)
    if project_id:
        extras["project_id"] = project_id
    conn: dict[str, Any] = {"conn_type": "domino", "host": url, "extra": extras}
    if password is not None:
        conn["password"] = password
    return json.dumps(conn)


def point_default_connection(
    monkeypatch: pytest.MonkeyPatch, emulator: EmulatorProcess, *, password: str | None = None, **extra: Any
) -> str:
    """Make ``domino_default`` talk to ``emulator`` (with the ``acme/churn`` project as default)."""
    project_id = emulator.project_id(*PROJECT)
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_DEFAULT",
        connection_json(emulator.url, password=password or emulator.api_key, project_id=project_id, **extra),
    )
    return project_id


def active_jobs(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    """Jobs that have not reached a terminal status."""
    return [job for job in emulator.jobs() if job["status"] not in TERMINAL]


def wait_until_no_active_jobs(emulator: EmulatorProcess, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait for every job to end; returns those still active after ``timeout``."""
    deadline = time.monotonic() + timeout
    active = active_jobs(emulator)
    while active and time.monotonic() < deadline:
        time.sleep(0.1)
        active = active_jobs(emulator)
    return active


def count_by(entries: list[dict[str, Any]], field: str) -> Counter[Any]:
    return Counter(entry[field] for entry in entries)


@pytest.fixture
def run_dag(airflow_db: Path, capfd: pytest.CaptureFixture[str]) -> Callable[..., DagResult]:
    """Like the e2e ``run_dag``, but against whichever emulator the test's connection points at."""
    return partial(run_dag_test, capfd)


@pytest.fixture
def private_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator for one test only (restarts and faults disturb nobody else)."""
    emulator = start_private_emulator(tmp_path / "emulator")
    try:
        yield emulator
    finally:
        emulator.close()
