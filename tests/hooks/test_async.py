"""The async twins (aiohttp) against the emulator: same requests, one shared keep-alive client."""

from __future__ import annotations

import asyncio

import psutil
import pytest

from airflow_provider_domino.api.errors import DominoNotFoundError
from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.transport import _SESSIONS
from tests.hooks.conftest import FAST_RETRIES


def test_async_get_logs_stop(hook, emulator):
    job = hook.start_job("python print_lines.py 2 0.01; sleep 60", "small")
    emulator.wait_for_status(job.id, ["Running"], timeout=30)

    async def scenario():
        ahook = DominoHook(hook.domino_conn_id, retry_policy=FAST_RETRIES)
        try:
            running = await ahook.aget_job(job.id)
            assert running.status is JobStatus.RUNNING
            lines: list[str] = []
            cursor = None
            for _ in range(50):
                cursor = await ahook.astream_log_lines(job.id, cursor, final=False, emit=lines.append)
                if sum(line.startswith("line ") for line in lines) >= 2:
                    break
                await asyncio.sleep(0.1)
            assert [line for line in lines if line.startswith("line ")] == ["line 1 of 2", "line 2 of 2"]
            assert any(line.startswith("[prepareOutput] ") for line in lines)
            again: list[str] = []
            await ahook.astream_log_lines(job.id, cursor, final=False, emit=again.append)
            assert again == []  # the cursor remembers every line shown
            await ahook.astop_job(job.id)
            with pytest.raises(DominoNotFoundError):
                await ahook.aget_job("job-nope")
        finally:
            await ahook.aclose()

    asyncio.run(scenario())
    assert emulator.wait_for_status(job.id, ["Stopped"], timeout=15)["status"] == "Stopped"


def test_hooks_in_one_loop_share_one_client_and_release_it(hook, emulator):
    job = hook.start_job("true", "small")

    async def scenario():
        hooks = [DominoHook(hook.domino_conn_id, retry_policy=FAST_RETRIES) for _ in range(20)]
        await asyncio.gather(*(h.aget_job(job.id) for h in hooks))
        sessions = {id(h._async._shared.session) for h in hooks}
        assert len(sessions) == 1
        session = hooks[0]._async._shared.session
        for h in hooks[:-1]:
            await h.aclose()
        assert not session.closed  # one hook still uses it
        await hooks[-1].aclose()
        assert session.closed
        assert not _SESSIONS.get(asyncio.get_running_loop())

    asyncio.run(scenario())


def test_async_retries_503(hook, emulator):
    job = hook.start_job("true", "small")
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "sequence": [{"fault": "status", "status": 503}] * 2}]}
    )
    emulator.clear_requests()

    async def scenario():
        ahook = DominoHook(hook.domino_conn_id, retry_policy=FAST_RETRIES)
        try:
            return await ahook.aget_job(job.id)
        finally:
            await ahook.aclose()

    assert asyncio.run(scenario()).id == job.id
    statuses = [e["status"] for e in emulator.requests_log() if e["endpoint"] == "get_job"]
    assert statuses == [503, 503, 200]


def test_concurrent_polls_never_open_more_connections_than_the_pool(hook, emulator):
    from airflow_provider_domino.hooks.transport import ASYNC_POOL_SIZE

    job = hook.start_job("true", "small")
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "fault": "latency", "seconds": 0.2, "probability": 1.0}]}
    )

    before = _open_connections(emulator)  # the sync hook's and the harness's own

    async def scenario() -> int:
        hooks = [
            DominoHook(hook.domino_conn_id, retry_policy=FAST_RETRIES) for _ in range(3 * ASYNC_POOL_SIZE)
        ]
        try:
            await asyncio.gather(*(h.aget_job(job.id) for h in hooks))
            return len(_open_connections(emulator) - before)
        finally:
            for h in hooks:
                await h.aclose()

    assert 1 <= asyncio.run(scenario()) <= ASYNC_POOL_SIZE


