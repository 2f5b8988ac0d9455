"""The triggerer stopped, killed or scaled out while a Domino job runs: the task still ends right.

Each test triggers its own DAG (``dags/stack_test_dags.py``): one deferrable task whose Domino job
prints 40 numbered lines over about 20 s. Its task log must carry the job's lines: with a clean
triggerer stop every line exactly once, after a crash every line at least once and at most one poll's
worth twice. The emulator must hold exactly one job for the run: the restart never starts another.
"""

from __future__ import annotations

import pytest
from stack_harness import Stack, wait_until

from tests.stack.support import (
    TASK_ID,
    all_lines,
    assert_run_succeeded,
    domino_line_counts,
    lines_per_poll,
    start_run_and_wait_deferred,
)

pytestmark = pytest.mark.stack

#: What a process manager grants a stopping triggerer before SIGKILL (Kubernetes: 30 s; Airflow's
#: Helm chart's triggerer: 60 s); the issue asks for under 10 s so restarts and deploys stay quick.
TRIGGERER_STOP_BOUND = 10.0


def _triggerer_job_id(stack: Stack, dag_id: str, run_id: str) -> int | None:
    ti = stack.api.task_instance(dag_id, run_id, TASK_ID)
    job = ti.get("triggerer_job") or {}
    return job.get("id")


@pytest.mark.stack_short
def test_triggerer_sigterm_mid_job_then_restart(one_triggerer: Stack) -> None:
    stack, dag_id = one_triggerer, "stack_triggerer_sigterm"
    run_id, job = start_run_and_wait_deferred(stack, dag_id)
    (triggerer,) = stack.running_triggerers()

    took = triggerer.stop(timeout=60)  # SIGTERM, SIGKILL only after 60 s
    assert took < TRIGGERER_STOP_BOUND, f"the triggerer took {took:.1f}s to stop on SIGTERM"
    assert stack.emulator.get_job(job["id"])["status"] == "Running", "a triggerer stop must not stop the job"

    stack.start_component("triggerer")
    log = assert_run_succeeded(stack, dag_id, run_id)
    counts = domino_line_counts(log)
    assert set(counts) == all_lines(dag_id), f"lines missing: {sorted(all_lines(dag_id) - set(counts))}"
    repeated = {number: count for number, count in counts.items() if count != 1}
    assert not repeated, f"lines shown more than once after a clean triggerer stop: {repeated}"
    jobs = stack.domino_jobs(dag_id, run_id)
    assert [j["id"] for j in jobs] == [job["id"]], f"expected only {job['id']}, emulator holds {jobs}"


def test_triggerer_sigkill_mid_job(one_triggerer: Stack) -> None:
    stack, dag_id = one_triggerer, "stack_triggerer_sigkill"
    run_id, job = start_run_and_wait_deferred(stack, dag_id)
    (triggerer,) = stack.running_triggerers()

    triggerer.kill()  # SIGKILL of the triggerer and its whole session: nothing gets to clean up
    stack.start_component("triggerer")
    log = assert_run_succeeded(stack, dag_id, run_id)
    counts = domino_line_counts(log)
    assert set(counts) == all_lines(dag_id), (
        f"lines lost after a triggerer crash: {sorted(all_lines(dag_id) - set(counts))}"
    )
    repeated = sorted(number for number, count in counts.items() if count > 1)
    assert all(counts[number] == 2 for number in repeated), counts
    assert len(repeated) <= lines_per_poll(), (
        f"{len(repeated)} lines repeated after a crash ({repeated}); at most one poll's "
        f"{lines_per_poll()} may be"
    )
    assert [j["id"] for j in stack.domino_jobs(dag_id, run_id)] == [job["id"]]


def test_two_triggerers_kill_one_its_triggers_finish_on_the_other(one_triggerer: Stack) -> None:
    stack, dag_id = one_triggerer, "stack_two_triggerers"
    # The trigger lands on the only triggerer; then a second one joins, and the first one dies.
    run_id, job = start_run_and_wait_deferred(stack, dag_id)
    first_job_id = wait_until(lambda: _triggerer_job_id(stack, dag_id, run_id), 60, "the trigger's triggerer")
    (first,) = stack.running_triggerers()
    second = stack.start_component("triggerer")
    wait_until(
        lambda: any(
            j["id"] != first_job_id and j.get("state") == "running"
            for j in stack.api.call("GET", "/jobs", params={"job_type": "TriggererJob", "is_alive": True})[
                "jobs"
            ]
        ),
        120,
        "the second triggerer alive",
        0.5,
    )

    first.kill()
    moved_to = wait_until(
        lambda: (found := _triggerer_job_id(stack, dag_id, run_id)) not in (None, first_job_id) and found,
        180,
        "the trigger taken over by the second triggerer",
        0.5,
    )
    log = assert_run_succeeded(stack, dag_id, run_id)
    assert second.running(), "the second triggerer died"
    assert moved_to != first_job_id
    assert set(domino_line_counts(log)) == all_lines(dag_id)
    assert [j["id"] for j in stack.domino_jobs(dag_id, run_id)] == [job["id"]]
