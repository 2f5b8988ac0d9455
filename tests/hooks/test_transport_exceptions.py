"""Which failures may have reached Domino, decided from exception types (both transports).

A request that never left (refused, unresolvable host, connect timeout) is resent even when it must not
be repeated; one that may have been processed (read timeout, reset after sending) is resent only when it
is retry-safe, and otherwise raised as ambiguous so the hook can look for its result first.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from airflow_provider_domino.api import endpoints
from airflow_provider_domino.api.errors import DominoAmbiguousRequestError, DominoConnectionError
from airflow_provider_domino.hooks.connection import DominoAuth, DominoConnectionSettings
from airflow_provider_domino.hooks.retry import RetryPolicy
from airflow_provider_domino.hooks.transport import AsyncTransport, SyncTransport, _maybe_sent

TWO_QUICK_ATTEMPTS = RetryPolicy(max_attempts=2, backoff_initial=0, backoff_max=0)
START = endpoints.start_job(project_id="p1", command="true")  # not retry-safe
GET = endpoints.get_job("j1")  # retry-safe


def _wrapped(reason: BaseException) -> requests.exceptions.ConnectionError:
    """What requests raises: urllib3's reason inside a ``MaxRetryError`` inside its ``ConnectionError``."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api", reason))  # type: ignore[arg-type]


def _chained() -> requests.exceptions.ConnectionError:
    try:
        raise NewConnectionError(None, "no route")  # type: ignore[arg-type]
    except NewConnectionError as cause:
        try:
            raise requests.exceptions.ConnectionError("wrapped") from cause
        except requests.exceptions.ConnectionError as err:
            return err


def _reset_while_handling_a_refusal() -> requests.exceptions.ConnectionError:
    """A reset after sending, raised while the caller handled an earlier refused connection."""
    reset = ConnectionResetError(104, "Connection reset by peer")
    reset.__context__ = _wrapped(NewConnectionError(None, "refused earlier"))  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api", ProtocolError("aborted", reset)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "maybe_sent"),
    [
        (_wrapped(NewConnectionError(None, "refused")), False),  # type: ignore[arg-type]
        (_wrapped(NameResolutionError("domino.invalid", None, OSError("no such host"))), False),  # type: ignore[arg-type]
        (_wrapped(ConnectTimeoutError("connect timed out")), False),
        (_chained(), False),
        (requests.exceptions.ConnectionError(ProtocolError("aborted", RemoteDisconnected("closed"))), True),
        # The message names a refused connection, but the type says the connection was made.
        (requests.exceptions.ConnectionError(ProtocolError("NewConnectionError Connection refused")), True),
        (requests.exceptions.ConnectionError("Failed to resolve 'domino'"), True),
        (_reset_while_handling_a_refusal(), True),
    ],
    ids=[
        "refused",
        "dns",
        "connect-timeout",
        "chained",
        "reset",
        "misleading-text",
        "bare-text",
        "old-context",
    ],
)
def test_maybe_sent_follows_the_wrapped_urllib3_type(error: BaseException, maybe_sent: bool) -> None:
    assert _maybe_sent(error) is maybe_sent


@pytest.fixture
def refused_url() -> str:
    """A loopback port nobody listens on: the connection is refused, nothing is sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) but never answers: a read timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _settings(url: str) -> DominoConnectionSettings:
    return DominoConnectionSettings("t", url, DominoAuth("api_key", "t", secret="k-123456"), timeout=0.3)


def test_sync_refused_start_is_sent_again(refused_url: str) -> None:
    transport = SyncTransport(_settings(refused_url), TWO_QUICK_ATTEMPTS, "test")
    with pytest.raises(DominoConnectionError) as caught:
        transport.send(START)
    assert type(caught.value) is DominoConnectionError and caught.value.attempts == 2


def test_sync_read_timeout_of_a_start_is_ambiguous(silent_url: str) -> None:
    transport = SyncTransport(_settings(silent_url), TWO_QUICK_ATTEMPTS, "test")
    with pytest.raises(DominoAmbiguousRequestError, match=r"no answer within 0.3 s"):
        transport.send(START)
    with pytest.raises(DominoConnectionError) as caught:
        transport.send(GET)
    assert type(caught.value) is DominoConnectionError and caught.value.attempts == 2


async def _send_async(url: str, call: endpoints.ApiCall[object]) -> object:
    transport = AsyncTransport(_settings(url), TWO_QUICK_ATTEMPTS, "test")
    try:
        return await transport.send(call)
    finally:
        await transport.aclose()


def test_async_refused_start_is_sent_again(refused_url: str) -> None:
    for call in (START, GET):
        with pytest.raises(DominoConnectionError) as caught:
            asyncio.run(_send_async(refused_url, call))
        assert type(caught.value) is DominoConnectionError and caught.value.attempts == 2


def test_async_read_timeout_of_a_start_is_ambiguous(silent_url: str) -> None:
    with pytest.raises(DominoAmbiguousRequestError, match=r"no answer within 0.3 s"):
        asyncio.run(_send_async(silent_url, START))
    with pytest.raises(DominoConnectionError) as caught:
        asyncio.run(_send_async(silent_url, GET))
    assert type(caught.value) is DominoConnectionError and caught.value.attempts == 2


def test_refused_connection_through_the_hook(monkeypatch: pytest.MonkeyPatch, refused_url: str) -> None:
    from airflow_provider_domino.hooks.domino import DominoHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_REFUSED", f'{{"conn_type": "domino", "host": "{refused_url}", "password": "k-123456"}}'
    )

    async def main() -> None:
        hook = DominoHook("refused", retry_policy=TWO_QUICK_ATTEMPTS)
        try:
            with pytest.raises(DominoConnectionError, match="Connection refused") as caught:
                await hook.aget_job("j1")
            assert caught.value.attempts == 2
        finally:
            await hook.aclose()

    asyncio.run(main())


def test_a_tls_failure_is_worded_from_the_ssl_error_not_its_errno():
    """aiohttp's certificate error is an OSError with errno 1 ("Operation not permitted"): the message
    must say what failed, the certificate check, on both transports' exception chains."""
    import ssl

    import aiohttp
    import requests
    import urllib3
    from aiohttp.client_reqrep import ConnectionKey

    from airflow_provider_domino.hooks.transport import _reason

    verify_failed = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)"
    )
    key = ConnectionKey("domino.example.com", 443, True, True, None, None, None)
    async_error = aiohttp.ClientConnectorCertificateError(key, verify_failed)
    sync_error = requests.exceptions.SSLError(
        urllib3.exceptions.MaxRetryError(None, "/x", reason=urllib3.exceptions.SSLError(verify_failed))
    )
    for error in (async_error, sync_error):
        reason = _reason(error)
        assert "certificate verify failed: self-signed certificate" in reason, reason
        assert "Operation not permitted" not in reason
