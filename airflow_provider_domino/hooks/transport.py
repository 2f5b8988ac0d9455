"""The two transports: requests (sync, workers) and aiohttp (async, triggerer). They only send.

Both take an :class:`~airflow_provider_domino.api.endpoints.ApiCall`, add authentication and the
User-Agent, send it with timeouts, and hand the answer to the shared classification in
:mod:`~airflow_provider_domino.hooks.retry`. Which exceptions of each client mean "never sent" and which
mean "may have been processed" is the only client-specific knowledge here, and it is decided from the
exceptions' types alone, never from their text.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_domino.api.errors import DominoConnectionError
from airflow_provider_domino.hooks.retry import RetryableFailure, RetryPolicy, network_failure, read_response

if TYPE_CHECKING:
    import aiohttp

    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse
    from airflow_provider_domino.hooks.connection import DominoConnectionSettings

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
        return RawResponse(response.status_code, response.headers, response.content)

    def close(self) -> None:
        self._session.close()


def _maybe_sent(err: BaseException) -> bool:
    """Whether the request behind a ``requests`` ``ConnectionError`` may have reached the server.

    requests wraps urllib3's error (often in a ``MaxRetryError``, whose ``reason`` is the cause) in the
    exception's arguments. A connection that was never made (refused, unresolvable host, connect
    timeout: urllib3's ``NewConnectionError``, its subclass ``NameResolutionError``, and
    ``ConnectTimeoutError``) carried nothing; anything else (reset, remote disconnect, protocol error)
    may have been processed.

    Only requests' and urllib3's own exceptions are looked into: the OS error at the bottom of a chain
    has, as its context, whatever the caller was handling, perhaps an earlier refused connection that
    says nothing about this request.
    """
    from requests.exceptions import RequestException
    from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError

    pending: list[BaseException] = [err]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return False
        if not isinstance(current, (RequestException, HTTPError)):
            continue
        if isinstance(current, MaxRetryError) and isinstance(current.reason, BaseException):
            pending.append(current.reason)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(linked for linked in (current.__cause__, current.__context__) if linked is not None)
    return True


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_WRAPPER_NOISE = re.compile(r"^[(\['\"\s]+|[)\]'\"\s]+$")


def _reason(err: Exception) -> str:
    """A short reason from a client exception: the OS error when there is one, without URLs' noise.

    This only words the message; no decision is taken from it.
    """
    tls = _tls_cause(err)
    if tls is not None:  # an SSL error's errno (1) says nothing; its text says what failed
        return tls
    if isinstance(err, OSError) and isinstance(err.errno, int) and err.errno > 0:
        return f"[Errno {err.errno}] {os.strerror(err.errno)}"  # aiohttp's connector errors carry it
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


def _tls_cause(err: BaseException) -> str | None:
    """The text of the ``ssl.SSLError`` behind a client exception (``... certificate verify failed: ...``).

    aiohttp keeps it as ``certificate_error``/``os_error``; requests and urllib3 as an argument, a
    ``reason`` or the cause. Only words the message.
    """
    import ssl

    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        inner = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        if isinstance(current, ssl.SSLError) and not isinstance(inner, BaseException):
            return str(current.strerror or current)
        stack.extend((inner, getattr(current, "reason", None), current.__cause__, current.__context__))
        stack.extend(current.args)
    return None


#: Connections per event loop and Domino endpoint. Requests beyond this wait, without a time limit, in
#: the shared session's ``slots`` before aiohttp builds them (see :class:`_SharedSession`; the
#: connector's own limit is the same), so a triggerer with thousands of triggers keeps a few
#: keep-alive connections to Domino, not thousands. Sixteen carry hundreds of polls a second at the
#: latencies Domino answers with.
ASYNC_POOL_SIZE = 16

#: Answers at least this large are parsed in a worker thread rather than on the event loop. A full
#: page of the JSON log (10,000 entries, about 2 MB) takes 10-20 ms of CPU to decode: on the loop that
#: is a stall every trigger in the triggerer shares. The thread still takes the GIL, but the JSON
#: object hook runs Python code for every entry, so the loop gets the GIL back every switch interval
#: (5 ms). Small answers (job statuses, empty log pages) stay on the loop: a thread hop costs more.
PARSE_IN_THREAD_BYTES = 256 * 1024


def _ssl_for(verify: bool | str) -> Any:
    """aiohttp's ``ssl`` argument for the connection's ``verify``: default checks, none, or a CA bundle."""
    if verify is False:
        return False
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return True


def open_session(settings: DominoConnectionSettings, user_agent: str) -> aiohttp.ClientSession:
    """An aiohttp session for one Domino endpoint: timeouts, TLS, User-Agent, ``ASYNC_POOL_SIZE`` connections.

    It keeps no cookies: the session is shared by every trigger in the loop that talks to one Domino
    URL, whatever its Airflow connection, so a ``Set-Cookie`` answered to one connection's request must
    never ride along with another's. Domino authenticates every request by its own header.
    """
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=ASYNC_POOL_SIZE,
        limit_per_host=ASYNC_POOL_SIZE,
        keepalive_timeout=30,
        ssl=_ssl_for(settings.verify),
    )
    return aiohttp.ClientSession(
        connector=connector,
        # ``sock_connect``, not ``connect``: the connect timeout bounds making a connection, not the
        # wait for one of the pool's connections, which a burst of polls may queue for longer.
        timeout=aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=settings.connect_timeout, sock_read=settings.timeout
        ),
        headers={"User-Agent": user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
    )


class _SharedSession:
    """A session and how many transports use it; the last one to leave closes it.

    ``slots`` admits as many requests as the pool has connections. A request that waits for a
    connection inside aiohttp already holds some thirty objects (its request, URL, headers, timers,
    coroutines); in a burst of polls hundreds wait, long enough for the garbage collector to move them
    all to its oldest generation, whose growth sets off the full collections that stall a triggerer.
    Waiting here holds only the caller's coroutine and one future.
    """

    __slots__ = ("session", "slots", "users")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.slots = asyncio.Semaphore(ASYNC_POOL_SIZE)
        self.users = 0


#: One session per event loop and endpoint (see :class:`AsyncTransport`). Keyed weakly by loop, so a
#: loop that ends takes its sessions' bookkeeping with it.
_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _SharedSession]] = (
    weakref.WeakKeyDictionary()
)


class AsyncTransport:
    """Sends calls with aiohttp and the same retry policy as the sync transport.

    Every transport in one event loop that talks to the same endpoint (URL, TLS, timeouts, User-Agent)
    shares one ``ClientSession``: a triggerer runs thousands of triggers in one loop, and a session
    each would open thousands of TCP connections. Reference counted: the last :meth:`aclose` closes it.

    Exceptions are told apart by type: a refused or unresolvable connection, a connect timeout or an
    invalid URL never reached the server; a read timeout, a dropped connection or a broken body may have.
    """

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
        self._shared: _SharedSession | None = None

    def _session(self) -> _SharedSession:
        shared = self._shared
        if shared is None or shared.session.closed:
            per_loop = _SESSIONS.setdefault(asyncio.get_running_loop(), {})
            shared = per_loop.get(self._key)
            if shared is None or shared.session.closed:
                shared = per_loop[self._key] = _SharedSession(open_session(self._settings, self._user_agent))
            shared.users += 1
            self._shared = shared
        return shared

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
        import aiohttp
        from yarl import URL

        from airflow_provider_domino.api.endpoints import RawResponse

        shared = self._session()
        settings = self._settings
        try:
            async with shared.slots:
                auth = settings.auth.headers()
                headers = {**call.headers, **auth} if call.headers else auth
                url = URL(settings.base_url + call.path, encoded=True)  # path segments are already encoded
                async with shared.session.request(
                    call.method,
                    url,
                    params=call.params,
                    json=call.json_body,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    body = await response.read()
                    return RawResponse(response.status, response.headers, body)
        except aiohttp.ClientSSLError as err:
            raise DominoConnectionError(call.method, call.path, f"TLS error: {_reason(err)}") from None
        except aiohttp.ConnectionTimeoutError as err:
            raise network_failure(call, f"connect timeout: {_reason(err)}", maybe_sent=False) from None
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as err:
            raise network_failure(call, _reason(err), maybe_sent=False) from None
        except TimeoutError:  # aiohttp's SocketTimeoutError among them: sent, no answer in time
            reason = f"no answer within {settings.timeout:g} s"
            raise network_failure(call, reason, maybe_sent=True) from None
        except aiohttp.ClientError as err:
            raise network_failure(call, _reason(err), maybe_sent=True) from None

    async def aclose(self) -> None:
        """Give the shared session back; the last user closes it."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        shared.users -= 1
        if shared.users <= 0:
            per_loop = _SESSIONS.get(asyncio.get_running_loop(), {})
            if per_loop.get(self._key) is shared:
                del per_loop[self._key]
            await shared.session.close()
