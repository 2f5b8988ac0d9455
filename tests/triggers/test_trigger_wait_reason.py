"""The trigger shows why a queued job waits once per change, on both ways it learns the job's status."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api.models import Job
from tests.triggers.test_trigger_decisions import FakeAsyncHook, run_trigger
from tests.triggers.test_trigger_decisions import path as path  # the fixture: per-job and coalesced

pytestmark = pytest.mark.timeout(10)

WAITING = {"explanation": "Tier Small is full", "expectedWait": "A few minutes", "helpText": "Try Medium"}


class QueuedDetailsHook(FakeAsyncHook):
    """Job details (``aget_job``) carry ``queuedJobStatusDetails`` while queued; list items never do."""

    def __init__(self, statuses: list[str]) -> None:
        super().__init__(statuses)
        self.queued_detail_reads = 0

    async def aget_job(self, job_id: str) -> Job:
        job = await super().aget_job(job_id)
        if job.raw_status != "Queued":
            return job
        self.queued_detail_reads += 1
        return Job.from_api({"id": job_id, "status": "Queued", "queuedJobStatusDetails": WAITING})


def test_the_reason_is_shown_once_while_the_job_stays_queued(
    path: str, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = QueuedDetailsHook(["Queued", "Queued", "Queued", "Running", "Succeeded"])
    capfd.readouterr()
    event = run_trigger(hook, path)
    assert event["status"] == "success"
    output = capfd.readouterr()
    line = "Domino job job-1 is queued: Tier Small is full (expected wait: A few minutes). Try Medium"
    assert (output.out + output.err).count(line) == 1
    assert hook.queued_detail_reads >= 3  # each check of the queued job read its details, and only those
