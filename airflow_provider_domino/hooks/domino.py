"""``DominoHook``: authentication and every endpoint of the Domino Jobs API, sync and async."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_domino import __version__
from airflow_provider_domino.api import endpoints
from airflow_provider_domino.api.errors import (
    DominoApiError,
    DominoConfigError,
    DominoError,
    DominoNotFoundError,
)
from airflow_provider_domino.api.job_spec import CLUSTER_TIER_FIELDS
from airflow_provider_domino.api.models import HardwareTier, LogChunk, Project
from airflow_provider_domino.api.project_path import split_project_path
from airflow_provider_domino.hooks.connection import DominoConnectionSettings
from airflow_provider_domino.hooks.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from airflow_provider_domino.jobs.cost import PriceSheet
from airflow_provider_domino.jobs.idempotency import key_in_title, random_key, title_with_key
from airflow_provider_domino.jobs.log_cursor import (
    JSON as JSON_MODE,
)
from airflow_provider_domino.jobs.log_cursor import (
    LogCursor,
    LogPoll,
    astream_log,
    stream_log,
)
from airflow_provider_domino.jobs.log_lines import last_lines, text_log_end

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_domino.api.job_spec import JobOptions
    from airflow_provider_domino.api.models import GoalLink, Job, JobPage, Tag
    from airflow_provider_domino.hooks.transport import AsyncTransport, SyncTransport

log = logging.getLogger(__name__)

#: How many of a project's newest jobs (of any status) are searched for an idempotency key; its active
#: jobs are searched to the end (see :meth:`DominoHook.find_job_by_keys`).
IDEMPOTENCY_SCAN_LIMIT = 500
#: Jobs asked for per page of the active-jobs search.
IDEMPOTENCY_PAGE_SIZE = 500
#: Most pages of active jobs searched for a key (100,000 jobs): a bound no real project reaches.
IDEMPOTENCY_MAX_ACTIVE_PAGES = 200
#: Pages per log stream read for the tail shown in a failure message.
RECENT_LOG_PAGES = 3
#: Bytes of a text log read for the tail shown in a failure message.
TAIL_BYTES = 16 * 1024


def choose_hardware_tier(value: str, tiers: list[HardwareTier], project_id: str) -> str:
    """The id of the tier ``value`` names among ``tiers``: exact name, then case-insensitive name, then id.

    Raises :class:`DominoConfigError` naming the project's tiers when none matches.
    """
    for tier in tiers:
        if tier.name == value:
            return tier.id
    folded = value.casefold()
    matches = [tier for tier in tiers if tier.name.casefold() == folded]
    if len(matches) == 1:
        return matches[0].id
    for tier in tiers:
        if tier.id == value:
            return tier.id
    names = ", ".join(sorted(repr(tier.name) for tier in tiers)) or "none"
    if len(matches) > 1:
        raise DominoConfigError(
            f"Hardware tier {value!r} matches several tiers of project {project_id} when case is ignored "
            f"({', '.join(repr(t.name) for t in matches)}); give its exact name"
        )
    raise DominoConfigError(
        f"Hardware tier {value!r} is not available in Domino project {project_id}; its tiers are: {names}. "
        "No job was started"
    )


def tier_parameter(hardware_tier: str | None, hardware_tier_id: str | None) -> tuple[str, str]:
    """``(value, parameter name)`` of the one tier parameter given; both or neither is an error."""
    given = [
        (str(value).strip(), name)
        for value, name in ((hardware_tier, "hardware_tier"), (hardware_tier_id, "hardware_tier_id"))
        if value is not None and str(value).strip()
    ]
    if len(given) == 2:
        raise DominoConfigError(
            "Give either 'hardware_tier' (a tier name or id) or 'hardware_tier_id', not both"
        )
    if not given:
        raise DominoConfigError("Parameter 'hardware_tier' must name a Domino hardware tier (its name or id)")
    return given[0]


def warn_tier_name_as_id(name: str) -> None:
    """The deprecation of a tier *name* passed as ``hardware_tier_id`` (an id there stays silent)."""
    message = (
        f"hardware_tier_id={name!r} is a tier name, not an id; name tiers with hardware_tier={name!r} "
        "instead (hardware_tier_id with a name will stop resolving in a future release)"
    )
    warnings.warn(message, DeprecationWarning, stacklevel=3)
    log.warning("%s", message)


class DominoHook(BaseHook):
    """Talk to a Domino deployment through an Airflow ``domino`` connection.

    The connection's host is the Domino URL and its password the API key (or an access token with
    extra ``auth_type="bearer"``). Extras: ``token_file``, ``api_proxy``, ``verify``, ``timeout``,
    ``project_id``. Empty fields fall back to Domino's environment variables; see the README.

    Every request has connect and read timeouts and is retried with bounded exponential backoff on
    connection errors, 429 (honouring ``Retry-After``) and 5xx. Client errors raise typed
    :class:`~airflow_provider_domino.api.errors.DominoApiError` subclasses at once.

    :param domino_conn_id: the Airflow connection to use.
    :param retry_policy: override the retry bounds (tests, latency-sensitive callers).
    :param caller: named in the User-Agent so Domino admins can tell which component called.
    """

    conn_name_attr = "domino_conn_id"
    default_conn_name = "domino_default"
    conn_type = "domino"
    hook_name = "Domino"

    def __init__(
        self,
        domino_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        caller: str = "DominoHook",
    ) -> None:
        super().__init__()
        self.domino_conn_id = domino_conn_id
        self.retry_policy = retry_policy or DEFAULT_RETRY_POLICY
        self.caller = caller

    # --- connection ------------------------------------------------------------------------

    @cached_property
    def settings(self) -> DominoConnectionSettings:
        """The resolved connection: URL, auth, TLS, timeouts, default project."""
        conn: Connection | None = None
        try:
            conn = self.get_connection(self.domino_conn_id)
        except Exception as err:
            self._check_missing_connection(err)
        return DominoConnectionSettings.resolve(self.domino_conn_id, conn, os.environ)

    async def aresolve_settings(self) -> DominoConnectionSettings:
        """Resolve :attr:`settings` without blocking the event loop (for triggers)."""
        if "settings" not in self.__dict__:
            conn: Connection | None = None
            try:
                conn = await self.aget_connection(self.domino_conn_id)
            except Exception as err:
                self._check_missing_connection(err)
            settings = DominoConnectionSettings.resolve(self.domino_conn_id, conn, os.environ)
            self.__dict__["settings"] = settings
        return self.settings

    def _check_missing_connection(self, err: Exception) -> None:
        """A connection that is not defined is fine inside Domino (env vars); elsewhere, say what to do.

        Any other failure to read the connection (a malformed ``AIRFLOW_CONN_...`` URI, a secrets
        backend refusing access) is raised as it is: it names the problem better than we could.
        """
        from airflow.exceptions import AirflowNotFoundException

        if not isinstance(err, AirflowNotFoundException):
            raise err
        if not (os.environ.get("DOMINO_API_HOST") or os.environ.get("DOMINO_API_PROXY")):
            raise DominoConfigError(
                f"Airflow connection '{self.domino_conn_id}' is not defined. Create a connection of type "
                "'domino' (host = Domino URL, password = API key), e.g. with environment variable "
                f"AIRFLOW_CONN_{self.domino_conn_id.upper()}"
            ) from None
        log.info("Connection %r not defined; using DOMINO_* environment variables", self.domino_conn_id)

    @cached_property
    def user_agent(self) -> str:
        try:
            from airflow import __version__ as airflow_version
        except ImportError:  # pragma: no cover
            airflow_version = "unknown"
        return f"airflow-provider-domino/{__version__} apache-airflow/{airflow_version} ({self.caller})"

    @cached_property
    def _sync(self) -> SyncTransport:
        from airflow_provider_domino.hooks.transport import SyncTransport

        return SyncTransport(self.settings, self.retry_policy, self.user_agent)

    @cached_property
    def _async(self) -> AsyncTransport:
        from airflow_provider_domino.hooks.transport import AsyncTransport

        return AsyncTransport(self.settings, self.retry_policy, self.user_agent)

    def close(self) -> None:
        """Close the sync session (the async client is released by :meth:`aclose`)."""
        if "_sync" in self.__dict__:
            self._sync.close()
            del self.__dict__["_sync"]

    async def aclose(self) -> None:
        """Release this hook's share of the loop's async client."""
        if "_async" in self.__dict__:
            await self._async.aclose()

    def project_id_or_default(self, project_id: str | None) -> str:
        """``project_id``, else the connection's default; raises a clear error when neither is set."""
        chosen = project_id or self.settings.project_id
        if not chosen:
            raise DominoConfigError(
                f"No Domino project given and connection '{self.domino_conn_id}' has no extra 'project_id'"
            )
        return chosen

    # --- jobs --------------------------------------------------------------------------------

    def list_jobs(
        self,
        project_id: str | None = None,
        *,
        status_filter: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> JobPage:
        """One page of a project's jobs, newest first (``GET /api/jobs/beta/jobs``).

        :param status_filter: ``all``, ``queued``, ``running``, ``completed``, ``archived`` or ``active``.
        """
        chosen = status_filter
        try:
            call = endpoints.list_jobs(
                self.project_id_or_default(project_id),
                status_filter=chosen.strip().lower() if chosen else None,
                offset=offset,
                limit=limit,
            )
        except ValueError as err:
            raise DominoConfigError(f"Parameter 'status_filter': {err}") from None
        return self._sync.send(call)

    def iter_jobs(
        self, project_id: str | None = None, *, status_filter: str | None = None, page_size: int = 100
    ) -> Iterator[Job]:
        """Every job of a project, newest first, fetching pages lazily as the iterator is consumed."""
        offset: int | None = 0
        while offset is not None:
            page = self.list_jobs(project_id, status_filter=status_filter, offset=offset, limit=page_size)
            yield from page.jobs
            offset = page.next_offset

    def get_job(self, job_id: str) -> Job:
        """Details and status of one job (``GET /api/jobs/beta/jobs/{jobId}``)."""
        return self._sync.send(endpoints.get_job(job_id))

    def get_job_logs(self, job_id: str) -> str:
        """The job's whole output as text: its stdout and stderr lines (setup output left out)."""
        lines: list[str] = []
        self.stream_log(LogPoll(job_id, final=True, streams=("stdOut", "stdErr")), lines.append)
        return "\n".join(lines) + ("\n" if lines else "")

    def get_job_log_tail(self, job_id: str, offset: int = 0, max_bytes: int | None = None) -> LogChunk:
        """A text log's bytes from ``offset`` on, at most ``max_bytes`` (servers answering ``text/plain``)."""
        return self._sync.send(endpoints.get_job_log_tail(job_id, offset, max_bytes))

    def stream_log(self, poll: LogPoll, emit: Callable[[str], None]) -> LogCursor:
        """Hand every new log line of ``poll`` to ``emit``, one page in memory at a time.

        Returns the new cursor; if a request fails half-way, ``poll.cursor`` still covers every line
        already emitted (keep it, or lines are shown twice).
        """
        return stream_log(poll, self._sync.send, emit)

    def stream_log_lines(
        self, job_id: str, cursor: LogCursor | int | None, *, final: bool, emit: Callable[[str], None]
    ) -> LogCursor:
        """Every log line past ``cursor`` to ``emit``; returns the new cursor (see :meth:`stream_log`).

        :param final: the job has ended, so an unterminated last line of a text log is emitted too.
        """
        return self.stream_log(LogPoll(job_id, LogCursor.from_json(cursor), final=final), emit)

    def recent_log_lines(
        self,
        job_id: str,
        count: int = 20,
        *,
        since_nano: int | None = None,
        max_bytes: int = TAIL_BYTES,
    ) -> str:
        """The last ``count`` lines of the job's output, for failure messages; reads only the log's end.

        A JSON log (published): the last lines of stdout, then of stderr, reading at most
        ``RECENT_LOG_PAGES`` pages per stream from ``since_nano`` on (e.g. shortly before the job ended,
        so a long log is not read whole). A text log (a ``text/plain`` server): the first request also
        asks for the last ``max_bytes`` only, with a suffix ``Range`` (a JSON server ignores it); from
        a server that ignores ``Range`` too, only the end of what it sent is kept.
        """
        tails: list[str] = []
        for stream in ("stdOut", "stdErr"):
            start = LogCursor()
            if since_nano is not None:
                start = LogCursor(JSON_MODE, {stream: (since_nano, 0)})
            poll = LogPoll(job_id, start, final=True, streams=(stream,))
            tail: deque[str] = deque(maxlen=count)
            pages = 0
            while pages < RECENT_LOG_PAGES and (call := poll.next_call()) is not None:
                if not tails and pages == 0:
                    call = endpoints.with_log_suffix_range(call, max_bytes)
                answer = self._sync.send(call)
                if isinstance(answer, LogChunk):  # a text log holds both streams: its end is the tail
                    return last_lines(text_log_end(answer.data, max_bytes), count)
                tail.extend(line for line in poll.take(answer) if line.strip())
                pages += 1
            tails.extend(tail)
        return "\n".join(tails[-count:])  # stderr last: errors are what a failure message needs

    def start_job(
        self,
        command: str,
        hardware_tier_id: str | None = None,
        project_id: str | None = None,
        *,
        hardware_tier: str | None = None,
        is_direct_hardware_tier_id: bool = False,
        environment_id: str | None = None,
        commit_id: str | None = None,
        title: str | None = None,
        idempotency_key: str | None = None,
        options: JobOptions | None = None,
    ) -> Job:
        """Start a job (``POST /api/jobs/v1/jobs``) exactly once.

        The tier is given as ``hardware_tier`` (a name or an id) or, the older spelling,
        ``hardware_tier_id``; not both. It is resolved to its id among the project's tiers
        (:meth:`resolve_hardware_tier`), and so are the tiers ``options.compute_cluster`` names, all
        from one read of the tier list; an unknown tier fails before anything is started. A *name*
        given as ``hardware_tier_id`` still works but emits a ``DeprecationWarning`` recommending
        ``hardware_tier``; an actual id there passes silently.

        The idempotency key (a random one when not given) travels in the job's title. If the start
        request fails in a way that means it may have been processed (connection reset after sending,
        read timeout, 500/502/504), the project's jobs are searched for *this* key, for up to
        :attr:`start_lookup_window` seconds because the job list may lag behind a job created a moment
        ago, before the request is sent again, once (``ownership.submit_exactly_once``). An ambiguous
        failure never creates a second job and never adopts a job started with another key (the
        operator uses one key per try).

        What the job's tiers cost is kept for :meth:`price_sheet` (no second read of the tier list).

        :param command: the command Domino runs, e.g. ``python train.py --epochs 10``.
        :param hardware_tier_id: the tier's id, or (deprecated) its name; ``is_direct_hardware_tier_id=True``
            sends it as given, unresolved.
        :param hardware_tier: the tier's name or id.
        :param project_id: Domino project id; defaults to the connection's ``project_id``.
        :param commit_id: run on this commit (e.g. an upstream job's ``outputCommitId``).
        :param idempotency_key: identifies this unit of work across retries (letters, digits, ``_.-``).
        :param options: the other ``NewJobV1`` fields
            (:class:`~airflow_provider_domino.api.job_spec.JobOptions`).
        """
        if not command or not command.strip():
            raise DominoConfigError("Parameter 'command' must be a non-empty command line")
        chosen, parameter = tier_parameter(hardware_tier, hardware_tier_id)
        project = self.project_id_or_default(project_id)
        tier = chosen
        if not (is_direct_hardware_tier_id and parameter == "hardware_tier_id"):
            tier = self.resolve_hardware_tier(chosen, project)
            if parameter == "hardware_tier_id" and tier != chosen:
                warn_tier_name_as_id(chosen)
        options = self._resolve_cluster_tiers(options, project)
        key = idempotency_key or random_key()
        call = endpoints.start_job(
            project_id=project,
            command=command,
            hardware_tier=tier,
            environment_id=environment_id,
            commit_id=commit_id,
            title=title_with_key(title, key),
            options=options,
        )
        from airflow_provider_domino.jobs.ownership import submit_exactly_once

        job = submit_exactly_once(
            lambda: self._sync.send(call),
            lambda: self.find_job_by_keys([key], project),
            lookup_window=self.start_lookup_window,
            sleep=time.sleep,
            clock=time.monotonic,
        )
        cluster = options.compute_cluster if options is not None else None
        self._price_sheets[job.id] = PriceSheet.of(tier, self._tier_lists.get(project), cluster)
        return job

    def _resolve_cluster_tiers(self, options: JobOptions | None, project: str) -> JobOptions | None:
        """``options`` with the compute cluster's tier names replaced by ids (same tier list)."""
        if options is None or not options.compute_cluster:
            return options
        cluster = dict(options.compute_cluster)
        for name in CLUSTER_TIER_FIELDS:
            if cluster.get(name):
                cluster[name] = self.resolve_hardware_tier(str(cluster[name]).strip(), project)
        return replace(options, compute_cluster=cluster)

    #: Seconds an ambiguous start keeps looking for its job in the (possibly lagging) job list.
    start_lookup_window: float = 10.0

    def find_job_by_idempotency_key(
        self, idempotency_key: str, project_id: str | None = None, *, active_only: bool = False
    ) -> Job | None:
        """The most recent job of the project whose title carries ``idempotency_key``, if any.

        :param active_only: ignore jobs that already ended (a retry after a failure starts afresh).
        """
        return self.find_job_by_keys([idempotency_key], project_id, active_only=active_only)

    def find_job_by_keys(
        self, keys: Collection[str], project_id: str | None = None, *, active_only: bool = False
    ) -> Job | None:
        """The newest job of the project whose title carries one of ``keys``, or ``None``.

        Two reads, because a key may belong to a job that runs or to one that already ended (a previous
        try's job that succeeded is reused; one that failed makes the next try start afresh; a job
        created by an ambiguous start may end within seconds):

        1. the project's ``IDEMPOTENCY_SCAN_LIMIT`` newest jobs of any status, newest first: where a
           job started moments or minutes ago is found, whatever its status (skipped with
           ``active_only``);
        2. then every *active* job, paged to the end (``statusFilter=active``): a running job is never
           missed, however busy the project. Active jobs older than the first window are older than
           anything in it, so "newest first" holds across both reads.

        An ended job older than the newest ``IDEMPOTENCY_SCAN_LIMIT`` is not found: its try is then
        treated as having left no job (a failed or stopped job gives the same answer; a succeeded one is
        run again rather than reused). The active read stops after ``IDEMPOTENCY_MAX_ACTIVE_PAGES``
        pages, with a warning.

        :param active_only: ignore jobs that already ended.
        """
        wanted = set(keys)
        if not wanted:
            return None
        if not active_only:
            for index, job in enumerate(self.iter_jobs(project_id, status_filter="all", page_size=100)):
                if index >= IDEMPOTENCY_SCAN_LIMIT:
                    break
                if key_in_title(job.title) in wanted:
                    return job
        pages = 0
        offset: int | None = 0
        while offset is not None:
            if pages >= IDEMPOTENCY_MAX_ACTIVE_PAGES:
                log.warning(
                    "Searched %d pages of active jobs of project %s for a job key without reaching the "
                    "end; a job beyond them is not found",
                    pages,
                    project_id,
                )
                break
            page = self.list_jobs(
                project_id, status_filter="active", offset=offset, limit=IDEMPOTENCY_PAGE_SIZE
            )
            pages += 1
            for job in page.jobs:
                if key_in_title(job.title) in wanted and not job.is_finished:
                    return job
            offset = page.next_offset
        return None

    def resolve_hardware_tier(self, tier: str, project_id: str | None = None) -> str:
        """The id of hardware tier ``tier`` (a name, or already an id) among the project's tiers.

        Reads ``GET /v4/projects/{projectId}/hardwareTiers`` (as python-domino does) once per hook and
        project (:meth:`hardware_tiers`), and matches the exact name first, then the name
        case-insensitively; a value that already is one of the project's tier ids passes. An unknown
        tier raises :class:`DominoConfigError` listing the project's tier names. A server without
        that route (404, the simplified reference) gets the value as given.
        """
        project = self.project_id_or_default(project_id)
        tiers = self.hardware_tiers(project)
        if tiers is None:
            return tier
        return choose_hardware_tier(tier, tiers, project)

    def hardware_tiers(self, project_id: str) -> list[HardwareTier] | None:
        """The project's tiers with their prices, read once per hook (``None``: the server has no such route).

        The start resolves tier names through this list and the cost estimate prices the job from it,
        so a job that named its tier costs one read of the list in all.
        """
        if project_id not in self._tier_lists:
            try:
                self._tier_lists[project_id] = self._sync.send(endpoints.list_hardware_tiers(project_id))
            except DominoNotFoundError as err:
                log.warning("Could not list hardware tiers of project %s (%s)", project_id, err)
                self._tier_lists[project_id] = None
        return self._tier_lists[project_id]

    def price_sheet(
        self,
        job_id: str,
        project_id: str | None = None,
        *,
        hardware_tier: str | None = None,
        compute_cluster: Mapping[str, Any] | None = None,
    ) -> PriceSheet | None:
        """The tiers and prices of job ``job_id``, for the cost estimate (``jobs.cost``).

        A job this hook started answers from what its start read, with no request. Otherwise (a job
        reattached to, or started by another process) the tiers are resolved from ``hardware_tier``
        and ``compute_cluster`` through the project's tier list, read once per hook; ``None`` when no
        tier is known or the list cannot be read (the estimate then says so instead of guessing).
        """
        if job_id in self._price_sheets:
            return self._price_sheets[job_id]
        if not hardware_tier:
            return None
        try:
            project = self.project_id_or_default(project_id)
            tiers = self.hardware_tiers(project)
            tier = choose_hardware_tier(hardware_tier, tiers, project) if tiers is not None else hardware_tier
            cluster = dict(compute_cluster) if compute_cluster else None
            for name in CLUSTER_TIER_FIELDS:
                if cluster and cluster.get(name) and tiers is not None:
                    cluster[name] = choose_hardware_tier(str(cluster[name]), tiers, project)
        except DominoError as err:
            log.warning("Could not price the hardware tiers of Domino job %s: %s", job_id, err)
            return None
        sheet = PriceSheet.of(tier, tiers, cluster)
        self._price_sheets[job_id] = sheet
        return sheet

    def known_price_sheet(self, job_id: str) -> PriceSheet | None:
        """The price sheet this hook already holds for ``job_id`` (from its start), without a request."""
        return self._price_sheets.get(job_id)

    @cached_property
    def _tier_lists(self) -> dict[str, list[HardwareTier] | None]:
        return {}

    @cached_property
    def _price_sheets(self) -> dict[str, PriceSheet]:
        return {}

    def stop_job(
        self, job_id: str, project_id: str | None = None, *, commit_results: bool = True
    ) -> Job | None:
        """Stop a job (``POST /v4/jobs/stop``). Stopping a job that already ended is harmless.

        :param project_id: the job's project, sent when known (published jobs do not name their project).
        :param commit_results: keep the files the job wrote as its output commit.
        """
        return self._sync.send(endpoints.stop_job(job_id, project_id, commit_results=commit_results))

    # --- tags and goals --------------------------------------------------------------------

    def add_tag(self, job_id: str, name: str, project_id: str | None = None) -> Tag:
        """Tag a job (``POST /api/jobs/v1/jobs/{jobId}/tags``); the project defaults to the connection's."""
        if not name or not name.strip():
            raise DominoConfigError("Tag name must not be empty")
        return self._sync.send(endpoints.add_tag(job_id, name, self.project_id_or_default(project_id)))

    def remove_tag(self, job_id: str, tag_id: str, project_id: str | None = None) -> None:
        """Remove a tag by id (``DELETE /api/jobs/v1/jobs/{jobId}/tags/{tagId}?projectId=``)."""
        self._sync.send(endpoints.remove_tag(job_id, tag_id, self.project_id_or_default(project_id)))

    def list_goals(self, job_id: str) -> list[GoalLink]:
        """The goals linked to a job (``GET /api/jobs/v1/goals?jobId=``)."""
        return self._sync.send(endpoints.list_goals(job_id))

    def link_goal(self, job_id: str, goal_id: str) -> GoalLink:
        """Link a goal to a job (``POST /api/jobs/v1/goals?jobId=``)."""
        return self._sync.send(endpoints.link_goal(job_id, goal_id))

    def unlink_goal(self, goal_id: str, job_id: str) -> None:
        """Unlink a goal from a job (``DELETE /api/jobs/v1/goals/{goalId}?jobId=``)."""
        self._sync.send(endpoints.unlink_goal(goal_id, job_id))

    # --- projects ----------------------------------------------------------------------------

    def resolve_project(self, project: str) -> Project:
        """Resolve ``owner/name`` to a project (``GET /v4/gateway/projects/findProjectByOwnerAndName``)."""
        try:
            owner, name = split_project_path(project)
        except ValueError as err:
            raise DominoConfigError(str(err)) from None
        try:
            found = self._sync.send(endpoints.find_project(owner, name))
        except DominoNotFoundError as err:
            raise DominoNotFoundError(
                err.method, err.path, err.status, f"project '{owner}/{name}' not found ({err.server_message})"
            ) from None
        # The lookup answers for owner/name, so those are known even if the answer leaves them out.
        found = Project(found.id, found.name or name, found.owner or owner)
        self._projects[found.id] = found
        return found

    def get_project(self, project_id: str) -> Project:
        """A project's name and owner from its id (``GET /v4/projects/{projectId}``), once per hook."""
        if project_id not in self._projects:
            self._projects[project_id] = self._sync.send(endpoints.get_project(project_id))
        return self._projects[project_id]

    @cached_property
    def _projects(self) -> dict[str, Project]:
        return {}

    def job_url(self, job_id: str, project_id: str | None = None) -> str:
        """A browser link to the job: ``{ui_url}/jobs/{owner}/{project}/{jobId}``.

        The owner and project name come from one project lookup per hook (cached). Without a project,
        or when the lookup fails, the link falls back to ``{ui_url}/jobs/{jobId}``.
        """
        base = self.settings.ui_url
        if project_id:
            try:
                project = self.get_project(project_id)
            except DominoError as err:
                log.warning("Could not look up project %s for the job link: %s", project_id, err)
            else:
                if project.owner and project.name:
                    parts = (project.owner, project.name, job_id)
                    return f"{base}/jobs/" + "/".join(endpoints.segment(part) for part in parts)
        return f"{base}/jobs/{endpoints.segment(job_id)}"

    # --- async twins for triggers ------------------------------------------------------------

    async def aget_job(self, job_id: str) -> Job:
        """Async :meth:`get_job`, on the event loop's shared keep-alive client."""
        await self.aresolve_settings()
        return await self._async.send(endpoints.get_job(job_id))

    async def alist_jobs(
        self, project_id: str, *, status_filter: str | None = None, offset: int = 0, limit: int = 50
    ) -> JobPage:
        """Async :meth:`list_jobs` (the status watcher's one request per project and round)."""
        await self.aresolve_settings()
        return await self._async.send(
            endpoints.list_jobs(project_id, status_filter=status_filter, offset=offset, limit=limit)
        )

    async def aresolve_project(self, project: str) -> Project:
        """Async :meth:`resolve_project` (the event trigger resolves ``owner/name`` on the loop)."""
        try:
            owner, name = split_project_path(project)
        except ValueError as err:
            raise DominoConfigError(str(err)) from None
        await self.aresolve_settings()
        try:
            found = await self._async.send(endpoints.find_project(owner, name))
        except DominoNotFoundError as err:
            raise DominoNotFoundError(
                err.method, err.path, err.status, f"project '{owner}/{name}' not found ({err.server_message})"
            ) from None
        return Project(found.id, found.name or name, found.owner or owner)

    async def aget_project(self, project_id: str) -> Project:
        """Async :meth:`get_project` (not cached: the caller keeps what it needs)."""
        await self.aresolve_settings()
        return await self._async.send(endpoints.get_project(project_id))

    async def astream_log(self, poll: LogPoll, emit: Callable[[str], None]) -> LogCursor:
        """Async :meth:`stream_log`; yields to the event loop between slices of each page."""
        await self.aresolve_settings()
        return await astream_log(poll, self._async.send, emit)

    async def astream_log_lines(
        self, job_id: str, cursor: LogCursor | int | None, *, final: bool, emit: Callable[[str], None]
    ) -> LogCursor:
        """Async :meth:`stream_log_lines`."""
        return await self.astream_log(LogPoll(job_id, LogCursor.from_json(cursor), final=final), emit)

    async def astop_job(
        self, job_id: str, project_id: str | None = None, *, commit_results: bool = True
    ) -> Job | None:
        """Async :meth:`stop_job`."""
        await self.aresolve_settings()
        return await self._async.send(endpoints.stop_job(job_id, project_id, commit_results=commit_results))

    # --- Airflow UI ----------------------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Called by the connection form's Test button: reach Domino and have the credentials accepted."""
        try:
            settings = self.settings
            if settings.project_id:
                self.list_jobs(settings.project_id, limit=1)
            else:
                try:
                    self._sync.send(endpoints.get_job("airflow-connection-test"))
                except DominoNotFoundError:
                    pass
                except DominoApiError as err:
                    if err.status not in (400, 404):
                        raise
        except DominoError as err:
            return False, str(err)
        return True, f"Connected to Domino at {settings.base_url} with {settings.auth.describe()}"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels and hidden fields of the connection form (also declared in the provider info)."""
        from airflow_provider_domino.get_provider_info import CONNECTION_UI_BEHAVIOUR

        return CONNECTION_UI_BEHAVIOUR
