"""Every way the operator can succeed names the job in its outlets' asset events and to OpenLineage.

Unit tier (a fake hook, no HTTP, no Airflow run): the worker's watch, the trigger's event, a crash retry
that finds its previous job already finished (sync and deferrable), and ``reuse_succeeded_job`` after a
clear. The project named is the one the task ran the job in, never what a flat job object says.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.ownership import STATE_KEY
from tests.operators.test_operator_decisions import FakeHook, Store, TaskInstance, operator

pytestmark = pytest.mark.timeout(20)

MODEL = Asset(name="model", uri="domino://acme/churn/model")


class Event:
    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}


class OutletEvents:
    """Stands in for Airflow's ``outlet_events`` (keyed by name: an ``Asset`` is unhashable on 3.1)."""

    def __init__(self) -> None:
        self.by_name: dict[str, Event] = {}

    def __getitem__(self, asset: Asset) -> Event:
        return self.by_name.setdefault(asset.name, Event())


def run_context(ti: TaskInstance, store: Store | None = None) -> dict[str, Any]:
    return {
        "ti": ti,
        "task_state_store": Store() if store is None else store,
        "outlet_events": OutletEvents(),
    }


def succeeded(hook: FakeHook, job_id: str, key: str) -> None:
    """A finished job whose flat object names another project: the task's own project must win."""
    hook.add(job_id, "Succeeded", key)
    job = hook.jobs[job_id]
    hook.jobs[job_id] = Job.from_api(
        {
            "id": job_id,
            "status": "Succeeded",
            "title": job.title,
            "projectId": "not-the-tasks",
            "outputCommitId": "out-1",
        }
    )


def assert_announced(op: Any, ctx: dict[str, Any], job_id: str, project_id: str) -> None:
    extra = ctx["outlet_events"].by_name["model"].extra
    assert extra == {
        "domino_job_id": job_id,
        "output_commit_id": extra["output_commit_id"],
        "project_id": project_id,
        "job_url": f"https://domino.example/jobs/{job_id}",
        "domino_stats": {},
    }
    facets = op.get_openlineage_facets_on_complete(None).run_facets
    assert (facets["dominoJob"].jobId, facets["dominoJob"].projectId) == (job_id, project_id)


def test_the_workers_watch():
    hook = FakeHook()
    op = operator(hook, outlets=[MODEL])
    ctx = run_context(TaskInstance())
    assert op.execute(ctx) == "job-1"
    assert_announced(op, ctx, "job-1", "p1")


def test_the_triggers_event():
    """A resumed try is a fresh operator: the project comes from the event, as the trigger carried it."""
    hook = FakeHook()
    succeeded(hook, "job-1", "some-key")
    op = operator(hook, outlets=[MODEL], deferrable=True)
    ctx = run_context(TaskInstance())
    event = {"status": "success", "job_id": "job-1", "message": "done", "project_id": "p7"}
    assert op.execute_complete(ctx, event) == "job-1"
    assert_announced(op, ctx, "job-1", "p7")
    assert ctx["outlet_events"].by_name["model"].extra["output_commit_id"] == "out-1"


@pytest.mark.parametrize("deferrable", [False, True])
def test_a_crash_retry_whose_job_already_finished(deferrable):
    hook = FakeHook()
    first_try = TaskInstance(try_number=1, max_tries=1)
    succeeded(hook, "job-0", operator(hook)._identity({"ti": first_try}).key())
    op = operator(hook, outlets=[MODEL], deferrable=deferrable)
    ctx = run_context(TaskInstance(try_number=2, max_tries=1), Store({STATE_KEY: "job-0"}))
    assert op.execute(ctx) == "job-0"  # never deferred: the job had ended
    assert hook.started == []
    assert_announced(op, ctx, "job-0", "p1")


def test_reuse_succeeded_job_after_a_clear():
    hook = FakeHook()
    first_try = TaskInstance(try_number=1, max_tries=1)
    succeeded(hook, "job-0", operator(hook)._identity({"ti": first_try}).key())
    op = operator(hook, outlets=[MODEL], reuse_succeeded_job=True, project_id="p3")
    cleared = TaskInstance(try_number=2, max_tries=2 + 1)  # what a clear sets: try_number + retries
    ctx = run_context(cleared, Store({STATE_KEY: "job-0"}))
    assert op.execute(ctx) == "job-0"
    assert hook.started == []
    assert_announced(op, ctx, "job-0", "p3")


def test_no_announcement_without_success():
    """``wait_for_completion=False``: the job has not ended, so no extra and no facet."""
    op = operator(FakeHook(), outlets=[MODEL], wait_for_completion=False)
    ctx = run_context(TaskInstance())
    assert op.execute(ctx) == "job-1"
    assert ctx["outlet_events"].by_name == {}
    assert op.get_openlineage_facets_on_complete(None) is None
