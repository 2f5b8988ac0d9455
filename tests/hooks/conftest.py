from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy
from tests.conftest import API_KEY, FIXTURES, PROJECT, SESSION_DIR

#: Fast retries for tests: same logic, shorter waits.
FAST_RETRIES = RetryPolicy(max_attempts=5, max_elapsed=30, backoff_initial=0.05, backoff_max=0.2)
#: Seconds an ambiguous start looks for its job in tests (the emulator's list does not lag unless asked).
FAST_LOOKUP_WINDOW = 2.0


@pytest.fixture
def hook(domino_conn: str) -> DominoHook:
    hook = DominoHook(domino_conn, retry_policy=FAST_RETRIES)
    hook.start_lookup_window = FAST_LOOKUP_WINDOW
    return hook


@pytest.fixture(scope="module")
def flat_emulator() -> Iterator[object]:
    """An emulator serving the simplified reference's flat shapes (``--flat-shapes``): the tolerant reader."""
    from airflow_provider_domino.emulator.harness import EmulatorProcess

    projects = SESSION_DIR / "flat-projects"
    shutil.rmtree(projects, ignore_errors=True)
    shutil.copytree(FIXTURES / "projects", projects)
    with EmulatorProcess(
        api_key=API_KEY, projects_dir=projects, state_file=SESSION_DIR / "flat.sqlite", flat_shapes=True
    ) as process:
        yield process


@pytest.fixture
def flat_hook(flat_emulator, monkeypatch: pytest.MonkeyPatch) -> DominoHook:
    """A hook on connection ``domino_flat`` pointing at :func:`flat_emulator`."""
    project_id = flat_emulator.project_id(*PROJECT)
    conn = {
        "conn_type": "domino",
        "host": flat_emulator.url,
        "password": API_KEY,
        "extra": {"project_id": project_id},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_FLAT", json.dumps(conn))
    hook = DominoHook("domino_flat", retry_policy=FAST_RETRIES)
    hook.start_lookup_window = FAST_LOOKUP_WINDOW
    return hook
