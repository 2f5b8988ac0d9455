"""Bad input, row by row: each test asserts the exact error a DAG author sees, naming what is wrong.

Where the error can only come from a running task, the rows share one ``dag.test()`` (a failing task
each) and the test reads each task's own slice of the output. Where it must come at parse time, the
operator's constructor is called. Responses no Domino or emulator would give (an HTML login page, a
status never seen before) come from a tiny ``http.server`` on loopback: real HTTP, real clients.
At the end of the module no job may be left running on the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from airflow_provider_domino.api.errors import (
    DominoConfigError,
    DominoConnectionError,
    DominoUnexpectedResponseError,
)
from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.sensors.domino import DominoJobSensor
from airflow_provider_domino.triggers.domino import DominoJobTrigger
from tests.conftest import API_KEY
from tests.dag_runner import task_output
from tests.reliability.support import connection_json, wait_until_no_active_jobs


@pytest.fixture(scope="module", autouse=True)
def _nothing_left_running(emulator: Any) -> Iterator[None]:
    """Whatever the rows did, no Domino job may be left running unintentionally."""
    yield
    leftover = wait_until_no_active_jobs(emulator, timeout=20)
    assert leftover == [], f"jobs left running: {[(j['id'], j['command']) for j in leftover]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- rows a running task hits, in one DAG run ----------------------------------------------------------


@pytest.mark.e2e
def test_runtime_rows_fail_their_task_with_a_precise_message(run_dag, domino_conn, emulator, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_NO_SCHEME", connection_json("domino.example.com", password=API_KEY)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_WRONG_KEY",
        connection_json(
            emulator.url, password="not-the-right-key-42", project_id=emulator.project_id("acme", "churn")
        ),
    )
    emulator.set_faults({"rules": [{"endpoint": "find_project", "fault": "status", "status": 403}]})
    emulator.clear_requests()
    result = run_dag(
        "bad_input_runtime_rows",
        """
        common = dict(hardware_tier_id="small", poll_interval=0.5)
        DominoStartJobOperator(task_id="missing_connection", command="echo x", domino_conn_id="domino_missing", **common)
        DominoStartJobOperator(task_id="host_without_scheme", command="echo x", domino_conn_id="domino_no_scheme", **common)
        DominoStartJobOperator(task_id="wrong_key", command="echo x", domino_conn_id="domino_wrong_key", **common)
        DominoStartJobOperator(task_id="forbidden", command="echo x", project="acme/churn", **common)
        DominoStartJobOperator(task_id="unknown_tier", command="echo x", hardware_tier_id="quantum-xl", poll_interval=0.5)
        DominoJobSensor(task_id="unknown_job", job_id="job-does-not-exist", poke_interval=0.5)
        DominoStartJobOperator.partial(task_id="mapped_blank_command", **common).expand(command=["echo ok", "   "])
        """,
    )
    expected = {
        "missing_connection": [
            "Airflow connection 'domino_missing' is not defined",
            "AIRFLOW_CONN_DOMINO_MISSING",
        ],
        "host_without_scheme": [
            "Connection 'domino_no_scheme': host 'domino.example.com' must be a URL with scheme",
            "https://domino.example.com",
        ],
        "wrong_key": [
            # The first request a start makes is the tier-name lookup.
            "/hardwareTiers returned HTTP 401: Invalid API key",
            "check the API key or token of the Domino connection",
        ],
        "forbidden": [
            "returned HTTP 403: Injected 403",
            "check the API key or token of the Domino connection and its access to the project",
        ],
        "unknown_tier": [
            "Hardware tier 'quantum-xl' is not available in Domino project "
            f"{emulator.project_id('acme', 'churn')}; its tiers are: 'GPU Small', 'Large', 'Medium', 'Small'. "
            "No job was started",
        ],
        "unknown_job": ["returned HTTP 404: Job 'job-does-not-exist' not found"],
        "mapped_blank_command": ["Parameter 'command' must be a non-empty string, got '   '"],
    }
    states = result.states()
    assert states.pop("mapped_blank_command[0]") == "success"
    assert states == {
        **{task: "failed" for task in expected if task != "mapped_blank_command"},
        "mapped_blank_command[1]": "failed",
    }
    for task_id, messages in expected.items():
        text = task_output(result.output, task_id)
        for message in messages:
            assert message in text, f"{task_id}: {message!r} not in its task log:\n{text[-3000:]}"
    # Client errors are never retried: one request each; bad connections send none at all.
    requests = [
        (entry["endpoint"], entry["status"], entry["auth"])
        for entry in emulator.requests_log()
        if entry["status"] not in (200, 206, 416)
    ]
    assert sorted(requests) == [
        ("find_project", 403, "api_key"),
        ("get_job", 404, "api_key"),
        ("list_hardware_tiers", 401, "invalid"),
    ]
    assert [e for e in emulator.requests_log() if e["auth"] == "invalid"] == [
        e for e in emulator.requests_log() if e["endpoint"] == "list_hardware_tiers" and e["status"] == 401
    ]
    # The unknown tier started nothing: no start request carried it.
    assert not [
        e for e in emulator.requests_log() if e["endpoint"] == "start_job" and "quantum" in (e["body"] or "")
    ]


# --- rows caught at parse time -------------------------------------------------------------------------

OPERATOR_DEFAULTS = dict(task_id="t", command="echo ok", hardware_tier_id="small")


@pytest.mark.parametrize("command", ["", "   ", "\n\t"])
def test_empty_or_blank_command_fails_at_parse_time(command):
    with pytest.raises(DominoConfigError, match=r"Parameter 'command' must be a non-empty string"):
        DominoStartJobOperator(**{**OPERATOR_DEFAULTS, "command": command})


@pytest.mark.parametrize("poll_interval", [0, -1, -0.5])
def test_non_positive_poll_interval_fails_at_parse_time(poll_interval):
    with pytest.raises(DominoConfigError, match=r"Parameter 'poll_interval' must be a positive number"):
        DominoStartJobOperator(**OPERATOR_DEFAULTS, poll_interval=poll_interval)


@pytest.mark.parametrize("project", ["churn", "acme/churn/extra", "/churn", "acme/", " / "])
def test_project_not_owner_slash_name_fails_at_parse_time(project):
    with pytest.raises(DominoConfigError, match=r"Parameter 'project' must look like 'owner/name'"):
        DominoStartJobOperator(**OPERATOR_DEFAULTS, project=project)


def test_templated_values_are_checked_when_rendered_not_at_parse_time():
    operator = DominoStartJobOperator(
        **{**OPERATOR_DEFAULTS, "command": "{{ params.cmd }}"}, project="{{ params.project }}"
    )
    assert operator.project == "{{ params.project }}"


# --- connection rows at the hook ----------------------------------------------------------------------


def test_unreachable_host_is_retried_a_bounded_number_of_times(monkeypatch):
    """Refused connections: the default policy's 6 attempts, then one error naming the cause."""
    port = _closed_port()
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", connection_json(f"http://127.0.0.1:{port}"))
    waits: list[float] = []
    real_backoff = RetryPolicy.backoff

    def recorded_backoff(self, attempt, retry_after):
        waits.append(real_backoff(self, attempt, retry_after))
        return 0.01  # the real waits add up to 7.75-15.5 s; their values are checked below instead

    monkeypatch.setattr(RetryPolicy, "backoff", recorded_backoff)
    hook = DominoHook()
    with pytest.raises(DominoConnectionError) as info:
        hook.get_job("job-1")
    assert str(info.value) == (
        "Domino API GET /api/jobs/beta/jobs/job-1 failed after 6 attempts: "
        "could not reach Domino ([Errno 111] Connection refused)"
    )
    assert info.value.attempts == RetryPolicy().max_attempts == 6
    assert len(waits) == 5  # one wait between each two of the 6 attempts, none after the last
    for attempt, wait in enumerate(waits[:5], start=1):
        ceiling = 0.5 * 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


