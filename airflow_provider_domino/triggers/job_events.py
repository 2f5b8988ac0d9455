"""``DominoJobEventTrigger``: schedule DAGs on Domino jobs that end, wherever they were started.

An :class:`~airflow.sdk.AssetWatcher` runs this trigger in the triggerer for as long as the DAG that
declares the asset exists. Each round it reads the project's job list (one paged ``GET
/api/jobs/beta/jobs?projectId=&statusFilter=all``, newest first) and fires one event for every job that
has ended, in one of ``statuses``, with the wanted tag and title, since the watcher was first created.
The event becomes an asset event; its ``extra["payload"]`` is the dict built by :func:`job_event_payload`.

**Which jobs have been handled** is a small cursor (:class:`EventCursor`): a *floor* job number below
which nothing fires, plus the ids of the jobs at or above it already handled. The floor trails the
oldest job still running by :data:`LAG_MARGIN` numbers, so a job the list shows late (or shows as
running for a while after it ended) is still found. Job numbers come from Domino, so no clock
comparison between Domino and the triggerer is involved.

**Where the cursor lives.** On Airflow 3.3 it is written to the watched asset's ``asset_state_store``
*before* the events it covers are handed to Airflow: a restarted triggerer (SIGTERM or SIGKILL) reads it
back, so it never fires a job twice and it still fires jobs that ended while no triggerer ran. The one
gap: a triggerer killed in the moment between that write and its next sync with the metadata database
(about a second) loses the events of that round. On Airflow 3.1 and 3.2 the cursor is kept in memory
only: after a restart the watcher starts over as if new, so jobs that ended while no triggerer was
running, or in the round it was stopped, never fire, and no job fires twice.

**One poll per project.** On Airflow 3.3 every watcher of the same connection, project and interval joins
one shared stream (``shared_stream_key``): one list request per round however many watchers (tags,
statuses, assets) there are, each applying its own filter and keeping its own cursor. On older Airflow
each watcher polls on its own.

Errors: 401/403 (credentials), 404 (project) and a malformed parameter end the watcher with one clear
error in the triggerer log, after :data:`FAILED_WATCHER_HOLD` seconds (the triggerer restarts a failed
watcher at once, so this bounds the requests a wrong key causes). Anything else (network, 5xx, 429, a
garbled body) waits and tries again, doubling the wait up to :data:`MAX_BACKOFF` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import warnings
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

log = logging.getLogger(__name__)

TRIGGER_PATH = "airflow_provider_domino.triggers.job_events.DominoJobEventTrigger"
#: Prefix of the ``asset_state_store`` key holding a watcher's cursor (followed by a digest of its filter,
#: so several watchers of one asset keep separate cursors).
STATE_KEY_PREFIX = "domino_job_events"
#: Jobs asked for per list page.
LIST_PAGE_SIZE = 100
#: Most pages read in one round. Jobs more than this many pages below the newest job are not watched.
MAX_LIST_PAGES = 20
#: Job numbers kept below the oldest running job, so a job the list shows late is still found.
LAG_MARGIN = 50
#: Most handled job ids a cursor remembers; beyond it the floor rises past the oldest ones.
MAX_REMEMBERED = 2000
#: Longest wait between two attempts after transient errors, in seconds.
MAX_BACKOFF = 600.0
#: Seconds a watcher that met a permanent error (refused key, unknown project) waits before it fails.
#: The triggerer starts a failed watcher again at once (its asset still names it), so failing straight
#: away would turn one wrong key into a request every second.
FAILED_WATCHER_HOLD = 300.0
#: Shortest poll interval accepted, in seconds (a watcher runs for as long as its DAG exists).
MIN_POLL_INTERVAL = 1.0
#: The statuses that fire by default.
DEFAULT_STATUSES = ("Succeeded",)

_queue_warned: list[bool] = []


@dataclass
class Snapshot:
    """One round of a project's job list, as the shared poll hands it to every watcher.

    :param covered_to: the lowest job number read when the round stopped before the end of the list
        (``None`` when it read the whole list): jobs below it were not looked at this round.
    :param details: job details fetched this round (by id), shared by the watchers of the round.
    """

    project_id: str
    project_path: str | None
    ui_url: str
    jobs: tuple[Job, ...]
    covered_to: int | None
    details: dict[str, Job] = field(default_factory=dict)


def _number(job: Job, default: int) -> int:
    return job.number if job.number is not None else default


def _active_floor(jobs: Iterable[Job], current: int) -> int:
    """The number of the oldest job still running, else one past the newest job; ``current`` if none."""
    numbered = [job for job in jobs if job.number is not None]
    running = [job.number for job in numbered if not job.is_finished and job.number is not None]
    if running:
        return min(running)
    if numbered:
        return max(job.number for job in numbered if job.number is not None) + 1
    return current


@dataclass(frozen=True)
class EventCursor:
    """What a watcher has handled: nothing below ``floor`` fires; ``done`` holds the ids (and numbers) at
    or above it already handled. ``floor`` is ``None`` until the first round sets the baseline."""

    floor: int | None = None
    done: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The cursor as the ``asset_state_store`` keeps it."""
        return {"version": 1, "floor": self.floor, "done": dict(self.done)}

    @classmethod
    def from_json(cls, value: Any) -> EventCursor:
        """Read a stored cursor; anything unreadable is a fresh cursor (logged)."""
        if value is None:
            return cls()
        try:
            floor = value["floor"]
            done = {str(k): int(v) for k, v in dict(value.get("done") or {}).items()}
            return cls(int(floor) if floor is not None else None, done)
        except (TypeError, ValueError, KeyError, AttributeError):
            log.warning("Ignoring an unreadable Domino job event cursor: %r", value)
            return cls()

    def advance(self, snapshot: Snapshot, matches: Callable[[Job], bool]) -> tuple[EventCursor, list[Job]]:
        """The cursor after ``snapshot``, and the jobs to fire (oldest first). Pure: ``self`` is unchanged.

        The first round only sets the baseline: every job that has already ended is handled, none fires.
        A job counts once the list shows it finished; until then it holds the floor below it. Jobs
        without a number (the published API always sends one) are left out: they cannot be placed.
        """
        jobs = [job for job in snapshot.jobs if job.number is not None]
        truncated = snapshot.covered_to
        if self.floor is None:
            floor = _active_floor(jobs, 1) - LAG_MARGIN
            if truncated is not None:  # older jobs were not read: none of them may count as new later
                floor = max(floor, truncated)
            done = {
                job.id: _number(job, floor)
                for job in jobs
                if job.is_finished and _number(job, floor) >= floor
            }
            return EventCursor(floor, done)._bounded(), []
        floor = self.floor
        done = dict(self.done)
        fire: list[Job] = []
        for job in sorted(jobs, key=lambda j: _number(j, floor)):
            number = _number(job, floor)
            if number < floor or job.id in done or not job.is_finished:
                continue
            done[job.id] = number
            if matches(job):
                fire.append(job)
        if truncated is None or truncated <= floor:
            floor = max(floor, _active_floor(jobs, floor + LAG_MARGIN) - LAG_MARGIN)
        else:
            # The round stopped at MAX_LIST_PAGES above the floor: jobs below it are out of reach, and
            # would make every later round read as far again. Give them up (logged by the caller).
            floor = truncated
        return EventCursor(floor, {i: n for i, n in done.items() if n >= floor})._bounded(), fire

    def _bounded(self) -> EventCursor:
        if len(self.done) <= MAX_REMEMBERED or self.floor is None:
            return self
        kept = sorted(self.done.items(), key=lambda item: item[1])[-MAX_REMEMBERED:]
        return EventCursor(max(self.floor, kept[0][1]), dict(kept))


