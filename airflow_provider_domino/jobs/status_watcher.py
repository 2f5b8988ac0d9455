"""Coalesced status polling: one project's watched jobs read in as few requests as a round allows.

A triggerer runs every deferred Domino task in one event loop. Polling each job's own route (``GET
/api/jobs/beta/jobs/{jobId}``) costs one request per job and round; the published list route (``GET
/api/jobs/beta/jobs?projectId=&statusFilter=active``, paged) returns many jobs' statuses in one call.
So every trigger that knows its job's project registers the job with one :class:`ProjectStatusWatcher`
per (event loop, Airflow connection, project), and each round the watcher reads every registered job's
status in whichever of the two ways costs fewer requests.

**Which way a round reads** (the rule; ``W`` is the number of watched jobs not yet seen ended):

- The list costs its pages plus the watched jobs it will not show; per-job reads cost ``W``. A round
  lists only when ``pages + expected misses < W``, using what earlier rounds learnt: the list's
  ``totalCount`` (so its pages, at the page length the server serves) and which watched jobs a whole
  list did not show although they were running (the list lags behind new jobs, or never shows them).
  Such a job is expected missing for one round after its first miss, then two, four... up to
  ``MISS_MEMORY_ROUNDS``: memory of a lag fades, memory of a job the list never shows grows.
  A lone watched job is always read on its own route; so are all jobs while pages outnumber them.
- While listing, the watcher stops paging as soon as the pages left are at least as many as the
  watched jobs still unseen (counting only those expected on the list) and reads those on their own
  routes instead. ``totalCount`` on every page keeps this right when the project grows or shrinks.
- A watched job missing from the list is read on its own route: it has ended (the job route has the
  terminal details, such as the output commit), or the list lags, or it moved between two pages while
  they were read. A listed job that reports itself finished is read on its route too. So no transition
  is ever missed. A job seen ended is never read again: an ended job does not change.
- If the list answers with a Domino error, that round reads the unseen jobs on their own routes, and
  the list rests for one round, then two, four... (``MISS_MEMORY_ROUNDS`` at most) while it keeps
  failing: a list the connection may not read costs one request now and then, not every round.

Cost: a round that lists never reads more pages than it has watched jobs (paging past the first page
needs fewer pages left than jobs unseen), and reads on their own routes only the jobs the list did not
show. So while the list shows the jobs it is expected to show, a round sends at most ``W`` requests,
and fewer once the list pays. It can send more only when it could not know: the first round of a
watcher with two or more jobs reads one page to learn the list's size (one request more than per-job
reads, at worst, once); and a round in which watched jobs leave the active list (they ended, and each
is read once on its route, as per-job polling would read it) or the project grows past the plan may
spend its pages before noticing, at most the pages it read. Each round is logged at debug level with
the requests it sent.

**Supervision.** A round that raises anything but a Domino error from the list (a malformed page, a
bug, a hook that cannot be built) delivers the error to every registered trigger, which decides
through :func:`~airflow_provider_domino.jobs.watching.watch_step` (a Domino error by its type; anything
else is transient: keep watching). The round loop carries on. If the watcher's task itself ends while
triggers are registered (cancelled by someone, or an exception escaped), every trigger is told and the
task is restarted after a short backoff that doubles with consecutive failures; a trigger calling
:meth:`JobWatch.wait` or :meth:`JobWatch.take` also notices a dead task and restarts it. The task and
its hook end when the last trigger leaves, at once, even in the middle of a request.

Triggers keep their own deadlines, poll schedules and log tails. A round happens as often as the most
eager registered trigger wants (each trigger's schedule is ``jobs.polling.next_poll_delay``), and a
trigger is woken as soon as a round sees its job end, so detection is as quick as with per-job polling.
Credentials are never mixed: each watcher talks through one connection id's hook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.api.errors import DominoError
from airflow_provider_domino.jobs.bounded import within
from airflow_provider_domino.jobs.reusable_wait import ReusableWait

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job, JobPage

log = logging.getLogger(__name__)

#: Jobs asked for per list page (the published route pages; a server may serve fewer).
LIST_PAGE_SIZE = 500
#: Most list pages read in one round: a bound, never reached by a real project's active jobs.
MAX_LIST_PAGES = 200
#: Shortest pause between two rounds, whatever a trigger asks for.
MIN_ROUND_GAP = 0.5
#: Longest wait before a failed watcher task is restarted (the wait doubles from ``MIN_ROUND_GAP``).
MAX_RESTART_BACKOFF = 30.0
#: A wait due this close (seconds) when the watcher's timer fires ends with the waits already due, so
#: triggers whose times nearly coincide share one timer call.
WAIT_SLACK = 0.002
#: Most rounds a job the whole list did not show is expected missing from it again (and most rounds
#: a failing list rests).
MISS_MEMORY_ROUNDS = 32


#: What a running job's ``raw`` is while a watch holds it.
_NO_RAW: MappingProxyType[str, Any] = MappingProxyType({})


class StatusWatcherError(RuntimeError):
    """A round of the project's status watcher failed in an unexpected way (not a Domino error), or the
    watcher's task stopped while triggers waited on it. The watcher carries on (or restarts), so the
    trigger treats this as transient; ``__cause__`` holds the original exception."""


def _deliverable(error: BaseException, project_id: str) -> Exception:
    """What a trigger receives: a Domino error as it is (its type decides), anything else wrapped in a
    :class:`StatusWatcherError` that names the project and the original exception."""
    if isinstance(error, DominoError):
        return error
    wrapped = StatusWatcherError(
        f"checking the jobs of Domino project {project_id} failed: {type(error).__name__}: {error}"
    )
    wrapped.__cause__ = error
    return wrapped


@dataclass(eq=False)
class JobWatch:
    """One trigger's registration: the latest status of its job, and a way to wait for news.

    A trigger waits between its checks, and thousands of triggers wait at once across each round. So a
    wait allocates next to nothing: one :class:`~airflow_provider_domino.jobs.reusable_wait.ReusableWait`
    per watch, re-armed for each wait; no task, no timer of its own. The watcher ends it when there is
    news (see :meth:`deliver`) or when its time is up (one timer per watcher, for the earliest waiting
    trigger). Anything that outlives a round lives long enough to reach the oldest
    generation of the garbage collector, and enough of that sets off a full collection that stalls the
    whole triggerer; per-round waits and statuses are kept out of that path.

    :param desired_delay: seconds the trigger wants between status checks from now on (its schedule).
    :param watcher: the watcher that feeds it; :meth:`wait` and :meth:`take` restart it if it died.
    """

    job_id: str
    desired_delay: Callable[[], float]
    watcher: ProjectStatusWatcher | None = field(default=None, repr=False)
    #: The job as the last round saw it (``None`` before the first round).
    latest: Job | None = None
    #: The error the last round met for this job, raised by the next :meth:`take`.
    error: Exception | None = None
    #: News came while the trigger was not waiting: its next :meth:`wait` returns at once.
    _news: bool = field(default=False, repr=False)
    #: The trigger's wait, re-armed for each wait (made at the first one, in the trigger's loop).
    _waiter: ReusableWait | None = field(default=None, repr=False)
    #: A wait is pending; it ends on news or at ``_due``, the loop time its timeout ends.
    waiting: bool = field(default=False, repr=False)
    _due: float = field(default=0.0, repr=False)

    def deliver(self, job: Job | None = None, error: Exception | None = None) -> None:
        """Record a round's result; wake the trigger at once if this is its first status, its job
        ended, or the round failed for it. An unchanged status keeps the job object already held, so a
        round leaves nothing behind for a job that did not change."""
        first = self.latest is None
        if error is not None:
            self.error = error
            self.wake(news=True)
            return
        if job is None or job != self.latest:
            # A running job is kept slim: without ``raw``, the whole job object with its nested dicts and
            # lists, which nothing reads before the job ends (an ended job is kept whole, for its event).
            self.latest = job if job is None or job.is_finished else dataclasses.replace(job, raw=_NO_RAW)
        self.error = None
        if first or (job is not None and job.is_finished):
            self.wake(news=True)

    def wake(self, *, news: bool) -> None:
        """End the pending wait; with ``news`` and no wait pending, the next wait returns at once."""
        if self.waiting and self._waiter is not None:
            self.waiting = False
            self._waiter.set_result(None)
        elif news:
            self._news = True

    def wait(self, timeout: float) -> ReusableWait:
        """Await it: up to ``timeout`` seconds, less if there is news (see :meth:`deliver`). A watcher
        that died is restarted first, and one that dies meanwhile wakes this wait with its error."""
        if self.watcher is not None:
            self.watcher.ensure_running()
        loop = asyncio.get_running_loop()
        if self._waiter is None or self._waiter.get_loop() is not loop:
            self._waiter = ReusableWait(loop)
        if self._news or timeout <= 0:
            self._news = False
            return self._waiter.resolved()
        self.waiting, self._due = True, loop.time() + timeout
        if self.watcher is not None:
            self.watcher.wake_at(self._due)
        else:
            loop.call_at(self._due, self._time_up, self._due)
        return self._waiter.arm()

    def _time_up(self, due: float) -> None:
        if self.waiting and self._due == due:
            self.wake(news=False)

    def take(self) -> Job | None:
        """The latest status seen (``None`` before the first round); raises a round's error, once."""
        if self.watcher is not None:
            self.watcher.ensure_running()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.latest