# --- job ids that are not URL-safe ----------------------------------------------------------------------

STRANGE_JOB_IDS = ["a/b", "..", "../../v4/jobs/stop", "why?x=1", "job#frag", "100%", "two words", "jöb-名"]


@pytest.mark.parametrize("job_id", STRANGE_JOB_IDS)
def test_strange_job_ids_are_one_percent_encoded_segment_in_the_trigger(domino_conn, emulator, job_id):
    """The triggerer's async path: one segment on the wire, a 404 naming the id, an error event."""
    emulator.clear_requests()
    trigger = DominoJobTrigger(job_id, poll_interval=0.1)

    async def first_event() -> dict[str, Any]:
        return (await anext(trigger.run())).payload

    event = asyncio.run(first_event())
    assert event["status"] == "error"
    assert f"Job '{job_id}' not found" in event["message"]
    (entry,) = emulator.requests_log()
    prefix = "/api/jobs/beta/jobs/"
    assert entry["endpoint"] == "get_job" and entry["path"].startswith(prefix)
    segment = entry["path"][len(prefix) :]
    assert "/" not in segment and "?" not in segment and "#" not in segment and " " not in segment
    assert segment.isascii() and unquote(segment) == job_id
    assert entry["query"] == ""


# --- answers no Domino should give: a tiny real HTTP server ------------------------------------------


