"""Fault injection: every fault kind, rule selection, and seeded determinism."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
import requests

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

START = "/api/jobs/v1/jobs"


def _start_body(project_id: str, marker: str) -> dict[str, str]:
    return {"projectId": project_id, "runCommand": f"echo {marker}"}


def _jobs_with(emulator: EmulatorProcess, marker: str) -> list[dict[str, object]]:
    return [job for job in emulator.jobs() if job["command"] == f"echo {marker}"]


def _get_job_statuses(emulator: EmulatorProcess, job_id: str, count: int) -> list[int]:
    return [emulator.api("GET", f"/api/jobs/beta/jobs/{job_id}").status_code for _ in range(count)]


@pytest.fixture
def job_id(emulator: EmulatorProcess, project_id: str) -> str:
    response = emulator.api("POST", START, json=_start_body(project_id, "fixture"))
    return str(response.json()["job"]["id"])


def test_status_fault_answers_without_processing(emulator: EmulatorProcess, project_id: str) -> None:
    emulator.set_faults(
        {
            "rules": [
                {"endpoint": "start_job", "fault": "status", "status": 429, "retry_after": "soon", "times": 1}
            ]
        }
    )
    marker = uuid.uuid4().hex
    limited = emulator.api("POST", START, json=_start_body(project_id, marker))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "soon"  # verbatim, even when not a valid value
    assert limited.json() == {"error": "Injected 429"}
    assert _jobs_with(emulator, marker) == []

    accepted = emulator.api("POST", START, json=_start_body(project_id, marker))
    assert accepted.status_code == 200
    assert len(_jobs_with(emulator, marker)) == 1
    faults = [entry["fault"] for entry in emulator.requests_log()[-2:]]
    assert faults == ["status", None]


def test_latency_delays_one_request_without_blocking_others(
    emulator: EmulatorProcess, project_id: str, job_id: str
) -> None:
    latency = 1.0
    emulator.set_faults({"rules": [{"endpoint": "get_job", "fault": "latency", "seconds": latency}]})
    timings: dict[str, float] = {}

    def slow() -> None:
        began = time.monotonic()
        response = emulator.api("GET", f"/api/jobs/beta/jobs/{job_id}")
        timings["slow"] = time.monotonic() - began
        timings["status"] = response.status_code

    # Other requests are sent back to back for as long as the slow one is out, so some of them reach the
    # server while it holds the slow one, whenever that happens (no sleep guesses when it has arrived).
    # Had the delay blocked the server, the one arriving next would have waited most of the second.
    thread = threading.Thread(target=slow)
    fast: list[tuple[int, float]] = []
    with requests.Session() as other:
        thread.start()
        while thread.is_alive():
            began = time.monotonic()
            response = other.get(
                f"{emulator.url}/api/jobs/beta/jobs",
                params={"projectId": project_id},
                headers=emulator.headers,
                timeout=10,
            )
            fast.append((response.status_code, time.monotonic() - began))
            time.sleep(
                0.02
            )  # pacing only (about 50 requests, not 1,500): any gap far below the delay will do
    thread.join()
    assert timings["status"] == 200 and timings["slow"] >= latency
    assert len(fast) >= 2 and {status for status, _ in fast} == {200}
    # A list answer takes milliseconds (up to 0.2 s seen on a loaded 2-core machine); one held behind the
    # delay would take most of the second. Half the delay tells the two apart.
    assert max(took for _, took in fast) < latency / 2, fast


def test_drop_processes_the_request_then_hangs_up(emulator: EmulatorProcess, project_id: str) -> None:
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop", "times": 2}]})
    marker = uuid.uuid4().hex
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{emulator.url}{START}",
            json=_start_body(project_id, marker),
            headers=emulator.headers,
            timeout=10,
        )
    with pytest.raises(httpx.TransportError), httpx.Client(timeout=10) as client:
        client.post(f"{emulator.url}{START}", json=_start_body(project_id, marker), headers=emulator.headers)
    # Both requests were processed: the ambiguous case a client cannot tell from a lost request.
    assert len(_jobs_with(emulator, marker)) == 2
    entries = emulator.requests_log()[-2:]
    assert [(entry["status"], entry["fault"]) for entry in entries] == [("dropped", "drop")] * 2
    assert emulator.api("POST", START, json=_start_body(project_id, marker)).status_code == 200
    assert "ASGI callable" not in emulator.output() and "Traceback" not in emulator.output()


def test_drop_before_does_not_process(emulator: EmulatorProcess, project_id: str) -> None:
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop_before", "times": 1}]})
    marker = uuid.uuid4().hex
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{emulator.url}{START}",
            json=_start_body(project_id, marker),
            headers=emulator.headers,
            timeout=10,
        )
    assert _jobs_with(emulator, marker) == []
    assert emulator.requests_log()[-1]["fault"] == "drop_before"


def test_sequence_is_consumed_per_matching_request(emulator: EmulatorProcess, job_id: str) -> None:
    emulator.set_faults(
        {
            "rules": [
                {
                    "endpoint": "get_job",
                    "sequence": [
                        {"fault": "status", "status": 503},
                        None,
                        {"fault": "status", "status": 503},
                    ],
                }
            ]
        }
    )
    emulator.api("GET", "/api/jobs/v1/goals")  # another endpoint does not consume the sequence
    assert _get_job_statuses(emulator, job_id, 5) == [503, 200, 503, 200, 200]


def test_skip_times_and_first_firing_rule_wins(emulator: EmulatorProcess, job_id: str) -> None:
    emulator.set_faults(
        {
            "rules": [
                {"endpoint": "get_job", "fault": "status", "status": 500, "probability": 0.0},
                {"endpoint": "get_job", "fault": "status", "status": 502, "skip": 1, "times": 2},
                {"endpoint": "*", "fault": "status", "status": 504, "times": 1},
            ]
        }
    )
    assert _get_job_statuses(emulator, job_id, 5) == [504, 502, 502, 200, 200]
    assert emulator.jobs()  # admin endpoints are never faulted


def test_probability_is_seeded_and_deterministic(emulator: EmulatorProcess, job_id: str) -> None:
    config = {
        "seed": 42,
        "rules": [
            {"endpoint": "list_goals", "fault": "status", "status": 500},  # rule 0: other endpoint
            {"endpoint": "get_job", "fault": "status", "status": 503, "probability": 0.5},
        ],
    }
    emulator.set_faults(config)
    first = _get_job_statuses(emulator, job_id, 30)
    emulator.set_faults(config)  # replacing the configuration restarts every rule's random stream
    second = _get_job_statuses(emulator, job_id, 30)
    assert first == second
    assert {200, 503} <= set(first)
    rng = random.Random(42 + 1)  # each rule draws from Random(seed + rule_index)
    assert first == [503 if rng.random() < 0.5 else 200 for _ in range(30)]


def test_fault_configuration_round_trip_and_validation(emulator: EmulatorProcess) -> None:
    config = {
        "seed": 3,
        "ignore_range": False,
        "rules": [{"endpoint": "get_job", "fault": "drop", "times": 1}],
    }
    emulator.set_faults(config)
    assert emulator.api("GET", "/_emulator/faults").json() == config
    for bad in (
        {"rules": [{"endpoint": "nope", "fault": "drop"}]},
        {"rules": [{"endpoint": "get_job", "fault": "explode"}]},
        {"rules": [{"endpoint": "get_job", "fault": "status", "status": 42}]},
        {"rules": "all"},
    ):
        response = emulator.api("PUT", "/_emulator/faults", json=bad)
        assert response.status_code == 400, bad
    assert emulator.api("GET", "/_emulator/faults").json() == config
