"""``DominoHook``: authentication and every endpoint of the Domino Jobs API, sync and async."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Iterator
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
from airflow_provider_domino.api.idempotency import key_in_title, random_key, title_with_key
from airflow_provider_domino.api.log_lines import TAIL_CHUNK_BYTES, last_lines, split_lines
from airflow_provider_domino.api.models import split_project_path
from airflow_provider_domino.hooks.connection import DominoConnectionSettings
from airflow_provider_domino.hooks.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_domino.api.models import GoalLink, Job, JobPage, LogChunk, Project, Tag
    from airflow_provider_domino.hooks.transport import AsyncTransport, SyncTransport

log = logging.getLogger(__name__)

#: Log lines handed on between two yields to the event loop while a trigger streams a log.
LINES_PER_YIELD = 1000

#: How many of a project's most recent jobs are searched for an idempotency key.
IDEMPOTENCY_SCAN_LIMIT = 500


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
        self.retry_policy = retry_policy or RetryPolicy()
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
        """A connection that is not defined is fine inside Domino (env vars); elsewhere, say what to do."""
        if type(err).__name__ not in ("AirflowNotFoundException", "AirflowException"):
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
        self, project_id: str | None = None, *, status: str | None = None, offset: int = 0, limit: int = 50
    ) -> JobPage:
        """One page of a project's jobs (``GET /api/jobs/beta/jobs``), optionally filtered by status."""
        call = endpoints.list_jobs(
            self.project_id_or_default(project_id), status=status, offset=offset, limit=limit
        )
        return self._sync.send(call)

    def iter_jobs(
        self, project_id: str | None = None, *, status: str | None = None, page_size: int = 100
    ) -> Iterator[Job]:
        """Every job of a project, fetching pages lazily as the iterator is consumed."""
        offset: int | None = 0
        while offset is not None:
            page = self.list_jobs(project_id, status=status, offset=offset, limit=page_size)
            yield from page.jobs
            offset = page.next_offset

    def get_job(self, job_id: str) -> Job:
        """Details and status of one job (``GET /api/jobs/beta/jobs/{jobId}``)."""
        return self._sync.send(endpoints.get_job(job_id))

    def get_job_logs(self, job_id: str) -> str:
        """The whole job log as text."""
        return self._sync.send(endpoints.get_job_logs(job_id))

    def get_job_log_tail(self, job_id: str, offset: int = 0, max_bytes: int | None = None) -> LogChunk:
        """The log bytes from ``offset`` on, at most ``max_bytes`` (``Range``; sliced locally if ignored)."""
        return self._sync.send(endpoints.get_job_log_tail(job_id, offset, max_bytes))

    def get_job_log_tail_lines(self, job_id: str, lines: int = 20, *, max_bytes: int = 16 * 1024) -> str:
        """The last ``lines`` lines of the job log (for failure messages), reading only its end.

        Asks for the last ``max_bytes`` with a suffix ``Range``; a server that ignores it sends the
        whole log, of which only the end is kept.
        """
        call = dataclasses.replace(
            endpoints.get_job_log_tail(job_id, 0), headers={"Range": f"bytes=-{max_bytes}"}
        )
        data = self._sync.send(call).data
        if len(data) >= max_bytes:  # the window starts mid-log: its first line is probably cut
            data = data[-max_bytes:]
            data = data[data.find(b"\n") + 1 :]
        return last_lines(data.decode("utf-8", "replace"), lines)

    def stream_log_lines(self, job_id: str, offset: int, *, final: bool, emit: Callable[[str], None]) -> int:
        """Hand every whole log line past ``offset`` to ``emit``, in bounded reads; return the new offset.

        :param final: the job has ended, so an unterminated last line is emitted too.
        """
        while True:
            chunk = self.get_job_log_tail(job_id, offset, TAIL_CHUNK_BYTES)
            lines = split_lines(chunk, final=final)
            for line in lines.lines:
                emit(line)
            offset = lines.next_offset
            if not lines.more:
                return offset

    def start_job(
        self,
        command: str,
        hardware_tier_id: str,
        project_id: str | None = None,
        *,
        is_direct_hardware_tier_id: bool = False,
        environment_id: str | None = None,
        commit_id: str | None = None,
        title: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Start a job (``POST /api/jobs/v1/jobs``) exactly once.

        The idempotency key (a random one when not given) travels in the job's title. If the start
        request fails in a way that means it may have been processed (connection reset after sending,
        read timeout, 500/502/504), the project's recent jobs are searched for *this* key before the
        request is sent again (``ownership.submit_exactly_once``), so an ambiguous failure never creates
        a second job and never adopts a job started with another key (the operator uses one per try).

        :param command: the command Domino runs, e.g. ``python train.py --epochs 10``.
        :param hardware_tier_id: hardware tier ID, or its name when ``is_direct_hardware_tier_id`` is false.
        :param project_id: Domino project id; defaults to the connection's ``project_id``.
        :param commit_id: run on this commit (e.g. an upstream job's ``outputCommitId``).
        :param idempotency_key: identifies this unit of work across retries (letters, digits, ``_.-``).
        """
        if not command or not command.strip():
            raise DominoConfigError("Parameter 'command' must be a non-empty command line")
        if not hardware_tier_id or not str(hardware_tier_id).strip():
            raise DominoConfigError("Parameter 'hardware_tier_id' must name a Domino hardware tier")
        project = self.project_id_or_default(project_id)
        key = idempotency_key or random_key()
        call = endpoints.start_job(
            project_id=project,
            command=command,
            hardware_tier_id=hardware_tier_id,
            is_direct_hardware_tier_id=is_direct_hardware_tier_id,
            environment_id=environment_id,
            commit_id=commit_id,
            title=title_with_key(title, key),
        )
        from airflow_provider_domino.ownership import submit_exactly_once

        return submit_exactly_once(
            lambda: self._sync.send(call),
            lambda: self.find_job_by_keys([key], project),
            attempts=self.retry_policy.max_attempts,
            backoff=lambda attempt: self.retry_policy.backoff(attempt, None),
        )

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
        """The most recent of the project's last ``IDEMPOTENCY_SCAN_LIMIT`` jobs carrying one of ``keys``."""
        wanted = set(keys)
        for index, job in enumerate(self.iter_jobs(project_id, page_size=100)):
            if index >= IDEMPOTENCY_SCAN_LIMIT:
                break
            if key_in_title(job.title) in wanted and not (active_only and job.status.is_terminal):
                return job
        return None

    def stop_job(
        self, job_id: str, project_id: str | None = None, *, commit_results: bool = True
    ) -> Job | None:
        """Stop a job (``POST /v4/jobs/stop``). Stopping a job that already ended is harmless.

        :param project_id: the job's project; looked up from the job when not given.
        :param commit_results: keep the files the job wrote as its output commit.
        """
        project = project_id or self.get_job(job_id).project_id or self.project_id_or_default(None)
        return self._sync.send(endpoints.stop_job(project, job_id, commit_results=commit_results))

    # --- tags and goals --------------------------------------------------------------------

    def add_tag(self, job_id: str, name: str) -> Tag:
        """Tag a job (``POST /api/jobs/v1/jobs/{jobId}/tags``)."""
        if not name or not name.strip():
            raise DominoConfigError("Tag name must not be empty")
        return self._sync.send(endpoints.add_tag(job_id, name))

    def remove_tag(self, job_id: str, tag_id: str) -> None:
        """Remove a tag by id (``DELETE /api/jobs/v1/jobs/{jobId}/tags/{tagId}``)."""
        self._sync.send(endpoints.remove_tag(job_id, tag_id))

    def list_goals(self, job_id: str | None = None) -> list[GoalLink]:
        """Goals linked to jobs (``GET /api/jobs/v1/goals``), optionally only one job's."""
        return self._sync.send(endpoints.list_goals(job_id))

    def link_goal(self, job_id: str, goal_id: str) -> GoalLink:
        """Link a goal to a job (``POST /api/jobs/v1/goals``)."""
        return self._sync.send(endpoints.link_goal(job_id, goal_id))

    def unlink_goal(self, goal_id: str, job_id: str | None = None) -> None:
        """Unlink a goal (``DELETE /api/jobs/v1/goals/{goalId}``)."""
        self._sync.send(endpoints.unlink_goal(goal_id, job_id))

    # --- projects ----------------------------------------------------------------------------

    def resolve_project(self, project: str) -> Project:
        """Resolve ``owner/name`` to a project (``GET /v4/gateway/projects/findProjectByOwnerAndName``)."""
        try:
            owner, name = split_project_path(project)
        except ValueError as err:
            raise DominoConfigError(str(err)) from None
        try:
            return self._sync.send(endpoints.find_project(owner, name))
        except DominoNotFoundError as err:
            raise DominoNotFoundError(
                err.method, err.path, err.status, f"project '{owner}/{name}' not found ({err.server_message})"
            ) from None

    def job_url(self, job_id: str) -> str:
        """A browser link to the job in Domino."""
        return f"{self.settings.ui_url}/jobs/{endpoints.segment(job_id)}"

    # --- async twins for triggers ------------------------------------------------------------

    async def aget_job(self, job_id: str) -> Job:
        """Async :meth:`get_job`, on the event loop's shared keep-alive client."""
        await self.aresolve_settings()
        return await self._async.send(endpoints.get_job(job_id))

    async def aget_job_log_tail(self, job_id: str, offset: int = 0, max_bytes: int | None = None) -> LogChunk:
        """Async :meth:`get_job_log_tail`."""
        await self.aresolve_settings()
        return await self._async.send(endpoints.get_job_log_tail(job_id, offset, max_bytes))

    async def astream_log_lines(
        self, job_id: str, offset: int, *, final: bool, emit: Callable[[str], None]
    ) -> int:
        """Async :meth:`stream_log_lines`; yields to the event loop every ``LINES_PER_YIELD`` lines.

        Logging a line costs tens of microseconds; a 1 MiB window holds ~10,000 of them, which would
        hold every other trigger in the triggerer up for a quarter of a second.
        """
        while True:
            chunk = await self.aget_job_log_tail(job_id, offset, TAIL_CHUNK_BYTES)
            lines = split_lines(chunk, final=final)
            for index, line in enumerate(lines.lines, start=1):
                emit(line)
                if index % LINES_PER_YIELD == 0:
                    await asyncio.sleep(0)
            offset = lines.next_offset
            if not lines.more:
                return offset

    async def astop_job(
        self, job_id: str, project_id: str | None = None, *, commit_results: bool = True
    ) -> Job | None:
        """Async :meth:`stop_job`."""
        await self.aresolve_settings()
        project = project_id or (await self.aget_job(job_id)).project_id or self.project_id_or_default(None)
        return await self._async.send(endpoints.stop_job(project, job_id, commit_results=commit_results))

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
