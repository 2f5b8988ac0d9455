"""The sensor's log cursor in ``task_state_store`` belongs to one job (fake transport, no Airflow run)."""

from __future__ import annotations

from typing import Any

from airflow_provider_domino.api.models import Job
from airflow_provider_domino.sensors.domino import LOG_CURSOR_STATE_KEY, DominoJobSensor
from tests.api.fakes import fake_hook, json_response


class Store(dict):
    def set(self, key: str, value: Any) -> None:
        self[key] = value


def _entries(*lines: str) -> list[dict[str, Any]]:
    return [
        {"log": f"{line}\n", "logType": "stdOut", "size": 1, "timestamp": f"2026-11-26T10:00:0{n}Z"}
        for n, line in enumerate(lines)
    ]


def _sensor(job_id: str, logs: list[dict[str, Any]]) -> tuple[DominoJobSensor, list[str]]:
    def answer(call: Any) -> Any:
        entries = logs if call.params["logType"] in ("stdOut", "complete") else []  # one or all streams
        since = call.params.get("latestTimeNano")
        if since is not None:
            entries = entries[-1:]  # an inclusive cursor: the last entry shown comes again
        return json_response({"logs": {"logContent": entries, "isComplete": True}, "metadata": {}})

    sensor = DominoJobSensor(task_id="s", job_id=job_id, fetch_logs=True)
    sensor._hook, _ = fake_hook({"get_job_logs": answer})
    shown: list[str] = []
    sensor.log.info = lambda fmt, *args: shown.append(fmt % args)  # type: ignore[method-assign]
    return sensor, shown


def running(job_id: str) -> Job:
    return Job.from_api({"id": job_id, "status": "Running"})


def test_a_rescheduled_sensor_resumes_its_jobs_log_and_names_the_job():
    store = Store()
    first, _ = _sensor("job-a", _entries("one", "two"))
    first._follow_log({"task_state_store": store}, running(first.job_id))
    assert store[LOG_CURSOR_STATE_KEY]["job_id"] == "job-a"
    again, shown = _sensor("job-a", _entries("one", "two"))
    again._follow_log({"task_state_store": store}, running(again.job_id))
    assert shown == []  # nothing shown twice after a reschedule


def test_a_cursor_left_by_another_job_is_not_used():
    """A cleared upstream started a new job: the sensor's stored cursor is the old job's."""
    store = Store()
    old, _ = _sensor("job-a", _entries("one", "two"))
    old._follow_log({"task_state_store": store}, running(old.job_id))
    new, shown = _sensor("job-b", _entries("one", "two"))
    new._follow_log({"task_state_store": store}, running(new.job_id))
    assert shown == ["[job-b] one", "[job-b] two"]
    assert store[LOG_CURSOR_STATE_KEY]["job_id"] == "job-b"
