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

Prototypes of further changes:

* :class:`YieldingLogTrigger`: the provider's windowed log tail, giving the event loop back every 1,000
  logged lines.
* :func:`stream_log_tail` and :class:`StreamedLogTrigger`: split and log lines while the response streams
  in, giving the event loop back between network chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import types
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.transport import AsyncTransport, _SharedAsyncClients, new_async_client
from airflow_provider_domino.triggers.domino import DominoJobTrigger

if TYPE_CHECKING:
    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse


# ------------------------------------------------------------------- baseline (a): client per poll


class PerPollClientTransport(AsyncTransport):
    """Opens (and closes) a fresh ``httpx.AsyncClient`` for every request: a TCP connect per poll."""

    async def _send_once(self, call: ApiCall[Any]) -> RawResponse:
        async with new_async_client(self._settings, self._user_agent, None) as client:
            # The provider's transport sends on ``self._shared``: hand it this poll's own client.
            self._shared = types.SimpleNamespace(client=client, in_flight=contextlib.nullcontext())  # type: ignore[assignment]
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


def configure_pool(pool_size: int, gated: bool) -> None:
    """Set the pool every ``PoolTrigger`` in this process uses."""
    PoolTransport.clients = _SharedAsyncClients(pool_size, gated=gated)


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
        from airflow_provider_domino.api.polling import next_poll_delay

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


# ----------------------------------------------------------- prototype: streamed log tail


async def stream_log_tail(hook: DominoHook, job_id: str, offset: int, *, final: bool, on_line: Any) -> int:
    """Read the log from ``offset`` on as it streams in, handing whole lines to ``on_line``.

    Memory stays bounded by the network chunk size plus one partial line, however large the tail is, and
    the event loop runs other tasks between chunks. Returns the new offset (past the last whole line;
    past everything when ``final``). A prototype: no retries (a real version would retry until the first
    byte arrives, as the transport does now, and save the offset as it goes).
    """
    from airflow_provider_domino.api import endpoints
    from airflow_provider_domino.api.log_lines import MAX_LINE_BYTES

    await hook.aresolve_settings()
    client = hook._async._acquire().client
    call = endpoints.get_job_log_tail(job_id, offset)
    headers = {**call.headers, **hook.settings.auth.headers()}
    async with client.stream("GET", call.path, headers=headers) as response:
        if response.status_code == 416:
            return offset
        response.raise_for_status()
        skip = offset if response.status_code == 200 else 0  # a server ignoring Range sends everything
        pending = b""
        async for piece in response.aiter_raw():
            if skip:
                dropped = min(skip, len(piece))
                piece = piece[dropped:]
                skip -= dropped
                if not piece:
                    continue
            data = pending + piece if pending else piece
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) >= MAX_LINE_BYTES:
                cut = len(data)
            if cut:
                lines = data[:cut].decode("utf-8", "replace").split("\n")
                for line in lines[:-1] if data[cut - 1] == 10 else lines:
                    on_line(line.rstrip("\r"))
                offset += cut
            pending = data[cut:]
        if final and pending:
            on_line(pending.decode("utf-8", "replace").rstrip("\r"))
            offset += len(pending)
    return offset


class StreamedLogTrigger(DominoJobTrigger):
    """Prototype: the provider's trigger with :func:`stream_log_tail` in place of its windowed reads.

    Lines are logged while the response streams in, so memory stays bounded and the event loop gets
    control back between network chunks instead of after each 1 MiB window has been logged.
    """

    async def _stream_logs(self, hook: Any, *, final: bool) -> None:
        from airflow_provider_domino.api.log_lines import _shorten

        def emit(line: str) -> None:
            self.log.info("[%s] %s", self.job_id, _shorten(line))

        self.log_offset = await stream_log_tail(hook, self.job_id, self.log_offset, final=final, on_line=emit)


class YieldingLogTrigger(DominoJobTrigger):
    """Prototype: the provider's 1 MiB-window tail (as ``DominoHook.astream_log_lines``), but the event
    loop gets control back every ``yield_every`` logged lines instead of once per window.
    """

    yield_every = 1000

    async def _stream_logs(self, hook: Any, *, final: bool) -> None:
        from airflow_provider_domino.api.log_lines import TAIL_CHUNK_BYTES, split_lines

        offset = self.log_offset
        while True:
            chunk = await hook.aget_job_log_tail(self.job_id, offset, TAIL_CHUNK_BYTES)
            lines = split_lines(chunk, final=final)
            for index, line in enumerate(lines.lines, 1):
                self.log.info("[%s] %s", self.job_id, line)
                if index % self.yield_every == 0:
                    await asyncio.sleep(0)
            offset = self.log_offset = lines.next_offset
            if not lines.more:
                return
