"""The pure-ASGI layer in front of the routes: raw-path routing, auth, faults, body limit, request log.

It sits outside FastAPI on purpose. Faults such as ``drop`` must act on the TCP connection
itself, the request log must see every status (including 401s and injected faults), and
the job id in ``/jobs/{jobId}`` must be matched on the *raw* path: Starlette's decoded
``scope["path"]`` turns ``%2F`` into a real slash and would split one id into two segments.
So this layer hands FastAPI a scope whose ``path`` is the raw, still-encoded path, and the
routes percent-decode their own parameters.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from starlette.routing import Match

from domino_emulator.shapes import error_body

if TYPE_CHECKING:
    from fastapi import FastAPI

    from domino_emulator.context import EmulatorContext
    from domino_emulator.faults import Fault

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("domino_emulator")

ADMIN_PREFIX = "/_emulator"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_AUTHENTICATED = frozenset({"api_key", "bearer", "proxy"})
#: Request bodies are kept in the request log (for contract tests) up to this size.
_RECORDED_BODY_BYTES = 64 * 1024


async def send_json(
    send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with a JSON body straight from the ASGI layer."""
    body = json.dumps(payload).encode()
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})


async def abort_connection(receive: Receive) -> None:
    """Close the client's TCP connection without sending a single response byte.

    ASGI has no way to say "hang up", so this reaches uvicorn's transport through the
    request-response cycle that owns ``receive`` (a bound method of uvicorn's
    ``RequestResponseCycle`` for both its httptools and h11 protocols). After the abort we let
    the loop run the protocol's ``connection_lost`` so uvicorn knows the client is gone and
    does not try to send a 500 for the response we never started.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: the ASGI server does not expose its transport")
    transport.abort()
    for _ in range(20):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


class EmulatorMiddleware:
    """Wraps the FastAPI app; see the module docstring for why this is not FastAPI middleware."""

    def __init__(self, app: FastAPI, context: EmulatorContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        scope = dict(scope)
        scope["path"] = path
        method: str = scope["method"]
        query = scope.get("query_string", b"").decode("latin-1")
        is_admin = path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
        endpoint = None if is_admin else self._endpoint_name(scope)
        auth = self._auth_kind(scope)
        outcome: dict[str, Any] = {"status": None, "fault": None, "body": None}

        def record() -> None:
            if is_admin:
                return
            self.context.request_log.record(
                method=method,
                path=path,
                query=query,
                endpoint=endpoint,
                status=outcome["status"] if outcome["status"] is not None else 500,
                auth=auth,
                fault=outcome["fault"],
                body=outcome["body"],
                secrets=self.context.secrets,
            )

        try:
            await self._handle(scope, receive, send, endpoint, auth, outcome)
        finally:
            record()

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: str | None,
        auth: str,
        outcome: dict[str, Any],
    ) -> None:
        path: str = scope["path"]
        flat = self.context.settings.flat_shapes
        if auth not in _AUTHENTICATED:
            message = "Invalid API key" if auth == "invalid" else "Missing API key: send X-Domino-Api-Key"
            outcome["status"] = 401
            await send_json(send, 401, error_body(path, 401, message, flat=flat))
            return

        fault: Fault | None = self.context.faults.choose(endpoint) if endpoint else None
        if fault is not None:
            outcome["fault"] = fault.kind
            if fault.kind == "status":
                headers = [(b"retry-after", fault.retry_after.encode("latin-1"))] if fault.retry_after else []
                outcome["status"] = fault.status
                injected = error_body(path, fault.status, f"Injected {fault.status}", flat=flat)
                await send_json(send, fault.status, injected, headers)
                return
            if fault.kind == "drop_before":
                outcome["status"] = "dropped"
                await abort_connection(receive)
                return
            if fault.kind == "latency":
                await asyncio.sleep(fault.seconds)

        app_receive = receive
        if scope["method"] in _BODY_METHODS:
            body = await self._read_body(scope, receive)
            if body is None:
                outcome["status"] = 413
                limit = self.context.settings.max_body_bytes
                message = f"Request body exceeds the limit of {limit} bytes"
                await send_json(send, 413, error_body(path, 413, message, flat=flat))
                return
            if body:
                outcome["body"] = body[:_RECORDED_BODY_BYTES].decode("utf-8", "replace")
            app_receive = _replay(body, receive)

        dropping = fault is not None and fault.kind == "drop"

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
            if not dropping:
                await send(message)

        await self.app(scope, app_receive, observed_send)
        if dropping:
            outcome["status"] = "dropped"
            await abort_connection(receive)

    def _endpoint_name(self, scope: Scope) -> str | None:
        """The route's name (the fault/request-log endpoint name), matched on the raw path."""
        for route in self.app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                name = getattr(route, "name", None)
                return None if not name or name.startswith("admin_") else name
        return None

    def _auth_kind(self, scope: Scope) -> str:
        """How the request authenticated: ``api_key``, ``bearer``, ``proxy``, ``none`` or ``invalid``."""
        proxy_port = self.context.settings.proxy_port
        server = scope.get("server")
        if proxy_port is not None and server is not None and server[1] == proxy_port:
            return "proxy"
        api_key: str | None = None
        authorization: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-domino-api-key":
                api_key = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        if api_key is not None:
            return "api_key" if self.context.is_valid_key(api_key.strip()) else "invalid"
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and self.context.is_valid_key(token.strip()):
                return "bearer"
            return "invalid"
        return "none"

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole request body, or None when it exceeds ``--max-body-bytes``."""
        limit = self.context.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        return None
                except ValueError:
                    pass
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then defers to the server."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
