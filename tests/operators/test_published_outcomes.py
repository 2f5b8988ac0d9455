"""The operator's outcome decisions on published job shapes, with a fake hook (no Airflow run)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoJobFailedError
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from tests.api.fakes import fake_hook, json_response

JOB_ID = "6231327c7a0af0281c01a69b"


class FakeTI:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def _job(status: str, completed: bool) -> Job:
    return Job.from_api(
        {
            "job": {
                "id": JOB_ID,
                "number": 7,
                "runCommand": "python x.py",
                "status": {"executionStatus": status, "isCompleted": completed},
                "stageTimes": {
                    "submissionTime": "2026-11-26T10:00:00Z",
                    "completedTime": "2026-11-26T10:01:00Z",
                },
                "commitDetails": {"inputCommitId": "in", "outputCommitId": "out"},
                "tags": [],
            }
        }
    )


def _operator() -> DominoStartJobOperator:
    op = DominoStartJobOperator(task_id="t", command="python x.py", hardware_tier_id="small", project_id="p1")
    empty = {"logs": {"logContent": [], "isComplete": True}, "metadata": {"pagination": {}}}
    tiers = [{"hardwareTier": {"id": "small-k8s", "name": "small", "centsPerMinute": 1.5}}]
    op._hook, _ = fake_hook(
        {
            "get_job_logs": lambda call: json_response(empty),
            "list_hardware_tiers": lambda call: json_response(tiers),
        }
    )
    op.job_project_id = "p1"
    return op


def test_completed_job_with_a_non_success_status_fails_naming_it():
    ti = FakeTI()
    with pytest.raises(DominoJobFailedError, match=f"Domino job {JOB_ID} ended Running"):
        _operator()._finish({"ti": ti}, _job("Running", completed=True))
    assert ti.xcoms["job"]["status"] == "Running"


def test_succeeded_job_publishes_0_1_keys_plus_number_and_project():
    ti = FakeTI()
    op = _operator()
    job = _job("Succeeded", completed=True)
    op._finish({"ti": ti}, job)  # no exception
    assert op._succeed({"ti": ti}, job) == JOB_ID
    summary = ti.xcoms["job"]
    assert (summary["status"], summary["commitId"], summary["outputCommitId"]) == ("Succeeded", "in", "out")
    assert (summary["number"], summary["projectId"], summary["command"]) == (7, "p1", "python x.py")
    assert summary["endedAt"].startswith("2026-11-26T10:01:00")
    # The job has no start time: its cost is not estimated, and says why.
    assert ti.xcoms["domino_cost"]["estimatedCents"] is None
    assert "start or end time is unknown" in " ".join(ti.xcoms["domino_cost"]["notes"])
    assert ti.xcoms["domino_cost"]["parts"][0]["centsPerMinute"] == 1.5


def test_is_completed_decides_the_watch_not_the_status_string():
    """The watch step shared by the worker loop and the trigger reads ``isCompleted``, not the status."""
    from airflow_provider_domino.jobs.watching import SUCCESS, Continue, Outcome, watch_step

    def step(job: Job) -> Continue | Outcome:
        return watch_step(
            job=job, error=None, now=100.0, deadline=None, watch_started_at=0.0, poll_interval=5
        )

    assert isinstance(step(_job("Succeeded", completed=False)), Continue)
    done = step(_job("Succeeded", completed=True))
    assert isinstance(done, Outcome) and done.kind == SUCCESS
    failed = step(_job("Running", completed=True))
    assert isinstance(failed, Outcome) and failed.kind != SUCCESS and "ended Running" in failed.message
