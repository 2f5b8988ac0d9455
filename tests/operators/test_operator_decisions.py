"""Unit tier for the operator around ``ownership`` and ``watch_step``: a fake hook, no HTTP, no Airflow run."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import pytest

from airflow_provider_domino.api import errors
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.idempotency import key_in_title, title_with_key
from airflow_provider_domino.jobs.ownership import STATE_KEY
from airflow_provider_domino.operators.domino import DominoStartJobOperator

pytestmark = pytest.mark.timeout(20)


class FakeHook:
    """Jobs in memory; a started job runs through ``script`` statuses, one per status check."""

    def __init__(
        self, script: tuple[str, ...] = ("Running", "Succeeded"), log_error: Exception | None = None
    ):
        self.jobs: dict[str, Job] = {}
        self.scripts: dict[str, list[str]] = {}
        self.script = script
        self.log_error = log_error
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.tags: list[tuple[str, str]] = []
        self.tail_reads: list[str] = []
        #: The job's status at each log read.
        self.log_read_at: list[str] = []
        self.searched_in: list[str | None] = []
        self.start_error: Exception | None = None

    def add(self, job_id: str, status: str, key: str) -> None:
        self.jobs[job_id] = Job.from_api({"id": job_id, "status": status, "title": title_with_key("t", key)})

    def project_id_or_default(self, project_id: str | None) -> str:
        return project_id or "p1"

    def job_url(self, job_id: str, project_id: str | None = None) -> str:
        return f"https://domino.example/jobs/{job_id}"

    def get_job(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise errors.DominoNotFoundError("GET", f"/jobs/{job_id}", 404, "no such job")
        script = self.scripts.get(job_id)
        if script:
            status = script.pop(0) if len(script) > 1 else script[0]
            current = self.jobs[job_id]
            self.jobs[job_id] = Job.from_api({"id": job_id, "status": status, "title": current.title})
        return self.jobs[job_id]

    def find_job_by_keys(self, keys: Collection[str], project_id: str | None = None) -> Job | None:
        self.searched_in.append(project_id)
        for job in reversed(list(self.jobs.values())):
            if key_in_title(job.title) in set(keys):
                return job
        return None

    def start_job(self, command: str, hardware_tier_id: str, project_id: str | None = None, **kw: Any) -> Job:
        if self.start_error is not None:
            raise self.start_error
        job_id = f"job-{len(self.jobs) + 1}"
        self.add(job_id, "Queued", kw["idempotency_key"])
        self.scripts[job_id] = ["Queued", *self.script]
        self.started.append(job_id)
        return self.jobs[job_id]

    def known_price_sheet(self, job_id: str) -> None:
        return None  # no tier prices here: the cost is reported as unknown

    def price_sheet(self, job_id: str, project_id: str | None = None, **kw: Any) -> None:
        return None

    def resolve_project(self, project: str) -> Any:
        from airflow_provider_domino.api.models import Project

        owner, name = project.split("/")
        return Project(f"id-of-{name}", name, owner)

    def stream_log(self, poll: Any, emit: Any) -> Any:
        self.log_read_at.append(self.jobs[poll.job_id].raw_status)
        if self.log_error is not None:
            raise self.log_error
        return poll.cursor

    def recent_log_lines(self, job_id: str, count: int = 20, *, since_nano: int | None = None) -> str:
        self.tail_reads.append(job_id)
        return "Traceback: boom"

    def get_job_logs(self, job_id: str) -> str:
        raise AssertionError("the failure message must read only the tail of the log")

    def stop_job(self, job_id: str, project_id: str | None = None) -> None:
        self.stopped.append(job_id)

    def add_tag(self, job_id: str, name: str, project_id: str | None = None) -> None:
        self.tags.append((job_id, name))

    def link_goal(self, job_id: str, goal_id: str) -> None:
        pass


class TaskInstance:
    dag_id, task_id, run_id, map_index, start_date = "dag", "train", "run-1", -1, None

    def __init__(self, try_number: int = 1, max_tries: int = 1) -> None:
        self.try_number, self.max_tries = try_number, max_tries
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int = -1) -> Any:
        return self.xcoms.get(key) if task_ids == self.task_id else None


class Store(dict):
    def set(self, key: str, value: Any) -> None:
        self[key] = value


def operator(hook: FakeHook, **kwargs: Any) -> DominoStartJobOperator:
    arguments = {"task_id": "train", "command": "python train.py", "hardware_tier_id": "small"}
    op = DominoStartJobOperator(**{**arguments, "poll_interval": 0.001, "retries": 1, **kwargs})
    op._hook = hook  # type: ignore[assignment]
    return op


def context(ti: TaskInstance, store: Store | None = None) -> dict[str, Any]:
    return {"ti": ti, "task_state_store": Store() if store is None else store}


def test_sync_run_starts_a_job_records_it_and_succeeds():
    hook, ti, store = FakeHook(), TaskInstance(), Store()
    assert operator(hook).execute(context(ti, store)) == "job-1"
    assert store == {STATE_KEY: "job-1"} and ti.xcoms["job_id"] == "job-1"
    assert ti.xcoms["job"]["status"] == "Succeeded"


def test_log_errors_never_fail_the_sync_path():
    hook = FakeHook(log_error=errors.DominoAuthError("GET", "/logs", 403, "forbidden"))
    assert operator(hook).execute(context(TaskInstance())) == "job-1"


def test_crash_retry_reattaches_and_a_clear_starts_anew():
    hook = FakeHook()
    first = TaskInstance(try_number=1, max_tries=1)
    hook.add("job-0", "Running", operator(hook)._identity(context(first)).key())
    hook.scripts["job-0"] = ["Running", "Succeeded"]
    store = Store({STATE_KEY: "job-0"})
    assert operator(hook).execute(context(TaskInstance(try_number=2, max_tries=1), store)) == "job-0"
    assert hook.started == []
    hook.jobs["job-0"] = Job.from_api({"id": "job-0", "status": "Running", "title": hook.jobs["job-0"].title})
    cleared = TaskInstance(try_number=2, max_tries=2 + 1)  # what Airflow's clear sets: try_number + retries
    assert operator(hook).execute(context(cleared, store)) == "job-2"
    assert hook.started == ["job-2"] and store[STATE_KEY] == "job-2"


def test_do_xcom_push_false_pushes_only_the_link():
    ti = TaskInstance()
    operator(FakeHook(), do_xcom_push=False).execute(context(ti))
    assert set(ti.xcoms) == {"job_url"}


def test_one_string_tag_is_one_tag():
    hook = FakeHook()
    operator(hook, tags="nightly").execute(context(TaskInstance()))
    assert hook.tags == [("job-1", "nightly")]


def test_a_failed_job_fails_with_the_tail_only():
    hook = FakeHook(script=("Running", "Failed"))
    with pytest.raises(errors.DominoJobFailedError, match="Traceback: boom"):
        operator(hook, fetch_logs=False).execute(context(TaskInstance()))
    assert hook.tail_reads == ["job-1"]


@pytest.mark.parametrize(
    "error",
    [
        errors.DominoBadRequestError("POST", "/api/jobs/v1/jobs", 400, "unknown hardware tier"),
        errors.DominoAuthError("POST", "/api/jobs/v1/jobs", 401, "bad key"),
        errors.DominoNotFoundError("POST", "/api/jobs/v1/jobs", 404, "no project"),
        errors.DominoConfigError("No Domino project given"),
    ],
)
def test_errors_no_retry_can_fix_fail_without_retrying(error):
    from airflow.sdk.exceptions import AirflowFailException

    hook = FakeHook()
    hook.start_error = error
    with pytest.raises(AirflowFailException, match=str(error)[:20]):
        operator(hook).execute(context(TaskInstance()))


def test_a_transient_start_error_is_left_to_airflows_retries():
    hook = FakeHook()
    hook.start_error = errors.DominoServerError("POST", "/api/jobs/v1/jobs", 503, "busy", attempts=6)
    with pytest.raises(errors.DominoServerError):
        operator(hook).execute(context(TaskInstance()))


def test_rendered_values_are_checked_when_the_task_runs():
    from airflow.sdk.exceptions import AirflowFailException

    op = operator(FakeHook(), command="{{ params.command }}")
    op.command = "  "  # what an empty rendering gives
    with pytest.raises(AirflowFailException, match="'command'"):
        op.execute(context(TaskInstance()))


def test_on_kill_is_bounded_when_domino_hangs(monkeypatch):
    from airflow_provider_domino.hooks import retry
    from airflow_provider_domino.hooks.domino import DominoHook

    monkeypatch.setattr(DominoHook, "stop_job", lambda self, job_id, project_id=None: time.sleep(30))
    monkeypatch.setattr(retry, "ON_KILL_BUDGET", 0.05)
    op = operator(FakeHook())
    op.job_id = "job-1"
    began = time.monotonic()
    op.on_kill()  # returns after the budget; the stop thread is a daemon
    assert time.monotonic() - began < 0.5  # the 0.05 s budget, with room for a slow machine


def test_the_start_pushes_the_project_with_the_job_id():
    """A sensor given ``job_id=start.output`` reads ``project_id`` from the same task."""
    ti = TaskInstance()
    operator(FakeHook(), project="acme/churn", wait_for_completion=False).execute(context(ti))
    assert (ti.xcoms["job_id"], ti.xcoms["project_id"]) == ("job-1", "id-of-churn")


def test_the_log_is_not_read_while_the_job_waits_to_start():
    hook = FakeHook(script=("Queued", "Pending", "Running", "Succeeded"))
    operator(hook).execute(context(TaskInstance()))
    assert hook.log_read_at == ["Running", "Succeeded"]


def test_a_log_error_is_warned_about_once_not_every_poll(capfd):
    hook = FakeHook(
        script=("Running", "Running", "Running", "Succeeded"),
        log_error=errors.DominoAuthError("GET", "/logs", 403, "forbidden"),
    )
    operator(hook).execute(context(TaskInstance()))
    assert len(hook.log_read_at) == 4
    assert capfd.readouterr().out.count("Could not fetch the log") == 1  # the task log (structlog)


# --- timeout: the operator stops the job it started, then fails ------------------------------------


def test_the_operators_timeout_stops_the_job_and_fails_on_the_worker():
    hook = FakeHook(script=("Running",))
    with pytest.raises(
        errors.DominoJobTimeoutError, match="did not finish before its deadline; it was stopped"
    ):
        operator(hook, timeout=0.05, fetch_logs=False).execute(context(TaskInstance()))
    assert hook.stopped == ["job-1"]


def test_the_operators_timeout_stops_the_job_when_the_trigger_reports_it():
    hook = FakeHook()
    hook.add("job-1", "Running", "k")
    op = operator(hook, deferrable=True)
    op.job_id = "job-1"
    event = {
        "status": "timeout",
        "job_id": "job-1",
        "message": "Domino job job-1 did not finish before its deadline",
    }
    with pytest.raises(errors.DominoJobTimeoutError, match="it was stopped"):
        op.execute_complete(context(TaskInstance()), event)
    assert hook.stopped == ["job-1"]


def test_a_stop_that_fails_at_the_deadline_is_named_in_the_failure():
    class Unstoppable(FakeHook):
        def stop_job(self, job_id: str, project_id: str | None = None) -> None:
            raise errors.DominoServerError("POST", "/v4/jobs/stop", 503, "busy", attempts=3)

    hook = Unstoppable(script=("Running",))
    with pytest.raises(errors.DominoJobTimeoutError, match="stopping it failed"):
        operator(hook, timeout=0.05, fetch_logs=False).execute(context(TaskInstance()))


# --- a try resumed after its deferral failed ---------------------------------------------------------


def test_a_failed_deferral_stops_the_tries_job_found_in_the_resolved_project(monkeypatch):
    """Nothing recorded: the try's key is searched in the project ``owner/name`` resolves to."""
    from airflow_provider_domino.operators import domino as operator_module

    stopped: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        operator_module,
        "stop_within_budget",
        lambda conn_id, job_id, project_id, log: stopped.append((job_id, project_id)),
    )
    hook = FakeHook()
    ti = TaskInstance(try_number=2, max_tries=1)
    op = operator(hook, project="acme/churn")
    hook.add("job-7", "Running", op._identity(context(ti)).key())
    from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout

    ctx = {"ti": ti}  # no task_state_store, no XCom: only the key search can tell
    with pytest.raises((TaskDeferralError, TaskDeferralTimeout)):  # then Airflow fails the task
        op.resume_execution("__fail__", {"error": "Trigger crashed"}, ctx)
    assert hook.searched_in == ["id-of-churn"]
    assert stopped == [("job-7", "id-of-churn")]
