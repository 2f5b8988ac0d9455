"""Authentication, the in-run proxy listener, and the request log's secrecy."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

JOBS = "/api/jobs/beta/jobs"


def test_requests_need_a_valid_key(emulator: EmulatorProcess, project_id: str) -> None:
    url = f"{emulator.url}{JOBS}"
    params = {"projectId": project_id}
    missing = requests.get(url, params=params, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["errors"] == ["Missing API key: send X-Domino-Api-Key"]  # FailureEnvelopeV1
    assert missing.json()["requestId"]
    v4 = requests.get(
        f"{emulator.url}/v4/projects/{project_id}", headers={"X-Domino-Api-Key": "nope"}, timeout=10
    )
    assert v4.status_code == 401 and v4.json() == {"message": "Invalid API key"}  # the v4 spec's shape
    wrong = requests.get(url, params=params, headers={"X-Domino-Api-Key": "nope"}, timeout=10)
    assert wrong.status_code == 401
    wrong_bearer = requests.get(url, params=params, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong_bearer.status_code == 401
    assert requests.get(f"{emulator.url}/_emulator/requests", timeout=10).status_code == 401

    by_header = requests.get(url, params=params, headers={"X-Domino-Api-Key": emulator.api_key}, timeout=10)
    assert by_header.status_code == 200
    by_bearer = requests.get(
        url, params=params, headers={"Authorization": f"Bearer {emulator.api_key}"}, timeout=10
    )
    assert by_bearer.status_code == 200


def test_proxy_port_needs_no_auth_and_shares_state(emulator: EmulatorProcess, project_id: str) -> None:
    assert emulator.proxy_url and emulator.proxy_url != emulator.url
    started = requests.post(
        f"{emulator.proxy_url}/api/jobs/v1/jobs",
        json={"projectId": project_id, "runCommand": "true"},
        timeout=10,
    )
    assert started.status_code == 200
    job_id = started.json()["job"]["id"]
    assert emulator.get_job(job_id)["id"] == job_id


def test_request_log_records_auth_kind_and_never_the_key(emulator: EmulatorProcess, project_id: str) -> None:
    emulator.clear_requests()
    url = f"{emulator.url}{JOBS}"
    requests.get(url, params={"projectId": project_id}, timeout=10)
    requests.get(url, params={"projectId": project_id}, headers={"X-Domino-Api-Key": "wrong"}, timeout=10)
    requests.get(
        url, params={"projectId": project_id}, headers={"X-Domino-Api-Key": emulator.api_key}, timeout=10
    )
    requests.get(
        url,
        params={"projectId": project_id},
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        timeout=10,
    )
    requests.get(f"{emulator.proxy_url}{JOBS}", params={"projectId": project_id}, timeout=10)
    requests.get(url, params={"projectId": project_id, "token": emulator.api_key}, timeout=10)
    emulator.jobs()  # admin requests are not recorded

    entries = emulator.requests_log()
    assert [entry["auth"] for entry in entries] == ["none", "invalid", "api_key", "bearer", "proxy", "none"]
    assert [entry["status"] for entry in entries] == [401, 401, 200, 200, 200, 401]
    assert {entry["endpoint"] for entry in entries} == {"list_jobs"}
    first = entries[0]
    assert set(first) == {
        "seq",
        "time",
        "method",
        "path",
        "query",
        "endpoint",
        "status",
        "auth",
        "fault",
        "body",
    }
    assert first["path"] == JOBS and first["query"] == f"projectId={project_id}" and first["fault"] is None
    assert first["body"] is None
    assert emulator.api_key not in json.dumps(entries)
    assert "wrong" not in json.dumps(entries)

    body = {"projectId": project_id, "runCommand": f"echo {emulator.api_key}", "title": "body"}
    emulator.api("POST", "/api/jobs/v1/jobs", json=body)
    recorded = emulator.requests_log()[-1]
    assert recorded["endpoint"] == "start_job" and recorded["body"] is not None
    assert json.loads(recorded["body"]) == {**body, "runCommand": "echo ***"}  # the key is masked

    emulator.clear_requests()
    assert emulator.requests_log() == []


def test_keys_can_be_replaced_at_run_time(emulator: EmulatorProcess, project_id: str) -> None:
    old_key = emulator.api_key
    emulator.set_keys(["rotated-key", "second-key"])
    url = f"{emulator.url}{JOBS}"
    params = {"projectId": project_id}
    assert (
        requests.get(url, params=params, headers={"X-Domino-Api-Key": old_key}, timeout=10).status_code == 401
    )
    for key in ("rotated-key", "second-key"):
        assert (
            requests.get(url, params=params, headers={"X-Domino-Api-Key": key}, timeout=10).status_code == 200
        )
    emulator.set_keys([old_key])
    assert (
        requests.get(url, params=params, headers={"X-Domino-Api-Key": old_key}, timeout=10).status_code == 200
    )