def job_event_payload(job: Job, snapshot: Snapshot) -> dict[str, Any]:
    """The event of one job: what a DAG run scheduled by it reads from the asset event's ``extra``."""
    from airflow_provider_domino.api.endpoints import segment
    from airflow_provider_domino.jobs.results import domino_stats

    if snapshot.project_path and "/" in snapshot.project_path:
        owner, name = snapshot.project_path.split("/", 1)
        url = f"{snapshot.ui_url}/jobs/{segment(owner)}/{segment(name)}/{segment(job.id)}"
    else:
        url = f"{snapshot.ui_url}/jobs/{segment(job.id)}"
    return {
        "job_id": job.id,
        "job_number": job.number,
        "status": job.status.value,
        "project_id": snapshot.project_id,
        "project": snapshot.project_path,
        "title": job.title,
        "tags": [tag.name for tag in job.tags],
        "output_commit_id": job.output_commit_id,
        "ended_at": job.ended_at,
        "domino_stats": domino_stats(job),  # as XCom ``domino_stats``: numbers as numbers
        "job_url": url,
    }


def _make_hook(domino_conn_id: str) -> Any:
    from airflow_provider_domino.hooks.domino import DominoHook

    return DominoHook(domino_conn_id, caller="DominoJobEventTrigger")


