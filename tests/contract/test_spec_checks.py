"""The contract checks themselves: spec-shaped traffic passes, each known drift fails.

These run in milliseconds and prove the other contract tests can fail: every shape the 0.1
provider and emulator used (the simplified reference's) is refused here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.openapi import ContractError, check_request, check_response, operation_for, operations

JOB_ID = "62313d207a0af0281c01a6a7"
PROJECT_ID = "623130ad7a0af0281c01a698"
GOAL_ID = "62313cfd7a0af0281c01a6a6"
METADATA = {"requestId": "bbd78579-93c4-45ee-a983-0d5c8da6d5b1", "notices": []}
STATUS = {"executionStatus": "Running", "isCompleted": False, "isArchived": False, "isScheduled": False}
JOB = {
    "id": JOB_ID,
    "number": 7,
    "runCommand": "python train.py",
    "status": STATUS,
    "stageTimes": {"submissionTime": "2022-03-12T02:13:44.467Z"},
    "commitDetails": {"inputCommitId": "f1dafe322c7d4a6720f652c330fe33b014720e46"},
    "dominoStats": [],
    "projects": [],
    "gitRepos": [],
    "datasetMounts": [],
    "externalVolumeMounts": [],
    "netAppVolumeMounts": [],
}
JOB_DETAILS = {**JOB, "tags": [], "goalIds": [], "commentsCount": 0}
FLAT_JOB = {"id": "job-456", "projectId": "project-123", "status": "Running", "command": "python train.py"}


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def test_both_specs_are_loaded_with_every_job_route() -> None:
    found = {(operation.method, operation.template) for operation in operations()}
    assert {
        ("POST", "/api/jobs/v1/jobs"),
        ("GET", "/api/jobs/beta/jobs/{jobId}"),
        ("GET", "/api/jobs/beta/jobs"),
        ("GET", "/api/jobs/beta/jobs/{jobId}/logs"),
        ("POST", "/api/jobs/v1/jobs/{jobId}/tags"),
        ("DELETE", "/api/jobs/v1/jobs/{jobId}/tags/{tagId}"),
        ("GET", "/api/jobs/v1/goals"),
        ("POST", "/api/jobs/v1/goals"),
        ("DELETE", "/api/jobs/v1/goals/{goalId}"),
        ("POST", "/v4/jobs/stop"),
        ("GET", "/v4/gateway/projects/findProjectByOwnerAndName"),
        ("GET", "/v4/projects/{projectId}"),
        ("GET", "/v4/projects/{projectId}/hardwareTiers"),
    } <= found
    operation, values = operation_for("DELETE", f"/api/jobs/v1/jobs/{JOB_ID}/tags/a%2Fb")
    assert operation.name == "removeJobTag" and values == {"jobId": JOB_ID, "tagId": "a/b"}


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("POST", "/api/jobs/v1/jobs", "", {"projectId": PROJECT_ID, "runCommand": "python train.py"}),
        (
            "POST",
            "/api/jobs/v1/jobs",
            "",
            {
                "projectId": PROJECT_ID,
                "runCommand": "python train.py",
                "hardwareTier": "small-k8s",
                "environmentId": "623131507a0af0281c01a699",
                "commitId": "960a4c99a4cc38194cbacbcce41caa68ba5369ea",
                "title": "nightly",
            },
        ),
        (
            "GET",
            "/api/jobs/beta/jobs",
            f"projectId={PROJECT_ID}&offset=0&limit=50&sortBy=number&ascending=false&statusFilter=active",
            None,
        ),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}/logs", "logType=stdOut&limit=10000&latestTimeNano=1", None),
        ("POST", f"/api/jobs/v1/jobs/{JOB_ID}/tags", "", {"tagName": "best", "projectId": PROJECT_ID}),
        ("DELETE", f"/api/jobs/v1/jobs/{JOB_ID}/tags/{GOAL_ID}", f"projectId={PROJECT_ID}", None),
        ("GET", "/api/jobs/v1/goals", f"jobId={JOB_ID}", None),
        ("POST", "/api/jobs/v1/goals", f"jobId={JOB_ID}", {"goalId": GOAL_ID}),
        ("DELETE", f"/api/jobs/v1/goals/{GOAL_ID}", f"jobId={JOB_ID}", None),
        ("POST", "/v4/jobs/stop", "", {"jobId": JOB_ID, "commitResults": True, "projectId": PROJECT_ID}),
        ("GET", "/v4/gateway/projects/findProjectByOwnerAndName", "ownerName=acme&projectName=churn", None),
        ("GET", f"/v4/projects/{PROJECT_ID}", "", None),
        ("GET", f"/v4/projects/{PROJECT_ID}/hardwareTiers", "", None),
    ],
)
def test_spec_shaped_requests_pass(method: str, path: str, query: str, body: Any) -> None:
    check_request(method, path, query, None if body is None else _body(body))


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "complaint"),
    [
        # The 0.1 start body: the simplified reference's field names.
        (
            "POST",
            "/api/jobs/v1/jobs",
            "",
            {"projectId": PROJECT_ID, "commandToRun": "x", "hardwareTierId": "small"},
            "runCommand",
        ),
        # A field NewJobV1 does not list.
        (
            "POST",
            "/api/jobs/v1/jobs",
            "",
            {"projectId": PROJECT_ID, "runCommand": "x", "isDirectHardwareTierId": True},
            "isDirectHardwareTierId",
        ),
        (
            "POST",
            "/api/jobs/v1/jobs",
            "",
            {"projectId": PROJECT_ID, "runCommand": "x", "title": None},
            "title",
        ),
        ("GET", "/api/jobs/beta/jobs", f"projectId={PROJECT_ID}&status=Running", None, "'status'"),
        ("GET", "/api/jobs/beta/jobs", f"projectId={PROJECT_ID}&statusFilter=Running", None, "statusFilter"),
        ("GET", "/api/jobs/beta/jobs", "limit=5", None, "projectId"),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}/logs", "logType=everything", None, "logType"),
        ("POST", f"/api/jobs/v1/jobs/{JOB_ID}/tags", "", {"name": "best"}, "tagName"),
        ("DELETE", f"/api/jobs/v1/jobs/{JOB_ID}/tags/{GOAL_ID}", "", None, "projectId"),
        ("GET", "/api/jobs/v1/goals", "", None, "jobId"),
        ("POST", "/api/jobs/v1/goals", "", {"jobId": JOB_ID, "goalId": GOAL_ID}, "jobId"),
        ("DELETE", f"/api/jobs/v1/goals/{GOAL_ID}", "", None, "jobId"),
        ("POST", "/v4/jobs/stop", "", {"jobId": JOB_ID}, "commitResults"),
        ("POST", "/v4/jobs/stop", "", {"jobId": "job-456", "commitResults": False}, "jobId"),
        ("GET", "/v4/projects/project-123", "", None, "projectId"),
        (
            "POST",
            "/api/jobs/v1/jobs/start",
            "",
            {"projectId": PROJECT_ID, "runCommand": "x"},
            "no such operation",
        ),
    ],
)
def test_drifted_requests_fail(method: str, path: str, query: str, body: Any, complaint: str) -> None:
    with pytest.raises(ContractError, match=complaint):
        check_request(method, path, query, None if body is None else _body(body))


@pytest.mark.parametrize(
    ("method", "path", "status", "payload"),
    [
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 200, {"job": JOB_DETAILS, "metadata": METADATA}),
        (
            "GET",
            "/api/jobs/beta/jobs",
            200,
            {
                "jobs": [JOB],
                "metadata": {
                    **METADATA,
                    "offset": 0,
                    "limit": 10,
                    "totalCount": 1,
                    "pagination": {"offset": 0, "limit": 10, "totalCount": 1},
                },
            },
        ),
        (
            "GET",
            f"/api/jobs/beta/jobs/{JOB_ID}/logs",
            200,
            {
                "logs": {
                    "logContent": [
                        {"log": "hi", "logType": "stdOut", "size": 2, "timestamp": "2022-03-12T02:13:51.616Z"}
                    ],
                    "isComplete": False,
                },
                "metadata": {
                    **METADATA,
                    "pagination": {"latestTimeNano": "1647051231616000000", "limit": 1000},
                },
            },
        ),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 404, {"error": "Job not found"}),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 401, {"errors": ["Invalid API key"], "requestId": "r-1"}),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 503, {"error": "Injected 503"}),
        ("GET", f"/v4/projects/{PROJECT_ID}", 404, {"message": "Project not found"}),
        ("DELETE", f"/api/jobs/v1/goals/{GOAL_ID}", 200, {"success": True, "metadata": METADATA}),
    ],
)
def test_spec_shaped_responses_pass(method: str, path: str, status: int, payload: Any) -> None:
    check_response(method, path, status, payload)


@pytest.mark.parametrize(
    ("method", "path", "status", "payload", "complaint"),
    [
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 200, FLAT_JOB, "'job' is a required property"),
        (
            "GET",
            f"/api/jobs/beta/jobs/{JOB_ID}",
            200,
            {"job": {**JOB_DETAILS, "status": "Running"}, "metadata": METADATA},
            "status",
        ),
        (
            "GET",
            f"/api/jobs/beta/jobs/{JOB_ID}",
            200,
            {"job": {**JOB_DETAILS, "title": None}, "metadata": METADATA},
            "title",
        ),
        (
            "GET",
            "/api/jobs/beta/jobs",
            200,
            {"data": [FLAT_JOB], "offset": 0, "limit": 50, "totalCount": 1},
            "'jobs' is a required property",
        ),
        (
            "GET",
            "/api/jobs/beta/jobs",
            200,
            {"jobs": [JOB], "metadata": {**METADATA, "offset": 0, "limit": 10}},
            "pagination",
        ),
        (
            "GET",
            f"/api/jobs/beta/jobs/{JOB_ID}/logs",
            200,
            {
                "logs": {"logContent": [{"log": "hi", "logType": "stdout", "size": 2, "timestamp": "x"}]},
                "metadata": METADATA,
            },
            "isComplete",
        ),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 404, {"message": "Job not found"}, "lacks"),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 401, {"error": "Invalid API key"}, "required"),
        ("GET", f"/v4/projects/{PROJECT_ID}", 404, {"error": "Project not found"}, "lacks"),
        ("GET", f"/api/jobs/beta/jobs/{JOB_ID}", 201, {}, "no 201"),
    ],
)
def test_drifted_responses_fail(method: str, path: str, status: int, payload: Any, complaint: str) -> None:
    with pytest.raises(ContractError, match=complaint):
        check_response(method, path, status, payload)
