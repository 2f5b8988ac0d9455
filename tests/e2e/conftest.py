"""Run real DAGs with ``dag.test()`` against the session emulator.

``dag.test()`` needs the DAG file inside the configured DAGs folder, so each test writes its DAG there
under a unique dag_id, imports it from that path, and runs it in this process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _rebind_closed_log_streams() -> None:
    """Point logging handlers left holding a previous test's (closed) captured stdout at the current one.

    Airflow configures stdlib logging once per process; its stream handlers keep the ``sys.stdout`` of
    the test that ran first, which pytest closes afterwards.
    """
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.stream = sys.stdout  # setStream() would flush the closed one


@pytest.fixture
def run_dag(
    airflow_db: Path, domino_conn: str, capfd: pytest.CaptureFixture[str]
) -> Callable[..., DagResult]:
    """Write ``body`` (indented under ``with DAG(...) as dag:``) to the DAGs folder and run it."""

    def run(dag_id: str, body: str, *, conf: dict[str, Any] | None = None, preamble: str = "") -> DagResult:
        source = (
            HEADER
            + textwrap.dedent(preamble)
            + f"\nwith DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:\n"
            + textwrap.indent(textwrap.dedent(body), "    ")
        )
        path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(dag_id, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _rebind_closed_log_streams()
        capfd.readouterr()
        dag_run = module.dag.test(run_conf=conf)
        captured = capfd.readouterr()
        output = captured.out + captured.err
        if os.environ.get("E2E_OUTPUT_DIR"):  # keep what a run printed, for reading by hand
            Path(os.environ["E2E_OUTPUT_DIR"], f"{dag_id}.log").write_text(output)
        return DagResult(dag_run, output)

    return run
