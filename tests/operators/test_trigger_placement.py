"""``trigger_queue`` on the operator and the sensor, and the sensor that starts in the triggerer.

No Airflow run: the tasks defer against a fake hook and the test reads what Airflow would read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from airflow_provider_domino.api.models import Job
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.sensors.domino import DominoJobSensor
from airflow_provider_domino.triggers import placement


@pytest.fixture(autouse=True)
def _queues_enabled(monkeypatch):
    """As a deployment with triggerer queues (one warning per process otherwise, tested elsewhere)."""
    monkeypatch.setenv("AIRFLOW__TRIGGERER__QUEUES_ENABLED", "True")
    monkeypatch.setattr(placement, "_warned", set())


class FakeHook:
    def __init__(self, status: str = "Running") -> None:
        self.status = status

    def get_job(self, job_id: str) -> Job:
        done = self.status in ("Succeeded", "Failed", "Stopped", "Error")
        return Job.from_api({"id": job_id, "status": {"executionStatus": self.status, "isCompleted": done}})

    def job_url(self, job_id: str, project_id: str | None = None) -> str:
        return f"https://domino.example/jobs/{project_id + '/' if project_id else ''}{job_id}"

    def resolve_project(self, project: str) -> Any:
        from airflow_provider_domino.api.models import Project

        return Project("p-" + project.replace("/", "-"), project.split("/")[1], project.split("/")[0])

    def stream_log(self, poll: Any, emit: Any) -> Any:
        return poll.cursor

    def known_price_sheet(self, job_id: str) -> None:
        return None  # no tier prices read here


class TaskInstance:
    dag_id, task_id, run_id, map_index, start_date = "dag", "wait", "run-1", -1, None

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def _context(ti: TaskInstance) -> Any:
    return {"ti": ti}


def _deferred(task: Any, call: Any) -> Any:
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value


def test_the_sensor_defers_to_its_trigger_queue_and_keeps_its_own_queue():
    sensor = DominoJobSensor(
        task_id="wait", job_id="{{ ti.xcom_pull('start') }}", deferrable=True, trigger_queue="domino-net"
    )
    assert sensor.queue == "default" and not sensor.start_from_trigger
    sensor.job_id = "job-1"  # as rendered
    sensor._hook = FakeHook()  # type: ignore[assignment]
    _deferred(sensor, lambda: sensor._defer_unless_ended(_context(TaskInstance())))
    # What Airflow's defer code reads (ti.task.queue) for the trigger's row; the TI's queue is not sent.
    assert sensor.queue == "domino-net"


def test_the_operator_defers_to_its_trigger_queue():
    op = DominoStartJobOperator(
        task_id="train",
        command="python train.py",
        hardware_tier_id="small",
        deferrable=True,
        trigger_queue="q2",
    )
    op._hook = FakeHook()  # type: ignore[assignment]
    job = Job.from_api({"id": "job-1", "status": "Running"})
    _deferred(op, lambda: op._defer(job, _context(TaskInstance())))
    assert op.queue == "q2"


def test_without_trigger_queue_nothing_changes():
    op = DominoStartJobOperator(
        task_id="train", command="python train.py", hardware_tier_id="small", deferrable=True
    )
    op._hook = FakeHook()  # type: ignore[assignment]
    job = Job.from_api({"id": "job-1", "status": "Running"})
    _deferred(op, lambda: op._defer(job, _context(TaskInstance())))
    assert op.queue == "default"


def _dag_with(**sensor_kwargs: Any) -> Any:
    from airflow.sdk import DAG, task

    with DAG("d", schedule=None, start_date=datetime(2025, 1, 1)) as dag:

        @task
        def start() -> str:
            return "job-1"

        DominoJobSensor(task_id="wait", **{"job_id": start(), "deferrable": True, **sensor_kwargs})
    return dag


@pytest.mark.parametrize("job_id", ["6571e8f0", "{{ params.job_id }}", "{{ dag_run.conf['job_id'] }}"])
def test_a_sensor_on_a_job_id_known_before_the_run_starts_in_the_triggerer(job_id):
    """Checked on the DAG as the scheduler sees it: serialized and read back."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagSerialization.from_dict(DagSerialization.to_dict(_dag_with(job_id=job_id)))
    wait: Any = dag.get_task("wait")
    assert wait.start_from_trigger is True
    assert wait.start_trigger_args.trigger_cls.endswith("triggers.domino.DominoJobTrigger")
    assert wait.start_trigger_args.next_method == "execute_complete"
    kwargs = wait.start_trigger_args.trigger_kwargs
    kwargs = kwargs.get("__var", kwargs)  # the serialized form wraps the dict, as the triggerer unwraps it
    assert kwargs["job_id"] == job_id


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # job_id=start() (an upstream task's output)
        {"job_id": "{{ ti.xcom_pull('start') }}"},
        {"job_id": "6571e8f0", "deferrable": False},
        {"job_id": "6571e8f0", "trigger_queue": "domino-net"},
    ],
)
def test_other_sensors_run_on_a_worker_first(kwargs):
    wait: Any = _dag_with(**kwargs).get_task("wait")
    assert not wait.start_from_trigger and wait.start_trigger_args is None


def test_a_sensor_started_in_the_triggerer_fills_in_its_job_link_when_it_resumes():
    sensor = DominoJobSensor(task_id="wait", job_id="job-7", deferrable=True)
    assert sensor.start_from_trigger
    sensor._hook = FakeHook("Succeeded")  # type: ignore[assignment]
    ti = TaskInstance()
    result = sensor.execute_complete(_context(ti), {"status": "success", "job_id": "job-7", "message": ""})
    assert result["id"] == "job-7"
    assert ti.xcoms["job_url"] == "https://domino.example/jobs/job-7"


def test_a_sensor_started_in_the_triggerer_resolves_its_project_for_the_link():
    sensor = DominoJobSensor(task_id="wait", job_id="job-8", project="acme/churn", deferrable=True)
    assert sensor.start_from_trigger
    sensor._hook = FakeHook("Succeeded")  # type: ignore[assignment]
    ti = TaskInstance()
    sensor.execute_complete(_context(ti), {"status": "success", "job_id": "job-8", "message": ""})
    assert ti.xcoms["job_url"] == "https://domino.example/jobs/p-acme-churn/job-8"
