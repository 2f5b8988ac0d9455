"""Unit tier for ``DominoJobSensor``: which project it watches in, and what its ``timeout`` does.

A fake hook, no HTTP, no Airflow run. The operator's ``timeout`` (stops the job) is tested in
``tests/operators/test_operator_decisions.py``, next to this sensor's (leaves the job running).
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.models import Job, Project
from airflow_provider_domino.sensors.domino import DominoJobSensor

pytestmark = pytest.mark.timeout(10)


class FakeHook:
    """A job that keeps running; records project look-ups and stops."""

    def __init__(self, status: str = "Running") -> None:
        self.status = status
        self.resolved: list[str] = []
        self.stops: list[str] = []

    def resolve_project(self, project: str) -> Project:
        self.resolved.append(project)
        owner, name = project.split("/")
        return Project(f"id-of-{name}", name, owner)

    def job_url(self, job_id: str, project_id: str | None = None) -> str:
        return f"https://domino.example/jobs/{project_id}/{job_id}"

    def get_job(self, job_id: str) -> Job:
        return Job.from_api({"id": job_id, "status": self.status})

    def stop_job(self, job_id: str, project_id: str | None = None) -> None:
        self.stops.append(job_id)

    def stream_log(self, poll: Any, emit: Any) -> Any:
        return poll.cursor


class TaskInstance:
    dag_id, task_id, run_id, map_index, try_number = "dag", "wait", "run-1", -1, 1

    def __init__(self, upstream_xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.upstream_xcoms = upstream_xcoms or {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", **kwargs: Any) -> Any:
        return self.upstream_xcoms.get((task_ids, key))


def deferred_trigger(sensor: DominoJobSensor, ti: TaskInstance) -> Any:
    """Run the sensor until it defers; the trigger it deferred with."""
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": ti})
    return deferred.value.trigger


def sensor_with(hook: FakeHook, **kwargs: Any) -> DominoJobSensor:
    sensor = DominoJobSensor(**{"task_id": "wait", "job_id": "job-1", "deferrable": True, **kwargs})
    sensor._hook = hook  # type: ignore[assignment]
    return sensor


def test_project_owner_name_is_resolved_and_the_trigger_joins_its_watcher():
    hook = FakeHook()
    trigger = deferred_trigger(sensor_with(hook, project="acme/churn"), TaskInstance())
    assert hook.resolved == ["acme/churn"]
    assert trigger.project_id == "id-of-churn"  # with a project id, the trigger coalesces


def test_project_id_is_used_as_given():
    hook = FakeHook()
    trigger = deferred_trigger(sensor_with(hook, project_id="p7"), TaskInstance())
    assert trigger.project_id == "p7" and hook.resolved == []


def test_project_and_project_id_together_are_refused_at_parse_time():
    with pytest.raises(DominoConfigError, match="either 'project_id' or 'project'"):
        DominoJobSensor(task_id="wait", job_id="job-1", project_id="p1", project="acme/churn")


def test_a_malformed_project_is_refused_at_parse_time():
    with pytest.raises(DominoConfigError):
        DominoJobSensor(task_id="wait", job_id="job-1", project="no-slash")


def test_the_upstream_starts_project_comes_from_its_xcom():
    """``job_id=start.output``: the start pushed ``project_id`` with ``job_id``; the sensor reads it."""
    from airflow.sdk import DAG

    from airflow_provider_domino.operators.domino import DominoStartJobOperator

    with DAG("d", schedule=None):
        start = DominoStartJobOperator(
            task_id="start", command="python x.py", hardware_tier_id="small", wait_for_completion=False
        )
        sensor = DominoJobSensor(task_id="wait", job_id=start.output, deferrable=True)
    assert sensor.job_id_source_task_id == "start"
    sensor._hook = FakeHook()  # type: ignore[assignment]
    sensor.job_id = "job-1"  # what rendering the XComArg gives
    trigger = deferred_trigger(sensor, TaskInstance({("start", "project_id"): "p-upstream"}))
    assert trigger.project_id == "p-upstream"


def test_without_any_project_the_job_is_watched_on_its_own_route():
    trigger = deferred_trigger(sensor_with(FakeHook()), TaskInstance())
    assert trigger.project_id is None


# --- timeout: the sensor fails and leaves the job running -------------------------------------------


def test_the_sensors_timeout_fails_it_and_leaves_the_job_running_when_poking():
    from airflow.sdk.exceptions import AirflowSensorTimeout

    hook = FakeHook()
    sensor = sensor_with(hook, deferrable=False, timeout=0.05, poke_interval=0.01, mode="poke")
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({"ti": TaskInstance()})
    assert hook.stops == [] and hook.get_job("job-1").status_text == "Running"


def test_the_sensors_timeout_fails_it_and_leaves_the_job_running_when_deferred():
    from airflow.sdk.exceptions import AirflowFailException

    hook = FakeHook()
    sensor = sensor_with(hook, timeout=60)
    trigger = deferred_trigger(sensor, TaskInstance())
    assert trigger.deadline is not None
    event = {
        "status": "timeout",
        "job_id": "job-1",
        "message": "Domino job job-1 did not finish before its deadline",
    }
    with pytest.raises(AirflowFailException, match="did not finish"):
        sensor.execute_complete({"ti": TaskInstance()}, event)
    assert hook.stops == []
