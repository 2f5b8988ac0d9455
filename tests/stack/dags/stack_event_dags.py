"""The stack tests' DAGs that need no worker to start waiting: an event-driven DAG and a sensor.

``stack_event_driven`` is scheduled on Domino jobs tagged ``stack-release`` in acme/churn;
``stack_sensor_from_triggerer`` waits for the job named in its run's conf.

The watcher polls every second, so a test waits seconds, not minutes. The DAG's one task returns the
asset event's payload (XCom ``return_value``), which the test reads back through the REST API.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_domino.sensors.domino import DominoJobSensor
from airflow_provider_domino.triggers.domino import DominoJobEventTrigger

EVENT_DAG_ID = "stack_event_driven"
EVENT_TAG = "stack-release"
WATCHED = Asset(
    name="stack_acme_churn_release",
    uri="domino://acme/churn/stack-release",
    watchers=[
        AssetWatcher(
            name="stack_release_jobs",
            trigger=DominoJobEventTrigger(project="acme/churn", tag=EVENT_TAG, poll_interval=1),
        )
    ],
)

with DAG(
    dag_id=EVENT_DAG_ID,
    schedule=[WATCHED],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["domino-stack-test"],
) as event_dag:

    @task
    def record_job(*, triggering_asset_events=None) -> list[dict]:
        """Every Domino job event behind this run (Airflow may fold several into one run)."""
        return [event.extra["payload"] for event in triggering_asset_events[WATCHED]]

    record_job()


SENSOR_DAG_ID = "stack_sensor_from_triggerer"

with DAG(
    dag_id=SENSOR_DAG_ID,
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["domino-stack-test"],
) as sensor_dag:
    # The job id comes from the run's conf: known before any task runs, so on Airflow 3.3 the scheduler
    # sends this task straight to the triggerer.
    DominoJobSensor(
        task_id="wait_for_job",
        job_id="{{ dag_run.conf['job_id'] }}",
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )
