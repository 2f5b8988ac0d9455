"""A fake Domino for unit tests: routes ``ApiCall``s to handlers, records them, never opens a socket."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from airflow_provider_domino.api.endpoints import ApiCall, RawResponse
from airflow_provider_domino.hooks.connection import DominoAuth, DominoConnectionSettings
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy, read_response

Handler = Callable[[ApiCall[Any]], RawResponse | Exception]


def json_response(payload: Any, status: int = 200) -> RawResponse:
    return RawResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


def text_response(text: str, status: int = 200, headers: dict[str, str] | None = None) -> RawResponse:
    return RawResponse(status, {"content-type": "text/plain", **(headers or {})}, text.encode())


class FakeTransport:
    """Answers each call with ``handlers[call.endpoint](call)``; an Exception answer is raised."""

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.calls: list[ApiCall[Any]] = []

    def send(self, call: ApiCall[Any]) -> Any:
        self.calls.append(call)
        answer = self.handlers[call.endpoint](call)
        if isinstance(answer, Exception):
            raise answer
        return read_response(call, answer)

    def endpoints(self) -> list[str]:
        return [call.endpoint for call in self.calls]

    def close(self) -> None:
        pass


class AsyncFakeTransport(FakeTransport):
    async def send(self, call: ApiCall[Any]) -> Any:  # type: ignore[override]
        return FakeTransport.send(self, call)

    async def aclose(self) -> None:
        pass


def fake_hook(
    handlers: dict[str, Handler], *, project_id: str | None = "p1"
) -> tuple[DominoHook, FakeTransport]:
    """A hook whose settings and transports are fakes (no Airflow connection, no network)."""
    hook = DominoHook("fake", retry_policy=RetryPolicy(max_attempts=2, backoff_initial=0.0, backoff_max=0.0))
    hook.__dict__["settings"] = DominoConnectionSettings(
        conn_id="fake",
        base_url="https://domino.example",
        auth=DominoAuth(kind="api_key", conn_id="fake", secret="s3cret-key"),
        project_id=project_id,
    )
    transport = FakeTransport(handlers)
    hook.__dict__["_sync"] = transport
    async_transport = AsyncFakeTransport(handlers)
    async_transport.calls = transport.calls
    hook.__dict__["_async"] = async_transport
    return hook, transport
