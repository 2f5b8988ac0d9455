"""Jobs really run: status transitions, concurrency, stop, logs, commits, env."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from airflow_provider_domino.emulator.processes import live_group_members
from tests.emulator.helpers import MAX_CONCURRENT_PER_TIER, job_log, start_job, wait_until_dead

if TYPE_CHECKING:
    from airflow_provider_domino.emulator.harness import EmulatorProcess


def test_job_goes_pending_running_succeeded(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "echo started; sleep 0.5; echo finished", title="happy path")
    assert job["status"] == "Pending"
    assert job["id"].startswith("job-") and len(job["id"]) == 16
    assert job["startedAt"] is None and job["endedAt"] is None and job["exitCode"] is None
    assert job["outputCommitId"] is None
    assert job["title"] == "happy path"
    assert job["submittedAt"].endswith("Z")

    running = emulator.wait_for_status(job["id"], "Running", timeout=5)
    assert running["startedAt"].endswith("Z") and running["endedAt"] is None

    done = emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
    assert done["exitCode"] == 0
    assert done["endedAt"] >= done["startedAt"]
    assert len(done["outputCommitId"]) == 40
    assert job_log(emulator, job["id"]) == "started\nfinished\n"


def test_nonzero_exit_code_fails_the_job(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "echo oops >&2; exit 7")
    done = emulator.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=10)
    assert done["status"] == "Failed"
    assert done["exitCode"] == 7
    assert "oops" in job_log(emulator, job["id"])


def test_job_environment(emulator: EmulatorProcess, project_id: str) -> None:
    command = (
        'echo "run=$DOMINO_RUN_ID owner=$DOMINO_PROJECT_OWNER name=$DOMINO_PROJECT_NAME '
        'tier=$DOMINO_HARDWARE_TIER_ID unbuffered=$PYTHONUNBUFFERED key=${DOMINO_EMULATOR_API_KEY:-unset}"; '
        'test "$DOMINO_WORKING_DIR" = "$(pwd)" && ls'
    )
    job = start_job(emulator, project_id, command, hardwareTierId="Medium")
    assert job["hardwareTierId"] == "medium"
    emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
    log = job_log(emulator, job["id"])
    assert f"run={job['id']} owner=acme name=churn tier=medium unbuffered=1 key=unset" in log
    assert "train.py" in log and "data.csv" in log
    assert emulator.api_key not in log


def test_concurrency_limit_keeps_extra_jobs_pending(emulator: EmulatorProcess, project_id: str) -> None:
    running = [
        start_job(emulator, project_id, "sleep 30", hardwareTierId="medium")
        for _ in range(MAX_CONCURRENT_PER_TIER)
    ]
    queued = start_job(emulator, project_id, "echo queued-ran", hardwareTierId="medium")
    other_tier = start_job(emulator, project_id, "sleep 30", hardwareTierId="large")
    for job in running:
        emulator.wait_for_status(job["id"], "Running", timeout=5)
    emulator.wait_for_status(other_tier["id"], "Running", timeout=5)
    time.sleep(0.5)
    assert emulator.get_job(queued["id"])["status"] == "Pending"
    pending_log = emulator.api("GET", f"/api/jobs/beta/jobs/{queued['id']}/logs")
    assert pending_log.status_code == 200 and pending_log.text == ""
    pending_range = emulator.api(
        "GET", f"/api/jobs/beta/jobs/{queued['id']}/logs", headers={"Range": "bytes=0-"}
    )
    assert pending_range.status_code == 416 and pending_range.headers["Content-Range"] == "bytes */0"

    # Stopping a queued job finishes it without ever running it.
    never_runs = start_job(emulator, project_id, "echo must-not-run", hardwareTierId="medium")
    response = emulator.api(
        "POST",
        "/v4/jobs/stop",
        json={"projectId": project_id, "jobId": never_runs["id"], "commitResults": False},
    )
    assert response.status_code == 200
    stopped = response.json()
    assert stopped["status"] == "Stopped" and stopped["startedAt"] is None
    assert "must-not-run" not in job_log(emulator, never_runs["id"])

    # Freeing a slot lets the oldest queued job (FIFO) start.
    emulator.api("POST", "/v4/jobs/stop", json={"projectId": project_id, "jobId": running[0]["id"]})
    done = emulator.wait_for_status(queued["id"], "Succeeded", timeout=10)
    assert done["exitCode"] == 0
    assert job_log(emulator, queued["id"]) == "queued-ran\n"


def test_stop_kills_the_whole_process_group(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "sleep 300 & sleep 300")
    emulator.wait_for_status(job["id"], "Running", timeout=5)
    leader = next(entry["pid"] for entry in emulator.jobs() if entry["id"] == job["id"])
    deadline = time.monotonic() + 5
    members = live_group_members(leader)
    while len(members) < 3 and time.monotonic() < deadline:  # wrapper, inner shell or sleeps
        time.sleep(0.02)
        members = live_group_members(leader)
    assert len(members) >= 3, members

    body = {"projectId": project_id, "jobId": job["id"], "commitResults": True}
    response = emulator.api("POST", "/v4/jobs/stop", json=body)
    assert response.status_code == 200
    stopped = response.json()
    assert stopped["status"] == "Stopped"
    assert stopped["endedAt"] is not None and stopped["outputCommitId"] is not None
    assert wait_until_dead(members) == []
    assert job_log(emulator, job["id"]).endswith("Job stopped by user request\n")

    # Idempotent: stopping a terminal job changes nothing.
    again = emulator.api("POST", "/v4/jobs/stop", json=body)
    assert again.status_code == 200
    assert again.json() == stopped


def test_stop_validation(emulator: EmulatorProcess, project_id: str) -> None:
    missing = emulator.api(
        "POST", "/v4/jobs/stop", json={"projectId": project_id, "jobId": "job-000000000000"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"message": "Job 'job-000000000000' not found"}
    job = start_job(emulator, project_id, "true")
    wrong = emulator.api("POST", "/v4/jobs/stop", json={"projectId": "other-project", "jobId": job["id"]})
    assert wrong.status_code == 400
    assert "other-project" in wrong.json()["message"]


def test_logs_grow_while_running_and_honour_range(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.15; done")
    emulator.wait_for_status(job["id"], "Running", timeout=5)
    snapshots = []
    while emulator.get_job(job["id"])["status"] == "Running":
        snapshots.append(job_log(emulator, job["id"]))
        time.sleep(0.05)
    partial = [text for text in snapshots if "line-1" in text and "line-6" not in text]
    assert partial, snapshots
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(snapshots))

    full = job_log(emulator, job["id"]).encode()
    assert full == b"".join(f"line-{i}\n".encode() for i in range(1, 7))
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"

    tail = emulator.api("GET", path, headers={"Range": "bytes=7-"})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes 7-{len(full) - 1}/{len(full)}"
    assert tail.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert tail.content == full[7:]

    beyond = emulator.api("GET", path, headers={"Range": f"bytes={len(full)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(full)}"
    assert beyond.content == b""

    window = emulator.api("GET", path, headers={"Range": "bytes=7-13"})
    assert window.status_code == 206 and window.content == full[7:14]
    assert window.headers["Content-Range"] == f"bytes 7-13/{len(full)}"
    past_end = emulator.api("GET", path, headers={"Range": "bytes=7-9999"})
    assert past_end.status_code == 206 and past_end.content == full[7:]

    other_form = emulator.api("GET", path, headers={"Range": "bytes=-5"})
    assert other_form.status_code == 200 and other_form.content == full

    emulator.set_faults({"ignore_range": True})
    ignored = emulator.api("GET", path, headers={"Range": "bytes=7-"})
    assert ignored.status_code == 200 and ignored.content == full


def test_large_log_is_streamed(emulator: EmulatorProcess, project_id: str) -> None:
    size = 6 * 1024 * 1024
    job = start_job(emulator, project_id, f"head -c {size} /dev/zero | tr '\\0' 'x'")
    emulator.wait_for_status(job["id"], "Succeeded", timeout=20)
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"
    whole = emulator.api("GET", path)
    assert whole.status_code == 200 and len(whole.content) == size
    assert whole.content == b"x" * size
    tail = emulator.api("GET", path, headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.content == b"x" * 10


def test_output_commit_carries_files_into_a_later_job(emulator: EmulatorProcess, project_id: str) -> None:
    first = start_job(emulator, project_id, "python train.py --epochs 3")
    first_done = emulator.wait_for_status(first["id"], ["Succeeded", "Failed"], timeout=15)
    assert first_done["status"] == "Succeeded", job_log(emulator, first["id"])
    output = first_done["outputCommitId"]
    assert output != first_done["commitId"]
    head = next(project["headCommitId"] for project in emulator.projects() if project["id"] == project_id)
    assert head == output

    second = start_job(emulator, project_id, "cat model.txt", commitId=output)
    assert second["commitId"] == output
    emulator.wait_for_status(second["id"], "Succeeded", timeout=10)
    assert job_log(emulator, second["id"]) == "trained with --epochs 3\n"

    # The input commit of the first job does not contain its results.
    third = start_job(
        emulator, project_id, "test ! -e model.txt && test -e train.py", commitId=first["commitId"]
    )
    assert emulator.wait_for_status(third["id"], ["Succeeded", "Failed"], timeout=10)["status"] == "Succeeded"


def test_unknown_commit_is_rejected(emulator: EmulatorProcess, project_id: str) -> None:
    for commit in ("0" * 40, "../../../../etc", "abc123"):
        response = emulator.api(
            "POST",
            "/api/jobs/v1/jobs",
            json={
                "projectId": project_id,
                "commandToRun": "true",
                "hardwareTierId": "small",
                "commitId": commit,
            },
        )
        assert response.status_code == 400
        assert response.json() == {"message": f"Unknown commitId '{commit}' for project {project_id}"}


def test_stop_gives_the_group_a_grace_period_then_kills(emulator: EmulatorProcess, project_id: str) -> None:
    cleanup = (
        'python3 -c "import signal, sys, time\n'
        "def bye(*_):\n    print('cleaning up', flush=True); time.sleep(0.3); print('cleaned', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye); print('ready', flush=True); time.sleep(60)\""
    )
    graceful = start_job(emulator, project_id, cleanup)
    stubborn = start_job(emulator, project_id, "trap '' TERM; echo ready; sleep 300")
    for job in (graceful, stubborn):
        deadline = time.monotonic() + 10
        while "ready" not in job_log(emulator, job["id"]) and time.monotonic() < deadline:
            time.sleep(0.02)
    stubborn_pid = next(entry["pid"] for entry in emulator.jobs() if entry["id"] == stubborn["id"])
    stubborn_members = live_group_members(stubborn_pid)

    body = {"projectId": project_id, "jobId": graceful["id"]}
    assert emulator.api("POST", "/v4/jobs/stop", json=body).json()["status"] == "Stopped"
    assert job_log(emulator, graceful["id"]).endswith("cleaned\nJob stopped by user request\n")

    began = time.monotonic()
    body = {"projectId": project_id, "jobId": stubborn["id"]}
    assert emulator.api("POST", "/v4/jobs/stop", json=body).json()["status"] == "Stopped"
    assert 2.5 <= time.monotonic() - began < 8
    assert wait_until_dead(stubborn_members) == []
