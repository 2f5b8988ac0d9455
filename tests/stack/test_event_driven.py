"""A DAG scheduled on Domino job events, on the real services: jobs started in Domino, not by Airflow.

``dags/stack_event_dags.py`` watches acme/churn for jobs tagged ``stack-release``. The tests start jobs
the way a user would in Domino's UI (the emulator's public API, with a tag added to one) and check what
reaches Airflow: one DAG run per tagged job, whose asset event names the job and its output commit; no
run for the untagged job; and across a triggerer killed while a watched job ends, still exactly one.
"""

from __future__ import annotations

from typing import Any

import pytest
from stack_harness import Stack, q, wait_until

from tests.stack.dags.stack_event_dags import EVENT_DAG_ID, EVENT_TAG

pytestmark = pytest.mark.stack


def _start_job(stack: Stack, command: str, tag: str | None) -> str:
    """Start a job in acme/churn through Domino's public API, as a user would, and tag it."""
    project_id = stack.emulator.project_id("acme", "churn")
    response = stack.emulator.api(
        "POST", "/api/jobs/v1/jobs", json={"projectId": project_id, "runCommand": command}
    )
    response.raise_for_status()
    body = response.json()
    job_id = str((body.get("job") or body)["id"])
    if tag:
        tagged = stack.emulator.api(
            "POST", f"/api/jobs/v1/jobs/{q(job_id)}/tags", json={"tagName": tag, "projectId": project_id}
        )
        tagged.raise_for_status()
    return job_id


def _watcher_rounds(stack: Stack) -> int:
    """List requests the watcher has made (its ``statusFilter=all`` reads of the project's jobs)."""
    return sum(
        1
        for entry in stack.emulator.requests_log()
        if entry["endpoint"] == "list_jobs" and "statusFilter=all" in (entry.get("query") or "")
    )


def _fired_jobs(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """job id -> the payloads naming it, over every run of the event-driven DAG (one per event)."""
    runs = stack.api.call("GET", f"/dags/{q(EVENT_DAG_ID)}/dagRuns", params={"limit": 100})["dag_runs"]
    fired: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        events = stack.api.call(
            "GET", f"/dags/{q(EVENT_DAG_ID)}/dagRuns/{q(run['dag_run_id'])}/upstreamAssetEvents"
        )["asset_events"]
        for event in events:
            payload = (event.get("extra") or {}).get("payload") or {}
            fired.setdefault(payload.get("job_id", "?"), []).append(payload)
    return fired


def _wait_for_watcher(stack: Stack, rounds: int = 2) -> None:
    """Until the watcher has read the project's job list ``rounds`` more times (its baseline at first)."""
    stack.api.wait_for_dag(EVENT_DAG_ID)
    before = _watcher_rounds(stack)
    wait_until(
        lambda: _watcher_rounds(stack) >= before + rounds, 180, f"{rounds} rounds of the job watcher", 0.5
    )


def test_a_tagged_job_started_in_domino_runs_the_dag_once(one_triggerer: Stack) -> None:
    stack = one_triggerer
    _wait_for_watcher(stack)
    tagged = _start_job(stack, "python print_lines.py 4 0.5", EVENT_TAG)
    untagged = _start_job(stack, "python print_lines.py 2 0.5", None)
    for job_id in (tagged, untagged):
        stack.emulator.wait_for_status(job_id, {"Succeeded"}, timeout=60)
    wait_until(lambda: tagged in _fired_jobs(stack), 120, f"a DAG run for {tagged}", 0.5)
    _wait_for_watcher(stack, rounds=3)  # later rounds must not fire it again, nor the untagged job

    fired = _fired_jobs(stack)
    assert len(fired[tagged]) == 1, f"{tagged} fired {len(fired[tagged])} times"
    assert untagged not in fired, f"the untagged job {untagged} fired"
    (payload,) = fired[tagged]
    job = stack.emulator.get_job(tagged)
    assert payload["output_commit_id"] == job["outputCommitId"] and payload["output_commit_id"]
    assert payload["status"] == "Succeeded" and EVENT_TAG in payload["tags"]


def test_a_job_that_ends_while_the_triggerer_is_killed_fires_once_after_restart(one_triggerer: Stack) -> None:
    stack = one_triggerer
    _wait_for_watcher(stack)
    earlier = set(_fired_jobs(stack))
    job_id = _start_job(stack, "python print_lines.py 8 0.5", EVENT_TAG)
    stack.emulator.wait_for_status(job_id, {"Running"}, timeout=60)
    (triggerer,) = stack.running_triggerers()
    triggerer.kill()  # SIGKILL while the job runs: the job ends while no triggerer is there
    stack.emulator.wait_for_status(job_id, {"Succeeded"}, timeout=60)
    assert job_id not in _fired_jobs(stack)

    stack.start_component("triggerer")
    wait_until(lambda: job_id in _fired_jobs(stack), 180, f"a DAG run for {job_id} after the restart", 0.5)
    _wait_for_watcher(stack, rounds=3)
    fired = _fired_jobs(stack)
    assert len(fired[job_id]) == 1, f"{job_id} fired {len(fired[job_id])} times"
    # The restarted watcher resumed from its stored cursor: nothing fired before fires again.
    assert all(len(fired[earlier_job]) == 1 for earlier_job in earlier), fired


def test_a_sensor_on_a_job_id_from_conf_never_takes_a_worker_before_deferring(one_triggerer: Stack) -> None:
    """start_from_trigger: the task instance is deferred without ever being queued to the executor.

    How we know: a task that runs on a worker first is queued (``queued_when`` set), picked up by a
    worker (``hostname``, ``pid``) and only then defers. Here, while it is deferred, the task instance
    has never been queued and no worker has claimed it; only the resume after the trigger fired runs
    on a worker.
    """
    from tests.stack.dags.stack_event_dags import SENSOR_DAG_ID

    stack = one_triggerer
    job_id = _start_job(stack, "python print_lines.py 10 0.5", None)
    stack.api.wait_for_dag(SENSOR_DAG_ID)
    stack.api.unpause(SENSOR_DAG_ID)
    run_id = stack.api.trigger(SENSOR_DAG_ID, conf={"job_id": job_id})
    ti = stack.api.wait_for_task_state(SENSOR_DAG_ID, run_id, "wait_for_job", {"deferred"}, timeout=120)
    assert stack.emulator.get_job(job_id)["status"] == "Running", "deferred only after the job ended"
    assert not ti.get("queued_when"), f"the sensor was queued to a worker before deferring: {ti}"
    assert not ti.get("hostname") and not ti.get("pid"), f"a worker ran the sensor before deferring: {ti}"

    run = stack.api.wait_for_run(SENSOR_DAG_ID, run_id, timeout=180)
    assert run["state"] == "success", run
    ti = stack.api.task_instance(SENSOR_DAG_ID, run_id, "wait_for_job")
    assert ti["state"] == "success" and ti["try_number"] == 1, ti
