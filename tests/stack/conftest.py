"""One real Airflow deployment for the stack tests: what ``make stack`` runs, from docker-compose.yml.

PostgreSQL, the Domino emulator, ``airflow api-server``, ``scheduler``, ``dag-processor`` and
``triggerer`` run as separate processes (``scripts/stack_harness.py``). The tests drive Airflow only
through its REST API and its processes' signals, never ``dag.test()``.

``make test`` runs the tests marked ``stack_short``; ``make stack-test`` sets
``DOMINO_STACK_TESTS=all`` and runs every test here, once per executor: ``DOMINO_STACK_EXECUTOR=local``
(the default, LocalExecutor) and ``celery`` (CeleryExecutor, Redis and two Celery workers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from stack_harness import Stack, StackError, require_postgres, require_redis, stack_in_temp_dir  # noqa: E402

HERE = Path(__file__).parent
EXAMPLE_DAGS = ("domino_retraining_pipeline.py", "domino_hyperparameter_sweep.py", "domino_job_chain.py")
RUN_ALL = os.environ.get("DOMINO_STACK_TESTS", "short") == "all"
EXECUTOR = os.environ.get("DOMINO_STACK_EXECUTOR", "local")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without DOMINO_STACK_TESTS=all, leave out the stack tests that are not part of the short run."""
    if RUN_ALL:
        return
    kept, dropped = [], []
    for item in items:
        long_stack_test = item.get_closest_marker("stack") and not item.get_closest_marker("stack_short")
        (dropped if long_stack_test else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running deployment, shared by every stack test (about 20 s to start)."""
    try:
        require_postgres()
        if EXECUTOR == "celery":
            require_redis()
    except StackError as exc:
        pytest.skip(str(exc))
    dag_files = [REPO / "example_dags" / name for name in EXAMPLE_DAGS]
    dag_files.append(HERE / "dags" / "stack_test_dags.py")
    dag_files.append(HERE / "dags" / "stack_event_dags.py")
    projects = {
        "demo/churn": REPO / "example_dags" / "domino_project",
        "acme/churn": REPO / "tests" / "fixtures" / "projects" / "acme" / "churn",
    }
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    with stack_in_temp_dir(
        "domino-stack-tests-", dag_files, projects=projects, executor=EXECUTOR, log=log
    ) as running:
        yield running


@pytest.fixture
def one_triggerer(stack: Stack) -> Iterator[Stack]:
    """Exactly one running triggerer before and after the test (tests stop and start them)."""
    stack.ensure_triggerers(1)
    yield stack
    stack.ensure_triggerers(1)
