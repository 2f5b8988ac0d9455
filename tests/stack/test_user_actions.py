"""What users do to a deferred Domino task in the UI, done through the same REST calls the UI makes."""

from __future__ import annotations

import time

import pytest
from stack_harness import Stack, wait_until

from tests.stack.support import TASK_ID, assert_run_succeeded, start_run_and_wait_deferred

pytestmark = pytest.mark.stack

#: The issue's bound between "Mark failed" and the Domino job being Stopped.
STOP_BOUND = 5.0


def test_mark_failed_on_a_deferred_task_stops_the_job(one_triggerer: Stack) -> None:
    stack, dag_id = one_triggerer, "stack_mark_failed"
    run_id, job = start_run_and_wait_deferred(stack, dag_id)

    marked_at = time.monotonic()
    stack.api.set_task_state(dag_id, run_id, TASK_ID, "failed")
    stopped = stack.emulator.wait_for_status(
        job["id"], {"Stopped", "Succeeded", "Failed", "Error"}, timeout=60
    )
    took = time.monotonic() - marked_at
    assert stopped["status"] == "Stopped", f"job {job['id']} ended {stopped['status']}, not stopped"
    assert took <= STOP_BOUND, f"job {job['id']} stopped {took:.1f}s after 'mark failed'"
    assert stack.api.task_instance(dag_id, run_id, TASK_ID)["state"] == "failed"
    assert len(stack.domino_jobs(dag_id, run_id)) == 1


def test_clear_of_a_deferred_task_replaces_its_job(one_triggerer: Stack) -> None:
    """Clearing a running task means "run it again": the old job is stopped, one new job succeeds."""
    stack, dag_id = one_triggerer, "stack_clear_deferred"
    run_id, old_job = start_run_and_wait_deferred(stack, dag_id)

    stack.api.clear_task(dag_id, run_id, TASK_ID)
    stopped = stack.emulator.wait_for_status(
        old_job["id"], {"Stopped", "Succeeded", "Failed", "Error"}, timeout=60
    )
    assert stopped["status"] == "Stopped", f"the cleared try's job {old_job['id']} ended {stopped['status']}"
    assert_run_succeeded(stack, dag_id, run_id)
    jobs = wait_until(lambda: stack.domino_jobs(dag_id, run_id), 10, "jobs of the run")
    new_jobs = [job for job in jobs if job["id"] != old_job["id"]]
    assert len(new_jobs) == 1, f"expected one new job after the clear, emulator holds {jobs}"
    assert new_jobs[0]["status"] == "Succeeded", new_jobs[0]
