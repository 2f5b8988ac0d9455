"""The aiohttp backend of the async transport: same answers, same typed errors as httpx."""

from __future__ import annotations

import asyncio
import socket

import pytest

from airflow_provider_domino.api.errors import DominoConnectionError, DominoNotFoundError
from airflow_provider_domino.hooks import transport
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy

pytest.importorskip("aiohttp")


@pytest.fixture
def aiohttp_clients(monkeypatch: pytest.MonkeyPatch) -> transport._SharedAsyncClients:
    clients = transport._SharedAsyncClients(4, backend=transport.AiohttpBackend())
    monkeypatch.setattr(transport.AsyncTransport, "clients", clients)
    return clients


def test_aiohttp_backend_reads_jobs_and_raises_typed_errors(domino_conn, project_id, aiohttp_clients):
    job_id = DominoHook(domino_conn).start_job("true", "small", project_id).id

    async def main() -> None:
        hook = DominoHook(domino_conn)
        try:
            job = await hook.aget_job(job_id)
            assert job.id == job_id
            page = await hook.alist_jobs(project_id, status_filter="all", limit=5)
            assert page.jobs
            with pytest.raises(DominoNotFoundError) as caught:
                await hook.aget_job("no/such job")  # an encoded segment stays one segment
            assert caught.value.status == 404
            shared = hook._async._acquire()
            import aiohttp

            assert shared.backend.name == "aiohttp"
            assert isinstance(shared.client.cookie_jar, aiohttp.DummyCookieJar)
        finally:
            await hook.aclose()

    asyncio.run(main())


def test_aiohttp_backend_refused_connection_is_a_connection_error(monkeypatch, aiohttp_clients):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_REFUSED",
        f'{{"conn_type": "domino", "host": "http://127.0.0.1:{port}", "password": "k"}}',
    )

    async def main() -> None:
        hook = DominoHook(
            "refused", retry_policy=RetryPolicy(max_attempts=2, backoff_initial=0, backoff_max=0)
        )
        try:
            with pytest.raises(DominoConnectionError) as caught:
                await hook.aget_job("j1")
            assert caught.value.attempts == 2
        finally:
            await hook.aclose()

    asyncio.run(main())
