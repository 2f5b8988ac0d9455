"""Each error message docs/troubleshooting.md quotes is the one the code produces.

The doc marks every quoted message with ``<!-- message: NAME -->`` right before its fenced block; each
NAME has a producer here that provokes the error through the real code (the hook against the emulator,
or a tiny loopback HTTP server for answers the emulator never gives). Parts of a message that change
from run to run are written ``<like this>`` in the doc and match any text.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoAmbiguousRequestError, DominoError
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from tests.conftest import API_KEY

DOC = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
_BLOCK = re.compile(r"<!-- message: ([\w-]+) -->\n```\w*\n(.*?)\n```", re.S)
_PLACEHOLDER = re.compile(r"<[a-z][a-z0-9 _-]*>")
#: Quick retries: the attempts are counted as by default, the waits are short.
QUICK = RetryPolicy(backoff_initial=0.01, backoff_max=0.02)


def quoted_messages() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, text in _BLOCK.findall(DOC.read_text()):
        assert name not in found, f"message {name!r} quoted twice"
        found[name] = text
    return found


def as_pattern(quoted: str) -> re.Pattern[str]:
    """The quoted text, with each ``<placeholder>`` matching any run of characters."""
    parts = _PLACEHOLDER.split(quoted)
    return re.compile(".+?".join(re.escape(part) for part in parts), re.S)


def set_connection(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, password: str, **extra: Any
) -> str:
    conn = {"conn_type": "domino", "host": host, "password": password, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def error_of(action: Callable[[], Any]) -> str:
    try:
        action()
    except (DominoError, ValueError) as err:
        return str(err)
    raise AssertionError("no error was raised")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TinyServer:
    """A loopback HTTP server that answers every request with one fixed response."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tiny_server() -> Iterator[Callable[[int, dict[str, Any]], TinyServer]]:
    started: list[TinyServer] = []

    def start(status: int, body: dict[str, Any]) -> TinyServer:
        started.append(TinyServer(status, body))
        return started[-1]

    yield start
    for server in started:
        server.close()


# --- producers: one per quoted message ------------------------------------------------------------


def produce_missing_connection(ctx: Any) -> str:
    ctx.monkeypatch.delenv("DOMINO_API_HOST", raising=False)
    ctx.monkeypatch.delenv("DOMINO_API_PROXY", raising=False)
    return error_of(lambda: DominoHook("domino_missing").get_job("job-1"))


def produce_host_without_scheme(ctx: Any) -> str:
    conn = set_connection(ctx.monkeypatch, "domino_default", "domino.example.com", "key")
    return error_of(lambda: DominoHook(conn).get_job("job-1"))


def produce_no_credentials(ctx: Any) -> str:
    for name in ("DOMINO_USER_API_KEY", "DOMINO_TOKEN_FILE"):
        ctx.monkeypatch.delenv(name, raising=False)
    conn = set_connection(ctx.monkeypatch, "domino_default", "https://domino.example.com", "")
    return error_of(lambda: DominoHook(conn).get_job("job-1"))


def produce_wrong_key(ctx: Any) -> str:
    conn = set_connection(ctx.monkeypatch, "domino_default", ctx.emulator.url, "not-the-key")
    return error_of(lambda: DominoHook(conn).start_job("echo x", "small", ctx.project_id))


def produce_api_key_as_bearer(ctx: Any) -> str:
    # Domino answers an API key sent as a bearer token like this (the published 401/403 envelope).
    server = ctx.tiny_server(403, {"errors": ["No current user in request"], "requestId": "3f1c9a"})
    conn = set_connection(
        ctx.monkeypatch, "domino_default", f"http://127.0.0.1:{server.port}", "an-api-key", auth_type="bearer"
    )
    message = error_of(lambda: DominoHook(conn).get_job("job-1"))
    assert server.headers[0].get("Authorization") == "Bearer an-api-key"
    return message


def produce_unknown_project(ctx: Any) -> str:
    return error_of(lambda: DominoHook(ctx.domino_conn).resolve_project("acme/no-such-project"))


def produce_no_project(ctx: Any) -> str:
    conn = set_connection(ctx.monkeypatch, "domino_default", ctx.emulator.url, API_KEY)
    return error_of(lambda: DominoHook(conn).start_job("echo x", "small"))


def produce_unknown_tier(ctx: Any) -> str:
    return error_of(lambda: DominoHook(ctx.domino_conn).start_job("echo x", "quantum-xl", ctx.project_id))


def produce_unknown_job(ctx: Any) -> str:
    return error_of(lambda: DominoHook(ctx.domino_conn).get_job("job-does-not-exist"))


def produce_connection_refused(ctx: Any) -> str:
    conn = set_connection(ctx.monkeypatch, "domino_default", f"http://127.0.0.1:{closed_port()}", "key")
    return error_of(lambda: DominoHook(conn, retry_policy=QUICK).get_job("job-1"))


def produce_tls_error(ctx: Any) -> str:
    # https:// to a server that does not speak TLS (an untrusted certificate fails the same way).
    server = ctx.tiny_server(200, {})
    conn = set_connection(ctx.monkeypatch, "domino_default", f"https://127.0.0.1:{server.port}", "key")
    return error_of(lambda: DominoHook(conn, retry_policy=QUICK).get_job("job-1"))


def fake_time() -> dict[str, Any]:
    """A clock that moves only when the code under test sleeps (the 10 s window passes at once)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return {"sleep": sleep, "clock": lambda: now[0]}


def produce_lagging_list(ctx: Any) -> str:
    from airflow_provider_domino.jobs import ownership

    lost = DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "Connection reset by peer")
    answers = iter([None, None, type("Found", (), {"id": "6b08a1c2d3e4f5a6b7c8d9e0"})()])
    with ctx.caplog.at_level(logging.WARNING):
        ownership.submit_exactly_once(
            lambda: (_ for _ in ()).throw(lost),
            lambda: next(answers),
            lookup_window=10,
            **fake_time(),
        )
    (record,) = [r for r in ctx.caplog.records if "adopting job" in r.getMessage()]
    return record.getMessage()


def produce_lagging_list_resend(ctx: Any) -> str:
    from airflow_provider_domino.jobs import ownership

    lost = DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "Read timed out")
    sent: list[int] = []

    def submit() -> Any:
        sent.append(1)
        if len(sent) == 1:
            raise lost
        return "the job"

    with ctx.caplog.at_level(logging.WARNING):
        ownership.submit_exactly_once(submit, lambda: None, lookup_window=10, **fake_time())
    (record,) = [r for r in ctx.caplog.records if "sending it again" in r.getMessage()]
    return record.getMessage()


def produce_parse_empty_command(ctx: Any) -> str:
    return error_of(lambda: DominoStartJobOperator(task_id="t", command=" ", hardware_tier_id="small"))


def produce_parse_project_form(ctx: Any) -> str:
    return error_of(
        lambda: DominoStartJobOperator(task_id="t", command="x", hardware_tier_id="small", project="churn")
    )


def produce_parse_both_projects(ctx: Any) -> str:
    return error_of(
        lambda: DominoStartJobOperator(
            task_id="t", command="x", hardware_tier_id="small", project="acme/churn", project_id="p1"
        )
    )


def produce_test_button_bad_request(ctx: Any) -> str:
    """Airflow's own message (not the provider's): read from the installed Airflow's source."""
    from airflow.api_fastapi.core_api.routes.public import connections

    source = Path(connections.__file__).read_text()
    found = re.search(
        r'"(The host or port to test differs from the stored connection\. )"\s*"([^"]+)"', source
    )
    if not found:
        pytest.skip("this Airflow version does not refuse a test with a different port")
    return found.group(1) + found.group(2)


PRODUCERS: dict[str, Callable[[Any], str]] = {
    name.removeprefix("produce_").replace("_", "-"): func
    for name, func in globals().items()
    if name.startswith("produce_")
}


def test_every_quoted_message_has_a_producer_and_back() -> None:
    assert set(quoted_messages()) == set(PRODUCERS)


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_quoted_message_is_what_the_code_says(
    name: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    needs_emulator = name in {"wrong-key", "unknown-project", "no-project", "unknown-tier", "unknown-job"}
    ctx = type("Ctx", (), {})()
    ctx.monkeypatch, ctx.caplog = monkeypatch, caplog
    ctx.tiny_server = request.getfixturevalue("tiny_server")
    if needs_emulator:
        ctx.emulator = request.getfixturevalue("emulator")
        ctx.project_id = request.getfixturevalue("project_id")
        ctx.domino_conn = request.getfixturevalue("domino_conn")
    actual = PRODUCERS[name](ctx)
    quoted = quoted_messages()[name]
    assert as_pattern(quoted).fullmatch(actual), f"{name}: the doc quotes\n{quoted}\nthe code says\n{actual}"