def test_waiting_for_a_pooled_connection_is_not_a_connect_timeout(hook, emulator):
    """A burst of polls queues for the pool's connections longer than the connect timeout: none fails."""
    import dataclasses

    from airflow_provider_domino.api.endpoints import get_job
    from airflow_provider_domino.hooks.retry import RetryPolicy
    from airflow_provider_domino.hooks.transport import ASYNC_POOL_SIZE, AsyncTransport

    job = hook.start_job("true", "small")
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "fault": "latency", "seconds": 0.3, "probability": 1.0}]}
    )
    emulator.clear_requests()
    settings = dataclasses.replace(hook.settings, connect_timeout=0.2)  # well below the queueing
    burst = 3 * ASYNC_POOL_SIZE  # the last third waits about two answers' latency for a connection

    async def scenario() -> list[str]:
        transports = [AsyncTransport(settings, RetryPolicy(max_attempts=1), "t") for _ in range(burst)]
        try:
            return [j.id for j in await asyncio.gather(*(t.send(get_job(job.id)) for t in transports))]
        finally:
            for t in transports:
                await t.aclose()

    assert asyncio.run(scenario()) == [job.id] * burst
    assert [e["status"] for e in emulator.requests_log() if e["endpoint"] == "get_job"] == [200] * burst


def test_requests_beyond_the_pool_wait_before_aiohttp_builds_them(hook, emulator):
    """A request queued inside aiohttp holds some thirty objects for as long as it waits; hundreds of
    them in a burst reach the collector's oldest generation. Beyond the pool, requests wait before that."""
    import gc

    import aiohttp

    from airflow_provider_domino.hooks.transport import ASYNC_POOL_SIZE

    job = hook.start_job("true", "small")
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "fault": "latency", "seconds": 0.5, "probability": 1.0}]}
    )

    async def scenario() -> tuple[int, list[str]]:
        hooks = [
            DominoHook(hook.domino_conn_id, retry_policy=FAST_RETRIES) for _ in range(3 * ASYNC_POOL_SIZE)
        ]
        try:
            polls = asyncio.gather(*(h.aget_job(job.id) for h in hooks))
            await asyncio.sleep(0.25)  # the first requests are at the server, the rest queued
            built = sum(
                type(o) is aiohttp.ClientRequest for o in gc.get_objects()
            )  # type(): no lazy proxy resolves
            return built, [j.id for j in await polls]
        finally:
            for h in hooks:
                await h.aclose()

    built, ids = asyncio.run(scenario())
    assert 1 <= built <= ASYNC_POOL_SIZE
    assert ids == [job.id] * 3 * ASYNC_POOL_SIZE


def _open_connections(emulator) -> set[tuple[str, int]]:
    """This process's established connections to the emulator (local addresses), counted by the OS,
    whichever client library the transport uses."""
    port = int(emulator.url.rsplit(":", 1)[1])
    return {
        tuple(conn.laddr)
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == "ESTABLISHED"
    }


def test_large_answers_are_parsed_off_the_event_loop(hook, emulator, monkeypatch):
    """Decoding a full log page takes milliseconds that every trigger in the loop would wait for."""
    import threading

    from airflow_provider_domino.hooks import transport

    job = hook.start_job("true", "small")
    parsed_in: list[str] = []
    real_read = transport.read_response

    def recording_read(call, response):
        parsed_in.append(threading.current_thread().name)
        return real_read(call, response)

    monkeypatch.setattr(transport, "read_response", recording_read)

    async def get_twice() -> None:
        await hook.aget_job(job.id)  # a small answer: parsed on the loop
        monkeypatch.setattr(transport, "PARSE_IN_THREAD_BYTES", 1)
        assert (await hook.aget_job(job.id)).id == job.id  # now "large": parsed in a worker thread
        await hook.aclose()

    asyncio.run(get_twice())
    main = threading.main_thread().name
    assert parsed_in[0] == main and parsed_in[1] != main
