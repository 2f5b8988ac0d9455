"""Lifecycle faults: triggerer restarts, users killing deferred tasks, workers dying, timeouts.

The trigger tests run ``DominoJobTrigger`` inside Airflow's own ``TriggerRunner.run_trigger`` (the
coroutine the triggerer wraps around every trigger), so cancellation means exactly what it means in a
triggerer: a shutdown or redistribution cancels the task (``cleanup()`` runs, ``on_kill()`` does not); a
user marking the task failed/success or clearing it cancels it with the user-action message
(``on_kill()`` runs, then ``cleanup()``).

The trigger logs through structlog, which Airflow writes straight to stdout rather than through stdlib
logging, so log lines are read from ``capfd`` (``caplog`` never sees them).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.triggers.domino import DominoJobTrigger

USER_ACTION = "__airflow_user_action__"


def test_user_action_message_matches_airflow():
    """The tests below cancel triggers the way the triggerer does; keep its private sentinel in sync."""
    from airflow.jobs import triggerer_job_runner

    assert triggerer_job_runner._USER_ACTION_CANCEL_MSG == USER_ACTION


class InTriggerer:
    """One trigger running inside Airflow's ``TriggerRunner.run_trigger`` on the current event loop."""

    def __init__(self, trigger: DominoJobTrigger) -> None:
        from airflow.jobs.triggerer_job_runner import TriggerRunner

        self.trigger = trigger
        self.runner = TriggerRunner()
        self.task = asyncio.get_running_loop().create_task(self.runner.run_trigger(1, trigger))
        self.runner.triggers[1] = {"task": self.task, "name": "domino", "events": 0, "is_watcher": False}

    @property
    def events(self) -> list[dict[str, Any]]:
        return [entry.event.payload for entry in self.runner.events]

    async def wait_until(self, condition: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert not self.task.done(), "the trigger ended early"
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)

    async def cancel(self, message: str | None = None) -> None:
        """Cancel as the triggerer does: no message on shutdown/redistribution, the sentinel for users."""
        self.task.cancel(message)
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def finish(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        await asyncio.wait_for(self.task, timeout)
        return self.events


def _streamed(output: str, job_id: str) -> list[str]:
    return re.findall(rf"\[{re.escape(job_id)}\] (line \d+ of \d+)", output)


def _stdout_seen(trigger: DominoJobTrigger) -> int:
    """How many of the job's own lines the trigger has streamed so far (its last-lines buffer holds 20)."""
    return sum(line.startswith("line ") for line in trigger._log_follower.recent)


def _stops(emulator: Any) -> list[dict[str, Any]]:
    return [entry for entry in emulator.requests_log() if entry["endpoint"] == "stop_job"]


@pytest.fixture
def hook(domino_conn: str) -> DominoHook:
    return DominoHook(domino_conn)


# --- (a) triggerer restart ---------------------------------------------------------------------------


def test_triggerer_restart_resumes_from_serialized_offset(hook, emulator, project_id, capfd):
    """Cancelled by a restart, rebuilt from ``serialize()``: the job runs on, every line shows once."""
    job = hook.start_job("python print_lines.py 10 0.25", "small", idempotency_key="restart-resume")
    emulator.clear_requests()
    first = DominoJobTrigger(job.id, poll_interval=0.2, project_id=project_id)

    async def before_restart() -> tuple[str, dict[str, Any]]:
        running = InTriggerer(first)
        await running.wait_until(lambda: _stdout_seen(first) >= 2)
        await running.cancel()  # triggerer shutdown: cleanup() runs, on_kill() must not
        assert running.events == []
        return first.serialize()

    classpath, kwargs = asyncio.run(before_restart())
    midway = capfd.readouterr().out
    assert emulator.get_job(job.id)["status"] == "Running"
    assert _stops(emulator) == []
    assert kwargs["log_cursor"] == first.log_cursor.to_json() and _stdout_seen(first) > 0
    kwargs = json.loads(json.dumps(kwargs))  # what the metadata DB would hold: primitives only

    from airflow.sdk.module_loading import import_string

    rebuilt = import_string(classpath)(**kwargs)

    async def after_restart() -> list[dict[str, Any]]:
        return await InTriggerer(rebuilt).finish()

    (event,) = asyncio.run(after_restart())
    rest = capfd.readouterr().out
    assert event["status"] == "success" and event["job_id"] == job.id, event
    assert event["job_status"] == "Succeeded"
    assert emulator.get_job(job.id)["status"] == "Succeeded"
    assert _stops(emulator) == [], "a triggerer restart must never stop the job"
    before, after = _streamed(midway, job.id), _streamed(rest, job.id)
    assert before and after, (before, after)
    assert before + after == [f"line {n} of 10" for n in range(1, 11)]


def test_triggerer_restart_from_defer_time_kwargs_loses_no_line(hook, emulator, project_id, capfd):
    """A rebuild from the kwargs stored at defer time, with no log checkpoint to resume from.

    Operators and sensors give their trigger a ``task_key`` so it checkpoints its offset (see
    tests/triggers for the resume); a bare trigger has nowhere to checkpoint, so lines streamed before the
    restart are streamed again. None may be lost and the order must hold.
    """
    job = hook.start_job("python print_lines.py 8 0.25", "small", idempotency_key="restart-defer-kwargs")
    stored = json.loads(
        json.dumps(DominoJobTrigger(job.id, poll_interval=0.2, project_id=project_id).serialize())
    )
    classpath, kwargs = stored
    from airflow.sdk.module_loading import import_string

    trigger_class = import_string(classpath)

    async def before_restart() -> None:
        running = InTriggerer(trigger_class(**kwargs))
        await running.wait_until(lambda: _stdout_seen(running.trigger) > 0)
        await running.cancel()

    asyncio.run(before_restart())
    midway = _streamed(capfd.readouterr().out, job.id)

    async def after_restart() -> list[dict[str, Any]]:
        return await InTriggerer(trigger_class(**kwargs)).finish()

    (event,) = asyncio.run(after_restart())
    rest = _streamed(capfd.readouterr().out, job.id)
    assert event["status"] == "success"
    assert rest == [f"line {n} of 8" for n in range(1, 9)]  # the whole log, in order, after the restart
    assert midway == rest[: len(midway)]


# --- (b) the user kills a deferred task -----------------------------------------------------------------


def test_user_killing_a_deferred_task_stops_the_job(hook, emulator, project_id):
    job = hook.start_job("echo started; sleep 60", "small", idempotency_key="user-kills-deferred")
    emulator.wait_for_status(job.id, "Running", timeout=15)
    emulator.clear_requests()
    trigger = DominoJobTrigger(job.id, poll_interval=0.2, project_id=project_id)

    async def scenario() -> None:
        running = InTriggerer(trigger)
        # The trigger knows the project, so its status comes from the project's job list.
        await running.wait_until(
            lambda: sum(1 for e in emulator.requests_log() if e["endpoint"] in ("get_job", "list_jobs")) >= 2
        )
        await running.cancel(USER_ACTION)
        assert running.events == []

    asyncio.run(scenario())
    assert emulator.wait_for_status(job.id, "Stopped", timeout=15)["status"] == "Stopped"
    assert len(_stops(emulator)) == 1


# --- (c) the worker dies after the job started ---------------------------------------------------------

DYING_OPERATORS = """
import time

from airflow_provider_domino.operators.domino import DominoStartJobOperator as _Base


def _die(what):
    raise RuntimeError(f"simulated worker death {what}")


class DiesWhilePolling(_Base):
    \"\"\"Try 1 starts the job (its id reaches task_state_store), then the worker dies while waiting.\"\"\"

    def _watch_on_worker(self, job, context):
        if context["ti"].try_number == 1:
            _die("while polling")
        return super()._watch_on_worker(job, context)


class DiesBeforeRecordingTheJob(_Base):
    \"\"\"Try 1 dies between Domino accepting the start and the job id reaching task_state_store.

    With ``wait_for_job_end`` the death is noticed late: the retry comes after the job has ended (as it
    does with Airflow's default retry_delay of 5 minutes and a short job).
    \"\"\"

    wait_for_job_end = False

    def _start(self, context):
        job = super()._start(context)
        if context["ti"].try_number == 1:
            while self.wait_for_job_end and not self.hook.get_job(job.id).status.is_terminal:
                time.sleep(0.2)
            _die("right after the start")
        return job


class DiesBeforeRecordingTheJobRetriesLate(DiesBeforeRecordingTheJob):
    wait_for_job_end = True


class DiesBeforeDeferring(_Base):
    \"\"\"Deferrable: try 1 starts the job and dies before handing it to the triggerer.\"\"\"

    def _defer(self, job, context):
        if context["ti"].try_number == 1:
            _die("before deferring")
        return super()._defer(job, context)
"""

# Chained, so that each retry runs right after its first try (dag.test runs ready tasks one at a time).
WORKER_DEATH_DAG = """
common = dict(hardware_tier_id="small", poll_interval=0.5, retries=1, retry_delay=timedelta(0))
long_job = "python print_lines.py 6 0.5"
polling = DiesWhilePolling(task_id="polling", command=long_job, **common)
unrecorded = DiesBeforeRecordingTheJob(task_id="unrecorded", command=long_job, **common)
unrecorded_deferred = DiesBeforeRecordingTheJob(
    task_id="unrecorded_deferred", command=long_job, deferrable=True, **common
)
deferred = DiesBeforeDeferring(task_id="deferred", command=long_job, deferrable=True, **common)
polling >> unrecorded >> unrecorded_deferred >> deferred
"""


def _new_jobs_by_task(emulator: Any, before: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Jobs started since ``before``, grouped by the task named in their default title."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for job in emulator.jobs():
        if job["id"] not in before:
            match = re.match(r"Airflow [\w.]+?\.(\w+) run ", job["title"] or "")
            grouped.setdefault(match.group(1) if match else "?", []).append(job)
    return grouped


@pytest.mark.e2e
def test_worker_death_after_start_reattaches_to_the_same_job(run_dag, domino_conn, emulator):
    before = {job["id"] for job in emulator.jobs()}
    result = run_dag("lifecycle_worker_dies", WORKER_DEATH_DAG, preamble=DYING_OPERATORS)
    tasks = ("polling", "unrecorded", "unrecorded_deferred", "deferred")
    assert result.states() == dict.fromkeys(tasks, "success")
    assert result.output.count("RuntimeError: simulated worker death") == 4
    jobs = _new_jobs_by_task(emulator, before)
    assert {task: len(found) for task, found in jobs.items()} == dict.fromkeys(tasks, 1), jobs
    for task_id in tasks:
        (job,) = jobs[task_id]
        assert job["status"] == "Succeeded"
        assert result.xcom(task_id, "job_id") == job["id"]
        assert result.xcom(task_id) == job["id"]
        assert result.xcom(task_id, "job")["status"] == "Succeeded"
    # Each retry found the running job: through task_state_store or, when the first try died before
    # recording it, through the first try's idempotency key in the job title.
    assert result.output.count("was started by a previous try; reattaching") == 4


@pytest.mark.e2e
def test_late_retry_after_unrecorded_start_adopts_the_finished_job(run_dag, domino_conn, emulator):
    before = {job["id"] for job in emulator.jobs()}
    result = run_dag(
        "lifecycle_late_retry",
        """
        common = dict(hardware_tier_id="small", poll_interval=0.5, retries=1, retry_delay=timedelta(0))
        sync = DiesBeforeRecordingTheJobRetriesLate(task_id="sync", command="echo quick", **common)
        deferred = DiesBeforeRecordingTheJobRetriesLate(
            task_id="deferred", command="echo quick", deferrable=True, **common
        )
        sync >> deferred
        """,
        preamble=DYING_OPERATORS,
    )
    assert result.states() == {"sync": "success", "deferred": "success"}
    jobs = _new_jobs_by_task(emulator, before)
    assert {task: len(found) for task, found in jobs.items()} == {"sync": 1, "deferred": 1}, jobs


# --- (d) timeouts while deferred ---------------------------------------------------------------------


@pytest.mark.e2e
def test_timeouts_while_deferred_stop_the_job(run_dag, domino_conn, emulator):
    result = run_dag(
        "lifecycle_deferred_timeouts",
        """
        DominoStartJobOperator(
            task_id="operator_timeout", command="echo started; sleep 120", hardware_tier_id="small",
            poll_interval=0.5, deferrable=True, timeout=3,
        )
        DominoStartJobOperator(
            task_id="execution_timeout", command="echo started; sleep 120", hardware_tier_id="small",
            poll_interval=0.5, deferrable=True, execution_timeout=timedelta(seconds=4),
        )
        """,
    )
    assert result.states() == {"operator_timeout": "failed", "execution_timeout": "failed"}
    for task_id in ("operator_timeout", "execution_timeout"):
        job_id = result.xcom(task_id, "job_id")
        assert emulator.wait_for_status(job_id, "Stopped", timeout=15)["status"] == "Stopped"
        assert f"Domino job {job_id} did not finish before its deadline; it was stopped" in result.output


def test_deferral_timed_out_by_the_scheduler_stops_the_job(hook, emulator, domino_conn):
    """The backstop: the triggerer was down past the deadline + grace, so the scheduler failed the deferral.

    Airflow then resumes the task with ``next_method="__fail__"``; ``execute_complete`` never runs, so only
    the operator can still stop the job it started.
    """
    from airflow.models.trigger import TriggerFailureReason
    from airflow.sdk.exceptions import TaskDeferralTimeout

    from airflow_provider_domino.operators.domino import DominoStartJobOperator

    job = hook.start_job("sleep 60", "small", idempotency_key="scheduler-timed-out")
    operator = DominoStartJobOperator(
        task_id="timed_out", command="sleep 60", hardware_tier_id="small", deferrable=True, timeout=5
    )
    context = _resume_context(operator, job.id)
    try:
        with pytest.raises(TaskDeferralTimeout):
            operator.resume_execution("__fail__", {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context)
        status = emulator.wait_for_status(job.id, ["Stopped"], timeout=3)["status"]
    except TimeoutError:
        status = emulator.get_job(job.id)["status"]
    finally:
        hook.stop_job(job.id)
    assert status == "Stopped", "a deferral the scheduler timed out left the Domino job running"


def _resume_context(operator: Any, job_id: str) -> dict[str, Any]:
    """What a resumed try sees: the job id in task_state_store and in XCom, a fresh operator object."""

    class StateStore(dict):
        def set(self, key: str, value: Any) -> None:
            self[key] = value

    class TaskInstance:
        dag_id, task_id, run_id, map_index, try_number = "lifecycle", operator.task_id, "manual", -1, 1

        def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **_: Any) -> Any:
            return job_id if key == "job_id" else None

        def xcom_push(self, key: str, value: Any) -> None:
            pass

    return {"ti": TaskInstance(), "task_state_store": StateStore({operator.external_id_key: job_id})}
