"""Run real DAGs with ``dag.test()`` against the session emulator."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.dag_runner import DagResult, run_dag_test


@pytest.fixture
def run_dag(
    airflow_db: Path, domino_conn: str, capfd: pytest.CaptureFixture[str]
) -> Callable[..., DagResult]:
    """``run_dag(dag_id, body, preamble=..., conf=...)`` with ``domino_default`` on the session emulator."""
    return partial(run_dag_test, capfd)
