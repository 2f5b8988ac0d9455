"""The two transports: requests (sync, workers) and an async client (triggerer). They only send.

Both take an :class:`~airflow_provider_domino.api.endpoints.ApiCall`, add authentication and the
User-Agent, send it with timeouts, and hand the answer to the shared classification in
:mod:`~airflow_provider_domino.hooks.retry`. Which exceptions of each client mean "never sent" and which
mean "may have been processed" is the only client-specific knowledge here.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import logging
import re
import time
import weakref
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_domino.api.errors import DominoConnectionError
from airflow_provider_domino.hooks.retry import RetryableFailure, RetryPolicy, network_failure, read_response

if TYPE_CHECKING:
    import httpx

    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse
    from airflow_provider_domino.hooks.connection import DominoConnectionSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class SyncTransport:
    """Sends calls with one ``requests.Session`` (connection keep-alive) and the shared retry policy."""

    def __init__(self, settings: DominoConnectionSettings, policy: RetryPolicy, user_agent: str) -> None:
        import requests

        self._settings = settings
        self._policy = policy
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._session.verify = settings.verify

    def send(self, call: ApiCall[T]) -> T:
        """Send ``call`` with retries; return its parsed result or raise a typed error."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return read_response(call, self._send_once(call))
            except RetryableFailure as failure:
                wait = self._policy.retry_wait(attempt, started, failure)
                if wait is None:
                    raise failure.final_error(attempt) from None
            time.sleep(wait)

    def _send_once(self, call: ApiCall[Any]) -> RawResponse:
        import requests

        from airflow_provider_domino.api.endpoints import RawResponse

        url = self._settings.base_url + call.path
        headers = {**call.headers, **self._settings.auth.headers()}
        try:
            response = self._session.request(
                call.method,
                url,
                params=call.params,
                json=call.json_body,
                headers=headers,
                timeout=(self._settings.connect_timeout, self._settings.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as err:
            raise DominoConnectionError(call.method, call.path, f"TLS error: {_reason(err)}") from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.InvalidURL) as err:
            raise network_failure(call, _reason(err), maybe_sent=False) from None
        except requests.exceptions.ReadTimeout:
            reason = f"no answer within {self._settings.timeout:g} s"
            raise network_failure(call, reason, maybe_sent=True) from None
        except requests.exceptions.ConnectionError as err:
            raise network_failure(call, _reason(err), maybe_sent=_maybe_sent(err)) from None
        except requests.exceptions.ChunkedEncodingError as err:
            raise network_failure(call, _reason(err), maybe_sent=True) from None
        headers_lower = {name.lower(): value for name, value in response.headers.items()}
        return RawResponse(response.status_code, headers_lower, response.content)

    def close(self) -> None:
        self._session.close()


def _maybe_sent(err: Exception) -> bool:
    """Refused, unresolvable or unreachable hosts never saw the request; anything else might have."""
    text = repr(err)
    never_sent = ("NewConnectionError", "NameResolutionError", "Connection refused", "Failed to resolve")
    return not any(marker in text for marker in never_sent)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_WRAPPER_NOISE = re.compile(r"^[(\['\"\s]+|[)\]'\"\s]+$")


def _reason(err: Exception) -> str:
    """A short reason from a client exception: the OS error when there is one, without URLs' noise."""
    text = str(err)
    match = _ERRNO.search(text)
    if match:
        return match.group(0).strip()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the server closed the connection without answering"
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = _WRAPPER_NOISE.sub("", " ".join(text.split()))
    return text[:300] or type(err).__name__


#: Connections in the shared pool, and requests in flight at once per event loop. Small on purpose:
#: httpcore scans its whole pool and queue on every request and response, so a large pool (or a long
#: queue in front of it) makes each poll cost more CPU; a semaphore keeps the queue in asyncio instead.
#: Sixteen requests in flight carry hundreds of polls a second at the latencies Domino answers with.
ASYNC_POOL_SIZE = 16


def new_async_client(
    settings: DominoConnectionSettings, user_agent: str, pool_size: int | None = ASYNC_POOL_SIZE
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for one Domino endpoint: timeouts, TLS, User-Agent, a pool of ``pool_size``.

    ``pool_size=None`` keeps httpx's default limits.
    """
    import httpx

    limits = httpx.Limits()
    if pool_size is not None:
        limits = httpx.Limits(
            max_connections=pool_size, max_keepalive_connections=pool_size, keepalive_expiry=30
        )
    return httpx.AsyncClient(
        base_url=settings.base_url,
        cookies=_no_cookies(),
        verify=settings.verify,
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        limits=limits,
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )


def _no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps nothing.

    The client is shared by every trigger in the triggerer that talks to one Domino URL, whatever its
    connection: a ``Set-Cookie`` answered to one connection's request must never ride along with another
    connection's requests. Domino's API authenticates every request by its own header and needs no cookie.
    """
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class AsyncClientBackend:
    """One async HTTP client library: how to open a pooled client, send on it, and close it.

    Everything else (the shared pool per loop, the semaphore, retries, classification of answers) is
    the same for every library, so the library can be chosen by measurement alone.
    """

    name = "abstract"

    def open(self, settings: DominoConnectionSettings, user_agent: str, pool_size: int) -> Any:
        raise NotImplementedError

    def is_closed(self, client: Any) -> bool:
        raise NotImplementedError

    async def aclose(self, client: Any) -> None:
        raise NotImplementedError

    async def send(
        self, client: Any, settings: DominoConnectionSettings, call: ApiCall[Any], headers: dict[str, str]
    ) -> RawResponse:
        """Send once; map the library's exceptions to ``network_failure``/``DominoConnectionError``."""
        raise NotImplementedError


class HttpxBackend(AsyncClientBackend):
    """httpx/httpcore (on anyio)."""

    name = "httpx"

    def open(self, settings: DominoConnectionSettings, user_agent: str, pool_size: int) -> Any:
        return new_async_client(settings, user_agent, pool_size)

    def is_closed(self, client: Any) -> bool:
        return bool(client.is_closed)

    async def aclose(self, client: Any) -> None:
        await client.aclose()

    async def send(
        self, client: Any, settings: DominoConnectionSettings, call: ApiCall[Any], headers: dict[str, str]
    ) -> RawResponse:
        import httpx

        from airflow_provider_domino.api.endpoints import RawResponse

        try:
            response = await client.request(
                call.method, call.path, params=call.params, json=call.json_body, headers=headers
            )
        except httpx.ConnectTimeout as err:
            raise network_failure(call, f"connect timeout: {_reason(err)}", maybe_sent=False) from None
        except httpx.ConnectError as err:
            if "SSL" in str(err) or "CERTIFICATE" in str(err):
                raise DominoConnectionError(call.method, call.path, f"TLS error: {_reason(err)}") from None
            raise network_failure(call, _reason(err), maybe_sent=False) from None
        except httpx.PoolTimeout as err:
            raise network_failure(call, f"connection pool busy: {_reason(err)}", maybe_sent=False) from None
        except httpx.ReadTimeout:
            reason = f"no answer within {settings.timeout:g} s"
            raise network_failure(call, reason, maybe_sent=True) from None
        except httpx.TransportError as err:
            raise network_failure(call, _reason(err) or type(err).__name__, maybe_sent=True) from None
        headers_lower = {name.lower(): value for name, value in response.headers.items()}
        return RawResponse(response.status_code, headers_lower, response.content)


class AiohttpBackend(AsyncClientBackend):
    """aiohttp: one ``ClientSession`` per loop and endpoint, a bounded ``TCPConnector``, no cookie jar.

    Exceptions are told apart by type: a refused or unresolvable connection and a connect timeout
    never reached the server; a read timeout, a dropped connection or a broken body may have.
    """

    name = "aiohttp"

    def open(self, settings: DominoConnectionSettings, user_agent: str, pool_size: int) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=pool_size, limit_per_host=pool_size, keepalive_timeout=30, ssl=_ssl_for(settings.verify)
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=settings.connect_timeout, sock_read=settings.timeout
            ),
            headers={"User-Agent": user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),  # credentials travel in headers; nothing to remember
            auto_decompress=True,
        )

    def is_closed(self, client: Any) -> bool:
        return bool(client.closed)

    async def aclose(self, client: Any) -> None:
        await client.close()

    async def send(
        self, client: Any, settings: DominoConnectionSettings, call: ApiCall[Any], headers: dict[str, str]
    ) -> RawResponse:
        import aiohttp
        from yarl import URL

        from airflow_provider_domino.api.endpoints import RawResponse

        url = URL(settings.base_url + call.path, encoded=True)  # path segments are already encoded
        try:
            async with client.request(
                call.method,
                url,
                params=dict(call.params) if call.params else None,
                json=call.json_body,
                headers=headers,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                headers_lower = {name.lower(): value for name, value in response.headers.items()}
                return RawResponse(response.status, headers_lower, body)
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as err:
            raise DominoConnectionError(call.method, call.path, f"TLS error: {_reason(err)}") from None
        except aiohttp.ConnectionTimeoutError as err:
            raise network_failure(call, f"connect timeout: {_reason(err)}", maybe_sent=False) from None
        except aiohttp.ClientConnectorError as err:
            raise network_failure(call, _reason(err), maybe_sent=False) from None
        except (aiohttp.SocketTimeoutError, asyncio.TimeoutError):
            reason = f"no answer within {settings.timeout:g} s"
            raise network_failure(call, reason, maybe_sent=True) from None
        except aiohttp.ClientError as err:
            raise network_failure(call, _reason(err) or type(err).__name__, maybe_sent=True) from None


def _ssl_for(verify: bool | str) -> Any:
    """aiohttp's ``ssl`` argument for the connection's ``verify``: default checks, none, or a CA bundle."""
    if verify is False:
        return False
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return True


@dataclass
class _SharedClient:
    client: Any
    in_flight: AbstractAsyncContextManager[Any]
    backend: AsyncClientBackend
    users: int = 0

    @property
    def is_closed(self) -> bool:
        return self.backend.is_closed(self.client)


class _SharedAsyncClients:
    """One async client per event loop and endpoint, shared by every hook in that loop.

    A triggerer runs thousands of triggers in one loop; a client (and connection pool) each would open
    thousands of TCP connections. Sharing one pool bounds connections by ``pool_size`` instead.
    Reference counted: the last hook to release a client closes it.

    :param pool_size: connections per client.
    :param gated: put a semaphore of ``pool_size`` in front of the pool (see ``ASYNC_POOL_SIZE``); only
        benchmarks of the ungated design turn it off.
    :param backend: the HTTP client library.
    """

    def __init__(
        self,
        pool_size: int = ASYNC_POOL_SIZE,
        *,
        gated: bool = True,
        backend: AsyncClientBackend | None = None,
    ) -> None:
        self.pool_size = pool_size
        self.gated = gated
        self.backend = backend or DEFAULT_BACKEND
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Any, ...], _SharedClient]
        ] = weakref.WeakKeyDictionary()

    def acquire(
        self, key: tuple[Any, ...], settings: DominoConnectionSettings, user_agent: str
    ) -> _SharedClient:
        per_loop = self._clients.setdefault(asyncio.get_running_loop(), {})
        shared = per_loop.get(key)
        if shared is None or shared.is_closed:
            gate = asyncio.Semaphore(self.pool_size) if self.gated else contextlib.nullcontext()
            client = self.backend.open(settings, user_agent, self.pool_size)
            shared = per_loop[key] = _SharedClient(client, gate, self.backend)
        shared.users += 1
        return shared

    async def release(self, key: tuple[Any, ...]) -> None:
        per_loop = self._clients.get(asyncio.get_running_loop(), {})
        shared = per_loop.get(key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            per_loop.pop(key, None)
            await shared.backend.aclose(shared.client)


#: The library the provider sends with, chosen by measurement (``bench/RESULTS.md``): at 300 triggers
#: aiohttp cost 0.67 CPU ms per request against httpx's 1.69 in the same run (run A).
DEFAULT_BACKEND: AsyncClientBackend = AiohttpBackend()
SHARED_ASYNC_CLIENTS = _SharedAsyncClients()

#: Answers at least this large are parsed in a worker thread rather than on the event loop. A full
#: page of the JSON log (10,000 entries, about 2 MB) takes 10-20 ms of CPU to decode: on the loop that
#: is a stall every trigger in the triggerer shares. The thread still takes the GIL, but the JSON
#: object hook runs Python code for every entry, so the loop gets the GIL back every switch interval
#: (5 ms). Small answers (job statuses, empty log pages) stay on the loop: a thread hop costs more.
PARSE_IN_THREAD_BYTES = 256 * 1024


class AsyncTransport:
    """Sends calls on the loop's shared async client with the same retry policy as the sync one."""

    #: Where the shared clients come from (benchmarks swap in other pool designs).
    clients: _SharedAsyncClients = SHARED_ASYNC_CLIENTS

    def __init__(self, settings: DominoConnectionSettings, policy: RetryPolicy, user_agent: str) -> None:
        self._settings = settings
        self._policy = policy
        self._user_agent = user_agent
        self._key = (
            settings.base_url,
            str(settings.verify),
            settings.timeout,
            settings.connect_timeout,
            user_agent,
        )
        self._shared: _SharedClient | None = None

    def _acquire(self) -> _SharedClient:
        if self._shared is None or self._shared.is_closed:
            self._shared = self.clients.acquire(self._key, self._settings, self._user_agent)
        return self._shared

    async def send(self, call: ApiCall[T]) -> T:
        """Send ``call`` with retries; return its parsed result or raise a typed error."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                raw = await self._send_once(call)
                if len(raw.body) >= PARSE_IN_THREAD_BYTES:
                    return await asyncio.to_thread(read_response, call, raw)
                return read_response(call, raw)
            except RetryableFailure as failure:
                wait = self._policy.retry_wait(attempt, started, failure)
                if wait is None:
                    raise failure.final_error(attempt) from None
            await asyncio.sleep(wait)

    async def _send_once(self, call: ApiCall[Any]) -> RawResponse:
        shared = self._acquire()
        headers = {**call.headers, **self._settings.auth.headers()}
        async with shared.in_flight:
            return await shared.backend.send(shared.client, self._settings, call, headers)

    async def aclose(self) -> None:
        """Give the shared client back; the last user closes it."""
        if self._shared is not None:
            self._shared = None
            await self.clients.release(self._key)
