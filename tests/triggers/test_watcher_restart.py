"""Real ``DominoJobTrigger``s of one project, on the coalesced path, survive their status watcher's death:
each still ends with its job's true status, and none times out (or stops) a job that succeeded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_domino.jobs.status_watcher import watcher_for
from airflow_provider_domino.triggers.domino import DominoJobTrigger
from tests.jobs.fake_project import PROJECT_ID, FakeProject

CONN = "domino_default"
#: Each trigger's deadline, from its start: a trigger left on a dead watcher would report ``timeout``.
DEADLINE = 10.0


class FakeHookTrigger(DominoJobTrigger):
    """The real trigger, talking to a fake project instead of Domino (its watcher does too)."""

    fake: FakeProject

    def _hook(self) -> Any:
        return self.fake


async def _event(trigger: DominoJobTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("trigger ended without an event")


@pytest.mark.parametrize("kill", ["cancel the task mid-round", "a malformed page"])
def test_triggers_end_with_their_jobs_true_status_when_the_watcher_is_killed_mid_run(kill):
    job_ids = [f"job{i}" for i in range(4)]

    async def main() -> tuple[list[dict[str, Any]], FakeProject]:
        fake = FakeProject()
        for job_id in job_ids:
            fake.add(job_id)
        fake.gate = asyncio.Event()
        deadline = time.time() + DEADLINE
        triggers = []
        for job_id in job_ids:
            trigger = FakeHookTrigger(
                job_id, CONN, poll_interval=30, deadline=deadline, project_id=PROJECT_ID, fetch_logs=False
            )
            trigger.fake = fake
            triggers.append(trigger)
        events = asyncio.gather(*(_event(trigger) for trigger in triggers))
        # Round one: every trigger gets its job's status (running), then waits.
        await asyncio.wait_for(fake.requested.wait(), DEADLINE)
        fake.requested.clear()
        first_gate, fake.gate = fake.gate, asyncio.Event()
        first_gate.set()
        # Round two is in flight: kill the watcher now, and let every job succeed meanwhile.
        await asyncio.wait_for(fake.requested.wait(), DEADLINE)
        watcher = watcher_for(CONN, PROJECT_ID, lambda: fake)
        assert watcher.watched_jobs == len(job_ids)
        if kill == "a malformed page":
            fake.list_errors.append(KeyError("jobs"))
        else:
            assert watcher._task is not None
            watcher._task.cancel()
        for job_id in job_ids:
            fake.finish(job_id, f"out-{job_id}")
        fake.gate.set()
        return list(await asyncio.wait_for(events, DEADLINE + 5)), fake

    events, fake = asyncio.run(main())
    for job_id, event in zip(job_ids, events, strict=True):
        assert (event["status"], event["job_id"], event["job_status"]) == ("success", job_id, "Succeeded")
        assert event["job"]["outputCommitId"] == f"out-{job_id}"
    assert fake.stops == []  # no job stopped at a deadline
