"""Run a DAG written by a test through ``dag.test()`` in this process, and read what it left behind.

``dag.test()`` needs the DAG file inside the configured DAGs folder, so each run writes its DAG there
under a unique dag_id, imports it from that path and runs it. Everything it printed is captured (fd
level), with Airflow's stdlib log handlers pointed at the test's stdout for the run and the per-task
"starting task_id=" announcements echoed, so the output can be cut into per-task slices.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

HEADER = """\
import pendulum
from datetime import timedelta
from airflow.sdk import DAG, task
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.sensors.domino import DominoJobSensor
"""


@dataclass
class DagResult:
    """What a ``dag.test()`` run left behind: states, XComs and everything it printed."""

    dag_run: Any
    output: str

    def state(self, task_id: str, map_index: int = -1) -> str | None:
        for ti in self.dag_run.get_task_instances():
            if ti.task_id == task_id and ti.map_index == map_index:
                return ti.state
        raise KeyError(task_id)

    def states(self) -> dict[str, str]:
        return {
            f"{ti.task_id}" + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): ti.state
            for ti in self.dag_run.get_task_instances()
        }

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(
                    dag_id=self.dag_run.dag_id,
                    run_id=self.dag_run.run_id,
                    task_id=task_id,
                    key=key,
                    map_index=map_index,
                )
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)


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
    was then: often pytest's capture of an earlier test (closed since) or phase, which ``capfd`` never
    reads.
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
                handler.stream = sys.stdout  # not setStream(): it would flush a possibly closed stream
    return redirected


def run_dag_test(
    capfd: pytest.CaptureFixture[str],
    dag_id: str,
    body: str,
    *,
    preamble: str = "",
    conf: dict[str, Any] | None = None,
) -> DagResult:
    """Write, import and ``dag.test()`` a DAG; return its run and everything it printed."""
    path = write_dag(dag_id, body, preamble)
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capfd.readouterr()
    redirected = _log_handlers_to_current_stdout()
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


def task_output(output: str, task_id: str, map_index: int | None = None) -> str:
    """The slice of a run's output that belongs to one task (every try, every map index unless given)."""
    parts = re.split(r"(?=\[DAG TEST\] starting task_id=)", output)
    index = r"-?\d+" if map_index is None else str(map_index)
    mine = [
        part
        for part in parts
        if re.match(rf"\[DAG TEST\] starting task_id={task_id} map_index={index}\b", part)
    ]
    assert mine, f"task {task_id} never started"
    return "".join(mine)
