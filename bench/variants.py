"""Bench-local variants of the provider's trigger: baselines, earlier behaviours, and prototypes.

Nothing here is imported by the provider. Each variant changes one thing and keeps the rest (the
endpoint descriptions, the retry policy, the response parsing, the trigger's loop) identical, so a
difference in the figures is the difference that one thing makes.

Baselines:

* :class:`PerPollClientTrigger`: (a), a new ``httpx.AsyncClient`` for every poll, which is what most
  providers' triggers do.
* :func:`blocking_poll`: (b), python-domino's ``runs_wait`` style: a thread per job, a blocking
  ``requests`` call and ``time.sleep`` between polls.
* :class:`PoolTrigger`: the shared client with another pool: ``pool64`` (64 connections, no semaphore:
  the provider before its "16-connection pool with a semaphore" change) or ``gatedN``.
* :class:`FixedIntervalTrigger`: a fixed ``poll_interval`` between checks (the provider before adaptive
  polling; with 5 s, python-domino's ``job_start_blocking`` default).

Peers:

* :func:`python_domino_wait`: python-domino's own ``job_start_blocking`` (``dominodatalab``), one thread
  per job, for a job the orchestrator started.

The text/Range-era prototypes (``YieldingLogTrigger``, ``StreamedLogTrigger``) are gone: the
provider now reads Domino's paged JSON log in slices (``log_cursor.astream_log``).
"""

from __future__ import annotations

import contextlib
import time
import types
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.transport import (
    AiohttpBackend,
    AsyncTransport,
    HttpxBackend,
    _SharedAsyncClients,
    new_async_client,
)
from airflow_provider_domino.triggers.domino import DominoJobTrigger

if TYPE_CHECKING:
    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse


# ------------------------------------------------------------------- baseline (a): client per poll


class PerPollClientTransport(AsyncTransport):
    """Opens (and closes) a fresh ``httpx.AsyncClient`` for every request: a TCP connect per poll."""

    async def _send_once(self, call: ApiCall[Any]) -> RawResponse:
        async with new_async_client(self._settings, self._user_agent, None) as client:
            # The provider's transport sends on ``self._shared``: hand it this poll's own client.
            self._shared = types.SimpleNamespace(  # type: ignore[assignment]
                client=client, in_flight=contextlib.nullcontext(), backend=HttpxBackend(), is_closed=False
            )
            try:
                return await super()._send_once(call)
            finally:
                self._shared = None

    async def aclose(self) -> None:
        self._shared = None


class _PerPollClientHook(DominoHook):
    @cached_property
    def _async(self) -> AsyncTransport:
        return PerPollClientTransport(self.settings, self.retry_policy, self.user_agent)


class PerPollClientTrigger(DominoJobTrigger):
    """Baseline (a): the provider's trigger, but with a new HTTP client (and connection) per poll."""

    def _hook(self) -> Any:
        return _PerPollClientHook(self.domino_conn_id, caller="PerPollClientTrigger")


# ------------------------------------------------------------- other pool sizes, gated or not


class PoolTransport(AsyncTransport):
    """The provider's transport on its own shared-client registry, any pool size, gated or not."""

    clients = _SharedAsyncClients(64, gated=False)


class _PoolHook(DominoHook):
    @cached_property
    def _async(self) -> AsyncTransport:
        return PoolTransport(self.settings, self.retry_policy, self.user_agent)


class PoolTrigger(DominoJobTrigger):
    """The provider's trigger on a shared pool configured by ``configure_pool``."""

    def _hook(self) -> Any:
        return _PoolHook(self.domino_conn_id, caller="PoolTrigger")


def configure_pool(pool_size: int, gated: bool, library: str = "httpx") -> None:
    """Set the pool (and the HTTP library) every ``PoolTrigger`` in this process uses."""
    backend = AiohttpBackend() if library == "aiohttp" else HttpxBackend()
    PoolTransport.clients = _SharedAsyncClients(pool_size, gated=gated, backend=backend)


# --------------------------------------------------------------------------- polling schedules


class CompressedClockTrigger(DominoJobTrigger):
    """The provider's own schedule (``next_poll_delay``), evaluated on a clock running ``clock_scale`` x fast.

    With ``poll_interval=30`` and ``clock_scale=20`` it sleeps what the provider would sleep at the same
    point of a 20x longer watch, divided by 20; request counts are then those of the long watch.
    """

    def __init__(self, *args: Any, clock_scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock_scale = clock_scale

    def _next_sleep(self) -> float:
        from airflow_provider_domino.jobs.polling import next_poll_delay

        watched = (time.time() - (self.watch_started_at or time.time())) * self.clock_scale
        return next_poll_delay(self.poll_interval, watched) / self.clock_scale


class FixedIntervalTrigger(CompressedClockTrigger):
    """A fixed ``poll_interval`` between checks (optionally on a compressed clock)."""

    def _next_sleep(self) -> float:
        return self.poll_interval / self.clock_scale


# --------------------------------------------------------------- baseline (b): thread per job


def blocking_poll(job_id: str, poll_interval: float, events: dict[str, tuple[float, str]]) -> None:
    """python-domino's ``runs_wait`` style: block a thread, poll with ``requests``, ``time.sleep`` between.

    Uses the provider's sync hook (a ``requests.Session`` per hook, as python-domino keeps one per
    client object), so the requests and the parsing are the same as the trigger's.
    """
    hook = DominoHook(caller="blocking-poll")
    try:
        while True:
            job = hook.get_job(job_id)
            if job.status.is_terminal:
                events[job_id] = (time.time(), job.raw_status)
                return
            time.sleep(poll_interval)
    finally:
        hook.close()


# ------------------------------------------------------------------ peer: python-domino's blocking wait

#: The Domino version the adopted client reports: the published API the emulator serves (6.2.0).
PUBLISHED_API_VERSION = "6.2.0"


@cache
def _python_domino_client() -> type:
    """python-domino's ``Domino``, patched where the emulator does not serve what it calls.

    Only two calls are replaced, both outside the wait being measured: ``GET /version`` (the constructor's
    version check) and ``GET /v1/projects/{owner}/{name}/run/{id}/stdout`` (the log printed after the
    wait); neither route is in the published specs the emulator follows. ``job_start`` adopts a job the
    orchestrator already started, so every thread starts waiting at the same moment, as the triggers do.
    The wait itself (``polling2`` over ``GET /v4/jobs/{id}``, ``requests`` with urllib3 retries) is the
    library's own.
    """
    from domino import Domino

    class AdoptingDomino(Domino):  # type: ignore[misc]
        def deployment_version(self) -> dict[str, str]:
            return {"version": PUBLISHED_API_VERSION}

        def job_start(self, job_id: str, **_: Any) -> dict[str, str]:
            return {"id": job_id}

        def get_run_log(self, *args: Any, **kwargs: Any) -> str:
            return ""

    return AdoptingDomino


def python_domino_wait(
    job_id: str,
    poll_interval: float,
    events: dict[str, tuple[float, str]],
    *,
    host: str,
    api_key: str,
    project: str,
    timeout: float = 600,
) -> None:
    """Wait for one job with python-domino's ``job_start_blocking`` (``poll_freq=poll_interval``), as a task
    using python-domino does: its own ``Domino`` client (a ``requests.Session``) per waiting task."""
    client = _python_domino_client()(project, api_key=api_key, host=host)
    try:
        status = client.job_start_blocking(poll_freq=poll_interval, max_poll_time=int(timeout), job_id=job_id)
        events[job_id] = (time.time(), str(status["statuses"]["executionStatus"]))
    finally:
        client.request_manager.request_session.close()
