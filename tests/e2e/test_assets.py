"""A producer's Domino job triggers a consumer DAG through an asset; the consumer reads the commit.

``example_dags/domino_model_producer.py`` and ``domino_model_consumer.py``, unchanged, on a real Airflow
(the session's metadata DB), real HTTP and the example project on an emulator:

1. ``dag.test()`` runs the producer. Its ``@task.domino`` task ``train`` (deferrable, ``outlets``)
   succeeds, and Airflow's execution API records the asset event, with our ``extra``, and queues the
   consumer (``dag.test()`` wrote both DAGs of the DAGs folder to the DB, the consumer unpaused).
2. No scheduler runs in ``dag.test()``: the test calls the scheduler's own step that turns queued asset
   events into DAG runs (``SchedulerJobRunner._create_dagruns_for_dags``, as its loop does), so the
   consumer's run is a real asset-triggered run holding the producer's event.
3. ``dag.test()`` runs the consumer's tasks in that run (its run lookup is pointed at it): the first
   reads ``triggering_asset_events`` and returns the commit, ``evaluate`` runs on it.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from tests.dag_runner import DagResult
from tests.e2e.test_example_dags import EXAMPLE_DAGS, demo_conn, demo_emulator

__all__ = ["demo_conn", "demo_emulator"]

PRODUCER, CONSUMER = "domino_model_producer", "domino_model_consumer"


def _load_example(dag_id: str) -> ModuleType:
    """Copy an example DAG file into the DAGs folder and import it from there (as dag.test() needs)."""
    import os

    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    shutil.copy(EXAMPLE_DAGS / f"{dag_id}.py", path)
    spec = importlib.util.spec_from_file_location(f"example_dags_assets_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _asset_events(asset_name: str, source_run_id: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == asset_name, AssetEvent.source_run_id == source_run_id)
        ).all()
        session.expunge_all()
        return list(rows)


def _scheduler_creates_asset_triggered_runs() -> None:
    """What the scheduler's loop does with queued asset events: create the DAG runs they call for."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.utils.session import create_session
    from airflow.utils.sqlalchemy import prohibit_commit

    runner = SchedulerJobRunner(job=Job(), num_runs=1)
    with create_session() as session, prohibit_commit(session) as guard:
        runner._create_dagruns_for_dags(guard, session)


def _asset_triggered_run(dag_id: str) -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        (run,) = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_type == "asset_triggered")
        ).all()
        consumed = [(event.id, dict(event.extra)) for event in run.consumed_asset_events]
        return run.id, run.run_id, run.logical_date, consumed


def _test_in_existing_run(module: ModuleType, run_pk: int, logical_date: Any) -> Any:
    """``dag.test()`` the module's DAG in the run the scheduler created (marked running, as it would)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        session.get(DagRun, run_pk).set_state(DagRunState.RUNNING)

    def existing_run(*, dag: Any, session: Any, **_: Any) -> Any:
        run = session.get(DagRun, run_pk)
        run.dag = dag  # as get_or_create_dagrun does: the run is scheduled against this DAG
        return run

    with mock.patch("airflow.models.dagrun.get_or_create_dagrun", side_effect=existing_run):
        return module.dag.test(logical_date=logical_date)


@pytest.mark.e2e
def test_producer_job_triggers_the_consumer_through_the_asset(demo_conn, demo_emulator):
    consumer = _load_example(CONSUMER)  # in the DAGs folder before the producer runs, as deployed
    producer = _load_example(PRODUCER)

    producer_run = producer.dag.test()
    produced = DagResult(producer_run, "")
    assert produced.states() == {"prepare": "success", "train": "success"}, produced.states()
    train_job = produced.xcom("train", "job")
    assert train_job["status"] == "Succeeded" and train_job["outputCommitId"]

    # 1. The asset event names the Domino job and its output commit.
    (event,) = _asset_events("demo_churn_model", producer_run.run_id)
    assert event.source_task_id == "train"
    assert event.extra == {
        "domino_job_id": train_job["id"],
        "output_commit_id": train_job["outputCommitId"],
        "project_id": demo_emulator.project_id("demo", "churn"),
        "job_url": produced.xcom("train", "job_url"),
        # train.py's dominostats.json, numbers as numbers
        "domino_stats": {
            stat["name"]: float(stat["value"])
            for stat in demo_emulator.get_job(train_job["id"])["dominoStats"]
        },
    }

    # 2. The scheduler turns the queued event into an asset-triggered run of the consumer.
    _scheduler_creates_asset_triggered_runs()
    run_pk, run_id, logical_date, consumed = _asset_triggered_run(CONSUMER)
    assert consumed == [(event.id, event.extra)]

    # 3. The consumer reads the commit from the triggering event and evaluates the model on it.
    consumer_run = _test_in_existing_run(consumer, run_pk, logical_date)
    assert consumer_run.run_id == run_id
    consumed_result = DagResult(consumer_run, "")
    assert consumed_result.states() == {"model_commit": "success", "evaluate": "success"}
    assert consumed_result.xcom("model_commit") == train_job["outputCommitId"]
    evaluate_job = demo_emulator.get_job(consumed_result.xcom("evaluate"))
    assert evaluate_job["commitId"] == train_job["outputCommitId"]
    assert evaluate_job["status"] == "Succeeded"