class FakeDomino:
    """A loopback HTTP server answering like a misconfigured or future Domino."""

    def __init__(self) -> None:
        self.html = False
        self.statuses: list[str] = []
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if fake.html:
                    self._answer(
                        200,
                        "text/html; charset=utf-8",
                        b"<!doctype html><html><body>"
                        b"<h1>Sign in to Domino</h1><form action='/login'></form></body></html>",
                    )
                    return
                path = urlsplit(self.path).path
                if path.endswith("/logs"):
                    self._answer(200, "text/plain", b"")
                    return
                status = fake.statuses.pop(0) if len(fake.statuses) > 1 else fake.statuses[0]
                job = {"id": "job-future", "projectId": "p1", "status": status, "title": "future"}
                self._answer(200, "application/json", json.dumps(job).encode())

            def _answer(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_domino(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDomino]:
    fake = FakeDomino()
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", connection_json(fake.url, project_id="p1"))
    yield fake
    fake.close()


def test_html_login_page_is_a_clear_error_for_hook_and_trigger(fake_domino):
    fake_domino.html = True
    with pytest.raises(DominoUnexpectedResponseError) as info:
        DominoHook().get_job("job-future")
    message = str(info.value)
    assert "expected JSON but got text/html" in message
    assert "Sign in to Domino" in message
    assert "is the connection host the Domino API, and not a login page or proxy?" in message
    assert len(fake_domino.requests) == 1  # a 200 is never retried

    async def first_event() -> dict[str, Any]:
        return (await anext(DominoJobTrigger("job-future", poll_interval=0.05).run())).payload

    event = asyncio.run(first_event())
    assert event["status"] == "error"
    assert "expected JSON but got text/html" in event["message"]


def test_unknown_status_keeps_trigger_and_sensor_waiting_with_one_warning(fake_domino, monkeypatch, caplog):
    from airflow_provider_domino.api import status as status_module

    monkeypatch.setattr(status_module, "_warned_unknown", set())
    caplog.set_level(logging.WARNING, logger="airflow_provider_domino")

    fake_domino.statuses = ["Hibernating"] * 4 + ["Succeeded"]

    async def first_event() -> dict[str, Any]:
        return (await anext(DominoJobTrigger("job-future", poll_interval=0.05).run())).payload

    event = asyncio.run(first_event())
    assert event["status"] == "success" and event["job_status"] == "Succeeded"
    assert sum(1 for path in fake_domino.requests if path.endswith("job-future")) == 5

    fake_domino.statuses = ["Hibernating"] * 3 + ["Succeeded"]
    sensor = DominoJobSensor(task_id="sense", job_id="job-future", poke_interval=0.05)
    pokes = [sensor.poke({}) for _ in range(4)]
    assert pokes[:3] == [False, False, False]
    assert pokes[3].is_done and pokes[3].xcom_value["status"] == "Succeeded"

    warnings = [r.getMessage() for r in caplog.records if "Hibernating" in r.getMessage()]
    assert warnings == ["Unknown Domino job status 'Hibernating'; treating it as not finished"]


# --- Retry-After values that mean nothing ------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    [
        "soon",
        "-5",
        "nan",
        "1e999",
    ],
)
def test_invalid_retry_after_falls_back_to_backoff(domino_conn, emulator, retry_after):
    job_id = emulator.api(
        "POST",
        "/api/jobs/v1/jobs",
        json={
            "projectId": emulator.project_id("acme", "churn"),
            "runCommand": "true",
            "hardwareTier": "small-k8s",
        },
    ).json()["job"]["id"]
    emulator.set_faults(
        {
            "rules": [
                {
                    "endpoint": "get_job",
                    "sequence": [{"fault": "status", "status": 429, "retry_after": retry_after}] * 2,
                }
            ]
        }
    )
    emulator.clear_requests()
    hook = DominoHook(domino_conn)
    began = time.monotonic()
    assert hook.get_job(job_id).id == job_id
    elapsed = time.monotonic() - began
    assert [e["status"] for e in emulator.requests_log()] == [429, 429, 200]
    # Default backoff (README: exponential with jitter): the first retry waits 0.25-0.5 s, the second
    # 0.5-1 s, so 0.75-1.5 s in all; 0.5 s more covers three loopback requests on a loaded 2-core machine.
    assert 0.75 <= elapsed < 1.5 + 0.5, elapsed

    async def async_get() -> str:
        ahook = DominoHook(domino_conn)
        try:
            return (await ahook.aget_job(job_id)).id
        finally:
            await ahook.aclose()

    emulator.set_faults(
        {
            "rules": [
                {
                    "endpoint": "get_job",
                    "sequence": [{"fault": "status", "status": 429, "retry_after": retry_after}],
                }
            ]
        }
    )
    began = time.monotonic()
    assert asyncio.run(async_get()) == job_id
    elapsed = time.monotonic() - began
    # One retry: 0.25-0.5 s of backoff, plus 0.5 s for a new event loop, a client and two requests.
    assert 0.25 <= elapsed < 0.5 + 0.5, elapsed


