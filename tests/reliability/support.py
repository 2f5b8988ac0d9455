"""Helpers shared by the reliability and security suites: private emulators and ``dag.test()`` runs.

The session emulator in ``tests/conftest.py`` is shared by every test; the fault matrix, the restarts and
the secret greps need one of their own, so that request counts, job counts and injected faults belong to
one scenario only. ``run_dag`` here is the e2e runner without the session emulator's connection: each
test points ``AIRFLOW_CONN_DOMINO_DEFAULT`` at the emulator it chose.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_domino.api.idempotency import key_in_title
from tests.conftest import API_KEY, FIXTURES, PROJECT
from tests.e2e.conftest import HEADER, DagResult, _rebind_closed_log_streams

if TYPE_CHECKING:
    from airflow_provider_domino.emulator.harness import EmulatorProcess

#: Statuses after which a Domino job can no longer change.
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped", "Error"})


def start_private_emulator(
    root: Path, *, api_key: str = API_KEY, concurrency: int = 16, extra_projects: tuple[str, ...] = ()
) -> EmulatorProcess:
    """A fresh emulator with its own copy of the fixture projects and its own state file under ``root``.

    :param extra_projects: more ``owner/name`` projects, each holding one ``README.md``.
    """
    from airflow_provider_domino.emulator.harness import EmulatorProcess

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


def jobs_by_key(emulator: EmulatorProcess) -> dict[str | None, list[dict[str, Any]]]:
    """Every job the emulator holds, grouped by the idempotency key in its title (``None``: no key)."""
    grouped: dict[str | None, list[dict[str, Any]]] = {}
    for job in emulator.jobs():
        grouped.setdefault(key_in_title(job.get("title")), []).append(job)
    return grouped


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


def write_dag(dag_id: str, body: str, preamble: str = "") -> Path:
    """Write a DAG file (``body`` indented under ``with DAG(...) as dag:``) into the DAGs folder."""
    source = (
        HEADER
        + textwrap.dedent(preamble)
        + f"\nwith DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False)"
        + " as dag:\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    path.write_text(source)
    return path


def _log_handlers_to_current_stdout() -> list[tuple[logging.StreamHandler[Any], Any]]:
    """Point Airflow's stdlib log handlers at this test's stdout for the run; returns what to restore.

    Airflow configures logging once per process, binding its console handler to whatever ``sys.stdout``
    was then: often pytest's capture of an earlier phase, which ``capfd`` never reads. Without this, the
    stdlib log records of tasks (the provider's hook warnings, a DAG author's ``logging`` calls) would be
    missing from the output the tests search.
    """
    redirected = []
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and handler.stream is not sys.stdout:
                redirected.append((handler, handler.stream))
                handler.stream = sys.stdout
    return redirected


def task_output(output: str, task_id: str, map_index: int | None = None) -> str:
    """The slice of a ``run_dag`` output that belongs to one task (every try, every map index unless given)."""
    parts = re.split(r"(?=\[DAG TEST\] starting task_id=)", output)
    index = r"-?\d+" if map_index is None else str(map_index)
    mine = [
        part
        for part in parts
        if re.match(rf"\[DAG TEST\] starting task_id={task_id} map_index={index}\b", part)
    ]
    assert mine, f"task {task_id} never started"
    return "".join(mine)


@pytest.fixture
def run_dag(airflow_db: Path, capfd: pytest.CaptureFixture[str]) -> Callable[..., DagResult]:
    """Like the e2e ``run_dag``, but against whichever emulator the test's connection points at."""

    def run(dag_id: str, body: str, *, preamble: str = "", conf: dict[str, Any] | None = None) -> DagResult:
        path = write_dag(dag_id, body, preamble)
        spec = importlib.util.spec_from_file_location(dag_id, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _rebind_closed_log_streams()
        capfd.readouterr()
        redirected = _log_handlers_to_current_stdout()
        # dag.test() announces each task through stdlib logging, which does not reach stdout; echo those
        # lines inline so the output can be cut into per-task slices (see ``task_output``).
        announcer = logging.getLogger("airflow.sdk.definitions.dag")
        echo = logging.StreamHandler(sys.stdout)
        echo.setFormatter(logging.Formatter("%(message)s"))
        announcer.addHandler(echo)
        try:
            dag_run = module.dag.test(run_conf=conf)
        finally:
            announcer.removeHandler(echo)
            for handler, stream in redirected:
                handler.stream = stream
            captured = capfd.readouterr()
            output = captured.out + captured.err
            if os.environ.get("E2E_OUTPUT_DIR"):  # keep what a run printed, for reading by hand
                Path(os.environ["E2E_OUTPUT_DIR"], f"{dag_id}.log").write_text(output)
        return DagResult(dag_run, output)

    return run


@pytest.fixture
def private_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator for one test only (restarts and faults disturb nobody else)."""
    emulator = start_private_emulator(tmp_path / "emulator")
    try:
        yield emulator
    finally:
        emulator.close()
