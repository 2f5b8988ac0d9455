"""The emulator takes every ``NewJobV1`` field, checks it as the spec says, and reports a job's results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.emulator.helpers import MAX_CONCURRENT_PER_TIER, job_log, start_job

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

CLUSTER = {
    "clusterType": "ray",
    "computeEnvironmentId": "623139857a0af0281c01a6a4",
    "workerCount": 3,
    "workerHardwareTier": "medium-k8s",
}
EVERY_FIELD = {
    "computeCluster": {**CLUSTER, "maxWorkerCount": 5, "masterHardwareTierId": "large-k8s"},
    "mainRepoGitRef": {"refType": "tags", "value": "v1.2"},
    "environmentRevisionSpec": "LatestRevision",
    "externalVolumeMountIds": ["6231327c7a0af0281c01a69b"],
    "netAppVolumeIds": ["31c4a22a-5571-4e9b-b7ac-921d241acd00"],
    "capacityType": "spot",
    "snapshotDatasetsOnCompletion": True,
    "snapshotNetAppVolumesOnCompletion": True,
}


def test_every_field_is_kept_echoed_and_shown_in_setup(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(
        emulator, project_id, "echo $DOMINO_CLUSTER_TYPE x$DOMINO_CLUSTER_WORKER_COUNT", **EVERY_FIELD
    )
    assert job["computeCluster"] == EVERY_FIELD["computeCluster"]
    assert job["mainRepoGitRef"] == EVERY_FIELD["mainRepoGitRef"]
    assert [mount["name"] for mount in job["externalVolumeMounts"]] == EVERY_FIELD["externalVolumeMountIds"]
    assert [mount["name"] for mount in job["netAppVolumeMounts"]] == EVERY_FIELD["netAppVolumeIds"]
    emulator.wait_for_status(job["id"], "Succeeded")
    assert emulator.get_job(job["id"])["options"] == EVERY_FIELD
    assert job_log(emulator, job["id"]).strip() == "ray x3"
    setup = emulator.api(
        "GET", f"/api/jobs/beta/jobs/{job['id']}/logs", params={"logType": "prepareOutput"}
    ).json()
    lines = "\n".join(entry["log"] for entry in setup["logs"]["logContent"])
    assert "Starting a ray cluster: 3 worker(s) on Medium, autoscaling up to 5, master on large-k8s" in lines
    assert "Checking out git reference tags v1.2" in lines and "LatestRevision" in lines
    assert "Capacity type: spot" in lines


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"computeCluster": {**CLUSTER, "clusterType": "Spark"}}, "clusterType"),
        ({"computeCluster": {k: v for k, v in CLUSTER.items() if k != "workerCount"}}, "workerCount"),
        ({"computeCluster": {**CLUSTER, "workers": 2}}, "Unknown field 'workers'"),
        ({"computeCluster": {**CLUSTER, "workerHardwareTier": "Medium"}}, "not a hardware tier id"),
        ({"computeCluster": {**CLUSTER, "maxWorkerCount": 1}}, "maxWorkerCount"),
        ({"computeCluster": {**CLUSTER, "workerStorageMB": "big"}}, "workerStorageMB"),
        ({"mainRepoGitRef": {"value": "main"}}, "refType"),
        ({"mainRepoGitRef": {"refType": "branches", "name": "main"}}, "Unknown field 'name'"),
        ({"environmentRevisionSpec": "Revision 3"}, "environmentRevisionSpec"),
        ({"externalVolumeMountIds": "6231327c7a0af0281c01a69b"}, "externalVolumeMountIds"),
        ({"netAppVolumeIds": [3]}, "netAppVolumeIds"),
        ({"snapshotDatasetsOnCompletion": "yes"}, "snapshotDatasetsOnCompletion"),
        ({"capacityType": " "}, "capacityType"),
    ],
)
def test_a_field_against_the_spec_is_refused(
    emulator: EmulatorProcess, project_id: str, fields: dict[str, Any], message: str
) -> None:
    body = {"projectId": project_id, "runCommand": "true", "hardwareTier": "small-k8s", **fields}
    response = emulator.api("POST", "/api/jobs/v1/jobs", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_singular_branch_ref_type_fails_the_job_in_setup(
    emulator: EmulatorProcess, project_id: str
) -> None:
    """As on Domino: the start accepts ``branch``, and the job dies before its command runs."""
    job = start_job(emulator, project_id, "echo ran", mainRepoGitRef={"refType": "branch", "value": "main"})
    emulator.wait_for_status(job["id"], "Error")
    log = job_log(emulator, job["id"])
    assert "Unknown reference type 'branch'" in log and "ran" not in log.replace("branch", "")


def test_dominostats_json_becomes_domino_stats_and_usage_is_reported(
    emulator: EmulatorProcess, project_id: str
) -> None:
    command = """python -c 'import json; json.dump({"auc": 0.91, "rows": 1200, "model": "gbm"}, open("dominostats.json", "w"))'"""
    job = start_job(emulator, project_id, command)
    emulator.wait_for_status(job["id"], "Succeeded")
    details = emulator.api("GET", f"/api/jobs/beta/jobs/{job['id']}").json()["job"]
    assert details["dominoStats"] == [
        {"name": "auc", "value": "0.91"},
        {"name": "rows", "value": "1200"},
        {"name": "model", "value": "gbm"},
    ]
    assert set(details["usage"]) == {"cpuPercentage", "memoryGiB"}
    assert 0 <= details["usage"]["cpuPercentage"] <= 100
    assert 0 < details["usage"]["memoryGiB"] < 4  # a Python interpreter's peak, in GiB
    assert {"submissionTime", "startTime", "completedTime"} <= set(details["stageTimes"])


def test_a_job_waiting_for_its_tier_says_why_until_it_starts(
    emulator: EmulatorProcess, project_id: str
) -> None:
    blockers = [start_job(emulator, project_id, "sleep 30")["id"] for _ in range(MAX_CONCURRENT_PER_TIER)]
    waiting = start_job(emulator, project_id, "true")
    for blocker in blockers:
        emulator.wait_for_status(blocker, "Running")
    details = emulator.api("GET", f"/api/jobs/beta/jobs/{waiting['id']}").json()["job"]
    assert details["status"]["executionStatus"] == "Queued"
    assert details["queuedJobStatusDetails"] == {
        "explanation": f"Waiting for capacity on hardware tier Small: all {MAX_CONCURRENT_PER_TIER} of its "
        "run slots are in use",
        "expectedWait": "Until a run on this hardware tier finishes",
        "helpText": "Stop a run on Small, or start the job on another hardware tier, to run it sooner",
    }
    emulator.api("POST", "/v4/jobs/stop", json={"jobId": blockers[0], "commitResults": False})
    emulator.wait_for_status(waiting["id"], "Succeeded")
    details = emulator.api("GET", f"/api/jobs/beta/jobs/{waiting['id']}").json()["job"]
    assert "queuedJobStatusDetails" not in details


def test_tiers_have_prices(emulator: EmulatorProcess, project_id: str) -> None:
    tiers = emulator.api("GET", f"/v4/projects/{project_id}/hardwareTiers").json()
    prices = {item["hardwareTier"]["id"]: item["hardwareTier"]["centsPerMinute"] for item in tiers}
    assert prices == {"small-k8s": 0.8, "medium-k8s": 2.0, "large-k8s": 6.5, "gpu-small-k8s": 25.0}
