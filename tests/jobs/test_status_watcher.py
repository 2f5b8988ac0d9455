"""Coalesced status polling: one list request per project and round, and no transition ever missed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoConnectionError, DominoNotFoundError
from airflow_provider_domino.api.models import Job, JobPage
from airflow_provider_domino.jobs.status_watcher import ProjectStatusWatcher, watch_job


def job(job_id: str, status: str, *, output: str | None = None) -> Job:
    completed = status in ("Succeeded", "Failed", "Stopped", "Error")
    return Job.from_api(
        {
            "id": job_id,
            "status": {"executionStatus": status, "isCompleted": completed},
            "commitDetails": {"inputCommitId": "in", "outputCommitId": output},
        }
    )


class FakeDomino:
    """Jobs of one project; the active list is paged, may lag, and may change between two pages."""

    def __init__(self, page_size: int = 2) -> None:
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []  # newest first, as the list route sorts
        self.page_size = page_size
        self.unlisted: set[str] = set()  # jobs the lagging list does not show yet
        self.between_pages: Any = None  # called after the first page is served
        self.list_error: Exception | None = None
        self.calls: list[str] = []
        self.closed = False

    def add(self, job_id: str, status: str = "Running") -> None:
        self.jobs[job_id] = job(job_id, status)
        self.order.insert(0, job_id)

    def finish(self, job_id: str, output: str) -> None:
        self.jobs[job_id] = job(job_id, "Succeeded", output=output)

    async def alist_jobs(
        self, project_id: str, *, status_filter: str | None, offset: int, limit: int
    ) -> JobPage:
        self.calls.append(f"list {offset}")
        if self.list_error is not None:
            raise self.list_error
        assert status_filter == "active" and project_id == "p1"
        active = [self.jobs[i] for i in self.order if not self.jobs[i].is_finished and i not in self.unlisted]
        size = min(limit, self.page_size)
        page = JobPage(
            jobs=tuple(active[offset : offset + size]), offset=offset, limit=size, total_count=len(active)
        )
        if offset == 0 and self.between_pages is not None:
            self.between_pages()
            self.between_pages = None
        return page

    async def aget_job(self, job_id: str) -> Job:
        self.calls.append(f"get {job_id}")
        if job_id not in self.jobs:
            raise DominoNotFoundError("GET", f"/api/jobs/beta/jobs/{job_id}", 404, "no such job")
        return self.jobs[job_id]

    async def aclose(self) -> None:
        self.closed = True


def run_round(fake: FakeDomino, job_ids: list[str]) -> dict[str, Job | None]:
    async def main() -> dict[str, Job | None]:
        watcher = ProjectStatusWatcher("conn", "p1", lambda: fake)
        watches = {job_id: watcher.register(job_id, lambda: 60.0) for job_id in job_ids}
        if watcher._task is not None:  # drive rounds by hand here
            watcher._task.cancel()
        await watcher.run_round(fake)
        return {job_id: watch.latest for job_id, watch in watches.items()}

    return asyncio.run(main())


def test_one_paged_list_serves_every_registered_job():
    fake = FakeDomino(page_size=2)
    for i in range(5):
        fake.add(f"j{i}")
    seen = run_round(fake, [f"j{i}" for i in range(5)])
    assert all(job.raw_status == "Running" for job in seen.values() if job)
    assert fake.calls == ["list 0", "list 2", "list 4"]  # no per-job requests


def test_a_job_that_ends_between_two_list_pages_is_seen_ending_with_its_output_commit():
    fake = FakeDomino(page_size=2)
    for i in range(4):
        fake.add(f"j{i}")  # list order: j3 j2 | j1 j0
    # After page one is served, j3 (on page one) ends: j1 slides onto page one's range and the second
    # page ("offset 2") starts at j0. Neither page shows j1 ... and j3 was listed running.
    fake.between_pages = lambda: fake.finish("j3", "out-j3")
    seen = run_round(fake, ["j0", "j1", "j2", "j3"])
    assert "get j1" in fake.calls  # missing from both pages: fetched on its own
    assert seen["j1"] is not None and seen["j1"].raw_status == "Running"
    assert seen["j3"] is not None and seen["j3"].raw_status == "Running"  # as page one said
    # The next round no longer lists j3: it is fetched and seen ending, with its output commit.
    fake.calls.clear()
    seen = run_round(fake, ["j0", "j1", "j2", "j3"])
    assert fake.calls == ["list 0", "list 2", "get j3"]
    assert seen["j3"] is not None and seen["j3"].is_finished
    assert seen["j3"].output_commit_id == "out-j3"


def test_a_job_missing_from_a_lagging_list_is_fetched_and_seen_ending():
    fake = FakeDomino(page_size=10)
    fake.add("old")
    fake.add("new")
    fake.unlisted.add("new")  # just started: not listed yet
    seen = run_round(fake, ["old", "new"])
    assert seen["new"] is not None and seen["new"].raw_status == "Running"
    fake.finish("new", "out-new")
    seen = run_round(fake, ["old", "new"])
    assert seen["new"] is not None and seen["new"].is_finished and seen["new"].output_commit_id == "out-new"


def test_a_failing_list_falls_back_to_each_jobs_own_route():
    fake = FakeDomino()
    fake.add("j0")
    fake.add("j1")
    fake.list_error = DominoConnectionError("GET", "/api/jobs/beta/jobs", "connection refused")
    seen = run_round(fake, ["j0", "j1"])
    assert sorted(fake.calls) == ["get j0", "get j1", "list 0"]
    assert all(job is not None for job in seen.values())


def test_an_ended_job_wakes_its_trigger_at_once_and_errors_reach_only_their_job():
    async def main() -> None:
        fake = FakeDomino()
        fake.add("j0")
        fake.add("j1")
        watcher = ProjectStatusWatcher("conn", "p1", lambda: fake)
        watch0 = watcher.register("j0", lambda: 60.0)
        watch_gone = watcher.register("gone", lambda: 60.0)
        assert watcher._task is not None
        watcher._task.cancel()
        fake.finish("j0", "out")
        await watcher.run_round(fake)
        ended = await asyncio.wait_for(watch0.next_update(timeout=60), 1)  # woken, no 60-s wait
        assert ended is not None and ended.is_finished
        with pytest.raises(DominoNotFoundError):
            await asyncio.wait_for(watch_gone.next_update(timeout=60), 1)

    asyncio.run(main())


def test_watchers_are_per_connection_and_project_and_stop_when_the_last_job_leaves():
    async def main() -> None:
        hooks: list[FakeDomino] = []

        def factory() -> FakeDomino:
            hooks.append(FakeDomino())
            hooks[-1].add("j0")
            return hooks[-1]

        watcher_a, watch_a = watch_job("conn-a", "p1", "j0", lambda: 0.5, factory)
        watcher_b, watch_b = watch_job("conn-b", "p1", "j0", lambda: 0.5, factory)
        watcher_a2, watch_a2 = watch_job("conn-a", "p1", "j0", lambda: 0.5, factory)
        assert watcher_a is watcher_a2 and watcher_a is not watcher_b  # credentials never mixed
        first = await watch_a.next_update(timeout=2)
        assert first is not None or (await watch_a.next_update(timeout=2)) is not None
        for watcher, watch in ((watcher_a, watch_a), (watcher_a2, watch_a2), (watcher_b, watch_b)):
            watcher.unregister(watch)
        await asyncio.sleep(0.1)
        assert all(hook.closed for hook in hooks) and len(hooks) == 2

    asyncio.run(main())


def test_an_ended_job_is_read_on_its_route_once_however_many_rounds_its_trigger_takes_to_leave():
    async def main() -> list[str]:
        fake = FakeDomino()
        fake.add("j0")
        watcher = ProjectStatusWatcher("conn", "p1", lambda: fake)
        watch = watcher.register("j0", lambda: 60.0)
        assert watcher._task is not None
        watcher._task.cancel()
        fake.finish("j0", "out")
        for _ in range(3):  # the trigger is busy with its last log read and has not unregistered
            await watcher.run_round(fake)
        assert watch.latest is not None and watch.latest.output_commit_id == "out"
        return fake.calls

    assert asyncio.run(main()) == ["list 0", "get j0", "list 0", "list 0"]
