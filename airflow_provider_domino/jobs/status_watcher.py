"""Coalesced status polling: one list request per project and interval, however many jobs are watched.

A triggerer runs every deferred Domino task in one event loop. Polling each job's own route costs one
request per job and interval; Domino's published list route returns many jobs' statuses in one call
(``GET /api/jobs/beta/jobs?projectId=&statusFilter=active``, paged). So every trigger that knows its
job's project registers the job with one :class:`ProjectStatusWatcher` per (event loop, Airflow
connection, project). Each round, the watcher pages through the project's active jobs once and hands
each registered job its status.

A registered job missing from the active list is fetched on its own route (``GET
/api/jobs/beta/jobs/{jobId}``): it has ended (and the job route has the terminal details, such as the
output commit), or the list lags behind a job started a moment ago, or it moved between two pages while
they were read. So no transition is ever missed. If the list itself fails, that round fetches every
registered job on its own route instead, which is what triggers did before coalescing.

Triggers keep their own deadlines, poll schedules and log tails. A round happens as often as the most
eager registered trigger wants (each trigger's schedule is ``api.polling.next_poll_delay``), and a trigger
is woken as soon as a round sees its job end, so detection is as quick as with per-job polling.
Credentials are never mixed: each watcher talks through one connection id's hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.api.errors import DominoError

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

log = logging.getLogger(__name__)

#: Jobs asked for per list page (the published route pages; a server may return fewer).
LIST_PAGE_SIZE = 500
#: Most list pages read in one round: a bound, never reached by a real project's active jobs.
MAX_LIST_PAGES = 200
#: Shortest pause between two rounds, whatever a trigger asks for.
MIN_ROUND_GAP = 0.5


@dataclass(eq=False)
class JobWatch:
    """One trigger's registration: the latest status of its job, and a way to wait for news.

    :param desired_delay: seconds the trigger wants between status checks from now on (its schedule).
    """

    job_id: str
    desired_delay: Callable[[], float]
    #: The job as the last round saw it (``None`` before the first round).
    latest: Job | None = None
    #: The error the last round met for this job, raised by the next :meth:`next_update`.
    error: Exception | None = None
    rounds_seen: int = 0
    _news: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, job: Job | None = None, error: Exception | None = None) -> None:
        """Record a round's result; wake the trigger at once if this is its first status, its job
        ended, or the round failed for it."""
        first = self.rounds_seen == 0
        self.rounds_seen += 1
        if error is not None:
            self.error = error
            self._news.set()
            return
        self.latest, self.error = job, None
        if first or (job is not None and job.is_finished):
            self._news.set()

    async def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds, less if there is news (see :meth:`deliver`)."""
        if not self._news.is_set() and timeout > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._news.wait(), timeout)
        self._news.clear()

    def take(self) -> Job | None:
        """The latest status seen (``None`` before the first round); raises a round's error, once."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.latest

    async def next_update(self, timeout: float) -> Job | None:
        """:meth:`wait`, then :meth:`take`."""
        await self.wait(timeout)
        return self.take()


class ProjectStatusWatcher:
    """Polls one project's active jobs for every registered trigger in this event loop.

    Made through :func:`watch_job`, never directly: one exists per (loop, connection id, project).
    """

    def __init__(self, domino_conn_id: str, project_id: str, hook_factory: Callable[[], Any]) -> None:
        self.domino_conn_id = domino_conn_id
        self.project_id = project_id
        self._hook_factory = hook_factory
        self._watches: dict[str, list[JobWatch]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Rounds run and requests sent (metrics for benchmarks and tests).
        self.rounds = 0
        self.list_requests = 0
        self.job_requests = 0

    # --- registration ---------------------------------------------------------------------

    def register(self, job_id: str, desired_delay: Callable[[], float]) -> JobWatch:
        """Add a job; the watcher's rounds start with the first registration."""
        watch = JobWatch(job_id, desired_delay)
        self._watches.setdefault(job_id, []).append(watch)
        self._wake.set()  # a new trigger may want its first status sooner than the next round
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"domino-status-watcher-{self.project_id}"
            )
        return watch

    def unregister(self, watch: JobWatch) -> None:
        """Remove a registration; the watcher stops (and releases its client) when none is left."""
        watches = self._watches.get(watch.job_id, [])
        if watch in watches:
            watches.remove(watch)
        if not watches:
            self._watches.pop(watch.job_id, None)
        if not self._watches:
            self._wake.set()

    @property
    def watched_jobs(self) -> int:
        return len(self._watches)

    # --- rounds ---------------------------------------------------------------------------

    async def _run(self) -> None:
        hook = self._hook_factory()
        try:
            while self._watches:
                started = time.monotonic()
                self._wake.clear()
                await self.run_round(hook)
                await self._pause_after(started)
        finally:
            _forget(self)
            await hook.aclose()

    async def _pause_after(self, started: float) -> None:
        """Sleep until the most eager registered trigger wants its next status (new ones included)."""
        while self._watches:
            wanted = min(
                (watch.desired_delay() for watches in self._watches.values() for watch in watches),
                default=MIN_ROUND_GAP,
            )
            remaining = max(wanted, MIN_ROUND_GAP) - (time.monotonic() - started)
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except asyncio.TimeoutError:
                return

    async def run_round(self, hook: Any) -> None:
        """One round: the active list once, then every registered job missing from it on its own."""
        self.rounds += 1
        wanted = set(self._watches)
        try:
            listed = await self._list_active(hook)
        except DominoError as err:
            log.warning(
                "Listing the active jobs of Domino project %s failed (%s); checking each job instead",
                self.project_id,
                err,
            )
            listed = {}
        results: dict[str, tuple[Job | None, Exception | None]] = {
            job_id: (job, None) for job_id, job in listed.items() if job_id in wanted
        }
        missing = []
        for job_id in wanted - listed.keys():
            ended = self._already_ended(job_id)
            if ended is not None:  # read once on its route; its trigger has not left yet
                results[job_id] = (ended, None)
            else:
                missing.append(job_id)
        fetched = await asyncio.gather(*(self._fetch(hook, job_id) for job_id in missing))
        results.update(zip(missing, fetched, strict=True))
        for job_id, (job, error) in results.items():
            for watch in self._watches.get(job_id, ()):
                watch.deliver(job, error)

    def _already_ended(self, job_id: str) -> Job | None:
        """The finished job a previous round delivered, if any: an ended job never changes again."""
        for watch in self._watches.get(job_id, ()):
            if watch.latest is not None and watch.latest.is_finished:
                return watch.latest
        return None

    async def _list_active(self, hook: Any) -> dict[str, Job]:
        """Every active job of the project, by id, paging until the last page."""
        jobs: dict[str, Job] = {}
        offset: int | None = 0
        pages = 0
        while offset is not None and pages < MAX_LIST_PAGES:
            self.list_requests += 1
            page = await hook.alist_jobs(
                self.project_id, status_filter="active", offset=offset, limit=LIST_PAGE_SIZE
            )
            for job in page.jobs:
                jobs[job.id] = job
            offset = page.next_offset
            pages += 1
        return jobs

    async def _fetch(self, hook: Any, job_id: str) -> tuple[Job | None, Exception | None]:
        self.job_requests += 1
        try:
            return await hook.aget_job(job_id), None
        except DominoError as err:
            return None, err