# --- logs too big for a task log ----------------------------------------------------------------------

#: 48 lines of 1 MiB and a last 2 MiB line without a newline: a 50 MiB log.
HUGE_LOG_JOB = (
    'python -c "import sys; w = sys.stdout.write; '
    "[w('L%02d' % i + 'x' * (1048576 - 4) + chr(10)) for i in range(48)]; "
    "w('TAIL' + 'y' * (2 * 1048576 - 4))\""
)


@pytest.mark.e2e
def test_fifty_megabyte_log_with_megabyte_lines_is_streamed_shortened(run_dag, domino_conn, emulator):
    result = run_dag(
        "bad_input_huge_log",
        f"""
        DominoStartJobOperator(
            task_id="sync", command={HUGE_LOG_JOB!r}, hardware_tier_id="small", poll_interval=0.5,
        )
        DominoStartJobOperator(
            task_id="deferred", command={HUGE_LOG_JOB!r}, hardware_tier_id="small", poll_interval=0.5,
            deferrable=True,
        )
        """,
    )
    assert result.states() == {"sync": "success", "deferred": "success"}
    for task_id in ("sync", "deferred"):
        job_id = result.xcom(task_id, "job_id")
        text = task_output(result.output, task_id)
        lines = re.findall(rf"\[{re.escape(job_id)}\] (L\d\d|TAIL)x*y* … \[(\d+) more characters cut\]", text)
        assert [name for name, _ in lines[:48]] == [f"L{i:02d}" for i in range(48)]
        assert {cut for _, cut in lines[:48]} == {str(1048575 - 16384)}
        # The 2 MiB unterminated tail: cut into 1 MiB pieces while running or whole at the end; never lost.
        assert [name for name, _ in lines[48:]][:1] == ["TAIL"]
        assert max(len(line) for line in text.splitlines()) < 20_000
