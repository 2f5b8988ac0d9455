"""Each example DAG runs to success through the scheduler, its deferrable tasks waiting in the triggerer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from stack_harness import Stack

pytestmark = pytest.mark.stack

#: Seconds to wait for the triggerer's records to reach a task log after the run has ended.
TRIGGER_LOG_WAIT = 20.0

#: The tasks of each example DAG that defer (their state must be seen as ``deferred``). Left out:
#: domino_job_chain's deferrable sensor, which checks once before deferring and usually finds the
#: short stand-in job already finished (then it succeeds without deferring, as it should).
DEFERRABLE_TASKS = {
    "domino_retraining_pipeline": {"train"},
    "domino_hyperparameter_sweep": {"train"},
    "domino_job_chain": {"train", "evaluate"},
}


def _run_example(stack: Stack, dag_id: str) -> None:
    stack.ensure_triggerers(1)
    stack.api.wait_for_dag(dag_id)
    run_id = stack.api.trigger(dag_id)
    stack.api.unpause(dag_id)
    seen: dict[tuple[str, int], set[str]] = {}

    def record(task_instances: list[dict[str, Any]]) -> None:
        for ti in task_instances:
            seen.setdefault((ti["task_id"], ti.get("map_index", -1)), set()).add(str(ti.get("state")))

    run = stack.api.wait_for_run(dag_id, run_id, timeout=600, on_poll=record)
    final = {
        (ti["task_id"], ti.get("map_index", -1)): ti["state"]
        for ti in stack.api.task_instances(dag_id, run_id)
    }
    assert run["state"] == "success", f"{dag_id} run {run_id}: {run['state']}, tasks {final}"
    assert all(state in ("success", "skipped") for state in final.values()), final
    # A deferrable task checks its job once before deferring: a job already finished by then (short
    # mapped sweep jobs, the chain's stand-in job) ends the task in the worker, as it should. Every
    # task that did defer was finished by its trigger, and each deferrable task id deferred at least
    # once: seen `deferred` in the REST API (sampled every half second) or, for a deferral shorter than
    # the sampling interval (a busy machine, a job of a few seconds), "Pausing task as DEFERRED" in its log.
    deferred_tasks: set[str] = set()
    for (task_id, map_index), states in seen.items():
        if task_id in DEFERRABLE_TASKS[dag_id]:
            log = stack.api.task_log(dag_id, run_id, task_id, 1, map_index)
            if "Pausing task as DEFERRED" in log or "deferred" in states:
                log = _log_once_trigger_part_arrived(stack, dag_id, run_id, task_id, map_index, log)
                assert _finished_by_its_trigger(log), (
                    f"{dag_id}.{task_id}[{map_index}] deferred but no trigger event in its log:\n{log[-2000:]}"
                )
                deferred_tasks.add(task_id)
            elif "already ended" in log and "not deferring" in log:
                # Its job ended before the task's one check (a job of about a second on a busy machine):
                # the task finished in the worker, as documented above; it had nothing to defer for.
                deferred_tasks.add(task_id)
    assert DEFERRABLE_TASKS[dag_id] <= deferred_tasks, (DEFERRABLE_TASKS[dag_id], seen)
    jobs = stack.domino_jobs(dag_id, run_id)
    every = [(job["id"], job["status"], job.get("title")) for job in stack.emulator.jobs()]
    assert jobs, f"no Domino job of run {run_id} among {every}"
    assert all(job["status"] == "Succeeded" for job in jobs), jobs


def _finished_by_its_trigger(log: str) -> bool:
    """Whether a deferred try's log shows its trigger's end: the triggerer's ``Trigger fired event``, or,
    failing that, the resumed try reporting the job's end (only a trigger event resumes a deferred try).

    The triggerer logs ``Trigger fired event`` just before it queues the event, but its supervisor
    closes the trigger's log file when told that the trigger finished, which comes over a channel of its
    own: read before the last log record, it sends that record to the triggerer's own log instead. Seen
    in the mapped sweep, whose jobs end within a second of deferring.
    """
    return "Trigger fired event" in log or ("ended Succeeded" in log and "not deferring" not in log)


def _log_once_trigger_part_arrived(
    stack: Stack, dag_id: str, run_id: str, task_id: str, map_index: int, log: str
) -> str:
    """The try's log, read again for a while until the triggerer's part of it has arrived.

    The triggerer writes a trigger's last records (``Trigger fired event``) on its own schedule, which
    can be after the resumed task, and so the whole run, has finished.
    """
    deadline = time.monotonic() + TRIGGER_LOG_WAIT
    while "Trigger fired event" not in log and time.monotonic() < deadline:
        time.sleep(0.5)
        log = stack.api.task_log(dag_id, run_id, task_id, 1, map_index)
    return log


@pytest.mark.stack_short
def test_job_chain_runs_through_scheduler_and_triggerer(stack: Stack) -> None:
    _run_example(stack, "domino_job_chain")


@pytest.mark.parametrize("dag_id", ["domino_retraining_pipeline", "domino_hyperparameter_sweep"])
def test_example_dag_runs_through_scheduler_and_triggerer(stack: Stack, dag_id: str) -> None:
    _run_example(stack, dag_id)