#: Per event loop: (connection id, project id) -> its watcher.
_WATCHERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], ProjectStatusWatcher]
] = weakref.WeakKeyDictionary()


def _forget(watcher: ProjectStatusWatcher) -> None:
    try:
        per_loop = _WATCHERS.get(asyncio.get_running_loop(), {})
    except RuntimeError:  # pragma: no cover - no loop any more
        return
    key = (watcher.domino_conn_id, watcher.project_id)
    if per_loop.get(key) is watcher:
        del per_loop[key]


def watcher_for(
    domino_conn_id: str, project_id: str, hook_factory: Callable[[], Any]
) -> ProjectStatusWatcher:
    """This loop's watcher for (connection, project), made on first use."""
    per_loop = _WATCHERS.setdefault(asyncio.get_running_loop(), {})
    key = (domino_conn_id, project_id)
    watcher = per_loop.get(key)
    if watcher is None:
        watcher = per_loop[key] = ProjectStatusWatcher(domino_conn_id, project_id, hook_factory)
    return watcher


def watch_job(
    domino_conn_id: str,
    project_id: str,
    job_id: str,
    desired_delay: Callable[[], float],
    hook_factory: Callable[[], Any],
) -> tuple[ProjectStatusWatcher, JobWatch]:
    """Register ``job_id`` with this loop's watcher of (connection, project); unregister when done."""
    watcher = watcher_for(domino_conn_id, project_id, hook_factory)
    return watcher, watcher.register(job_id, desired_delay)
