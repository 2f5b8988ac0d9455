"""Client details of issue 10: no shared cookies, a log tail that reads only the tail, per-try key search."""

from __future__ import annotations

import asyncio

from aiohttp import web

from airflow_provider_domino.api import endpoints
from airflow_provider_domino.hooks.connection import DominoAuth, DominoConnectionSettings
from airflow_provider_domino.hooks.retry import RetryPolicy
from airflow_provider_domino.hooks.transport import AsyncTransport
from airflow_provider_domino.jobs.idempotency import key_in_title


def test_the_shared_async_client_never_replays_a_cookie():
    """A Set-Cookie answered to one connection's request must not ride along with the next request."""
    seen: list[str | None] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"job": {"id": request.match_info["job_id"]}})
        response.set_cookie("session", "alice", path="/")
        return response

    async def two_requests() -> None:
        app = web.Application()
        app.router.add_get("/api/jobs/beta/jobs/{job_id}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        auth = DominoAuth("api_key", "c", secret="k-123456")
        settings = DominoConnectionSettings("c", f"http://127.0.0.1:{port}", auth)
        transport = AsyncTransport(settings, RetryPolicy(max_attempts=1), "test")
        try:
            assert (await transport.send(endpoints.get_job("a"))).id == "a"
            assert (await transport.send(endpoints.get_job("b"))).id == "b"
        finally:
            await transport.aclose()
            await runner.cleanup()

    asyncio.run(two_requests())
    assert seen == [None, None]


def test_recent_log_lines_read_only_the_end_of_a_text_log(flat_hook, flat_emulator):
    """A text log: one request with a suffix Range; only the window's whole lines are kept."""
    job = flat_hook.start_job("python print_lines.py 30 0", "small")
    flat_emulator.wait_for_status(job.id, "Succeeded", timeout=30)
    flat_emulator.clear_requests()
    tail = flat_hook.recent_log_lines(job.id, 3)
    assert tail.splitlines() == ["line 28 of 30", "line 29 of 30", "line 30 of 30"]
    tail = flat_hook.recent_log_lines(job.id, 5, max_bytes=40)  # a window that starts mid-line
    assert tail.splitlines()[-1] == "line 30 of 30" and all(x.startswith("line ") for x in tail.splitlines())
    logged = [entry for entry in flat_emulator.requests_log() if entry["endpoint"] == "get_job_logs"]
    assert len(logged) == 2


def test_recent_log_lines_of_a_json_log(hook, emulator):
    job = hook.start_job("python print_lines.py 30 0", "small")
    emulator.wait_for_status(job.id, "Succeeded", timeout=30)
    assert hook.recent_log_lines(job.id, 3).splitlines() == [
        "line 28 of 30",
        "line 29 of 30",
        "line 30 of 30",
    ]


def test_find_job_by_keys_returns_the_newest_job_carrying_any_key(hook, emulator):
    first = hook.start_job("true", "small", idempotency_key="keys-try-1")
    second = hook.start_job("true", "small", idempotency_key="keys-try-2")
    assert hook.find_job_by_keys(["keys-try-1", "keys-try-2"]).id == second.id
    assert hook.find_job_by_keys(["keys-try-1"]).id == first.id
    assert hook.find_job_by_keys(["keys-try-3"]) is None
    assert key_in_title(hook.get_job(first.id).title) == "keys-try-1"