class ProjectStatusWatcher:
    """Reads one project's watched jobs for every registered trigger in this event loop.

    Made through :func:`watch_job`, never directly: one exists per (loop, connection id, project).
    """

    def __init__(self, domino_conn_id: str, project_id: str, hook_factory: Callable[[], Any]) -> None:
        self.domino_conn_id = domino_conn_id
        self.project_id = project_id
        self._hook_factory = hook_factory
        self._watches: dict[str, list[JobWatch]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_round = False
        #: The task is being cancelled because the last trigger left (not a failure).
        self._stopping = False
        #: Failures in a row (failed rounds or dead tasks), and the backoff they call for.
        self._failures = 0
        self._backoff = 0.0
        self._round = 0
        #: Pages the active list took when last read (``None``: never read), at ``_page_length`` jobs.
        self._list_pages: int | None = None
        self._page_length = LIST_PAGE_SIZE
        #: Job id -> (lists in a row that did not show it running, last round it is expected missing).
        self._unlisted: dict[str, tuple[int, int]] = {}
        #: Lists in a row that failed with a Domino error, and the last round the list is not tried.
        self._list_failures = 0
        self._list_rests_until = 0
        #: The one timer that ends waits whose time is up, and the loop time it fires.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    # --- registration ---------------------------------------------------------------------

    def register(self, job_id: str, desired_delay: Callable[[], float]) -> JobWatch:
        """Add a job; the watcher's rounds start with the first registration."""
        watch = JobWatch(job_id, desired_delay, watcher=self)
        self._watches.setdefault(job_id, []).append(watch)
        self._wake.set()  # a new trigger may want its first status sooner than the next round
        self.ensure_running()
        return watch

    def unregister(self, watch: JobWatch) -> None:
        """Remove a registration; the watcher stops (and releases its client) when none is left."""
        watches = self._watches.get(watch.job_id, [])
        if watch in watches:
            watches.remove(watch)
        if not watches:
            self._watches.pop(watch.job_id, None)
            self._unlisted.pop(watch.job_id, None)
        if self._watches:
            return
        self._stop_timer()
        self._wake.set()  # a pause or a restart backoff ends at once
        if self._in_round and self._task is not None and not self._task.done():
            self._stopping = True  # a round's request may take long: nobody waits for it any more
            self._task.cancel()

    # --- waits ----------------------------------------------------------------------------

    def wake_at(self, due: float) -> None:
        """A trigger waits until loop time ``due``: make sure the watcher's timer fires by then."""
        if due < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = due
            self._timer = asyncio.get_running_loop().call_at(due, self._end_waits)

    def _end_waits(self) -> None:
        """The timer fired: end every wait whose time is up, and set the timer for the next one."""
        self._timer, self._timer_at = None, math.inf
        now = asyncio.get_running_loop().time() + WAIT_SLACK
        next_due = math.inf
        for watches in self._watches.values():
            for watch in watches:
                if not watch.waiting:
                    continue
                if watch._due <= now:
                    watch.wake(news=False)
                elif watch._due < next_due:
                    next_due = watch._due
        if next_due < math.inf:
            self.wake_at(next_due)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf

    @property
    def watched_jobs(self) -> int:
        """How many distinct jobs are registered."""
        return len(self._watches)

    # --- supervision ----------------------------------------------------------------------

    def ensure_running(self, backoff: float = 0.0) -> None:
        """Start the round task if jobs are watched and it is not running; a task that ended but whose
        end was not handled yet is handled now (its triggers are told, and it is restarted)."""
        if self._task is not None and self._task.done():
            self._task_done(self._task)
        if self._task is None and self._watches:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(backoff), name=f"domino-status-watcher-{self.project_id}"
            )
            self._task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """The round task ended: stop for good if nobody watches, else tell every trigger why (unless it
        was our own stop) and restart it, after a backoff if it failed."""
        if task is not self._task:
            return  # handled already
        self._task = None
        ours = self._stopping
        self._stopping = False
        failure: BaseException | None = None
        if task.cancelled():
            if not ours:
                failure = StatusWatcherError(
                    f"the status watcher of Domino project {self.project_id} was cancelled; restarting it"
                )
        else:
            failure = task.exception()
        if not self._watches:
            if failure is not None and not task.cancelled():
                log.error("The status watcher of Domino project %s failed", self.project_id, exc_info=failure)
            _forget(self)
            return
        if failure is not None:
            self._failed(failure)
        self.ensure_running(self._backoff if failure is not None else 0.0)

    def _failed(self, error: BaseException) -> None:
        """Tell every registered trigger, log (the traceback once per run of failures), and back off:
        the next try waits ``MIN_ROUND_GAP``, doubling with each failure in a row."""
        self._failures += 1
        self._backoff = min(MAX_RESTART_BACKOFF, MIN_ROUND_GAP * 2 ** (self._failures - 1))
        delivered = _deliverable(error, self.project_id)
        if self._failures == 1:
            log.error(
                "The status watcher of Domino project %s failed; its triggers are told and it carries on",
                self.project_id,
                exc_info=error,
            )
        else:
            log.warning(
                "The status watcher of Domino project %s failed again (%d in a row): %s",
                self.project_id,
                self._failures,
                delivered,
            )
        for watches in list(self._watches.values()):
            for watch in watches:
                watch.deliver(error=delivered)

    # --- rounds ---------------------------------------------------------------------------

    async def _run(self, backoff: float) -> None:
        """Rounds until no job is watched; a failed round is delivered and the loop carries on."""
        if backoff > 0:
            await self._pause(lambda: backoff, time.monotonic())
        if not self._watches:
            return
        hook = self._hook_factory()
        try:
            while self._watches:
                started = time.monotonic()
                self._wake.clear()
                self._in_round = True
                try:
                    await self.run_round(hook)
                    self._failures, self._backoff = 0, 0.0
                except Exception as err:  # CancelledError is not an Exception: a stop passes through
                    self._failed(err)
                finally:
                    self._in_round = False
                await self._pause(self._most_eager_delay, started)
        finally:
            await hook.aclose()

    def _most_eager_delay(self) -> float:
        """The shortest wait any registered trigger wants (new ones included), at least the round gap
        (longer after failed rounds, which back off like a failed task)."""
        wanted = min(
            (watch.desired_delay() for watches in self._watches.values() for watch in watches),
            default=MIN_ROUND_GAP,
        )
        return max(wanted, MIN_ROUND_GAP, self._backoff)

    async def _pause(self, delay: Callable[[], float], started: float) -> None:
        """Sleep until ``delay()`` seconds after ``started`` (asked again whenever a trigger joins);
        returns at once when no job is watched any more."""
        while self._watches:
            remaining = delay() - (time.monotonic() - started)
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await within(self._wake.wait(), remaining)  # never drops a cancel (see bounded)
            except asyncio.TimeoutError:
                return

    async def run_round(self, hook: Any) -> None:
        """One round: each watched job's status, by the list or by its own route (see the module doc)."""
        self._round += 1
        results: dict[str, tuple[Job | None, Exception | None]] = {}
        need: list[str] = []
        for job_id in list(self._watches):
            ended = self._already_ended(job_id)
            if ended is not None:  # read once on its route; its trigger has not left yet
                results[job_id] = (ended, None)
            else:
                need.append(job_id)
        listed: dict[str, Job] = {}
        pages, complete = 0, False
        if self._list_pays(need):
            listed, pages, complete = await self._read_list(hook, need)
        results.update((job_id, (job, None)) for job_id, job in listed.items())
        unseen = [job_id for job_id in need if job_id not in listed]
        fetched = await self._fetch_all(hook, unseen)
        results.update(zip(unseen, fetched, strict=True))
        if complete:
            self._learn_misses(listed, unseen, fetched)
        log.debug(
            "Domino project %s, round %d: %d watched jobs read with %d list requests and %d job reads",
            self.project_id,
            self._round,
            len(need),
            pages,
            len(unseen),
        )
        for job_id, (job, error) in results.items():
            for watch in list(self._watches.get(job_id, ())):
                watch.deliver(job, error)

    def _already_ended(self, job_id: str) -> Job | None:
        """The finished job a previous round delivered, if any: an ended job never changes again."""
        for watch in self._watches.get(job_id, ()):
            if watch.latest is not None and watch.latest.is_finished:
                return watch.latest
        return None

    def _expected_missing(self, job_id: str) -> bool:
        """Whether the list is expected not to show this job (it did not, lately, while it ran)."""
        miss = self._unlisted.get(job_id)
        return miss is not None and miss[1] >= self._round

    def _list_pays(self, need: list[str]) -> bool:
        """The plan: list only when its pages plus the jobs it is expected to miss cost fewer requests
        than reading each job (an unknown list is guessed at one page), and it is not resting after
        failing."""
        if self._round <= self._list_rests_until:
            return False
        misses = sum(1 for job_id in need if self._expected_missing(job_id))
        return (self._list_pages or 1) + misses < len(need)

    async def _read_list(self, hook: Any, need: list[str]) -> tuple[dict[str, Job], int, bool]:
        """Page through the active list while it pays: the watched, unfinished jobs it showed, the list
        requests sent, and whether the whole list was read."""
        wanted = set(need)
        expected = {job_id for job_id in need if not self._expected_missing(job_id)}
        listed: dict[str, Job] = {}
        offset: int | None = 0
        pages = 0
        while offset is not None:
            pages += 1
            try:
                page = await hook.alist_jobs(
                    self.project_id, status_filter="active", offset=offset, limit=LIST_PAGE_SIZE
                )
            except DominoError as err:
                self._list_failures += 1
                rest = min(2 ** (self._list_failures - 1), MISS_MEMORY_ROUNDS)
                self._list_rests_until = self._round + rest
                log.warning(
                    "Listing the active jobs of Domino project %s failed (%s); reading each job on its own"
                    " route this round and the next %d",
                    self.project_id,
                    err,
                    rest,
                )
                return listed, pages, False
            self._list_failures = 0
            for job in page.jobs:
                # A listed job that already finished is read on its route, for its terminal details; a
                # job seen ended is not wanted (a lagging list may still show it running).
                if job.id in wanted and not job.is_finished:
                    listed[job.id] = job
            offset = page.next_offset
            pages_left = self._learn_size(page)
            if offset is not None and (
                pages >= MAX_LIST_PAGES or pages_left >= len(expected - listed.keys())
            ):
                return listed, pages, False  # the rest costs no less on their own routes
        return listed, pages, True

    def _learn_size(self, page: JobPage) -> int:
        """Record how many pages the list takes; return how many are left after ``page``."""
        if page.next_offset is not None and page.jobs:
            self._page_length = len(page.jobs)  # a full page: what the server serves
        self._list_pages = max(1, math.ceil(page.total_count / self._page_length))
        if page.next_offset is None:
            return 0
        return math.ceil((page.total_count - page.next_offset) / self._page_length)

    def _learn_misses(
        self,
        listed: dict[str, Job],
        unseen: Iterable[str],
        fetched: Iterable[tuple[Job | None, Exception | None]],
    ) -> None:
        """After a whole list: forget misses of the jobs it showed; remember those it did not show
        although they still run (or could not be read), for a number of rounds that doubles."""
        for job_id in listed:
            self._unlisted.pop(job_id, None)
        for job_id, (job, _error) in zip(unseen, fetched, strict=True):
            if job is not None and job.is_finished:
                self._unlisted.pop(job_id, None)
                continue
            streak = self._unlisted.get(job_id, (0, 0))[0] + 1
            self._unlisted[job_id] = (streak, self._round + min(2 ** (streak - 1), MISS_MEMORY_ROUNDS))

    async def _fetch_all(self, hook: Any, job_ids: list[str]) -> list[tuple[Job | None, Exception | None]]:
        """Each job on its own route, concurrently. Anything but a Domino error fails the round at once:
        the other reads are cancelled and awaited, so none is left running unsupervised."""
        if not job_ids:
            return []
        loop = asyncio.get_running_loop()
        reads = [loop.create_task(self._fetch(hook, job_id)) for job_id in job_ids]
        try:
            await asyncio.wait(reads, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for read in reads:
                read.cancel()  # none left once a read failed or the round was cancelled
            await asyncio.wait(reads)
        for read in reads:
            error = None if read.cancelled() else read.exception()
            if error is not None:
                raise error
        return [read.result() for read in reads]

    async def _fetch(self, hook: Any, job_id: str) -> tuple[Job | None, Exception | None]:
        """One job on its own route; its Domino error goes to its triggers only."""
        try:
            return await hook.aget_job(job_id), None
        except DominoError as err:
            return None, err


#: Per event loop: (connection id, project id) -> its watcher.
_WATCHERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str], ProjectStatusWatcher]
] = weakref.WeakKeyDictionary()


def _forget(watcher: ProjectStatusWatcher) -> None:
    """Drop a watcher that stopped for good, so the next trigger of its project makes a fresh one."""
    per_loop = _WATCHERS.get(asyncio.get_running_loop(), {})
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
