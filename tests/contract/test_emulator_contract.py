"""Every answer of the emulator (published shapes, its default) matches Domino's spec.

Each operation of both vendored specs is called for real, on success and on its errors; each
request sent here is itself checked against the spec first (unless the test sends a bad one
on purpose), so the emulator is tested on the traffic a correct client produces.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from domino_emulator.harness import EmulatorProcess

from tests.contract.openapi import ContractError, check_request, check_response, operations

GOAL_ID = "62313cfd7a0af0281c01a6a6"
UNKNOWN_ID = "0123456789abcdef01234567"
#: (operationId, status) pairs answered and checked so far, for the coverage test at the end.
CHECKED: set[tuple[str, int]] = set()


def call(
    emulator: EmulatorProcess,
    method: str,
    path: str,
    expect: int,
    *,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
    spec_request: bool = True,
) -> Any:
    """Send one request, check it (unless ``spec_request`` is False) and its answer; return the JSON."""
    request = requests.Request(
        method, emulator.url + path, params=params, json=json, headers={**emulator.headers, **(headers or {})}
    ).prepare()
    url = requests.utils.urlparse(request.url)
    if spec_request:
        check_request(method, url.path, url.query or "", request.body)
    with requests.Session() as session:
        response = session.send(request, timeout=30)
    assert response.status_code == expect, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    payload = response.json()
    operation = check_response(method, url.path, response.status_code, payload)
    CHECKED.add((operation.name, response.status_code))
    return payload


def _start(emulator: EmulatorProcess, project_id: str, command: str, **fields: Any) -> dict[str, Any]:
    body = {"projectId": project_id, "runCommand": command, **fields}
    job: dict[str, Any] = call(emulator, "POST", "/api/jobs/v1/jobs", 200, json=body)["job"]
    return job


def _wait_finished(emulator: EmulatorProcess, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job: dict[str, Any] = call(emulator, "GET", f"/api/jobs/beta/jobs/{job_id}", 200)["job"]
        if job["status"]["isCompleted"] or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_start_details_list_and_logs(emulator: EmulatorProcess, project_id: str) -> None:
    job = _start(
        emulator, project_id, "echo out-line; echo err-line >&2", title="contract", hardwareTier="small-k8s"
    )
    assert job["status"]["executionStatus"] in ("Queued", "Running")
    done = _wait_finished(emulator, job["id"])
    assert done["status"] == {
        "executionStatus": "Succeeded",
        "isCompleted": True,
        "isArchived": False,
        "isScheduled": False,
    }
    listed = call(
        emulator,
        "GET",
        "/api/jobs/beta/jobs",
        200,
        params={
            "projectId": project_id,
            "offset": 0,
            "limit": 5,
            "sortBy": "number",
            "ascending": "false",
            "statusFilter": "completed",
        },
    )
    assert job["id"] in [item["id"] for item in listed["jobs"]]
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"
    for log_type, expected in (("stdOut", ["out-line"]), ("stdErr", ["err-line"]), ("complete", None)):
        logs = call(
            emulator, "GET", path, 200, params={"logType": log_type, "limit": 10_000, "latestTimeNano": "0"}
        )
        texts = [entry["log"] for entry in logs["logs"]["logContent"]]
        assert expected is None or texts == expected
    setup = call(emulator, "GET", path, 200)  # no logType: setup output only
    assert {entry["logType"] for entry in setup["logs"]["logContent"]} == {"prepareOutput"}

    call(emulator, "GET", f"/api/jobs/beta/jobs/{UNKNOWN_ID}", 404)
    call(emulator, "GET", f"/api/jobs/beta/jobs/{UNKNOWN_ID}/logs", 404, params={"logType": "stdOut"})
    call(emulator, "GET", "/api/jobs/beta/jobs", 404, params={"projectId": UNKNOWN_ID})
    call(
        emulator,
        "GET",
        "/api/jobs/beta/jobs",
        400,
        params={"projectId": project_id, "statusFilter": "done"},
        spec_request=False,
    )
    call(emulator, "GET", path, 400, params={"logType": "stdOut", "latestTimeNano": "yesterday"})
    call(emulator, "POST", "/api/jobs/v1/jobs", 404, json={"projectId": UNKNOWN_ID, "runCommand": "true"})
    call(
        emulator,
        "POST",
        "/api/jobs/v1/jobs",
        400,
        json={"projectId": project_id, "runCommand": "true", "hardwareTier": "Small"},
    )
    unlisted = call(
        emulator,
        "POST",
        "/api/jobs/v1/jobs",
        400,
        json={"projectId": project_id, "commandToRun": "true"},
        spec_request=False,
    )
    assert "commandToRun" in unlisted["error"]


def test_stop_and_v4_job(emulator: EmulatorProcess, project_id: str) -> None:
    job = _start(emulator, project_id, "sleep 30")
    stopped = call(
        emulator,
        "POST",
        "/v4/jobs/stop",
        200,
        json={"jobId": job["id"], "commitResults": False, "projectId": project_id},
    )
    assert stopped["statuses"]["executionStatus"] == "Stopped" and stopped["statuses"]["isCompleted"] is True
    again = call(emulator, "GET", f"/v4/jobs/{job['id']}", 200)
    assert again["id"] == job["id"] and again["projectId"] == project_id
    call(emulator, "GET", f"/v4/jobs/{UNKNOWN_ID}", 404)
    call(emulator, "POST", "/v4/jobs/stop", 404, json={"jobId": UNKNOWN_ID, "commitResults": True})
    call(emulator, "POST", "/v4/jobs/stop", 400, json={"jobId": job["id"]}, spec_request=False)


def test_tags_and_goals(emulator: EmulatorProcess, project_id: str) -> None:
    job = _start(emulator, project_id, "true")
    tags = f"/api/jobs/v1/jobs/{job['id']}/tags"
    tag = call(emulator, "POST", tags, 200, json={"tagName": "contract", "projectId": project_id})["tag"]
    details = call(emulator, "GET", f"/api/jobs/beta/jobs/{job['id']}", 200)["job"]
    assert details["tags"] == [tag]
    call(emulator, "POST", tags, 400, json={"tagName": "contract"}, spec_request=False)
    call(
        emulator,
        "POST",
        f"/api/jobs/v1/jobs/{UNKNOWN_ID}/tags",
        404,
        json={"tagName": "x", "projectId": project_id},
    )
    assert call(emulator, "DELETE", f"{tags}/{tag['id']}", 200, params={"projectId": project_id})["success"]
    call(emulator, "DELETE", f"{tags}/{tag['id']}", 404, params={"projectId": project_id})

    goals = "/api/jobs/v1/goals"
    linked = call(emulator, "POST", goals, 200, params={"jobId": job["id"]}, json={"goalId": GOAL_ID})["goal"]
    assert (linked["goalId"], linked["jobId"], linked["projectId"]) == (GOAL_ID, job["id"], project_id)
    listed = call(emulator, "GET", goals, 200, params={"jobId": job["id"]})["goals"]
    assert listed == [linked]
    details = call(emulator, "GET", f"/api/jobs/beta/jobs/{job['id']}", 200)["job"]
    assert details["goalIds"] == [GOAL_ID]
    call(emulator, "POST", goals, 400, params={"jobId": job["id"]}, json={"goalId": "goal-1"})
    call(emulator, "GET", goals, 404, params={"jobId": UNKNOWN_ID})
    call(emulator, "GET", goals, 400, spec_request=False)
    assert call(emulator, "DELETE", f"{goals}/{GOAL_ID}", 200, params={"jobId": job["id"]})["success"]
    call(emulator, "DELETE", f"{goals}/{GOAL_ID}", 404, params={"jobId": job["id"]})


def test_projects_and_tiers(emulator: EmulatorProcess, project_id: str) -> None:
    find = "/v4/gateway/projects/findProjectByOwnerAndName"
    found = call(emulator, "GET", find, 200, params={"ownerName": "acme", "projectName": "churn"})
    assert (found["id"], found["name"], found["owner"]["userName"]) == (project_id, "churn", "acme")
    call(emulator, "GET", find, 404, params={"ownerName": "acme", "projectName": "nope"})
    call(emulator, "GET", find, 400, params={"ownerName": "acme"}, spec_request=False)
    summary = call(emulator, "GET", f"/v4/projects/{project_id}", 200)
    assert (summary["ownerUsername"], summary["name"]) == ("acme", "churn")
    call(emulator, "GET", f"/v4/projects/{UNKNOWN_ID}", 404)
    tiers = call(emulator, "GET", f"/v4/projects/{project_id}/hardwareTiers", 200)
    assert all(item["hardwareTier"]["id"] != item["hardwareTier"]["name"] for item in tiers)
    call(emulator, "GET", f"/v4/projects/{UNKNOWN_ID}/hardwareTiers", 404)


def test_auth_and_injected_errors(emulator: EmulatorProcess, project_id: str) -> None:
    bad_key = {"X-Domino-Api-Key": "not-the-key"}
    unauthorised = call(
        emulator, "GET", "/api/jobs/beta/jobs", 401, params={"projectId": project_id}, headers=bad_key
    )
    assert unauthorised["errors"] and unauthorised["requestId"]
    call(emulator, "GET", f"/v4/projects/{project_id}", 401, headers=bad_key)
    emulator.set_faults(
        {
            "rules": [
                {"endpoint": "list_jobs", "fault": "status", "status": 403, "times": 1},
                {"endpoint": "list_jobs", "fault": "status", "status": 500, "times": 1},
                {"endpoint": "find_project", "fault": "status", "status": 500, "times": 1},
            ]
        }
    )
    call(emulator, "GET", "/api/jobs/beta/jobs", 403, params={"projectId": project_id})
    call(emulator, "GET", "/api/jobs/beta/jobs", 500, params={"projectId": project_id})
    call(
        emulator,
        "GET",
        "/v4/gateway/projects/findProjectByOwnerAndName",
        500,
        params={"ownerName": "a", "projectName": "b"},
    )


def test_every_operation_was_answered_and_checked(request: pytest.FixtureRequest) -> None:
    """Coverage of the tests above: every operation of both specs, each with a success and an error."""
    module_tests = [item for item in request.session.items if item.module is request.module]
    if len(module_tests) < len([name for name in globals() if name.startswith("test_")]):
        pytest.skip("coverage is only meaningful when the whole module runs")
    names = {operation.name for operation in operations()}
    assert {name for name, _ in CHECKED} == names
    for name in names:
        statuses = {status for checked, status in CHECKED if checked == name}
        assert any(status < 300 for status in statuses) and any(status >= 400 for status in statuses), (
            name,
            statuses,
        )


def test_flat_shapes_break_the_contract(tmp_path: Path) -> None:
    """The checks above would notice an emulator drifting back to the simplified reference."""
    with EmulatorProcess(flat_shapes=True, work_dir=tmp_path / "flat") as flat:
        project_id = flat.project_id("demo", "quickstart")
        body = {"projectId": project_id, "runCommand": "true"}
        started = flat.api("POST", "/api/jobs/v1/jobs", json=body)
        assert started.status_code == 200
        with pytest.raises(ContractError, match="'job' is a required property"):
            check_response("POST", "/api/jobs/v1/jobs", 200, started.json())
        missing = flat.api("GET", f"/api/jobs/beta/jobs/{UNKNOWN_ID}")
        with pytest.raises(ContractError, match="lacks"):
            check_response("GET", f"/api/jobs/beta/jobs/{UNKNOWN_ID}", missing.status_code, missing.json())
