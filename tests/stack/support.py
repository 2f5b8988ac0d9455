"""What the stack tests check in task logs and Domino jobs, written once."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from stack_harness import Stack, wait_until

from tests.stack.dags.stack_test_dags import LINES, LINES_BY_DAG, PAUSE, POLL_INTERVAL

TASK_ID = "print_lines"
#: Domino lines as the provider logs them: ``[<job id>] line N of M`` (job ids are 24 hex digits on Domino).
_DOMINO_LINE = re.compile(r"\[(?P<job>[\w-]+)\] line (?P<number>\d+) of (?P<total>\d+)")


def domino_line_counts(log: str) -> Counter[int]:
    """How often each ``line N of M`` of the Domino job's log appears in an Airflow task log."""
    return Counter(int(match["number"]) for match in _DOMINO_LINE.finditer(log))


def lines_per_poll() -> int:
    """Lines the job prints during one poll interval (the most a crash may show twice), plus one."""
    return int(POLL_INTERVAL / PAUSE) + 1


def start_run_and_wait_deferred(stack: Stack, dag_id: str, min_lines: int = 6) -> tuple[str, dict[str, Any]]:
    """Trigger ``dag_id``, wait until its task is deferred and its Domino job has printed some lines."""
    stack.api.wait_for_dag(dag_id)
    stack.api.unpause(dag_id)
    run_id = stack.api.trigger(dag_id)
    stack.api.wait_for_task_state(dag_id, run_id, TASK_ID, {"deferred"}, timeout=180)
    job = wait_until(lambda: _one_job(stack, dag_id), 60, f"the Domino job of {dag_id}")
    wait_until(
        lambda: _printed(stack, job["id"]) >= min_lines, 60, f"{min_lines} lines printed by {job['id']}"
    )
    return run_id, job


def _one_job(stack: Stack, dag_id: str) -> dict[str, Any] | None:
    jobs = stack.domino_jobs(dag_id)
    return jobs[0] if len(jobs) == 1 and jobs[0]["status"] == "Running" else None


def _printed(stack: Stack, job_id: str) -> int:
    assert stack.emulator is not None
    return stack.emulator.job_log_text(job_id).count(" of ")


def assert_run_succeeded(stack: Stack, dag_id: str, run_id: str) -> str:
    """The run and its task succeeded; returns the task's log (try 1)."""
    run = stack.api.wait_for_run(dag_id, run_id, timeout=300)
    ti = stack.api.task_instance(dag_id, run_id, TASK_ID)
    log = stack.api.task_log(dag_id, run_id, TASK_ID, ti["try_number"])
    assert run["state"] == "success" and ti["state"] == "success", (
        f"run {run['state']}, task {ti['state']}; task log tail:\n{log[-3000:]}"
    )
    return log


def all_lines(dag_id: str) -> set[int]:
    """The line numbers the Domino job of ``dag_id`` prints."""
    return set(range(1, LINES_BY_DAG.get(dag_id, LINES) + 1))
