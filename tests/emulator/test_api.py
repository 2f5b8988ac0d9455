"""Published shapes: request validation, tiers, listing (filters, sorting, lag), tags, goals, projects."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.emulator.helpers import MAX_CONCURRENT_PER_TIER, start_job
from tests.waiting import wait_until

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

START = "/api/jobs/v1/jobs"
JOBS = "/api/jobs/beta/jobs"
GOAL_ID = "62313cfd7a0af0281c01a6a6"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def _body(project_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"projectId": project_id, "runCommand": "true", "hardwareTier": "small-k8s"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize("field", ["projectId", "runCommand"])
def test_missing_or_blank_required_field_is_400(
    emulator: EmulatorProcess, project_id: str, field: str
) -> None:
    for value in (None, "  "):
        response = emulator.api("POST", START, json=_body(project_id, **{field: value}))
        assert response.status_code == 400
        assert response.json() == {"error": f"Missing required field '{field}'"}


@pytest.mark.parametrize(
    "field", ["commandToRun", "hardwareTierId", "isDirectHardwareTierId", "projectName", "environment"]
)
def test_fields_new_job_v1_does_not_list_are_refused(
    emulator: EmulatorProcess, project_id: str, field: str
) -> None:
    before = len(emulator.jobs())
    response = emulator.api("POST", START, json=_body(project_id, **{field: "x"}))
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith(f"Unknown field '{field}': NewJobV1 accepts only ")
    assert "runCommand" in message and "hardwareTier" in message
    assert len(emulator.jobs()) == before


def test_listed_fields_of_the_wrong_type_are_refused(emulator: EmulatorProcess, project_id: str) -> None:
    for field, value, kind in (
        ("title", None, "a string"),
        ("title", 7, "a string"),
        ("snapshotDatasetsOnCompletion", "yes", "true or false"),
        ("externalVolumeMountIds", "a", "an array"),
        ("mainRepoGitRef", "main", "an object"),
    ):
        body = {**_body(project_id), field: value}
        response = emulator.api("POST", START, json=body)
        assert response.status_code == 400, (field, value)
        assert response.json() == {"error": f"Field '{field}' must be {kind}"}
    # Every field the spec lists is accepted (the emulator ignores what it cannot emulate).
    accepted = _body(
        project_id,
        title="all fields",
        environmentId="623131507a0af0281c01a699",
        capacityType="on-demand",
        environmentRevisionSpec="ActiveRevision",
        externalVolumeMountIds=[],
        netAppVolumeIds=[],
        mainRepoGitRef={"refType": "head"},
        snapshotDatasetsOnCompletion=False,
        snapshotNetAppVolumesOnCompletion=False,
    )
    assert emulator.api("POST", START, json=accepted).status_code == 200


def test_start_answers_the_job_envelope(emulator: EmulatorProcess, project_id: str) -> None:
    response = emulator.api("POST", START, json=_body(project_id, title="envelope"))
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"job", "metadata"}
    assert set(answer["metadata"]) == {"requestId", "notices"}
    job = answer["job"]
    assert OBJECT_ID.match(job["id"])
    assert job["runCommand"] == "true" and job["title"] == "envelope"
    assert job["status"] == {
        "executionStatus": "Queued",
        "isCompleted": False,
        "isArchived": False,
        "isScheduled": False,
    }
    assert set(job["stageTimes"]) == {"submissionTime"}
    assert set(job["commitDetails"]) == {"inputCommitId"}
    assert job["tags"] == [] and job["goalIds"] == [] and isinstance(job["number"], int)
    assert "projectId" not in job  # published jobs do not name their project
    later = start_job(emulator, project_id, "true")
    assert later["number"] == job["number"] + 1
    assert "title" not in later  # no title: left out, never null


def test_unknown_project_is_404(emulator: EmulatorProcess) -> None:
    response = emulator.api("POST", START, json=_body("0123456789abcdef01234567"))
    assert response.status_code == 404
    assert response.json() == {"error": "Project '0123456789abcdef01234567' not found"}


def test_hardware_tier_must_be_an_id_of_the_project(emulator: EmulatorProcess, project_id: str) -> None:
    by_id = start_job(emulator, project_id, "true", hardwareTier="gpu-small-k8s")
    assert emulator.get_job(by_id["id"])["hardwareTierId"] == "gpu-small-k8s"
    default = emulator.api("POST", START, json={"projectId": project_id, "runCommand": "true"})
    assert emulator.get_job(default.json()["job"]["id"])["hardwareTierId"] == "small-k8s"

    before = len(emulator.jobs())
    for name in ("Small", "small", "GPU Small"):
        response = emulator.api("POST", START, json=_body(project_id, hardwareTier=name))
        assert response.status_code == 400
        assert response.json() == {
            "error": f"Hardware tier '{name}' is not a hardware tier id of project {project_id}. "
            "Available ids: small-k8s (Small), medium-k8s (Medium), large-k8s (Large), "
            "gpu-small-k8s (GPU Small)"
        }
    assert len(emulator.jobs()) == before


def test_hardware_tiers_route(emulator: EmulatorProcess, project_id: str) -> None:
    response = emulator.api("GET", f"/v4/projects/{project_id}/hardwareTiers")
    assert response.status_code == 200
    tiers = response.json()
    assert [(item["hardwareTier"]["id"], item["hardwareTier"]["name"]) for item in tiers] == [
        ("small-k8s", "Small"),
        ("medium-k8s", "Medium"),
        ("large-k8s", "Large"),
        ("gpu-small-k8s", "GPU Small"),
    ]
    assert [item["hardwareTier"]["hwtFlags"]["isDefault"] for item in tiers] == [True, False, False, False]
    assert all(set(item) == {"hardwareTier", "capacity", "dataPlane"} for item in tiers)
    assert tiers[0]["capacity"]["maximumConcurrentRuns"] == MAX_CONCURRENT_PER_TIER
    missing = emulator.api("GET", "/v4/projects/0123456789abcdef01234567/hardwareTiers")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Project '0123456789abcdef01234567' not found"}


def test_malformed_bodies(emulator: EmulatorProcess, project_id: str) -> None:
    not_json = emulator.api("POST", START, data=b"{not json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
    a_list = emulator.api("POST", START, json=[1, 2])
    assert a_list.status_code == 400 and a_list.json() == {"error": "Request body must be a JSON object"}

    huge = emulator.api("POST", START, json=_body(project_id, runCommand="x" * (1024 * 1024 + 1)))
    assert huge.status_code == 413
    assert "limit" in huge.json()["error"]


def test_percent_encoded_job_id_is_one_segment(emulator: EmulatorProcess) -> None:
    response = emulator.api("GET", "/api/jobs/beta/jobs/..%2Fjobs%3Fx%3D1%23y")
    assert response.status_code == 404
    assert response.json() == {"error": "Job '../jobs?x=1#y' not found"}
    logs = emulator.api("GET", "/api/jobs/beta/jobs/a%2Fb/logs")
    assert logs.status_code == 404 and logs.json() == {"error": "Job 'a/b' not found"}
    entry = emulator.requests_log()[-2]
    assert entry["path"] == "/api/jobs/beta/jobs/..%2Fjobs%3Fx%3D1%23y"
    assert entry["endpoint"] == "get_job"


def _listed(emulator: EmulatorProcess, project_id: str, **params: Any) -> dict[str, Any]:
    response = emulator.api("GET", JOBS, params={"projectId": project_id, **params})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_list_pagination_order_filters_and_sorting(emulator: EmulatorProcess) -> None:
    reports = emulator.project_id("acme", "reports")
    jobs = [
        start_job(emulator, reports, command, title=title)
        for command, title in (("exit 0", "b"), ("exit 1", "c"), ("exit 0", "a"))
    ]
    for job in jobs:
        emulator.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=10)
    newest_first = [job["id"] for job in reversed(jobs)]

    everything = _listed(emulator, reports)
    assert [job["id"] for job in everything["jobs"]] == newest_first
    metadata = everything["metadata"]
    assert (metadata["offset"], metadata["limit"], metadata["totalCount"]) == (0, 10, 3)
    assert metadata["pagination"] == {"offset": 0, "limit": 10, "totalCount": 3}
    assert {"requestId", "notices"} <= set(metadata)
    item = everything["jobs"][0]
    assert item["status"]["isCompleted"] is True and "tags" not in item  # JobV1, not JobDetailsV1

    page = _listed(emulator, reports, offset=1, limit=1)
    assert [job["id"] for job in page["jobs"]] == newest_first[1:2]
    assert page["metadata"]["totalCount"] == 3

    oldest_first = _listed(emulator, reports, sortBy="number", ascending="true")
    assert [job["id"] for job in oldest_first["jobs"]] == newest_first[::-1]
    by_title = _listed(emulator, reports, sortBy="title", ascending="true")
    assert [job["title"] for job in by_title["jobs"]] == ["a", "b", "c"]

    completed = _listed(emulator, reports, statusFilter="completed")
    assert completed["metadata"]["totalCount"] == 3
    for status_filter in ("queued", "running", "active", "archived"):
        assert _listed(emulator, reports, statusFilter=status_filter)["jobs"] == []

    emulator.api(
        "POST", f"/api/jobs/v1/jobs/{jobs[1]['id']}/tags", json={"tagName": "keep", "projectId": reports}
    )
    tagged = _listed(emulator, reports, tagFilter="keep")
    assert [job["id"] for job in tagged["jobs"]] == [jobs[1]["id"]]

    assert _listed(emulator, reports, limit=10_000)["metadata"]["limit"] == 500
    for params in (
        {},
        {"projectId": reports, "offset": "-1"},
        {"projectId": reports, "limit": "ten"},
        {"projectId": reports, "statusFilter": "Running"},
        {"projectId": reports, "sortBy": "colour"},
        {"projectId": reports, "ascending": "yes"},
    ):
        response = emulator.api("GET", JOBS, params=params)
        assert response.status_code == 400, params
        assert set(response.json()) == {"error"}
    unknown = emulator.api("GET", JOBS, params={"projectId": "0123456789abcdef01234567"})
    assert unknown.status_code == 404


def test_active_and_running_filters(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "sleep 30")
    emulator.wait_for_status(job["id"], "Running", timeout=10)
    assert job["id"] in [item["id"] for item in _listed(emulator, project_id, statusFilter="running")["jobs"]]
    assert job["id"] in [item["id"] for item in _listed(emulator, project_id, statusFilter="active")["jobs"]]
    completed = _listed(emulator, project_id, statusFilter="completed", limit=500)["jobs"]
    assert job["id"] not in [item["id"] for item in completed]


def test_list_lags_behind_a_start(emulator: EmulatorProcess) -> None:
    reports = emulator.project_id("acme", "reports")
    lag = 1.5
    emulator.set_list_lag(lag)
    try:
        assert emulator.settings()["listLagSeconds"] == lag
        before = _listed(emulator, reports)["metadata"]["totalCount"]
        began = time.monotonic()
        job = start_job(emulator, reports, "true")
        assert emulator.api_job(job["id"])["job"]["id"] == job["id"]  # details know it at once
        hidden = _listed(emulator, reports)
        assert job["id"] not in [item["id"] for item in hidden["jobs"]]
        assert hidden["metadata"]["totalCount"] == before
        wait_until(
            lambda: job["id"] in [item["id"] for item in _listed(emulator, reports)["jobs"]],
            lag + 0.5,
            "the job listed",
        )
        # Listed once the lag has passed, and soon after: polled every 20 ms, 0.5 s of margin for a loaded
        # 2-core machine.
        took = time.monotonic() - began
        assert lag <= took < lag + 0.5, took
        assert _listed(emulator, reports)["metadata"]["totalCount"] == before + 1
    finally:
        emulator.set_list_lag(0)
    bad = emulator.api("PATCH", "/_emulator/settings", json={"listLagSeconds": -1})
    assert bad.status_code == 400


def test_tags(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "true")
    path = f"/api/jobs/v1/jobs/{job['id']}/tags"
    answer = emulator.api("POST", path, json={"tagName": "best-model", "projectId": project_id}).json()
    assert set(answer) == {"tag", "metadata"}
    tag = answer["tag"]
    assert tag["name"] == "best-model" and OBJECT_ID.match(tag["id"]) and OBJECT_ID.match(tag["creatorId"])
    assert tag["createdAt"].endswith("Z")
    again = emulator.api("POST", path, json={"tagName": "best-model", "projectId": project_id}).json()
    assert again["tag"] == tag
    assert emulator.api_job(job["id"])["job"]["tags"] == [tag]
    assert emulator.get_job(job["id"])["tags"] == [{"id": tag["id"], "name": "best-model"}]

    for body in ({}, {"name": "best-model"}, {"tagName": "x"}, {"projectId": project_id}):
        response = emulator.api("POST", path, json=body)
        assert response.status_code == 400 and "error" in response.json(), body
    other_project = emulator.project_id("acme", "reports")
    wrong = emulator.api("POST", path, json={"tagName": "x", "projectId": other_project})
    assert wrong.status_code == 400 and other_project in wrong.json()["error"]
    missing_job = emulator.api(
        "POST",
        "/api/jobs/v1/jobs/0123456789abcdef01234567/tags",
        json={"tagName": "x", "projectId": project_id},
    )
    assert missing_job.status_code == 404

    no_project = emulator.api("DELETE", f"{path}/{tag['id']}")
    assert no_project.status_code == 400
    assert no_project.json() == {"error": "Missing required query parameter 'projectId'"}
    removed = emulator.api("DELETE", f"{path}/{tag['id']}", params={"projectId": project_id})
    assert removed.status_code == 200
    assert removed.json()["success"] is True and set(removed.json()) == {"success", "metadata"}
    assert emulator.api_job(job["id"])["job"]["tags"] == []
    assert emulator.api("DELETE", f"{path}/{tag['id']}", params={"projectId": project_id}).status_code == 404


def test_goals(emulator: EmulatorProcess, project_id: str) -> None:
    first = start_job(emulator, project_id, "true")
    second = start_job(emulator, project_id, "true")
    goals = "/api/jobs/v1/goals"
    linked = emulator.api("POST", goals, params={"jobId": first["id"]}, json={"goalId": GOAL_ID}).json()
    assert set(linked) == {"goal", "metadata"}
    goal = linked["goal"]
    assert (goal["goalId"], goal["jobId"], goal["projectId"]) == (GOAL_ID, first["id"], project_id)
    assert goal["title"] and goal["currentStage"]
    again = emulator.api("POST", goals, params={"jobId": first["id"]}, json={"goalId": GOAL_ID}).json()
    assert again["goal"] == goal  # idempotent
    emulator.api("POST", goals, params={"jobId": second["id"]}, json={"goalId": GOAL_ID})

    listed = emulator.api("GET", goals, params={"jobId": first["id"]}).json()
    assert listed["goals"] == [goal] and "metadata" in listed
    assert emulator.api_job(first["id"])["job"]["goalIds"] == [GOAL_ID]

    for params, body, status in (
        ({}, {"goalId": GOAL_ID}, 400),  # jobId belongs in the query
        ({}, {"jobId": first["id"], "goalId": GOAL_ID}, 400),
        ({"jobId": first["id"]}, {"goalId": "goal-1"}, 400),  # goal ids are ObjectIds
        ({"jobId": "0123456789abcdef01234567"}, {"goalId": GOAL_ID}, 404),
    ):
        response = emulator.api("POST", goals, params=params, json=body)
        assert response.status_code == status, (params, body)
        assert "error" in response.json()
    assert emulator.api("GET", goals).status_code == 400
    assert emulator.api("GET", goals, params={"jobId": "0123456789abcdef01234567"}).status_code == 404

    assert emulator.api("DELETE", f"{goals}/{GOAL_ID}").status_code == 400
    only_first = emulator.api("DELETE", f"{goals}/{GOAL_ID}", params={"jobId": first["id"]})
    assert only_first.status_code == 200 and only_first.json()["success"] is True
    assert emulator.api("GET", goals, params={"jobId": first["id"]}).json()["goals"] == []
    assert emulator.api("GET", goals, params={"jobId": second["id"]}).json()["goals"] != []
    again_gone = emulator.api("DELETE", f"{goals}/{GOAL_ID}", params={"jobId": first["id"]})
    assert again_gone.status_code == 404


def test_find_project_and_project_summary(emulator: EmulatorProcess, project_id: str) -> None:
    path = "/v4/gateway/projects/findProjectByOwnerAndName"
    found = emulator.api("GET", path, params={"ownerName": "acme", "projectName": "churn"}).json()
    assert (found["id"], found["name"]) == (project_id, "churn")
    assert found["owner"]["userName"] == "acme" and OBJECT_ID.match(found["owner"]["id"])
    assert (found["hardwareTierId"], found["hardwareTierName"]) == ("small-k8s", "Small")
    missing = emulator.api("GET", path, params={"ownerName": "acme", "projectName": "nope"})
    assert missing.status_code == 404
    assert missing.json() == {"message": "Project 'acme/nope' not found"}
    assert emulator.api("GET", path, params={"ownerName": "acme"}).status_code == 400

    summary = emulator.api("GET", f"/v4/projects/{project_id}").json()
    assert (summary["id"], summary["name"], summary["ownerUsername"]) == (project_id, "churn", "acme")
    assert summary["ownerId"] == found["owner"]["id"]
    gone = emulator.api("GET", "/v4/projects/0123456789abcdef01234567")
    assert gone.status_code == 404 and gone.json() == {
        "message": "Project '0123456789abcdef01234567' not found"
    }


def test_unknown_route_answers_json(emulator: EmulatorProcess) -> None:
    response = emulator.api("GET", "/api/nothing-here")
    assert response.status_code == 404 and "error" in response.json()
    v4 = emulator.api("GET", "/v4/nothing-here")
    assert v4.status_code == 404 and "message" in v4.json()