async def _sleep(delay: float) -> None:
    await asyncio.sleep(delay)


def _is_permanent(err: Exception) -> bool:
    """Errors no wait can fix: refused credentials, an unknown project, a malformed parameter."""
    from airflow_provider_domino.api.errors import (
        DominoAuthError,
        DominoBadRequestError,
        DominoConfigError,
        DominoNotFoundError,
    )

    return isinstance(err, (DominoAuthError, DominoNotFoundError, DominoConfigError, DominoBadRequestError))


def backoff_delay(poll_interval: float, failures: int, retry_after: float | None = None) -> float:
    """Wait after ``failures`` failed rounds in a row: the interval doubled each time, capped, with 10%
    jitter, and never shorter than a server's ``Retry-After``."""
    delay = min(MAX_BACKOFF, poll_interval * 2 ** max(0, failures - 1))
    delay *= 1 + random.uniform(-0.1, 0.1)
    return max(delay, retry_after or 0.0, MIN_POLL_INTERVAL)


#: Scan floors of the watchers subscribed to each shared stream (key -> subscriber -> floor), so the one
#: shared poll reads far enough for the watcher that is furthest behind.
_scan_floors: dict[Hashable, dict[int, int | None]] = {}


def _shared_scan_floor(key: Hashable) -> int | None:
    floors = list(_scan_floors.get(key, {}).values())
    if not floors or any(floor is None for floor in floors):
        return None
    return min(floor for floor in floors if floor is not None)


