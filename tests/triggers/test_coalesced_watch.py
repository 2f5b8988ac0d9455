"""Coalesced status polling against the emulator: jobs missing from a lagging list still end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.jobs.status_watcher import watcher_for
from airflow_provider_domino.triggers.domino import DominoJobTrigger


async def _events(triggers: list[DominoJobTrigger]) -> list[dict]:
    async def first(trigger: DominoJobTrigger) -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("trigger ended without an event")

    return list(await asyncio.gather(*(first(trigger) for trigger in triggers)))


def test_jobs_missing_from_a_lagging_list_are_seen_ending_with_their_output_commit(
    domino_conn, emulator, project_id
):
    emulator.set_list_lag(600)  # the beta list never shows these jobs during the test
    try:
        hook = DominoHook(domino_conn)
        job_ids = [hook.start_job("python print_lines.py 2 0.2", "small", project_id).id for _ in range(3)]
        emulator.clear_requests()
        triggers = [
            DominoJobTrigger(job_id, domino_conn, poll_interval=0.5, project_id=project_id, fetch_logs=False)
            for job_id in job_ids
        ]
        events = asyncio.run(_events(triggers))
    finally:
        emulator.reset_settings()
    for job_id, event in zip(job_ids, events, strict=True):
        assert (event["status"], event["job_id"], event["job_status"]) == ("success", job_id, "Succeeded")
        assert event["job"]["outputCommitId"] == emulator.get_job(job_id)["outputCommitId"]
    log = emulator.requests_log()
    assert any(entry["endpoint"] == "list_jobs" for entry in log)  # the watcher asked the list ...
    fetched = {entry["path"].rsplit("/", 1)[-1] for entry in log if entry["endpoint"] == "get_job"}
    assert fetched == set(job_ids)  # ... and fetched each job it did not show on its own route


def test_listed_jobs_cost_one_list_request_per_round_not_one_per_job(domino_conn, emulator, project_id):
    hook = DominoHook(domino_conn)
    job_ids = [hook.start_job("sleep 3", "small", project_id).id for _ in range(4)]
    emulator.clear_requests()
    triggers = [
        DominoJobTrigger(job_id, domino_conn, poll_interval=0.5, project_id=project_id, fetch_logs=False)
        for job_id in job_ids
    ]
    events = asyncio.run(_events(triggers))
    assert [event["status"] for event in events] == ["success"] * 4
    assert all(event["job"]["outputCommitId"] for event in events)
    log = emulator.requests_log()
    lists = sum(1 for entry in log if entry["endpoint"] == "list_jobs")
    gets = sum(1 for entry in log if entry["endpoint"] == "get_job")
    assert lists >= 2
    # While running, the four jobs share each list request; each is fetched on its own about once,
    # when it has left the active list (ended).
    assert gets < lists * len(job_ids) / 2


class _StatusAnswered:
    """A real hook that sets ``answered`` whenever Domino has answered a status request."""

    def __init__(self, hook: DominoHook, answered: asyncio.Event) -> None:
        self._hook, self._answered = hook, answered

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)

    async def alist_jobs(self, *args: Any, **kwargs: Any) -> Any:
        page = await self._hook.alist_jobs(*args, **kwargs)
        self._answered.set()
        return page

    async def aget_job(self, job_id: str) -> Any:
        job = await self._hook.aget_job(job_id)
        self._answered.set()
        return job


def test_triggers_whose_watcher_is_killed_mid_run_still_see_their_jobs_succeed(domino_conn, project_id):
    hook = DominoHook(domino_conn)
    job_ids = [hook.start_job("sleep 3", "small", project_id).id for _ in range(3)]
    deadline = time.time() + 30  # a trigger left on a dead watcher would time out and stop its job

    async def main() -> list[dict]:
        answered = asyncio.Event()

        class Trigger(DominoJobTrigger):
            def _hook(self) -> Any:
                return _StatusAnswered(DominoHook(domino_conn), answered)

        triggers = [
            Trigger(
                job_id,
                domino_conn,
                poll_interval=30,
                deadline=deadline,
                project_id=project_id,
                fetch_logs=False,
            )
            for job_id in job_ids
        ]
        events = asyncio.gather(*(first(trigger) for trigger in triggers))
        await asyncio.wait_for(answered.wait(), 30)  # the watcher's first round has its answer
        watcher = watcher_for(domino_conn, project_id, DominoHook)
        assert watcher.watched_jobs == len(job_ids) and watcher._task is not None
        watcher._task.cancel()
        return list(await asyncio.wait_for(events, 40))

    async def first(trigger: DominoJobTrigger) -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("trigger ended without an event")

    events = asyncio.run(main())
    for job_id, event in zip(job_ids, events, strict=True):
        assert (event["status"], event["job_id"], event["job_status"]) == ("success", job_id, "Succeeded")
        assert event["job"]["outputCommitId"]
