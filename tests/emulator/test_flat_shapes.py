"""``--flat-shapes``: the simplified reference's flat answers and text logs with byte ranges.

Requests may come in the published form (what the provider sends) or the simplified one.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from domino_emulator.harness import EmulatorProcess

from tests.emulator.helpers import job_log, make_projects_dir
from tests.waiting import Gate, wait_until

if TYPE_CHECKING:
    import requests

START = "/api/jobs/v1/jobs"


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    projects = make_projects_dir(tmp_path_factory.mktemp("flat-projects"))
    with EmulatorProcess(projects_dir=projects, flat_shapes=True) as process:
        yield process


@pytest.fixture(scope="module")
def flat_project(flat: EmulatorProcess) -> str:
    return flat.project_id("acme", "churn")


@pytest.fixture(autouse=True)
def _no_faults_left(flat: EmulatorProcess) -> Iterator[None]:
    yield
    flat.clear_faults()


def _start(flat: EmulatorProcess, body: dict[str, Any]) -> dict[str, Any]:
    response = flat.api("POST", START, json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def test_the_switch_is_visible(flat: EmulatorProcess) -> None:
    assert flat.settings()["flatShapes"] is True


def test_start_accepts_both_request_forms_and_answers_flat(flat: EmulatorProcess, flat_project: str) -> None:
    simplified = _start(
        flat,
        {"projectId": flat_project, "commandToRun": "echo flat", "hardwareTierId": "gpu SMALL", "title": "t"},
    )
    assert simplified["status"] == "Pending" and simplified["hardwareTierId"] == "gpu-small-k8s"
    assert simplified["projectId"] == flat_project and simplified["command"] == "echo flat"
    assert (
        simplified["title"] == "t"
        and simplified["startedAt"] is None
        and simplified["outputCommitId"] is None
    )
    published = _start(flat, {"projectId": flat_project, "runCommand": "true", "hardwareTier": "medium-k8s"})
    assert published["hardwareTierId"] == "medium-k8s" and published["isDirectHardwareTierId"] is True
    by_name_direct = flat.api(
        "POST",
        START,
        json={
            "projectId": flat_project,
            "commandToRun": "true",
            "hardwareTierId": "Small",
            "isDirectHardwareTierId": True,
        },
    )
    assert by_name_direct.status_code == 400
    unknown = flat.api(
        "POST", START, json={"projectId": flat_project, "commandToRun": "true", "hardwareTierId": "huge"}
    )
    assert unknown.status_code == 400
    assert unknown.json() == {
        "message": "Hardware tier 'huge' does not exist. Available: Small, Medium, Large, GPU Small"
    }
    missing = flat.api("POST", START, json={"projectId": flat_project})
    assert missing.status_code == 400 and missing.json() == {
        "message": "Missing required field 'commandToRun'"
    }

    details = flat.api("GET", f"/api/jobs/beta/jobs/{simplified['id']}").json()
    assert details["id"] == simplified["id"] and isinstance(details["status"], str)
    done = flat.wait_for_status(simplified["id"], "Succeeded", timeout=10)
    assert done["exitCode"] == 0


def test_list_is_flat(flat: EmulatorProcess) -> None:
    reports = flat.project_id("acme", "reports")
    jobs = [_start(flat, {"projectId": reports, "commandToRun": command}) for command in ("exit 0", "exit 1")]
    for job in jobs:
        flat.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=10)
    listed = flat.api("GET", "/api/jobs/beta/jobs", params={"projectId": reports}).json()
    assert set(listed) == {"data", "offset", "limit", "totalCount"}
    assert [job["id"] for job in listed["data"]] == [jobs[1]["id"], jobs[0]["id"]]
    assert (listed["offset"], listed["limit"], listed["totalCount"]) == (0, 50, 2)
    failed = flat.api("GET", "/api/jobs/beta/jobs", params={"projectId": reports, "status": "fAILED"}).json()
    assert [job["id"] for job in failed["data"]] == [jobs[1]["id"]]
    completed = flat.api(
        "GET", "/api/jobs/beta/jobs", params={"projectId": reports, "statusFilter": "completed"}
    )
    assert completed.json()["totalCount"] == 2
    nowhere = flat.api("GET", "/api/jobs/beta/jobs", params={"projectId": "nope"}).json()
    assert nowhere["data"] == [] and nowhere["totalCount"] == 0


def test_text_logs_grow_while_running_and_honour_range(
    flat: EmulatorProcess, flat_project: str, tmp_path: Path
) -> None:
    gates = [Gate(tmp_path / f"after-line-{number}") for number in range(1, 6)]
    command = "; ".join(f"echo line-{number}; {gate.wait}" for number, gate in enumerate(gates, 1))
    job = _start(flat, {"projectId": flat_project, "commandToRun": f"{command}; echo line-6"})
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"
    snapshots = []

    def served(line: str) -> requests.Response | None:
        response = flat.api("GET", path)
        return response if line in response.text else None

    for shown, gate in enumerate(gates, 1):  # the job waits after each line until the test has read it
        response = wait_until(partial(served, f"line-{shown}\n"), 10, f"line-{shown} served")
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert flat.get_job(job["id"])["status"] == "Running"
        snapshots.append(response.text)
        gate.open()
    assert snapshots == ["".join(f"line-{i}\n" for i in range(1, shown + 1)) for shown in range(1, 6)]
    flat.wait_for_status(job["id"], "Succeeded", timeout=10)

    full = flat.api("GET", path).content
    assert full == b"".join(f"line-{i}\n".encode() for i in range(1, 7))
    assert job_log(flat, job["id"]).encode() == full

    tail = flat.api("GET", path, headers={"Range": "bytes=7-"})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes 7-{len(full) - 1}/{len(full)}"
    assert tail.content == full[7:]
    beyond = flat.api("GET", path, headers={"Range": f"bytes={len(full)}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(full)}"
    assert beyond.content == b""
    window = flat.api("GET", path, headers={"Range": "bytes=7-13"})
    assert window.status_code == 206 and window.content == full[7:14]
    assert window.headers["Content-Range"] == f"bytes 7-13/{len(full)}"
    past_end = flat.api("GET", path, headers={"Range": "bytes=7-9999"})
    assert past_end.status_code == 206 and past_end.content == full[7:]
    suffix = flat.api("GET", path, headers={"Range": "bytes=-5"})  # the last 5 bytes (failure-message tail)
    assert suffix.status_code == 206 and suffix.content == full[-5:]
    assert suffix.headers["Content-Range"] == f"bytes {len(full) - 5}-{len(full) - 1}/{len(full)}"
    other_form = flat.api("GET", path, headers={"Range": "lines=1-2"})
    assert other_form.status_code == 200 and other_form.content == full

    flat.set_faults({"ignore_range": True})
    ignored = flat.api("GET", path, headers={"Range": "bytes=7-"})
    assert ignored.status_code == 200 and ignored.content == full


def test_pending_job_has_an_empty_text_log(flat: EmulatorProcess, flat_project: str) -> None:
    blockers = [
        _start(flat, {"projectId": flat_project, "commandToRun": "sleep 30", "hardwareTierId": "large-k8s"})
        for _ in range(4)
    ]
    queued = _start(flat, {"projectId": flat_project, "commandToRun": "true", "hardwareTierId": "large-k8s"})
    try:
        for job in blockers:
            flat.wait_for_status(job["id"], "Running", timeout=10)
        assert flat.get_job(queued["id"])["status"] == "Pending"
        path = f"/api/jobs/beta/jobs/{queued['id']}/logs"
        empty = flat.api("GET", path)
        assert empty.status_code == 200 and empty.text == ""
        ranged = flat.api("GET", path, headers={"Range": "bytes=0-"})
        assert ranged.status_code == 416 and ranged.headers["Content-Range"] == "bytes */0"
        suffix = flat.api("GET", path, headers={"Range": "bytes=-5"})
        assert suffix.status_code == 416 and suffix.headers["Content-Range"] == "bytes */0"
    finally:
        flat.stop_all_jobs()


def test_large_unterminated_log_is_streamed_byte_exact(flat: EmulatorProcess, flat_project: str) -> None:
    size = 6 * 1024 * 1024
    job = _start(
        flat, {"projectId": flat_project, "commandToRun": f"head -c {size} /dev/zero | tr '\\0' 'x'"}
    )
    flat.wait_for_status(job["id"], "Succeeded", timeout=20)
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"
    whole = flat.api("GET", path)
    assert whole.status_code == 200 and whole.content == b"x" * size
    tail = flat.api("GET", path, headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.content == b"x" * 10


def test_stop_tags_goals_projects_and_errors_are_flat(flat: EmulatorProcess, flat_project: str) -> None:
    job = _start(flat, {"projectId": flat_project, "commandToRun": "sleep 30"})
    stopped = flat.api("POST", "/v4/jobs/stop", json={"projectId": flat_project, "jobId": job["id"]})
    assert stopped.status_code == 200 and stopped.json()["status"] == "Stopped"

    tags = f"/api/jobs/v1/jobs/{job['id']}/tags"
    tag = flat.api("POST", tags, json={"name": "flat"}).json()
    assert set(tag) == {"id", "name"} and tag["name"] == "flat"
    assert flat.api("POST", tags, json={"tagName": "flat", "projectId": flat_project}).json() == tag
    assert flat.api("DELETE", f"{tags}/{tag['id']}").json() == {}

    goals = "/api/jobs/v1/goals"
    link = {"jobId": job["id"], "goalId": "goal-1"}
    assert flat.api("POST", goals, json=link).json() == link
    assert flat.api("GET", goals, params={"jobId": job["id"]}).json() == [link]
    assert flat.api("DELETE", f"{goals}/goal-1", params={"jobId": job["id"]}).json() == {}
    assert flat.api("POST", goals, params={"jobId": job["id"]}, json={"goalId": "goal-2"}).json() == {
        "jobId": job["id"],
        "goalId": "goal-2",
    }

    found = flat.api(
        "GET",
        "/v4/gateway/projects/findProjectByOwnerAndName",
        params={"ownerName": "acme", "projectName": "churn"},
    ).json()
    assert found == {"id": flat_project, "name": "churn", "ownerUsername": "acme"}

    missing = flat.api("GET", "/api/jobs/beta/jobs/0123456789abcdef01234567")
    assert missing.status_code == 404 and missing.json() == {
        "message": "Job '0123456789abcdef01234567' not found"
    }
    unauthorised = flat.api("GET", "/api/jobs/beta/jobs", headers={"X-Domino-Api-Key": "wrong"})
    assert unauthorised.status_code == 401 and set(unauthorised.json()) == {"message"}


def test_flat_mode_from_the_command_line(tmp_path: Path) -> None:
    with EmulatorProcess(
        extra_args=["--flat-shapes", "--list-lag", "0.25"], work_dir=tmp_path / "cli"
    ) as emulator:
        assert emulator.settings() == {
            "flatShapes": True,
            "listLagSeconds": 0.25,
            "logPageCap": 1000,
            "maxConcurrentPerTier": 4,
        }