class DominoJobEventTrigger(BaseEventTrigger):
    """Fire once for every Domino job of a project that ends in one of ``statuses`` (for an AssetWatcher).

    Only jobs that end after the watcher was first created fire: adding a watcher does not replay a
    project's history. Each event's payload names the job (id, number, status, title, tags), its project,
    its output commit, ``domino_stats`` where Domino sends them, and a link to the job.

    :param project: the project as ``owner/name``; or give ``project_id``.
    :param project_id: the project's id (instead of ``project``).
    :param domino_conn_id: Airflow connection id (never a secret).
    :param statuses: the terminal statuses that fire (``Succeeded``, ``Failed``, ``Stopped``, ``Error``).
    :param tag: fire only for jobs carrying this tag (exact name, as the list route's ``tagFilter``).
    :param title_prefix: fire only for jobs whose title starts with this text.
    :param poll_interval: seconds between two reads of the project's job list (at least 1).
    :param trigger_queue: the triggerer queue for this watcher. Airflow (3.2 and 3.3) runs asset
        watchers only on triggerers started without ``--queues``, so it is ignored, with one warning.
    """

    def __init__(
        self,
        project: str | None = None,
        project_id: str | None = None,
        domino_conn_id: str = "domino_default",
        statuses: Iterable[str] | None = None,
        tag: str | None = None,
        title_prefix: str | None = None,
        poll_interval: float = 60.0,
        trigger_queue: str | None = None,
    ) -> None:
        from airflow_provider_domino.api.errors import DominoConfigError
        from airflow_provider_domino.api.project_path import split_project_path
        from airflow_provider_domino.api.status import TERMINAL_STATUSES, JobStatus

        super().__init__()
        if bool(project) == bool(project_id):
            raise DominoConfigError("DominoJobEventTrigger needs exactly one of 'project' or 'project_id'")
        if project:
            try:
                split_project_path(project)
            except ValueError as err:
                raise DominoConfigError(str(err)) from None
        wanted = list(DEFAULT_STATUSES if statuses is None else statuses)
        if isinstance(statuses, str):
            raise DominoConfigError(f"Parameter 'statuses' must be a list of statuses, got {statuses!r}")
        parsed: list[JobStatus] = []
        for status in wanted:
            member = {s.value.lower(): s for s in TERMINAL_STATUSES}.get(str(status).strip().lower())
            if member is None:
                allowed = ", ".join(sorted(s.value for s in TERMINAL_STATUSES))
                raise DominoConfigError(
                    f"Parameter 'statuses': {status!r} is not a terminal Domino job status (one of {allowed})"
                )
            parsed.append(member)
        if not parsed:
            raise DominoConfigError("Parameter 'statuses' is empty: no job could ever fire")
        try:
            interval = float(poll_interval)
        except (TypeError, ValueError):
            raise DominoConfigError(
                f"Parameter 'poll_interval' must be a number, got {poll_interval!r}"
            ) from None
        if not interval >= MIN_POLL_INTERVAL:
            raise DominoConfigError(
                f"Parameter 'poll_interval' must be at least {MIN_POLL_INTERVAL:g} seconds, "
                f"got {poll_interval!r}"
            )
        self.project = project.strip() if project else None
        self.project_id = project_id or None
        self.domino_conn_id = domino_conn_id
        self.statuses = sorted({status.value for status in parsed})
        self.tag = tag or None
        self.title_prefix = title_prefix or None
        self.poll_interval = interval
        self.trigger_queue = trigger_queue or None
        self._cursor = EventCursor()
        if self.trigger_queue:
            _warn_queue_ignored(self.trigger_queue)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            TRIGGER_PATH,
            {
                "project": self.project,
                "project_id": self.project_id,
                "domino_conn_id": self.domino_conn_id,
                "statuses": list(self.statuses),
                "tag": self.tag,
                "title_prefix": self.title_prefix,
                "poll_interval": self.poll_interval,
                "trigger_queue": self.trigger_queue,
            },
        )

    # --- what fires -----------------------------------------------------------------------------

    def matches_listed(self, job: Job) -> bool:
        """What the job list can tell: the status and the title (list items carry no tags)."""
        if job.status.value not in self.statuses:
            return False
        return self.title_prefix is None or (job.title or "").startswith(self.title_prefix)

    def matches(self, job: Job) -> bool:
        """The job (with its details, which carry its tags) is one this watcher fires for."""
        if not self.matches_listed(job):
            return False
        return self.tag is None or any(tag.name == self.tag for tag in job.tags)

    @property
    def state_key(self) -> str:
        """The ``asset_state_store`` key of this watcher's cursor: one per connection, project and filter."""
        identity = json.dumps(
            [self.domino_conn_id, self.project, self.project_id, self.statuses, self.tag, self.title_prefix]
        )
        return f"{STATE_KEY_PREFIX}/{hashlib.sha256(identity.encode()).hexdigest()[:16]}"

    # --- the cursor in the asset state store (Airflow 3.3) --------------------------------------

    def _state_accessors(self) -> list[Any]:
        """One accessor per watched asset (a trigger shared by two assets keeps its cursor in both)."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return []
        # Airflow's accessors answer get/set directly only for exactly one asset, and have no public way
        # to iterate several; their per-asset accessors are the only way to reach each.
        per_asset = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
        return per_asset or [store]

    async def _load_cursor(self) -> EventCursor:
        """The stored cursor; while the store cannot be read, wait and ask again (starting over instead
        would skip the jobs that ended while no triggerer ran)."""
        failures = 0
        while True:
            try:
                return await self._read_cursor()
            except Exception as err:
                failures += 1
                delay = backoff_delay(self.poll_interval, failures)
                self.log.warning(
                    "Reading the Domino job event cursor failed (%s); again in %.0f s", err, delay
                )
                await _sleep(delay)

    async def _read_cursor(self) -> EventCursor:
        for accessor in self._state_accessors():
            stored = await accessor.aget(self.state_key)
            if stored is not None:
                cursor = EventCursor.from_json(stored)
                self.log.info(
                    "Resuming Domino job events of %s from job number %s (%d handled)",
                    self._project_label,
                    cursor.floor,
                    len(cursor.done),
                )
                return cursor
        return EventCursor()

    async def _save_cursor(self, cursor: EventCursor) -> None:
        for accessor in self._state_accessors():
            await accessor.aset(self.state_key, cursor.to_json())

    @property
    def _project_label(self) -> str:
        return self.project or f"project {self.project_id}"

    # --- polling --------------------------------------------------------------------------------

    def shared_stream_key(self) -> Hashable | None:
        """Watchers of the same connection, project and interval share one poll (Airflow 3.3)."""
        return ("domino-job-events", self.domino_conn_id, self.project, self.project_id, self.poll_interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        """The shared poll: one :class:`Snapshot` per round, read deep enough for every subscriber."""
        trigger = cls(**kwargs)
        key = trigger.shared_stream_key()
        async for snapshot in trigger._rounds(lambda: _shared_scan_floor(key)):
            yield snapshot

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        """This watcher's events from the shared rounds, with its own filter and cursor."""
        key = self.shared_stream_key()
        self._cursor = await self._load_cursor()
        subscribers = _scan_floors.setdefault(key, {})
        subscribers[id(self)] = self._cursor.floor
        hook = _make_hook(self.domino_conn_id)
        try:
            async for snapshot in shared_stream:
                async for event in self._consume(hook, snapshot):
                    yield event
                subscribers[id(self)] = self._cursor.floor
        finally:
            subscribers.pop(id(self), None)
            if not subscribers:
                _scan_floors.pop(key, None)
            await hook.aclose()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll on our own (Airflow before 3.3, which has no shared streams)."""
        self._cursor = await self._load_cursor()
        hook = _make_hook(self.domino_conn_id)
        try:
            async for snapshot in self._rounds(lambda: self._cursor.floor):
                async for event in self._consume(hook, snapshot):
                    yield event
        finally:
            await hook.aclose()

    async def _rounds(self, scan_floor: Callable[[], int | None]) -> AsyncIterator[Snapshot]:
        """Read the project's job list once per ``poll_interval``, for ever; raise on a permanent error."""
        from airflow_provider_domino.api.errors import DominoError, DominoRateLimitError

        hook = _make_hook(self.domino_conn_id)
        failures = 0
        project_id: str | None = None
        project_path = self.project
        try:
            while True:
                try:
                    settings = await hook.aresolve_settings()
                    if project_id is None:
                        project_id, project_path = await self._resolve_project(hook)
                    snapshot = await self._scan(hook, project_id, project_path, settings.ui_url, scan_floor())
                except DominoError as err:
                    if _is_permanent(err):
                        self.log.error(
                            "Domino job event watcher for %s stops: %s (it fails in %.0f s; Airflow then "
                            "starts it again)",
                            self._project_label,
                            err,
                            FAILED_WATCHER_HOLD,
                        )
                        await _sleep(FAILED_WATCHER_HOLD)
                        raise
                    failures += 1
                    retry_after = err.retry_after if isinstance(err, DominoRateLimitError) else None
                    delay = backoff_delay(self.poll_interval, failures, retry_after)
                    self.log.warning(
                        "Reading Domino jobs of %s failed (%s); trying again in %.0f s",
                        self._project_label,
                        err,
                        delay,
                    )
                    await _sleep(delay)
                    continue
                failures = 0
                yield snapshot
                await _sleep(self.poll_interval)
        finally:
            await hook.aclose()

    async def _resolve_project(self, hook: Any) -> tuple[str, str | None]:
        if self.project:
            project = await hook.aresolve_project(self.project)
            return project.id, self.project
        assert self.project_id is not None
        from airflow_provider_domino.api.errors import DominoAuthError, DominoError, DominoNotFoundError

        try:
            found = await hook.aget_project(self.project_id)
        except (DominoAuthError, DominoNotFoundError):
            raise
        except DominoError as err:  # the name only makes the job link nicer; the list decides
            self.log.info("Could not look up the name of project %s: %s", self.project_id, err)
            return self.project_id, None
        path = f"{found.owner}/{found.name}" if found.owner and found.name else None
        return self.project_id, path

    async def _scan(
        self, hook: Any, project_id: str, project_path: str | None, ui_url: str, floor: int | None
    ) -> Snapshot:
        """Pages of the list, newest first, down to ``floor`` (or :data:`MAX_LIST_PAGES` when unknown)."""
        jobs: list[Job] = []
        offset: int | None = 0
        covered_to: int | None = None
        for _ in range(MAX_LIST_PAGES):
            assert offset is not None
            page = await hook.alist_jobs(project_id, status_filter="all", offset=offset, limit=LIST_PAGE_SIZE)
            jobs.extend(page.jobs)
            offset = page.next_offset
            numbers = [job.number for job in page.jobs if job.number is not None]
            lowest = min(numbers) if numbers else None
            if offset is None:
                covered_to = None
                break
            covered_to = lowest
            if floor is not None and lowest is not None and lowest <= floor:
                break
        return Snapshot(project_id, project_path, ui_url.rstrip("/"), tuple(jobs), covered_to)

    async def _consume(self, hook: Any, snapshot: Snapshot) -> AsyncIterator[TriggerEvent]:
        """Fire the jobs ``snapshot`` newly shows ended, after recording them in the cursor.

        The cursor is written first: a failed write fires nothing and the next round tries again; a
        written cursor is never followed by a second event for the same job.
        """
        from airflow_provider_domino.api.errors import DominoError, DominoNotFoundError

        cursor, jobs = self._cursor.advance(snapshot, self.matches_listed)
        if cursor == self._cursor:
            return
        if (
            self._cursor.floor is not None
            and snapshot.covered_to is not None
            and cursor.floor == snapshot.covered_to
        ):
            self.log.warning(
                "Domino jobs of %s below number %s are %d+ pages back and no longer watched",
                self._project_label,
                cursor.floor,
                MAX_LIST_PAGES,
            )
        events = []
        for job in jobs:  # their details: the tags (not in list items), the output commit, dominoStats
            detailed = snapshot.details.get(job.id)
            if detailed is None:
                try:
                    detailed = await hook.aget_job(job.id)
                except DominoNotFoundError:
                    detailed = job  # deleted since: the list's view is all there is
                except DominoError as err:
                    self.log.warning("Reading Domino job %s failed (%s); next round tries again", job.id, err)
                    return
                snapshot.details[job.id] = detailed
            merged = _merged(job, detailed)
            if self.matches(merged):
                events.append(TriggerEvent(job_event_payload(merged, snapshot)))
        try:
            await self._save_cursor(cursor)
        except Exception as err:
            self.log.warning("Saving the Domino job event cursor failed (%s); next round tries again", err)
            return
        self._cursor = cursor
        for event in events:
            self.log.info("Domino job %s ended %s: firing", event.payload["job_id"], event.payload["status"])
            yield event


def _merged(listed: Job, detailed: Job) -> Job:
    """The job's details, keeping the listed status and tags when the details lack them."""
    from dataclasses import replace

    if detailed is listed:
        return listed
    return replace(
        detailed,
        status=listed.status,
        raw_status=listed.raw_status,
        tags=detailed.tags or listed.tags,
        title=detailed.title or listed.title,
        number=detailed.number if detailed.number is not None else listed.number,
        output_commit_id=detailed.output_commit_id or listed.output_commit_id,
    )


def _warn_queue_ignored(queue: str) -> None:
    from airflow_provider_domino._compat import event_trigger_queue_supported

    if event_trigger_queue_supported() or _queue_warned:
        return
    _queue_warned.append(True)
    warnings.warn(
        f"DominoJobEventTrigger(trigger_queue={queue!r}) is ignored: this Airflow runs asset watchers "
        "only on triggerers started without --queues",
        UserWarning,
        stacklevel=3,
    )
