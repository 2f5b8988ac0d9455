"""The emulator keeps every job inside its own project and its own data directory.

``tests/emulator`` already covers loopback-only binds, the required key, the body size limit and a
``commitId`` made of ``../``. What is left: project ids and job ids that try to walk the file system, a
commit of one project used by another, where a job actually runs, what it can see of the emulator's
secret, and what its output commit keeps of a link pointing outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.support import start_private_emulator

START = "/api/jobs/v1/jobs"


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    emulator = start_private_emulator(tmp_path_factory.mktemp("confined"), extra_projects=("rival/secrets",))
    try:
        yield emulator
    finally:
        emulator.close()


def _start(emulator: Any, **fields: Any) -> Any:
    """A raw ``NewJobV1`` start (tier ``small-k8s`` is the emulator's id of tier "Small")."""
    body = {"runCommand": "true", "hardwareTier": "small-k8s", **fields}
    return emulator.api("POST", START, json=body)


def _error(response: Any) -> str:
    """The message of an error answer: ``{error}`` on the public routes, ``{message}`` on v4 ones."""
    payload = response.json()
    return str(payload.get("error") or payload.get("message"))


def _data_dir(emulator: Any) -> Path:
    return Path(emulator.api("GET", "/_emulator/info").json()["dataDir"]).resolve()


@pytest.mark.parametrize(
    "project_id",
    ["../acme/churn", "acme/churn", "..", "/etc", "%2e%2e%2fetc", "ae9e31a8564d296f20df936c/../x"],
)
def test_project_ids_that_walk_the_file_system_are_unknown_projects(confined, project_id):
    before = len(confined.jobs())
    response = _start(confined, projectId=project_id)
    assert response.status_code == 404
    assert _error(response) == f"Project '{project_id}' not found"
    assert len(confined.jobs()) == before


def test_a_commit_of_another_project_is_refused(confined):
    churn = confined.project_id("acme", "churn")
    rival = next(p for p in confined.projects() if (p["owner"], p["name"]) == ("rival", "secrets"))
    response = _start(confined, projectId=churn, commitId=rival["headCommitId"])
    assert response.status_code == 400
    assert _error(response) == f"Unknown commitId '{rival['headCommitId']}' for project {churn}"


@pytest.mark.parametrize(
    "raw_job_id", ["..%2F..%2Fstate.sqlite", "%2E%2E", "..%2Fjobs", "job-000000000000%2F..%2F..%2Fcommits"]
)
def test_job_ids_that_walk_the_file_system_are_unknown_jobs(confined, raw_job_id):
    for method, path in (
        ("GET", f"/api/jobs/beta/jobs/{raw_job_id}"),
        ("GET", f"/api/jobs/beta/jobs/{raw_job_id}/logs"),
    ):
        response = confined.api(method, path)
        assert response.status_code == 404, (path, response.text)
        assert _error(response).startswith("Job '")
    stop = confined.api(
        "POST",
        "/v4/jobs/stop",
        json={"projectId": confined.project_id("acme", "churn"), "jobId": "../jobs", "commitResults": False},
    )
    assert stop.status_code == 404 and _error(stop) == "Job '../jobs' not found"


def test_a_job_runs_inside_the_data_dir_and_cannot_read_the_emulator_key(confined):
    churn = confined.project_id("acme", "churn")
    command = (
        "pwd -P; echo dir=$DOMINO_WORKING_DIR; echo key=${DOMINO_EMULATOR_API_KEY:-unset}; "
        "echo written > model.txt; ln -s /etc/hostname outside-link"
    )
    job = _start(confined, projectId=churn, runCommand=command).json()["job"]
    done = confined.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=15)
    assert done["status"] == "Succeeded"
    log = confined.job_log_text(job["id"]).splitlines()

    data_dir = _data_dir(confined)
    (details,) = [entry for entry in confined.jobs() if entry["id"] == job["id"]]
    working_dir = Path(details["workingDir"]).resolve()
    assert working_dir.is_relative_to(data_dir)
    assert log[0] == str(working_dir)
    assert log[1] == f"dir={details['workingDir']}"
    assert log[2] == "key=unset"
    assert confined.api_key not in "\n".join(log)

    # The project's source directory is never the job's cwd: what a job writes stays out of it.
    assert not (confined.projects_dir / "acme" / "churn" / "model.txt").exists()
    assert (working_dir / "model.txt").read_text() == "written\n"

    # The output commit keeps the link as a link: nothing from outside is copied into the data dir.
    commits = [path for path in (data_dir / "commits").iterdir() if path.name == done["outputCommitId"]]
    (commit,) = commits
    link = commit / "outside-link"
    assert link.is_symlink() and os.readlink(link) == "/etc/hostname"
    assert all(path.resolve().is_relative_to(data_dir) for path in commit.rglob("*") if not path.is_symlink())
