"""Retries against the emulator's fault injection: waited out, bounded, never on client errors."""

from __future__ import annotations

import time

import pytest

from airflow_provider_domino.api.errors import DominoConnectionError, DominoNotFoundError, DominoServerError
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy, parse_retry_after


def _calls(emulator, endpoint):
    return [entry for entry in emulator.requests_log() if entry["endpoint"] == endpoint]


def test_429_retry_after_is_waited_out(hook, emulator, project_id):
    job = hook.start_job("true", "small")
    emulator.set_faults(
        {
            "rules": [
                {"endpoint": "get_job", "sequence": [{"fault": "status", "status": 429, "retry_after": "1"}]}
            ]
        }
    )
    emulator.clear_requests()
    began = time.monotonic()
    assert hook.get_job(job.id).id == job.id
    elapsed = time.monotonic() - began
    assert 1.0 <= elapsed < 3.0
    assert [entry["status"] for entry in _calls(emulator, "get_job")] == [429, 200]


def test_503_burst_recovers(hook, emulator):
    job = hook.start_job("true", "small")
    burst = [{"fault": "status", "status": 503}] * 3
    emulator.set_faults({"rules": [{"endpoint": "get_job", "sequence": burst}]})
    emulator.clear_requests()
    assert hook.get_job(job.id).id == job.id
    assert [entry["status"] for entry in _calls(emulator, "get_job")] == [503, 503, 503, 200]


def test_persistent_5xx_is_bounded(emulator, domino_conn):
    hook = DominoHook(
        domino_conn, retry_policy=RetryPolicy(max_attempts=3, backoff_initial=0.05, backoff_max=0.1)
    )
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "fault": "status", "status": 502, "probability": 1.0}]}
    )
    emulator.clear_requests()
    with pytest.raises(DominoServerError, match="HTTP 502 after 3 attempts"):
        hook.get_job("job-whatever")
    assert len(_calls(emulator, "get_job")) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_never_retried(hook, emulator, status):
    emulator.set_faults(
        {"rules": [{"endpoint": "get_job", "fault": "status", "status": status, "probability": 1.0}]}
    )
    emulator.clear_requests()
    with pytest.raises(Exception) as info:
        hook.get_job("job-x")
    assert getattr(info.value, "status", None) == status
    assert len(_calls(emulator, "get_job")) == 1


def test_404_names_the_job(hook, emulator):
    emulator.clear_requests()
    with pytest.raises(DominoNotFoundError, match="job-does-not-exist"):
        hook.get_job("job-does-not-exist")
    assert len(_calls(emulator, "get_job")) == 1


def test_unreachable_host_gives_one_clear_error(monkeypatch):
    import json
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_DEFAULT",
        json.dumps({"conn_type": "domino", "host": f"http://127.0.0.1:{port}", "password": "k-123456"}),
    )
    hook = DominoHook(retry_policy=RetryPolicy(max_attempts=3, backoff_initial=0.05, backoff_max=0.1))
    with pytest.raises(
        DominoConnectionError,
        match=r"after 3 attempts: could not reach Domino \(\[Errno 111\] Connection refused\)",
    ):
        hook.get_job("job-1")


def test_html_login_page_is_a_clear_error():
    """No real Domino answers the emulator this way, so the parser is fed the page directly."""
    from airflow_provider_domino.api import endpoints
    from airflow_provider_domino.api.errors import DominoUnexpectedResponseError

    call = endpoints.get_job("job-1")
    page = endpoints.RawResponse(
        200, {"content-type": "text/html"}, b"<html><body>Sign in to Domino</body></html>"
    )
    with pytest.raises(DominoUnexpectedResponseError, match="expected JSON but got text/html"):
        call.read(page)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1.0), ("2.5", 2.5), ("-3", None), ("soon", None), ("", None), (None, None), ("nan", None)],
)
def test_parse_retry_after_seconds_and_invalid(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_retry_after_is_capped():
    assert RetryPolicy(retry_after_cap=5).backoff(1, 3600) == 5


def test_retry_wait_gives_up_after_the_attempts_or_the_time_budget():
    from airflow_provider_domino.hooks.retry import RetryableFailure

    policy = RetryPolicy(max_attempts=3, max_elapsed=10, backoff_initial=1, backoff_max=4)
    failure = RetryableFailure(DominoServerError("GET", "/x", 503, "busy"))
    now = time.monotonic()
    assert 0.5 <= policy.retry_wait(1, now, failure) <= 1.0
    assert 1.0 <= policy.retry_wait(2, now, failure) <= 2.0
    assert policy.retry_wait(3, now, failure) is None  # the third attempt was the last
    assert policy.retry_wait(1, now - 10, failure) is None  # the time budget is spent
    told = RetryableFailure(DominoServerError("GET", "/x", 429, "slow down"), retry_after=99)
    assert policy.retry_wait(1, now, told) == policy.retry_after_cap


def test_async_requests_leave_no_garbage_in_reference_cycles(hook, emulator):
    """Garbage in cycles waits for the collector, and in a triggerer serving hundreds of requests a second
    it is what sets off the full collections that hold the event loop. A request must free all it made."""
    import asyncio
    import gc

    job = hook.start_job("true", "small")

    async def poll(times: int) -> None:
        for _ in range(times):
            await hook.aget_job(job.id)
        await hook.aclose()

    asyncio.run(poll(5))  # warm-up: imports, the shared client
    gc.collect()
    gc.disable()
    try:
        asyncio.run(poll(200))
        cyclic = gc.collect()
    finally:
        gc.enable()
    assert cyclic < 200, f"{cyclic} objects in reference cycles after 200 requests"
