"""A fake Domino project for status-watcher tests: a paged active list that may lag, break, block or
change between two pages, and each job on its own route. It is also the hook the watcher talks to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_domino.api.errors import DominoNotFoundError
from airflow_provider_domino.api.models import Job, JobPage

if TYPE_CHECKING:
    from airflow_provider_domino.jobs.status_watcher import JobWatch

PROJECT_ID = "p1"


def job(job_id: str, status: str, *, output: str | None = None) -> Job:
    completed = status in ("Succeeded", "Failed", "Stopped", "Error")
    return Job.from_api(
        {
            "id": job_id,
            "status": {"executionStatus": status, "isCompleted": completed},
            "commitDetails": {"inputCommitId": "in", "outputCommitId": output},
        }
    )


class FakeProject:
    """Jobs of one project, newest first as the list route sorts them.

    :param page_size: the most jobs the server serves per list page, whatever the client asks.
    """

    def __init__(self, page_size: int = 500) -> None:
        self.jobs: dict[str, Job] = {}
        self.order: list[str] = []
        self.page_size = page_size
        self.unlisted: set[str] = set()  # jobs the lagging list does not show
        self.ghosts: list[Job] = []  # jobs the lagging list still shows, as they were
        self.after_page: Callable[[int], None] | None = None  # called with each served page's offset
        self.list_errors: list[BaseException] = []  # raised by the next list requests, one each
        self.calls: list[str] = []
        self.closed = 0
        self.stops: list[str] = []
        #: While unset, every request waits for it (a request in flight); ``None``: answer at once.
        self.gate: asyncio.Event | None = None
        self.requested = asyncio.Event()  # set by every request as it arrives

    def add(self, job_id: str, status: str = "Running") -> None:
        self.jobs[job_id] = job(job_id, status)
        self.order.insert(0, job_id)

    def add_many(self, count: int, prefix: str = "other") -> list[str]:
        ids = [f"{prefix}{i}" for i in range(count)]
        for job_id in ids:
            self.add(job_id)
        return ids

    def finish(self, job_id: str, output: str, status: str = "Succeeded") -> None:
        self.jobs[job_id] = job(job_id, status, output=output)

    def take_calls(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls

    async def _arrive(self, call: str) -> None:
        self.calls.append(call)
        self.requested.set()
        if self.gate is not None:
            await self.gate.wait()

    async def alist_jobs(
        self, project_id: str, *, status_filter: str | None = None, offset: int = 0, limit: int = 50
    ) -> JobPage:
        await self._arrive(f"list {offset}")
        if self.list_errors:
            raise self.list_errors.pop(0)
        assert status_filter == "active" and project_id == PROJECT_ID
        active = [self.jobs[i] for i in self.order if not self.jobs[i].is_finished and i not in self.unlisted]
        active = [*self.ghosts, *active]
        size = min(limit, self.page_size)
        page = JobPage(
            jobs=tuple(active[offset : offset + size]), offset=offset, limit=size, total_count=len(active)
        )
        if self.after_page is not None:
            self.after_page(offset)
        return page

    async def aget_job(self, job_id: str) -> Job:
        await self._arrive(f"get {job_id}")
        if job_id not in self.jobs:
            raise DominoNotFoundError("GET", f"/api/jobs/beta/jobs/{job_id}", 404, "no such job")
        return self.jobs[job_id]

    async def astop_job(self, job_id: str, project_id: str | None = None) -> None:
        self.stops.append(job_id)

    async def aclose(self) -> None:
        self.closed += 1


async def next_update(watch: JobWatch, timeout: float) -> Job | None:
    """What a trigger does each step: wait for news (at most ``timeout``), then take the status."""
    await watch.wait(timeout)
    return watch.take()
