"""A start carrying every ``NewJobV1`` field follows the vendored spec, and so do the results it brings."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from tests.contract.openapi import check_request, check_response
from tests.waiting import job_when_finished

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

#: Every property the published ``NewJobV1`` lists (read from the vendored spec below, not assumed).
EVERY_OPTION = {
    "compute_cluster": {
        "clusterType": "spark",
        "computeEnvironmentId": "623139857a0af0281c01a6a4",
        "workerCount": 2,
        "maxWorkerCount": 3,
        "workerHardwareTier": "Medium",  # a name: the hook resolves it to the id
        "masterHardwareTierId": "small-k8s",
        "workerStorageMB": 512,
        "computeEnvironmentRevisionSpec": "LatestRevision",
    },
    "main_repo_git_ref": {"refType": "branches", "value": "feature-x"},
    "environment_revision": "SomeRevision(623131577a0af0281c01a69a)",
    "external_volume_mount_ids": ["6231327c7a0af0281c01a69b"],
    "net_app_volume_ids": ["31c4a22a-5571-4e9b-b7ac-921d241acd00"],
    "capacity_type": "on-demand",
    "snapshot_datasets_on_completion": True,
    "snapshot_net_app_volumes_on_completion": False,
}


def _spec_properties(schema: str) -> set[str]:
    from tests.contract.openapi import _documents

    for document in _documents().values():
        schemas = document.get("components", {}).get("schemas", {})
        if schema in schemas:
            return set(schemas[schema]["properties"])
    raise AssertionError(f"{schema} is not in the vendored specs")


def test_a_start_with_every_new_job_field_follows_the_spec(
    emulator: EmulatorProcess, project_id: str, domino_conn: str
) -> None:
    from airflow_provider_domino.api.job_spec import JobOptions
    from airflow_provider_domino.hooks.domino import DominoHook

    emulator.clear_requests()
    hook = DominoHook(domino_conn)
    job = hook.start_job(
        'echo \'{"accuracy": 0.93, "model": "gbm"}\' > dominostats.json',
        hardware_tier="Small",
        environment_id="6231315a7a0af0281c01a699",
        title="every field",
        options=JobOptions.checked(**EVERY_OPTION),
    )
    (start,) = [entry for entry in emulator.requests_log() if entry["endpoint"] == "start_job"]
    check_request(start["method"], start["path"], start["query"], start["body"])
    body = json.loads(start["body"])
    assert set(body) - {"commitId"} == _spec_properties("NewJobV1") - {"commitId"}
    assert body["computeCluster"]["workerHardwareTier"] == "medium-k8s"
    assert body["mainRepoGitRef"] == {"refType": "branches", "value": "feature-x"}

    finished = job_when_finished(hook, job.id)
    assert finished.is_success, emulator.job_log_text(job.id)
    response = emulator.api("GET", f"/api/jobs/beta/jobs/{job.id}")
    check_response("GET", f"/api/jobs/beta/jobs/{job.id}", 200, response.json())
    details = response.json()["job"]
    assert details["computeCluster"] == body["computeCluster"]
    assert details["mainRepoGitRef"] == body["mainRepoGitRef"]
    assert {"name": "accuracy", "value": "0.93"} in details["dominoStats"]
    assert finished.domino_stats == {"accuracy": 0.93, "model": "gbm"}
    assert finished.git_repos[0].ending_commit_id == finished.output_commit_id
    assert finished.usage is not None

    tiers = emulator.api("GET", f"/v4/projects/{project_id}/hardwareTiers")
    check_response("GET", f"/v4/projects/{project_id}/hardwareTiers", 200, tiers.json())
    assert all(isinstance(item["hardwareTier"]["centsPerMinute"], float) for item in tiers.json())


def test_a_queued_job_explains_itself_in_the_spec_shape(emulator: EmulatorProcess, project_id: str) -> None:
    """Every slot of the GPU tier taken (no other test uses it), the next job there waits and says why."""
    started = emulator.fill_tier(project_id, "gpu-small-k8s")
    body = {"projectId": project_id, "runCommand": "true", "hardwareTier": "gpu-small-k8s"}
    started.append(emulator.api("POST", "/api/jobs/v1/jobs", json=body).json()["job"]["id"])
    try:
        deadline = time.monotonic() + 20
        details: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = emulator.api("GET", f"/api/jobs/beta/jobs/{started[-1]}").json()
            details = answer["job"]
            if "queuedJobStatusDetails" in details:
                check_response("GET", f"/api/jobs/beta/jobs/{started[-1]}", 200, answer)
                break
            time.sleep(0.05)
        assert "GPU Small" in details["queuedJobStatusDetails"]["explanation"]
    finally:
        for job_id in started:
            emulator.api("POST", "/v4/jobs/stop", json={"jobId": job_id, "commitResults": False})
