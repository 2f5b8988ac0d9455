"""Request validation, listing, tags, goals and project lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.emulator.helpers import start_job

if TYPE_CHECKING:
    from airflow_provider_domino.emulator.harness import EmulatorProcess

START = "/api/jobs/v1/jobs"


def _body(project_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"projectId": project_id, "commandToRun": "true", "hardwareTierId": "small"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize("field", ["projectId", "commandToRun", "hardwareTierId"])
def test_missing_or_blank_required_field_is_400(
    emulator: EmulatorProcess, project_id: str, field: str
) -> None:
    for value in (None, "  "):
        response = emulator.api("POST", START, json=_body(project_id, **{field: value}))
        assert response.status_code == 400
        assert response.json() == {"message": f"Missing required field '{field}'"}


def test_unknown_project_is_404(emulator: EmulatorProcess) -> None:
    response = emulator.api("POST", START, json=_body("no-such-project"))
    assert response.status_code == 404
    assert response.json() == {"message": "Project 'no-such-project' not found"}


def test_hardware_tier_by_id_or_name(emulator: EmulatorProcess, project_id: str) -> None:
    by_name = emulator.api("POST", START, json=_body(project_id, hardwareTierId="gpu SMALL"))
    assert by_name.status_code == 200
    assert by_name.json()["hardwareTierId"] == "gpu-small"

    direct_name = emulator.api(
        "POST", START, json=_body(project_id, hardwareTierId="GPU Small", isDirectHardwareTierId=True)
    )
    assert direct_name.status_code == 400
    direct_id = emulator.api(
        "POST", START, json=_body(project_id, hardwareTierId="gpu-small", isDirectHardwareTierId=True)
    )
    assert direct_id.status_code == 200 and direct_id.json()["isDirectHardwareTierId"] is True

    unknown = emulator.api("POST", START, json=_body(project_id, hardwareTierId="huge"))
    assert unknown.status_code == 400
    assert unknown.json() == {
        "message": "Hardware tier 'huge' does not exist. Available: small, medium, large, gpu-small"
    }


def test_malformed_bodies(emulator: EmulatorProcess, project_id: str) -> None:
    not_json = emulator.api("POST", START, data=b"{not json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
    a_list = emulator.api("POST", START, json=[1, 2])
    assert a_list.status_code == 400
    bad_flag = emulator.api("POST", START, json=_body(project_id, isDirectHardwareTierId="yes"))
    assert bad_flag.status_code == 400 and "isDirectHardwareTierId" in bad_flag.json()["message"]

    huge = emulator.api("POST", START, json=_body(project_id, commandToRun="x" * (1024 * 1024 + 1)))
    assert huge.status_code == 413
    assert "limit" in huge.json()["message"]


def test_percent_encoded_job_id_is_one_segment(emulator: EmulatorProcess) -> None:
    response = emulator.api("GET", "/api/jobs/beta/jobs/..%2Fjobs%3Fx%3D1%23y")
    assert response.status_code == 404
    assert response.json() == {"message": "Job '../jobs?x=1#y' not found"}
    logs = emulator.api("GET", "/api/jobs/beta/jobs/a%2Fb/logs")
    assert logs.status_code == 404 and logs.json() == {"message": "Job 'a/b' not found"}
    entry = emulator.requests_log()[-2]
    assert entry["path"] == "/api/jobs/beta/jobs/..%2Fjobs%3Fx%3D1%23y"
    assert entry["endpoint"] == "get_job"


def test_list_jobs_pagination_order_and_filter(emulator: EmulatorProcess) -> None:
    reports = emulator.project_id("acme", "reports")
    jobs = [start_job(emulator, reports, command) for command in ("exit 0", "exit 1", "exit 0")]
    for job in jobs:
        emulator.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=10)
    newest_first = [job["id"] for job in reversed(jobs)]

    everything = emulator.api("GET", "/api/jobs/beta/jobs", params={"projectId": reports}).json()
    assert [job["id"] for job in everything["data"]] == newest_first
    assert (everything["offset"], everything["limit"], everything["totalCount"]) == (0, 50, 3)

    page = emulator.api("GET", "/api/jobs/beta/jobs", params={"projectId": reports, "offset": 1, "limit": 1})
    assert [job["id"] for job in page.json()["data"]] == newest_first[1:2]
    assert page.json()["totalCount"] == 3

    failed = emulator.api(
        "GET", "/api/jobs/beta/jobs", params={"projectId": reports, "status": "fAILED"}
    ).json()
    assert [job["id"] for job in failed["data"]] == [jobs[1]["id"]]
    assert failed["totalCount"] == 1

    clamped = emulator.api("GET", "/api/jobs/beta/jobs", params={"projectId": reports, "limit": 10_000})
    assert clamped.json()["limit"] == 500

    for params in ({}, {"projectId": reports, "offset": "-1"}, {"projectId": reports, "limit": "ten"}):
        assert emulator.api("GET", "/api/jobs/beta/jobs", params=params).status_code == 400


def test_tags(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "true")
    path = f"/api/jobs/v1/jobs/{job['id']}/tags"
    tag = emulator.api("POST", path, json={"name": "best-model"}).json()
    assert tag["name"] == "best-model" and tag["id"].startswith("tag-")
    assert emulator.api("POST", path, json={"name": "best-model"}).json() == tag
    assert emulator.get_job(job["id"])["tags"] == [tag]

    assert emulator.api("POST", path, json={}).status_code == 400
    assert (
        emulator.api("POST", "/api/jobs/v1/jobs/job-000000000000/tags", json={"name": "x"}).status_code == 404
    )

    removed = emulator.api("DELETE", f"{path}/{tag['id']}")
    assert removed.status_code == 200 and removed.json() == {}
    assert emulator.get_job(job["id"])["tags"] == []
    assert emulator.api("DELETE", f"{path}/{tag['id']}").status_code == 404


def test_goals(emulator: EmulatorProcess, project_id: str) -> None:
    first = start_job(emulator, project_id, "true")
    second = start_job(emulator, project_id, "true")
    goals = "/api/jobs/v1/goals"
    link = {"jobId": first["id"], "goalId": "goal-1"}
    assert emulator.api("POST", goals, json=link).json() == link
    assert emulator.api("POST", goals, json=link).json() == link  # idempotent
    emulator.api("POST", goals, json={"jobId": second["id"], "goalId": "goal-1"})

    listed = emulator.api("GET", goals, params={"jobId": first["id"]}).json()
    assert listed == [link]
    assert {"jobId": second["id"], "goalId": "goal-1"} in emulator.api("GET", goals).json()

    unknown_job = emulator.api("POST", goals, json={"jobId": "job-000000000000", "goalId": "goal-1"})
    assert unknown_job.status_code == 404

    only_first = emulator.api("DELETE", f"{goals}/goal-1", params={"jobId": first["id"]})
    assert only_first.status_code == 200 and only_first.json() == {}
    assert emulator.api("GET", goals, params={"jobId": first["id"]}).json() == []
    assert emulator.api("GET", goals, params={"jobId": second["id"]}).json() != []
    assert emulator.api("DELETE", f"{goals}/goal-1", params={"jobId": first["id"]}).status_code == 404
    assert emulator.api("DELETE", f"{goals}/goal-1").status_code == 200
    assert emulator.api("DELETE", f"{goals}/goal-1").status_code == 404


def test_find_project(emulator: EmulatorProcess, project_id: str) -> None:
    path = "/v4/gateway/projects/findProjectByOwnerAndName"
    found = emulator.api("GET", path, params={"ownerName": "acme", "projectName": "churn"})
    assert found.json() == {"id": project_id, "name": "churn", "ownerUsername": "acme"}
    missing = emulator.api("GET", path, params={"ownerName": "acme", "projectName": "nope"})
    assert missing.status_code == 404
    assert missing.json() == {"message": "Project 'acme/nope' not found"}
    assert emulator.api("GET", path, params={"ownerName": "acme"}).status_code == 400


def test_unknown_route_answers_json(emulator: EmulatorProcess) -> None:
    response = emulator.api("GET", "/api/nothing-here")
    assert response.status_code == 404 and "message" in response.json()
